//! `tradehost new`: create a strategy project in a new folder from a language's template.

use clap::Args;
use std::path::PathBuf;
use tradehost::authoring::{Lang, NewProject, new_project};

/// Flags of `tradehost new`.
#[derive(Args)]
pub struct NewArgs {
    /// The strategy's name: crate, folder and plugin name (letters, digits, `-`, `_`).
    name: String,
    /// The folder to create the project folder in.
    #[arg(long, value_name = "PARENT", default_value = ".")]
    dir: PathBuf,
    /// The project's language.
    #[arg(long, default_value_t = Lang::Rust)]
    lang: Lang,
    /// The tradehost SDK folder to depend on, instead of the one this tradehost was built
    /// from.
    #[arg(long, value_name = "PATH")]
    sdk: Option<PathBuf>,
}

impl NewArgs {
    /// Create the project and say what to do next.
    pub fn execute(self) -> anyhow::Result<()> {
        let created = new_project(&NewProject {
            name: self.name.clone(),
            parent: self.dir,
            lang: self.lang,
            sdk: self.sdk,
        })?;
        println!(
            "created {} ({} strategy):",
            created.dir.display(),
            self.lang
        );
        for file in &created.files {
            let shown = file.strip_prefix(&created.dir).unwrap_or(file);
            println!("  {}", shown.display());
        }
        let test = match self.lang {
            Lang::Rust => "cargo test-native                      # unit tests, on this machine",
            Lang::Python => {
                "edit app.py                            # the SDK and its test harness: sdk/python/README.md"
            }
        };
        println!(
            "next:\n  cd {}\n  {test}\n  \
             tradehost build --install PLUGINS_DIR  # build, check, copy into the daemon's plugins folder",
            created.dir.display()
        );
        Ok(())
    }
}
