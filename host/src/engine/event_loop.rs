//! The engine thread's loop: feed events, plugin answers, forecasts and operator commands in
//! the order they come, until stopped; then what is already queued is drained.
//!
//! A strategy host (`--role strategies`) reads its market data and its plugins' outcomes
//! from the bus instead ([`LinkInputs`]): the same pipeline handles them, and the loop keeps
//! the stream position of the last market event handled, which checkpoints save with the
//! plugins' snapshots.

use super::control::EngineCommand;
use super::feed_runtime::FeedRuntime;
use super::pipeline::Pipeline;
use crate::bus::{BusNotice, MarketEvent, OrderReport, ReportDelivery};
use crate::feed::{FeedEvent, FeedReceiver, FeedStatus};
use crate::plugins::{PluginOutput, SnapshotRequests};
use crate::status::feed::FeedState;
use crate::trainer::PredictionBoard;
use crate::types::Prediction;
use crossbeam_channel::{Receiver, Select, select, tick};
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often the loop flushes bars, follows subscriptions and publishes the broker's figures.
const TICK: Duration = Duration::from_secs(1);

/// At most this many plugin answers are handled in one turn of the loop, so that a stream of
/// them cannot keep feed frames waiting.
const TURN: usize = 64;

/// The channels the engine thread reads (besides its stop signal).
pub struct Inputs {
    /// Feed events.
    pub events: FeedReceiver,
    /// Model forecasts.
    pub predictions: Receiver<Prediction>,
    /// Operator commands (status API) and checkpoints.
    pub commands: Receiver<EngineCommand>,
    /// A strategy host's bus inputs.
    pub link: Option<LinkInputs>,
    /// The runtime the feed client runs in, when it runs on the engine thread: the loop
    /// drives it while it waits, and the senders of the other inputs ring its bell.
    pub feed_runtime: Option<FeedRuntime>,
}

/// One market event from the bus and the stream position it leaves the reader at.
#[derive(Debug)]
pub struct Positioned {
    /// The event.
    pub event: MarketEvent,
    /// The market stream's position after it.
    pub position: u64,
}

/// What a strategy host's engine thread reads from the bus.
pub struct LinkInputs {
    /// Market events of the symbols its plugins want, in the stream's order.
    pub market: Receiver<Positioned>,
    /// Outcomes and fills of its plugins' orders.
    pub reports: Receiver<ReportDelivery>,
    /// Handled reports and checkpoint marks, in order, for acknowledgement once a
    /// checkpoint that includes them is saved.
    pub acks: tokio::sync::mpsc::UnboundedSender<AckItem>,
    /// Forecasts from the feed host are also posted here (plugins' `prediction` import).
    pub board: PredictionBoard,
    /// Where the last run stopped reading (0: nothing read yet).
    pub position: u64,
    /// Order ids whose fills this host's mirror already holds (from its journal).
    pub mirrored: HashSet<u64>,
}

/// What the acknowledgement task receives, in the engine's order.
#[derive(Debug)]
pub enum AckItem {
    /// A report the plugins have been given.
    Handled(ReportDelivery),
    /// Checkpoint `n` was taken here: reports before it are in its snapshots.
    Mark(u64),
}

/// A consistent cut of a strategy host: every plugin's snapshot is taken after exactly the
/// market events up to `position` (and the reports before mark `mark`).
#[derive(Debug)]
pub struct Checkpoint {
    /// The market stream position of the last event dispatched before the snapshots.
    pub position: u64,
    /// The acknowledgement mark sent with it.
    pub mark: u64,
    /// The snapshots, to collect.
    pub snapshots: SnapshotRequests,
}

/// The loop's view of its bus link.
struct Link {
    inputs: LinkInputs,
    /// Report positions handled in this run (a report delivered twice is handled once).
    seen: HashSet<u64>,
    /// Checkpoints taken.
    marks: u64,
    /// Market data has come since start or since the bus link last went down (the status
    /// API's feed link shows the bus: this host's market data comes through it).
    up: bool,
}

