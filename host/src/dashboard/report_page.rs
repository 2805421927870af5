//! The HTML view of backtests: one self-contained page (style, chart library, scripts and
//! data inline, so it opens from a file with no network) showing one or more runs side by
//! side. `tradehost backtest` writes it as `report.html` beside `report.json`;
//! `tradehost report DIR...` renders it from the `report.json` of each folder, to a file
//! or served over HTTP. One renderer for both.
//!
//! Tables (per-plugin results and why a plugin made no fills, refusal reasons, training)
//! are rendered here; the charts (equity and drawdown over time in the account currency,
//! prices with fills marked) are drawn by the same scripts as the dashboard.

use super::assets;
use crate::types::TimestampMs;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A report page could not be made or served.
#[derive(Debug, thiserror::Error)]
pub enum ReportPageError {
    /// A folder has no readable `report.json`.
    #[error(
        "cannot read {path}: {source} (give the --out folder of a `tradehost backtest`, which \
         holds report.json)"
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A `report.json` is not a backtest report.
    #[error("{path} is not a tradehost backtest report: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the JSON reader said.
        message: String,
    },
    /// The page could not be written.
    #[error("cannot write the report to {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The address could not be served.
    #[error("cannot serve the report on {addr}: {source} (choose a free address)")]
    Serve {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// What the page reads of a `report.json` (fields it lacks, from older runs, stay empty).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunView {
    /// Trades replayed.
    pub trades: u64,
    /// First and last market time.
    pub range_ms: (TimestampMs, TimestampMs),
    /// Wall-clock seconds of the run.
    pub elapsed_secs: f64,
    /// The currency of PnL figures.
    pub currency: String,
    /// Per plugin.
    pub plugins: Vec<PluginView>,
    /// Per symbol, what the trainer did.
    pub training: BTreeMap<String, serde_json::Value>,
    /// Per symbol, price bars.
    pub prices: BTreeMap<String, serde_json::Value>,
    /// Fills to mark.
    pub fills: Vec<serde_json::Value>,
    /// Fills in the whole run.
    pub fills_total: usize,
}

/// One plugin's results, as the page reads them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PluginView {
    /// The plugin.
    pub plugin: String,
    /// Fills.
    pub fills: usize,
    /// Fees paid.
    pub fees: f64,
    /// Realised PnL.
    pub realised_pnl: f64,
    /// Unrealised PnL.
    pub unrealised_pnl: f64,
    /// Largest fall from a peak.
    pub max_drawdown: f64,
    /// Sharpe ratio of equity changes.
    pub sharpe: f64,
    /// Share of samples with a position.
    pub exposure: f64,
    /// Equity samples.
    pub equity: Vec<serde_json::Value>,
    /// Why it traded or not.
    pub diagnosis: DiagnosisView,
}

/// Why a plugin traded or not, as the page reads it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DiagnosisView {
    /// Symbols it asked for.
    pub symbols: Vec<String>,
    /// Those the data held.
    pub symbols_with_data: Vec<String>,
    /// Events delivered.
    pub events: u64,
    /// Forecasts for its symbols.
    pub forecasts: u64,
    /// Orders accepted.
    pub orders: u64,
    /// Orders refused.
    pub refusals: u64,
    /// Top refusal reasons.
    pub refusal_reasons: Vec<ReasonView>,
    /// The answer in words.
    pub verdict: String,
}

/// One refusal reason.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReasonView {
    /// The first refusal's text.
    pub reason: String,
    /// How many.
    pub count: u64,
    /// When the first was.
    pub first_ms: TimestampMs,
}

/// One backtest to show.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// Its name on the page (the folder).
    pub label: String,
    /// Its report.
    pub report: RunView,
}

impl Run {
    /// The run whose `report.json` is `json`, named after `dir`.
    pub fn parse(dir: &Path, json: &[u8]) -> Result<Run, ReportPageError> {
        let path = dir.join("report.json");
        let report: RunView = serde_json::from_slice(json).map_err(|e| ReportPageError::Parse {
            path,
            message: e.to_string(),
        })?;
        let label = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| dir.display().to_string());
        Ok(Run { label, report })
    }

    /// The run in folder `dir` (its `report.json`).
    pub fn load(dir: &Path) -> Result<Run, ReportPageError> {
        let path = dir.join("report.json");
        let json = std::fs::read(&path).map_err(|source| ReportPageError::Read { path, source })?;
        Run::parse(dir, &json)
    }
}

/// The page of one run, from its folder and `report.json` bytes (what a backtest writes).
pub fn render_one(dir: &Path, json: &[u8]) -> Result<String, ReportPageError> {
    Ok(render(&[Run::parse(dir, json)?]))
}

/// The page of the runs in `dirs`, side by side.
pub fn render_dirs(dirs: &[PathBuf]) -> Result<String, ReportPageError> {
    let runs = dirs
        .iter()
        .map(|d| Run::load(d))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(render(&runs))
}

