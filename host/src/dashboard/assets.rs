//! The page's files, embedded in the binary so the dashboard works offline: the HTML, the
//! scripts and the style of `host/assets/`, and the vendored chart library (TradingView
//! Lightweight Charts, Apache-2.0; `scripts/vendor-assets.sh` re-vendors it from npm).

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Its path under `/assets/`.
    pub path: &'static str,
    /// Its content type.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static str,
}

macro_rules! asset {
    ($path:literal, $file:literal, $type:literal) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/", $file)),
        }
    };
}

/// Every embedded file.
pub const ASSETS: &[Asset] = &[
    asset!(
        "index.html",
        "dashboard/index.html",
        "text/html; charset=utf-8"
    ),
    asset!(
        "app.js",
        "dashboard/app.js",
        "text/javascript; charset=utf-8"
    ),
    asset!(
        "panels.js",
        "dashboard/panels.js",
        "text/javascript; charset=utf-8"
    ),
    asset!(
        "controls.js",
        "dashboard/controls.js",
        "text/javascript; charset=utf-8"
    ),
    asset!(
        "charts.js",
        "common/charts.js",
        "text/javascript; charset=utf-8"
    ),
    asset!(
        "format.js",
        "common/format.js",
        "text/javascript; charset=utf-8"
    ),
    asset!("style.css", "common/style.css", "text/css; charset=utf-8"),
    asset!(
        "report.js",
        "report/report.js",
        "text/javascript; charset=utf-8"
    ),
    asset!(
        "lightweight-charts.js",
        "vendor/lightweight-charts/lightweight-charts.standalone.production.js",
        "text/javascript; charset=utf-8"
    ),
    asset!(
        "LICENSE-lightweight-charts.txt",
        "vendor/lightweight-charts/LICENSE",
        "text/plain; charset=utf-8"
    ),
    asset!(
        "NOTICE-lightweight-charts.txt",
        "vendor/lightweight-charts/NOTICE",
        "text/plain; charset=utf-8"
    ),
];

/// The embedded file at `path`.
pub fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// The text of an embedded file (empty when there is none: a programming error, caught by
/// the tests).
pub fn text(path: &str) -> &'static str {
    find(path).map_or("", |a| a.body)
}

/// `GET /`: the dashboard.
pub async fn index() -> Response {
    serve("index.html")
}

/// `GET /assets/{path}`.
pub async fn file(Path(path): Path<String>) -> Response {
    serve(&path)
}

fn serve(path: &str) -> Response {
    match find(path) {
        Some(a) => (
            [
                (header::CONTENT_TYPE, a.content_type),
                // Small files, and a new binary may change them: always revalidate.
                (header::CACHE_CONTROL, "no-cache"),
            ],
            a.body,
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            format!("no such file: /assets/{path} (the dashboard is at /)"),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_embedded_and_the_page_names_only_embedded_files() {
        for a in ASSETS {
            assert!(!a.body.is_empty(), "{} is empty", a.path);
        }
        let page = text("index.html");
        for reference in page.split("/assets/").skip(1) {
            let name: String = reference
                .chars()
                .take_while(|c| !matches!(c, '"' | '\'' | '?' | '#'))
                .collect();
            assert!(
                find(&name).is_some(),
                "index.html names /assets/{name}, which is not embedded"
            );
        }
        assert!(text("lightweight-charts.js").contains("Lightweight Charts"));
    }
}
