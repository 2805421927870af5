//! Scale-out over NATS JetStream: one feed host, many strategy hosts, one broker, each its own
//! process, talking through a `nats-server`. The single process (`--role all`) needs none of
//! this. The design, the guarantees and what is not guaranteed: `docs/scale-out.md`.
//!
//! # Layout
//! - [`config`]: [`BusConfig`], the `BUS_*` settings; [`subject`]: subjects, streams, buckets
//!   and [`HostName`]; [`streams`]: the streams' and buckets' definitions.
//! - [`connection`]: [`Bus`], a host's connection, reconnecting by itself; [`error`]:
//!   [`BusError`]; [`stats`]: traffic counters.
//! - The wire: [`codec`] (version byte + MessagePack) for [`market_message`] (trades, bars,
//!   forecasts, feed status with per-subject sequence numbers), [`order_message`] with its
//!   deterministic [`order_id`], and [`report`] (outcomes and fills back). Undecodable
//!   messages go to the [`dead_letter`] stream.
//! - [`seam`]: what the engine sees: [`MarketSource`], [`OrderSink`], [`OrderApplier`],
//!   [`MarketEvent`] and [`BusNotice`].
//! - Feed role: [`FeedPublisher`]; [`lease`] keeps Finnhub's one connection on one host.
//! - Strategy role: [`MarketSubscriber`] (with [`gap`] detection and lag notices),
//!   [`OrderPublisher`] (through [`confirmed_publish`]), [`OutcomeSubscriber`].
//! - Broker role: [`OrderConsumer`] on a [`durable`] consumer, deduplicating with
//!   [`HandledOrders`] (rebuilt from the journal), applying through [`broker_apply`], answering
//!   through [`OutcomePublisher`].
//! - Every role: [`health`], the deployment's board of host records.
//!
//! # Use
//! Every host: `let bus = Bus::connect(BusConfig::from_settings(&settings)?).await?;` (this
//! also creates the streams), and `report_health(&bus, status_rx, shutdown)`.
//! - Feed: `Lease::open(&bus, FEED_LEASE).await?.keep(shutdown)`; while the state is `Held`,
//!   run the Finnhub client and pass its events (and bars, forecasts) to
//!   `FeedPublisher::publish`; on `Lost`, close the WebSocket.
//! - Strategies: read `MarketSubscriber::subscribe(&bus, SymbolFilter::Only(symbols),
//!   StartAt::Live)` as the engine's source; hand each plugin call's actions to
//!   `OrderPublisher::submit`; read `OutcomeSubscriber::next` and `ack` each report after
//!   the plugin has it.
//! - Broker: `PaperBroker::open_with(config, |r| handled.observe(r))`, then
//!   `OrderConsumer::start(&bus, handled, applier).await?.run(shutdown)` where the applier
//!   calls [`apply_to_broker`] on the thread that owns the broker; fills from `on_trade`
//!   (fed by a `MarketSubscriber` of `SymbolFilter::All`) go to
//!   `OrderConsumer::outcomes().publish_fill`.

pub mod broker_apply;
pub mod codec;
pub mod config;
pub mod confirmed_publish;
pub mod connection;
pub mod dead_letter;
pub mod durable;
pub mod error;
pub mod feed_publisher;
pub mod gap;
pub mod handled;
pub mod health;
pub mod lease;
pub mod market_message;
pub mod market_subscriber;
pub mod order_consumer;
pub mod order_id;
pub mod order_message;
pub mod order_publisher;
pub mod outcome_publisher;
pub mod outcome_subscriber;
pub mod report;
pub mod seam;
pub mod stats;
pub mod streams;
pub mod subject;

pub use broker_apply::apply_to_broker;
pub use codec::{CodecError, WIRE_VERSION};
pub use config::{BusConfig, StreamStorage};
pub use connection::{Bus, Link};
pub use error::BusError;
pub use feed_publisher::FeedPublisher;
pub use gap::{Gap, GapKind};
pub use handled::HandledOrders;
pub use health::{
    HealthBoard, HostHealth, HostState, HostStatus, HostView, Lag, Role, report_health,
};
pub use lease::{FEED_LEASE, Lease, LeaseState};
pub use market_subscriber::{MarketSubscriber, StartAt, SymbolFilter, market_stream_end};
pub use order_consumer::{IntakeReport, OrderConsumer};
pub use order_id::{ActionKey, OrderId, PluginInstance};
pub use order_message::OrderMessage;
pub use order_publisher::OrderPublisher;
pub use outcome_publisher::OutcomePublisher;
pub use outcome_subscriber::{OutcomeSubscriber, ReportDelivery};
pub use report::OrderReport;
pub use seam::{ApplyError, BusNotice, MarketEvent, MarketSource, OrderApplier, OrderSink};
pub use stats::{BusCounters, BusStats};
pub use subject::HostName;