/// The engine thread: handle feed events, plugin orders, predictions and operator commands
/// until `stop`, then drain what is already queued. Returns the last market stream
/// position handled (0 without a bus link).
pub fn run(
    pipeline: &mut Pipeline,
    inputs: Inputs,
    stop: &Receiver<()>,
    feed_state: &Mutex<FeedState>,
    flush_lag: Duration,
    on_tick: &mut dyn FnMut(&mut Pipeline),
) -> u64 {
    let ticker = tick(TICK);
    let mut next_tick = Instant::now() + TICK;
    let mut feed_runtime = inputs.feed_runtime;
    // A channel whose sender is gone is always ready in `select!`; swap it for one that
    // never is, so that a stopped feed (history-only mode, or a terminal error) or a
    // stopped trainer leaves the rest running instead of spinning or stopping the engine.
    let events = &inputs.events;
    let (mut feed, mut outs, mut preds, mut commands) = (
        events.receiver().clone(),
        pipeline.core.outputs.clone(),
        inputs.predictions.clone(),
        inputs.commands.clone(),
    );
    let mut link = inputs.link.map(|inputs| Link {
        inputs,
        seen: HashSet::new(),
        marks: 0,
        up: false,
    });
    let (mut market, mut reports) = match &link {
        Some(l) => (l.inputs.market.clone(), l.inputs.reports.clone()),
        None => (crossbeam_channel::never(), crossbeam_channel::never()),
    };
    loop {
        if let Some(runtime) = feed_runtime.as_mut() {
            runtime.drive_if_due();
        }
        select! {
            recv(feed) -> e => match e {
                Ok(event) => {
                    events.took();
                    handle_feed_event(pipeline, event, feed_state);
                }
                Err(_) => {
                    tracing::info!(target: "tradehost::feed", "the feed has stopped (shutting down, history-only mode, or a terminal error logged above)");
                    feed = crossbeam_channel::never();
                }
            },
            recv(market) -> m => match (m, link.as_mut()) {
                (Ok(m), Some(l)) => l.market(pipeline, m, feed_state),
                _ => market = crossbeam_channel::never(),
            },
            recv(reports) -> r => match (r, link.as_mut()) {
                (Ok(r), Some(l)) => l.report(pipeline, r),
                _ => reports = crossbeam_channel::never(),
            },
            recv(outs) -> o => match o {
                Ok(output) => pipeline.on_outputs(turn(output, &outs)),
                Err(_) => outs = crossbeam_channel::never(),
            },
            recv(preds) -> p => match p {
                Ok(p) => pipeline.on_prediction(&p),
                Err(_) => preds = crossbeam_channel::never(),
            },
            recv(commands) -> c => match c {
                Ok(EngineCommand::Barrier { reply }) => {
                    pipeline.on_outputs(outs.try_iter().collect());
                    let _ = reply.send(pipeline.routed());
                }
                Ok(command) => handle_command(pipeline, command, link.as_mut()),
                Err(_) => commands = crossbeam_channel::never(),
            },
            recv(ticker) -> _ => {
                next_tick = Instant::now() + TICK;
                pipeline.flush_bars(pipeline.core.clock.now_ms() - flush_lag.as_millis() as i64);
                on_tick(pipeline);
                pipeline.publish_broker();
            },
            recv(stop) -> _ => break,
            // Nothing is ready: wait without taking anything, then look again.
            default => match feed_runtime.as_mut() {
                Some(runtime) => runtime.idle(next_tick),
                None => {
                    let mut ready = Select::new();
                    ready.recv(&feed);
                    ready.recv(&market);
                    ready.recv(&reports);
                    ready.recv(&outs);
                    ready.recv(&preds);
                    ready.recv(&commands);
                    ready.recv(&ticker);
                    ready.recv(stop);
                    ready.ready();
                }
            },
        }
    }
    // Drain: events already received are processed, and plugin answers to them handled.
    while let Ok(event) = events.receiver().try_recv() {
        handle_feed_event(pipeline, event, feed_state);
    }
    if let Some(l) = link.as_mut() {
        while let Ok(m) = l.inputs.market.try_recv() {
            l.market(pipeline, m, feed_state);
        }
    }
    pipeline.settle(Duration::from_secs(2));
    // Commands that came too late are dropped with their reply senders, so whoever waits
    // for an answer hears "stopped" now rather than never.
    while inputs.commands.try_recv().is_ok() {}
    link.map(|l| l.inputs.position).unwrap_or(0)
}

/// `first` and the plugin answers queued behind it, up to [`TURN`]: handled as one turn, their
/// orders reach the broker one after the other before any of what follows from them is done.
fn turn(first: PluginOutput, outs: &Receiver<PluginOutput>) -> Vec<PluginOutput> {
    std::iter::once(first)
        .chain(outs.try_iter().take(TURN - 1))
        .collect()
}

