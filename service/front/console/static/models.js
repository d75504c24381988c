// The list of served models on the left, and the selected model's traffic and versions.

import { count, h, percent, rate, seconds } from "./dom.js";
import { sparkline } from "./charts.js";

// "1" -> ["AVAILABLE", ...] as GET /v1/models gives them, newest version first.
export function versions(listing, model) {
  return [...(listing?.model_version_status?.[model] ?? [])].sort(
    (a, b) => Number(b.version) - Number(a.version),
  );
}

export function available(listing, model) {
  return versions(listing, model)
    .filter((v) => v.state === "AVAILABLE")
    .map((v) => String(v.version));
}

function stateChip(status) {
  const state = status.state ?? "UNKNOWN";
  return h("span", { class: `chip state-${state.toLowerCase()}`, title: state }, `v${status.version}`);
}

export function renderModelList(nav, listing, trafficOf, selected) {
  const names = listing?.models ?? [];
  if (names.length === 0) {
    nav.replaceChildren(h("p", { class: "muted" }, "This server serves no model yet."));
    return;
  }
  const items = names.map((name) => {
    const traffic = trafficOf(name);
    return h(
      "li",
      { class: name === selected ? "selected" : null },
      h(
        "a",
        { href: `#${encodeURIComponent(name)}`, dataset: { model: name } },
        h("span", { class: "name" }, name),
        h("span", { class: "chips" }, versions(listing, name).map(stateChip)),
        h("span", { class: "rate muted small" }, traffic.requests > 0 ? rate(traffic.rate) : "idle"),
      ),
    );
  });
  nav.replaceChildren(
    h("h2", {}, `Models `, h("span", { class: "muted" }, `(${names.length})`)),
    h("ul", { class: "model-list" }, items),
  );
}

function card(label, value, note = "") {
  return h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", { class: "value" }, value), note ? h("div", { class: "note muted small" }, note) : null);
}

// The model's figures from the server's own metrics: over the last window, and since start.
export function renderModelHead(section, model, traffic, loadTimes, rateHistory, windowSeconds) {
  const idle = !(traffic.requests > 0);
  const window = windowSeconds >= 1 ? `last ${Math.round(windowSeconds)} s` : "measuring…";
  section.replaceChildren(
    h(
      "div",
      { class: "head-row" },
      h("h2", {}, model),
      h("div", { class: "spark" }, sparkline(rateHistory, { label: "requests per second" }), h("span", { class: "muted small" }, "requests/s, last 2 min")),
    ),
    h(
      "div",
      { class: "cards" },
      card("request rate", rate(traffic.rate), idle && windowSeconds >= 1 ? `no requests, ${window}` : window),
      card("p50 latency", idle ? "–" : seconds(traffic.p50), window),
      card("p99 latency", idle ? "–" : seconds(traffic.p99), window),
      card("error rate", idle ? "–" : percent(traffic.errorShare), window),
      card("requests", count(traffic.totalSince), "since the server started"),
      card(
        "load time",
        loadTimes.count > 0 ? seconds(loadTimes.mean) : "–",
        loadTimes.count > 0 ? `mean of ${count(loadTimes.count)} load(s), warm-up included` : "no load finished yet",
      ),
    ),
  );
}

export function renderVersionTable(section, listing, model, selectedVersion, trafficOf) {
  const rows = versions(listing, model).map((status) => {
    const version = String(status.version);
    const traffic = trafficOf(version);
    const idle = !(traffic.requests > 0);
    const message = status.status?.error_message ?? "";
    const code = status.status?.error_code ?? "";
    return h(
      "tr",
      { class: version === selectedVersion ? "selected" : null, dataset: { version } },
      h("td", {}, h("a", { href: `#${encodeURIComponent(model)}/${encodeURIComponent(version)}` }, version)),
      h("td", {}, h("span", { class: `chip state-${String(status.state).toLowerCase()}` }, status.state)),
      h("td", { class: "num" }, idle ? "–" : rate(traffic.rate)),
      h("td", { class: "num" }, idle ? "–" : seconds(traffic.p50)),
      h("td", { class: "num" }, idle ? "–" : seconds(traffic.p99)),
      h("td", { class: "num" }, idle ? "–" : percent(traffic.errorShare)),
      h("td", { class: "num" }, count(traffic.totalSince)),
      h("td", { class: "muted small" }, message || (code && code !== "OK" ? code : "")),
    );
  });
  section.replaceChildren(
    h("h3", {}, "Versions"),
    h(
      "table",
      { class: "grid versions" },
      h("thead", {}, h("tr", {}, ["version", "state", "rate", "p50", "p99", "errors", "requests", "status"].map((t, i) => h("th", { class: i >= 2 && i <= 6 ? "num" : null }, t)))),
      h("tbody", {}, rows),
    ),
  );
}
