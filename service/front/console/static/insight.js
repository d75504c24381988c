// What the version sees at run time: activation statistics per layer and input drift.

import { count, decimal, h, num, percent, plural } from "./dom.js";
import { bars, histogram } from "./charts.js";

// PSI above 0.1 is a moderate shift, above 0.25 a large one (the usual rule of thumb).
const PSI_THRESHOLDS = [0.1, 0.25];

function stats(label, st) {
  if (!st || !(num(st.count) > 0)) return h("p", { class: "muted small" }, `${label}: no values`);
  return h(
    "p",
    { class: "small stats" },
    h("span", { class: "muted" }, `${label}: `),
    `${count(st.count)} values, mean ${decimal(st.mean)} ± ${decimal(st.std)}, ${decimal(st.min)} … ${decimal(st.max)}`,
    num(st.non_finite_fraction) > 0 ? h("span", { class: "error" }, `, non-finite ${percent(st.non_finite_fraction)}`) : null,
  );
}

function layerCard(title, window, sinceLoad, { units = true } = {}) {
  const dead = num(window?.zero_fraction ?? sinceLoad?.zero_fraction);
  const deadLabel = units
    ? h("span", { class: `dead ${dead >= 0.5 ? "warn" : ""}`, title: "share of zero activations: units that did not fire" }, `dead ${percent(dead)}`)
    : null;
  return h(
    "div",
    { class: "insight-card", dataset: { layer: title } },
    h("h4", {}, h("span", { class: "mono" }, title), deadLabel),
    histogram(window?.histogram ?? sinceLoad?.histogram, { width: 300, height: 100, label: `activations of ${title}` }),
    stats("window", window),
    sinceLoad === null ? null : stats("since load", sinceLoad),
  );
}

function empty(section, title, message) {
  section.dataset.state = "empty";
  section.replaceChildren(h("h3", {}, title), h("p", { class: "empty" }, message));
}

export function renderActivations(section, data) {
  const title = "Activations";
  if (!data || !(num(data.sampled_requests) > 0) || !(data.layers ?? []).length) {
    empty(section, title, "No activation samples yet: they appear once requests to this version have been sampled.");
    return;
  }
  section.dataset.state = "data";
  section.dataset.sampled = String(num(data.sampled_requests));
  const cards = data.layers.map((layer) => layerCard(layer.path, layer.window, layer.since_load));
  // Present with count 0 for models without a graph loop.
  if (num(data.loop_halvings?.count) > 0) cards.push(layerCard("loop halvings", data.loop_halvings, null, { units: false }));
  section.replaceChildren(
    h("h3", {}, title),
    h("p", { class: "muted", id: "activation-summary" }, `${plural(num(data.sampled_requests), "sampled request")}`, data.signature ? ` to ${data.signature}` : "", "; histograms of the recent window, zero share as dead units"),
    h("div", { class: "insight-grid" }, cards),
  );
}

function inputDrift(input) {
  const features = [...(input.features ?? [])].sort((a, b) => num(a.index) - num(b.index));
  const psi = features.map((f) => num(f.psi));
  const top = [...features].sort((a, b) => num(b.psi) - num(a.psi)).slice(0, 5);
  const level = PSI_THRESHOLDS.filter((t) => num(input.score) >= t).length;
  return h(
    "div",
    { class: "insight-card", dataset: { input: input.name } },
    h("h4", {}, h("span", { class: "mono" }, input.name), h("span", { class: `score level-${level}` }, `score ${decimal(input.score)}`)),
    features.length ? bars(psi, { width: 320, height: 90, thresholds: PSI_THRESHOLDS, label: `PSI per feature of ${input.name}` }) : null,
    h(
      "table",
      { class: "grid small" },
      h("thead", {}, h("tr", {}, ["feature", "PSI", "KS"].map((t) => h("th", {}, t)))),
      h("tbody", {}, top.map((f) => h("tr", {}, h("td", { class: "num" }, String(num(f.index))), h("td", { class: "num" }, decimal(f.psi)), h("td", { class: "num" }, decimal(f.ks))))),
    ),
  );
}

export function renderDrift(section, data) {
  const title = "Input drift";
  const reference = data?.reference;
  if (!data || !reference) {
    empty(section, title, "No reference yet: the server reports no drift for this version.");
    return;
  }
  const rows = num(reference.rows);
  if (reference.source === "none") {
    empty(section, title, "No reference yet: input sampling is off for this version, so there is nothing to compare.");
    return;
  }
  if (!(rows > 0)) {
    empty(section, title, "No reference yet: it is gathered from the first sampled requests (or read from a reference file beside the model).");
    return;
  }
  const fromFile = reference.source === "file";
  const windowRows = num(data.window_rows) || 0;
  const about = `Reference: ${plural(rows, "row")} from ${fromFile ? "a reference file" : "the first requests"}; window: ${plural(windowRows, "row")}.`;
  if (!(data.inputs ?? []).length) {
    const wait = fromFile
      ? "The window does not hold enough rows to compare with it yet."
      : "Still gathering: drift is measured once the reference is complete and a window of requests follows it.";
    empty(section, title, `${about} ${wait}`);
    return;
  }
  section.dataset.state = "data";
  section.dataset.windowRows = String(num(data.window_rows));
  section.replaceChildren(
    h("h3", {}, title),
    h("p", { class: "muted", id: "drift-summary" }, `${about} PSI per feature (lines at 0.1 and 0.25), largest first in the table.`),
    h("div", { class: "insight-grid" }, data.inputs.map(inputDrift)),
  );
}
