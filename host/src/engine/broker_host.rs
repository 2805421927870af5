//! The broker host of a scale-out deployment (`tradehost run --role broker`): the single
//! writer of the journal. It applies the strategy hosts' orders from the order stream, each
//! once and acknowledged only after the journal holds it, fills resting orders against the
//! trades of every symbol, and publishes outcomes and fills to the host that owns each
//! plugin.
//!
//! Restarted (even after `kill -9`), it rebuilds from its journal the orders it already
//! handled (a repeat is answered with its recorded outcome, not applied again) and
//! publishes its last fills again (their message ids make repeats harmless), closing the
//! window between a fill's journal append and its publication. It reads the market stream
//! again from the last position its journal holds, so resting orders meet the trades made
//! while it was down; each order fills only at trades after the position it was placed at
//! (`broker::book`), so reading a trade twice never fills an order twice or early.

use super::broker_board::BrokerBoard;
use super::broker_desk::{BrokerDesk, BrokerSwitch};
use super::deployment::Deployment;
use super::engine_error::EngineError;
use crate::broker::{BrokerOutcome, JournalRecord, PaperBroker};
use crate::bus::{
    ApplyError, Bus, HandledOrders, HostState, HostStatus, MarketEvent, MarketSubscriber,
    OrderApplier, OrderConsumer, OrderMessage, OutcomePublisher, Role, StartAt, SymbolFilter,
    apply_to_broker, market_stream_end, report_health,
};
use crate::feed::FeedEvent;
use crate::types::Fill;
use async_trait::async_trait;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Fills of the journal's tail published again at start-up.
const REPUBLISHED_FILLS: usize = 256;

/// How often the market task publishes the broker's figures when no fill made it do so (for
/// unrealised PnL at new prices).
const BOARD_EVERY: Duration = Duration::from_secs(1);

/// Applies bus orders to the broker (the consumer task and the market task share it; each
/// holds the lock only for the broker call, never across I/O on the bus). Broker calls
/// write, and may sync, the journal: they run in [`tokio::task::block_in_place`], so the
/// runtime moves its other tasks (the status API, the bus) off the waiting worker.
struct Applier {
    broker: Arc<Mutex<PaperBroker>>,
    board: BrokerBoard,
    /// Fills that late orders got on arrival (journaled), for the market task to publish.
    late_fills: mpsc::UnboundedSender<Vec<Fill>>,
}

#[async_trait]
impl OrderApplier for Applier {
    async fn apply(&mut self, order: &OrderMessage) -> Result<Vec<BrokerOutcome>, ApplyError> {
        let now = crate::plugins::view::wall_clock_ms();
        tokio::task::block_in_place(|| {
            let mut broker = self.broker.lock().unwrap_or_else(PoisonError::into_inner);
            let outcomes = apply_to_broker(&mut broker, order, now);
            let fills = broker.take_late_fills();
            if !fills.is_empty() {
                // The market task outlives the consumer; if it is gone the host is stopping,
                // and the restart publishes the journal's last fills again.
                let _ = self.late_fills.send(fills);
            }
            self.board.publish(&broker);
            outcomes
        })
    }
}

/// Runs the broker host until `shutdown` completes.
pub async fn run(
    config: crate::config::Config,
    bus: Bus,
    shutdown: impl Future<Output = ()>,
) -> Result<(), EngineError> {
    tracing::info!(target: "tradehost::bus", "broker host {} starting", bus.host());
    // The status port first: a clash is reported now.
    let status_listener = match config.status_addr {
        Some(addr) => Some(crate::status::bind(addr).await?),
        None => None,
    };
    let started = std::time::Instant::now();
    let mut handled = HandledOrders::new();
    let mut tail: VecDeque<Fill> = VecDeque::with_capacity(REPUBLISHED_FILLS);
    let (mut broker, _recovery) = PaperBroker::open_with(config.broker.clone(), |r| {
        handled.observe(r);
        if let JournalRecord::Fill { fill, .. } = r {
            if tail.len() == REPUBLISHED_FILLS {
                tail.pop_front();
            }
            tail.push_back(fill.clone());
        }
    })?;
    // Orders arrive after the market task went on: they fill as of their causes.
    broker.keep_recent_trades(crate::broker::recent_trades::KEPT_TRADES);
    let board = BrokerBoard::default();
    board.publish(&broker);
    let broker = Arc::new(Mutex::new(broker));
    let (late_tx, late_rx) = mpsc::unbounded_channel();
    let consumer = OrderConsumer::start(
        &bus,
        handled,
        Applier {
            broker: broker.clone(),
            board: board.clone(),
            late_fills: late_tx,
        },
    )
    .await?;
    let outcomes = consumer.outcomes();
    for fill in &tail {
        if let Err(e) = outcomes.publish_fill(fill).await {
            tracing::warn!(target: "tradehost::bus", "fill of order {} not published again: {e}", fill.order_id);
        }
    }
    let (start, read) = market_start(&bus, &broker).await?;
    // Until the first message arrives, the broker has read up to where it starts: orders
    // accepted before then are journaled with that position.
    broker
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .at_market_position(read);
    let subscriber = MarketSubscriber::subscribe(&bus, SymbolFilter::All, start).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let (status_tx, status_rx) = watch::channel(HostStatus {
        role: Role::Broker,
        state: HostState::Running,
        lag: None,
        symbols: Vec::new(),
    });
    let health = report_health(&bus, status_rx, stopped(stop_rx.clone()));
    let (deployment, follower) = Deployment::following(&bus, stopped(stop_rx.clone())).await?;
    let status_server = match status_listener {
        Some(listener) => Some(super::host_status::spawn(
            &config,
            listener,
            Arc::new(BrokerDesk {
                started,
                started_ms: crate::plugins::view::wall_clock_ms(),
                mode: super::host_status::run_mode(config.mode),
                board: board.clone(),
                deployment,
            }),
            Some(Arc::new(BrokerSwitch {
                broker: broker.clone(),
                board: board.clone(),
                outcomes: outcomes.clone(),
            })),
            stopped(stop_rx.clone()),
            "broker host",
        )?),
        None => None,
    };
    let intake = tokio::spawn(consumer.run(stopped(stop_rx.clone())));
    let fills = tokio::spawn(fill_resting_orders(
        subscriber,
        late_rx,
        broker.clone(),
        board,
        outcomes,
        status_tx,
        stop_rx,
    ));
    tokio::pin!(intake);
    let failed = tokio::select! {
        _ = shutdown => None,
        result = &mut intake => Some(result),
    };
    let _ = stop_tx.send(true);
    let intake = match failed {
        Some(result) => result,
        None => intake.await,
    };
    match intake {
        Ok(Ok(report)) => {
            tracing::info!(target: "tradehost::bus", "orders: {} applied, {} repeats answered from the journal, {} undecodable parked", report.applied, report.repeats, report.parked)
        }
        Ok(Err(e)) => {
            tracing::error!(target: "tradehost::bus", "order intake stopped: {e}; the orders wait in the stream until the broker host is restarted")
        }
        Err(e) => tracing::error!(target: "tradehost::bus", "order intake failed: {e}"),
    }
    if tokio::time::timeout(Duration::from_secs(5), fills)
        .await
        .is_err()
    {
        tracing::warn!(target: "tradehost::bus", "the fill publisher did not stop within 5 s");
    }
    let _ = health.await;
    let _ = follower.await;
    if let Some(server) = status_server {
        let _ = server.await;
    }
    if let Err(e) = broker
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .flush()
    {
        tracing::error!(target: "tradehost::broker", "cannot flush the journal: {e}");
    }
    bus.close().await;
    tracing::info!(target: "tradehost::bus", "broker host stopped cleanly");
    Ok(())
}

