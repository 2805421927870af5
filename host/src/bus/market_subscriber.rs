//! The strategy (and broker) side of market data: an ordered JetStream consumer on the market
//! stream, filtered to the symbols wanted, turned back into [`MarketEvent`]s.
//!
//! Nothing is skipped silently:
//! - the consumer is ordered: a message the client dropped, or a consumer the server removed
//!   while the link was down, is re-read from the last stream position, so within the
//!   stream's retention nothing is lost;
//! - what the stream no longer holds, or the publisher never stored, shows as a jump in the
//!   publisher's per-subject sequence: a [`BusNotice::Gap`] comes before the next message;
//! - a subscriber reading messages older than `max_lag` gets [`BusNotice::Behind`] once, and
//!   [`BusNotice::CaughtUp`] when it is back;
//! - the link going down and up is reported as it happens.

use super::codec::decode;
use super::connection::{Bus, Link};
use super::dead_letter;
use super::error::BusError;
use super::gap::{Gap, GapKind, SequenceTracker, Verdict};
use super::health::Lag;
use super::market_message::MarketMessage;
use super::seam::{BusNotice, MarketEvent, MarketSource};
use super::stats::BusStats;
use super::subject::{FEED_STATUS, MARKET_STREAM, market_of};
use crate::types::Symbol;
use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use async_trait::async_trait;
use futures_util::StreamExt;
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Longest life of a pull request; its idle heartbeat is half of it.
const PULL_EXPIRY: Duration = Duration::from_secs(2);

/// Which symbols a subscriber reads (feed status always comes too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SymbolFilter {
    /// Every symbol: the broker, which fills orders of any plugin.
    All,
    /// These symbols: a strategy host, the symbols its plugins want.
    Only(Vec<Symbol>),
}

/// Where a new subscription starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// With the next message published.
    Live,
    /// After this stream position ([`MarketSubscriber::position`] saved earlier): a restarted
    /// host reads on from where its snapshot was taken.
    After(u64),
}

/// Reads market events from the bus.
pub struct MarketSubscriber {
    /// The connection.
    bus: Bus,
    /// The symbols read.
    filter: SymbolFilter,
    /// The ordered consumer's messages.
    messages: pull::Ordered,
    /// Per-subject sequence checks.
    tracker: SequenceTracker,
    /// Stream position of the last message read (0 before the first).
    position: u64,
    /// True after `Behind` was reported, until `CaughtUp`.
    behind: bool,
    /// Pending messages and age of the last message read.
    lag: Lag,
    /// Events decoded but not yet returned.
    queue: VecDeque<MarketEvent>,
    /// Link state; `None` once the connection is gone for good.
    link: Option<watch::Receiver<Link>>,
}

/// The positions of the first and the last message the market stream holds.
async fn market_stream_bounds(bus: &Bus) -> Result<(u64, u64), BusError> {
    let what = format!("stream {MARKET_STREAM}");
    let mut stream = bus
        .jetstream()
        .get_stream(MARKET_STREAM)
        .await
        .map_err(|e| BusError::setup(&what, e))?;
    let state = stream
        .info()
        .await
        .map_err(|e| BusError::setup(&what, e))?
        .state
        .clone();
    Ok((state.first_sequence, state.last_sequence))
}

/// The position of the last message the market stream holds (0 when empty).
pub async fn market_stream_end(bus: &Bus) -> Result<u64, BusError> {
    Ok(market_stream_bounds(bus).await?.1)
}

