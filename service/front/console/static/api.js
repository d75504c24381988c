// The server's public API, as the console reads it: JSON resources and the Prometheus text.

export class ApiError extends Error {}

// The JSON at `path`; null when the server answers 404 (no such model, version or resource).
export async function json(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  if (response.status === 404) return null;
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      message = (await response.json()).error ?? message;
    } catch {
      // not JSON: the status says enough
    }
    throw new ApiError(`${path}: ${message}`);
  }
  return response.json();
}

export async function text(path) {
  const response = await fetch(path);
  if (!response.ok) throw new ApiError(`${path}: ${response.status} ${response.statusText}`);
  return response.text();
}

const part = encodeURIComponent;

export const models = () => json("/v1/models");
export const metrics = () => text("/metrics");
export const versionPath = (model, version) => `/v1/models/${part(model)}/versions/${part(version)}`;
export const metadata = (model, version) => json(`${versionPath(model, version)}/metadata`);
export const parameters = (model, version) => json(`${versionPath(model, version)}/parameters`);
export const comparison = (model, version, base) =>
  json(`${versionPath(model, version)}/parameters/compare?base=${part(base)}`);
export const activations = (model, version) => json(`${versionPath(model, version)}/activations`);
export const drift = (model, version) => json(`${versionPath(model, version)}/drift`);
