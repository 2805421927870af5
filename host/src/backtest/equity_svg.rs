//! `equity.svg`: each plugin's equity over the backtest, with a time axis in UTC, a PnL axis
//! in the account currency, a labelled zero line, and a legend beside the plot (not over
//! it) that names only plugins whose equity moved.

use super::report::{BacktestReport, EquityPoint};
use crate::types::TimestampMs;
use std::fmt::Write;

const W: f64 = 960.0;
const H: f64 = 440.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 210.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 56.0;
const COLOURS: [&str; 8] = [
    "#2962ff", "#e65100", "#2e7d32", "#8e24aa", "#c62828", "#00838f", "#6d4c41", "#ad1457",
];

/// The equity curves as an SVG line chart.
pub fn equity_svg(report: &BacktestReport) -> String {
    let currency = if report.currency.is_empty() {
        super::report::CURRENCY
    } else {
        &report.currency
    };
    // A plugin whose equity never left zero drew nothing: it has no place in the legend.
    let drawn: Vec<(&str, &[EquityPoint])> = report
        .plugins
        .iter()
        .filter(|p| p.equity.iter().any(|e| e.equity != 0.0))
        .map(|p| (p.plugin.as_str(), p.equity.as_slice()))
        .collect();
    let (t0, t1) = report.range_ms;
    let t1 = t1.max(t0 + 1);
    let (mut lo, mut hi) = drawn
        .iter()
        .flat_map(|(_, c)| c.iter())
        .fold((0.0f64, 0.0f64), |(lo, hi), p| {
            (lo.min(p.equity), hi.max(p.equity))
        });
    if hi - lo < 1e-9 {
        (lo, hi) = (lo - 1.0, hi + 1.0);
    }
    let ticks = nice_ticks(lo, hi, 6);
    let (lo, hi) = (lo.min(ticks[0]), hi.max(ticks[ticks.len() - 1]));
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let x = |t: TimestampMs| LEFT + (t - t0) as f64 / (t1 - t0) as f64 * pw;
    let y = |v: f64| TOP + (hi - v) / (hi - lo) * ph;

    let mut svg = String::with_capacity(16 * 1024);
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{LEFT}\" y=\"22\" font-size=\"14\" font-weight=\"bold\">Equity per plugin \
         (realised + unrealised PnL, {currency})</text>\n"
    );
    // Horizontal grid and PnL axis.
    for v in &ticks {
        let yy = y(*v);
        let _ = writeln!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#eee\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#444\">{}</text>",
            LEFT + pw,
            LEFT - 6.0,
            yy + 4.0,
            money(*v)
        );
    }
    let _ = writeln!(
        svg,
        "<text transform=\"translate(18 {:.1}) rotate(-90)\" text-anchor=\"middle\" fill=\"#444\">PnL ({currency})</text>",
        TOP + ph / 2.0
    );
    // Time axis.
    for (t, label) in time_ticks(t0, t1, 7) {
        let xx = x(t);
        let _ = writeln!(
            svg,
            "<line x1=\"{xx:.1}\" y1=\"{TOP}\" x2=\"{xx:.1}\" y2=\"{:.1}\" stroke=\"#f3f3f3\"/>\
             <line x1=\"{xx:.1}\" y1=\"{:.1}\" x2=\"{xx:.1}\" y2=\"{:.1}\" stroke=\"#666\"/>\
             <text x=\"{xx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#444\">{label}</text>",
            TOP + ph,
            TOP + ph,
            TOP + ph + 5.0,
            TOP + ph + 18.0
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#444\">time (UTC), {} to {}</text>",
        LEFT + pw / 2.0,
        H - 10.0,
        crate::types::format_time_ms(t0),
        crate::types::format_time_ms(t1)
    );
    let _ = writeln!(
        svg,
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{pw:.1}\" height=\"{ph:.1}\" fill=\"none\" stroke=\"#999\"/>"
    );
    // The zero line, labelled inside the plot at its left end; the legend is outside.
    let y0 = y(0.0);
    let _ = writeln!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{y0:.1}\" x2=\"{:.1}\" y2=\"{y0:.1}\" stroke=\"#555\" stroke-dasharray=\"5 4\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#555\" font-size=\"11\">break-even (0 {currency})</text>",
        LEFT + pw,
        LEFT + 6.0,
        y0 - 4.0
    );
    for (i, (name, curve)) in drawn.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let mut points = String::new();
        let mut last = 0.0;
        // A step line from the start: equity holds its value until the next sample.
        let _ = write!(points, "{:.1},{:.1}", x(t0), y(0.0));
        for e in curve.iter() {
            let _ = write!(
                points,
                " {:.1},{:.1} {:.1},{:.1}",
                x(e.time_ms),
                y(last),
                x(e.time_ms),
                y(e.equity)
            );
            last = e.equity;
        }
        let _ = write!(points, " {:.1},{:.1}", x(t1), y(last));
        let ly = TOP + 14.0 + 18.0 * i as f64;
        let lx = LEFT + pw + 14.0;
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.6\" points=\"{points}\"/>\
             <line x1=\"{lx:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{colour}\" stroke-width=\"3\"/>\
             <text x=\"{:.1}\" y=\"{ly:.1}\" fill=\"#222\">{} {}</text>",
            ly - 4.0,
            lx + 16.0,
            ly - 4.0,
            lx + 22.0,
            xml_escape(name),
            money(last)
        );
    }
    if drawn.is_empty() {
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#777\">no plugin's equity moved: no fills</text>",
            LEFT + pw / 2.0,
            TOP + ph / 2.0 - 12.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// About `count` round values covering `lo..=hi` (steps of 1, 2 or 5 times a power of 10).
fn nice_ticks(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    let raw = (hi - lo) / count.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (lo / step).floor() * step;
    let mut ticks = Vec::new();
    let mut v = first;
    while v <= hi + step * 0.5 && ticks.len() < 50 {
        // Print 0, not -0.
        ticks.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
        v += step;
    }
    ticks
}

/// Round times within `t0..=t1` about `count` apart, with their labels (UTC).
fn time_ticks(t0: TimestampMs, t1: TimestampMs, count: i64) -> Vec<(TimestampMs, String)> {
    const MIN: i64 = 60_000;
    const STEPS: [i64; 12] = [
        MIN,
        5 * MIN,
        15 * MIN,
        30 * MIN,
        60 * MIN,
        2 * 60 * MIN,
        6 * 60 * MIN,
        12 * 60 * MIN,
        24 * 60 * MIN,
        7 * 24 * 60 * MIN,
        30 * 24 * 60 * MIN,
        365 * 24 * 60 * MIN,
    ];
    let span = (t1 - t0).max(1);
    let step = STEPS
        .into_iter()
        .find(|s| span / s <= count)
        .unwrap_or(STEPS[STEPS.len() - 1]);
    let format = if step >= 24 * 60 * MIN {
        "%Y-%m-%d"
    } else if span > 24 * 60 * MIN {
        "%m-%d %H:%M"
    } else {
        "%H:%M"
    };
    let mut t = (t0 + step - 1).div_euclid(step) * step;
    let mut out = Vec::new();
    while t <= t1 && out.len() < 40 {
        let label = chrono::DateTime::from_timestamp_millis(t)
            .map(|d| d.format(format).to_string())
            .unwrap_or_default();
        out.push((t, label));
        t += step;
    }
    out
}

fn money(v: f64) -> String {
    if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::report::PluginResult;

    #[test]
    fn axes_zero_line_and_only_moving_plugins_in_the_legend() {
        let point = |t, e| EquityPoint {
            time_ms: t,
            equity: e,
        };
        let report = BacktestReport {
            range_ms: (1_381_498_200_000, 1_381_500_000_000),
            plugins: vec![
                PluginResult {
                    plugin: "sma".into(),
                    equity: vec![
                        point(1_381_498_800_000, -12.5),
                        point(1_381_499_400_000, 30.0),
                    ],
                    ..Default::default()
                },
                PluginResult {
                    plugin: "idle".into(),
                    equity: vec![point(1_381_498_800_000, 0.0)],
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let svg = equity_svg(&report);
        assert!(svg.contains("PnL (USD)"), "currency on the axis");
        assert!(
            svg.contains(">13:30<") && svg.contains(">14:00<"),
            "time labels: {svg}"
        );
        assert!(svg.contains("break-even (0 USD)"), "labelled zero line");
        assert!(svg.contains(">sma 30.00<"), "legend with the last value");
        assert!(
            !svg.contains("idle"),
            "a plugin that drew nothing is not in the legend"
        );
        assert_eq!(
            nice_ticks(-12.5, 30.0, 6),
            [-20.0, -10.0, 0.0, 10.0, 20.0, 30.0]
        );
    }
}
