// AutoMem run viewer: plain JavaScript, no build step. Pages: run (#/), episode (#/ep/ID),
// compare (#/cmp?a=ID&b=ID), find (#/find?kind=..&q=..). Data comes from the live server's
// /api/* or, in an exported copy, from data/*.js files (window.AUTOMEM_STATIC is then set).
"use strict";

const STATIC = window.AUTOMEM_STATIC || null;
const app = document.getElementById("app");
const setPage = (...parts) => app.replaceChildren(...parts.flat(Infinity).filter((p) => p !== null && p !== undefined && p !== false));
const state = { ep: null, epData: null, step: null, page: 0, cmp: null };
const PAGE = 100;
const FILTER_LABELS = { errors: "errors", invalid: "invalid actions", fallback: "fallbacks", truncated: "truncated replies", events: "harness events" };
const KIND_COLORS = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b", "#9d755d", "#bab0ac", "#ff9da6"];

// ---------- tiny DOM helpers ----------
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "html") el.innerHTML = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}
const pct = (x) => (x === null || x === undefined ? "–" : (100 * x).toFixed(1));
const signed = (x, d = 1) => (x === null || x === undefined ? "–" : (x >= 0 ? "+" : "") + (100 * x).toFixed(d));
const num = (x) => (x === null || x === undefined ? "–" : Number(x).toLocaleString("en-US"));
const txt = (v) => (v === null || v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v));
const badge = (text, kind) => h("span", { class: "badge b-" + kind }, text);
const notices = (list, cls) => (list || []).map((t) => h("div", { class: "notice " + (cls || ""), role: "alert" }, t));
const epHref = (id, step) => "#/ep/" + encodeURIComponent(id) + (step === undefined || step === null ? "" : "?step=" + step);
const fileUrl = (rel) => (STATIC ? "files/" : "file/") + rel.split("/").map(encodeURIComponent).join("/");
const epLabel = (e) => `${e.env} seed ${e.seed}` + (e.partial ? " (partial)" : "");

// ---------- data access: live API or exported files ----------
const loaded = {};
window.AUTOMEM_DATA = (key, payload) => { loaded[key] = payload; };
function loadData(key) {
  if (key in loaded) return Promise.resolve(loaded[key]);
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = "data/" + key + ".js";
    s.onload = () => (key in loaded ? resolve(loaded[key]) : reject(new Error("data file data/" + key + ".js is damaged")));
    s.onerror = () => reject(new Error("data file data/" + key + ".js is missing from this export"));
    document.head.append(s);
  });
}
async function live(name, params) {
  const qs = new URLSearchParams(params || {}).toString();
  const res = await fetch("api/" + name + (qs ? "?" + qs : ""), { cache: "no-store" });
  let body;
  try { body = await res.json(); } catch (e) { throw new Error(`${name}: the server sent a reply that is not JSON (${res.status})`); }
  if (!res.ok) throw new Error(body.error || `${name}: HTTP ${res.status}`);
  return body;
}
function applyDiff(files, diff) {
  for (const [path, change] of Object.entries(diff || {})) {
    if (change === null) delete files[path];
    else if (typeof change === "object") files[path] = (files[path] || "") + change.append;
    else files[path] = change;
  }
}
const api = {
  run: () => (STATIC ? loadData("run") : live("run")),
  episode: (ep) => (STATIC ? loadData("ep-" + STATIC.ids[ep]) : live("episode", { ep })),
  async steps(ep, offset, limit) {
    if (!STATIC) return live("steps", { ep, offset, limit });
    const d = await api.episode(ep);
    return { offset, total: d.rows.length, rows: d.rows.slice(offset, offset + limit) };
  },
  async step(ep, n) {
    if (!STATIC) return live("step", { ep, n });
    const d = await api.episode(ep);
    const position = d.rows.findIndex((r) => r.step === n);
    if (position < 0) throw new Error(`${ep} has no step ${n}`);
    const c = Math.floor(position / STATIC.chunk);
    const chunk = await loadData(`chunk-${STATIC.ids[ep]}-${c}`);
    const memory = Object.assign({}, chunk.base);
    for (let i = 0; i < position - c * STATIC.chunk; i++) applyDiff(memory, chunk.records[i].memory_diff);
    const record = chunk.records[position - c * STATIC.chunk];
    const before = {};
    for (const p of Object.keys(record.memory_diff || {})) if (p in memory) before[p] = memory[p];
    if (d.has_diffs) applyDiff(memory, record.memory_diff);
    return {
      episode: ep, position, total: d.rows.length, record, before,
      memory: d.has_diffs ? memory : (d.final_memory || {}),
      prev: position ? d.rows[position - 1].step : null,
      next: position + 1 < d.rows.length ? d.rows[position + 1].step : null,
      notices: d.has_diffs ? [] : ["memory shown is the episode's final memory directory"],
    };
  },
  async find(kind, q, ep) {
    if (!STATIC) return live("find", { kind, q: q || "", ep: ep || "" });
    if (kind === "text") throw new Error("text search needs the live viewer: uv run apps/view RUN_DIR");
    const all = await loadData("find-" + kind);
    return { kind, q, hits: all.hits.filter((x) => !ep || x.episode === ep), more: all.more };
  },
};

// ---------- routing ----------
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query] = raw.split("?");
  return { path: path || "", q: new URLSearchParams(query || "") };
}
async function route() {
  const { path, q } = parseHash();
  try {
    if (path.startsWith("ep/")) await showEpisode(decodeURIComponent(path.slice(3)), q);
    else if (path === "cmp") await showCompare(q.get("a"), q.get("b"), Number(q.get("step") || 0));
    else if (path === "find") await showFind(q.get("kind") || "text", q.get("q") || "", q.get("ep") || "");
    else await showRun();
  } catch (err) {
    console.error(err);
    setPage(h("div", { class: "notice error", role: "alert" }, "Could not show this page: " + err.message), h("p", {}, h("a", { href: "#/" }, "back to the run")));
  }
}
window.addEventListener("hashchange", route);
document.getElementById("search").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = document.getElementById("search-q").value.trim();
  if (q) location.hash = "#/find?kind=text&q=" + encodeURIComponent(q);
});
function crumbs(...parts) {
  document.getElementById("crumbs").replaceChildren(...parts.filter((p) => p).flatMap((p, i) => [i ? " › " : "", p]));
}

