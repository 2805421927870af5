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
    /// New names each plugin added through `intern-symbol`, over every instance it had.
    added_by: HashMap<Arc<str>, usize>,
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

    /// The id of `name` for `plugin`, which may add at most `quota` new names to the table
    /// over all its instances (so that one plugin cannot exhaust it for the others) and no
    /// more than `capacity` may be held in all; `Err` says which limit was reached.
    pub fn intern_for(
        &self,
        plugin: &Arc<str>,
        name: &str,
        quota: usize,
        capacity: usize,
    ) -> Result<u32, String> {
        if let Some(id) = self.id(name) {
            return Ok(id);
        }
        let mut t = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if let Some(id) = t.ids.get(name) {
            return Ok(*id);
        }
        let added = t.added_by.get(plugin).copied().unwrap_or(0);
        if added >= quota {
            return Err(format!(
                "this plugin already added {added} symbols, the most one plugin may"
            ));
        }
        if t.names.len() >= capacity {
            return Err(format!("the symbol table is full ({capacity})"));
        }
        *t.added_by.entry(plugin.clone()).or_insert(0) += 1;
        let id = t.names.len() as u32;
        let symbol: Symbol = Arc::from(name);
        t.names.push(symbol.clone());
        t.ids.insert(symbol, id);
        Ok(id)
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

/// Longest symbol name a plugin may name.
pub const MAX_SYMBOL_LEN: usize = 32;

/// Checks a symbol name a plugin gave (`describe`, `intern-symbol`): 1 to
/// [`MAX_SYMBOL_LEN`] ASCII letters, digits and `. : - _ / ^ = & +`, not starting with a dot, which covers exchange
/// symbols such as `BRK.B`, `BINANCE:BTCUSDT`, `OANDA:EUR_USD` and `FOREX:EUR/USD`. `Err` says what is wrong.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a symbol name is empty".into());
    }
    if name.len() > MAX_SYMBOL_LEN {
        return Err(format!(
            "symbol name of {} bytes is longer than {MAX_SYMBOL_LEN}",
            name.len()
        ));
    }
    if name.starts_with('.') {
        // No hidden or parent folders where symbols name things on disk.
        return Err(format!("symbol name {name:?} starts with a dot"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || ".:-_/^=&+".contains(*c)))
    {
        return Err(format!(
            "symbol name {:?} holds {:?}; only ASCII letters, digits and . : - _ / ^ = & + are allowed",
            super::guest_text::neutralise(name, MAX_SYMBOL_LEN),
            bad
        ));
    }
    Ok(())
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
    fn each_plugin_adds_at_most_its_quota_of_new_names() {
        let t = SymbolTable::from_names(["SPY"]);
        let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
        assert_eq!(t.intern_for(&a, "X1", 2, 100), Ok(1));
        assert_eq!(t.intern_for(&a, "X2", 2, 100), Ok(2));
        assert!(
            t.intern_for(&a, "X3", 2, 100)
                .unwrap_err()
                .contains("already added 2")
        );
        // Known names cost nothing; another plugin has a quota of its own, under the capacity.
        assert_eq!(t.intern_for(&a, "SPY", 2, 100), Ok(0));
        assert_eq!(t.intern_for(&b, "X3", 2, 100), Ok(3));
        assert!(t.intern_for(&b, "X4", 2, 4).unwrap_err().contains("full"));
    }

    #[test]
    fn exchange_symbols_pass_and_odd_names_are_refused() {
        for ok in [
            "SPY",
            "BRK.B",
            "BINANCE:BTCUSDT",
            "OANDA:EUR_USD",
            "^GSPC",
            "ES=F",
            "FOREX:EUR/USD",
        ] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        let long = "X".repeat(MAX_SYMBOL_LEN + 1);
        for bad in [
            "",
            "SP Y",
            "../../etc",
            ".hidden",
            "A\nINFO forged",
            "\u{1b}[31m",
            "ÄPFEL",
            &long,
        ] {
            assert!(check_name(bad).is_err(), "{bad:?} passed");
        }
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
