// How one version's parameters differ from another loaded version's.

import { count, decimal, h, kind, num, shape } from "./dom.js";

// The version to compare with by default: the newest older one, else the oldest newer one.
export function defaultBase(version, loaded) {
  const others = loaded.filter((v) => v !== version).map(Number);
  const older = others.filter((v) => v < Number(version));
  if (older.length) return String(Math.max(...older));
  return others.length ? String(Math.min(...others)) : null;
}

function fact(label, value) {
  return h("div", { class: "fact" }, h("span", { class: "muted small" }, label), h("strong", {}, value));
}

function changeBar(relative) {
  const n = num(relative);
  const width = Number.isFinite(n) ? Math.min(1, n) * 100 : 100;
  const bar = h("span", { class: "fill" });
  bar.style.width = `${width}%`;
  return h("span", { class: "change-bar", title: decimal(n) }, bar);
}

export function renderComparison(section, { version, loaded, base, comparison, onBase, error }) {
  const title = h("h3", {}, "Compared with another version");
  if (loaded.filter((v) => v !== version).length === 0) {
    section.dataset.state = "empty";
    section.replaceChildren(
      title,
      h("p", { class: "empty" }, `Only version ${version} is loaded. A comparison appears here once a second version of this model is served (its version policy must keep both, e.g. latest 2).`),
    );
    return;
  }
  const picker = h(
    "select",
    { id: "compare-base", onchange: (event) => onBase(event.target.value) },
    loaded.filter((v) => v !== version).map((v) => h("option", { value: v, selected: v === base }, `version ${v}`)),
  );
  const head = h("p", { class: "compare-head" }, `Version ${version} against `, picker);
  if (error) {
    section.dataset.state = "error";
    section.replaceChildren(title, head, h("p", { class: "error" }, error));
    return;
  }
  if (!comparison) {
    section.dataset.state = "loading";
    section.replaceChildren(title, head, h("p", { class: "muted" }, "comparing…"));
    return;
  }
  const summary = comparison.summary ?? {};
  const rows = (comparison.variables ?? []).map((v) =>
    h(
      "tr",
      { class: v.changed ? "changed" : "same", dataset: { path: v.path } },
      h("td", { class: "mono" }, v.path),
      h("td", {}, kind(v.kind)),
      h("td", { class: "mono" }, shape(v.shape)),
      h("td", {}, v.changed ? "changed" : "same"),
      h("td", { class: "num" }, decimal(v.relative_l2_diff), " ", changeBar(v.relative_l2_diff)),
      h("td", { class: "num" }, decimal(v.max_abs_diff)),
      h("td", { class: "num" }, decimal(v.cosine_similarity)),
      h("td", { class: "num" }, decimal(v.l2_norm_change)),
    ),
  );
  const unmatched = (label, list, describe) =>
    list?.length ? h("div", { class: "unmatched" }, h("h4", {}, label), h("ul", {}, list.map((v) => h("li", { class: "mono" }, describe(v))))) : null;
  section.dataset.state = "data";
  section.replaceChildren(
    title,
    head,
    h(
      "div",
      { class: "facts-row", id: "comparison-summary" },
      fact("compared", count(summary.compared)),
      fact("changed", count(summary.changed)),
      fact("added", count(summary.added)),
      fact("removed", count(summary.removed)),
      fact("reshaped", count(summary.reshaped)),
      fact("parameters", `${count(summary.base_total_parameters)} → ${count(summary.total_parameters)}`),
      fact("largest change", summary.largest_change_path ? `${summary.largest_change_path} (${decimal(summary.largest_relative_l2_diff)})` : "none"),
      fact("max |Δ|", decimal(summary.max_abs_diff)),
    ),
    h(
      "table",
      { class: "grid comparison" },
      h("thead", {}, h("tr", {}, ["parameter", "kind", "shape", "", "relative L2 Δ", "max |Δ|", "cosine", "L2 norm Δ"].map((t) => h("th", {}, t)))),
      h("tbody", {}, rows),
    ),
    ...[
      unmatched("only in this version", comparison.added, (v) => `${v.path} ${shape(v.shape)}`),
      unmatched(`only in version ${base}`, comparison.removed, (v) => `${v.path} ${shape(v.shape)}`),
      unmatched("reshaped", comparison.reshaped, (v) => `${v.path} ${shape(v.base_shape)} → ${shape(v.shape)}`),
    ].filter(Boolean),
  );
}