impl Link {
    /// One market event from the bus.
    fn market(&mut self, pipeline: &mut Pipeline, m: Positioned, feed_state: &Mutex<FeedState>) {
        let link = match &m.event {
            MarketEvent::Notice(BusNotice::LinkDown) => Some(false),
            _ if !self.up => Some(true),
            _ => None,
        };
        if let Some(up) = link
            && let Ok(mut s) = feed_state.lock()
        {
            self.up = up;
            s.apply(&match up {
                true => FeedStatus::Connected {
                    url: "the bus (market data from the feed host)".into(),
                },
                false => FeedStatus::Disconnected {
                    reason: "lost the connection to the bus (nats-server)".into(),
                },
            });
        }
        pipeline.at_market_position(m.position);
        match m.event {
            MarketEvent::Feed(event) => handle_feed_event(pipeline, event, feed_state),
            MarketEvent::Forecast(p) => {
                self.inputs.board.publish(p.clone());
                pipeline.on_prediction(&p);
            }
            // Bars are built here from the trades, by the same aggregator as the feed
            // host's, so they are the same bars at the same point of the stream.
            MarketEvent::Bar(_) => {}
            MarketEvent::Notice(notice) => log_notice(&notice),
        }
        self.inputs.position = m.position;
    }

    /// One outcome or fill from the broker host.
    fn report(&mut self, pipeline: &mut Pipeline, delivery: ReportDelivery) {
        if self.seen.insert(delivery.position) {
            match &delivery.report {
                OrderReport::Fill(fill) => {
                    if self.inputs.mirrored.insert(fill.order_id) {
                        pipeline.on_remote_fill(fill.clone());
                    } else {
                        // In the mirror already (handled before a restart, its snapshot
                        // older): the plugin hears of it again, its position stays.
                        pipeline.deliver_remote_fill(fill.clone());
                    }
                }
                OrderReport::Outcome(outcome) => pipeline.on_remote_outcome(outcome.clone()),
            }
        }
        let _ = self.inputs.acks.send(AckItem::Handled(delivery));
    }

    /// Ask every plugin for its snapshot now, between two events.
    fn checkpoint(&mut self, pipeline: &Pipeline) -> Checkpoint {
        self.marks += 1;
        let _ = self.inputs.acks.send(AckItem::Mark(self.marks));
        Checkpoint {
            position: self.inputs.position,
            mark: self.marks,
            snapshots: SnapshotRequests(pipeline.plugins().request_snapshots()),
        }
    }
}

fn log_notice(notice: &BusNotice) {
    match notice {
        BusNotice::Gap(gap) => {
            tracing::warn!(target: "tradehost::bus", "market data gap: {gap}")
        }
        BusNotice::Behind { pending, behind } => {
            tracing::warn!(target: "tradehost::bus", "{:.1} s behind the feed host ({pending} messages waiting)", behind.as_secs_f64())
        }
        BusNotice::CaughtUp => {
            tracing::info!(target: "tradehost::bus", "caught up with the feed host")
        }
        BusNotice::LinkDown => {
            tracing::warn!(target: "tradehost::bus", "lost the connection to the bus; reconnecting")
        }
        BusNotice::LinkUp => tracing::info!(target: "tradehost::bus", "connected to the bus again"),
    }
}

fn handle_command(pipeline: &mut Pipeline, command: EngineCommand, link: Option<&mut Link>) {
    match command {
        EngineCommand::KillSwitch {
            engaged,
            reason,
            reply,
        } => {
            let result = pipeline.set_kill_switch(engaged, &reason);
            // Published before the answer: a status read after it shows the change.
            pipeline.publish_broker();
            let _ = reply.send(result);
        }
        EngineCommand::Flatten {
            plugin,
            actor,
            reply,
        } => {
            let result = super::control::flatten(pipeline, &plugin, &actor);
            pipeline.publish_broker();
            let _ = reply.send(result);
        }
        // Handled by the loop, which holds the plugins' answers.
        EngineCommand::Barrier { reply } => {
            let _ = reply.send(pipeline.routed());
        }
        EngineCommand::History { bars } => pipeline.load_history(&bars),
        EngineCommand::Checkpoint { reply } => {
            if let Some(link) = link {
                let _ = reply.send(link.checkpoint(pipeline));
            }
        }
    }
}

fn handle_feed_event(pipeline: &mut Pipeline, event: FeedEvent, feed_state: &Mutex<FeedState>) {
    match event {
        FeedEvent::Trades(batch) => pipeline.on_feed_batch(&batch),
        FeedEvent::Status(status) => {
            super::state_store::note_subscription(pipeline.plugins().symbols(), &status);
            if let Ok(mut s) = feed_state.lock() {
                s.apply(&status);
            }
        }
    }
}
