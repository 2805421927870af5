//! `GET /api/events`: one Server-Sent Events stream per browser. It opens with a `snapshot`
//! (everything recent, and the status document), then carries events as they happen. A
//! browser that falls behind gets a fresh snapshot instead of the events it missed; one that
//! reconnects (the daemon restarted, the network dropped) starts again from a snapshot.
//! Streams end when the daemon shuts down, so they never hold its shutdown up.

use super::Dashboard;
use super::event::LiveEvent;
use super::hub::Frame;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// How long a browser waits before reconnecting.
const RETRY: Duration = Duration::from_secs(1);

enum Step {
    Snapshot,
    Live,
    Done,
}

struct Cursor {
    dashboard: Dashboard,
    rx: tokio::sync::broadcast::Receiver<Arc<Frame>>,
    step: Step,
}

/// The SSE handler.
pub async fn events(
    State(dashboard): State<Dashboard>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // Subscribe before the snapshot is taken: nothing falls between the two (an event may
    // arrive twice, which the page tolerates: bars are replaced, fills keyed by order id).
    let rx = dashboard.hub.subscribe();
    let cursor = Cursor {
        dashboard,
        rx,
        step: Step::Snapshot,
    };
    let stream = futures_util::stream::unfold(cursor, |mut c| async move {
        loop {
            match c.step {
                Step::Done => return None,
                Step::Snapshot => {
                    c.step = Step::Live;
                    return Some((Ok(snapshot_event(&c.dashboard)), c));
                }
                Step::Live => {}
            }
            let mut closing = c.dashboard.closing.clone();
            if *closing.borrow() {
                return None;
            }
            let received = tokio::select! {
                r = c.rx.recv() => r,
                _ = closing.changed() => {
                    c.step = Step::Done;
                    continue;
                }
            };
            match received {
                Ok(frame) => {
                    let event = Event::default().event(frame.name).data(frame.data.as_str());
                    return Some((Ok(event), c));
                }
                Err(RecvError::Lagged(_)) => {
                    c.rx = c.rx.resubscribe();
                    c.step = Step::Snapshot;
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

fn snapshot_event(d: &Dashboard) -> Event {
    let snapshot = LiveEvent::Snapshot(Box::new(d.hub.snapshot(d.reporter.report())));
    let data = serde_json::to_string(&snapshot).unwrap_or_else(|e| {
        tracing::warn!("dashboard snapshot not serialised: {e}");
        "{}".into()
    });
    Event::default()
        .event(snapshot.name())
        .retry(RETRY)
        .data(data)
}
