//! WASI waits bounded in wall time: a guest's `sleep` or `poll` cannot hold a call open.
//!
//! Epoch deadlines interrupt guest code, never host code, and wasmtime-wasi's
//! `pollable.block` and `poll` wait in the host for as long as the guest asks (a Python
//! `time.sleep(3600)` is one `pollable.block`). Those two functions are replaced here by
//! versions that wait at most what is left of the call's wall-time allowance, then fail the
//! call with [`WaitTooLong`], which the worker reports as a wall-time limit (not CPU time).
//! Everything else a guest can wait on (stdin, files, sockets) is not granted, and its stderr
//! never blocks.

use super::sandbox::HostState;
use std::fmt;
use std::time::{Duration, Instant};
use wasmtime::component::{Linker, Resource};
use wasmtime::{Result, StoreContextMut};
use wasmtime_wasi_io::bindings::wasi::io::poll::{Host as PollHost, HostPollable};
use wasmtime_wasi_io::poll::DynPollable;

/// The `wasi:io/poll` instance wasmtime-wasi links (older 0.2.x imports resolve to it).
const POLL_INSTANCE: &str = "wasi:io/poll@0.2.12";

/// A call waited in WASI past its wall-time allowance; the call fails with this error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitTooLong {
    /// The call's whole wall-time allowance.
    pub allowance: Duration,
    /// What the guest was waiting in.
    pub what: &'static str,
}

impl fmt::Display for WaitTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the plugin waited in WASI `{}` (a sleep or poll) past its {:?} of wall time; \
             strategies must not block: keep state and act on the next event instead",
            self.what, self.allowance
        )
    }
}

impl std::error::Error for WaitTooLong {}

/// When the current call's wall-time allowance for waits runs out.
#[derive(Debug, Clone, Copy, Default)]
pub struct WaitBudget {
    deadline: Option<(Instant, Duration)>,
}

impl WaitBudget {
    /// Start a call allowed to wait `allowance` in all.
    pub fn start(&mut self, allowance: Duration) {
        self.deadline = Some((Instant::now() + allowance, allowance));
    }

    /// What is left of the allowance, and the allowance itself.
    fn left(&self) -> (Duration, Duration) {
        match self.deadline {
            Some((at, allowance)) => (at.saturating_duration_since(Instant::now()), allowance),
            // Outside a call (never expected): no waiting at all.
            None => (Duration::ZERO, Duration::ZERO),
        }
    }
}

/// Replace `pollable.block` and `poll` in `linker` (after wasmtime-wasi was added to it).
pub fn add_to_linker(linker: &mut Linker<HostState>) -> Result<()> {
    linker.allow_shadowing(true);
    let mut poll = linker.instance(POLL_INSTANCE)?;
    poll.func_wrap(
        "[method]pollable.block",
        |mut store: StoreContextMut<'_, HostState>, (pollable,): (Resource<DynPollable>,)| {
            let (left, allowance) = store.data().wait_budget().left();
            let table = store.data_mut().table();
            bounded(left, HostPollable::block(table, pollable)).map_err(|_| {
                wasmtime::Error::new(WaitTooLong {
                    allowance,
                    what: "pollable.block",
                })
            })?
        },
    )?;
    poll.func_wrap(
        "poll",
        |mut store: StoreContextMut<'_, HostState>, (pollables,): (Vec<Resource<DynPollable>>,)| {
            let (left, allowance) = store.data().wait_budget().left();
            let table = store.data_mut().table();
            let ready = bounded(left, PollHost::poll(table, pollables)).map_err(|_| {
                wasmtime::Error::new(WaitTooLong {
                    allowance,
                    what: "poll",
                })
            })??;
            Ok((ready,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Drive `wait` for at most `left`, on wasmtime-wasi's runtime (the calling thread never
/// drives a tokio runtime of ours: see `PluginInstance`).
fn bounded<F: std::future::Future>(left: Duration, wait: F) -> Result<F::Output, ()> {
    // The timer is made inside the runtime that drives it.
    wasmtime_wasi::runtime::in_tokio(async move { tokio::time::timeout(left, wait).await })
        .map_err(|_| ())
}