impl MarketSubscriber {
    /// Subscribes to `filter`, starting at `start`.
    pub async fn subscribe(
        bus: &Bus,
        filter: SymbolFilter,
        start: StartAt,
    ) -> Result<MarketSubscriber, BusError> {
        let (policy, position) = match start {
            StartAt::Live => (DeliverPolicy::New, 0),
            StartAt::After(p) => (
                DeliverPolicy::ByStartSequence {
                    start_sequence: p + 1,
                },
                p,
            ),
        };
        let mut queue = VecDeque::new();
        if let StartAt::After(p) = start {
            // Messages after `p` that the stream no longer holds are lost to this host.
            let (first, _) = market_stream_bounds(bus).await?;
            if first > p + 1 {
                let n = first - (p + 1);
                BusStats::add(&bus.stats().missed, n);
                tracing::warn!(target: "tradehost::bus", "resuming after stream position {p}: {n} market messages (of all symbols) expired meanwhile");
                queue.push_back(notice_gap(None, "*", GapKind::Missed(n)));
            }
        }
        let messages = open(bus, &filter, policy).await?;
        let mut link = bus.link();
        link.mark_unchanged();
        Ok(MarketSubscriber {
            bus: bus.clone(),
            filter,
            messages,
            tracker: SequenceTracker::default(),
            position,
            behind: false,
            lag: Lag::default(),
            queue,
            link: Some(link),
        })
    }

    /// The stream position of the last message read: save it with a snapshot and resume with
    /// [`StartAt::After`].
    pub fn position(&self) -> u64 {
        self.position
    }

    /// How far behind the publisher the last message read was.
    pub fn lag(&self) -> Lag {
        self.lag
    }

    /// The symbols read.
    pub fn filter(&self) -> &SymbolFilter {
        &self.filter
    }

    /// Reads `filter` from now on, continuing after the last message read (the symbols kept
    /// lose nothing; new ones start at the same point).
    pub async fn set_filter(&mut self, filter: SymbolFilter) -> Result<(), BusError> {
        let policy = match self.position {
            0 => DeliverPolicy::New,
            p => DeliverPolicy::ByStartSequence {
                start_sequence: p + 1,
            },
        };
        self.messages = open(&self.bus, &filter, policy).await?;
        // A symbol dropped now and wanted again later starts afresh, not with a "gap".
        if let SymbolFilter::Only(symbols) = &filter {
            let kept: Vec<String> = symbols.iter().map(|s| market_of(s)).collect();
            self.tracker.retain(|subject| {
                subject == FEED_STATUS
                    || kept
                        .iter()
                        .any(|k| subject.starts_with(k.trim_end_matches('*')))
            });
        }
        self.filter = filter;
        Ok(())
    }

