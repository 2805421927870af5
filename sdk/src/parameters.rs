//! Typed parameters declared once: the [`parameters!`](crate::parameters) macro writes a
//! struct whose fields are the parameters, each with its type, default, accepted range and
//! doc comment, and implements [`Parameters`] for it, so that `info()` declares them
//! ([`Info::parameters`](crate::Info::parameters)) and `start`/`on_restore` read them all
//! with one call ([`Parameters::read`]).
//!
//! ```
//! use tradehost_sdk::prelude::*;
//!
//! tradehost_sdk::parameters! {
//!     /// Settings of the strategy.
//!     pub struct Params {
//!         /// Bars in the fast moving average
//!         fast: usize [1..=10_000] = 8,
//!         /// Shares held when long
//!         quantity: f64 [0.0..=1e9] = 100.0,
//!         /// Go short instead of flat
//!         allow_short: bool = false,
//!     }
//! }
//!
//! let info = Info::new("x", "1").parameters::<Params>();
//! assert_eq!(info.find_parameter("fast").unwrap().default, "8");
//! assert_eq!(info.find_parameter("fast").unwrap().description, "Bars in the fast moving average");
//! let config = Config::from_pairs(&info, [("quantity", "5")]);
//! let params = Params::read(&config).unwrap();
//! assert_eq!((params.fast, params.quantity, params.allow_short), (8, 5.0, false));
//! let config = Config::from_pairs(&info, [("fast", "0")]);
//! assert!(Params::read(&config).unwrap_err().to_string().contains("`fast`"));
//! ```

use crate::config::{Config, ConfigError};
use crate::strategy::Parameter;

/// A strategy's parameters as one typed value; implemented by [`parameters!`](crate::parameters).
pub trait Parameters: Sized {
    /// Every parameter: name, default as text, description.
    fn declared() -> Vec<Parameter>;

    /// Every parameter read from `config` (defaults filled in) and checked against its range.
    fn read(config: &Config) -> Result<Self, ConfigError>;
}

/// Joins the lines of a doc comment into one description.
#[doc(hidden)]
pub fn doc_text(lines: &[&str]) -> String {
    lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Declares a strategy's parameters once: a struct with one field per parameter, its type,
/// optional accepted range in brackets, default, and doc comment (the description the host
/// shows). It derives `Clone`, `Debug`, `PartialEq`, `Serialize` and `Deserialize` (so it can
/// be part of the strategy's saved state; fields missing from an old snapshot take their
/// default) and implements `Default` and [`Parameters`].
///
/// See the [module documentation](crate::parameters) for an example.
#[macro_export]
macro_rules! parameters {
    (
        $(#[$struct_meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:expr])*
                $field:ident : $ty:ty $([$range:expr])? = $default:expr
            ),* $(,)?
        }
    ) => {
        $(#[$struct_meta])*
        #[derive(Clone, Debug, PartialEq, $crate::serde::Serialize, $crate::serde::Deserialize)]
        #[serde(crate = "tradehost_sdk::serde", default)]
        $vis struct $name {
            $(
                $(#[doc = $doc])*
                pub $field: $ty,
            )*
        }

        impl ::core::default::Default for $name {
            fn default() -> Self {
                $name { $($field: $default,)* }
            }
        }

        impl $crate::parameters::Parameters for $name {
            fn declared() -> ::std::vec::Vec<$crate::Parameter> {
                ::std::vec![$(
                    $crate::Parameter {
                        name: ::core::stringify!($field).into(),
                        default: ::std::string::ToString::to_string(&{
                            let value: $ty = $default;
                            value
                        }),
                        description: $crate::parameters::doc_text(&[$($doc),*]),
                    },
                )*]
            }

            fn read(config: &$crate::Config) -> ::core::result::Result<Self, $crate::ConfigError> {
                ::core::result::Result::Ok($name {
                    $(
                        $field: $crate::parameters!(@read config, $field, $ty $(, $range)?),
                    )*
                })
            }
        }
    };
    (@read $config:ident, $field:ident, $ty:ty) => {
        $config.get::<$ty>(::core::stringify!($field))?
    };
    (@read $config:ident, $field:ident, $ty:ty, $range:expr) => {
        $config.get_in::<$ty>(::core::stringify!($field), $range)?
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Info;

    crate::parameters! {
        /// Test parameters.
        pub struct Params {
            /// Bars in the
            /// fast average
            fast: usize [1..=100] = 8,
            /// Threshold in basis points
            threshold: f64 = 1.5,
            /// Trade short too
            allow_short: bool = false,
            /// Undocumented ranges are fine
            label: String = "x".to_string(),
        }
    }

    #[test]
    fn declares_every_field_with_its_default_and_doc_comment() {
        let declared = Params::declared();
        let names: Vec<&str> = declared.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["fast", "threshold", "allow_short", "label"]);
        assert_eq!(declared[0].default, "8");
        assert_eq!(declared[0].description, "Bars in the fast average");
        assert_eq!(declared[1].default, "1.5");
        assert_eq!(Params::default().threshold, 1.5);
        let info = Info::new("t", "1")
            .parameter("other", 1, "o")
            .parameters::<Params>();
        assert_eq!(info.parameters.len(), 5);
    }

    #[test]
    fn reads_values_and_defaults_and_refuses_out_of_range_naming_the_parameter() {
        let info = Info::new("t", "1").parameters::<Params>();
        let config = Config::from_pairs(&info, [("fast", "12"), ("allow_short", "true")]);
        let p = Params::read(&config).unwrap();
        assert_eq!(
            p,
            Params {
                fast: 12,
                allow_short: true,
                ..Params::default()
            }
        );
        let config = Config::from_pairs(&info, [("fast", "101")]);
        let err = Params::read(&config).unwrap_err().to_string();
        assert!(err.contains("`fast`") && err.contains("<= 100"), "{err}");
        let config = Config::from_pairs(&info, [("threshold", "high")]);
        let err = Params::read(&config).unwrap_err().to_string();
        assert!(err.contains("`threshold`"), "{err}");
    }

    #[test]
    fn a_snapshot_without_a_newer_field_takes_its_default() {
        #[derive(serde::Serialize)]
        struct Old {
            fast: usize,
        }
        let bytes = rmp_serde::to_vec_named(&Old { fast: 3 }).unwrap();
        let p: Params = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(
            p,
            Params {
                fast: 3,
                ..Params::default()
            }
        );
    }
}
