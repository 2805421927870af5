//! `tradehost build`: build a strategy project (a Rust crate with cargo, a Python project
//! with componentize-py) into a component, check it as `tradehost check` does, and
//! optionally install it into a plugins folder atomically.

use anyhow::bail;
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;
use tradehost::authoring::cargo_build::{BuildOptions, build};
use tradehost::authoring::install::{install, stage};
use tradehost::authoring::python_build;

/// Flags of `tradehost build`.
#[derive(Args)]
pub struct BuildArgs {
    /// The strategy project's folder (a Rust crate, or a Python project with `app.py`).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Copy the component (as `NAME.wasm`) and the crate's `NAME.toml` into this plugins
    /// folder; a running daemon hot-reloads it.
    #[arg(long, value_name = "PLUGINS_DIR")]
    install: Option<PathBuf>,
    /// The cargo profile to build with (Rust).
    #[arg(long, default_value = "release")]
    profile: String,
}

impl BuildArgs {
    /// Build, check, install; exit status 1 when the component is refused.
    pub fn execute(self) -> anyhow::Result<()> {
        let started = Instant::now();
        let built = if python_build::is_python_project(&self.dir) {
            python_build::build_project(&self.dir)?
        } else {
            build(
                &self.dir,
                &BuildOptions {
                    profile: self.profile,
                },
            )?
        };
        println!(
            "built {} in {:.1} s",
            built.wasm.display(),
            started.elapsed().as_secs_f64()
        );
        // Checked under the name and with the settings it will be installed with.
        let staged = stage(&built)?;
        let info = match super::check::validate(&staged.wasm)? {
            Ok(info) => info,
            Err(e) => {
                let with = staged
                    .settings_source
                    .as_ref()
                    .map(|s| format!(" with the settings of {}", s.display()))
                    .unwrap_or_default();
                bail!(
                    "{} was built but is refused{with}: {e}",
                    built.wasm.display()
                );
            }
        };
        super::check::print_info(&built.wasm, &info);
        if let Some(plugins) = self.install {
            let installed = install(&staged, &plugins)?;
            println!("installed {}", installed.wasm.display());
            if let Some(settings) = installed.settings {
                println!("installed {}", settings.display());
            }
        }
        Ok(())
    }
}
