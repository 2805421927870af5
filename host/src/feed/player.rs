//! The paced replay source: trades from a file sent as [`FeedEvent`]s, in time or at full speed.
//!
//! The file is read on a blocking thread (a [`TradeReader`] is synchronous) and handed over in
//! chunks; the async side groups trades that share a timestamp into one `Trades` event and, when
//! paced, sends each group when `(t - t_first) / speed` has elapsed on the tokio clock. Replay
//! never drops: it waits for the consumer. It ends with `EndOfData`, or `Terminated` naming the
//! bad row.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::types::Trade;

use super::error::FeedError;
use super::event::{FeedEvent, FeedStatus, TradeBatch};
use crate::data::TradeReader;

/// Trades handed from the reading thread to the pacer at a time.
const CHUNK: usize = 4096;

/// How fast to replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// As fast as the consumer takes it; batches of up to 4096 trades.
    Unpaced,
    /// Timestamps divided by this factor (1 = real time, 10 = ten times faster).
    Speed(f64),
}

/// What a replay did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Trades sent.
    pub trades: u64,
    /// Trades events sent.
    pub events: u64,
}

/// Replay `reader` into `events`, then send `EndOfData`. A bad row stops the replay with
/// `Terminated` and the error; a closed channel stops it quietly.
pub async fn play(
    reader: TradeReader,
    pace: Pace,
    events: mpsc::Sender<FeedEvent>,
) -> Result<ReplaySummary, FeedError> {
    let (chunks_tx, mut chunks) = mpsc::channel::<Result<Vec<Trade>, FeedError>>(4);
    let reading = tokio::task::spawn_blocking(move || {
        let mut chunk = Vec::with_capacity(CHUNK);
        for item in reader {
            match item {
                Ok(t) => chunk.push(t),
                Err(e) => {
                    // The good rows before the bad one are still replayed.
                    if !chunk.is_empty() && chunks_tx.blocking_send(Ok(chunk)).is_err() {
                        return;
                    }
                    let _ = chunks_tx.blocking_send(Err(e.into()));
                    return;
                }
            }
            if chunk.len() == CHUNK {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                if chunks_tx.blocking_send(Ok(full)).is_err() {
                    return;
                }
            }
        }
        if !chunk.is_empty() {
            let _ = chunks_tx.blocking_send(Ok(chunk));
        }
    });

    let mut summary = ReplaySummary::default();
    let mut clock: Option<(Instant, i64)> = None;
    let mut group: Vec<Trade> = Vec::new();
    let result = loop {
        let chunk = match chunks.recv().await {
            None => break Ok(()),
            Some(Err(e)) => break Err(e),
            Some(Ok(chunk)) => chunk,
        };
        let step = match pace {
            Pace::Unpaced => send(&events, chunk, &mut summary).await,
            Pace::Speed(speed) => {
                let mut r = Ok(());
                for trade in chunk {
                    if group.last().is_some_and(|g| g.time_ms != trade.time_ms) {
                        r = paced(
                            &events,
                            std::mem::take(&mut group),
                            speed,
                            &mut clock,
                            &mut summary,
                        )
                        .await;
                        if r.is_err() {
                            break;
                        }
                    }
                    group.push(trade);
                }
                r
            }
        };
        if step.is_err() {
            return Ok(summary);
        }
    };
    if let Pace::Speed(speed) = pace
        && !group.is_empty()
        && paced(&events, group, speed, &mut clock, &mut summary)
            .await
            .is_err()
    {
        return Ok(summary);
    }
    let _ = reading.await;
    match result {
        Ok(()) => {
            let _ = events.send(FeedEvent::Status(FeedStatus::EndOfData)).await;
            Ok(summary)
        }
        Err(e) => {
            let reason = e.to_string();
            tracing::error!("replay stopped: {reason}");
            let _ = events
                .send(FeedEvent::Status(FeedStatus::Terminated { reason }))
                .await;
            Err(e)
        }
    }
}

/// Send a group of same-time trades when its time has come.
async fn paced(
    events: &mpsc::Sender<FeedEvent>,
    group: Vec<Trade>,
    speed: f64,
    clock: &mut Option<(Instant, i64)>,
    summary: &mut ReplaySummary,
) -> Result<(), ()> {
    let time = group[0].time_ms;
    let (start, t0) = *clock.get_or_insert((Instant::now(), time));
    let offset = ((time - t0).max(0) as f64 / 1000.0 / speed.max(1e-9)).min(1e9);
    tokio::time::sleep_until(start + Duration::from_secs_f64(offset)).await;
    send(events, group, summary).await
}

