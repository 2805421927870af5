//! Builds a Python strategy project into a component with componentize-py.
//!
//! The project folder holds `app.py` (the user's module, which calls
//! `tradehost_strategy.register`) and any other modules it imports. componentize-py runs with
//! the project and the Python SDK (`sdk/python`) on its path, the world `strategy-plugin` of
//! `wit/`, and the SDK's entry module `tradehost_strategy.component`; it pre-initialises
//! CPython, so importing `app.py` happens here, at build time, and a syntax error is reported
//! now with Python's own message rather than at load.
//!
//! A build is skipped when the output exists and the SHA-256 of every input (project and SDK
//! Python files, the WIT files, the componentize-py path) matches the stamp written next to
//! it: the first build takes ~20 s on a 2-core machine, an unchanged rebuild nothing.

use crate::plugins::producers::section;
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Environment variable naming the componentize-py executable to use.
pub const COMPONENTIZE_PY_ENV: &str = "TRADEHOST_COMPONENTIZE_PY";
/// The WIT world a strategy component implements.
pub const WORLD: &str = "strategy-plugin";
/// The SDK module componentize-py builds from (it imports the project's `app`).
pub const ENTRY_MODULE: &str = "tradehost_strategy.component";
/// The CPython version componentize-py 0.25 embeds (recorded in the `producers` section).
pub const PYTHON_VERSION: &str = "3.14";
/// The module of a project that registers its strategy.
pub const APP_FILE: &str = "app.py";

/// Why a Python strategy did not build.
#[derive(Debug, thiserror::Error)]
pub enum PythonBuildError {
    /// No componentize-py executable where we looked.
    #[error(
        "componentize-py not found (looked for {}): run ./scripts/setup.sh to install it in \
         .venv, or set {COMPONENTIZE_PY_ENV} to its path",
        .tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    ToolNotFound {
        /// The places tried, in order.
        tried: Vec<PathBuf>,
    },
    /// The project folder has no `app.py`.
    #[error("{} has no {APP_FILE}: a Python strategy project registers its strategy there", .dir.display())]
    NoApp {
        /// The project folder.
        dir: PathBuf,
    },
    /// Python refused the code: the message and the location, as Python reports them.
    #[error("Python syntax error in {}:\n{message}", .dir.display())]
    Syntax {
        /// The project folder.
        dir: PathBuf,
        /// Python's traceback, ending with the `SyntaxError` line.
        message: String,
    },
    /// Importing the project raised (a `NameError`, a missing `register` call...).
    #[error("importing the strategy in {} failed:\n{traceback}", .dir.display())]
    Import {
        /// The project folder.
        dir: PathBuf,
        /// Python's traceback.
        traceback: String,
    },
    /// componentize-py failed for another reason.
    #[error("componentize-py failed ({status}):\n{output}")]
    Failed {
        /// Its exit status.
        status: String,
        /// What it printed (trimmed).
        output: String,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Where the tools and sources of a Python build are.
#[derive(Debug, Clone)]
pub struct PythonToolchain {
    /// The componentize-py executable.
    pub componentize_py: PathBuf,
    /// The folder holding the `tradehost_strategy` package (`sdk/python`).
    pub sdk_dir: PathBuf,
    /// The folder of `strategy.wit`.
    pub wit_dir: PathBuf,
}

impl PythonToolchain {
    /// The toolchain of a tradehost checkout: `$TRADEHOST_COMPONENTIZE_PY`, else
    /// `ROOT/.venv/bin/componentize-py`, else `componentize-py` on `PATH`.
    pub fn for_checkout(root: &Path) -> Result<PythonToolchain, PythonBuildError> {
        let mut tried = Vec::new();
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(path) = std::env::var_os(COMPONENTIZE_PY_ENV) {
            candidates.push(PathBuf::from(path));
        }
        candidates.push(root.join(".venv").join("bin").join("componentize-py"));
        let on_path: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|p| {
                std::env::split_paths(&p)
                    .map(|d| d.join("componentize-py"))
                    .collect()
            })
            .unwrap_or_default();
        candidates.extend(on_path);
        for candidate in candidates {
            if candidate.is_file() {
                return Ok(PythonToolchain {
                    componentize_py: candidate,
                    sdk_dir: root.join("sdk").join("python"),
                    wit_dir: root.join("wit"),
                });
            }
            tried.push(candidate);
        }
        Err(PythonBuildError::ToolNotFound { tried })
    }
}

/// The checkout this tradehost was built from: its `sdk/python`, `wit/` and `.venv` serve
/// `tradehost build` of Python projects anywhere on the machine.
pub fn this_checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds the Python project in `dir` into `dir/target/NAME.wasm` (NAME: the folder's
/// name), as `tradehost build` does; the result is checked and installed like a Rust build.
pub fn build_project(dir: &Path) -> Result<super::cargo_build::Built, super::AuthoringError> {
    let dir = dir
        .canonicalize()
        .map_err(super::AuthoringError::io("open", dir))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "strategy".to_string());
    let tools = PythonToolchain::for_checkout(&this_checkout())?;
    let wasm = build_python(
        &dir,
        &dir.join("target").join(format!("{name}.wasm")),
        &tools,
    )?;
    Ok(super::cargo_build::Built {
        package: name,
        dir,
        wasm,
    })
}

/// True when `dir` is a Python strategy project (it has an `app.py`): what `tradehost build`
/// checks to choose componentize-py over cargo.
pub fn is_python_project(dir: &Path) -> bool {
    dir.join(APP_FILE).is_file()
}

/// Builds `project_dir` into `out_wasm` (skipped when the inputs are unchanged since the
/// last build there); returns the output path.
pub fn build_python(
    project_dir: &Path,
    out_wasm: &Path,
    tools: &PythonToolchain,
) -> Result<PathBuf, PythonBuildError> {
    if !is_python_project(project_dir) {
        return Err(PythonBuildError::NoApp {
            dir: project_dir.to_path_buf(),
        });
    }
    let digest = inputs_digest(project_dir, tools)?;
    let stamp = stamp_path(out_wasm);
    if out_wasm.is_file() && fs::read_to_string(&stamp).ok().as_deref() == Some(digest.as_str()) {
        return Ok(out_wasm.to_path_buf());
    }
    if let Some(parent) = out_wasm.parent() {
        fs::create_dir_all(parent).map_err(|source| io(parent, source))?;
    }
    // Written beside the output and renamed, so a watcher never sees half a component.
    let partial = out_wasm.with_extension("wasm.partial");
    let output = Command::new(&tools.componentize_py)
        .arg("-d")
        .arg(&tools.wit_dir)
        .args(["-w", WORLD, "componentize", "-p"])
        .arg(project_dir)
        .arg("-p")
        .arg(&tools.sdk_dir)
        .arg(ENTRY_MODULE)
        .arg("-o")
        .arg(&partial)
        .env("RUST_BACKTRACE", "0")
        .output()
        .map_err(|source| io(&tools.componentize_py, source))?;
    if !output.status.success() {
        let _ = fs::remove_file(&partial);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        return Err(classify_failure(
            project_dir,
            &output.status.to_string(),
            &text,
        ));
    }
    append_producers(&partial, tools)?;
    fs::rename(&partial, out_wasm).map_err(|source| io(out_wasm, source))?;
    fs::write(&stamp, &digest).map_err(|source| io(&stamp, source))?;
    Ok(out_wasm.to_path_buf())
}

/// Appends a `producers` section naming Python and componentize-py, so that
/// `tradehost check` can say which language built the plugin (componentize-py writes none).
fn append_producers(wasm: &Path, tools: &PythonToolchain) -> Result<(), PythonBuildError> {
    let version = Command::new(&tools.componentize_py)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|text| text.split_whitespace().nth(1).map(str::to_string))
        .unwrap_or_default();
    let mut bytes = fs::read(wasm).map_err(|source| io(wasm, source))?;
    bytes.extend(section(
        ("Python", PYTHON_VERSION),
        ("componentize-py", &version),
    ));
    fs::write(wasm, bytes).map_err(|source| io(wasm, source))
}

