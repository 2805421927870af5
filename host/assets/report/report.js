// Draws the charts of a backtest report page from the JSON embedded in it: per run, equity
// and drawdown per plugin over time (account currency, UTC), and each symbol's prices with
// the fills marked. A classic script: the page is self-contained and opens from a file.
(function () {
  "use strict";
  const { el } = TH.fmt;
  const runs = JSON.parse(document.getElementById("report-data").textContent);

  runs.forEach((run, i) => {
    const r = run.report;
    const currency = r.currency || "USD";
    // Plugins whose equity never moved drew nothing: leave them out of charts and legend.
    const moving = r.plugins.filter((p) => p.equity.some((e) => e.equity !== 0));

    const equity = TH.charts.curveChart(document.getElementById(`equity-${i}`), { currency, kind: "equity" });
    const drawdown = TH.charts.curveChart(document.getElementById(`drawdown-${i}`), { currency, kind: "drawdown" });
    const start = { time_ms: r.range_ms[0], value: 0 };
    for (const p of moving) {
      const points = [start, ...p.equity.map((e) => ({ time_ms: e.time_ms, value: e.equity }))];
      // Equity holds its last value to the end of the run.
      points.push({ time_ms: r.range_ms[1], value: points[points.length - 1].value });
      equity.set(p.plugin, points);
      let peak = -Infinity;
      drawdown.set(p.plugin, points.map((pt) => {
        peak = Math.max(peak, pt.value);
        return { time_ms: pt.time_ms, value: pt.value - peak };
      }));
    }
    document.getElementById(`legend-${i}`).replaceChildren(
      ...equity.colours().map(([name, c]) => el("span", { style: `--c:${c}` }, name)),
      moving.length ? "" : el("span", { class: "muted" }, "no plugin's equity moved: no fills"));
    equity.fit();
    drawdown.fit();

    const prices = document.getElementById(`prices-${i}`);
    for (const [symbol, series] of Object.entries(r.prices)) {
      const holder = el("div", { class: "chart" });
      prices.append(el("div", { class: "chart-box", dataset: { symbol } },
        el("div", { class: "title" }, el("b", {}, symbol), el("span", { class: "muted" }, `${series.bar_secs} s bars`)), holder));
      const chart = TH.charts.priceChart(holder);
      chart.setBars(series.bars);
      chart.setFills(r.fills
        .filter((f) => f.symbol === symbol)
        .map((f) => ({ ...f, side: String(f.side).toLowerCase() })));
      chart.fit();
    }
  });
})();
