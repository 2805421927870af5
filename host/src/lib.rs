//! tradehost: a real-time trading host with sandboxed WebAssembly strategies.
//!
//! # Layout
//! The path of a tick, from socket to fill:
//! 1. [`feed`]: `FinnhubClient` reads a WebSocket frame and sends `FeedEvent::Trades`
//!    (the demo server and the paced replay produce the same events from files that [`data`]
//!    reads). Live, its task runs on the engine thread itself (`engine::feed_runtime`),
//!    whose other inputs ring its [`doorbell`].
//! 2. [`engine`]: the engine thread (`engine::engine_thread`, which `engine::daemon::run`
//!    starts with the rest) hands each batch to
//!    `engine::pipeline::Pipeline::on_trades`, which drives the engine's `engine::core::Core`
//!    (the state the engine thread owns, without locks; backtests drive the same `Core`
//!    with `engine::lockstep::Lockstep`):
//! 3. it updates [`market`] state (`MarketState::apply_trade_into` closes bars of the host's
//!    period and of those plugins asked for; they also go to the [`trainer`], whose
//!    predictions come back as events),
//! 4. lets the [`broker`] fill resting orders (`Core::commit_trade` →
//!    `PaperBroker::on_trade`, journaled first),
//! 5. publishes what plugins may read (`engine::snapshot`: positions, last prices, bars,
//!    forecasts) and dispatches one batch of events to every plugin
//!    (`plugins::PluginHost::dispatch_seq`); each plugin's worker calls its component's
//!    `on-events` in a sandbox ([`plugins`]), whose host imports read that snapshot.
//! 6. Their orders come back as `PluginOutput`s, each naming the trade that caused it (a
//!    `broker::TradePoint`); `Pipeline::on_outputs` submits those queued as one turn to the
//!    broker (risk checks; one journal write for the turn, before anyone hears of its
//!    orders), which fills them at the first trade after their cause, even one it processed
//!    before they arrived (`broker::recent_trades`); fills reach the plugins with the next
//!    batch.
//!
//! Around it: [`data`] (trade and bar files, read the same by feed, market, trainer and
//! backtest), [`config`] and [`settings`] (every setting, validated), [`logging`], the
//! [`status`] API and the live [`dashboard`] (fed by the engine through its event hub; it
//! also renders backtest reports as HTML), [`backtest`] (the same engine on market time),
//! [`bus`] (scale-out over NATS JetStream: one feed host, many strategy hosts, one broker;
//! the roles are `engine::feed_host`, `engine::strategy_link` and `engine::broker_host`),
//! and [`types`], the plain values that cross between subsystems; [`authoring`] creates,
//! builds and installs strategy crates (`tradehost new`, `tradehost build`);
//! [`diebold_mariano`] is the forecast-accuracy test shared by the trainer's deploy gate and
//! the backtest's forecast scoring.

pub mod atomic_file;
pub mod authoring;
pub mod backtest;
pub mod broker;
pub mod bus;
pub mod config;
pub mod dashboard;
pub mod data;
pub mod diebold_mariano;
pub mod doorbell;
pub mod engine;
pub mod feed;
pub mod human;
pub mod latency_histogram;
pub mod logging;
pub mod market;
pub mod plugins;
pub mod settings;
pub mod status;
pub mod trainer;
pub mod types;
