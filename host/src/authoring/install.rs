//! Installing a built component into a plugins folder the way a running daemon expects:
//! `NAME.wasm` and its settings `NAME.toml`, each replaced atomically (temporary file in the
//! same folder, then rename), so the daemon's watcher only ever sees complete files.

use super::cargo_build::Built;
use super::error::AuthoringError;
use crate::plugins::settings_file::PluginSettings;
use std::path::{Path, PathBuf};

/// A component and its settings laid out under their plugin names in a private folder,
/// exactly as they will be installed, so that they can be checked before installing.
#[derive(Debug)]
pub struct Staged {
    _dir: tempfile::TempDir,
    /// The plugin's name (the package name).
    pub name: String,
    /// `NAME.wasm` in the staging folder.
    pub wasm: PathBuf,
    /// `NAME.toml` in the staging folder, when the crate has one.
    pub settings: Option<PathBuf>,
    /// The crate's own settings file that was staged.
    pub settings_source: Option<PathBuf>,
}

/// What was written into the plugins folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// The component.
    pub wasm: PathBuf,
    /// Its settings, when there were any.
    pub settings: Option<PathBuf>,
}

/// The crate's settings file, `NAME.toml` in its folder, named after the package.
pub fn settings_source(built: &Built) -> Option<PathBuf> {
    Some(built.dir.join(format!("{}.toml", built.package))).filter(|p| p.is_file())
}

/// Copies the component and the crate's `NAME.toml` (checked for syntax first, so errors
/// name the crate's file) into a private folder under the plugin's name.
pub fn stage(built: &Built) -> Result<Staged, AuthoringError> {
    let name = built.package.clone();
    // Beside the build output, so that the check's messages name a path the author knows.
    let parent = built.wasm.parent().unwrap_or(&built.dir);
    let dir = tempfile::Builder::new()
        .prefix("tradehost-stage-")
        .tempdir_in(parent)
        .map_err(AuthoringError::io("create a temporary folder in", parent))?;
    let wasm = dir.path().join(format!("{name}.wasm"));
    std::fs::copy(&built.wasm, &wasm).map_err(AuthoringError::io("copy", &built.wasm))?;
    let source = settings_source(built);
    let settings = match &source {
        Some(source) => {
            let text =
                std::fs::read_to_string(source).map_err(AuthoringError::io("read", source))?;
            PluginSettings::parse(source, &text)?;
            let staged = dir.path().join(format!("{name}.toml"));
            std::fs::write(&staged, text).map_err(AuthoringError::io("write", &staged))?;
            Some(staged)
        }
        None => None,
    };
    Ok(Staged {
        _dir: dir,
        name,
        wasm,
        settings,
        settings_source: source,
    })
}

/// Copies a staged component (and settings) into `plugins_dir`, creating it if needed. The
/// settings go first, so the daemon loads the new component with them in place.
pub fn install(staged: &Staged, plugins_dir: &Path) -> Result<Installed, AuthoringError> {
    let target = |ext: &str| plugins_dir.join(format!("{}.{ext}", staged.name));
    let copy = |from: &Path, to: &Path| -> Result<(), AuthoringError> {
        let bytes = std::fs::read(from).map_err(AuthoringError::io("read", from))?;
        crate::atomic_file::write_atomic(to, &bytes).map_err(AuthoringError::io("write", to))
    };
    let settings = match &staged.settings {
        Some(from) => {
            let to = target("toml");
            copy(from, &to)?;
            Some(to)
        }
        None => None,
    };
    let wasm = target("wasm");
    copy(&staged.wasm, &wasm)?;
    Ok(Installed { wasm, settings })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built_in(dir: &Path, settings: Option<&str>) -> Built {
        let wasm = dir.join("target_my_strat.wasm");
        std::fs::write(&wasm, b"\0asm component bytes").unwrap();
        if let Some(text) = settings {
            std::fs::write(dir.join("my-strat.toml"), text).unwrap();
        }
        Built {
            package: "my-strat".into(),
            dir: dir.to_path_buf(),
            wasm,
        }
    }

    #[test]
    fn installs_the_component_and_its_settings_under_the_plugin_name() {
        let tmp = tempfile::tempdir().unwrap();
        let built = built_in(tmp.path(), Some("symbols = [\"SPY\"]\n"));
        let staged = stage(&built).unwrap();
        assert_eq!(staged.wasm.file_name().unwrap(), "my-strat.wasm");
        let plugins = tmp.path().join("plugins");
        let installed = install(&staged, &plugins).unwrap();
        assert_eq!(installed.wasm, plugins.join("my-strat.wasm"));
        assert_eq!(installed.settings, Some(plugins.join("my-strat.toml")));
        assert_eq!(
            std::fs::read(&installed.wasm).unwrap(),
            b"\0asm component bytes"
        );
        let mut names: Vec<_> = std::fs::read_dir(&plugins)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["my-strat.toml", "my-strat.wasm"],
            "no temporary file left"
        );
    }

    #[test]
    fn a_crate_without_settings_installs_the_component_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let staged = stage(&built_in(tmp.path(), None)).unwrap();
        let installed = install(&staged, &tmp.path().join("plugins")).unwrap();
        assert_eq!(installed.settings, None);
    }

    #[test]
    fn a_bad_settings_file_is_refused_naming_the_crate_s_file() {
        let tmp = tempfile::tempdir().unwrap();
        let err = stage(&built_in(tmp.path(), Some("[parameters\nfast = 1\n")))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&tmp.path().join("my-strat.toml").display().to_string()),
            "{err}"
        );
    }
}
