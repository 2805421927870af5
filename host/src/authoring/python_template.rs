//! The Python strategy project template: `app.py`, a `.gitignore` and a README.
//!
//! The starter strategy is small but complete (a parameter, an indicator, an order helper,
//! state that survives reloads), so `tradehost build` of a fresh project gives a component
//! that trades in the demo daemon before the user edits anything.

use super::scaffold::ProjectFile;

/// The files of a new Python strategy project named `name` (already checked as a crate
/// name): `app.py`, `.gitignore` and `README.md`. Writing them, and refusing a folder in
/// use, is `scaffold::write_project`'s, as for every language.
pub fn files(name: &str) -> Vec<ProjectFile> {
    vec![
        ProjectFile::new("app.py", app_py(name)),
        ProjectFile::new(".gitignore", "__pycache__/\n*.wasm\n*.wasm.inputs\n"),
        ProjectFile::new("README.md", readme(name)),
    ]
}

/// The starter strategy: follows a short EMA of trade prices with a target position.
fn app_py(name: &str) -> String {
    format!(
        r#""""{name}: a tradehost strategy in Python.

Edit the hooks below, then `tradehost build` (it runs componentize-py) and drop the
component into the daemon's plugins folder; it is hot-reloaded with its state kept.
"""

from tradehost_strategy import Ema, Param, Strategy, register


class {class}(Strategy):
    name = "{name}"
    version = "0.1.0"
    description = "Long while the price is above its EMA"
    symbols = ["SPY"]

    period = Param(20, "Trades in the moving average", min=1, max=100_000)
    quantity = Param(10, "Shares held when long", type=float, min=0.0)

    def start(self, ctx):
        # Public attributes are the state: saved on reload, restored after it.
        self.averages = {{ctx.symbol(s): Ema(self.period) for s in self.symbols}}
        ctx.info(f"{{self.name}} started on {{', '.join(self.symbols)}}")

    def on_trade(self, ctx, trade):
        ema = self.averages.get(trade.symbol)
        if ema is None:
            return
        average = ema.update(trade.price)
        if average is None:
            return
        target = self.quantity if trade.price > average else 0.0
        ctx.target_position(trade.symbol, target)

    def on_rejection(self, ctx, rejection):
        ctx.warn(f"order {{rejection.tag}} refused: {{rejection.reason}}")


register({class})
"#,
        class = class_name(name)
    )
}

fn readme(name: &str) -> String {
    format!(
        "# {name}\n\nA tradehost strategy in Python. `app.py` registers it; the SDK is \
         documented in `sdk/python/README.md` of tradehost.\n\nBuild it with `tradehost build` \
         (componentize-py; run `./scripts/setup.sh` once to install it).\n"
    )
}

/// `my-strat_2` → `MyStrat2`: the class name of the starter strategy.
fn class_name(name: &str) -> String {
    name.split(['-', '_'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_is_named_after_the_project() {
        let files = files("my-strat");
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["app.py", ".gitignore", "README.md"]);
        let app = &files[0].contents;
        assert!(app.contains("class MyStrat(Strategy)") && app.contains("register(MyStrat)"));
        assert_eq!(class_name("sma_cross-2"), "SmaCross2");
    }
}
