//! Positions and profit and loss per plugin and symbol, moved by fills.
//!
//! Average-cost accounting: adding to a position moves its average price; reducing it realises
//! `closed quantity × (fill price − average price)` (sign-adjusted for shorts) and keeps the
//! average; a fill larger than the position closes it and opens the rest on the other side at
//! the fill price. Fees are subtracted from realised PnL when charged. Unrealised PnL is not
//! stored: it is computed at query time from the last trade price, so trades cost nothing here.

use crate::types::{Fill, Position, Side, Symbol, SymbolMap};
use std::collections::HashMap;
use std::sync::Arc;

/// One plugin's position in one symbol, for listings.
#[derive(Debug, Clone, PartialEq)]
pub struct PositionEntry {
    /// The plugin.
    pub plugin: Arc<str>,
    /// The instrument.
    pub symbol: Symbol,
    /// Quantity, average price and PnL (unrealised at the last trade price).
    pub position: Position,
}

/// Moves `pos` by a fill of `quantity` on `side` at `price`, charging `fee`.
pub fn apply_fill(pos: &mut Position, side: Side, quantity: f64, price: f64, fee: f64) {
    let held = pos.quantity;
    let delta = side.sign() * quantity;
    if held == 0.0 || held.signum() == delta.signum() {
        let total = held.abs() + quantity;
        pos.average_price = (held.abs() * pos.average_price + quantity * price) / total;
        pos.quantity = held + delta;
    } else {
        let closed = quantity.min(held.abs());
        pos.realised_pnl += closed * (price - pos.average_price) * held.signum();
        let left = held + delta;
        // Float residue of a full close (e.g. 0.3 - 0.1 - 0.2) is a flat position, not dust.
        if left.abs() <= 1e-9 * (held.abs() + quantity) {
            pos.quantity = 0.0;
            pos.average_price = 0.0;
        } else if left.signum() != held.signum() {
            pos.quantity = left;
            pos.average_price = price;
        } else {
            pos.quantity = left;
        }
    }
    pos.realised_pnl -= fee;
}

/// Unrealised PnL of `pos` at `last_price` (zero while no trade has been seen).
pub fn unrealised(pos: &Position, last_price: Option<f64>) -> f64 {
    pos.unrealised_at(last_price)
}

/// Every plugin's positions.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Each plugin's place in `plugins` (hashed with foldhash).
    slots: hashbrown::HashMap<Arc<str>, usize>,
    /// Per plugin, in the order of their first fills, per symbol; `unrealised_pnl` is left at
    /// zero here. A place never changes: a backtest's equity samples keep them.
    plugins: Vec<(Arc<str>, SymbolMap<Position>)>,
}

impl Ledger {
    /// Applies a fill to its plugin's position in its symbol.
    pub fn apply(&mut self, fill: &Fill) {
        let slot = match self.slots.get(&*fill.plugin) {
            Some(&slot) => slot,
            None => {
                self.plugins
                    .push((fill.plugin.clone(), SymbolMap::default()));
                self.slots
                    .insert(fill.plugin.clone(), self.plugins.len() - 1);
                self.plugins.len() - 1
            }
        };
        let pos = self.plugins[slot].1.entry(fill.symbol.clone()).or_default();
        apply_fill(pos, fill.side, fill.quantity, fill.price, fill.fee);
    }

    /// `plugin`'s place, for [`equity_at`](Self::equity_at); `None` before its first fill.
    pub fn slot(&self, plugin: &str) -> Option<usize> {
        self.slots.get(plugin).copied()
    }

    fn symbols_of(&self, plugin: &str) -> Option<&SymbolMap<Position>> {
        self.slot(plugin).map(|slot| &self.plugins[slot].1)
    }

    /// Every plugin's positions by symbol (unrealised PnL left at zero).
    pub fn map(&self) -> HashMap<Arc<str>, Arc<SymbolMap<Position>>> {
        self.plugins
            .iter()
            .map(|(plugin, symbols)| (plugin.clone(), Arc::new(symbols.clone())))
            .collect()
    }

