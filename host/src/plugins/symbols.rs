//! The symbol interner: strategies see symbols as small integer ids, never as strings.
//!
//! A string field costs ~100 ns per record per boundary crossing, so trades carry a `u32`.
//! Ids are handed out in order of first use and never reused; the table can be saved and
//! loaded so that strategy state keyed by id stays valid across restarts.

use crate::types::Symbol;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// A thread-safe, append-only map between symbols and ids.
#[derive(Debug, Default, Clone)]
pub struct SymbolTable {
    inner: Arc<RwLock<Table>>,
}

#[derive(Debug, Default)]
struct Table {
    names: Vec<Symbol>,
    ids: HashMap<Symbol, u32>,
}

impl SymbolTable {
    /// An empty table.
    pub fn new() -> Self {
        SymbolTable::default()
    }

    /// A table holding `names` with ids 0, 1, 2... in that order (duplicates skipped).
    pub fn from_names<I: IntoIterator<Item = S>, S: AsRef<str>>(names: I) -> Self {
        let table = SymbolTable::new();
        for name in names {
            table.intern(name.as_ref());
        }
        table
    }

    /// The id of `name`, assigning the next free id if it is new.
    pub fn intern(&self, name: &str) -> u32 {
        if let Some(id) = self.id(name) {
            return id;
        }
        let mut t = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if let Some(id) = t.ids.get(name) {
            return *id;
        }
        let id = t.names.len() as u32;
        let symbol: Symbol = Arc::from(name);
        t.names.push(symbol.clone());
        t.ids.insert(symbol, id);
        id
    }

    /// The id of a known symbol.
    pub fn id(&self, name: &str) -> Option<u32> {
        let t = self.inner.read().unwrap_or_else(|p| p.into_inner());
        t.ids.get(name).copied()
    }

    /// The symbol of a known id.
    pub fn name(&self, id: u32) -> Option<Symbol> {
        let t = self.inner.read().unwrap_or_else(|p| p.into_inner());
        t.names.get(id as usize).cloned()
    }

    /// How many symbols are interned.
    pub fn len(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .names
            .len()
    }

    /// True when no symbol is interned.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All symbols in id order (for saving the table).
    pub fn names(&self) -> Vec<Symbol> {
        let t = self.inner.read().unwrap_or_else(|p| p.into_inner());
        t.names.clone()
    }
}

/// A one-symbol memo in front of a [`SymbolTable`]: feed batches are runs of trades of one
/// symbol, and the memo answers those without the table's lock and hash.
#[derive(Debug, Default)]
pub struct SymbolMemo {
    last: Option<(Symbol, u32)>,
}

impl SymbolMemo {
    /// The id of `symbol` in `table`, interning it if new.
    pub fn intern(&mut self, table: &SymbolTable, symbol: &Symbol) -> u32 {
        match &self.last {
            Some((s, id)) if Arc::ptr_eq(s, symbol) || s == symbol => *id,
            _ => {
                let id = table.intern(symbol);
                self.last = Some((symbol.clone(), id));
                id
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_dense_stable_and_round_trip() {
        let t = SymbolTable::from_names(["SPY", "BAC", "SPY"]);
        assert_eq!(t.id("SPY"), Some(0));
        assert_eq!(t.id("BAC"), Some(1));
        assert_eq!(t.intern("IBM"), 2);
        assert_eq!(t.intern("BAC"), 1);
        assert_eq!(t.name(2).as_deref(), Some("IBM"));
        assert_eq!(t.name(9), None);
        let reloaded = SymbolTable::from_names(t.names().iter());
        assert_eq!(reloaded.id("IBM"), Some(2));
    }

    #[test]
    fn the_memo_agrees_with_the_table() {
        let t = SymbolTable::from_names(["SPY", "BAC"]);
        let mut memo = SymbolMemo::default();
        let names: Vec<Symbol> = ["BAC", "BAC", "SPY", "IBM", "SPY", "BAC"]
            .into_iter()
            .map(Symbol::from)
            .collect();
        let ids: Vec<u32> = names.iter().map(|n| memo.intern(&t, n)).collect();
        assert_eq!(ids, [1, 1, 0, 2, 0, 1]);
        assert_eq!(t.id("IBM"), Some(2));
    }
}
