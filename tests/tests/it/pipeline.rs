//! The engine pipeline with a real plugin: a model prediction reaches the prediction
//! strategy (as an event and through the `latest-prediction` host import), its order goes
//! through the broker's risk checks and becomes a journaled paper fill on the next trade.

use std::time::Duration;
use tradehost::types::Prediction;
use tradehost_tests::engine_harness::live_pipeline;
use tradehost_tests::guests;
use tradehost_tests::plugin_harness::real_trades;

#[test]
fn a_prediction_reaches_the_prediction_strategy_and_becomes_a_fill() {
    let dir = tempfile::tempdir().unwrap();
    let trades = real_trades("SPY", 400);
    let (mut pipeline, journal) = live_pipeline(
        dir.path(),
        guests::PREDICTION_FOLLOWER,
        "follower",
        trades[0].time_ms,
    );

    // Before any prediction: trades flow, the strategy stays flat.
    for chunk in trades[..200].chunks(50) {
        pipeline.on_trades(chunk);
        assert!(pipeline.settle(Duration::from_secs(20)));
    }
    assert_eq!(
        pipeline.broker().totals().orders,
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
    pipeline.on_prediction(&prediction);
    assert!(pipeline.settle(Duration::from_secs(20)));
    for chunk in trades[200..].chunks(50) {
        pipeline.on_trades(chunk);
        assert!(pipeline.settle(Duration::from_secs(20)));
    }
    let b = pipeline.broker();
    let position = b.position("follower", "SPY");
    assert!(
        b.totals().fills >= 1 && position.quantity > 0.0,
        "no long position after a bullish forecast: {:?}",
        b.totals()
    );
    let records = tradehost::broker::Journal::read_all(&journal)
        .unwrap()
        .records;
    assert!(
        records
            .iter()
            .any(|r| matches!(r, tradehost::broker::JournalRecord::Fill { .. }))
    );
}
