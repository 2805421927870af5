//! Logging: the console plus `logs/trading_agent.log` and `logs/model_trainer.log`, as the
//! reference platform has them. Trainer events (targets under `tradehost::trainer`) go to
//! the trainer's file, everything else to the agent's. `LOG_LEVEL` takes a level
//! (`DEBUG`, `INFO`...) or a full filter directive (`info,tradehost::feed=debug`).

pub mod rotating_file;

use crate::settings::{SettingError, Settings};
use rotating_file::RotatingFile;
use std::path::PathBuf;
use tracing_subscriber::filter::{EnvFilter, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// The target prefix of trainer events.
pub const TRAINER_TARGET: &str = "tradehost::trainer";

/// Logging settings.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Filter: a level or directives (`LOG_LEVEL`, default `INFO`).
    pub level: String,
    /// Write files as JSON lines (`LOG_FORMAT=json`, default text).
    pub json: bool,
    /// Folder of the log files (`LOG_DIR`, default `logs`; `off` for console only).
    pub dir: Option<PathBuf>,
    /// Size at which a log file rotates (`LOG_MAX_MB`, default 50).
    pub max_file_bytes: u64,
    /// Rotated files kept per log (`LOG_KEEP_FILES`, default 5).
    pub keep_files: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "INFO".into(),
            json: false,
            dir: Some(PathBuf::from("logs")),
            max_file_bytes: 50 << 20,
            keep_files: 5,
        }
    }
}

impl LogConfig {
    /// Read the `LOG_*` settings.
    pub fn from_settings(s: &Settings) -> Result<Self, SettingError> {
        let level = s.raw("LOG_LEVEL").unwrap_or("INFO").to_string();
        filter_for(&level).map_err(|_| SettingError {
            name: "LOG_LEVEL".into(),
            value: level.clone(),
            expected:
                "TRACE, DEBUG, INFO, WARN, ERROR, or a filter like info,tradehost::feed=debug"
                    .into(),
        })?;
        let json = s.parse_with("LOG_FORMAT", false, "text or json", |v| {
            match v.to_ascii_lowercase().as_str() {
                "text" => Some(false),
                "json" => Some(true),
                _ => None,
            }
        })?;
        Ok(LogConfig {
            level,
            json,
            dir: match s.raw("LOG_DIR") {
                Some("off") => None,
                Some(d) => Some(PathBuf::from(d)),
                None => Some(PathBuf::from("logs")),
            },
            max_file_bytes: s.int_in("LOG_MAX_MB", 50u64, 1, 100_000)? << 20,
            keep_files: s.int_in("LOG_KEEP_FILES", 5usize, 0, 1000)?,
        })
    }
}

/// Keeps the background log writers alive; logs are flushed when it is dropped.
pub struct LogGuard {
    _guards: Vec<tracing_appender::non_blocking::WorkerGuard>,
}

fn filter_for(level: &str) -> Result<EnvFilter, tracing_subscriber::filter::ParseError> {
    // Plain levels apply to tradehost and warnings elsewhere, so dependencies stay quiet.
    let directive = match level.to_ascii_lowercase().as_str() {
        l @ ("trace" | "debug" | "info" | "warn" | "error") => format!("warn,tradehost={l}"),
        _ => level.to_string(),
    };
    EnvFilter::try_new(directive)
}

/// Install the global subscriber. Call once, from the binary.
pub fn init(config: &LogConfig) -> std::io::Result<LogGuard> {
    let filter = || filter_for(&config.level).unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only on a terminal: redirected output (the start script's console.log, CI)
    // gets no escape codes; NO_COLOR turns them off everywhere (https://no-color.org).
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let console = fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false)
        .with_filter(filter());
    let mut guards = Vec::new();
    let mut files: Vec<Box<dyn Layer<_> + Send + Sync>> = Vec::new();
    if let Some(dir) = &config.dir {
        for (name, trainer) in [("trading_agent.log", false), ("model_trainer.log", true)] {
            let file =
                RotatingFile::open(&dir.join(name), config.max_file_bytes, config.keep_files)?;
            let (writer, guard) = tracing_appender::non_blocking(file);
            guards.push(guard);
            let only = filter_fn(move |meta| meta.target().starts_with(TRAINER_TARGET) == trainer);
            let layer = fmt::layer().with_writer(writer).with_ansi(false);
            let layer: Box<dyn Layer<_> + Send + Sync> = if config.json {
                layer.json().with_filter(only).with_filter(filter()).boxed()
            } else {
                layer.with_filter(only).with_filter(filter()).boxed()
            };
            files.push(layer);
        }
    }
    // No file layers (LOG_DIR=off, backtests, `check`): no layer at all, since an empty
    // `Vec` of layers registers no interest in any event and silences the console too.
    let files = (!files.is_empty()).then_some(files);
    let _ = tracing_subscriber::registry()
        .with(console)
        .with(files)
        .try_init();
    Ok(LogGuard { _guards: guards })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_level_accepts_levels_and_directives_and_names_itself_otherwise() {
        for ok in ["DEBUG", "info", "warn,tradehost::feed=trace"] {
            assert!(
                LogConfig::from_settings(&Settings::from_pairs([("LOG_LEVEL", ok)])).is_ok(),
                "{ok}"
            );
        }
        let err = LogConfig::from_settings(&Settings::from_pairs([(
            "LOG_LEVEL",
            "info,tradehost=loud",
        )]))
        .unwrap_err();
        assert_eq!(err.name, "LOG_LEVEL");
        let err =
            LogConfig::from_settings(&Settings::from_pairs([("LOG_FORMAT", "xml")])).unwrap_err();
        assert_eq!(err.name, "LOG_FORMAT");
    }
}
