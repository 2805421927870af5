//! Deterministic order ids: (host, plugin, instance, action and tag).
//!
//! A strategy host that restarts from a plugin's snapshot and replays the same events makes
//! the same orders with the same tags (the SDK hands out increasing tags and keeps the counter
//! in the snapshot), so they get the same ids: the server drops the repeats within its dedup
//! window (`Nats-Msg-Id`) and the broker drops them after it ([`HandledOrders`]).
//!
//! `instance` is the lineage of the plugin's state: it stays the same while the plugin is
//! restored from its snapshots and changes when the plugin starts from scratch (its tags then
//! start again at 1, and must not collide with the old ones).
//!
//! [`HandledOrders`]: super::handled::HandledOrders

use super::error::BusError;
use super::subject::{HostName, token, untoken};
use crate::types::PluginAction;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// A plugin as the order sink knows it: its name and the lineage of its state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PluginInstance {
    /// The plugin's name, unique in the deployment (the broker keys positions by it).
    pub name: Arc<str>,
    /// Changes when the plugin starts without a snapshot; kept while it is restored from one.
    pub instance: u32,
}

/// Which action of a plugin an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ActionKey {
    /// Placing the order with this tag.
    Place(u32),
    /// Cancelling the orders with this tag.
    Cancel(u32),
}

impl ActionKey {
    /// The key of `action`.
    pub fn of(action: &PluginAction) -> ActionKey {
        match action {
            PluginAction::Place(o) => ActionKey::Place(o.tag),
            PluginAction::Cancel(tag) => ActionKey::Cancel(*tag),
        }
    }
}

/// The id of one action of one plugin instance, the same every time it is made.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrderId {
    /// The strategy host that runs the plugin.
    pub host: HostName,
    /// The plugin and the lineage of its state.
    pub plugin: PluginInstance,
    /// The action and its tag.
    pub key: ActionKey,
}

impl OrderId {
    /// The id of `action` of `plugin` on `host`.
    pub fn new(host: &HostName, plugin: &PluginInstance, action: &PluginAction) -> OrderId {
        OrderId {
            host: host.clone(),
            plugin: plugin.clone(),
            key: ActionKey::of(action),
        }
    }
}

/// `host/plugin/instance/p7` (place tag 7) or `.../c7` (cancel tag 7); the plugin name is
/// percent-encoded, so the text has exactly four `/`-separated parts.
impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (letter, tag) = match self.key {
            ActionKey::Place(t) => ('p', t),
            ActionKey::Cancel(t) => ('c', t),
        };
        write!(
            f,
            "{}/{}/{}/{letter}{tag}",
            self.host,
            token(&self.plugin.name),
            self.plugin.instance
        )
    }
}

impl FromStr for OrderId {
    type Err = BusError;

    fn from_str(s: &str) -> Result<OrderId, BusError> {
        let bad = |reason: &str| BusError::InvalidName {
            what: "order id",
            value: s.to_string(),
            reason: format!("{reason}; expected host/plugin/instance/p<tag> or .../c<tag>"),
        };
        let parts: Vec<&str> = s.split('/').collect();
        let [host, plugin, instance, action] = parts[..] else {
            return Err(bad("it does not have four parts"));
        };
        let host = HostName::new(host)?;
        let name = untoken(plugin).ok_or_else(|| bad("the plugin name is not valid UTF-8"))?;
        let instance = instance
            .parse()
            .map_err(|_| bad("the instance is not a number"))?;
        let tag = |t: &str| t.parse::<u32>().map_err(|_| bad("the tag is not a number"));
        let key = match action.split_at_checked(1) {
            Some(("p", t)) => ActionKey::Place(tag(t)?),
            Some(("c", t)) => ActionKey::Cancel(tag(t)?),
            _ => return Err(bad("the action is neither p<tag> nor c<tag>")),
        };
        Ok(OrderId {
            host,
            plugin: PluginInstance {
                name: name.into(),
                instance,
            },
            key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_and_parse_back() {
        let host = HostName::new("strat-1").unwrap();
        let plugin = PluginInstance {
            name: "sma/crossover v2".into(),
            instance: 3,
        };
        for key in [ActionKey::Place(7), ActionKey::Cancel(u32::MAX)] {
            let id = OrderId {
                host: host.clone(),
                plugin: plugin.clone(),
                key,
            };
            let text = id.to_string();
            assert_eq!(text.split('/').count(), 4, "{text}");
            assert_eq!(text.parse::<OrderId>().unwrap(), id);
        }
        assert_eq!(
            OrderId::new(&host, &plugin, &PluginAction::Cancel(4)).to_string(),
            "strat-1/sma%2Fcrossover%20v2/3/c4"
        );
    }

    #[test]
    fn bad_ids_say_what_is_wrong() {
        // TC: (text, words the error must contain)
        let cases = [
            ("a/b/1", "four parts"),
            ("a/b/x/p1", "instance is not a number"),
            ("a/b/1/p", "tag is not a number"),
            ("a/b/1/q1", "neither p<tag> nor c<tag>"),
            ("a.b/b/1/p1", "host name"),
            ("a/%FF/1/p1", "not valid UTF-8"),
        ];
        for (text, words) in cases {
            let e = text.parse::<OrderId>().unwrap_err().to_string();
            assert!(e.contains(words), "{text}: {e}");
        }
    }
}
