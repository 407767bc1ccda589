// The budget planner's page: vanilla JavaScript over the app's JSON API.
// Every value from the server goes into the page as text (textContent), never as markup.
"use strict";

const state = { fit: null, overview: null, result: null, request: null, saved: [] };
const $ = (id) => document.getElementById(id);
const fmt0 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const fmt2 = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

function num(v, digits = 0) {
  if (v === null || v === undefined || !isFinite(v)) return "n/a";
  return digits === 2 ? fmt2.format(v) : fmt0.format(v);
}
function money(v) {
  if (v === null || v === undefined || !isFinite(v)) return "n/a";
  const cur = state.overview ? state.overview.units.currency : "";
  return (v < 0 ? "-" : "") + cur + fmt0.format(Math.abs(v));
}
function pct(v, digits = 1) {
  return v === null || v === undefined || !isFinite(v) ? "n/a" : (100 * v).toFixed(digits) + " %";
}
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
function row(cells, header = false) {
  const tr = el("tr");
  for (const c of cells) {
    const td = el(header ? "th" : "td");
    if (c instanceof Node) td.appendChild(c); else td.textContent = c;
    tr.appendChild(td);
  }
  return tr;
}
function withHdi(iv, f) {
  const span = el("span", f(iv.mean) + " ");
  span.appendChild(el("span", "[" + f(iv.hdi_low) + ", " + f(iv.hdi_high) + "]", "hdi"));
  return span;
}
function perPeriod() { return "per " + state.overview.units.period; }

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

function renderHeadline() {
  const ov = state.overview;
  const u = ov.units;
  $("channels-note").textContent = "ROAS in " + u.outcome + " per " + (u.currency || "") +
    "1 of spend over all the data; marginal ROAS at today's spend; " +
    Math.round(100 * ov.hdi_prob) + " % intervals.";
  const t = $("headline-table");
  t.replaceChildren(row(["channel", "spend " + perPeriod(), "ROAS", "marginal ROAS", "share of outcome"], true));
  const exposure = ov.exposure_channels || {};
  for (const ch of ov.channels) {
    // a channel modeled on impressions or clicks still has its budget in currency
    const e = exposure[ch.name];
    const name = e ? ch.name + " (modeled on " + e.exposure + ", budget from " + e.spend + ")" : ch.name;
    t.appendChild(row([name, money(ch.spend), withHdi(ch.roas, (v) => num(v, 2)),
      withHdi(ch.mroas, (v) => num(v, 2)), withHdi(ch.share, (v) => pct(v))]));
  }
  // organic media: no spend and no ROAS; fixed at their volume, not allocatable
  for (const ch of ov.organic_channels || []) {
    t.appendChild(row([ch.name + " (organic, fixed)", num(ch.volume) + " volume", "–", "–",
      withHdi(ch.share, (v) => pct(v))]));
  }
  const v = $("verdict");
  v.textContent = ov.verdict.text;
  v.className = "verdict " + ov.verdict.level;
  v.hidden = false;
}

function boundInput(name, side, value) {
  const input = el("input");
  input.type = "text";
  input.name = name + "-" + side;
  input.dataset.channel = name;
  input.dataset.side = side;
  input.value = value;
  input.placeholder = side === "min" ? "0" : "budget";
  input.setAttribute("aria-label", name + " " + side);
  return input;
}

function renderBoundsForm() {
  const ov = state.overview;
  $("budget").value = Math.round(ov.current_budget);
  $("budget-unit").textContent = "(" + perPeriod() + ")";
  const t = $("bounds-table");
  t.replaceChildren(row(["channel", "today " + perPeriod(), "lock", "min", "max"], true));
  for (const ch of ov.channels) {
    const lock = el("input");
    lock.type = "checkbox";
    lock.name = ch.name + "-lock";
    lock.dataset.channel = ch.name;
    lock.dataset.side = "lock";
    lock.setAttribute("aria-label", ch.name + " lock");
    const tr = row([ch.name, money(ch.spend), lock, boundInput(ch.name, "min", "-30%"),
      boundInput(ch.name, "max", "+30%")]);
    tr.dataset.channel = ch.name;
    t.appendChild(tr);
  }
}

