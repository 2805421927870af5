//! A strategy host's link to the bus (`tradehost run --role strategies`): the tasks that
//! feed the engine thread with market data and its plugins' outcomes, publish their
//! orders, report the host's health, and take the checkpoints a restart resumes from.
//!
//! Exactly once, across `kill -9`:
//! - a checkpoint asks every plugin for its snapshot between two events (so each snapshot
//!   includes exactly the market events up to one stream position), waits until every
//!   order those events caused is stored on the bus, then writes the snapshots and the
//!   position as one file (`state/bus.checkpoint`), and only then acknowledges the reports
//!   the snapshots include;
//! - restarted, the host reads on after that position: its plugins make the orders after
//!   it again, with the same ids, and the bus or the broker drops the repeats; reports not
//!   acknowledged come again.

use super::bus_checkpoint::BusCheckpoint;
pub use super::checkpointer::Checkpointer;
use super::deployment::Deployment;
use super::event_loop::{AckItem, LinkInputs, Positioned};
use super::order_route::{OrderRoute, RouteCounters, RoutedOrder};
use crate::bus::{
    Bus, BusError, HostState, HostStatus, MarketSubscriber, OrderPublisher, OutcomeSubscriber,
    PluginInstance, ReportDelivery, Role, StartAt, SymbolFilter, report_health,
};
use crate::trainer::PredictionBoard;
use crate::types::Symbol;
use crossbeam_channel::Sender;
use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Market events the engine thread may fall behind by before the reader waits.
const MARKET_QUEUE: usize = 4096;

/// The running link.
pub struct StrategyLink {
    /// The connection.
    bus: Bus,
    /// The symbols the plugins want (read by the market task and the health report).
    wanted: Arc<watch::Sender<Vec<Symbol>>>,
    /// Stops the market reader (first, at shutdown).
    market_stop: watch::Sender<bool>,
    /// Stops every other task.
    stop: watch::Sender<bool>,
    /// The checkpoint side, shared with the saver thread.
    checkpointer: Checkpointer,
    /// The deployment's hosts, read from the health board.
    deployment: Deployment,
    /// The tasks.
    tasks: Vec<JoinHandle<()>>,
}

/// What the engine thread gets.
pub struct LinkParts {
    /// Its bus inputs.
    pub inputs: LinkInputs,
    /// Where its plugins' orders go.
    pub route: OrderRoute,
}

impl StrategyLink {
    /// Connects the tasks: market data of `wanted` after the checkpoint's position (or from
    /// now on), this host's reports, its orders, its health record.
    pub async fn start(
        bus: Bus,
        state_dir: PathBuf,
        checkpoint: BusCheckpoint,
        wanted: Vec<Symbol>,
        board: PredictionBoard,
        mirrored: HashSet<u64>,
    ) -> Result<(StrategyLink, LinkParts), BusError> {
        let start = match checkpoint.position {
            0 => StartAt::Live,
            p => StartAt::After(p),
        };
        let position = checkpoint.position;
        let subscriber =
            MarketSubscriber::subscribe(&bus, SymbolFilter::Only(wanted.clone()), start).await?;
        let reports = OutcomeSubscriber::start(&bus).await?;
        let (wanted_tx, wanted_rx) = watch::channel(wanted.clone());
        let (market_stop, market_stop_rx) = watch::channel(false);
        let (stop, stop_rx) = watch::channel(false);
        let (status_tx, status_rx) = watch::channel(HostStatus {
            role: Role::Strategies,
            state: HostState::Running,
            lag: None,
            symbols: wanted,
        });
        let (market_tx, market_rx) = crossbeam_channel::bounded(MARKET_QUEUE);
        let (report_tx, report_rx) = crossbeam_channel::bounded(MARKET_QUEUE);
        let (ack_tx, ack_rx) = mpsc::unbounded_channel();
        let (saved_tx, saved_rx) = mpsc::unbounded_channel();
        let (route, order_rx, counters) = OrderRoute::new();
        let checkpoint = Arc::new(Mutex::new(checkpoint));
        let (deployment, follower) = Deployment::following(&bus, stopped(stop_rx.clone())).await?;
        let tasks = vec![
            follower,
            tokio::spawn(read_market(
                subscriber,
                market_tx,
                wanted_rx,
                status_tx,
                market_stop_rx,
            )),
            tokio::spawn(read_reports(reports, report_tx, stop_rx.clone())),
            tokio::spawn(acknowledge(
                ack_rx,
                saved_rx,
                bus.config().ack_wait,
                stop_rx.clone(),
            )),
            tokio::spawn(publish_orders(
                OrderPublisher::new(&bus),
                order_rx,
                (checkpoint.clone(), state_dir.clone()),
                counters.clone(),
                stop_rx.clone(),
            )),
            report_health(&bus, status_rx, stopped(stop_rx)),
        ];
        let link = StrategyLink {
            bus,
            wanted: Arc::new(wanted_tx),
            market_stop,
            stop,
            deployment,
            checkpointer: Checkpointer {
                checkpoint,
                state_dir,
                counters,
                saved: saved_tx,
            },
            tasks,
        };
        let parts = LinkParts {
            inputs: LinkInputs {
                market: market_rx,
                reports: report_rx,
                acks: ack_tx,
                board,
                position,
                mirrored,
            },
            route,
        };
        Ok((link, parts))
    }

