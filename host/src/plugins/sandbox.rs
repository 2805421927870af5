//! The per-plugin store data: a WASI context that grants nothing, memory limits, and the
//! host functions of the strategy interface.
//!
//! Guests get no preopened directories, no environment, no arguments, no network and no
//! inherited stdio: file, env and socket calls fail inside the guest. Random bytes come
//! from a host-seeded generator, and in replays and backtests the WASI clocks read market
//! time, so runs are deterministic. Stderr is captured into the host log.

use super::bindings::{bar_to_wit, position_to_wit, tradehost::strategy, wit};
use super::guest_output::GuestStderr;
use super::symbols::SymbolTable;
use super::view::MarketView;
use super::wait_limit::WaitBudget;
use super::virtual_clock::{MarketMonotonicClock, MarketWallClock};
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// Longest log line a plugin may write; the rest is cut.
const MAX_LOG_CHARS: usize = 1024;
/// Log lines a plugin may write per second before lines are dropped (and counted).
const LOG_LINES_PER_SEC: f64 = 200.0;
/// Most bars returned by one `recent-bars` call.
const MAX_RECENT_BARS: u32 = 10_000;
/// Most distinct symbols the table accepts from plugins (a guard against interning floods).
const MAX_SYMBOLS: usize = 100_000;
/// Longest symbol name accepted from a plugin.
const MAX_SYMBOL_LEN: usize = 64;

/// What the host knows about one plugin instance: its sandbox and its view of the market.
pub struct HostState {
    plugin: Arc<str>,
    wasi: WasiCtx,
    table: ResourceTable,
    /// Memory and table caps enforced by wasmtime.
    pub limits: StoreLimits,
    view: Arc<dyn MarketView>,
    symbols: SymbolTable,
    stderr: GuestStderr,
    log_tokens: f64,
    log_refilled: Instant,
    logs_dropped: u64,
    wait_budget: WaitBudget,
}

impl HostState {
    /// A sandbox for `plugin` with `max_memory` bytes of linear memory in all.
    pub fn new(
        plugin: Arc<str>,
        max_memory: usize,
        view: Arc<dyn MarketView>,
        symbols: SymbolTable,
        random_seed: u64,
    ) -> Self {
        let stderr = GuestStderr::new(plugin.clone());
        let mut builder = WasiCtxBuilder::new();
        builder
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .secure_random(wasmtime_wasi::Deterministic::new(seed_bytes(random_seed)))
            .insecure_random(wasmtime_wasi::Deterministic::new(seed_bytes(
                random_seed ^ 0x5eed,
            )))
            .insecure_random_seed(u128::from(random_seed));
        if view.market_time() {
            builder
                .wall_clock(MarketWallClock(view.clone()))
                .monotonic_clock(MarketMonotonicClock::new(view.clone()));
        }
        HostState {
            plugin,
            wasi: builder.build(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(max_memory)
                .instances(64)
                .tables(64)
                .memories(16)
                .table_elements(1 << 20)
                .trap_on_grow_failure(true)
                .build(),
            view,
            symbols,
            stderr,
            log_tokens: LOG_LINES_PER_SEC,
            log_refilled: Instant::now(),
            logs_dropped: 0,
            wait_budget: WaitBudget::default(),
        }
    }

    /// The plugin's name.
    pub fn plugin(&self) -> &Arc<str> {
        &self.plugin
    }

    /// How long the current call may still wait in WASI (sleep, poll).
    pub fn wait_budget(&self) -> &WaitBudget {
        &self.wait_budget
    }

    /// Start a call that may wait in WASI `allowance` in all.
    pub fn start_wait_budget(&mut self, allowance: std::time::Duration) {
        self.wait_budget.start(allowance);
    }

    /// The WASI resource table (pollables, streams).
    pub fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// Recent stderr output (for trap reports), cleared.
    pub fn take_stderr(&self) -> String {
        self.stderr.take_tail()
    }

    fn take_log_token(&mut self) -> bool {
        let now = Instant::now();
        let elapsed = now.duration_since(self.log_refilled).as_secs_f64();
        self.log_refilled = now;
        self.log_tokens = (self.log_tokens + elapsed * LOG_LINES_PER_SEC).min(LOG_LINES_PER_SEC);
        if self.log_tokens >= 1.0 {
            self.log_tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Expand a seed into the byte cycle `Deterministic` repeats.
fn seed_bytes(seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..4096).map(|_| rng.u8(..)).collect()
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl strategy::types::Host for HostState {}

impl strategy::host::Host for HostState {
    fn log(&mut self, level: wit::LogLevel, message: String) {
        if !self.take_log_token() {
            self.logs_dropped += 1;
            return;
        }
        if self.logs_dropped > 0 {
            tracing::warn!(target: "tradehost::plugin", plugin = %self.plugin, "{} log lines dropped (more than {LOG_LINES_PER_SEC}/s)", self.logs_dropped);
            self.logs_dropped = 0;
        }
        let message = truncate_chars(&message, MAX_LOG_CHARS);
        let plugin = &*self.plugin;
        match level {
            wit::LogLevel::Trace => {
                tracing::trace!(target: "tradehost::plugin", plugin, "{message}")
            }
            wit::LogLevel::Debug => {
                tracing::debug!(target: "tradehost::plugin", plugin, "{message}")
            }
            wit::LogLevel::Info => tracing::info!(target: "tradehost::plugin", plugin, "{message}"),
            wit::LogLevel::Warn => tracing::warn!(target: "tradehost::plugin", plugin, "{message}"),
            wit::LogLevel::Error => {
                tracing::error!(target: "tradehost::plugin", plugin, "{message}")
            }
        }
    }

    fn now(&mut self) -> i64 {
        self.view.now_ms()
    }

    fn latest_prediction(&mut self, symbol: u32) -> Option<wit::Prediction> {
        let name = self.symbols.name(symbol)?;
        let p = self.view.prediction(&name)?;
        let stale = p.is_stale(self.view.now_ms());
        Some(wit::Prediction {
            symbol,
            expected_return: p.expected_return,
            horizon_bars: p.horizon_bars,
            model_version: p.model_version,
            time: p.time_ms,
            stale,
        })
    }

    fn position_of(&mut self, symbol: u32) -> wit::Position {
        let position = match self.symbols.name(symbol) {
            Some(name) => self.view.position(&self.plugin, &name),
            None => Default::default(),
        };
        position_to_wit(&position, symbol)
    }

    fn recent_bars(&mut self, symbol: u32, count: u32) -> Vec<wit::Bar> {
        let Some(name) = self.symbols.name(symbol) else {
            return Vec::new();
        };
        self.view
            .recent_bars(&name, count.min(MAX_RECENT_BARS) as usize)
            .iter()
            .map(|b| bar_to_wit(b, symbol))
            .collect()
    }

    fn intern_symbol(&mut self, name: String) -> u32 {
        let name = name.trim();
        if let Some(id) = self.symbols.id(name) {
            return id;
        }
        if name.is_empty() || name.len() > MAX_SYMBOL_LEN || self.symbols.len() >= MAX_SYMBOLS {
            tracing::warn!(target: "tradehost::plugin", plugin = %self.plugin, "refused to intern symbol {:?}", truncate_chars(name, 80));
            return u32::MAX;
        }
        self.symbols.intern(name)
    }

    fn symbol_name(&mut self, symbol: u32) -> Option<String> {
        self.symbols.name(symbol).map(|s| s.to_string())
    }
}

fn truncate_chars(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}… [cut]", &s[..i]).into(),
        None => s.into(),
    }
}