// ---------- run page ----------
async function showRun() {
  state.ep = null; state.cmp = null;
  const d = await api.run();
  crumbs(h("a", { href: "#/" }, d.name));
  document.title = d.name + " · AutoMem viewer";
  const s = d.summary;
  const parts = [h("h1", {}, "Run ", h("code", {}, d.name)), h("div", { class: "muted small" }, d.run), ...notices(d.notices)];
  if (s) {
    parts.push(h("div", { class: "card kv" },
      s.demo_scale ? badge("demo scale", "warn") : null,
      h("span", {}, "stopped: ", h("b", {}, s.stopped)),
      h("span", {}, "incumbent: ", h("b", {}, String(s.incumbent).padStart(3, "0"))),
      h("span", {}, "start → final mean: ", h("b", {}, `${pct(s.start_mean)}% → ${pct(s.final_mean)}%`)),
      s.heldout_mean !== null && s.heldout_mean !== undefined ? h("span", {}, "held-out: ", h("b", {}, pct(s.heldout_mean) + "%"), ` (gap ${signed(s.heldout_gap)} pts)`) : null,
      h("span", {}, "meta tokens: ", h("b", {}, num(s.meta_tokens))),
      h("span", {}, "agent tokens: ", h("b", {}, num(s.agent_tokens))),
      h("span", {}, "cost: ", h("b", {}, "$" + (s.dollars || 0).toFixed(4)))));
  }
  parts.push(filterBar(""));
  if (d.iterations.length) parts.push(h("h2", {}, "Iterations"), iterationsTable(d));
  if (d.lineage.length) parts.push(h("h2", {}, "Lineage"), lineageTree(d.lineage, s ? s.incumbent : null));
  if (d.trials.length) parts.push(h("h2", {}, "Loop 2 trials"), trialsTable(d.trials));
  if (d.plots.length) parts.push(h("h2", {}, "Plots"), h("div", { class: "plots" }, d.plots.map((p) => h("figure", {}, h("img", { src: fileUrl(p), alt: p, loading: "lazy" }), h("figcaption", {}, p)))));
  parts.push(h("h2", {}, "Episodes"), episodesTable(d.episodes));
  if (d.files.length) parts.push(h("h2", {}, "Files"), h("div", { class: "kv" }, d.files.map((f) => h("a", { href: fileUrl(f), target: "_blank" }, f))));
  if (d.config) parts.push(h("details", { class: "card" }, h("summary", {}, "configuration"), h("pre", {}, d.config)));
  setPage(...parts);
}

function filterBar(ep) {
  const go = (kind) => () => { location.hash = `#/find?kind=${kind}` + (ep ? "&ep=" + encodeURIComponent(ep) : ""); };
  return h("div", { class: "filters" }, h("span", { class: "muted small" }, ep ? "in this episode:" : "across the run:"),
    Object.entries(FILTER_LABELS).map(([k, label]) => h("button", { onclick: go(k), "data-filter": k }, label)));
}

function decisionBadge(r) {
  if (r.status === "in progress") return badge("in progress", "info");
  if (r.stage === "start") return badge("start", "grey");
  return r.kept ? badge("kept", "ok") : badge("rejected at " + r.stage, "bad");
}

function deltaBars(deltas) {
  const vals = Object.values(deltas);
  const max = Math.max(1e-9, ...vals.map(Math.abs));
  return h("span", { class: "bars" }, Object.entries(deltas).map(([k, v]) =>
    h("i", { title: `${k}: ${signed(v)} pts`, style: `height:${2 + 18 * Math.abs(v) / max}px;background:${v >= 0 ? "#54a24b" : "#e45756"}` })));
}

