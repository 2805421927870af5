//! The symbol interner: strategies see symbols as small integer ids, never as strings.
//!
//! A string field costs ~100 ns per record per boundary crossing, so trades carry a `u32`.
//! Ids are handed out in order of first use and never reused, not even across restarts.
//!
//! A name is kept across restarts only once something real used it: a trade of it, or a
//! subscription the feed made (and the server did not refuse). Names a plugin merely
//! interned are forgotten at the next start, but their ids are not handed out again, so an
//! id a plugin saved in its state never comes back meaning another symbol.

use crate::types::Symbol;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// A set of symbol ids, with a fast hasher: the lockstep looks one up per trade.
pub type SymbolIds = hashbrown::HashSet<u32>;

/// A thread-safe, append-only map between symbols and ids.
#[derive(Debug, Default, Clone)]
pub struct SymbolTable {
    inner: Arc<RwLock<Table>>,
}

/// What has used a symbol so far: whether it is kept across restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Seen {
    /// Only interned (by a plugin, or named in an event about it).
    Named,
    /// The feed subscribed it; a refusal by the server takes that back.
    Subscribed,
    /// Traded, or kept from an earlier run: kept for good.
    Used,
}

#[derive(Debug, Default)]
struct Table {
    names: HashMap<u32, (Symbol, Seen)>,
    ids: HashMap<Symbol, u32>,
    /// The id the next new name gets: past every id ever handed out, kept or not.
    next_id: u32,
    /// New names each plugin added through `intern-symbol`, over every instance it had.
    added_by: HashMap<Arc<str>, usize>,
}

impl Table {
    fn insert(&mut self, name: &str, seen: Seen) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.saturating_add(1);
        let symbol: Symbol = Arc::from(name);
        self.names.insert(id, (symbol.clone(), seen));
        self.ids.insert(symbol, id);
        id
    }

    /// Raise what `name` was seen as to at least `seen` (interning it if new).
    fn see(&mut self, name: &str, seen: Seen) -> u32 {
        match self.ids.get(name) {
            Some(&id) => {
                if let Some((_, was)) = self.names.get_mut(&id) {
                    *was = (*was).max(seen);
                }
                id
            }
            None => self.insert(name, seen),
        }
    }
}

/// The part of a symbol table that is kept across restarts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptSymbols {
    /// Names something real used, with their ids, by id.
    pub symbols: Vec<(Symbol, u32)>,
    /// The id the next new name gets (past every id handed out, kept or not).
    pub next_id: u32,
}

impl SymbolTable {
    /// An empty table.
    pub fn new() -> Self {
        SymbolTable::default()
    }

    /// A table holding `names` with ids 0, 1, 2... in that order (duplicates skipped), none
    /// of them used yet.
    pub fn from_names<I: IntoIterator<Item = S>, S: AsRef<str>>(names: I) -> Self {
        let table = SymbolTable::new();
        for name in names {
            table.intern(name.as_ref());
        }
        table
    }

    /// The table as [`kept`](Self::kept) described it: those names with those ids, all
    /// counted as used, and new names from `next_id` on. A name or id given twice keeps its
    /// first pairing.
    pub fn restore(kept: KeptSymbols) -> Self {
        let mut t = Table {
            next_id: kept.next_id,
            ..Table::default()
        };
        for (name, id) in kept.symbols {
            if t.ids.contains_key(&name) || t.names.contains_key(&id) {
                continue;
            }
            t.names.insert(id, (name.clone(), Seen::Used));
            t.ids.insert(name, id);
            t.next_id = t.next_id.max(id.saturating_add(1));
        }
        SymbolTable {
            inner: Arc::new(RwLock::new(t)),
        }
    }

    /// The names to keep across a restart (traded, subscribed, or kept from before) and the
    /// next id.
    pub fn kept(&self) -> KeptSymbols {
        let t = self.read();
        let mut symbols: Vec<(Symbol, u32)> = t
            .names
            .iter()
            .filter(|(_, (_, seen))| *seen >= Seen::Subscribed)
            .map(|(id, (name, _))| (name.clone(), *id))
            .collect();
        symbols.sort_by_key(|(_, id)| *id);
        KeptSymbols {
            symbols,
            next_id: t.next_id,
        }
    }

    /// The id of `name`, assigning the next free id if it is new.
    pub fn intern(&self, name: &str) -> u32 {
        if let Some(id) = self.id(name) {
            return id;
        }
        self.write().see(name, Seen::Named)
    }

