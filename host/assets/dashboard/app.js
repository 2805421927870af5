// The dashboard: one Server-Sent Events stream (/api/events) that opens with a snapshot and
// then carries bars, fills, orders, refusals, forecasts, equity, notices and, every second,
// the status document. On reconnection (daemon restarted, network dropped) the server sends
// a fresh snapshot and the page redraws from it.
import * as panels from "./panels.js";
import { bind, pluginAction } from "./controls.js";

const { el, price, bp } = TH.fmt;
const markets = new Map(); // symbol -> { chart, fills, forecasts, priceEl, forecastEl }
let equity = null;
let streamUp = false;
let lastStatus = null;

function market(symbol) {
  if (!markets.has(symbol)) {
    document.getElementById("no-market")?.remove();
    const priceEl = el("span", { class: "price", dataset: { symbol } }, "–");
    const forecastEl = el("span", { class: "muted forecast", dataset: { symbol } }, "");
    const holder = el("div", { class: "chart" });
    const box = el("div", { class: "chart-box", dataset: { symbol } },
      el("div", { class: "title" }, el("b", {}, symbol), priceEl, forecastEl), holder);
    const boxes = [...document.getElementById("charts").children];
    const after = boxes.find((b) => b.dataset.symbol > symbol);
    document.getElementById("charts").insertBefore(box, after || null);
    markets.set(symbol, { chart: TH.charts.priceChart(holder), fills: [], forecasts: [], priceEl, forecastEl, box });
  }
  return markets.get(symbol);
}

function showForecast(m, p) {
  if (!p) return;
  m.forecastEl.textContent = `forecast ${bp(p.expected_return)} over ${p.horizon_bars} bar${p.horizon_bars === 1 ? "" : "s"} (model v${p.model_version})`;
}

function snapshot(s) {
  for (const m of markets.values()) m.box.remove();
  markets.clear();
  panels.clearLists();
  document.getElementById("bar-secs").textContent = `(${s.bar_secs} s bars, UTC)`;
  for (const [symbol, bars] of Object.entries(s.bars)) {
    const m = market(symbol);
    m.chart.setBars(bars);
    if (bars.length) m.priceEl.textContent = price(bars[bars.length - 1].close);
  }
  for (const f of s.fills) {
    market(f.symbol).fills.push(f);
    panels.fill(f);
  }
  for (const [symbol, list] of Object.entries(s.predictions)) {
    const m = market(symbol);
    m.forecasts = list;
    showForecast(m, list[list.length - 1]);
  }
  for (const m of markets.values()) {
    m.chart.setFills(m.fills);
    m.chart.setForecasts(m.forecasts);
    m.chart.fit();
  }
  s.orders.forEach(panels.order);
  s.refusals.forEach(panels.refusal);
  s.notices.forEach(panels.notice);
  drawEquity(s.equity);
  status(s.status);
}

function drawEquity(samples) {
  const holder = document.getElementById("equity");
  holder.replaceChildren();
  equity = TH.charts.curveChart(holder, { currency: "USD", kind: "equity" });
  const series = new Map();
  for (const sample of samples) {
    for (const [name, value] of Object.entries(sample.equity)) {
      if (!series.has(name)) series.set(name, []);
      series.get(name).push({ time_ms: sample.time_ms, value });
    }
  }
  for (const [name, points] of series) equity.set(name, points);
  legend();
  equity.fit();
}

function legend() {
  document.getElementById("equity-legend").replaceChildren(
    ...equity.colours().map(([name, c]) => el("span", { style: `--c:${c}` }, name)));
}

function status(s) {
  lastStatus = s;
  // Which daemon the page shows: a restart changes it.
  document.documentElement.dataset.started = s.started_ms;
  panels.header(s, streamUp);
  panels.pnl(s);
  panels.feed(s);
  panels.journal(s);
  panels.positions(s);
  panels.plugins(s, pluginAction);
  panels.models(s);
  panels.deployment(s);
}

const handlers = {
  snapshot,
  status,
  bar(b) {
    const m = market(b.symbol);
    m.chart.updateBar(b);
    m.priceEl.textContent = price(b.close);
  },
  fill(f) {
    const m = market(f.symbol);
    m.fills.push(f);
    m.chart.setFills(m.fills);
    panels.fill(f);
  },
  order: panels.order,
  refusal: panels.refusal,
  notice: panels.notice,
  prediction(p) {
    const m = market(p.symbol);
    m.forecasts.push(p);
    m.chart.setForecasts(m.forecasts);
    showForecast(m, p);
  },
  equity(sample) {
    const before = equity.colours().length;
    for (const [name, value] of Object.entries(sample.equity)) equity.append(name, sample.time_ms, value);
    if (equity.colours().length !== before) legend();
  },
};

function setStream(up) {
  streamUp = up;
  const c = document.getElementById("conn");
  c.textContent = up ? "live" : "reconnecting…";
  c.className = `badge ${up ? "good" : "warn"}`;
  if (lastStatus) panels.header(lastStatus, up);
}

function connect() {
  const source = new EventSource("/api/events");
  source.onopen = () => setStream(true);
  source.onerror = () => {
    setStream(false);
    // The browser retries by itself unless the stream was refused outright.
    if (source.readyState === EventSource.CLOSED) setTimeout(connect, 2000);
  };
  for (const [name, handle] of Object.entries(handlers)) {
    source.addEventListener(name, (e) => {
      try {
        handle(JSON.parse(e.data));
      } catch (err) {
        console.warn(`dashboard: ${name} event not shown: ${err.message}`);
      }
    });
  }
}

bind();
connect();