    /// The next event; `None` once the connection is closed for good.
    pub async fn next(&mut self) -> Option<MarketEvent> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(event);
            }
            let link = &mut self.link;
            let link_changed = async move {
                match link.as_mut() {
                    Some(link) => link.changed().await.map(|()| *link.borrow_and_update()),
                    None => std::future::pending().await,
                }
            };
            let woke = tokio::select! {
                biased;
                link = link_changed => Woke::Link(link.ok()),
                message = self.messages.next() => Woke::Message(message),
            };
            match woke {
                Woke::Link(Some(Link::Down)) => {
                    return Some(MarketEvent::Notice(BusNotice::LinkDown));
                }
                Woke::Link(Some(Link::Up)) => return Some(MarketEvent::Notice(BusNotice::LinkUp)),
                Woke::Link(Some(Link::Closed)) | Woke::Message(None) => return None,
                // The client is gone: the message stream ends too.
                Woke::Link(None) => self.link = None,
                Woke::Message(Some(Ok(m))) => self.read(m).await,
                Woke::Message(Some(Err(e))) => {
                    tracing::warn!(target: "tradehost::bus", "market data: {e}; reading on");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// Decodes one message and queues what it tells: a gap or lag notice, then the event.
    async fn read(&mut self, m: async_nats::jetstream::Message) {
        let stats = self.bus.stats().clone();
        let (stream_seq, pending, published_ns) = match m.info() {
            Ok(i) => (
                i.stream_sequence,
                i.pending,
                i.published.unix_timestamp_nanos(),
            ),
            Err(e) => {
                tracing::warn!(target: "tradehost::bus", "market message without JetStream metadata ({e}); skipped");
                return;
            }
        };
        self.position = self.position.max(stream_seq);
        let subject = m.subject.as_str();
        let message: MarketMessage = match decode("market", &m.payload) {
            Ok(message) => message,
            Err(e) => return dead_letter::park(&self.bus, subject, m.payload.clone(), &e).await,
        };
        match self.tracker.observe(subject, message.session, message.seq) {
            Verdict::Repeat => return BusStats::add(&stats.duplicates, 1),
            Verdict::InOrder => {}
            Verdict::AfterGap(kind) => {
                match kind {
                    GapKind::Missed(n) => BusStats::add(&stats.missed, n),
                    GapKind::NewSession => BusStats::add(&stats.new_sessions, 1),
                }
                let symbol = message.body.symbol().cloned();
                tracing::warn!(target: "tradehost::bus", "{}", Gap { symbol: symbol.clone(), subject: subject.to_string(), kind });
                self.queue.push_back(notice_gap(symbol, subject, kind));
            }
        }
        self.check_lag(pending, published_ns);
        BusStats::add(&stats.received, 1);
        self.queue
            .push_back(message.body.into_event(Instant::now()));
    }

    /// Queues `Behind` when the message is older than `max_lag`, `CaughtUp` when it is fresh
    /// again.
    fn check_lag(&mut self, pending: u64, published_ns: i128) {
        let now_ns = chrono::Utc::now()
            .timestamp_nanos_opt()
            .map_or(i128::MAX, i128::from);
        let age = Duration::from_nanos(u64::try_from(now_ns - published_ns).unwrap_or(0));
        self.lag = Lag {
            pending,
            behind_ms: u64::try_from(age.as_millis()).unwrap_or(u64::MAX),
        };
        let max = self.bus.config().max_lag;
        if !self.behind && age > max {
            self.behind = true;
            tracing::warn!(target: "tradehost::bus", "market data is {age:?} old, {pending} messages pending: this host is behind");
            self.queue.push_back(MarketEvent::Notice(BusNotice::Behind {
                pending,
                behind: age,
            }));
        } else if self.behind && age <= max / 2 {
            self.behind = false;
            tracing::info!(target: "tradehost::bus", "market data is fresh again");
            self.queue
                .push_back(MarketEvent::Notice(BusNotice::CaughtUp));
        }
    }
}

#[async_trait]
impl MarketSource for MarketSubscriber {
    async fn next_event(&mut self) -> Option<MarketEvent> {
        self.next().await
    }
}

/// What woke [`MarketSubscriber::next`].
// Lives for one match on the stack; boxing the message would cost an allocation each.
#[allow(clippy::large_enum_variant)]
enum Woke {
    /// The link changed (`None`: the connection is gone).
    Link(Option<Link>),
    /// The consumer yielded.
    Message(Option<Result<async_nats::jetstream::Message, pull::OrderedError>>),
}

/// A gap notice.
fn notice_gap(symbol: Option<Symbol>, subject: &str, kind: GapKind) -> MarketEvent {
    MarketEvent::Notice(BusNotice::Gap(Gap {
        symbol,
        subject: subject.to_string(),
        kind,
    }))
}

/// An ordered consumer of the market stream for `filter`, delivering from `policy`.
async fn open(
    bus: &Bus,
    filter: &SymbolFilter,
    policy: DeliverPolicy,
) -> Result<pull::Ordered, BusError> {
    let filter_subjects = match filter {
        SymbolFilter::All => Vec::new(),
        SymbolFilter::Only(symbols) => symbols
            .iter()
            .map(|s| market_of(s))
            .chain([FEED_STATUS.to_string()])
            .collect(),
    };
    let what = format!("a market-data consumer on {MARKET_STREAM}");
    let stream = bus
        .jetstream()
        .get_stream_no_info(MARKET_STREAM)
        .await
        .map_err(|e| BusError::setup(&what, e))?;
    let consumer = stream
        .create_consumer(pull::OrderedConfig {
            filter_subjects,
            deliver_policy: policy,
            // Pulls expire (and heartbeats come) every few seconds rather than 30 s, so a
            // consumer lost with a restarted server is noticed and recreated in seconds.
            max_expires: PULL_EXPIRY,
            ..Default::default()
        })
        .await
        .map_err(|e| BusError::setup(&what, e))?;
    consumer
        .messages()
        .await
        .map_err(|e| BusError::setup(&what, e))
}
