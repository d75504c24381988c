// The console's controller: polls the server, keeps the selection in the address's #fragment
// (#model or #model/version), and hands each section its data.

import * as api from "./api.js";
import { h } from "./dom.js";
import { LayerView } from "./layers.js";
import { defaultBase, renderComparison } from "./comparison.js";
import { renderActivations, renderDrift } from "./insight.js";
import { available, renderModelHead, renderModelList, renderVersionTable, versions } from "./models.js";
import { loads, parse, traffic } from "./prometheus.js";
import { renderSignatures } from "./signatures.js";

const params = new URLSearchParams(location.search);
const POLL_MS = Math.max(250, Number(params.get("poll")) || 2000);
const WINDOW_MS = 10_000; // traffic figures are over the last 10 seconds
const HISTORY_MS = 120_000;

const state = {
  listing: null,
  scrapes: [], // parsed /metrics, oldest first, the last two minutes
  model: null,
  version: null, // the version shown; follows the newest available one unless the address names one
  pinned: false,
  shown: "", // "model/version" whose signatures and parameters are on the page
  base: null,
  compared: "", // "model/version/base" whose comparison is on the page
};

const nav = document.getElementById("models");
const detail = document.getElementById("detail");
const serverState = document.getElementById("server-state");
const sections = {};
let layers = null;

function readAddress() {
  const [model, version] = decodeURIComponent(location.hash.slice(1)).split("/");
  return { model: model || null, version: version || null };
}

function scrapeAt(ms) {
  const scrapes = state.scrapes;
  const newest = scrapes[scrapes.length - 1];
  return scrapes.find((s) => s.time >= newest.time - ms) ?? scrapes[0];
}

function windowTraffic(model, version) {
  const newest = state.scrapes[state.scrapes.length - 1];
  const older = scrapeAt(WINDOW_MS);
  return traffic(older === newest ? null : older, newest, model, version);
}

function rateHistory(model) {
  const result = [];
  for (let i = 1; i < state.scrapes.length; i++) result.push(traffic(state.scrapes[i - 1], state.scrapes[i], model).rate);
  return result;
}

function choose() {
  const names = state.listing?.models ?? [];
  const address = readAddress();
  state.model = names.includes(address.model) ? address.model : (names[0] ?? null);
  const loaded = state.model ? available(state.listing, state.model) : [];
  const listed = state.model ? versions(state.listing, state.model).map((v) => String(v.version)) : [];
  state.pinned = Boolean(address.version) && listed.includes(address.version);
  state.version = state.pinned ? address.version : (loaded[0] ?? listed[0] ?? null);
}

function buildDetail() {
  const section = (id) => (sections[id] = h("section", { id, class: "panel" }));
  const inside = ["head", "versions", "signatures", "layers", "comparison"].map(section);
  // What the version sees at run time, together.
  const live = h("div", { id: "live", class: "live" }, section("activations"), section("drift"));
  detail.replaceChildren(...inside, live);
  layers = new LayerView(sections.layers);
}

async function showVersion() {
  const key = `${state.model}/${state.version}`;
  if (state.shown === key) return;
  state.shown = key;
  state.compared = "";
  for (const id of ["signatures", "layers"]) sections[id].replaceChildren(h("p", { class: "muted" }, "loading…"));
  const [metadata, summary] = await Promise.all([
    api.metadata(state.model, state.version).catch(() => null),
    api.parameters(state.model, state.version).catch(() => null),
  ]);
  if (state.shown !== key) return; // the selection moved on meanwhile
  renderSignatures(sections.signatures, metadata);
  layers.render(summary);
}

async function showComparison() {
  const loaded = available(state.listing, state.model);
  const version = state.version;
  if (!loaded.includes(state.base) || state.base === version) state.base = defaultBase(version, loaded);
  const key = `${state.model}/${version}/${state.base}/${loaded.join(",")}`;
  if (state.compared === key) return;
  state.compared = key;
  const onBase = (base) => {
    state.base = base;
    showComparison();
  };
  const view = { version, loaded, base: state.base, onBase };
  renderComparison(sections.comparison, { ...view, comparison: null });
  if (!state.base || !loaded.includes(version)) return;
  let comparison = null;
  let error = null;
  try {
    comparison = await api.comparison(state.model, version, state.base);
    if (!comparison) error = `version ${state.base} or ${version} is no longer loaded`;
  } catch (e) {
    error = e.message;
  }
  if (state.compared !== key) return;
  renderComparison(sections.comparison, { ...view, comparison, error });
}

async function showInsight() {
  const { model, version } = state;
  const [activations, drift] = await Promise.all([
    api.activations(model, version).catch(() => null),
    api.drift(model, version).catch(() => null),
  ]);
  if (model !== state.model || version !== state.version) return;
  renderActivations(sections.activations, activations);
  renderDrift(sections.drift, drift);
}

function showServer(error) {
  serverState.className = error ? "error" : "muted";
  serverState.textContent = error
    ? `cannot reach the server (${error}); retrying`
    : `live, every ${POLL_MS / 1000} s · ${new Date().toLocaleTimeString()}`;
}

async function poll() {
  try {
    const [listing, metricsText] = await Promise.all([api.models(), api.metrics()]);
    state.listing = listing;
    state.scrapes.push(parse(metricsText));
    const newest = state.scrapes[state.scrapes.length - 1].time;
    while (state.scrapes.length > 2 && state.scrapes[0].time < newest - HISTORY_MS) state.scrapes.shift();
    showServer(null);
  } catch (e) {
    showServer(e.message);
    return;
  }
  await render();
}

async function render() {
  choose();
  renderModelList(nav, state.listing, (model) => windowTraffic(model), state.model);
  if (!state.model) {
    detail.replaceChildren(h("p", { class: "empty" }, "Nothing is served yet."));
    state.shown = "";
    return;
  }
  if (!sections.head?.isConnected) buildDetail();
  const windowSeconds = Math.min(WINDOW_MS, newestAge()) / 1000;
  renderModelHead(sections.head, state.model, windowTraffic(state.model), loads(state.scrapes.at(-1), state.model), rateHistory(state.model), windowSeconds);
  renderVersionTable(sections.versions, state.listing, state.model, state.version, (v) => windowTraffic(state.model, v));
  if (!state.version) {
    for (const id of ["signatures", "layers", "comparison", "activations", "drift"]) sections[id].replaceChildren();
    sections.signatures.append(h("p", { class: "empty" }, "No version of this model is on disk yet."));
    state.shown = "";
    return;
  }
  await Promise.all([showVersion(), showComparison(), showInsight()]);
}

function newestAge() {
  const scrapes = state.scrapes;
  return scrapes.length > 1 ? scrapes[scrapes.length - 1].time - scrapeAt(WINDOW_MS).time : WINDOW_MS;
}

async function loop() {
  const started = performance.now();
  await poll();
  document.body.dataset.polls = String(Number(document.body.dataset.polls ?? 0) + 1);
  setTimeout(loop, Math.max(0, POLL_MS - (performance.now() - started)));
}

window.addEventListener("hashchange", () => {
  if (state.listing) render();
});
loop();
