// costrouter dashboard: draws /api/report (the JSON of `costrouter report --json`) with Chart.js.
"use strict";

const REFRESH_MS = 15000;
const TOP = 10; // bars per breakdown chart
const BREAKDOWNS = [
  ["task", "By route (task)"],
  ["tier", "By tier"],
  ["model", "By model"],
  ["tenant", "By tenant"],
];
const COLORS = { spend: "#d62728", baseline: "#7f7f7f", savings: "#2ca02c" };

// Dollars with a precision that suits the amount (the CLI's fmt_usd).
function fmtUsd(v) {
  if (v === null || v === undefined) return "-";
  if (v === 0) return "$0";
  const sign = v < 0 ? "-" : "";
  const a = Math.abs(v);
  let text;
  if (a >= 1) text = a.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  else if (a >= 0.01) text = a.toFixed(4);
  else text = a.toFixed(Math.min(12, 2 - Math.floor(Math.log10(a))));
  return `${sign}$${text}`;
}
const fmtPct = (v) => (v === null || v === undefined ? "-" : `${v.toFixed(1)}%`); // already a percentage
const fmtShare = (v) => (v === null || v === undefined ? "-" : `${(100 * v).toFixed(1)}%`); // a 0..1 share
const fmtInt = (v) => (v === null || v === undefined ? "-" : v.toLocaleString("en-US"));

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function tile(id, label, value, text, sub, mood) {
  return el(
    "div",
    { class: `tile ${mood || ""}`, "data-testid": id, "data-value": value === null ? "" : String(value) },
    el("div", { class: "label" }, label),
    el("div", { class: "value" }, text),
    el("div", { class: "sub" }, sub || ""),
  );
}

function renderTiles(t) {
  const hitRate = t.answered ? t.cache_hits / t.answered : null;
  const tiles = document.getElementById("tiles");
  tiles.replaceChildren(
    tile("spend", "Spend", t.cost_usd, fmtUsd(t.cost_usd), "overheads included"),
    tile("baseline", "Always-premium baseline", t.baseline_usd, fmtUsd(t.baseline_usd), "same answers, premium prices"),
    tile("savings", "Savings", t.savings_usd, fmtUsd(t.savings_usd), `${fmtPct(t.savings_pct)} of the baseline`,
      t.savings_usd >= 0 ? "good" : "bad"),
    tile("requests", "Requests", t.requests, fmtInt(t.requests), `${fmtInt(t.calls)} provider calls`),
    tile("escalation-rate", "Escalation rate", t.escalation_rate, fmtShare(t.escalation_rate),
      "answered after a cheaper tier failed"),
    tile("premium-share", "Premium-call share", t.premium_call_share, fmtShare(t.premium_call_share),
      t.premium ? `calls on ${t.premium}` : "premium unknown"),
    tile("cache-hit-rate", "Cache hit rate", hitRate, fmtShare(hitRate), `${fmtInt(t.cache_hits)} hits`),
    tile("cache-savings", "Cache savings", t.cache_savings_usd, fmtUsd(t.cache_savings_usd), "baseline of hits minus their cost"),
    tile("overhead", "Overhead", t.overhead_usd, fmtUsd(t.overhead_usd),
      `rejected ${fmtUsd(t.overhead.rejected_usd)}, judge ${fmtUsd(t.overhead.judge_usd)}`),
    tile("errors", "Errors / unpriced", t.errors, `${fmtInt(t.errors)} / ${fmtInt(t.unpriced)}`,
      t.unpriced ? "add price overrides: unpriced calls count as $0" : "failed calls / records without a price",
      t.unpriced ? "bad" : ""),
  );
}

const charts = {};

function drawChart(id, config) {
  if (charts[id]) {
    charts[id].data = config.data;
    charts[id].update("none");
    return;
  }
  charts[id] = new Chart(document.getElementById(id), config);
}

function spendDatasets(rows) {
  return [
    { label: "always-premium baseline", data: rows.map((r) => r.baseline_usd), backgroundColor: COLORS.baseline },
    { label: "spend (overheads included)", data: rows.map((r) => r.cost_usd), backgroundColor: COLORS.spend },
  ];
}

const money = { callbacks: { label: (c) => `${c.dataset.label}: ${fmtUsd(c.parsed.y ?? c.parsed.x)}` } };

function renderDays(rows) {
  drawChart("chart-day", {
    type: "bar",
    data: { labels: rows.map((r) => r.key), datasets: spendDatasets(rows) },
    options: {
      animation: false,
      maintainAspectRatio: false,
      plugins: { tooltip: money },
      scales: { y: { title: { display: true, text: "USD" } } },
    },
  });
}

