//! Strategy authoring: `tradehost new` creates a strategy project from a language's template,
//! `tradehost build` turns a Rust strategy crate into a checked component and installs it.
//!
//! - [`crate_name`]: which names a project can have.
//! - [`scaffold`]: writing a template's files into a new folder (any language).
//! - [`rust_template`]: the Rust crate template (files in `host/templates/rust/`).
//! - [`cargo_build`]: `cargo build --target wasm32-wasip2` and finding the `.wasm`.
//! - [`install`]: staging the component with its settings, and the atomic copy into a
//!   plugins folder.
//! - [`python_template`] and [`python_build`]: a Python strategy project, and building it
//!   into a component with componentize-py.
//!
//! Checking the component is `tradehost check`'s code ([`crate::plugins::check_file`]).

pub mod cargo_build;
pub mod crate_name;
pub mod error;
pub mod install;
pub mod python_build;
pub mod python_template;
pub mod rust_template;
pub mod scaffold;

pub use error::AuthoringError;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// The language of a new strategy project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// A Rust crate on the tradehost SDK.
    #[default]
    Rust,
    /// A Python project on the Python SDK, built with componentize-py.
    Python,
}

impl Lang {
    /// Every language with a template.
    pub const ALL: &[Lang] = &[Lang::Rust, Lang::Python];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Lang {
    type Err = AuthoringError;

    fn from_str(s: &str) -> Result<Lang, AuthoringError> {
        Lang::ALL
            .iter()
            .copied()
            .find(|l| l.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| AuthoringError::UnknownLang {
                given: s.to_string(),
                known: Lang::ALL
                    .iter()
                    .map(|l| l.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// What `tradehost new` is asked to create.
#[derive(Debug, Clone)]
pub struct NewProject {
    /// The project's name (crate and plugin name).
    pub name: String,
    /// The folder the project folder is created in.
    pub parent: PathBuf,
    /// The template's language.
    pub lang: Lang,
    /// The SDK to depend on (Rust), instead of the one this tradehost was built from.
    pub sdk: Option<PathBuf>,
}

/// A project that was created.
#[derive(Debug, Clone)]
pub struct Created {
    /// Its folder.
    pub dir: PathBuf,
    /// The files written, in order.
    pub files: Vec<PathBuf>,
}

/// Creates the project folder `parent/name` from the language's template. Refuses a bad
/// name or an existing non-empty folder before writing anything.
pub fn new_project(request: &NewProject) -> Result<Created, AuthoringError> {
    crate_name::validate(&request.name)?;
    let dir = request.parent.join(&request.name);
    scaffold::check_free(&dir)?;
    let files = match request.lang {
        Lang::Rust => {
            let sdk_path = request
                .sdk
                .clone()
                .unwrap_or_else(rust_template::default_sdk_path);
            rust_template::files(&request.name, &rust_template::locate_sdk(&sdk_path)?)?
        }
        Lang::Python => python_template::files(&request.name),
    };
    let files = scaffold::write_project(&dir, &files)?;
    Ok(Created { dir, files })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn request(parent: &Path, name: &str) -> NewProject {
        NewProject {
            name: name.into(),
            parent: parent.to_path_buf(),
            lang: Lang::Rust,
            sdk: None,
        }
    }

    #[test]
    fn languages_parse_by_name_and_unknown_ones_list_the_known() {
        assert_eq!("rust".parse::<Lang>().unwrap(), Lang::Rust);
        assert_eq!("Rust".parse::<Lang>().unwrap(), Lang::Rust);
        let err = "cobol".parse::<Lang>().unwrap_err().to_string();
        assert!(
            err.contains("unknown language `cobol`") && err.contains("rust"),
            "{err}"
        );
    }

    #[test]
    fn creates_a_rust_crate_and_refuses_to_overwrite_it() {
        let tmp = tempfile::tempdir().unwrap();
        let created = new_project(&request(tmp.path(), "my-strat")).unwrap();
        assert_eq!(created.dir, tmp.path().join("my-strat"));
        for file in [
            "Cargo.toml",
            ".cargo/config.toml",
            "src/lib.rs",
            "README.md",
            "my-strat.toml",
        ] {
            assert!(created.dir.join(file).is_file(), "{file} missing");
        }
        let lib = std::fs::read_to_string(created.dir.join("src/lib.rs")).unwrap();
        let err = new_project(&request(tmp.path(), "my-strat"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("already exists and is not empty"), "{err}");
        assert_eq!(
            std::fs::read_to_string(created.dir.join("src/lib.rs")).unwrap(),
            lib
        );
    }

    #[test]
    fn creates_a_python_project() {
        let tmp = tempfile::tempdir().unwrap();
        let mut req = request(tmp.path(), "py-strat");
        req.lang = Lang::Python;
        let created = new_project(&req).unwrap();
        assert!(created.dir.join("app.py").is_file());
        assert!(python_build::is_python_project(&created.dir));
        assert_eq!("python".parse::<Lang>().unwrap(), Lang::Python);
    }

    #[test]
    fn a_bad_name_writes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let err = new_project(&request(tmp.path(), "9lives"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("must start with a letter"), "{err}");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_missing_sdk_writes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let mut req = request(tmp.path(), "my-strat");
        req.sdk = Some(tmp.path().join("nowhere"));
        let err = new_project(&req).unwrap_err().to_string();
        assert!(err.contains("the tradehost SDK is not at"), "{err}");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }
}
