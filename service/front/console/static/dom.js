// Small helpers to build the page's elements and to write numbers for people.

const SVG_NS = "http://www.w3.org/2000/svg";

// An element: h("p", {class: "muted"}, "text", child, ...). Attributes starting with "on" are
// listeners; `dataset` sets data-* attributes; null and false children are skipped.
export function h(tag, attributes = {}, ...children) {
  return fill(document.createElement(tag), attributes, children);
}

// An SVG element, built as h() builds HTML ones.
export function s(tag, attributes = {}, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attributes, children);
}

function fill(element, attributes, children) {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "dataset") Object.assign(element.dataset, value);
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

// protobuf's JSON writes int64 as strings and NaN or infinity as "NaN", "Infinity": both read.
export function num(value) {
  if (value === null || value === undefined || value === "") return NaN;
  return typeof value === "number" ? value : Number(value);
}

export function count(value) {
  const n = num(value);
  return Number.isFinite(n) ? n.toLocaleString("en-US") : "–";
}

// "1 row", "1,600 rows"
export function plural(n, noun) {
  return `${count(n)} ${noun}${num(n) === 1 ? "" : "s"}`;
}

export function decimal(value) {
  const n = num(value);
  if (!Number.isFinite(n)) return Number.isNaN(n) ? "NaN" : n > 0 ? "∞" : "−∞";
  if (n === 0) return "0";
  const size = Math.abs(n);
  if (size >= 1e5 || size < 1e-3) return n.toExponential(2);
  return String(Number(n.toPrecision(4)));
}

export function percent(fraction) {
  const n = num(fraction);
  if (!Number.isFinite(n)) return "–";
  const digits = n !== 0 && Math.abs(n) < 0.01 ? 2 : 1;
  return `${(n * 100).toFixed(digits)}%`;
}

export function seconds(value) {
  const n = num(value);
  if (!Number.isFinite(n)) return "–";
  if (n < 1e-3) return `${(n * 1e6).toFixed(0)} µs`;
  if (n < 1) return `${(n * 1e3).toPrecision(3)} ms`;
  return `${n.toPrecision(3)} s`;
}

export function rate(perSecond) {
  const n = num(perSecond);
  if (!Number.isFinite(n)) return "–";
  return `${n.toFixed(n < 10 ? 2 : 1)}/s`;
}

export function shape(dims) {
  return `[${(dims ?? []).map((d) => (num(d) < 0 ? "?" : String(d))).join(", ")}]`;
}

// "PARAMETER_KIND_NON_TRAINABLE" -> "non-trainable"
export function kind(name) {
  return String(name ?? "").replace("PARAMETER_KIND_", "").toLowerCase().replace("_", "-");
}