    /// One plugin's positions by symbol (unrealised PnL left at zero), if it ever had one.
    pub fn plugin_map(&self, plugin: &str) -> Option<SymbolMap<Position>> {
        self.symbols_of(plugin).cloned()
    }

    /// Signed quantity `plugin` holds in `symbol`.
    pub fn quantity(&self, plugin: &str, symbol: &str) -> f64 {
        self.get(plugin, symbol).map_or(0.0, |p| p.quantity)
    }

    /// The stored position (unrealised PnL not filled in).
    pub fn get(&self, plugin: &str, symbol: &str) -> Option<&Position> {
        self.symbols_of(plugin)?.get(symbol)
    }

    /// Every position ever opened, sorted by plugin then symbol, with unrealised PnL at the
    /// prices `last_price` gives.
    pub fn entries(&self, last_price: impl Fn(&str) -> Option<f64>) -> Vec<PositionEntry> {
        let mut out: Vec<PositionEntry> = self
            .plugins
            .iter()
            .flat_map(|(plugin, symbols)| {
                symbols.iter().map(|(symbol, p)| PositionEntry {
                    plugin: plugin.clone(),
                    symbol: symbol.clone(),
                    position: Position {
                        unrealised_pnl: unrealised(p, last_price(symbol)),
                        ..p.clone()
                    },
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.plugin, &a.symbol).cmp(&(&b.plugin, &b.symbol)));
        out
    }

    /// The equity of the plugin at `slot` ([`slot`](Self::slot)): realised plus unrealised
    /// PnL of each position, added in symbol order as [`entries`](Self::entries) lists them,
    /// and whether it holds a position.
    pub fn equity_at(&self, slot: usize, last_price: impl Fn(&str) -> Option<f64>) -> (f64, bool) {
        let Some((_, symbols)) = self.plugins.get(slot) else {
            return (0.0, false);
        };
        let add = |(equity, exposed): (f64, bool), (symbol, p): (&Symbol, &Position)| {
            (
                equity + (p.realised_pnl + unrealised(p, last_price(symbol))),
                exposed || p.quantity != 0.0,
            )
        };
        if symbols.len() <= 1 {
            // The usual case, sampled for every plugin each second: nothing to order.
            return symbols.iter().fold((0.0, false), add);
        }
        let mut held: Vec<(&Symbol, &Position)> = symbols.iter().collect();
        held.sort_by(|a, b| a.0.cmp(b.0));
        held.into_iter().fold((0.0, false), add)
    }

    /// Sum of realised and of unrealised PnL over every position.
    pub fn pnl(&self, last_price: impl Fn(&str) -> Option<f64>) -> (f64, f64) {
        self.plugins
            .iter()
            .flat_map(|(_, s)| s.iter())
            .fold((0.0, 0.0), |(r, u), (symbol, p)| {
                (r + p.realised_pnl, u + unrealised(p, last_price(symbol)))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Side::*;

    /// A fill as (side, quantity, price, fee).
    type F = (Side, f64, f64, f64);

    fn run(fills: &[F]) -> Position {
        let mut p = Position::default();
        for &(side, qty, price, fee) in fills {
            apply_fill(&mut p, side, qty, price, fee);
        }
        p
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn positions_follow_average_cost_accounting() {
        // TC: (fills as (side, qty, price, fee), quantity, average price, realised PnL)
        let cases: [(&str, &[F], f64, f64, f64); 8] = [
            ("open long", &[(Buy, 10.0, 100.0, 0.0)], 10.0, 100.0, 0.0),
            (
                "add long",
                &[(Buy, 10.0, 100.0, 0.0), (Buy, 30.0, 104.0, 0.0)],
                40.0,
                103.0,
                0.0,
            ),
            // 10 @ 100 then sell 4 @ 110: +40 realised, average unchanged.
            (
                "reduce long",
                &[(Buy, 10.0, 100.0, 0.0), (Sell, 4.0, 110.0, 0.0)],
                6.0,
                100.0,
                40.0,
            ),
            // Short 5 @ 50, cover 5 @ 45: +25.
            (
                "close short",
                &[(Sell, 5.0, 50.0, 0.0), (Buy, 5.0, 45.0, 0.0)],
                0.0,
                0.0,
                25.0,
            ),
            // Short 5 @ 50, cover 2 @ 53: -6.
            (
                "short loss",
                &[(Sell, 5.0, 50.0, 0.0), (Buy, 2.0, 53.0, 0.0)],
                -3.0,
                50.0,
                -6.0,
            ),
            // Long 10 @ 100, sell 15 @ 110: +100 on the 10, then short 5 @ 110.
            (
                "flip to short",
                &[(Buy, 10.0, 100.0, 0.0), (Sell, 15.0, 110.0, 0.0)],
                -5.0,
                110.0,
                100.0,
            ),
            // Short 4 @ 20, buy 10 @ 18: +8, then long 6 @ 18.
            (
                "flip to long",
                &[(Sell, 4.0, 20.0, 0.0), (Buy, 10.0, 18.0, 0.0)],
                6.0,
                18.0,
                8.0,
            ),
            // Fees of 1.5 and 2.25 come off realised PnL: 10 × 2 − 3.75.
            (
                "fees",
                &[(Buy, 10.0, 100.0, 1.5), (Sell, 10.0, 102.0, 2.25)],
                0.0,
                0.0,
                16.25,
            ),
        ];
        for (name, fills, qty, avg, realised) in cases {
            let p = run(fills);
            assert!(close(p.quantity, qty), "{name}: quantity {}", p.quantity);
            assert!(
                close(p.average_price, avg),
                "{name}: average {}",
                p.average_price
            );
            assert!(
                close(p.realised_pnl, realised),
                "{name}: realised {}",
                p.realised_pnl
            );
        }
    }

    #[test]
    fn float_residue_of_a_full_close_is_flat() {
        let p = run(&[
            (Buy, 0.1, 10.0, 0.0),
            (Buy, 0.2, 10.0, 0.0),
            (Sell, 0.3, 10.0, 0.0),
        ]);
        assert_eq!(p.quantity, 0.0);
        assert_eq!(p.average_price, 0.0);
    }

    #[test]
    fn unrealised_pnl_uses_the_last_price_and_sign() {
        let long = run(&[(Buy, 10.0, 100.0, 0.0)]);
        let short = run(&[(Sell, 10.0, 100.0, 0.0)]);
        assert!(close(unrealised(&long, Some(103.0)), 30.0));
        assert!(close(unrealised(&short, Some(103.0)), -30.0));
        assert_eq!(unrealised(&long, None), 0.0);
    }

    #[test]
    fn ledger_keeps_plugins_and_symbols_apart() {
        let fill = |plugin: &str, symbol: &str, side, qty, price| Fill {
            plugin: plugin.into(),
            order_id: 1,
            tag: 0,
            symbol: symbol.into(),
            side,
            quantity: qty,
            price,
            fee: 0.0,
            time_ms: 0,
        };
        let mut l = Ledger::default();
        l.apply(&fill("b", "SPY", Buy, 2.0, 10.0));
        l.apply(&fill("a", "SPY", Sell, 3.0, 10.0));
        l.apply(&fill("a", "IBM", Buy, 1.0, 5.0));
        assert_eq!(l.quantity("a", "SPY"), -3.0);
        assert_eq!(l.quantity("b", "SPY"), 2.0);
        assert_eq!(l.quantity("b", "IBM"), 0.0);
        let price = |s: &str| if s == "SPY" { Some(11.0) } else { Some(4.0) };
        let e = l.entries(price);
        let keys: Vec<_> = e.iter().map(|e| (&*e.plugin, &*e.symbol)).collect();
        assert_eq!(keys, [("a", "IBM"), ("a", "SPY"), ("b", "SPY")]);
        assert!(close(e[1].position.unrealised_pnl, -3.0));
        let (r, u) = l.pnl(price);
        assert!(close(r, 0.0) && close(u, -3.0 + 2.0 - 1.0), "{r} {u}");
    }
}
