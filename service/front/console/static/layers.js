// A version's parameters as its block tree: counts per block, each parameter's statistics, and
// the histogram of the one picked.

import { count, decimal, h, kind, num, percent, shape } from "./dom.js";
import { histogram } from "./charts.js";

const KINDS = ["trainable_parameters", "non_trainable_parameters", "constant_parameters"];

function node(name, path) {
  return { name, path, layer: null, children: new Map(), totals: Object.fromEntries([["total_parameters", 0], ...KINDS.map((k) => [k, 0])]) };
}

// The layers' "/"-separated paths as a tree; each node's totals include its descendants'.
export function layerTree(summary) {
  const root = node("", "");
  for (const layer of summary.layers ?? []) {
    const parts = layer.path ? layer.path.split("/") : ["(no block)"];
    let at = root;
    for (const [i, part] of parts.entries()) {
      if (!at.children.has(part)) at.children.set(part, node(part, parts.slice(0, i + 1).join("/")));
      at = at.children.get(part);
      for (const k of ["total_parameters", ...KINDS]) at.totals[k] += num(layer[k]) || 0;
    }
    at.layer = layer;
  }
  return root;
}

function breakdown(totals) {
  const parts = [];
  if (totals.trainable_parameters) parts.push(`${count(totals.trainable_parameters)} trainable`);
  if (totals.non_trainable_parameters) parts.push(`${count(totals.non_trainable_parameters)} non-trainable`);
  if (totals.constant_parameters) parts.push(`${count(totals.constant_parameters)} constant`);
  return parts.join(", ");
}

export class LayerView {
  constructor(section) {
    this.section = section;
    this.picked = null;
  }

  render(summary) {
    if (!summary) {
      this.section.replaceChildren(h("h3", {}, "Layers and parameters"), h("p", { class: "empty" }, "No parameter summary for this version."));
      return;
    }
    if (!(summary.layers ?? []).length) {
      this.section.replaceChildren(h("h3", {}, "Layers and parameters"), h("p", { class: "empty" }, "This version has no parameters: no variables, and no floating-point constants in its graph."));
      return;
    }
    this.variables = new Map();
    for (const layer of summary.layers ?? []) for (const v of layer.variables ?? []) this.variables.set(v.path, v);
    this.panel = h("div", { class: "histogram-panel", id: "parameter-histogram" });
    const tree = layerTree(summary);
    this.section.replaceChildren(
      h("h3", {}, "Layers and parameters"),
      h(
        "p",
        { class: "totals" },
        h("strong", {}, count(summary.total_parameters)),
        " parameters: ",
        breakdown({
          trainable_parameters: num(summary.trainable_parameters),
          non_trainable_parameters: num(summary.non_trainable_parameters),
          constant_parameters: num(summary.constant_parameters),
        }) || "none",
      ),
      h("div", { class: "layers-body" }, h("div", { class: "tree", id: "layer-tree" }, [...tree.children.values()].map((child) => this.branch(child))), this.panel),
    );
    // The parameter picked before, if this version has it too; else the first one.
    this.show(this.variables.has(this.picked) ? this.picked : (this.variables.keys().next().value ?? null));
  }

  branch(tree) {
    const table = tree.layer && (tree.layer.variables ?? []).length ? this.variableTable(tree.layer.variables) : null;
    return h(
      "details",
      { class: "block", open: true, dataset: { path: tree.path } },
      h(
        "summary",
        {},
        h("span", { class: "mono name" }, tree.name),
        h("span", { class: "count" }, count(tree.totals.total_parameters)),
        h("span", { class: "muted small" }, breakdown(tree.totals)),
      ),
      table,
      [...tree.children.values()].map((child) => this.branch(child)),
    );
  }

  variableTable(variables) {
    const rows = variables.map((v) =>
      h(
        "tr",
        {
          class: v.path === this.picked ? "variable picked" : "variable",
          tabindex: 0,
          dataset: { path: v.path },
          onclick: () => this.show(v.path),
          onkeydown: (event) => {
            if (event.key === "Enter" || event.key === " ") {
              event.preventDefault();
              this.show(v.path);
            }
          },
        },
        h("td", { class: "mono" }, v.name),
        h("td", { class: "mono" }, shape(v.shape)),
        h("td", {}, h("span", { class: `kind kind-${kind(v.kind)}` }, kind(v.kind))),
        h("td", { class: "num" }, count(v.count)),
        h("td", { class: "num" }, decimal(v.mean)),
        h("td", { class: "num" }, decimal(v.std)),
        h("td", { class: "num" }, decimal(v.min)),
        h("td", { class: "num" }, decimal(v.max)),
      ),
    );
    return h(
      "table",
      { class: "grid variables" },
      h("thead", {}, h("tr", {}, ["parameter", "shape", "kind", "count", "mean", "std", "min", "max"].map((t) => h("th", {}, t)))),
      h("tbody", {}, rows),
    );
  }

  show(path) {
    this.picked = path;
    for (const row of this.section.querySelectorAll("tr.variable")) row.classList.toggle("picked", row.dataset.path === path);
    const v = path ? this.variables.get(path) : null;
    if (!v) {
      this.panel.replaceChildren(h("p", { class: "muted" }, "Pick a parameter to see the histogram of its values."));
      return;
    }
    const nonFinite = num(v.non_finite_count);
    this.panel.replaceChildren(
      h("h4", { class: "mono" }, v.path),
      histogram(v.histogram, { width: 330, height: 140, label: `histogram of ${v.path}` }),
      h(
        "dl",
        { class: "facts" },
        ...[
          ["shape", `${shape(v.shape)} ${v.dtype}`],
          ["kind", kind(v.kind)],
          ["mean ± std", `${decimal(v.mean)} ± ${decimal(v.std)}`],
          ["min … max", `${decimal(v.min)} … ${decimal(v.max)}`],
          ["L2 norm", decimal(v.l2_norm)],
          ["zeros", percent(v.zero_fraction)],
          ["non-finite", nonFinite ? count(nonFinite) : "none"],
          ["read from", v.source],
        ].flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
      ),
    );
  }
}
