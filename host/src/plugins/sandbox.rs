//! The per-plugin store data: a WASI context that grants nothing, memory limits, and the
//! host functions of the strategy interface.
//!
//! Guests get no preopened directories, no environment, no arguments, no network and no
//! inherited stdio: file, env and socket calls fail inside the guest. Random bytes come
//! from a host-seeded generator, and in replays and backtests the WASI clocks read market
//! time, so runs are deterministic. Stderr is captured into the host log.

use super::bindings::{bar_to_wit, position_to_wit, tradehost::strategy, wit};
use super::event_index;
use super::guest_output::GuestStderr;
use super::guest_text;
use super::log_budget::LogBudget;
use super::symbols::SymbolTable;
use super::view::MarketView;
use super::virtual_clock::{GuestTime, MarketMonotonicClock, MarketWallClock};
use super::wait_limit::WaitBudget;
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// Most bars returned by one `recent-bars` call.
const MAX_RECENT_BARS: u32 = 10_000;
/// Most distinct symbols the table accepts from plugins (a guard against interning floods).
const MAX_SYMBOLS: usize = 100_000;
/// Most new symbols one plugin may add to the table (over all its instances while the
/// daemon runs), so that one plugin cannot exhaust it for the others.
pub const MAX_NEW_SYMBOLS_PER_PLUGIN: usize = 1_000;

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
    /// Log lines per second, shared with stderr.
    log_budget: LogBudget,
    /// Symbol names refused (logged within the log budget).
    symbols_refused: u64,
    wait_budget: WaitBudget,
    /// The batch of the `on-events` call under way: host functions answer "at" its events.
    call: Option<Arc<wit::EventBatch>>,
    /// On market time: the last price of each symbol among the trades delivered before the
    /// current call, so `position-of` marks at the strategy's place in its stream.
    marks: hashbrown::HashMap<u32, f64>,
    /// On market time: what the guest's WASI clocks read.
    guest_time: GuestTime,
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
        let log_budget = LogBudget::default();
        let stderr = GuestStderr::new(plugin.clone(), log_budget.clone());
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
        let guest_time = GuestTime::default();
        if view.market_time() {
            guest_time.set(view.now_ms());
            builder
                .wall_clock(MarketWallClock(guest_time.clone()))
                .monotonic_clock(MarketMonotonicClock::new(guest_time.clone()));
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
            log_budget,
            symbols_refused: 0,
            wait_budget: WaitBudget::default(),
            call: None,
            marks: hashbrown::HashMap::new(),
            guest_time,
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
        if self.view.market_time() {
            // A call starts at its batch's first event (or the host's time outside a batch).
            let t = self
                .call
                .as_deref()
                .and_then(|b| event_index::time_at(b, 0))
                .unwrap_or_else(|| self.view.now_ms());
            self.guest_time.set(t);
        }
    }

    /// An `on-events` call with `batch` starts.
    pub fn begin_call(&mut self, batch: Arc<wit::EventBatch>) {
        self.call = Some(batch);
    }

    /// The `on-events` call is over.
    pub fn end_call(&mut self) {
        self.call = None;
    }

    /// The first `consumed` events of `batch` were handled: on market time, remember the
    /// last price of each symbol among their trades.
    pub fn delivered(&mut self, batch: &wit::EventBatch, consumed: usize) {
        if !self.view.market_time() || consumed == 0 {
            return;
        }
        let c = &batch.trades;
        let upto = event_index::trades_through(batch, consumed - 1);
        let Some(&first) = c.symbols.first().filter(|_| upto > 0) else {
            return;
        };
        // Batches are mostly one run of one symbol (checked a vector at a time).
        if c.symbols[..upto].iter().all(|&s| s == first)
            && let Some(&price) = c.prices.get(upto - 1)
        {
            self.marks.insert(first, price);
            return;
        }
        // Else the last price of each run of one symbol is enough.
        for i in 0..upto {
            if i + 1 == upto || c.symbols[i + 1] != c.symbols[i] {
                self.marks.insert(c.symbols[i], c.prices[i]);
            }
        }
    }

    /// The time at event `at` of the current call on market time, else the view's clock.
    fn time_at(&self, at: u32) -> i64 {
        if self.view.market_time()
            && let Some(t) = self
                .call
                .as_deref()
                .and_then(|b| event_index::time_at(b, at as usize))
        {
            // The guest is at this event: its WASI clocks say so too.
            self.guest_time.set(t);
            return t;
        }
        self.view.now_ms()
    }

    /// The WASI resource table (pollables, streams).
    pub fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// Recent stderr output (for trap reports), cleared.
    pub fn take_stderr(&self) -> String {
        self.stderr.take_tail()
    }

    /// Log lines the budget refused since the plugin started.
    pub fn logs_dropped(&self) -> u64 {
        self.log_budget.dropped_total()
    }

    /// Take a line from the log budget; reports lines dropped before it.
    fn admit_line(&self) -> bool {
        self.log_budget.take_line(&self.plugin)
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
        if !self.admit_line() {
            return;
        }
        let message = guest_text::for_log(&message);
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

    fn now(&mut self, at: u32) -> i64 {
        self.time_at(at)
    }

    fn latest_prediction(&mut self, symbol: u32, at: u32) -> Option<wit::Prediction> {
        let name = self.symbols.name(symbol)?;
        let p = self.view.prediction(&name)?;
        let stale = p.is_stale(self.time_at(at));
        Some(wit::Prediction {
            symbol,
            expected_return: p.expected_return,
            horizon_bars: p.horizon_bars,
            model_version: p.model_version,
            time: p.time_ms,
            stale,
        })
    }

    fn position_of(&mut self, symbol: u32, at: u32) -> wit::Position {
        let Some(name) = self.symbols.name(symbol) else {
            return position_to_wit(&Default::default(), symbol);
        };
        let mut position = self.view.position(&self.plugin, &name);
        if self.view.market_time() {
            // Marked at the last trade this strategy was given, wherever the host is.
            let mark = self
                .call
                .as_deref()
                .and_then(|b| event_index::mark_at(b, at as usize, symbol))
                .or_else(|| self.marks.get(&symbol).copied())
                .or_else(|| self.view.last_price(&name));
            position.unrealised_pnl = position.unrealised_at(mark);
        }
        position_to_wit(&position, symbol)
    }

    fn recent_bars(&mut self, symbol: u32, period_secs: u32, count: u32) -> Vec<wit::Bar> {
        let Some(name) = self.symbols.name(symbol) else {
            return Vec::new();
        };
        self.view
            .recent_bars(&name, period_secs, count.min(MAX_RECENT_BARS) as usize)
            .iter()
            .map(|b| bar_to_wit(b, symbol))
            .collect()
    }

    fn intern_symbol(&mut self, name: String) -> u32 {
        let name = name.trim();
        if let Some(id) = self.symbols.id(name) {
            return id;
        }
        let interned = super::symbols::check_name(name).and_then(|()| {
            self.symbols
                .intern_for(&self.plugin, name, MAX_NEW_SYMBOLS_PER_PLUGIN, MAX_SYMBOLS)
        });
        match interned {
            Ok(id) => id,
            Err(why) => {
                self.symbols_refused += 1;
                if self.admit_line() {
                    tracing::warn!(target: "tradehost::plugin", plugin = %self.plugin, refused = self.symbols_refused, "intern-symbol refused: {}", guest_text::for_log(&why));
                }
                u32::MAX
            }
        }
    }

    fn symbol_name(&mut self, symbol: u32) -> Option<String> {
        self.symbols.name(symbol).map(|s| s.to_string())
    }
}