function iterationsTable(d) {
  const envs = [...new Set(d.iterations.flatMap((r) => Object.keys(r.per_env || {})))].sort();
  const byIter = {};
  for (const e of d.episodes) (byIter[e.section] = byIter[e.section] || []).push(e);
  const head = h("tr", {}, h("th", {}, "iter"), h("th", {}, "parent"), h("th", {}, "decision"),
    envs.map((e) => h("th", { class: "num" }, e + " %")), h("th", { class: "num" }, "mean %"),
    h("th", {}, "gate: Δ mean [interval], per-seed Δ"), h("th", { class: "num" }, "meta tok"),
    h("th", { class: "num" }, "agent tok"), h("th", { class: "num" }, "cost $"), h("th", {}, "episodes"), h("th", {}, "records"));
  const rows = d.iterations.map((r) => {
    const g = r.gate;
    const gate = g ? h("div", {}, h("b", {}, signed(g.mean_delta, 2)), ` [${signed(g.ci_low, 2)}, ${signed(g.ci_high, 2)}] `,
      h("span", { class: "muted small" }, `${Math.round(100 * (g.ci_level || 0))}% paired CI · rule ${g.rule}`), " ", deltaBars(g.deltas || {}),
      h("details", {}, h("summary", {}, "per seed"), h("table", { class: "small" }, Object.entries(g.deltas || {}).map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", { class: "num" }, signed(v, 2))))))) : h("span", { class: "muted" }, "–");
    const eps = (byIter[r.dir] || []).map((e) => h("a", { href: epHref(e.id), title: epLabel(e) }, `${e.env}:${e.seed}`));
    return h("tr", { "data-iteration": r.iteration },
      h("td", {}, String(r.iteration).padStart(3, "0")),
      h("td", {}, r.parent === null || r.parent === undefined ? "–" : String(r.parent).padStart(3, "0")),
      h("td", {}, decisionBadge(r), h("div", { class: "muted small" }, r.reason || r.validation_error || "")),
      envs.map((e) => h("td", { class: "num" }, pct((r.per_env || {})[e]))),
      h("td", { class: "num" }, h("b", {}, pct(r.mean_progression))),
      h("td", {}, gate),
      h("td", { class: "num" }, num(r.meta_tokens)), h("td", { class: "num" }, num(r.agent_tokens)),
      h("td", { class: "num" }, r.dollars === null || r.dollars === undefined ? "–" : r.dollars.toFixed(4)),
      h("td", { class: "small" }, eps.flatMap((a, i) => (i ? [" ", a] : [a]))),
      h("td", { class: "small" }, (r.links || []).map((l) => h("div", {}, h("a", { href: fileUrl(l), target: "_blank" }, l.split("/").pop())))));
  });
  return h("table", { id: "iterations" }, h("thead", {}, head), h("tbody", {}, rows));
}

function lineageTree(entries, incumbent) {
  const kids = {};
  for (const e of entries) (kids[e.parent === null || e.parent === undefined ? "root" : e.parent] = kids[e.parent ?? "root"] || []).push(e);
  const node = (e) => h("li", { "data-iteration": e.iteration },
    h("b", {}, String(e.iteration).padStart(3, "0")), " ",
    e.stage === "start" ? badge("start", "grey") : e.kept ? badge("kept", "ok") : badge("rejected at " + e.stage, "bad"),
    " ", h("span", { class: "muted" }, e.mean_progression === null || e.mean_progression === undefined ? "" : pct(e.mean_progression) + "%"),
    e.iteration === incumbent ? [" ", badge("incumbent", "info")] : null,
    kids[e.iteration] ? h("ul", {}, kids[e.iteration].map(node)) : null);
  return h("div", { class: "lineage card", id: "lineage" }, h("ul", {}, (kids.root || []).map(node)));
}

function trialsTable(trials) {
  const head = h("tr", {}, ["#", "proposer", "status", "recipe", "policy", "examples", "LoRA rank", "lr", "steps", "loss", "score", "note"].map((t) => h("th", { class: ["examples", "LoRA rank", "lr", "steps", "score"].includes(t) ? "num" : "" }, t)));
  const rows = trials.map((t) => {
    const rec = t.recipe || {}, tr = t.train || {}, tc = rec.train || {};
    const loss = tr.first_loss !== undefined && tr.first_loss !== null && tr.final_loss !== null ? `${tr.first_loss.toFixed(3)} → ${tr.final_loss.toFixed(3)}` : "–";
    return h("tr", {}, h("td", {}, t.index), h("td", {}, t.proposer), h("td", {}, t.status === "ok" ? badge("ok", "ok") : badge(t.status || "?", "bad")),
      h("td", {}, h("details", {}, h("summary", {}, rec.name || "recipe"), h("pre", { class: "box" }, JSON.stringify(rec, null, 1)))),
      h("td", {}, (rec.policy || {}).name || (rec.policy || {}).builtin || "–"),
      h("td", { class: "num" }, (t.dataset || {}).examples ?? "–"), h("td", { class: "num" }, (tc.lora || {}).rank ?? "–"),
      h("td", { class: "num" }, tc.learning_rate ?? "–"), h("td", { class: "num" }, tr.steps ?? "–"), h("td", {}, loss),
      h("td", { class: "num" }, t.score === null || t.score === undefined ? "–" : h("b", {}, t.score.toFixed(1))), h("td", { class: "small" }, t.note || ""));
  });
  return h("table", { id: "trials" }, h("thead", {}, head), h("tbody", {}, rows));
}

function episodesTable(eps) {
  if (!eps.length) return h("p", { class: "muted" }, "no traces in this run yet");
  const head = h("tr", {}, ["section", "env", "seed", "status", "steps", "progression %", "size", ""].map((t) => h("th", { class: ["steps", "progression %", "size"].includes(t) ? "num" : "" }, t)));
  return h("table", { id: "episodes" }, h("thead", {}, head), h("tbody", {}, eps.map((e) =>
    h("tr", { class: "click", onclick: () => { location.hash = epHref(e.id); } },
      h("td", {}, e.section || "·"), h("td", {}, e.env), h("td", {}, e.seed),
      h("td", {}, e.status === "finished" ? badge("finished", "ok") : e.status === "errored" ? badge("errored", "bad") : badge(e.status, "warn"), e.torn ? [" ", badge("torn last line", "bad")] : null, e.partial ? [" ", badge("partial", "grey")] : null),
      h("td", { class: "num" }, num(e.steps)), h("td", { class: "num" }, pct(e.progression)),
      h("td", { class: "num" }, (e.bytes / 1024).toFixed(0) + " KiB"), h("td", {}, h("a", { href: epHref(e.id) }, "open"))))));
}

// ---------- episode page ----------
async function showEpisode(ep, q) {
  const stepParam = q.get("step");
  if (state.ep !== ep || !state.epData) {
    state.ep = ep; state.cmp = null;
    state.epData = await api.episode(ep);
    state.page = 0;
    renderEpisode();
  }
  const d = state.epData;
  const step = stepParam !== null ? Number(stepParam) : d.timeline.step.length ? d.timeline.step[0] : null;
  if (step !== null) await selectStep(step);
}

function renderEpisode() {
  const d = state.epData, e = d.episode, hd = d.header || {}, sm = d.summary || {};
  crumbs(h("a", { href: "#/" }, "run"), e.section, epLabel(e));
  document.title = `${epLabel(e)} · ${e.section} · AutoMem viewer`;
  const stats = sm.stats || {};
  const info = h("div", { class: "card kv" },
    h("span", {}, "scaffold: ", h("b", {}, hd.scaffold_name || "?"), " ", h("span", { class: "muted small" }, (hd.scaffold_hash || "").slice(0, 12))),
    h("span", {}, "models: ", h("b", {}, Object.entries(hd.models || {}).map(([r, m]) => `${r}=${m}`).join(", ") || "?")),
    h("span", {}, "steps: ", h("b", { id: "step-count" }, String(d.steps))),
    sm.status ? h("span", {}, "status: ", sm.status === "finished" ? badge("finished", "ok") : badge(sm.status, "bad")) : h("span", {}, badge("no summary", "warn")),
    stats.progression !== undefined ? h("span", {}, "progression: ", h("b", {}, pct(stats.progression) + "%")) : null,
    stats.game_steps ? h("span", {}, "game steps: ", h("b", {}, num(stats.game_steps))) : null,
    stats.invalid_actions ? h("span", {}, "invalid actions: ", h("b", {}, num(stats.invalid_actions))) : null,
    stats.end_reason ? h("span", {}, "ended: ", h("b", {}, stats.end_reason)) : null,
    stats.achievements && stats.achievements.length ? h("span", {}, "achievements: ", stats.achievements.join(", ")) : null,
    sm.write_to_search !== undefined && sm.write_to_search !== null ? h("span", {}, "write/search: ", h("b", {}, sm.write_to_search.toFixed(2))) : null,
    sm.memory_growth_per_step !== undefined ? h("span", {}, "growth/step: ", h("b", {}, sm.memory_growth_per_step.toFixed(1) + " chars")) : null,
    sm.error ? h("span", { class: "err" }, "error: " + sm.error) : null);
  const compare = d.compare_with.length ? h("div", { class: "filters" }, h("span", { class: "muted small" }, "compare this seed with:"),
    d.compare_with.map((id) => h("a", { href: `#/cmp?a=${encodeURIComponent(e.id)}&b=${encodeURIComponent(id)}&step=${state.step ?? 0}`, class: "badge b-info" }, id.split("/eval/")[0] || id))) : null;
  setPage(
    h("h1", {}, epLabel(e), " ", h("span", { class: "muted small" }, e.id)),
    ...notices(d.notices), info,
    h("div", { class: "kv small" },
      hd.instructions ? h("details", {}, h("summary", {}, "instructions the agent got"), h("pre", { class: "box" }, hd.instructions)) : null,
      d.header ? h("details", {}, h("summary", {}, "trace header"), h("pre", { class: "box" }, JSON.stringify(Object.fromEntries(Object.entries(d.header).filter(([k]) => k !== "instructions")), null, 1))) : null,
      d.summary ? h("details", { id: "summary-record" }, h("summary", {}, "summary record"), h("pre", { class: "box" }, JSON.stringify(d.summary, null, 1))) : null),
    compare, filterBar(e.id),
    h("div", { class: "timeline", id: "timeline" }, timeline(d.timeline, (s) => { location.hash = epHref(e.id, s); })),
    h("div", { class: "keys" }, h("kbd", {}, "j"), "/", h("kbd", {}, "→"), " next step · ", h("kbd", {}, "k"), "/", h("kbd", {}, "←"), " previous · ",
      h("kbd", {}, "n"), " next event · ", h("kbd", {}, "p"), " previous event · ", h("kbd", {}, "u"), " back to the run"),
    h("div", { class: "grid" }, h("div", { class: "steps-list card", id: "steps-list" }), h("div", { id: "step-view" }, h("p", { class: "muted" }, d.steps ? "" : "no steps yet"))));
}

async function renderStepsPage() {
  const d = state.epData, list = document.getElementById("steps-list");
  if (!list) return;
  const page = await api.steps(state.ep, state.page * PAGE, PAGE);
  const pages = Math.max(1, Math.ceil(page.total / PAGE));
  const go = (p) => () => { state.page = p; renderStepsPage(); };
  const flagBadges = (r) => [r.errors.length ? badge("err", "bad") : null, !r.valid ? badge("invalid", "bad") : null, r.fallback ? badge("fallback", "warn") : null, r.truncated ? badge("cut", "warn") : null, r.events.length ? badge("event", "info") : null];
  list.replaceChildren(
    h("div", { class: "pager" }, h("button", { onclick: go(state.page - 1), disabled: state.page === 0 }, "‹"),
      h("span", { id: "page-label" }, `steps ${page.offset}–${Math.min(page.total, page.offset + PAGE) - 1} of ${page.total} (page ${state.page + 1}/${pages})`),
      h("button", { onclick: go(state.page + 1), disabled: state.page + 1 >= pages }, "›")),
    h("table", { id: "steps" }, h("thead", {}, h("tr", {}, h("th", {}, "step"), h("th", {}, "action"), h("th", { class: "num" }, "prog"), h("th", { class: "num" }, "mem B"), h("th", {}, ""))),
      h("tbody", {}, page.rows.map((r) => h("tr", { class: "click" + (r.step === state.step ? " sel" : ""), "data-step": r.step, title: r.obs_head, onclick: () => { location.hash = epHref(state.ep, r.step); } },
        h("td", { class: "num" }, r.step), h("td", { class: r.valid ? "" : "err" }, r.action || "–"), h("td", { class: "num" }, pct(r.progression)),
        h("td", { class: "num" }, num(r.memory_bytes)), h("td", {}, flagBadges(r)))))));
  const sel = list.querySelector("tr.sel");
  if (sel) sel.scrollIntoView({ block: "nearest" });
  void d;
}

async function selectStep(n) {
  const d = state.epData, steps = d.timeline.step;
  const position = steps.indexOf(n);
  state.step = n;
  const wantPage = Math.floor(Math.max(0, position) / PAGE);
  if (wantPage !== state.page || !document.querySelector("#steps tbody")) { state.page = wantPage; await renderStepsPage(); }
  else document.querySelectorAll("#steps tr[data-step]").forEach((tr) => tr.classList.toggle("sel", Number(tr.dataset.step) === n));
  const sel = document.querySelector("#steps tr.sel"); if (sel) sel.scrollIntoView({ block: "nearest" });
  moveCursor(document.getElementById("timeline"), position);
  const view = document.getElementById("step-view");
  view.replaceChildren(h("p", { class: "muted" }, `loading step ${n}…`));
  try {
    const s = await api.step(state.ep, n);
    if (state.step !== n) return; // a newer request won
    view.replaceChildren(stepView(s, true));
  } catch (err) {
    view.replaceChildren(h("div", { class: "notice error", role: "alert" }, err.message));
  }
}

// ---------- timeline (SVG, no library) ----------
const MAX_POINTS = 2000; // longer episodes are drawn in buckets of B steps (max per bucket)
const maxOf = (vals) => vals.reduce((a, v) => (v > a ? v : a), -Infinity);
const minOf = (vals) => vals.reduce((a, v) => (v < a ? v : a), Infinity);

function timeline(full, onPick) {
  const wrap = h("div");
  if (!full.step.length) return wrap;
  const B = Math.max(1, Math.ceil(full.step.length / MAX_POINTS));
  const bucket = (vals, fold) => { const out = []; for (let i = 0; i < vals.length; i += B) out.push(fold(vals.slice(i, i + B))); return out; };
  const t = B === 1 ? full : {
    step: bucket(full.step, (v) => v[0]),
    progression: bucket(full.progression, maxOf),
    memory_bytes: bucket(full.memory_bytes, maxOf),
    ops: Object.fromEntries(Object.entries(full.ops).map(([k, v]) => [k, bucket(v, maxOf)])),
    flags: bucket(full.flags, (v) => [...new Set(v.join(""))].join("")),
    stuck: full.stuck.map(([a, b]) => [full.step[Math.floor(full.step.indexOf(a) / B) * B], full.step[Math.floor(full.step.indexOf(b) / B) * B]]),
  };
  const n = t.step.length, W = 1000;
  const x = (i) => 30 + (n === 1 ? 0 : (i / (n - 1)) * (W - 40));
  const ns = "http://www.w3.org/2000/svg";
  const svgEl = (tag, attrs) => { const el = document.createElementNS(ns, tag); for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v); return el; };
  const chart = (title, H, draw) => {
    const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", height: H, "data-chart": title });
    const box = h("div", { class: "chart" }, h("span", { class: "lab" }, title));
    for (const [a, b] of t.stuck) {
      const i0 = t.step.indexOf(a), i1 = t.step.indexOf(b);
      svg.append(svgEl("rect", { x: x(i0) - 1, y: 0, width: Math.max(2, x(i1) - x(i0) + 2), height: H, fill: "#f3e3c4", "data-stuck": `${a}-${b}` }));
    }
    const note = draw(svg, H);
    if (note) box.append(h("span", { class: "lab right" }, note));
    svg.append(svgEl("line", { class: "cursor", x1: -10, x2: -10, y1: 0, y2: H, stroke: "#2458c6", "stroke-width": 1.5, "vector-effect": "non-scaling-stroke" }));
    svg.addEventListener("click", (ev) => {
      const r = svg.getBoundingClientRect();
      const fx = ((ev.clientX - r.left) / r.width) * W;
      const i = Math.max(0, Math.min(n - 1, Math.round(((fx - 30) / (W - 40)) * (n - 1))));
      onPick(t.step[i]);
    });
    box.append(svg);
    wrap.append(box);
  };
  const line = (vals, color, label, fromZero) => (svg, H) => {
    const max = maxOf(vals), min = fromZero ? 0 : minOf(vals), span = Math.max(1e-9, max - min);
    const pts = vals.map((v, i) => `${x(i).toFixed(1)},${(H - 4 - ((v - min) / span) * (H - 20)).toFixed(1)}`).join(" ");
    svg.append(svgEl("polyline", { points: pts, fill: "none", stroke: color, "stroke-width": 1.5, "vector-effect": "non-scaling-stroke" }));
    return label(min, max);
  };
  chart("progression", 70, line(t.progression, "#2a9d8f", (lo, m) => "max " + pct(m) + "%", true));
  chart("memory bytes", 60, line(t.memory_bytes, "#8a63d2", (lo, m) => `${num(lo)} – ${num(m)} B`, false));
  const kinds = Object.keys(t.ops);
  chart("ops by kind", 60, (svg, H) => {
    const tot = t.step.map((_, i) => kinds.reduce((a, k) => a + t.ops[k][i], 0));
    const max = Math.max(1, maxOf(tot)), bw = Math.max(1, Math.min(12, (W - 40) / n));
    kinds.forEach((k, ki) => {
      const base = t.step.map((_, i) => kinds.slice(0, ki).reduce((a, kk) => a + t.ops[kk][i], 0));
      let d = "";
      t.ops[k].forEach((v, i) => { if (v) { const y0 = H - 2 - (base[i] / max) * (H - 16), hh = (v / max) * (H - 16); d += `M${(x(i) - bw / 2).toFixed(1)},${(y0 - hh).toFixed(1)}h${bw.toFixed(2)}v${hh.toFixed(1)}h${(-bw).toFixed(2)}z`; } });
      if (d) svg.append(svgEl("path", { d, fill: KIND_COLORS[ki % KIND_COLORS.length], "data-kind": k }));
    });
    return "max " + max + " ops/step" + (B > 1 ? ` (max of each ${B} steps)` : "");
  });
  const marks = { e: ["#c62828", 0], i: ["#e45756", 1], f: ["#f58518", 2], t: ["#9a6700", 3], h: ["#4c78a8", 4], p: ["#1a7f37", 5] };
  const mw = Math.max(2.5, Math.min(8, ((W - 40) / n) * 0.5));
  chart("events", 48, (svg) => {
    t.flags.forEach((f, i) => { for (const c of f) { const [color, row] = marks[c]; svg.append(svgEl("rect", { x: x(i) - mw / 2, y: 15 + row * 5.5, width: mw, height: 4.5, fill: color, "data-flag": c })); } });
  });
  wrap.append(h("div", { class: "legend" },
    [["#c62828", "error"], ["#e45756", "invalid action"], ["#f58518", "fallback"], ["#9a6700", "truncated reply"], ["#4c78a8", "harness event"], ["#1a7f37", "progress"], ["#f3e3c4", "stuck span"]].map(([c, l]) => h("span", {}, h("i", { style: "background:" + c }), l)),
    kinds.map((k, ki) => h("span", {}, h("i", { style: "background:" + KIND_COLORS[ki % KIND_COLORS.length] }), "op " + k))));
  wrap.dataset.n = n;
  wrap.dataset.bucket = B;
  return wrap;
}
function moveCursor(root, position) {
  if (!root || position < 0) return;
  const wrap = root.firstElementChild; if (!wrap || !wrap.dataset.n) return;
  const n = Number(wrap.dataset.n), i = Math.floor(position / Number(wrap.dataset.bucket)), W = 1000;
  const xv = 30 + (n === 1 ? 0 : (i / (n - 1)) * (W - 40));
  root.querySelectorAll("line.cursor").forEach((l) => { l.setAttribute("x1", xv); l.setAttribute("x2", xv); });
}

// ---------- step view ----------
const KNOWN_STEP = new Set(["type", "step", "observation", "turns", "action", "executed_action", "valid_action", "fallback", "reward", "progression", "done", "memory_bytes", "op_counts", "memory_snapshot", "memory_diff", "events"]);
const KNOWN_TURN = new Set(["phase", "role", "round", "messages", "response", "calls", "results", "input_tokens", "output_tokens", "latency_s", "error", "model", "adapter", "finish_reason", "shared"]);

function extraFields(obj, known, label) {
  const extra = Object.entries(obj).filter(([k]) => !known.has(k));
  if (!extra.length) return null;
  return h("details", { class: "extra" }, h("summary", {}, `${label} (${extra.map(([k]) => k).join(", ")})`),
    extra.map(([k, v]) => h("div", {}, h("b", { class: "small" }, k), h("pre", { class: "box" }, typeof v === "string" ? v : JSON.stringify(v, null, 1)))));
}

// A trace stores each turn without the leading messages it shares with the turn before it
// (`shared`, see automem_agent.trace); give every turn its whole prompt back.
function wholePrompts(turns) {
  let before = [];
  return turns.map((t) => {
    const messages = before.slice(0, t.shared || 0).concat(t.messages || []);
    before = messages;
    return { ...t, messages };
  });
}

function stepView(s, full) {
  const r = s.record, turns = wholePrompts(r.turns || []);
  const head = h("div", { class: "card" },
    h("div", { class: "kv" },
      h("span", {}, h("b", { id: "step-title" }, `step ${r.step}`), h("span", { class: "muted small" }, ` (${s.position + 1} of ${s.total})`)),
      full ? h("span", {}, h("button", { onclick: () => s.prev !== null && (location.hash = epHref(s.episode, s.prev)), disabled: s.prev === null }, "‹ prev"), " ",
        h("button", { onclick: () => s.next !== null && (location.hash = epHref(s.episode, s.next)), disabled: s.next === null }, "next ›")) : null,
      h("span", {}, "action: ", h("b", { id: "step-action", class: r.valid_action === false ? "err" : "" }, r.action || "–"),
        r.executed_action && r.executed_action !== r.action ? [" → ran ", h("b", {}, r.executed_action)] : null, " ",
        r.valid_action === false ? badge("invalid", "bad") : badge("valid", "ok"), r.fallback ? [" ", badge("fallback", "warn")] : null),
      h("span", {}, "reward ", h("b", {}, r.reward ?? 0)), h("span", {}, "progression ", h("b", {}, pct(r.progression) + "%")),
      h("span", {}, "memory ", h("b", {}, num(r.memory_bytes) + " B")),
      Object.keys(r.op_counts || {}).length ? h("span", {}, "ops ", Object.entries(r.op_counts).map(([k, v]) => `${k}×${v}`).join(" ")) : null,
      r.done ? badge("episode end", "info") : null),
    (r.events || []).length ? h("div", { class: "notice" }, "harness: ", r.events.map(txt).join(" · ")) : null);
  return h("div", { class: "step", "data-step": r.step },
    ...notices(s.notices), head,
    h("h3", {}, "Observation"), h("pre", { class: "box", id: "observation" }, r.observation || ""),
    h("h3", {}, `Turns (${turns.length})`), h("div", { id: "turns" }, turns.map(turnView)),
    h("h3", {}, "Memory diff of this step"), memoryDiff(r.memory_diff, s.before),
    h("h3", {}, "Memory after this step"), memoryTree(s.memory, r.memory_diff),
    extraFields(r, KNOWN_STEP, "other step fields"));
}

function turnView(t) {
  const specialist = t.role === "memory" && t.adapter;
  const who = t.role === "action" ? "base" : specialist ? "specialist" : t.role === "memory" ? "memory (base)" : t.role;
  const finish = t.finish_reason ? txt(t.finish_reason) : null;
  const cut = finish && ["length", "max_tokens", "max_output_tokens"].includes(finish);
  const results = (t.results || []).slice();
  const rows = (t.calls || []).map((c) => {
    const { op, ...args } = c;
    const res = op === "done" || op === "action" ? null : results.shift();
    return h("tr", {}, h("td", {}, h("b", {}, op)), h("td", {}, h("pre", {}, Object.keys(args).length ? JSON.stringify(args) : "")),
      h("td", {}, res ? [res.ok === false ? badge(res.error || "failed", "bad") : badge("ok", "ok"), " ", h("pre", {}, res.text || "")] : h("span", { class: "muted small" }, op === "action" ? "committed" : op === "done" ? "ends phase" : "not run")));
  });
  for (const res of results) rows.push(h("tr", {}, h("td", {}, "?"), h("td", {}), h("td", {}, h("pre", {}, res.text || ""))));
  return h("div", { class: "turn " + t.phase, "data-phase": t.phase },
    h("div", { class: "th" }, h("b", {}, (t.phase || "?").toUpperCase() + " round " + (t.round ?? "?")), badge(who, specialist ? "info" : "grey"),
      t.model ? h("span", {}, t.model + (t.adapter ? "+" + t.adapter : "")) : null,
      h("span", {}, `tokens in ${num(t.input_tokens)} / out ${num(t.output_tokens)}`),
      h("span", {}, `latency ${t.latency_s === undefined ? "–" : (t.latency_s * 1000).toFixed(1) + " ms"}`),
      h("span", {}, "finish: ", finish ? (cut ? badge(finish + " (truncated)", "warn") : h("b", {}, finish)) : h("span", { class: "muted" }, "not recorded"))),
    h("div", { class: "tb" },
      h("pre", { class: "box response" }, t.response ?? ""),
      t.error ? h("div", { class: "notice error small" }, "told the model: " + txt(t.error)) : null,
      rows.length ? h("table", { class: "ops" }, h("thead", {}, h("tr", {}, h("th", {}, "op"), h("th", {}, "arguments"), h("th", {}, "result"))), h("tbody", {}, rows)) : null,
      (t.messages || []).length ? h("details", {}, h("summary", {}, `prompt (${t.messages.length} messages${t.shared ? `, the first ${t.shared} as in the round above` : ""})`),
        t.messages.map((m) => h("div", {}, h("b", { class: "small" }, m.role), h("pre", { class: "box" }, m.content)))) : null,
      extraFields(t, KNOWN_TURN, "other turn fields")));
}

function lineDiff(a, b) {
  // Common prefix and suffix, then an LCS over what is left when it is small enough.
  const A = a.split("\n"), B = b.split("\n");
  let p = 0; while (p < A.length && p < B.length && A[p] === B[p]) p++;
  let sa = A.length, sb = B.length; while (sa > p && sb > p && A[sa - 1] === B[sb - 1]) { sa--; sb--; }
  const out = []; for (let i = Math.max(0, p - 2); i < p; i++) out.push([" ", A[i]]);
  const mA = A.slice(p, sa), mB = B.slice(p, sb);
  if (mA.length * mB.length <= 250000) {
    const L = Array.from({ length: mA.length + 1 }, () => new Uint32Array(mB.length + 1));
    for (let i = mA.length - 1; i >= 0; i--) for (let j = mB.length - 1; j >= 0; j--) L[i][j] = mA[i] === mB[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
    let i = 0, j = 0;
    while (i < mA.length || j < mB.length) {
      if (i < mA.length && j < mB.length && mA[i] === mB[j]) { out.push([" ", mA[i]]); i++; j++; }
      else if (j < mB.length && (i >= mA.length || L[i][j + 1] > L[i + 1][j])) out.push(["+", mB[j++]]);
      else out.push(["-", mA[i++]]);
    }
  } else { mA.forEach((l) => out.push(["-", l])); mB.forEach((l) => out.push(["+", l])); }
  for (let i = sa; i < Math.min(A.length, sa + 2); i++) out.push([" ", A[i]]);
  return out;
}

function memoryDiff(diff, before) {
  const entries = Object.entries(diff || {});
  if (!entries.length) return h("p", { class: "muted small", id: "memory-diff" }, "no memory change this step");
  return h("div", { class: "diff card", id: "memory-diff" }, entries.map(([path, change]) => {
    let kind, lines;
    if (change === null) { kind = badge("deleted", "bad"); lines = (before[path] || "").split("\n").map((l) => ["-", l]); }
    else if (typeof change === "object") { kind = badge("appended", "ok"); lines = change.append.replace(/\n$/, "").split("\n").map((l) => ["+", l]); }
    else if (!(path in before)) { kind = badge("new file", "ok"); lines = change.replace(/\n$/, "").split("\n").map((l) => ["+", l]); }
    else { kind = badge("rewritten", "warn"); lines = lineDiff(before[path], change); }
    const row = ([m, l]) => h("pre", { class: m === "+" ? "add" : m === "-" ? "del" : "ctx" }, m + " " + l);
    const rest = lines.slice(40, 2000);
    return h("div", { "data-path": path }, h("div", {}, h("b", {}, path), " ", kind), lines.slice(0, 40).map(row),
      rest.length ? h("details", {}, h("summary", {}, `${lines.length - 40} more lines`), rest.map(row)) : null);
  }));
}

function memoryTree(files, diff) {
  const paths = Object.keys(files || {}).sort();
  if (!paths.length) return h("p", { class: "muted small", id: "memory-tree" }, "memory is empty (or not recorded)");
  const changed = new Set(Object.keys(diff || {}));
  const viewer = h("pre", { class: "box", id: "memory-file", hidden: true });
  const total = paths.reduce((a, p) => a + new Blob([files[p]]).size, 0);
  const seenDirs = new Set();
  const items = [];
  for (const p of paths) {
    const parts = p.split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      if (!seenDirs.has(dir)) { seenDirs.add(dir); items.push(h("div", { class: "dir", style: `padding-left:${(i - 1) * 16}px` }, parts[i - 1] + "/")); }
    }
    const text = files[p];
    items.push(h("div", { class: "file" + (changed.has(p) ? " changed" : ""), style: `padding-left:${(parts.length - 1) * 16}px`, "data-path": p,
      onclick: () => { viewer.hidden = false; viewer.textContent = `── ${p} ──\n` + text; } },
      parts[parts.length - 1], h("span", { class: "muted" }, `  ${text.split("\n").length - (text.endsWith("\n") ? 1 : 0)} lines · ${num(new Blob([text]).size)} B`)));
  }
  return h("div", { class: "card" }, h("div", { class: "muted small" }, `${paths.length} files, ${num(total)} B — click a file to read it`), h("div", { class: "tree", id: "memory-tree" }, items), viewer);
}

// ---------- compare ----------
async function showCompare(a, b, step) {
  if (!a || !b) throw new Error("compare needs two episodes (a= and b=)");
  state.ep = null; state.epData = null;
  const [da, db] = await Promise.all([api.episode(a), api.episode(b)]);
  state.cmp = { a, b, da, db, step };
  crumbs(h("a", { href: "#/" }, "run"), "compare", `${epLabel(da.episode)}`);
  const [sa, sb] = await Promise.all([api.step(a, step).catch((e) => e), api.step(b, step).catch((e) => e)]);
  const col = (d, s, id) => h("div", { class: "cmp-col", "data-episode": id },
    h("h2", {}, h("a", { href: epHref(id, step) }, d.episode.section || id), " ", h("span", { class: "muted small" }, `${d.steps} steps · ` + (d.summary && d.summary.stats ? pct(d.summary.stats.progression) + "%" : "no summary"))),
    ...notices(d.notices), s instanceof Error ? h("div", { class: "notice error" }, s.message) : stepView(s, false));
  const lo = Math.max(0, step - 8), hi = step + 8;
  const rowsA = await api.steps(a, lo, hi - lo + 1), rowsB = await api.steps(b, lo, hi - lo + 1);
  const byA = Object.fromEntries(rowsA.rows.map((r) => [r.step, r])), byB = Object.fromEntries(rowsB.rows.map((r) => [r.step, r]));
  const align = [];
  for (let k = lo; k <= hi; k++) {
    const ra = byA[k], rb = byB[k]; if (!ra && !rb) continue;
    const differs = (ra && ra.action) !== (rb && rb.action);
    align.push(h("tr", { class: "click" + (k === step ? " sel" : "") + (differs ? " differs" : ""), onclick: () => { location.hash = `#/cmp?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}&step=${k}`; } },
      h("td", { class: "num" }, k), h("td", {}, ra ? ra.action : "–"), h("td", { class: "num" }, ra ? pct(ra.progression) : ""), h("td", {}, rb ? rb.action : "–"), h("td", { class: "num" }, rb ? pct(rb.progression) : "")));
  }
  setPage(h("h1", {}, `Compare ${epLabel(da.episode)}, step ${step}`),
    h("div", { class: "keys" }, h("kbd", {}, "j"), "/", h("kbd", {}, "k"), " move both by one step · rows in red differ in action"),
    h("table", { id: "aligned", class: "small" }, h("thead", {}, h("tr", {}, h("th", {}, "step"), h("th", {}, "A: " + (da.episode.section || a)), h("th", {}, "prog"), h("th", {}, "B: " + (db.episode.section || b)), h("th", {}, "prog"))), h("tbody", {}, align)),
    h("div", { class: "cols2" }, col(da, sa, a), col(db, sb, b)));
}

// ---------- find ----------
async function showFind(kind, q, ep) {
  state.ep = null; state.cmp = null;
  crumbs(h("a", { href: "#/" }, "run"), kind === "text" ? `search “${q}”` : `filter: ${kind}`);
  setPage(h("p", { class: "muted" }, "searching…"));
  const r = await api.find(kind, q, ep);
  const groups = {};
  for (const x of r.hits) (groups[x.episode] = groups[x.episode] || []).push(x);
  setPage(h("h1", {}, kind === "text" ? `Search “${q}”` : `Steps with ${FILTER_LABELS[kind] || kind}`, ep ? h("span", { class: "muted small" }, " in " + ep) : null),
    filterBar(ep),
    h("p", { id: "find-count" }, `${r.hits.length} hit${r.hits.length === 1 ? "" : "s"}` + (r.more ? " (first ones only)" : "")),
    ...Object.entries(groups).map(([id, hits]) => h("div", { class: "card" }, h("b", {}, h("a", { href: epHref(id) }, id)),
      h("table", { class: "small hits" }, h("tbody", {}, hits.map((x) => h("tr", { class: "click", onclick: () => { location.hash = epHref(id, x.step); } },
        h("td", { class: "num" }, x.step < 0 ? "header" : "step " + x.step), h("td", {}, h("pre", {}, x.text)))))))));
}

// ---------- keyboard ----------
document.addEventListener("keydown", (ev) => {
  if (ev.target.closest && ev.target.closest("input, textarea, select")) return;
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const key = ev.key;
  if (state.cmp) {
    const c = state.cmp, d = key === "j" || key === "ArrowRight" ? 1 : key === "k" || key === "ArrowLeft" ? -1 : 0;
    const last = Math.max(c.da.steps, c.db.steps) - 1;
    if (d) { ev.preventDefault(); location.hash = `#/cmp?a=${encodeURIComponent(c.a)}&b=${encodeURIComponent(c.b)}&step=${Math.max(0, Math.min(last, c.step + d))}`; }
    return;
  }
  if (!state.epData) return;
  const t = state.epData.timeline, i = t.step.indexOf(state.step);
  let target = null;
  if (key === "j" || key === "ArrowRight") target = i + 1 < t.step.length ? t.step[i + 1] : null;
  else if (key === "k" || key === "ArrowLeft") target = i > 0 ? t.step[i - 1] : null;
  else if (key === "n") { for (let k = i + 1; k < t.step.length; k++) if (t.flags[k]) { target = t.step[k]; break; } }
  else if (key === "p") { for (let k = i - 1; k >= 0; k--) if (t.flags[k]) { target = t.step[k]; break; } }
  else if (key === "u") { location.hash = "#/"; return; }
  else return;
  ev.preventDefault();
  if (target !== null) location.hash = epHref(state.ep, target);
});

route();