/// The page of `runs`, side by side.
pub fn render(runs: &[Run]) -> String {
    let mut html = String::with_capacity(400 * 1024);
    let title = match runs {
        [one] => format!("Backtest {}", one.label),
        _ => format!("{} backtests side by side", runs.len()),
    };
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{t} · tradehost</title>\n<link rel=\"icon\" href=\"data:,\">\n<style>\n{css}</style>\n\
         <script>\n{lwc}\n</script>\n<script>\n{fmt}\n</script>\n<script>\n{charts}\n</script>\n</head>\n<body>\n\
         <header class=\"top\"><h1>tradehost</h1><span>{t}</span></header>\n<main class=\"runs\">\n",
        t = esc(&title),
        css = assets::text("style.css"),
        lwc = script_safe(assets::text("lightweight-charts.js")),
        fmt = script_safe(assets::text("format.js")),
        charts = script_safe(assets::text("charts.js")),
    );
    for (i, run) in runs.iter().enumerate() {
        run_section(&mut html, i, run);
    }
    let data = serde_json::to_string(runs).unwrap_or_else(|_| "[]".into());
    let _ = write!(
        html,
        "</main>\n<footer>Times in UTC. PnL in the account currency; fees included in realised \
         PnL. Charts by <a href=\"https://www.tradingview.com/\">TradingView Lightweight \
         Charts™</a> (Apache-2.0).</footer>\n\
         <script type=\"application/json\" id=\"report-data\">{}</script>\n<script>\n{}\n</script>\n\
         </body>\n</html>\n",
        // JSON never holds `<` outside strings, so escaping it there keeps `</script>` out.
        data.replace('<', "\\u003c"),
        script_safe(assets::text("report.js"))
    );
    html
}

fn run_section(html: &mut String, i: usize, run: &Run) {
    let r = &run.report;
    let cur = if r.currency.is_empty() {
        "USD"
    } else {
        r.currency.as_str()
    };
    let _ = write!(
        html,
        "<section class=\"panel run\" data-run=\"{i}\">\n<h2>{}</h2>\n<dl class=\"facts\">\
         <dt>period</dt><dd>{} to {}</dd><dt>trades</dt><dd>{}</dd><dt>symbols</dt><dd>{}</dd>\
         <dt>fills</dt><dd>{}</dd><dt>run time</dt><dd>{:.2} s</dd><dt>currency</dt><dd>{}</dd></dl>\n",
        esc(&run.label),
        crate::types::format_time_ms(r.range_ms.0),
        crate::types::format_time_ms(r.range_ms.1),
        r.trades,
        esc(&r.prices.keys().cloned().collect::<Vec<_>>().join(", ")),
        r.fills_total,
        r.elapsed_secs,
        esc(cur)
    );
    html.push_str(
        "<h2>Plugins</h2>\n<div class=\"table-wrap\"><table class=\"plugins\"><thead><tr><th>plugin</th><th class=\"num\">fills</th>\
         <th class=\"num\">realised</th><th class=\"num\">unrealised</th><th class=\"num\">total</th>\
         <th class=\"num\">max drawdown</th><th class=\"num\">Sharpe</th><th class=\"num\">exposure</th>\
         <th class=\"num\">orders</th><th class=\"num\">refused</th><th>what happened</th></tr></thead><tbody>\n",
    );
    for p in &r.plugins {
        let d = &p.diagnosis;
        let total = p.realised_pnl + p.unrealised_pnl;
        let _ = writeln!(
            html,
            "<tr data-plugin=\"{}\"><td>{}</td><td class=\"num\">{}</td><td class=\"num {}\">{:.2}</td>\
             <td class=\"num {}\">{:.2}</td><td class=\"num {}\">{:.2} {}</td><td class=\"num\">{:.2}</td>\
             <td class=\"num\">{:.3}</td><td class=\"num\">{:.1} %</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"wrap verdict\">{}</td></tr>",
            esc(&p.plugin),
            esc(&p.plugin),
            p.fills,
            sign(p.realised_pnl),
            p.realised_pnl,
            sign(p.unrealised_pnl),
            p.unrealised_pnl,
            sign(total),
            total,
            esc(cur),
            p.max_drawdown,
            p.sharpe,
            p.exposure * 100.0,
            d.orders,
            d.refusals,
            esc(&d.verdict)
        );
    }
    html.push_str("</tbody></table></div>\n");
    let refused: Vec<&PluginView> = r
        .plugins
        .iter()
        .filter(|p| !p.diagnosis.refusal_reasons.is_empty())
        .collect();
    if !refused.is_empty() {
        html.push_str(
            "<h2>Refused orders: top reasons</h2>\n<table class=\"reasons\"><thead><tr><th>plugin</th>\
             <th class=\"num\">count</th><th>first at</th><th>reason (first one; numbers vary)</th></tr></thead><tbody>\n",
        );
        for p in refused {
            for reason in &p.diagnosis.refusal_reasons {
                let _ = writeln!(
                    html,
                    "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"wrap\">{}</td></tr>",
                    esc(&p.plugin),
                    reason.count,
                    crate::types::format_time_ms(reason.first_ms),
                    esc(&reason.reason)
                );
            }
        }
        html.push_str("</tbody></table>\n");
    }
    let _ = write!(
        html,
        "<h2>Equity ({c})</h2><div class=\"legend\" id=\"legend-{i}\"></div><div class=\"chart tall\" id=\"equity-{i}\"></div>\n\
         <h2>Drawdown from the previous peak ({c})</h2><div class=\"chart\" id=\"drawdown-{i}\"></div>\n\
         <h2>Prices and fills</h2><div class=\"prices\" id=\"prices-{i}\"></div>\n",
        c = esc(cur)
    );
    if r.fills.len() < r.fills_total {
        let _ = writeln!(
            html,
            "<p class=\"muted\">{} of {} fills marked, evenly spread.</p>",
            r.fills.len(),
            r.fills_total
        );
    }
    if !r.training.is_empty() {
        html.push_str(
            "<h2>Models</h2>\n<table class=\"training\"><thead><tr><th>symbol</th><th class=\"num\">cycles</th>\
             <th class=\"num\">deployed</th><th class=\"num\">refused</th><th class=\"num\">too little data</th>\
             <th class=\"num\">forecasts</th><th>model at the end</th></tr></thead><tbody>\n",
        );
        for (symbol, t) in &r.training {
            let n = |k: &str| t.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
            let model = t
                .get("final_version")
                .and_then(|v| v.as_u64())
                .map_or("none".to_string(), |v| format!("v{v}"));
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{model}</td></tr>",
                esc(symbol),
                n("cycles"),
                n("deployed"),
                n("refused"),
                n("not_enough_data"),
                n("predictions")
            );
        }
        html.push_str("</tbody></table>\n");
    }
    html.push_str("</section>\n");
}

