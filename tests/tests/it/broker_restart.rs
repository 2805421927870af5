//! A scale-out broker host restarted after being down reads the market stream again from
//! its journal's last position: a resting order meets the trades made while it was down,
//! fills at the first one that reaches it, and never at a trade before the order. Against
//! a real nats-server and the real `engine::broker_host`, bounded in time.

use super::bus::{connect, limit_buy, next_report, plugin, within};
use tokio::sync::oneshot;
use tradehost::broker::BrokerOutcome;
use tradehost::broker::TradePoint;
use tradehost::bus::{
    Bus, FeedPublisher, MarketEvent, MarketSubscriber, OrderPublisher, OrderReport,
    OutcomeSubscriber, StartAt, SymbolFilter,
};
use tradehost::config::Config;
use tradehost::feed::{FeedEvent, TradeBatch};
use tradehost::types::Trade;
use tradehost_tests::daemon_harness::{demo_config, free_port};
use tradehost_tests::nats_server::NatsServer;

/// A running broker host and the way to stop it.
struct BrokerHost {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl BrokerHost {
    fn start(config: Config, bus: Bus) -> BrokerHost {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            tradehost::engine::broker_host::run(config, bus, async move {
                let _ = stopped.await;
            })
            .await
            .expect("the broker host runs");
        });
        BrokerHost { stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        within("the broker host to stop", self.task).await.unwrap();
    }
}

/// One SPY trade at `price`, alone in its message.
async fn publish(publisher: &mut FeedPublisher, price: f64, time_ms: i64) {
    let trade = Trade {
        symbol: "SPY".into(),
        price,
        size: 100.0,
        time_ms,
    };
    let event = MarketEvent::Feed(FeedEvent::Trades(TradeBatch::new(vec![trade])));
    publisher.publish(&event).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_broker_fills_resting_orders_at_the_trades_it_missed() {
    let Some(server) = NatsServer::start_or_skip("a_restarted_broker_fills_resting_orders")
        .expect("nats-server starts")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = || {
        let extra = [("BROKER_SLIPPAGE_BPS", "0"), ("BROKER_FEE_BPS", "0")];
        demo_config(dir.path(), free_port(), &extra).unwrap()
    };
    let feed = connect(&server, "feed").await;
    let strategies = connect(&server, "s1").await;
    let mut inbox = OutcomeSubscriber::start(&strategies).await.unwrap();
    let mut watch = MarketSubscriber::subscribe(&feed, SymbolFilter::All, StartAt::Live)
        .await
        .unwrap();
    let mut publisher = FeedPublisher::new(&feed);

    // Trades are stamped with the wall clock, as a live feed's: the broker host accepts
    // orders at its wall clock, and an order fills only at trades of its time or later.
    let now = chrono::Utc::now().timestamp_millis();
    let first = BrokerHost::start(config(), connect(&server, "broker").await);
    publish(&mut publisher, 100.0, now).await;
    within("the first trade", watch.next()).await.unwrap();
    // The strategy host had handled the first trade when its plugin bid 99.
    let cause = watch.position();
    OrderPublisher::new(&strategies)
        .send(
            &plugin("sma"),
            limit_buy(1, 99.0),
            Some(TradePoint::new(cause, 0)),
        )
        .await
        .unwrap();
    let accepted = next_report(&mut inbox).await;
    assert!(
        matches!(
            accepted,
            OrderReport::Outcome(BrokerOutcome::Accepted { tag: 1, .. })
        ),
        "{accepted:?}"
    );
    first.stop().await;

    // While no broker runs, the price goes through the bid, then back.
    let later = chrono::Utc::now().timestamp_millis() + 1;
    publish(&mut publisher, 98.5, later).await;
    publish(&mut publisher, 100.0, later + 1).await;
    let second = BrokerHost::start(config(), connect(&server, "broker").await);
    let fill = match next_report(&mut inbox).await {
        OrderReport::Fill(fill) => fill,
        other => panic!("expected the fill, got {other:?}"),
    };
    assert_eq!((fill.tag, fill.price, fill.time_ms), (1, 98.5, later));
    second.stop().await;
}
