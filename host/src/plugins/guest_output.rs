//! A plugin's stderr, captured into the host log line by line.
//!
//! Guests get no inherited stdio. What they write to stderr (Rust panic messages above all)
//! is split into lines, neutralised (control characters escaped, cut at a length) and logged
//! with the plugin's name within the plugin's log budget, shared with its `log` calls; the
//! most recent output is kept so that a trap can be reported with the panic message that
//! caused it.

use super::guest_text;
use super::log_budget::LogBudget;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Longest line kept, in bytes; the rest is cut.
const MAX_LINE: usize = guest_text::MAX_GUEST_TEXT_CHARS;
/// How much recent output is kept for trap reports.
const TAIL_BYTES: usize = 2048;

/// A guest's stderr stream. Clones share the same buffer.
#[derive(Clone)]
pub struct GuestStderr {
    inner: Arc<Mutex<State>>,
}

struct State {
    plugin: Arc<str>,
    budget: LogBudget,
    line: Vec<u8>,
    tail: VecDeque<u8>,
}

impl GuestStderr {
    /// A stream whose lines are logged under `plugin`, within `budget`.
    pub fn new(plugin: Arc<str>, budget: LogBudget) -> Self {
        GuestStderr {
            inner: Arc::new(Mutex::new(State {
                plugin,
                budget,
                line: Vec::new(),
                tail: VecDeque::with_capacity(TAIL_BYTES),
            })),
        }
    }

    /// The most recent output (up to 2 KiB), trimmed, and forget it.
    pub fn take_tail(&self) -> String {
        let mut s = self.lock();
        let bytes: Vec<u8> = s.tail.drain(..).collect();
        s.line.clear();
        String::from_utf8_lossy(&bytes).trim().to_string()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, bytes: &[u8]) {
        let mut s = self.lock();
        for &b in bytes {
            if s.tail.len() == TAIL_BYTES {
                s.tail.pop_front();
            }
            s.tail.push_back(b);
            if b == b'\n' {
                let line = std::mem::take(&mut s.line);
                if s.budget.take_line(&s.plugin) {
                    let text = String::from_utf8_lossy(&line);
                    tracing::warn!(target: "tradehost::plugin", plugin = %s.plugin, "stderr: {}", guest_text::for_log(&text));
                }
            } else if s.line.len() < MAX_LINE {
                s.line.push(b);
            }
        }
    }
}

impl IsTerminal for GuestStderr {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestStderr {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for GuestStderr {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestStderr {
    async fn ready(&mut self) {}
}

impl AsyncWrite for GuestStderr {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_recent_tail_for_trap_reports() {
        let err = GuestStderr::new("p".into(), LogBudget::default());
        err.push(b"first line\npanicked at src/lib.rs:3:5:\nboom");
        assert_eq!(
            err.take_tail(),
            "first line\npanicked at src/lib.rs:3:5:\nboom"
        );
        assert_eq!(err.take_tail(), "");
        err.push(&vec![b'x'; 5000]);
        assert_eq!(err.take_tail().len(), TAIL_BYTES);
    }
}
