//! Whether a name can be a strategy's crate name, plugin file name and Rust identifier.

use super::error::AuthoringError;

/// Names that cargo or rustc reserve, or that would clash with the crates a strategy uses.
const RESERVED: &[&str] = &[
    "alloc",
    "core",
    "proc_macro",
    "std",
    "test",
    "serde",
    "tradehost",
    "tradehost_sdk",
    // Rust keywords: the crate's name becomes an identifier in `use` paths.
    "as",
    "async",
    "await",
    "break",
    "const",
    "continue",
    "crate",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "abstract",
    "become",
    "box",
    "do",
    "final",
    "gen",
    "macro",
    "override",
    "priv",
    "try",
    "typeof",
    "unsized",
    "virtual",
    "yield",
];

/// The longest accepted name (crates.io's limit).
const MAX_LEN: usize = 64;

/// Checks `name` as a crate name: an ASCII letter, then letters, digits, `-` or `_`; not a
/// keyword or a reserved crate name.
pub fn validate(name: &str) -> Result<(), AuthoringError> {
    let invalid = |reason: String| AuthoringError::InvalidName {
        name: name.to_string(),
        reason,
    };
    let Some(first) = name.chars().next() else {
        return Err(invalid("it is empty".into()));
    };
    if !first.is_ascii_alphabetic() {
        return Err(invalid(format!(
            "it must start with a letter (a-z), not `{first}`; e.g. `my-strategy`"
        )));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(invalid(format!(
            "`{bad}` is not allowed; use letters, digits, `-` and `_`, e.g. `my-strategy`"
        )));
    }
    if name.len() > MAX_LEN {
        return Err(invalid(format!(
            "it has {} characters, at most {MAX_LEN} are allowed",
            name.len()
        )));
    }
    let identifier = name.replace('-', "_");
    if RESERVED.contains(&identifier.as_str()) {
        return Err(invalid(
            "it is a Rust keyword or the name of a crate a strategy uses; add a word, e.g. \
             `my-strategy`"
                .into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn accepts_ordinary_crate_names() {
        for name in ["momentum", "my-strategy", "sma_2", "A1"] {
            assert!(validate(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn refuses_bad_names_saying_why() {
        for (name, expected) in [
            ("", "empty"),
            ("1sma", "start with a letter"),
            ("-x", "start with a letter"),
            ("my strategy", "` ` is not allowed"),
            ("../escape", "start with a letter"),
            ("a/b", "`/` is not allowed"),
            ("café", "`é` is not allowed"),
            ("fn", "keyword"),
            ("tradehost-sdk", "keyword"),
            ("test", "keyword"),
        ] {
            let err = validate(name).unwrap_err().to_string();
            assert!(err.contains(expected), "{name:?}: {err}");
            assert!(err.contains("not a valid strategy name"), "{err}");
        }
        let long = "a".repeat(65);
        assert!(
            validate(&long)
                .unwrap_err()
                .to_string()
                .contains("at most 64")
        );
    }
}
