//! Per-plugin settings without recompiling: an optional `NAME.toml` beside `NAME.wasm`.
//!
//! ```toml
//! symbols = ["SPY", "BAC"]        # replaces the symbols the strategy asks for
//! [parameters]                    # checked against what `describe` says it accepts
//! fast = 10
//! slow = 30
//! [limits]                        # overrides of the host-wide plugin limits
//! memory_mb = 32
//! call_deadline_ms = 5
//! start_deadline_ms = 4000      # start-up calls: instantiate, describe, init, restore
//! ```
//!
//! A Python strategy (CPython in the component) needs more than a Rust one: about 30 MiB of
//! linear memory before it allocates anything, and slower start-up calls; see
//! `sdk/python/README.md` for measured values.
//!
//! Editing the file reloads the plugin like a new binary; a bad file is refused with the
//! line and key at fault, and the running version keeps serving.

use super::bindings::wit;
use super::error::PluginError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The parsed contents of a plugin's settings file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSettings {
    /// Symbols to trade instead of the strategy's own list.
    pub symbols: Option<Vec<String>>,
    /// Parameter values, by name.
    #[serde(default)]
    pub parameters: BTreeMap<String, toml::Value>,
    /// Limit overrides.
    #[serde(default)]
    pub limits: LimitOverrides,
}

/// Per-plugin overrides of the host-wide limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    /// Linear memory cap in MiB.
    pub memory_mb: Option<u32>,
    /// Deadline of one call in milliseconds.
    pub call_deadline_ms: Option<u32>,
    /// CPU-time deadline of the start-up calls (instantiate, describe, init, restore,
    /// snapshot) in milliseconds.
    pub start_deadline_ms: Option<u32>,
}

/// The settings file that belongs to a plugin file.
pub fn settings_path(wasm: &Path) -> PathBuf {
    wasm.with_extension("toml")
}

impl PluginSettings {
    /// Read the settings beside `wasm`; no file means default settings.
    pub fn load_for(wasm: &Path) -> Result<(Self, Option<String>), PluginError> {
        let path = settings_path(wasm);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok((Self::parse(&path, &text)?, Some(text))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((Self::default(), None)),
            Err(e) => Err(PluginError::Settings {
                path,
                message: format!("cannot read: {e}"),
            }),
        }
    }

    /// Parse settings text; errors carry toml's line and column.
    pub fn parse(path: &Path, text: &str) -> Result<Self, PluginError> {
        let settings: PluginSettings = toml::from_str(text).map_err(|e| PluginError::Settings {
            path: path.to_path_buf(),
            message: e.to_string().trim().replace('\n', " "),
        })?;
        if let Some(0) = settings.limits.memory_mb {
            return Err(settings_error(
                path,
                text,
                "memory_mb",
                "memory_mb must be at least 1",
            ));
        }
        for (key, value) in [
            ("call_deadline_ms", settings.limits.call_deadline_ms),
            ("start_deadline_ms", settings.limits.start_deadline_ms),
        ] {
            if value == Some(0) {
                let message = format!("{key} must be at least 1");
                return Err(settings_error(path, text, key, &message));
            }
        }
        Ok(settings)
    }

    /// The `init` configuration: every declared parameter (value from the file or its
    /// default), then `symbols`. Unknown parameters are refused, naming the line.
    pub fn init_config(
        &self,
        path: &Path,
        text: Option<&str>,
        info: &wit::StrategyInfo,
    ) -> Result<Vec<(String, String)>, PluginError> {
        for key in self.parameters.keys() {
            if !info.parameters.iter().any(|p| &p.name == key) {
                let accepted: Vec<&str> = info.parameters.iter().map(|p| p.name.as_str()).collect();
                let message = format!(
                    "unknown parameter `{key}`; {} accepts: {}",
                    info.name,
                    if accepted.is_empty() {
                        "none".to_string()
                    } else {
                        accepted.join(", ")
                    }
                );
                return Err(settings_error(path, text.unwrap_or(""), key, &message));
            }
        }
        let mut config: Vec<(String, String)> = info
            .parameters
            .iter()
            .map(|p| {
                let value = self
                    .parameters
                    .get(&p.name)
                    .map(value_text)
                    .unwrap_or_else(|| p.default_value.clone());
                (p.name.clone(), value)
            })
            .collect();
        config.push(("symbols".to_string(), self.symbols(info).join(",")));
        Ok(config)
    }

    /// The symbols the plugin will trade: the file's list, else the strategy's own.
    pub fn symbols(&self, info: &wit::StrategyInfo) -> Vec<String> {
        self.symbols.clone().unwrap_or_else(|| info.symbols.clone())
    }
}

/// A TOML value as the text the guest parses (strings without quotes).
fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An error naming the line where `key` appears.
fn settings_error(path: &Path, text: &str, key: &str, message: &str) -> PluginError {
    let line = text
        .lines()
        .position(|l| l.trim_start().starts_with(key))
        .map(|i| format!("line {}: ", i + 1))
        .unwrap_or_default();
    PluginError::Settings {
        path: path.to_path_buf(),
        message: format!("{line}{message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> wit::StrategyInfo {
        wit::StrategyInfo {
            name: "sma".into(),
            version: "1".into(),
            description: String::new(),
            symbols: vec!["SPY".into()],
            parameters: vec![
                wit::Parameter {
                    name: "fast".into(),
                    description: String::new(),
                    default_value: "10".into(),
                },
                wit::Parameter {
                    name: "mode".into(),
                    description: String::new(),
                    default_value: "long".into(),
                },
            ],
            bar_periods: Vec::new(),
        }
    }

    #[test]
    fn fills_defaults_and_overrides_symbols() {
        let text = "symbols = [\"BAC\", \"IBM\"]\n[parameters]\nfast = 5\n";
        let s = PluginSettings::parse(Path::new("p.toml"), text).unwrap();
        let config = s
            .init_config(Path::new("p.toml"), Some(text), &info())
            .unwrap();
        assert_eq!(
            config,
            vec![
                ("fast".to_string(), "5".to_string()),
                ("mode".to_string(), "long".to_string()),
                ("symbols".to_string(), "BAC,IBM".to_string()),
            ]
        );
    }

    #[test]
    fn refuses_unknown_parameters_with_their_line() {
        let text = "[parameters]\nfast = 5\nslwo = 30\n";
        let s = PluginSettings::parse(Path::new("p.toml"), text).unwrap();
        let err = s
            .init_config(Path::new("p.toml"), Some(text), &info())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 3")
                && err.contains("unknown parameter `slwo`")
                && err.contains("fast, mode"),
            "{err}"
        );
    }

    #[test]
    fn refuses_syntax_errors_and_unknown_keys_with_position() {
        let err = PluginSettings::parse(Path::new("p.toml"), "[parameters\nfast=1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1"), "{err}");
        let err = PluginSettings::parse(Path::new("p.toml"), "symbol = [\"SPY\"]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("symbol"), "{err}");
        let err = PluginSettings::parse(Path::new("p.toml"), "[limits]\nmemory_mb = 0")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2") && err.contains("memory_mb"), "{err}");
    }
}
