// A version's signatures: what each takes and gives, as its metadata declares.

import { h, num } from "./dom.js";

const DTYPES = { DT_FLOAT: "float32", DT_DOUBLE: "float64", DT_INT32: "int32", DT_INT64: "int64", DT_STRING: "string", DT_BOOL: "bool", DT_HALF: "float16", DT_BFLOAT16: "bfloat16", DT_UINT8: "uint8", DT_INT8: "int8" };

function tensorShape(shape) {
  if (!shape || shape.unknown_rank) return "unknown rank";
  const dims = (shape.dim ?? []).map((d) => (num(d.size) < 0 ? "?" : String(num(d.size))));
  return dims.length ? `[${dims.join(", ")}]` : "scalar []";
}

function tensorRows(tensors) {
  return Object.entries(tensors ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, info]) =>
      h(
        "tr",
        {},
        h("td", { class: "mono" }, name),
        h("td", { class: "mono" }, DTYPES[info.dtype] ?? info.dtype ?? "?"),
        h("td", { class: "mono" }, tensorShape(info.tensor_shape)),
        h("td", { class: "mono muted small" }, info.name ?? ""),
      ),
    );
}

function tensorTable(title, tensors) {
  return h(
    "table",
    { class: "grid tensors" },
    h("caption", {}, title),
    h("thead", {}, h("tr", {}, ["name", "dtype", "shape", "graph tensor"].map((t) => h("th", {}, t)))),
    h("tbody", {}, tensorRows(tensors)),
  );
}

export function renderSignatures(section, metadata) {
  const signatures = metadata?.metadata?.signature_def?.signature_def;
  if (!signatures) {
    section.replaceChildren(h("h3", {}, "Signatures"), h("p", { class: "empty" }, "No signature metadata for this version."));
    return;
  }
  const names = Object.keys(signatures).sort((a, b) => (a === "serving_default" ? -1 : b === "serving_default" ? 1 : a.localeCompare(b)));
  section.replaceChildren(
    h("h3", {}, "Signatures"),
    ...names.map((name) => {
      const signature = signatures[name];
      return h(
        "div",
        { class: "signature", dataset: { signature: name } },
        h("h4", {}, h("span", { class: "mono" }, name), " ", h("span", { class: "muted small" }, signature.method_name ?? "")),
        h("div", { class: "pair" }, tensorTable("inputs", signature.inputs), tensorTable("outputs", signature.outputs)),
      );
    }),
  );
}