function scenarioRequest() {
  const bounds = {};
  for (const input of $("bounds-table").querySelectorAll("input")) {
    const b = (bounds[input.dataset.channel] ||= { min: "", max: "", lock: false });
    if (input.dataset.side === "lock") b.lock = input.checked; else b[input.dataset.side] = input.value;
  }
  return { budget: $("budget").value, objective: $("objective").value,
    risk_aversion: $("risk").value, bounds };
}

function card(title, iv, signed) {
  const c = el("div", null, "card");
  c.appendChild(el("div", title));
  const sign = signed && iv.mean >= 0 ? "+" : "";
  c.appendChild(el("div", sign + num(iv.mean), "big"));
  const prob = Math.round(100 * state.overview.hdi_prob);
  c.appendChild(el("span", prob + " % HDI [" + num(iv.hdi_low) + ", " + num(iv.hdi_high) + "]", "hdi"));
  return c;
}

function bars(now, plan, top) {
  const box = el("div", null, "bars");
  for (const [cls, v] of [["now", now], ["plan", plan]]) {
    const b = el("div", null, "bar " + cls);
    b.style.width = Math.max(0.5, (100 * v) / top).toFixed(1) + "%";
    box.appendChild(b);
  }
  return box;
}

function renderResult(title) {
  const r = state.result;
  const u = state.overview.units;
  $("result-title").textContent = title;
  const cards = $("cards");
  cards.replaceChildren(card("expected incremental " + u.outcome + " " + perPeriod(), r.expected_outcome),
    card("lift over today " + perPeriod(), r.lift, true));
  const p = el("div", null, "card");
  p.appendChild(el("div", "chance the plan beats today"));
  p.appendChild(el("div", pct(r.p_lift_positive, 0), "big"));
  p.appendChild(el("span", "P(lift > 0)", "hdi"));
  cards.appendChild(p);
  const t = $("allocation-table");
  t.replaceChildren(row(["channel", "today", "plan", "change", "allowed", "expected " + u.outcome, ""], true));
  const top = Math.max(...r.channels.map((c) => Math.max(c.current_spend, c.plan_spend)), 1e-9);
  for (const c of r.channels) {
    const change = el("span", (c.plan_spend >= c.current_spend ? "+" : "") + money(c.plan_spend - c.current_spend),
      c.plan_spend >= c.current_spend ? "up" : "down");
    const tr = row([c.channel, money(c.current_spend), money(c.plan_spend), change,
      money(c.min) + " – " + money(c.max), num(c.plan_outcome), bars(c.current_spend, c.plan_spend, top)]);
    tr.dataset.channel = c.channel;
    tr.dataset.plan = String(c.plan_spend);
    tr.dataset.max = String(c.max);
    tr.dataset.min = String(c.min);
    t.appendChild(tr);
  }
  t.appendChild(row(["total", money(r.channels.reduce((s, c) => s + c.current_spend, 0)),
    money(r.budget), "", "", num(r.expected_outcome.mean), ""]));
  renderCurves();
}

const SVG = "http://www.w3.org/2000/svg";
function svgEl(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function renderCurves() {
  const box = $("curves");
  box.replaceChildren();
  const byName = Object.fromEntries(state.result.channels.map((c) => [c.channel, c]));
  const W = 220, H = 120, P = 6;
  for (const ch of state.overview.channels) {
    const c = ch.curve, plan = byName[ch.name];
    const xmax = Math.max(...c.spend, plan.plan_spend) || 1;
    const ymax = Math.max(...c.hdi_high, plan.plan_outcome) || 1;
    const x = (v) => P + ((W - 2 * P) * v) / xmax;
    const y = (v) => H - P - ((H - 2 * P) * v) / ymax;
    const svg = svgEl("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img" });
    const upper = c.spend.map((s, i) => `${x(s)},${y(c.hdi_high[i])}`);
    const lower = c.spend.map((s, i) => `${x(s)},${y(c.hdi_low[i])}`).reverse();
    svg.appendChild(svgEl("polygon", { points: upper.concat(lower).join(" "), fill: "#3b7dd8", "fill-opacity": "0.2" }));
    svg.appendChild(svgEl("polyline", { points: c.spend.map((s, i) => `${x(s)},${y(c.mean[i])}`).join(" "),
      fill: "none", stroke: "#3b7dd8", "stroke-width": "2" }));
    svg.appendChild(svgEl("circle", { cx: x(ch.spend), cy: y(ch.current_response), r: 4, fill: "#a5b1bf", stroke: "#333" }));
    svg.appendChild(svgEl("circle", { cx: x(plan.plan_spend), cy: y(plan.plan_outcome), r: 4, fill: "#e8730c", stroke: "#333" }));
    const fig = el("figure", null, "curve");
    fig.appendChild(svg);
    fig.appendChild(el("figcaption", ch.name + ": grey today, orange plan"));
    box.appendChild(fig);
  }
}