    /// The id of `name`, which just traded: it is kept across restarts from now on.
    pub fn intern_traded(&self, name: &str) -> u32 {
        {
            let t = self.read();
            if let Some(&id) = t.ids.get(name)
                && t.names
                    .get(&id)
                    .is_some_and(|(_, seen)| *seen == Seen::Used)
            {
                return id;
            }
        }
        self.write().see(name, Seen::Used)
    }

    /// The feed subscribed `name` (or, with `accepted` false, the server refused it, which
    /// takes the subscription back; a traded name stays kept).
    pub fn subscribed(&self, name: &str, accepted: bool) {
        let mut t = self.write();
        if accepted {
            t.see(name, Seen::Subscribed);
        } else if let Some(&id) = t.ids.get(name)
            && let Some((_, seen)) = t.names.get_mut(&id)
            && *seen == Seen::Subscribed
        {
            *seen = Seen::Named;
        }
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
        let mut t = self.write();
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
        Ok(t.insert(name, Seen::Named))
    }

    /// The id of a known symbol.
    pub fn id(&self, name: &str) -> Option<u32> {
        self.read().ids.get(name).copied()
    }

    /// The symbol of a known id.
    pub fn name(&self, id: u32) -> Option<Symbol> {
        self.read().names.get(&id).map(|(name, _)| name.clone())
    }

    /// How many symbols are interned.
    pub fn len(&self) -> usize {
        self.read().names.len()
    }

    /// True when no symbol is interned.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Table> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Table> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
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

/// A one-symbol memo in front of a [`SymbolTable`] for the symbols of trades: feed batches
/// are runs of trades of one symbol, and the memo answers those without the table's lock
/// and hash.
#[derive(Debug, Default)]
pub struct SymbolMemo {
    last: Option<(Symbol, u32)>,
}

impl SymbolMemo {
    /// The id of `symbol`, which just traded, in `table` (interned if new, and kept across
    /// restarts from now on).
    pub fn intern(&mut self, table: &SymbolTable, symbol: &Symbol) -> u32 {
        match &self.last {
            Some((s, id)) if Arc::ptr_eq(s, symbol) || s == symbol => *id,
            _ => {
                let id = table.intern_traded(symbol);
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
    fn ids_are_dense_and_stable() {
        let t = SymbolTable::from_names(["SPY", "BAC", "SPY"]);
        assert_eq!(t.id("SPY"), Some(0));
        assert_eq!(t.id("BAC"), Some(1));
        assert_eq!(t.intern("IBM"), 2);
        assert_eq!(t.intern("BAC"), 1);
        assert_eq!(t.name(2).as_deref(), Some("IBM"));
        assert_eq!(t.name(9), None);
    }

    #[test]
    fn only_names_something_real_used_are_kept_and_no_id_comes_back() {
        let t = SymbolTable::new();
        let junk: Arc<str> = "junk".into();
        assert_eq!(t.intern_traded("SPY"), 0);
        for i in 0..1_000 {
            t.intern_for(&junk, &format!("JUNK{i}"), 1_000, 100_000)
                .unwrap();
        }
        // Real names among the junk: traded, subscribed, subscribed then refused.
        assert_eq!(t.intern("BAC"), 1_001);
        t.intern_traded("BAC");
        t.subscribed("IBM", true);
        t.subscribed("XYZ", true);
        t.subscribed("XYZ", false);
        // A refusal does not take back a trade; an event naming a symbol is no use of it.
        t.subscribed("SPY", false);
        t.intern("AIG");
        let kept = t.kept();
        let names: Vec<(&str, u32)> = kept.symbols.iter().map(|(s, id)| (&**s, *id)).collect();
        assert_eq!(names, [("SPY", 0), ("BAC", 1_001), ("IBM", 1_002)]);
        assert_eq!(kept.next_id, 1_005);

        // After a restart: the same ids, the junk gone, and its ids never handed out again.
        let again = SymbolTable::restore(kept.clone());
        assert_eq!(
            (again.id("SPY"), again.id("BAC"), again.id("IBM")),
            (Some(0), Some(1_001), Some(1_002))
        );
        assert_eq!((again.id("JUNK5"), again.name(5)), (None, None));
        assert_eq!(again.intern("JUNK5"), 1_005, "a new id, not its old one");
        assert_eq!(again.kept().symbols, kept.symbols, "kept ones stay kept");
    }

    #[test]
    fn a_restored_table_ignores_a_name_or_id_given_twice() {
        let t = SymbolTable::restore(KeptSymbols {
            symbols: vec![("SPY".into(), 3), ("SPY".into(), 4), ("BAC".into(), 3)],
            next_id: 0,
        });
        assert_eq!((t.id("SPY"), t.id("BAC"), t.len()), (Some(3), None, 1));
        assert_eq!(t.intern("BAC"), 4, "past the highest id kept");
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