/// Where the market task starts reading, and the position the broker has read before it
/// starts: the last stream position the journal holds (read again: fills are idempotent per
/// position), or, for a new journal, the stream's end now (every later message is read).
async fn market_start(
    bus: &Bus,
    broker: &Arc<Mutex<PaperBroker>>,
) -> Result<(StartAt, u64), EngineError> {
    let journaled = broker
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .journaled_market_position();
    let end = market_stream_end(bus).await?;
    if journaled == 0 {
        return Ok((StartAt::After(end), end));
    }
    if end < journaled {
        // A new stream (its data folder was removed): positions start again from 1.
        tracing::warn!(target: "tradehost::bus", "the market stream ends at position {end}, before the journal's {journaled}: it was recreated; resting orders are matched against its trades from its end on");
        broker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .forget_market_positions();
        return Ok((StartAt::After(end), end));
    }
    tracing::info!(target: "tradehost::bus", "reading the market stream again from position {journaled} (the journal's last), {} messages behind its end", end - journaled);
    Ok((StartAt::After(journaled - 1), journaled - 1))
}

/// What the market task handles next.
enum Next {
    /// Fills late orders got on arrival, to publish.
    LateFills(Vec<Fill>),
    /// A market event (`None`: the subscription ended).
    Market(Option<MarketEvent>),
}

/// Fills resting orders against every trade on the stream and publishes the fills, and those
/// that late orders got on arrival.
async fn fill_resting_orders(
    mut subscriber: MarketSubscriber,
    mut late_fills: mpsc::UnboundedReceiver<Vec<Fill>>,
    broker: Arc<Mutex<PaperBroker>>,
    board: BrokerBoard,
    outcomes: OutcomePublisher,
    status: watch::Sender<HostStatus>,
    mut stop: watch::Receiver<bool>,
) {
    let mut published = std::time::Instant::now();
    loop {
        let event = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            Some(fills) = late_fills.recv() => Next::LateFills(fills),
            event = subscriber.next() => Next::Market(event),
        };
        let event = match event {
            Next::Market(event) => event,
            Next::LateFills(fills) => {
                if !publish_fills(&outcomes, fills, &stop).await {
                    return;
                }
                continue;
            }
        };
        let Some(event) = event else { break };
        status.send_modify(|s| s.lag = Some(subscriber.lag()));
        let MarketEvent::Feed(FeedEvent::Trades(batch)) = event else {
            continue;
        };
        // Fills are journaled (and may be synced): off the async workers, as in `Applier`.
        let position = subscriber.position();
        let fills: Vec<Fill> = tokio::task::block_in_place(|| {
            let mut b = broker.lock().unwrap_or_else(PoisonError::into_inner);
            b.at_market_position(position);
            let fills: Vec<Fill> = batch.trades.iter().flat_map(|t| b.on_trade(t)).collect();
            if !fills.is_empty() || published.elapsed() >= BOARD_EVERY {
                board.publish(&b);
                published = std::time::Instant::now();
            }
            fills
        });
        if !publish_fills(&outcomes, fills, &stop).await {
            return;
        }
    }
}

/// Publishes journaled fills to their plugins' hosts, each retried until stored; false when
/// the host stopped first (the restart publishes the journal's last fills again).
async fn publish_fills(
    outcomes: &OutcomePublisher,
    fills: Vec<Fill>,
    stop: &watch::Receiver<bool>,
) -> bool {
    for fill in fills {
        while let Err(e) = outcomes.publish_fill(&fill).await {
            tracing::warn!(target: "tradehost::bus", "fill of order {} not published yet: {e}; retrying", fill.order_id);
            if *stop.borrow() {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    true
}
