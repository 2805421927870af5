//! The engine thread of the daemon: it owns the [`Pipeline`] (market state, broker,
//! journal) and runs [`super::event_loop`] on its inputs until told to stop, then hands the
//! pipeline back so the journal can be flushed.

use super::engine_error::EngineError;
use super::event_loop::Inputs;
use super::pipeline::Pipeline;
use super::status_source::FeedState;
use super::subscription_follower::SubscriptionFollower;
use crate::doorbell::{Doorbell, RingingSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Bars of quiet symbols are closed this long after their period ends (late trades).
const FLUSH_LAG: Duration = Duration::from_secs(2);

/// The running engine thread.
pub struct EngineThread {
    stop: RingingSender<()>,
    thread: JoinHandle<Pipeline>,
}

impl EngineThread {
    /// Start the thread. Every second it also follows the plugins' wanted symbols
    /// (`follower`) and cancels the orders of plugins that stopped running.
    pub fn spawn(
        mut pipeline: Pipeline,
        inputs: Inputs,
        mut follower: SubscriptionFollower,
        feed_state: Arc<Mutex<FeedState>>,
        bell: Doorbell,
    ) -> Result<EngineThread, EngineError> {
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(1);
        let thread = std::thread::Builder::new()
            .name("engine".into())
            .spawn(move || {
                follower.follow(pipeline.plugins(), &feed_state);
                super::event_loop::run(
                    &mut pipeline,
                    inputs,
                    &stop_rx,
                    &feed_state,
                    FLUSH_LAG,
                    &mut |p| {
                        follower.follow(p.plugins(), &feed_state);
                        p.cancel_orphaned_orders();
                    },
                );
                pipeline
            })
            .map_err(EngineError::Thread)?;
        Ok(EngineThread {
            stop: RingingSender::new(stop_tx, bell),
            thread,
        })
    }

    /// Tell the loop to stop: it drains what it already received, settles the plugins'
    /// answers and ends. Returns the pipeline (none if the thread panicked).
    pub async fn stop(self) -> Option<Pipeline> {
        let _ = self.stop.send(());
        let thread = self.thread;
        tokio::task::spawn_blocking(move || thread.join().ok())
            .await
            .ok()
            .flatten()
    }
}
