//! Gap detection on the subscriber side: the publisher numbers its messages per subject, and
//! [`SequenceTracker`] says when numbers were skipped, when the publisher changed, and which
//! messages are repeats to drop. Pure logic, no I/O.

use crate::types::Symbol;
use std::collections::HashMap;

/// Something a subscriber did not receive, reported before the message that revealed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// The subject's symbol (`None` for the feed-status subject).
    pub symbol: Option<Symbol>,
    /// The subject where it happened.
    pub subject: String,
    /// What happened.
    pub kind: GapKind,
}

/// Why a subject's stream of messages is not continuous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapKind {
    /// This many messages were lost (expired from the stream before they were read, or not
    /// stored by the server).
    Missed(u64),
    /// The publisher restarted or a standby feed host took over: messages may be missing
    /// between its last message and this one.
    NewSession,
}

impl std::fmt::Display for Gap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            GapKind::Missed(n) => write!(f, "{n} messages missed on {}", self.subject),
            GapKind::NewSession => write!(
                f,
                "the feed host changed or restarted: messages on {} may be missing",
                self.subject
            ),
        }
    }
}

/// What to do with one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The next message: deliver it.
    InOrder,
    /// Deliver it, after telling of this gap.
    AfterGap(GapKind),
    /// Already delivered (or older than what was): drop it.
    Repeat,
}

/// The last (session, sequence) seen per subject.
#[derive(Debug, Default)]
pub struct SequenceTracker {
    last: HashMap<String, (u64, u64)>,
}

impl SequenceTracker {
    /// Judges the message `seq` of `session` on `subject` and remembers it unless it is a
    /// repeat. The first message of a subject is in order: a subscriber starts where it starts.
    pub fn observe(&mut self, subject: &str, session: u64, seq: u64) -> Verdict {
        let Some(last) = self.last.get_mut(subject) else {
            self.last.insert(subject.to_string(), (session, seq));
            return Verdict::InOrder;
        };
        let verdict = match (*last, session) {
            ((s, _), now) if s != now => Verdict::AfterGap(GapKind::NewSession),
            ((_, l), _) if seq <= l => return Verdict::Repeat,
            ((_, l), _) if seq == l + 1 => Verdict::InOrder,
            ((_, l), _) => Verdict::AfterGap(GapKind::Missed(seq - l - 1)),
        };
        *last = (session, seq);
        verdict
    }

    /// Forgets a subject (after unsubscribing, so a later subscription starts afresh).
    pub fn forget(&mut self, subject: &str) {
        self.last.remove(subject);
    }

    /// Forgets every subject `keep` refuses.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.last.retain(|subject, _| keep(subject));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_sessions_and_numbers() {
        use Verdict::*;
        // TC: (subject, session, seq, verdict)
        let cases = [
            ("a", 1, 5, InOrder), // first message: wherever the subscription started
            ("a", 1, 6, InOrder),
            ("b", 1, 1, InOrder), // subjects are independent
            ("a", 1, 9, AfterGap(GapKind::Missed(2))),
            ("a", 1, 9, Repeat),
            ("a", 1, 3, Repeat),
            ("a", 1, 10, InOrder),
            ("a", 2, 1, AfterGap(GapKind::NewSession)),
            ("a", 2, 2, InOrder),
            ("b", 1, 2, InOrder),
        ];
        let mut t = SequenceTracker::default();
        for (i, (subject, session, seq, want)) in cases.into_iter().enumerate() {
            assert_eq!(t.observe(subject, session, seq), want, "TC{i}");
        }
        t.forget("a");
        assert_eq!(t.observe("a", 2, 50), InOrder);
        t.retain(|s| s != "b");
        assert_eq!(t.observe("b", 1, 9), InOrder);
    }
}