/// The file recording the inputs' digest of the last build of `out_wasm`.
pub fn stamp_path(out_wasm: &Path) -> PathBuf {
    let mut name = out_wasm.as_os_str().to_owned();
    name.push(".inputs");
    PathBuf::from(name)
}

/// Turns componentize-py's output into a typed error, keeping Python's traceback.
fn classify_failure(dir: &Path, status: &str, text: &str) -> PythonBuildError {
    // componentize-py prints "AssertionError: <python traceback>\n\nCaused by:" when the
    // import at pre-initialisation raised; the traceback is what the user needs.
    let traceback = text
        .split_once("AssertionError: ")
        .map(|(_, rest)| rest.split("\n\nCaused by:").next().unwrap_or(rest))
        .map(|tb| tb.trim().to_string());
    match traceback {
        Some(tb)
            if tb
                .lines()
                .any(|l| l.starts_with("SyntaxError") || l.starts_with("IndentationError")) =>
        {
            PythonBuildError::Syntax {
                dir: dir.to_path_buf(),
                message: tb,
            }
        }
        Some(tb) if tb.starts_with("Traceback") => PythonBuildError::Import {
            dir: dir.to_path_buf(),
            traceback: tb,
        },
        _ => PythonBuildError::Failed {
            status: status.to_string(),
            output: text.trim().chars().take(4000).collect(),
        },
    }
}

/// SHA-256 over every input of a build, in a stable order, as hex.
fn inputs_digest(project_dir: &Path, tools: &PythonToolchain) -> Result<String, PythonBuildError> {
    let mut files = Vec::new();
    collect_files(project_dir, &["py"], &mut files)?;
    collect_files(&tools.sdk_dir, &["py"], &mut files)?;
    collect_files(&tools.wit_dir, &["wit"], &mut files)?;
    files.sort();
    let mut hasher = Sha256::new();
    hasher.update(tools.componentize_py.as_os_str().as_encoded_bytes());
    for file in files {
        let bytes = fs::read(&file).map_err(|source| io(&file, source))?;
        hasher.update(file.as_os_str().as_encoded_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Every file under `dir` whose extension is one of `exts`, skipping caches and hidden folders.
fn collect_files(
    dir: &Path,
    exts: &[&str],
    out: &mut Vec<PathBuf>,
) -> Result<(), PythonBuildError> {
    let entries = fs::read_dir(dir).map_err(|source| io(dir, source))?;
    for entry in entries {
        let entry = entry.map_err(|source| io(dir, source))?;
        let path = entry.path();
        let name: OsString = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if !name.starts_with('.') && name != "__pycache__" && name != "tests" {
                collect_files(&path, exts, out)?;
            }
        } else if path
            .extension()
            .is_some_and(|e| exts.iter().any(|x| e == *x))
        {
            out.push(path);
        }
    }
    Ok(())
}

fn io(path: &Path, source: std::io::Error) -> PythonBuildError {
    PythonBuildError::Io {
        path: path.to_path_buf(),
        source,
    }
}
