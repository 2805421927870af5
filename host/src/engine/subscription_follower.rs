//! Keeps the market data coming for what the plugins want: after every change of the loaded
//! plugins, the feed is told to subscribe to new symbols and drop unwanted ones (and a
//! strategy host tells the bus link, which reads only the wanted symbols' subjects).

use super::status_source::FeedState;
use crate::feed::FeedSubscriber;
use crate::plugins::PluginHost;
use crate::types::Symbol;
use std::collections::BTreeSet;
use std::sync::Mutex;

/// The symbols subscribed so far and where to ask for more.
pub struct SubscriptionFollower {
    /// The feed client's subscriptions (none on a strategy host or in a replay).
    feed: Option<FeedSubscriber>,
    /// A strategy host's bus link: the symbols its market reader reads.
    bus: Option<Box<dyn Fn(Vec<Symbol>) + Send>>,
    /// `SYMBOLS`: subscribed whether a plugin wants them or not.
    always: BTreeSet<String>,
    /// What the feed is subscribed to now.
    subscribed: BTreeSet<String>,
}

impl SubscriptionFollower {
    /// A follower with nothing subscribed yet.
    pub fn new(
        feed: Option<FeedSubscriber>,
        bus: Option<Box<dyn Fn(Vec<Symbol>) + Send>>,
        always: BTreeSet<String>,
    ) -> SubscriptionFollower {
        SubscriptionFollower {
            feed,
            bus,
            always,
            subscribed: BTreeSet::new(),
        }
    }

    /// Subscribes to what `plugins` want now, unsubscribes from what none wants, and
    /// records the subscriptions in `feed_state` for the status API.
    pub fn follow(&mut self, plugins: &PluginHost, feed_state: &Mutex<FeedState>) {
        if let Some(want) = &self.bus {
            want(
                plugins
                    .wanted_symbols()
                    .into_iter()
                    .map(Into::into)
                    .collect(),
            );
        }
        let Some(sub) = &self.feed else { return };
        let wanted: BTreeSet<String> = plugins
            .wanted_symbols()
            .union(&self.always)
            .cloned()
            .collect();
        for s in wanted.difference(&self.subscribed) {
            if let Err(e) = sub.subscribe(s) {
                tracing::warn!(target: "tradehost::feed", "cannot subscribe to {s}: {e}");
            }
        }
        for s in self.subscribed.difference(&wanted) {
            let _ = sub.unsubscribe(s);
        }
        if let Ok(mut st) = feed_state.lock() {
            st.subscriptions = wanted.iter().cloned().collect();
        }
        self.subscribed = wanted;
    }
}
