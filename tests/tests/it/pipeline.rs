//! The engine pipeline with a real plugin: a model prediction reaches the prediction
//! strategy (as an event and through the `latest-prediction` host import), its order goes
//! through the broker's risk checks and becomes a journaled paper fill on the next trade.

use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tradehost::broker::{BrokerConfig, FsyncPolicy, PaperBroker};
use tradehost::engine::pipeline::Pipeline;
use tradehost::engine::view::{Clock, EngineView, PositionBoard};
use tradehost::market::{MarketConfig, MarketState};
use tradehost::plugins::{PluginHost, SymbolTable};
use tradehost::trainer::PredictionBoard;
use tradehost::types::Prediction;
use tradehost_tests::guests;
use tradehost_tests::plugin_harness::{real_trades, test_config};

#[test]
fn a_prediction_reaches_the_prediction_strategy_and_becomes_a_fill() {
    let dir = tempfile::tempdir().unwrap();
    let plugin_config = test_config(dir.path());
    std::fs::create_dir_all(&plugin_config.dir).unwrap();
    std::fs::copy(
        guests::PREDICTION_FOLLOWER,
        plugin_config.dir.join("follower.wasm"),
    )
    .unwrap();
    let journal = dir.path().join("journal.bin");
    let (broker, _) = PaperBroker::open(BrokerConfig {
        journal_path: journal.clone(),
        fsync: FsyncPolicy::Never,
        ..BrokerConfig::default()
    })
    .unwrap();
    let broker = Arc::new(Mutex::new(broker));
    let market = Arc::new(RwLock::new(MarketState::new(&MarketConfig::default())));
    let trades = real_trades("SPY", 400);
    let clock = Clock::Market(Arc::new(AtomicI64::new(trades[0].time_ms)));
    let board = PredictionBoard::new();
    let positions = PositionBoard::default();
    let view = Arc::new(EngineView {
        market: market.clone(),
        positions: positions.clone(),
        board: board.clone(),
        clock: clock.clone(),
    });
    let (tx, outputs) = crossbeam_channel::unbounded();
    let host = Arc::new(PluginHost::new(plugin_config, view, SymbolTable::new(), tx).unwrap());
    host.load_file(&dir.path().join("plugins/follower.wasm"), None)
        .unwrap();
    let mut pipeline = Pipeline::new(market, broker.clone(), host.clone(), None, clock, positions);

    // Before any prediction: trades flow, the strategy stays flat.
    for chunk in trades[..200].chunks(50) {
        pipeline.on_trades(chunk);
        assert!(pipeline.settle(&outputs, Duration::from_secs(20)));
    }
    assert_eq!(
        broker.lock().unwrap().totals().orders,
        0,
        "traded without a prediction"
    );

    // A fresh forecast of +1% over 5 one-minute bars.
    let prediction = Prediction {
        symbol: "SPY".into(),
        expected_return: 0.01,
        horizon_bars: 5,
        model_version: 1,
        time_ms: trades[199].time_ms,
        bar_secs: 60,
    };
    board.publish(prediction.clone());
    pipeline.on_prediction(&prediction);
    assert!(pipeline.settle(&outputs, Duration::from_secs(20)));
    for chunk in trades[200..].chunks(50) {
        pipeline.on_trades(chunk);
        assert!(pipeline.settle(&outputs, Duration::from_secs(20)));
    }
    let b = broker.lock().unwrap();
    let position = b.position("follower", "SPY");
    assert!(
        b.totals().fills >= 1 && position.quantity > 0.0,
        "no long position after a bullish forecast: {:?}",
        b.totals()
    );
    drop(b);
    let records = tradehost::broker::Journal::read_all(&journal)
        .unwrap()
        .records;
    assert!(
        records
            .iter()
            .any(|r| matches!(r, tradehost::broker::JournalRecord::Fill { .. }))
    );
}