    /// The deployment's hosts, for the status API.
    pub fn deployment(&self) -> Deployment {
        self.deployment.clone()
    }

    /// The checkpoint side, for the saver thread.
    pub fn checkpointer(&self) -> Checkpointer {
        self.checkpointer.clone()
    }

    /// A way to say, from any thread, which symbols the plugins want now: the market
    /// subscription and the health record (read by the feed host) follow.
    pub fn symbols_handle(&self) -> impl Fn(Vec<Symbol>) + Send + 'static {
        let wanted = self.wanted.clone();
        move |symbols| {
            wanted.send_if_modified(|w| {
                let changed = *w != symbols;
                *w = symbols;
                changed
            });
        }
    }

    /// Stop reading market data (the first step of a shutdown: what was not handled is
    /// read again after the restart).
    pub fn stop_market(&self) {
        let _ = self.market_stop.send(true);
    }

    /// Stop every task and close the connection.
    pub async fn stop(self) {
        let _ = self.market_stop.send(true);
        let _ = self.stop.send(true);
        for task in self.tasks {
            if tokio::time::timeout(Duration::from_secs(3), task)
                .await
                .is_err()
            {
                tracing::warn!(target: "tradehost::bus", "a bus task did not stop within 3 s");
            }
        }
        self.bus.close().await;
    }
}

/// Completes when `stop` turns true (or its sender is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    until_set(&mut stop).await;
}

/// Completes when `flag` turns true (or its sender is gone); holds no borrow of it after.
async fn until_set(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|s| *s).await;
}

/// Sends `item` to the engine thread, waiting for room without holding up the runtime.
fn to_engine<T>(tx: &Sender<T>, item: T) -> bool {
    tokio::task::block_in_place(|| tx.send(item).is_ok())
}

/// The market reader: events of the wanted symbols, each with its stream position.
async fn read_market(
    mut subscriber: MarketSubscriber,
    tx: Sender<Positioned>,
    mut wanted: watch::Receiver<Vec<Symbol>>,
    status: watch::Sender<HostStatus>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let event = tokio::select! {
            biased;
            _ = until_set(&mut stop) => break,
            changed = wanted.changed() => {
                if changed.is_err() {
                    break;
                }
                let symbols = wanted.borrow_and_update().clone();
                status.send_modify(|s| s.symbols = symbols.clone());
                if let Err(e) = subscriber.set_filter(SymbolFilter::Only(symbols)).await {
                    tracing::warn!(target: "tradehost::bus", "cannot change the market subscription: {e}");
                }
                continue;
            }
            event = subscriber.next() => event,
        };
        let Some(event) = event else { break };
        let lag = subscriber.lag();
        status.send_if_modified(|s| {
            let changed = s.lag != Some(lag);
            s.lag = Some(lag);
            changed
        });
        let position = subscriber.position();
        if !to_engine(&tx, Positioned { event, position }) {
            break;
        }
    }
}

