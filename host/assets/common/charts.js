// Charts shared by the dashboard and the backtest report, over TradingView Lightweight
// Charts (vendored, Apache-2.0): a price chart (candles, fills marked, forecasts) and a
// curve chart (equity or drawdown per strategy, in the account currency). A classic
// script (the report inlines it): defines TH.charts. Times arrive in ms and are shown in UTC.
(function () {
  "use strict";
  const TH = (globalThis.TH = globalThis.TH || {});
  const LWC = globalThis.LightweightCharts;
  const PALETTE = ["#2962ff", "#e65100", "#2e7d32", "#8e24aa", "#c62828", "#00838f", "#6d4c41", "#ad1457"];
  const secs = (ms) => Math.floor(ms / 1000);

  const base = (container, extra) =>
    LWC.createChart(container, {
      autoSize: true,
      layout: { background: { color: "#ffffff" }, textColor: "#333", fontSize: 11 },
      grid: { vertLines: { color: "#f0f0f0" }, horzLines: { color: "#f0f0f0" } },
      timeScale: { timeVisible: true, secondsVisible: false, borderColor: "#ccc" },
      rightPriceScale: { borderColor: "#ccc" },
      localization: { timeFormatter: (t) => TH.fmt.dateTime(t * 1000) },
      ...extra,
    });

  // The time of the last bar at or before t (seconds), so a marker sits on a bar.
  const snap = (times, t) => {
    let lo = 0, hi = times.length - 1, best = times[0];
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (times[mid] <= t) { best = times[mid]; lo = mid + 1; } else hi = mid - 1;
    }
    return best;
  };

  // Candles of one symbol with fills marked and the model's forecasts as a dashed line.
  function priceChart(container) {
    const chart = base(container);
    const candles = chart.addSeries(LWC.CandlestickSeries, {
      upColor: "#26a69a", downColor: "#ef5350", borderVisible: false,
      wickUpColor: "#26a69a", wickDownColor: "#ef5350",
    });
    const forecast = chart.addSeries(LWC.LineSeries, {
      color: "#8e24aa", lineWidth: 2, lineStyle: LWC.LineStyle.Dashed,
      pointMarkersVisible: true, lastValueVisible: false, priceLineVisible: false,
      crosshairMarkerVisible: false, title: "forecast",
    });
    const markers = LWC.createSeriesMarkers(candles, []);
    let bars = [], fills = [], forecasts = [];

    const drawMarkers = () => {
      if (!bars.length) return markers.setMarkers([]);
      const times = bars.map((b) => b.time);
      const first = times[0];
      markers.setMarkers(
        fills
          .filter((f) => secs(f.time_ms) >= first)
          .map((f) => ({
            time: snap(times, secs(f.time_ms)),
            position: f.side === "buy" ? "belowBar" : "aboveBar",
            color: f.side === "buy" ? "#1b5e20" : "#b71c1c",
            shape: f.side === "buy" ? "arrowUp" : "arrowDown",
            text: `${f.plugin} ${f.side} ${TH.fmt.qty(f.quantity)}`,
          }))
          .sort((a, b) => a.time - b.time)
      );
    };
    const drawForecast = () => {
      if (!bars.length) return forecast.setData([]);
      const times = bars.map((b) => b.time);
      const points = new Map();
      for (const p of forecasts) {
        const at = secs(p.time_ms);
        if (at < times[0]) continue;
        const from = bars[times.indexOf(snap(times, at))];
        const target = at + p.horizon_bars * p.bar_secs;
        points.set(target - (target % p.bar_secs), from.close * Math.exp(p.expected_return));
      }
      forecast.setData([...points].sort((a, b) => a[0] - b[0]).map(([time, value]) => ({ time, value })));
    };
    const toBar = (b) => ({ time: secs(b.start_ms), open: b.open, high: b.high, low: b.low, close: b.close });

    return {
      chart,
      setBars(list) { bars = list.map(toBar); candles.setData(bars); drawMarkers(); drawForecast(); },
      updateBar(b) {
        const bar = toBar(b);
        const last = bars[bars.length - 1];
        if (last && bar.time < last.time) return;
        const opened = !(last && last.time === bar.time);
        if (opened) bars.push(bar); else bars[bars.length - 1] = bar;
        candles.update(bar);
        // While there are few bars, keep them all in view (the first fit spread one bar
        // over the whole width, which would push older bars off the left edge).
        if (opened && bars.length <= 120) chart.timeScale().fitContent();
      },
      setFills(list) { fills = list; drawMarkers(); },
      setForecasts(list) { forecasts = list; drawForecast(); },
      redraw() { drawMarkers(); drawForecast(); },
      fit() { chart.timeScale().fitContent(); },
    };
  }

  // One line per strategy: equity or drawdown over time, in the account currency, with a
  // labelled zero line.
  function curveChart(container, { currency, kind }) {
    const chart = base(container, {
      localization: {
        timeFormatter: (t) => TH.fmt.dateTime(t * 1000),
        priceFormatter: (v) => TH.fmt.money(v, currency),
      },
    });
    const lines = new Map();
    let colour = 0;
    const line = (name) => {
      if (!lines.has(name)) {
        const series = chart.addSeries(kind === "drawdown" ? LWC.AreaSeries : LWC.LineSeries, {
          color: PALETTE[colour % PALETTE.length],
          lineColor: PALETTE[colour % PALETTE.length],
          topColor: "rgba(198,40,40,0.05)", bottomColor: "rgba(198,40,40,0.25)",
          invertFilledArea: kind === "drawdown",
          lineWidth: 2, title: name, priceLineVisible: false,
        });
        if (lines.size === 0) {
          series.createPriceLine({ price: 0, color: "#888", lineWidth: 1, lineStyle: LWC.LineStyle.Dotted, axisLabelVisible: true, title: "zero" });
        }
        colour += 1;
        lines.set(name, { series, last: -Infinity, color: PALETTE[(colour - 1) % PALETTE.length] });
      }
      return lines.get(name);
    };
    // Lightweight Charts wants strictly rising times: keep the last value of each second.
    const dedupe = (points) => {
      const out = [];
      for (const p of points) {
        const time = secs(p.time_ms);
        if (out.length && out[out.length - 1].time >= time) out[out.length - 1] = { time: out[out.length - 1].time, value: p.value };
        else out.push({ time, value: p.value });
      }
      return out;
    };
    return {
      chart,
      set(name, points) {
        const l = line(name);
        const data = dedupe(points);
        l.series.setData(data);
        l.last = data.length ? data[data.length - 1].time : -Infinity;
      },
      append(name, time_ms, value) {
        const l = line(name);
        const time = secs(time_ms);
        if (time < l.last) return;
        l.series.update({ time, value });
        l.last = time;
        l.points = (l.points || 0) + 1;
        // Keep the whole curve in view for its first quarter hour of samples (one a second);
        // after that the chart scrolls with the newest and the reader can zoom out.
        if (l.points <= 900) chart.timeScale().fitContent();
      },
      colours() { return [...lines].map(([name, l]) => [name, l.color]); },
      fit() { chart.timeScale().fitContent(); },
    };
  }

  TH.charts = { priceChart, curveChart, palette: PALETTE };
})();
