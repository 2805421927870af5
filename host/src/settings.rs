//! Reading typed settings from the merged environment (`.env`, process env, CLI overrides).
//!
//! Each subsystem's config has a `from_settings(&Settings)` constructor that reads its own
//! variables through [`Settings::get`] / [`Settings::parse_with`], so every invalid value is
//! rejected at start-up with the variable's name, the value given and what is accepted.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A setting had a value the program cannot use.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid setting {name}={value:?}: expected {expected}")]
pub struct SettingError {
    /// The variable's name, e.g. `UPDATE_INTERVAL`.
    pub name: String,
    /// The value that was given.
    pub value: String,
    /// What the variable accepts, in words.
    pub expected: String,
}

/// The merged key/value settings the daemon starts from.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    vars: HashMap<String, String>,
}

impl Settings {
    /// Settings from explicit pairs (tests, CLI overrides).
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Settings {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Set or replace one value (later sources override earlier ones).
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.vars.insert(name.into(), value.into());
    }

    /// The raw value of a variable, if set and not blank.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// A value parsed with `FromStr`, or `default` when unset.
    pub fn get<T: FromStr>(
        &self,
        name: &str,
        default: T,
        expected: &str,
    ) -> Result<T, SettingError> {
        match self.raw(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| self.error(name, v, expected)),
        }
    }

    /// A value parsed by `parse`, which returns `None` for values it does not accept.
    pub fn parse_with<T>(
        &self,
        name: &str,
        default: T,
        expected: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<T, SettingError> {
        match self.raw(name) {
            None => Ok(default),
            Some(v) => parse(v).ok_or_else(|| self.error(name, v, expected)),
        }
    }

    /// A positive number of seconds (fractions allowed), as a `Duration`.
    pub fn secs(&self, name: &str, default: Duration) -> Result<Duration, SettingError> {
        self.parse_with(
            name,
            default,
            "a positive number of seconds, e.g. 15 or 0.5",
            |v| {
                v.parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
                    .map(Duration::from_secs_f64)
            },
        )
    }

    /// A boolean: true/false, 1/0, yes/no, on/off (any case).
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, SettingError> {
        self.parse_with(name, default, "true or false", |v| {
            match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Some(true),
                "false" | "0" | "no" | "off" => Some(false),
                _ => None,
            }
        })
    }

    /// An integer within `min..=max`.
    pub fn int_in<T>(&self, name: &str, default: T, min: T, max: T) -> Result<T, SettingError>
    where
        T: FromStr + PartialOrd + Copy + std::fmt::Display,
    {
        let expected = format!("a whole number from {min} to {max}");
        self.parse_with(name, default, &expected, |v| {
            v.parse::<T>().ok().filter(|n| *n >= min && *n <= max)
        })
    }

    /// A comma-separated list of non-empty items (empty when unset).
    pub fn list(&self, name: &str) -> Vec<String> {
        self.raw(name)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn error(&self, name: &str, value: &str, expected: &str) -> SettingError {
        SettingError {
            name: name.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }
}

/// A credential: printable only through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The credential itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_values_name_the_variable_and_what_it_accepts() {
        let s = Settings::from_pairs([
            ("PING_INTERVAL", "soon"),
            ("MAX_SYMBOLS", "0"),
            ("X", "maybe"),
        ]);
        let e = s
            .secs("PING_INTERVAL", Duration::from_secs(15))
            .unwrap_err();
        assert_eq!(e.name, "PING_INTERVAL");
        assert!(e.to_string().contains("seconds"), "{e}");
        let e = s.int_in("MAX_SYMBOLS", 50u32, 1, 500).unwrap_err();
        assert!(e.to_string().contains("from 1 to 500"), "{e}");
        assert!(s.flag("X", false).is_err());
    }

    #[test]
    fn unset_or_blank_values_take_the_default() {
        let s = Settings::from_pairs([("A", "  ")]);
        assert_eq!(s.int_in("A", 7u32, 1, 9).unwrap(), 7);
        assert_eq!(
            s.secs("B", Duration::from_secs(3)).unwrap(),
            Duration::from_secs(3)
        );
        assert_eq!(
            Settings::from_pairs([("L", "a, b,,c")]).list("L"),
            ["a", "b", "c"]
        );
    }
}
