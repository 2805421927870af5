//! Pieces for the bus tests: settings with short times, and a broker host made of a real
//! `PaperBroker` with its journal on disk behind the bus's `OrderApplier`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tradehost::broker::{BrokerConfig, BrokerOutcome, FsyncPolicy, PaperBroker};
use tradehost::bus::{
    ApplyError, BusConfig, HandledOrders, HostName, OrderApplier, OrderMessage, apply_to_broker,
};
use tradehost::types::Trade;

/// Settings for host `host` on `url`, with the times shortened so tests finish quickly.
pub fn test_config(url: &str, host: &str) -> BusConfig {
    let mut c = BusConfig::new(url, HostName::new(host).expect("a valid test host name"));
    c.dedup_window = Duration::from_secs(1);
    c.ack_wait = Duration::from_secs(2);
    c.publish_timeout = Duration::from_secs(5);
    c.lease_ttl = Duration::from_secs(1);
    c.health_interval = Duration::from_millis(200);
    c.max_lag = Duration::from_millis(300);
    c.reconnect_max_delay = Duration::from_millis(200);
    c
}

/// A broker whose journal is `dir/journal.bin`, risk limits loose, fsync always.
pub fn broker_config(dir: &Path) -> BrokerConfig {
    BrokerConfig {
        journal_path: dir.join("journal.bin"),
        fsync: FsyncPolicy::Always,
        max_orders_per_sec: 10_000,
        ..BrokerConfig::default()
    }
}

/// Opens the broker at `dir` as the broker role does: the handled orders come from the journal.
pub fn open_broker(dir: &Path) -> anyhow::Result<(PaperBroker, HandledOrders)> {
    let mut handled = HandledOrders::new();
    let (broker, _) = PaperBroker::open_with(broker_config(dir), |r| handled.observe(r))?;
    Ok((broker, handled))
}

/// The broker role's applier over a real paper broker, with a way to stop it dead after the
/// journal append of one order, as `kill -9` would.
pub struct TestBroker {
    /// The broker; its journal is on disk.
    pub broker: PaperBroker,
    /// When set, the order with this tag is journaled and then the applier never returns.
    pub hang_after_tag: Option<u32>,
    /// Notified when the applier hangs.
    pub hung: Arc<Notify>,
}

impl TestBroker {
    /// A broker that knows SPY trades at `price`.
    pub fn new(mut broker: PaperBroker, price: f64) -> TestBroker {
        broker.on_trade(&Trade {
            symbol: "SPY".into(),
            price,
            size: 100.0,
            time_ms: 1,
        });
        TestBroker {
            broker,
            hang_after_tag: None,
            hung: Arc::new(Notify::new()),
        }
    }
}

#[async_trait::async_trait]
impl OrderApplier for TestBroker {
    async fn apply(&mut self, order: &OrderMessage) -> Result<Vec<BrokerOutcome>, ApplyError> {
        let outcomes = apply_to_broker(&mut self.broker, order, 2)?;
        let tag = match &order.action {
            tradehost::types::PluginAction::Place(o) => o.tag,
            tradehost::types::PluginAction::Cancel(t) => *t,
        };
        if self.hang_after_tag == Some(tag) {
            self.hung.notify_one();
            std::future::pending::<()>().await;
        }
        Ok(outcomes)
    }
}