async function optimize(event) {
  if (event) event.preventDefault();
  const button = $("optimize");
  button.disabled = true;
  showError("");
  const request = scenarioRequest();
  try {
    const started = performance.now();
    state.result = await api(`/api/fits/${encodeURIComponent(state.fit)}/optimize`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request),
    });
    state.request = request;
    renderResult("Allocation of " + money(state.result.budget) + " " + perPeriod());
    $("status").textContent = "optimised in " + ((performance.now() - started) / 1000).toFixed(2) + " s";
  } catch (err) {
    showError(err.message);
  } finally {
    button.disabled = false;
  }
}

function scenarioCsv(name, r) {
  const quote = (s) => '"' + String(s).replace(/"/g, '""') + '"';
  const lines = ["scenario,channel,current_spend,plan_spend,min,max,current_outcome,plan_outcome"];
  for (const c of r.channels) {
    lines.push([quote(name), quote(c.channel), c.current_spend, c.plan_spend, c.min, c.max,
      c.current_outcome, c.plan_outcome].join(","));
  }
  return lines.join("\n") + "\n";
}

function download(filename, text, type) {
  const a = el("a");
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 0);
}

function fileStem() { return ($("scenario-name").value || "scenario").replace(/[^\w.-]+/g, "_"); }

function saveScenario() {
  if (!state.result) return;
  const name = $("scenario-name").value.trim() || "Scenario " + (state.saved.length + 1);
  state.saved.push({ name, result: state.result, request: state.request });
  $("scenario-name").value = "Scenario " + (state.saved.length + 1);
  renderCompare();
}

function renderCompare() {
  const t = $("compare-table");
  $("compare-empty").hidden = state.saved.length > 0;
  if (!state.saved.length) { t.replaceChildren(); return; }
  t.replaceChildren(row(["", ...state.saved.map((s) => s.name)], true));
  const line = (label, f) => t.appendChild(row([label, ...state.saved.map((s) => f(s.result))]));
  line("budget " + perPeriod(), (r) => money(r.budget));
  line("objective", (r) => r.objective);
  line("expected outcome", (r) => withHdi(r.expected_outcome, num));
  line("lift over today", (r) => withHdi(r.lift, num));
  line("P(lift > 0)", (r) => pct(r.p_lift_positive, 0));
  for (const ch of state.overview.channels) {
    line(ch.name, (r) => money(r.channels.find((c) => c.channel === ch.name).plan_spend));
  }
}

async function loadFit(id) {
  $("status").textContent = "Loading the fit…";
  state.fit = id;
  state.overview = await api(`/api/fits/${encodeURIComponent(id)}`);
  $("report-link").href = `/api/fits/${encodeURIComponent(id)}/report.html`;
  state.saved = [];
  renderHeadline();
  renderBoundsForm();
  state.result = state.overview.recommendation;
  state.request = scenarioRequest();
  renderResult("Recommended: today's budget, each channel within ±30 %");
  renderCompare();
  $("status").textContent = "Fit: " + state.overview.label;
}

async function start() {
  $("scenario-form").addEventListener("submit", optimize);
  $("save").addEventListener("click", saveScenario);
  $("download-csv").addEventListener("click", () =>
    download(fileStem() + ".csv", scenarioCsv($("scenario-name").value, state.result), "text/csv"));
  $("download-json").addEventListener("click", () =>
    download(fileStem() + ".json", JSON.stringify({ fit: state.fit, request: state.request,
      result: state.result }, null, 2), "application/json"));
  const select = $("fit-select");
  select.addEventListener("change", () => loadFit(select.value).catch((e) => showError(e.message)));
  try {
    const fits = await api("/api/fits");
    for (const f of fits.fits) {
      const o = el("option", f.label);
      o.value = f.id;
      select.appendChild(o);
    }
    select.value = fits.default;
    await loadFit(fits.default);
  } catch (err) {
    showError(err.message);
  }
}

document.addEventListener("DOMContentLoaded", start);
