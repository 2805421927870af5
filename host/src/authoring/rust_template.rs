//! The Rust strategy template: a standalone crate (its own `[workspace]`) that depends on the
//! SDK by path, builds a `wasm32-wasip2` component by default, and tests natively with
//! `cargo test-native`. The files are in `host/templates/rust/`.

use super::error::AuthoringError;
use super::scaffold::{ProjectFile, render};
use std::path::{Path, PathBuf};

const CARGO_TOML: &str = include_str!("../../templates/rust/Cargo.toml");
const CARGO_CONFIG: &str = include_str!("../../templates/rust/config.toml");
const LIB_RS: &str = include_str!("../../templates/rust/lib.rs");
const README: &str = include_str!("../../templates/rust/README.md");
const SETTINGS: &str = include_str!("../../templates/rust/settings.toml");
const GITIGNORE: &str = include_str!("../../templates/rust/gitignore");

/// Where the SDK of this build of tradehost is: `sdk/` beside the host crate's sources.
pub fn default_sdk_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("sdk")
}

/// The SDK folder at `path`, made absolute; fails unless it holds the `tradehost-sdk` crate.
pub fn locate_sdk(path: &Path) -> Result<PathBuf, AuthoringError> {
    let not_found = |reason: &str| AuthoringError::SdkNotFound {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let sdk = path.canonicalize().map_err(|e| {
        not_found(&format!(
            "{e} (was the tradehost source folder moved or deleted?)"
        ))
    })?;
    let manifest = std::fs::read_to_string(sdk.join("Cargo.toml"))
        .map_err(|_| not_found("there is no Cargo.toml in it"))?;
    if !manifest.contains("name = \"tradehost-sdk\"") {
        return Err(not_found("its Cargo.toml is not the tradehost-sdk crate's"));
    }
    Ok(sdk)
}

/// The files of a new Rust strategy crate called `name`, depending on the SDK at `sdk` (an
/// absolute path from [`locate_sdk`]).
pub fn files(name: &str, sdk: &Path) -> Result<Vec<ProjectFile>, AuthoringError> {
    let sdk_text = sdk.to_str().ok_or_else(|| AuthoringError::SdkNotFound {
        path: sdk.to_path_buf(),
        reason: "its path is not UTF-8 text, which Cargo.toml cannot hold".into(),
    })?;
    // A TOML string literal, so that quotes and backslashes in the path survive.
    let sdk_literal = toml::Value::String(sdk_text.to_string()).to_string();
    let crate_ident = name.replace('-', "_");
    let values = [
        ("name", name),
        ("crate", crate_ident.as_str()),
        ("sdk_path", sdk_literal.as_str()),
    ];
    let mut files = vec![
        ProjectFile::new("Cargo.toml", render(CARGO_TOML, &values)),
        ProjectFile::new(".cargo/config.toml", render(CARGO_CONFIG, &values)),
        ProjectFile::new("src/lib.rs", render(LIB_RS, &values)),
        ProjectFile::new("README.md", render(README, &values)),
        ProjectFile::new(format!("{name}.toml"), render(SETTINGS, &values)),
        ProjectFile::new(".gitignore", GITIGNORE),
    ];
    // The workspace's lock file pins the versions the SDK was tested with and lets the first
    // build work offline; cargo drops the entries this crate does not use.
    if let Some(lock) = sdk
        .parent()
        .and_then(|root| std::fs::read_to_string(root.join("Cargo.lock")).ok())
    {
        files.push(ProjectFile::new("Cargo.lock", lock));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdk_this_tradehost_was_built_from_is_found() {
        let sdk = locate_sdk(&default_sdk_path()).unwrap();
        assert!(
            sdk.is_absolute() && sdk.join("src/lib.rs").is_file(),
            "{}",
            sdk.display()
        );
    }

    #[test]
    fn a_missing_sdk_is_reported_with_the_alternatives() {
        let tmp = tempfile::tempdir().unwrap();
        let err = locate_sdk(&tmp.path().join("sdk")).unwrap_err().to_string();
        assert!(
            err.contains("--sdk") && err.contains("git dependency"),
            "{err}"
        );
        let err = locate_sdk(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("no Cargo.toml"), "{err}");
    }

    #[test]
    fn the_files_name_the_crate_and_the_sdk_and_no_placeholder_is_left() {
        let sdk = locate_sdk(&default_sdk_path()).unwrap();
        let files = files("my-strat", &sdk).unwrap();
        let text = |path: &str| {
            files
                .iter()
                .find(|f| f.path == path)
                .map(|f| f.contents.clone())
                .unwrap_or_else(|| panic!("no {path}"))
        };
        let manifest: toml::Table = toml::from_str(&text("Cargo.toml")).unwrap();
        assert_eq!(manifest["package"]["name"].as_str(), Some("my-strat"));
        assert_eq!(
            manifest["dependencies"]["tradehost-sdk"]["path"].as_str(),
            sdk.to_str()
        );
        assert!(manifest["workspace"].is_table());
        let crate_types = manifest["lib"]["crate-type"].as_array().unwrap();
        assert!(crate_types.iter().any(|t| t.as_str() == Some("cdylib")));
        let config: toml::Table = toml::from_str(&text(".cargo/config.toml")).unwrap();
        assert_eq!(config["build"]["target"].as_str(), Some("wasm32-wasip2"));
        assert!(text("src/lib.rs").contains("Info::new(\"my-strat\""));
        assert!(text("README.md").contains("my_strat.wasm"));
        let settings: toml::Table = toml::from_str(&text("my-strat.toml")).unwrap();
        assert!(settings["parameters"].is_table());
        for file in &files {
            assert!(
                !file.contents.contains("{{"),
                "{} keeps a placeholder",
                file.path
            );
        }
    }
}
