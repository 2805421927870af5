//! Scaffolding of a Python strategy project: a folder with `app.py` and a settings file.
//!
//! The starter strategy is small but complete (a parameter, an indicator, an order helper,
//! state that survives reloads), so `tradehost build` of a fresh project gives a component
//! that trades in the demo daemon before the user edits anything.

use std::fs;
use std::path::{Path, PathBuf};

/// Why a Python project could not be created.
#[derive(Debug, thiserror::Error)]
pub enum PythonTemplateError {
    /// The name is not usable as a plugin file name.
    #[error(
        "`{name}` is not a valid strategy name: use letters, digits, `-` and `_`, starting \
         with a letter"
    )]
    BadName {
        /// The name given.
        name: String,
    },
    /// The folder exists and is not empty; nothing was written.
    #[error("{} already exists and is not empty; choose another name or folder", .dir.display())]
    NotEmpty {
        /// The folder.
        dir: PathBuf,
    },
    /// A file could not be written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// True for names usable as a plugin's file name and a Python strategy's `name`.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name.len() <= 64
}

/// Writes a new Python strategy project named `name` into `dir` (created if missing);
/// returns the files written.
pub fn write_python_project(dir: &Path, name: &str) -> Result<Vec<PathBuf>, PythonTemplateError> {
    if !is_valid_name(name) {
        return Err(PythonTemplateError::BadName {
            name: name.to_string(),
        });
    }
    if fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(PythonTemplateError::NotEmpty {
            dir: dir.to_path_buf(),
        });
    }
    fs::create_dir_all(dir).map_err(|source| io(dir, source))?;
    let files = [
        ("app.py", app_py(name)),
        (
            ".gitignore",
            "__pycache__/\n*.wasm\n*.wasm.inputs\n".to_string(),
        ),
        ("README.md", readme(name)),
    ];
    let mut written = Vec::new();
    for (file, text) in files {
        let path = dir.join(file);
        fs::write(&path, text).map_err(|source| io(&path, source))?;
        written.push(path);
    }
    Ok(written)
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

fn io(path: &Path, source: std::io::Error) -> PythonTemplateError {
    PythonTemplateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_project_and_refuses_to_overwrite_it() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("my-strat");
        let files = write_python_project(&project, "my-strat").unwrap();
        assert_eq!(files.len(), 3);
        let app = fs::read_to_string(project.join("app.py")).unwrap();
        assert!(app.contains("class MyStrat(Strategy)") && app.contains("register(MyStrat)"));
        assert!(matches!(
            write_python_project(&project, "my-strat"),
            Err(PythonTemplateError::NotEmpty { .. })
        ));
    }

    #[test]
    fn refuses_names_that_are_not_file_names() {
        for bad in ["", "9lives", "a/b", "x y"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
        assert_eq!(class_name("sma_cross-2"), "SmaCross2");
    }
}