fn sign(v: f64) -> &'static str {
    if v > 0.0 {
        "pos"
    } else if v < 0.0 {
        "neg"
    } else {
        ""
    }
}

/// Text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A script body that cannot close its `<script>` element early.
fn script_safe(js: &str) -> String {
    js.replace("</script", "<\\/script")
}

/// Serve the page of `dirs` at `http://addr/`, rendered afresh on every request (a re-run
/// backtest shows on reload), until `shutdown` completes.
pub async fn serve(
    addr: SocketAddr,
    dirs: Vec<PathBuf>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<SocketAddr, ReportPageError> {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    // Fail now, not on the first request, when a folder is not a backtest.
    render_dirs(&dirs)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ReportPageError::Serve { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ReportPageError::Serve { addr, source })?;
    let page = move || {
        let dirs = dirs.clone();
        async move {
            match render_dirs(&dirs) {
                Ok(html) => {
                    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
                }
                Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
            }
        }
    };
    let app = axum::Router::new().route("/", axum::routing::get(page));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!("report server stopped: {e}");
        }
    });
    Ok(bound)
}

/// Write the page of `dirs` to `out`.
pub fn write(dirs: &[PathBuf], out: &Path) -> Result<(), ReportPageError> {
    let html = render_dirs(dirs)?;
    std::fs::write(out, html).map_err(|source| ReportPageError::Write {
        path: out.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_holds_every_run_its_tables_and_safe_data() {
        let json = serde_json::json!({
            "trades": 10, "range_ms": [1381498200000i64, 1381500000000i64], "currency": "USD",
            "plugins": [{"plugin": "idle</script>", "fills": 0, "diagnosis": {
                "verdict": "no data for its symbols: it wants X, the data holds SPY",
                "refusal_reasons": [{"reason": "kill switch is on", "count": 3, "first_ms": 0}]}}],
            "prices": {"SPY": {"bar_secs": 60, "bars": []}}
        });
        let bytes = serde_json::to_vec(&json).unwrap();
        let a = Run::parse(Path::new("/tmp/run-a"), &bytes).unwrap();
        let b = Run::parse(Path::new("/tmp/run-b"), b"{}").unwrap();
        let html = render(&[a, b]);
        assert!(html.contains("2 backtests side by side"));
        assert!(html.contains("data-run=\"0\"") && html.contains("data-run=\"1\""));
        assert!(
            html.contains("no data for its symbols"),
            "the verdict is in the table"
        );
        assert!(
            html.contains("kill switch is on"),
            "refusal reasons are listed"
        );
        assert!(
            !html.contains("idle</script>"),
            "names are escaped in HTML and JSON"
        );
        assert!(
            html.contains("LightweightCharts"),
            "the chart library is inline"
        );
        assert!(
            !html.contains("src=\"/assets"),
            "nothing is loaded from elsewhere"
        );
        let err = Run::parse(Path::new("/tmp/x"), b"[1,2]").unwrap_err();
        assert!(
            err.to_string().contains("not a tradehost backtest report"),
            "{err}"
        );
    }
}
