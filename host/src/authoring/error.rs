//! What can go wrong while creating, building or installing a strategy crate, each with
//! what to do about it.

use std::path::PathBuf;
use std::process::ExitStatus;

/// An authoring command's failure; the message says what is wrong and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum AuthoringError {
    /// The crate name cannot be used.
    #[error("`{name}` is not a valid strategy name: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// What is wrong with it, and what would do.
        reason: String,
    },
    /// `--lang` names a language without a template.
    #[error("unknown language `{given}`: choose one of {known}")]
    UnknownLang {
        /// The value given.
        given: String,
        /// The languages that have a template, comma-separated.
        known: String,
    },
    /// The folder to create the crate in already holds files.
    #[error(
        "{} already exists and is not empty: choose another name, or another parent folder \
         with --dir",
        path.display()
    )]
    FolderNotEmpty {
        /// The folder.
        path: PathBuf,
    },
    /// The path to create the crate in exists but is a file.
    #[error("{} exists and is not a folder: choose another name or --dir", path.display())]
    NotAFolder {
        /// The path.
        path: PathBuf,
    },
    /// The SDK to depend on is not where it was expected.
    #[error(
        "the tradehost SDK is not at {}: {reason}. Pass --sdk PATH/TO/tradehost/sdk, or use \
         the git dependency described in the README (\"Writing a strategy\")",
        path.display()
    )]
    SdkNotFound {
        /// Where it was looked for.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// A Python project could not be built.
    #[error(transparent)]
    PythonBuild(#[from] super::python_build::PythonBuildError),
    /// A file operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done ("write", "read", "create folder"...).
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A program (cargo, rustc) could not be started.
    #[error("cannot run `{program}`: {source}. Is Rust installed (https://rustup.rs) and on PATH?")]
    Spawn {
        /// The program.
        program: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The standard library for the guest target is not installed.
    #[error("the Rust target {target} is not installed: run `rustup target add {target}`")]
    TargetMissing {
        /// The target triple.
        target: &'static str,
    },
    /// The folder is not a cargo package.
    #[error("{} is not a Rust crate: {reason}", dir.display())]
    NotACrate {
        /// The folder.
        dir: PathBuf,
        /// Why (cargo's message, or what is missing).
        reason: String,
    },
    /// The crate has no library target, so no component can come out of it.
    #[error(
        "{package} has no library, so cargo makes no .wasm from it: a strategy is a library \
         (src/lib.rs) with `[lib] crate-type = [\"cdylib\"]` in Cargo.toml"
    )]
    NoLibrary {
        /// The package name.
        package: String,
    },
    /// The crate's library is not a `cdylib`, so cargo writes only an `.rlib`.
    #[error(
        "{package} builds no component: its library is not a cdylib, so cargo writes only an \
         .rlib. In {}, set:\n\n[lib]\ncrate-type = [\"cdylib\", \"rlib\"]",
        manifest.display()
    )]
    NoCdylib {
        /// The package name.
        package: String,
        /// Its Cargo.toml.
        manifest: PathBuf,
    },
    /// `cargo build` failed; its messages were shown as it ran.
    #[error("cargo build failed ({status}) in {}: the compiler's messages are above", dir.display())]
    CargoFailed {
        /// The crate folder.
        dir: PathBuf,
        /// cargo's exit status.
        status: ExitStatus,
    },
    /// cargo finished but the component is not where it must be.
    #[error(
        "cargo finished but wrote no component at {}: check that the crate builds a cdylib \
         for wasm32-wasip2 and that nothing else cleans the target folder",
        path.display()
    )]
    NoComponent {
        /// Where the component was expected.
        path: PathBuf,
    },
    /// The plugin's settings file is invalid.
    #[error(transparent)]
    Settings(#[from] crate::plugins::PluginError),
}

impl AuthoringError {
    /// An [`AuthoringError::Io`] for `action` on `path`.
    pub fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| AuthoringError::Io {
            action,
            path,
            source,
        }
    }
}