async fn send(
    events: &mpsc::Sender<FeedEvent>,
    trades: Vec<Trade>,
    summary: &mut ReplaySummary,
) -> Result<(), ()> {
    let n = trades.len() as u64;
    events
        .send(FeedEvent::Trades(TradeBatch::new(trades)))
        .await
        .map_err(|_| ())?;
    summary.trades += n;
    summary.events += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::data::memory_source;

    fn reader(text: &'static str) -> TradeReader {
        TradeReader::from_source("mem.csv", memory_source(text.as_bytes())).unwrap()
    }

    const THREE_SECONDS: &str = "timestamp,symbol,price,size\n\
        2013-10-07T13:30:00.000Z,SPY,1,1\n\
        2013-10-07T13:30:00.000Z,BAC,2,1\n\
        2013-10-07T13:30:01.000Z,SPY,3,1\n\
        2013-10-07T13:30:03.000Z,SPY,4,1\n";

    #[tokio::test(start_paused = true)]
    async fn paced_replay_follows_timestamps_times_speed() {
        // (speed, expected arrival offsets in ms of the three same-time groups)
        let table = [
            (1.0, [0, 1000, 3000]),
            (10.0, [0, 100, 300]),
            (0.5, [0, 2000, 6000]),
        ];
        for (speed, want) in table {
            let (tx, mut rx) = mpsc::channel(16);
            let start = Instant::now();
            let task = tokio::spawn(play(reader(THREE_SECONDS), Pace::Speed(speed), tx));
            let mut arrivals = Vec::new();
            let mut sizes = Vec::new();
            while let Some(ev) = rx.recv().await {
                match ev {
                    FeedEvent::Trades(t) => {
                        arrivals.push(start.elapsed().as_millis() as u64);
                        sizes.push(t.len());
                    }
                    FeedEvent::Status(s) => assert_eq!(s, FeedStatus::EndOfData),
                }
            }
            assert_eq!(arrivals, want, "speed {speed}");
            assert_eq!(sizes, [2, 1, 1]);
            assert_eq!(
                task.await.unwrap().unwrap(),
                ReplaySummary {
                    trades: 4,
                    events: 3
                }
            );
        }
    }

    #[tokio::test]
    async fn unpaced_replay_of_the_demo_file_sends_everything_then_end_of_data() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo_trades_2013-10-07.csv.gz");
        let (tx, mut rx) = mpsc::channel(8);
        let task = tokio::spawn(play(TradeReader::open(path).unwrap(), Pace::Unpaced, tx));
        let (mut trades, mut last) = (0, None);
        while let Some(ev) = rx.recv().await {
            match ev {
                FeedEvent::Trades(t) => trades += t.len(),
                FeedEvent::Status(s) => last = Some(s),
            }
        }
        assert_eq!(trades, 58_199);
        assert_eq!(last, Some(FeedStatus::EndOfData));
        assert_eq!(task.await.unwrap().unwrap().trades, 58_199);
    }

    #[tokio::test]
    async fn a_bad_row_terminates_the_replay_naming_the_line() {
        let text = "timestamp,symbol,price,size\n2013-10-07T13:30:00Z,SPY,1,1\nnope,SPY,1,1\n";
        let (tx, mut rx) = mpsc::channel(8);
        let task = tokio::spawn(play(reader(text), Pace::Unpaced, tx));
        let (mut statuses, mut trades) = (Vec::new(), 0);
        while let Some(ev) = rx.recv().await {
            match ev {
                FeedEvent::Status(s) => statuses.push(s),
                FeedEvent::Trades(t) => trades += t.len(),
            }
        }
        assert_eq!(trades, 1, "the good row before the bad one is replayed");
        let err = task.await.unwrap().unwrap_err();
        assert!(err.to_string().starts_with("mem.csv:3:"), "{err}");
        assert!(
            matches!(&statuses[..], [FeedStatus::Terminated { reason }] if reason.contains("mem.csv:3"))
        );
    }
}
