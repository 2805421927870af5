//! Keeping credentials out of logs and error messages.
//!
//! The WebSocket URL carries the API key as `token=...`; anything that may print a URL or an
//! error from a library goes through [`redact_url`] or [`Redactor::clean`] first.

use super::config::Secret;

/// The URL with the value of every `token=` query parameter replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(pos) = find_token_param(rest) {
        let value_start = pos + "token=".len();
        out.push_str(&rest[..value_start]);
        out.push_str("***");
        let tail = &rest[value_start..];
        let end = tail.find(['&', '#', ' ', '"', '\'']).unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Position of a `token=` that starts a query parameter (after `?`, `&` or at the start).
fn find_token_param(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut from = 0;
    while let Some(i) = s[from..].find("token=") {
        let at = from + i;
        if at == 0 || matches!(bytes[at - 1], b'?' | b'&' | b' ' | b'"' | b'\'') {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Removes known secrets (and `token=` values) from text that leaves the process.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<Secret>,
}

impl Redactor {
    /// A redactor for these secrets (the empty and very short ones are ignored).
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a Option<Secret>>) -> Self {
        Redactor {
            secrets: secrets
                .into_iter()
                .flatten()
                .filter(|s| s.expose().len() >= 4)
                .cloned()
                .collect(),
        }
    }

    /// The text with every secret and `token=` value replaced by `***`.
    pub fn clean(&self, text: &str) -> String {
        let mut out = redact_url(text);
        for s in &self.secrets {
            if out.contains(s.expose()) {
                out = out.replace(s.expose(), "***");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_token_parameters() {
        let table = [
            (
                "wss://ws.finnhub.io?token=abc123",
                "wss://ws.finnhub.io?token=***",
            ),
            ("ws://h/?a=1&token=abc&b=2", "ws://h/?a=1&token=***&b=2"),
            ("ws://h/?mytoken=abc", "ws://h/?mytoken=abc"),
            (
                "error at \"ws://h?token=k\" x",
                "error at \"ws://h?token=***\" x",
            ),
            ("no url here", "no url here"),
            ("?token=a&token=b", "?token=***&token=***"),
        ];
        for (input, want) in table {
            assert_eq!(redact_url(input), want, "{input}");
        }
    }

    #[test]
    fn redactor_removes_secret_values_anywhere() {
        let r = Redactor::new([
            &Some(Secret::new("sekrit-key")),
            &None,
            &Some(Secret::new("x")),
        ]);
        assert_eq!(
            r.clean("bad key sekrit-key in header"),
            "bad key *** in header"
        );
        assert_eq!(r.clean("x marks"), "x marks");
    }
}
