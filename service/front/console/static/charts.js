// Charts drawn as SVG: histograms of values, bars per feature, sparklines over time.

import { count, decimal, h, num, s } from "./dom.js";

// How far along the x axis each edge sits, 0 to 1. Equal-width bins (numpy.histogram's, the
// parameter summaries') are drawn to scale; bins of very different widths (the activations'
// logarithmic grid, whose outer edges may be infinite) are drawn one equal slot each.
function edgePositions(edges) {
  const widths = edges.slice(1).map((edge, i) => edge - edges[i]);
  const finite = widths.filter((w) => Number.isFinite(w) && w > 0);
  const even = finite.length === widths.length && Math.max(...finite) <= 10 * Math.min(...finite);
  if (even) {
    const low = edges[0];
    const span = edges[edges.length - 1] - low || 1;
    return { even, at: edges.map((edge) => (edge - low) / span) };
  }
  return { even, at: edges.map((_, i) => i / (edges.length - 1)) };
}

// A histogram of {edges, counts} (bin i from edges[i] to edges[i + 1]); a dashed line marks 0.
export function histogram(data, { width = 360, height = 120, label = "" } = {}) {
  const edges = (data?.edges ?? []).map(num);
  const counts = (data?.counts ?? []).map(num);
  if (counts.length === 0 || edges.length !== counts.length + 1) {
    return h("p", { class: "muted small" }, "no finite values to draw");
  }
  const pad = { left: 34, right: 8, top: 8, bottom: 18 };
  const plotWidth = width - pad.left - pad.right;
  const plotHeight = height - pad.top - pad.bottom;
  const { even, at } = edgePositions(edges);
  const x = (i) => pad.left + at[i] * plotWidth;
  const most = Math.max(...counts, 1);
  const svg = s("svg", {
    class: `chart histogram ${even ? "" : "uneven"}`,
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": label || "histogram",
  });
  counts.forEach((n, i) => {
    const barHeight = (n / most) * plotHeight;
    const bar = s("rect", {
      class: "bar",
      x: x(i) + 0.5,
      y: pad.top + plotHeight - barHeight,
      width: Math.max(x(i + 1) - x(i) - 1, 1),
      height: barHeight,
    });
    bar.append(s("title", {}, `${decimal(edges[i])} to ${decimal(edges[i + 1])}: ${count(n)}`));
    svg.append(bar);
  });
  const baseline = pad.top + plotHeight;
  const zero = even
    ? edges[0] < 0 && edges[edges.length - 1] > 0
      ? pad.left + (-edges[0] / (edges[edges.length - 1] - edges[0])) * plotWidth
      : null
    : edges.indexOf(0) > 0 && edges.indexOf(0) < edges.length - 1
      ? x(edges.indexOf(0))
      : null;
  if (zero !== null) {
    svg.append(s("line", { class: "mark", x1: zero, x2: zero, y1: pad.top, y2: baseline }));
  }
  svg.append(
    s("line", { class: "axis", x1: pad.left, x2: width - pad.right, y1: baseline, y2: baseline }),
    s("text", { class: "tick", x: pad.left, y: height - 4 }, decimal(edges[0])),
    s("text", { class: "tick end", x: width - pad.right, y: height - 4 }, decimal(edges[edges.length - 1])),
    s("text", { class: "tick end", x: pad.left - 4, y: pad.top + 8 }, count(most)),
    s("text", { class: "tick end", x: pad.left - 4, y: baseline }, "0"),
  );
  if (!even) {
    svg.append(s("text", { class: "tick middle", x: pad.left + plotWidth / 2, y: height - 4 }, "log-spaced bins"));
  }
  return svg;
}

// One bar per value (e.g. PSI per input feature), coloured by the thresholds it passes.
export function bars(values, { width = 360, height = 90, thresholds = [], label = "" } = {}) {
  const pad = { left: 34, right: 8, top: 8, bottom: 16 };
  const plotWidth = width - pad.left - pad.right;
  const plotHeight = height - pad.top - pad.bottom;
  const top = Math.max(...values.filter(Number.isFinite), ...thresholds, 1e-9);
  const step = plotWidth / Math.max(values.length, 1);
  const y = (v) => pad.top + plotHeight - (Math.min(v, top) / top) * plotHeight;
  const svg = s("svg", {
    class: "chart bars",
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": label || "bars",
  });
  values.forEach((v, i) => {
    const level = thresholds.filter((t) => v >= t).length;
    const bar = s("rect", {
      class: `bar level-${level}`,
      x: pad.left + i * step + 0.5,
      y: y(Number.isFinite(v) ? v : 0),
      width: Math.max(step - 1, 1),
      height: pad.top + plotHeight - y(Number.isFinite(v) ? v : 0),
    });
    bar.append(s("title", {}, `feature ${i}: ${decimal(v)}`));
    svg.append(bar);
  });
  for (const t of thresholds) {
    if (t > top) continue;
    svg.append(s("line", { class: "threshold", x1: pad.left, x2: width - pad.right, y1: y(t), y2: y(t) }));
  }
  const baseline = pad.top + plotHeight;
  svg.append(
    s("line", { class: "axis", x1: pad.left, x2: width - pad.right, y1: baseline, y2: baseline }),
    s("text", { class: "tick end", x: pad.left - 4, y: pad.top + 8 }, decimal(top)),
    s("text", { class: "tick end", x: pad.left - 4, y: baseline }, "0"),
    s("text", { class: "tick", x: pad.left, y: height - 3 }, "0"),
    s("text", { class: "tick end", x: width - pad.right, y: height - 3 }, String(values.length - 1)),
  );
  return svg;
}

// A line through recent values, oldest first; gaps (NaN) are drawn as zero.
export function sparkline(values, { width = 160, height = 32, label = "" } = {}) {
  const svg = s("svg", {
    class: "chart sparkline",
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": label || "sparkline",
  });
  if (values.length < 2) return svg;
  const clean = values.map((v) => (Number.isFinite(v) ? v : 0));
  const top = Math.max(...clean, 1e-9);
  const step = width / (clean.length - 1);
  const points = clean.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / top) * (height - 4)).toFixed(1)}`);
  svg.append(s("polyline", { class: "line", points: points.join(" ") }));
  return svg;
}
