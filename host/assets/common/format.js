// Formatting shared by the dashboard and the backtest report: money, prices, times,
// durations, basis points. A classic script (the report inlines it): defines TH.fmt.
(function () {
  "use strict";
  const TH = (globalThis.TH = globalThis.TH || {});

  const money = (v, currency) => {
    if (v === null || v === undefined || !Number.isFinite(v)) return "–";
    const s = v.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    return currency ? `${s} ${currency}` : s;
  };
  const signedMoney = (v, currency) =>
    Number.isFinite(v) && v > 0 ? "+" + money(v, currency) : money(v, currency);
  const price = (v) => {
    if (v === null || v === undefined || !Number.isFinite(v)) return "–";
    const digits = Math.abs(v) >= 100 ? 2 : Math.abs(v) >= 1 ? 3 : 5;
    return v.toFixed(digits);
  };
  const qty = (v) => (Number.isFinite(v) ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : "–");
  const pad = (n) => String(n).padStart(2, "0");
  // Times are shown in UTC: market data, journals and logs all use it.
  const time = (ms) => {
    if (!Number.isFinite(ms)) return "–";
    const d = new Date(ms);
    return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  };
  const dateTime = (ms) => {
    if (!Number.isFinite(ms)) return "–";
    const d = new Date(ms);
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${time(ms)} UTC`;
  };
  const duration = (secs) => {
    if (!Number.isFinite(secs)) return "–";
    if (secs < 1) return `${Math.round(secs * 1000)} ms`;
    if (secs < 120) return `${secs.toFixed(secs < 10 ? 1 : 0)} s`;
    if (secs < 7200) return `${Math.round(secs / 60)} min`;
    return `${(secs / 3600).toFixed(1)} h`;
  };
  const micros = (ns) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(1)} ms` : `${(ns / 1e3).toFixed(1)} µs`);
  const bp = (logReturn) => (Number.isFinite(logReturn) ? `${(logReturn * 1e4).toFixed(2)} bp` : "–");
  const bytes = (n) =>
    n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
  const sci = (v) => (Number.isFinite(v) ? v.toExponential(3) : "–");
  const pct = (v) => (Number.isFinite(v) ? `${(v * 100).toFixed(1)} %` : "–");

  // Builds an element: el("td", {class: "num"}, "text", child...). Text is never parsed as HTML.
  const el = (tag, attrs, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(e.dataset, v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : String(c));
    }
    return e;
  };

  TH.fmt = { money, signedMoney, price, qty, time, dateTime, duration, micros, bp, bytes, sci, pct, el };
})();
