//! Python strategies built into components for the tests: the Python example and the
//! Python fixtures, compiled with componentize-py once per test run.
//!
//! Builds go through the host's own `authoring::python_build` (the code `tradehost build`
//! uses) into `target/guests/python/`, where the inputs' digest is stamped next to each
//! component: an unchanged project is not rebuilt, in this run or the next (the first build
//! takes ~20 s on a 2-core machine). Builds are serialised, because two at once only share
//! the same cores. componentize-py comes from the checkout's `.venv` (`scripts/setup.sh`,
//! which `scripts/test.sh` runs first) or `$TRADEHOST_COMPONENTIZE_PY`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tradehost::authoring::python_build::{PythonToolchain, build_python};

/// The checkout's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// Where the Python components are built.
pub fn out_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir).join("guests").join("python"),
        None => repo_root().join("target").join("guests").join("python"),
    }
}

/// The Python SMA crossover example (`examples/python/sma_crossover`), built.
pub fn sma_crossover() -> PathBuf {
    build(
        &repo_root().join("examples/python/sma_crossover"),
        "sma_crossover",
    )
}

/// A Python fixture of `tests/python-fixtures` (`py_counter`, `py_raises`...), built.
pub fn fixture(name: &str) -> PathBuf {
    build(&repo_root().join("tests/python-fixtures").join(name), name)
}

/// A variant of a fixture with `from` replaced by `to` in its `app.py` (a "new version"),
/// built under the name `name`.
pub fn variant(fixture_name: &str, name: &str, from: &str, to: &str) -> PathBuf {
    let source = repo_root()
        .join("tests/python-fixtures")
        .join(fixture_name)
        .join("app.py");
    let text = std::fs::read_to_string(&source)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", source.display()));
    assert!(text.contains(from), "{} has no `{from}`", source.display());
    // A stable folder, so that the digest (and the cached build) carries over between runs.
    let project = out_dir().join("projects").join(name);
    std::fs::create_dir_all(&project).expect("variant folder");
    let app = project.join("app.py");
    let new = text.replacen(from, to, 1);
    if std::fs::read_to_string(&app).ok().as_deref() != Some(new.as_str()) {
        std::fs::write(&app, new).expect("variant app.py");
    }
    build(&project, name)
}

/// Builds `project` into `out_dir()/NAME.wasm` unless it is up to date; panics with the
/// build's error (which says how to install componentize-py when it is missing).
pub fn build(project: &Path, name: &str) -> PathBuf {
    static BUILDING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let tools = PythonToolchain::for_checkout(&repo_root()).unwrap_or_else(|e| panic!("{e}"));
    let out = out_dir().join(format!("{name}.wasm"));
    build_python(project, &out, &tools).unwrap_or_else(|e| panic!("building {name}: {e}"))
}
