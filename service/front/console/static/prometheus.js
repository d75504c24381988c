// The server's /metrics, read in the browser: traffic, latency quantiles and errors between two
// scrapes, computed as Prometheus's rate() and histogram_quantile() would.

// Requests that run a model; the console's own reads (metadata, parameters) are not traffic.
export const INFERENCE_METHODS = new Set([
  "predict",
  "classify",
  "regress",
  "multi_inference",
  "model_infer",
]);

const WANTED = new Set([
  "blockserve_requests_total",
  "blockserve_request_duration_seconds_bucket",
  "blockserve_model_load_duration_seconds_sum",
  "blockserve_model_load_duration_seconds_count",
]);
const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function value(text) {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return Number(text);
}

function unescape(text) {
  return text.replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
}

// {time, samples: Map(name -> [{labels, value}])} of the metrics the console uses.
export function parse(text, time = performance.now()) {
  const samples = new Map([...WANTED].map((name) => [name, []]));
  for (const line of text.split("\n")) {
    if (!line.startsWith("blockserve_")) continue;
    const match = LINE.exec(line);
    if (!match || !WANTED.has(match[1])) continue;
    const labels = {};
    for (const [, name, raw] of (match[2] ?? "").matchAll(LABEL)) labels[name] = unescape(raw);
    samples.get(match[1]).push({ labels, value: value(match[3]) });
  }
  return { time, samples };
}

function key(labels, names) {
  return names.map((name) => labels[name] ?? "").join("\u0000");
}

function selected(labels, model, version) {
  return (
    INFERENCE_METHODS.has(labels.method) &&
    labels.model === model &&
    (version === undefined || labels.version === String(version))
  );
}

// Increase of a counter between two scrapes; a restarted server counts from zero again.
function increase(before, after) {
  return after >= before ? after - before : after;
}

// Per-series increase of `name` between scrapes, for series matching model (and version).
function increases(older, newer, name, model, version, labelNames) {
  const before = new Map();
  for (const sample of older?.samples.get(name) ?? []) {
    if (selected(sample.labels, model, version)) before.set(key(sample.labels, labelNames), sample.value);
  }
  const result = [];
  for (const sample of newer.samples.get(name)) {
    if (!selected(sample.labels, model, version)) continue;
    const was = before.get(key(sample.labels, labelNames)) ?? 0;
    result.push({ labels: sample.labels, value: increase(was, sample.value) });
  }
  return result;
}

// The q-quantile of a cumulative histogram [{le, count}], interpolated inside its bucket as
// Prometheus's histogram_quantile() does; NaN without observations.
export function quantile(q, buckets) {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.length ? sorted[sorted.length - 1].count : 0;
  if (!(total > 0)) return NaN;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const bucket of sorted) {
    if (bucket.count >= rank) {
      if (bucket.le === Infinity) return lower;
      const inside = bucket.count - below;
      return inside > 0 ? lower + ((bucket.le - lower) * (rank - below)) / inside : bucket.le;
    }
    lower = bucket.le;
    below = bucket.count;
  }
  return lower;
}

// Traffic of a model (or one of its versions) between two scrapes: requests per second, p50
// and p99 latency, error share; and requests since the server started.
export function traffic(older, newer, model, version) {
  const codes = ["model", "version", "signature", "method", "protocol", "code"];
  const totalSince = (newer.samples.get("blockserve_requests_total") ?? [])
    .filter((s) => selected(s.labels, model, version))
    .reduce((sum, s) => sum + s.value, 0);
  if (!older || newer.time <= older.time) {
    return { requests: 0, rate: NaN, p50: NaN, p99: NaN, errorShare: NaN, totalSince };
  }
  let requests = 0;
  let errors = 0;
  for (const s of increases(older, newer, "blockserve_requests_total", model, version, codes)) {
    requests += s.value;
    if (s.labels.code !== "OK") errors += s.value;
  }
  const byBound = new Map();
  const bucketLabels = ["model", "version", "method", "protocol", "le"];
  const name = "blockserve_request_duration_seconds_bucket";
  for (const s of increases(older, newer, name, model, version, bucketLabels)) {
    const le = value(s.labels.le);
    byBound.set(le, (byBound.get(le) ?? 0) + s.value);
  }
  const buckets = [...byBound].map(([le, count]) => ({ le, count }));
  const elapsed = (newer.time - older.time) / 1000;
  return {
    requests,
    rate: requests / elapsed,
    p50: quantile(0.5, buckets),
    p99: quantile(0.99, buckets),
    errorShare: requests > 0 ? errors / requests : NaN,
    totalSince,
  };
}

// Mean load time (load and warm-up) of a model's versions so far, and how many loads.
export function loads(scrape, model) {
  const pick = (name) =>
    (scrape?.samples.get(name) ?? []).find((s) => s.labels.model === model)?.value ?? 0;
  const count = pick("blockserve_model_load_duration_seconds_count");
  const sum = pick("blockserve_model_load_duration_seconds_sum");
  return { count, mean: count > 0 ? sum / count : NaN };
}