/// The reports reader: outcomes and fills of this host's plugins.
async fn read_reports(
    mut reports: OutcomeSubscriber,
    tx: Sender<ReportDelivery>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let delivery = tokio::select! {
            _ = until_set(&mut stop) => break,
            d = reports.next() => d,
        };
        let Some(delivery) = delivery else { break };
        if !to_engine(&tx, delivery) {
            break;
        }
    }
}

/// Acknowledges handled reports once a checkpoint that includes them is saved, and keeps
/// the others from being delivered again meanwhile.
async fn acknowledge(
    mut items: mpsc::UnboundedReceiver<AckItem>,
    mut saved: mpsc::UnboundedReceiver<u64>,
    ack_wait: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut pending: VecDeque<AckItem> = VecDeque::new();
    let mut progress = tokio::time::interval((ack_wait / 3).max(Duration::from_millis(100)));
    loop {
        tokio::select! {
            _ = until_set(&mut stop) => break,
            item = items.recv() => match item {
                Some(item) => pending.push_back(item),
                None => break,
            },
            mark = saved.recv() => match mark {
                Some(mark) => ack_through(&mut pending, mark).await,
                None => break,
            },
            _ = progress.tick() => {
                for item in &pending {
                    if let AckItem::Handled(d) = item
                        && let Err(e) = d.in_progress().await
                    {
                        tracing::debug!(target: "tradehost::bus", "{e}");
                    }
                }
            }
        }
    }
    // A checkpoint saved just before the stop still acknowledges its reports.
    while let Ok(item) = items.try_recv() {
        pending.push_back(item);
    }
    while let Ok(mark) = saved.try_recv() {
        ack_through(&mut pending, mark).await;
    }
}

/// Acknowledges every report before checkpoint `mark`.
async fn ack_through(pending: &mut VecDeque<AckItem>, mark: u64) {
    while let Some(item) = pending.pop_front() {
        match item {
            AckItem::Handled(d) => {
                if let Err(e) = d.ack().await {
                    tracing::debug!(target: "tradehost::bus", "{e}");
                }
            }
            AckItem::Mark(m) if m >= mark => return,
            AckItem::Mark(_) => {}
        }
    }
}

/// Publishes the plugins' orders in the order they were made, each action until stored.
async fn publish_orders(
    publisher: OrderPublisher,
    mut orders: mpsc::Receiver<RoutedOrder>,
    (checkpoint, state_dir): (Arc<Mutex<BusCheckpoint>>, PathBuf),
    counters: Arc<RouteCounters>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let order = tokio::select! {
            _ = until_set(&mut stop) => break,
            order = orders.recv() => order,
        };
        let Some(order) = order else { break };
        let instance = {
            let now = chrono::Utc::now().timestamp().max(0) as u64;
            let mut c = checkpoint.lock().unwrap_or_else(PoisonError::into_inner);
            let known = c.instances.contains_key(&*order.plugin);
            let instance = c.instance_of(&order.plugin, now);
            // On disk before the first order leaves: a restart from an older snapshot must
            // make this instance's orders again, not a new instance's.
            if !known && let Err(e) = c.save(&state_dir) {
                tracing::error!(target: "tradehost::bus", "{e}; after a restart, orders of plugin {} made since the last checkpoint may be sent twice", order.plugin);
            }
            instance
        };
        let plugin = PluginInstance {
            name: order.plugin.clone(),
            instance,
        };
        for action in order.actions {
            // An order is never dropped here: the bus may be down for a while.
            while let Err(e) = publisher.send(&plugin, action.clone(), order.cause).await {
                tracing::warn!(target: "tradehost::bus", "order of plugin {} not stored yet: {e}; retrying", plugin.name);
                tokio::select! {
                    _ = until_set(&mut stop) => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
        counters
            .published
            .fetch_add(1, std::sync::atomic::Ordering::Release);
    }
}
