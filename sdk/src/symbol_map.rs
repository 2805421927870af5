//! [`SymbolMap`]: state per symbol, looked up on every trade.
//!
//! A strategy keeps state for each symbol it trades, usually a handful, and looks it up on
//! every trade. A `BTreeMap` walks a node and compares keys three ways for each lookup; this
//! map keeps its entries in one vector sorted by id, scanned straight for a few symbols and
//! searched by halves for many. It serializes as a map of id to value, exactly as a
//! `BTreeMap<SymbolId, T>` does, so a snapshot taken with either restores into the other.

use crate::types::SymbolId;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// Entries up to which a lookup scans instead of searching by halves.
const SCAN: usize = 16;

/// A map from symbol id to `T`, in id order, made for lookups on every trade.
#[derive(Debug, Clone, PartialEq)]
pub struct SymbolMap<T> {
    entries: Vec<(SymbolId, T)>,
}

impl<T> Default for SymbolMap<T> {
    fn default() -> Self {
        SymbolMap {
            entries: Vec::new(),
        }
    }
}

impl<T> SymbolMap<T> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The place of `id`, or where it would go.
    #[inline]
    fn find(&self, id: SymbolId) -> Result<usize, usize> {
        if self.entries.len() <= SCAN {
            for (i, (k, _)) in self.entries.iter().enumerate() {
                if *k >= id {
                    return if *k == id { Ok(i) } else { Err(i) };
                }
            }
            return Err(self.entries.len());
        }
        self.entries.binary_search_by_key(&id, |(k, _)| *k)
    }

    /// The value of `id`, if any.
    #[inline]
    pub fn get(&self, id: SymbolId) -> Option<&T> {
        self.find(id).ok().map(|i| &self.entries[i].1)
    }

    /// The value of `id`, to change, if any.
    #[inline]
    pub fn get_mut(&mut self, id: SymbolId) -> Option<&mut T> {
        match self.find(id) {
            Ok(i) => Some(&mut self.entries[i].1),
            Err(_) => None,
        }
    }

    /// The value of `id`, made with `make` first if there is none.
    pub fn get_or_insert_with(&mut self, id: SymbolId, make: impl FnOnce() -> T) -> &mut T {
        let i = match self.find(id) {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, (id, make()));
                i
            }
        };
        &mut self.entries[i].1
    }

    /// True when `id` has a value.
    pub fn contains_key(&self, id: SymbolId) -> bool {
        self.find(id).is_ok()
    }

    /// Sets the value of `id`; returns the previous one.
    pub fn insert(&mut self, id: SymbolId, value: T) -> Option<T> {
        match self.find(id) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (id, value));
                None
            }
        }
    }

    /// Removes the value of `id`, returning it.
    pub fn remove(&mut self, id: SymbolId) -> Option<T> {
        self.find(id).ok().map(|i| self.entries.remove(i).1)
    }

    /// Removes every value.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// How many symbols have a value.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no symbol has a value.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every id and value, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (SymbolId, &T)> {
        self.entries.iter().map(|(k, v)| (*k, v))
    }

    /// Every id and value, to change, in id order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (SymbolId, &mut T)> {
        self.entries.iter_mut().map(|(k, v)| (*k, v))
    }
}

impl<T> FromIterator<(SymbolId, T)> for SymbolMap<T> {
    /// The map of `pairs`; of two values for one id, the last wins.
    fn from_iter<I: IntoIterator<Item = (SymbolId, T)>>(pairs: I) -> Self {
        let mut map = SymbolMap::new();
        for (k, v) in pairs {
            map.insert(k, v);
        }
        map
    }
}

impl<T: Serialize> Serialize for SymbolMap<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.entries.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for SymbolMap<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<SymbolId, T>::deserialize(deserializer)?;
        Ok(SymbolMap {
            entries: map.into_iter().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_ids_in_order_and_finds_them_few_or_many() {
        for n in [3u32, 40] {
            let mut m = SymbolMap::new();
            // Inserted out of order, one id twice.
            for id in (0..n).rev().chain([n / 2]) {
                m.insert(id * 10, id);
            }
            assert_eq!(m.len(), n as usize, "n={n}");
            assert!(m.iter().map(|(k, _)| k).eq((0..n).map(|i| i * 10)));
            assert_eq!(m.get(20), Some(&2));
            assert_eq!(m.get(25), None, "between two ids");
            assert_eq!(m.get(n * 10), None, "past the last");
            *m.get_mut(0).unwrap() += 100;
            assert_eq!(m.get(0), Some(&100));
            assert_eq!(*m.get_or_insert_with(5, || 7), 7);
            assert_eq!(*m.get_or_insert_with(5, || 9), 7, "made once");
            assert_eq!(m.remove(5), Some(7));
            assert!(!m.contains_key(5));
        }
    }

    #[test]
    fn snapshots_are_those_of_a_btree_map_both_ways() {
        let tree: BTreeMap<SymbolId, String> = [(7, "b".to_string()), (2, "a".to_string())].into();
        let bytes = rmp_serde::to_vec_named(&tree).unwrap();
        let map: SymbolMap<String> = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(map.get(2).map(String::as_str), Some("a"));
        assert_eq!(rmp_serde::to_vec_named(&map).unwrap(), bytes);
        let back: BTreeMap<SymbolId, String> =
            rmp_serde::from_slice(&rmp_serde::to_vec_named(&map).unwrap()).unwrap();
        assert_eq!(back, tree);
    }
}
