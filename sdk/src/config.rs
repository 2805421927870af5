//! [`Config`]: the settings a strategy starts with, read with typed, named errors.
//!
//! The host passes `init` a list of key/value pairs: one per parameter of the settings file's
//! `[parameters]` table, and the reserved key [`SYMBOLS_KEY`] holding the symbols as a
//! comma-separated list. Parameters the host leaves out take the defaults from [`Info`].

use crate::strategy::Info;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The reserved configuration key carrying the symbols, comma-separated (`SPY,BAC`).
pub const SYMBOLS_KEY: &str = "symbols";

/// Why a parameter could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The parameter is neither set nor declared with a default in `info()`.
    Missing {
        /// The parameter's name.
        name: String,
    },
    /// The parameter's text does not parse as the requested type.
    Invalid {
        /// The parameter's name.
        name: String,
        /// The text given.
        value: String,
        /// The type asked for.
        expected: &'static str,
        /// The parser's message.
        reason: String,
    },
    /// The parameter parsed but is outside the accepted range.
    OutOfRange {
        /// The parameter's name.
        name: String,
        /// The text given.
        value: String,
        /// What is accepted, in words.
        accepted: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Missing { name } => write!(
                f,
                "parameter `{name}` is not set and has no default: set it in the [parameters] \
                 table of the settings file"
            ),
            ConfigError::Invalid {
                name,
                value,
                expected,
                reason,
            } => write!(
                f,
                "parameter `{name}` = {value:?} is not a valid {expected} ({reason})"
            ),
            ConfigError::OutOfRange {
                name,
                value,
                accepted,
            } => {
                write!(
                    f,
                    "parameter `{name}` = {value:?} is out of range: accepted {accepted}"
                )
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl From<ConfigError> for String {
    fn from(e: ConfigError) -> String {
        e.to_string()
    }
}

/// The settings of one strategy instance: parameters (defaults filled in) and symbols.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    values: BTreeMap<String, String>,
    symbols: Vec<String>,
    unknown: Vec<String>,
}

impl Config {
    /// Builds the config from the host's pairs, filling in the defaults declared in `info`.
    pub fn from_pairs<K, V>(info: &Info, pairs: impl IntoIterator<Item = (K, V)>) -> Config
    where
        K: Into<String>,
        V: Into<String>,
    {
        let mut values: BTreeMap<String, String> = info
            .parameters
            .iter()
            .map(|p| (p.name.clone(), p.default.clone()))
            .collect();
        let mut symbols = info.symbols.clone();
        let mut unknown = Vec::new();
        for (key, value) in pairs {
            let (key, value) = (key.into(), value.into());
            if key == SYMBOLS_KEY {
                symbols = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                continue;
            }
            if info.find_parameter(&key).is_none() {
                unknown.push(key.clone());
            }
            values.insert(key, value);
        }
        Config {
            values,
            symbols,
            unknown,
        }
    }

    /// The parameter `name` parsed as `T`, with an error naming the parameter.
    pub fn get<T>(&self, name: &str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let value = self.values.get(name).ok_or_else(|| ConfigError::Missing {
            name: name.to_string(),
        })?;
        value.trim().parse::<T>().map_err(|e| ConfigError::Invalid {
            name: name.to_string(),
            value: value.clone(),
            expected: short_type_name::<T>(),
            reason: e.to_string(),
        })
    }

    /// The parameter `name` parsed as `T`, or `default` when it is absent.
    pub fn get_or<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.values.get(name) {
            None => Ok(default),
            Some(_) => self.get(name),
        }
    }

    /// The parameter `name` parsed as `T` and checked to lie in `range`.
    pub fn get_in<T>(
        &self,
        name: &str,
        range: impl std::ops::RangeBounds<T>,
    ) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + fmt::Debug,
        T::Err: fmt::Display,
    {
        let value: T = self.get(name)?;
        if range.contains(&value) {
            return Ok(value);
        }
        Err(ConfigError::OutOfRange {
            name: name.to_string(),
            value: self.values.get(name).cloned().unwrap_or_default(),
            accepted: describe_range(&range),
        })
    }

    /// The raw text of parameter `name`, if set or defaulted.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The symbols to trade, in the user's notation.
    pub fn symbols(&self) -> &[String] {
        &self.symbols
    }

    /// Keys the host passed that `info()` does not declare (the SDK logs them as warnings).
    pub fn unknown_keys(&self) -> &[String] {
        &self.unknown
    }

    /// Every parameter and its value, defaults included, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// `f64` rather than `core::primitive::f64`, for error messages.
fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

fn describe_range<T: fmt::Debug>(range: &impl std::ops::RangeBounds<T>) -> String {
    use std::ops::Bound::*;
    let low = match range.start_bound() {
        Included(v) => format!(">= {v:?}"),
        Excluded(v) => format!("> {v:?}"),
        Unbounded => String::new(),
    };
    let high = match range.end_bound() {
        Included(v) => format!("<= {v:?}"),
        Excluded(v) => format!("< {v:?}"),
        Unbounded => String::new(),
    };
    match (low.is_empty(), high.is_empty()) {
        (false, false) => format!("{low} and {high}"),
        (false, true) => low,
        (true, false) => high,
        (true, true) => "any value".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> Info {
        Info::new("t", "1")
            .symbols(["SPY"])
            .parameter("fast", "10", "fast")
            .parameter("threshold", "0.5", "threshold")
    }

    #[test]
    fn defaults_fill_in_and_pairs_override() {
        let c = Config::from_pairs(&info(), [("fast", "12")]);
        assert_eq!(c.get::<usize>("fast"), Ok(12));
        assert_eq!(c.get::<f64>("threshold"), Ok(0.5));
        assert_eq!(c.symbols(), ["SPY".to_string()]);
        assert!(c.unknown_keys().is_empty());
    }

    #[test]
    fn symbols_key_is_split_on_commas() {
        let c = Config::from_pairs(&info(), [("symbols", " BAC, AIG ,,IBM")]);
        assert_eq!(c.symbols(), ["BAC", "AIG", "IBM"].map(String::from));
    }

    #[test]
    fn errors_name_the_parameter() {
        let c = Config::from_pairs(&info(), [("fast", "ten"), ("other", "1")]);
        let err = c.get::<usize>("fast").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("`fast`") && text.contains("\"ten\"") && text.contains("usize"),
            "{text}"
        );
        let missing = c.get::<f64>("slow").unwrap_err().to_string();
        assert!(
            missing.contains("`slow`") && missing.contains("[parameters]"),
            "{missing}"
        );
        assert_eq!(c.unknown_keys(), ["other".to_string()]);
        assert_eq!(c.get_or::<f64>("slow", 2.0), Ok(2.0));
    }

    #[test]
    fn ranges_are_checked() {
        let c = Config::from_pairs(&info(), [("fast", "0")]);
        let err = c.get_in::<usize>("fast", 1..=500).unwrap_err().to_string();
        assert!(
            err.contains("`fast`") && err.contains(">= 1 and <= 500"),
            "{err}"
        );
        assert_eq!(c.get_in::<f64>("threshold", 0.0..1.0), Ok(0.5));
    }
}
