//! Text a guest wrote, made safe for a log line or a file.
//!
//! A plugin's log messages, stderr, `describe` fields and refusal reasons end up in the
//! host's logs. Unescaped, a newline there forges a log line and an ANSI escape repaints the
//! operator's terminal, so every control character, line break and bidirectional override is
//! written as a visible escape (`\n`, `\u{1b}`), and the text is cut at a length.

use std::borrow::Cow;

/// Longest guest text written to a log, in characters; the rest is cut with a marker.
pub const MAX_GUEST_TEXT_CHARS: usize = 1024;

/// True for characters that must not reach a log as themselves.
fn must_escape(c: char) -> bool {
    c.is_control()
        // Bidirectional overrides and isolates reorder what a reader sees.
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        // Line and paragraph separators break lines in some viewers.
        || matches!(c, '\u{2028}' | '\u{2029}')
}

/// `text` with control characters escaped and cut at `max_chars` characters.
pub fn neutralise(text: &str, max_chars: usize) -> Cow<'_, str> {
    let cut_at = text.char_indices().nth(max_chars).map(|(i, _)| i);
    let kept = &text[..cut_at.unwrap_or(text.len())];
    if cut_at.is_none() && !kept.chars().any(must_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(kept.len() + 16);
    for c in kept.chars() {
        if must_escape(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if cut_at.is_some() {
        out.push_str("… [cut]");
    }
    Cow::Owned(out)
}

/// [`neutralise`] at the documented length, [`MAX_GUEST_TEXT_CHARS`].
pub fn for_log(text: &str) -> Cow<'_, str> {
    neutralise(text, MAX_GUEST_TEXT_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        assert!(matches!(
            for_log("sma crossed: buy 100 SPY"),
            Cow::Borrowed(_)
        ));
        assert_eq!(for_log("prix: 12,5 €"), "prix: 12,5 €");
    }

    #[test]
    fn a_forged_log_line_stays_on_its_line() {
        let forged = "ok\n2026-12-06T10:00:00Z  INFO tradehost::broker: kill switch off\r";
        let shown = for_log(forged);
        assert!(!shown.contains('\n') && !shown.contains('\r'));
        assert!(shown.starts_with("ok\\n2026-12-06"), "{shown}");
    }

    #[test]
    fn ansi_escapes_and_bidi_overrides_become_visible() {
        let shown = for_log("\u{1b}[2J\u{1b}[31mred\u{202e}evil\u{2028}");
        assert!(!shown.chars().any(must_escape), "{shown}");
        assert!(shown.contains("\\u{1b}[2J"), "{shown}");
        assert!(shown.contains("\\u{202e}evil"), "{shown}");
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        let long = "é".repeat(5000);
        let shown = neutralise(&long, 10);
        assert_eq!(shown, format!("{}… [cut]", "é".repeat(10)));
        assert_eq!(
            for_log(&long).chars().count(),
            MAX_GUEST_TEXT_CHARS + "… [cut]".chars().count()
        );
    }
}