function table(dim, rows) {
  const head = el("tr", {}, ...["", "requests", "calls", "spend", "baseline", "savings", "saved %"].map((h) => el("th", {}, h)));
  const body = rows.map((r) =>
    el(
      "tr",
      { "data-key": r.key === null ? "" : r.key, class: r.savings_usd < 0 ? "loss" : "" },
      el("td", {}, r.key === null ? "(none)" : r.key),
      el("td", { "data-col": "requests" }, fmtInt(r.requests)),
      el("td", { "data-col": "calls" }, fmtInt(r.calls)),
      el("td", { "data-col": "cost_usd", "data-value": String(r.cost_usd) }, fmtUsd(r.cost_usd)),
      el("td", { "data-col": "baseline_usd", "data-value": String(r.baseline_usd) }, fmtUsd(r.baseline_usd)),
      el("td", { "data-col": "savings_usd", "data-value": String(r.savings_usd) }, fmtUsd(r.savings_usd)),
      el("td", { "data-col": "savings_pct" }, fmtPct(r.savings_pct)),
    ),
  );
  return el("table", { "data-testid": `table-${dim}` }, el("thead", {}, head), el("tbody", {}, ...body));
}

function renderBreakdowns(breakdowns) {
  const grid = document.getElementById("breakdowns");
  for (const [dim, title] of BREAKDOWNS) {
    const rows = breakdowns[dim] || [];
    let panel = document.getElementById(`panel-${dim}`);
    if (!panel) {
      panel = el("section", { class: "panel", id: `panel-${dim}` }, el("h2", {}, title),
        el("div", { class: "chart-box" }, el("canvas", { id: `chart-${dim}` })), el("div", { class: "rows" }));
      grid.append(panel);
    }
    const top = rows.slice(0, TOP);
    drawChart(`chart-${dim}`, {
      type: "bar",
      data: { labels: top.map((r) => (r.key === null ? "(none)" : r.key)), datasets: spendDatasets(top) },
      options: { indexAxis: "y", animation: false, maintainAspectRatio: false, plugins: { tooltip: money } },
    });
    panel.querySelector(".rows").replaceChildren(table(dim, rows));
  }
}

// The quality section appears when the report carries one (the quality monitor's figures):
// numbers become tiles, lists of objects become tables.
function renderQuality(quality) {
  const section = document.getElementById("quality");
  if (!quality || typeof quality !== "object") {
    section.hidden = true;
    return;
  }
  const body = document.getElementById("quality-body");
  const tiles = el("div", { class: "tiles" });
  const tables = [];
  for (const [key, value] of Object.entries(quality)) {
    if (typeof value === "number" || typeof value === "string" || typeof value === "boolean") {
      const text = typeof value === "number" && Math.abs(value) <= 1.5 && !Number.isInteger(value) ? fmtShare(value) : String(value);
      tiles.append(tile(`quality-${key}`, key.replaceAll("_", " "), value, text, ""));
    } else if (Array.isArray(value) && value.length && typeof value[0] === "object") {
      const cols = Object.keys(value[0]);
      const head = el("tr", {}, ...cols.map((c) => el("th", {}, c.replaceAll("_", " "))));
      const rows = value.map((r) => el("tr", {}, ...cols.map((c) => el("td", {}, cell(r[c])))));
      tables.push(el("h2", {}, key.replaceAll("_", " ")), el("table", { "data-testid": `quality-${key}` }, el("thead", {}, head), el("tbody", {}, ...rows)));
    }
  }
  body.replaceChildren(tiles, ...tables);
  section.hidden = false;
}

function cell(v) {
  if (v === null || v === undefined) return "-";
  if (Array.isArray(v)) return v.map(cell).join(" - ");
  if (typeof v === "number") return Number.isInteger(v) ? fmtInt(v) : v.toFixed(3);
  return String(v);
}

function render(data) {
  const w = data.window || {};
  document.getElementById("source").textContent = data.ledger ? `ledger: ${data.ledger}` : "";
  document.getElementById("window").textContent = w.first_record
    ? `records ${w.first_record} to ${w.last_record}`
    : "no records yet";
  renderTiles(data.totals);
  renderDays(data.breakdowns.day || []);
  renderBreakdowns(data.breakdowns);
  renderQuality(data.quality);
  const status = document.getElementById("status");
  status.className = "";
  status.textContent = data.totals.records
    ? `${fmtInt(data.totals.records)} ledger records, updated ${new Date().toLocaleTimeString()}`
    : "The ledger has no records yet: send requests through ChatCostRouter or the LiteLLM hooks.";
  window.costrouterDashboard = { data, charts };
  document.body.dataset.ready = "true";
}

async function load() {
  const status = document.getElementById("status");
  try {
    const resp = await fetch("/api/report", { cache: "no-store" });
    const data = await resp.json();
    if (!resp.ok) throw new Error(data.error || `HTTP ${resp.status}`);
    render(data);
  } catch (err) {
    status.className = "error";
    status.textContent = `Cannot read the ledger: ${err.message}`;
    document.body.dataset.ready = "error";
  }
}

window.costrouterReload = load;
document.addEventListener("DOMContentLoaded", () => {
  load();
  setInterval(load, REFRESH_MS);
});
