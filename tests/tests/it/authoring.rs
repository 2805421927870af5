//! A strategy author's path through the real `tradehost` binary: `tradehost new` in a folder
//! outside this workspace, the template's unit tests natively (`cargo test-native`),
//! `tradehost build --install` into the plugins folder of a running demo daemon, and a fill
//! of the new strategy in the daemon's journal. Also the refusals a new author meets.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use tradehost::broker::JournalRecord;
use tradehost_tests::daemon_harness::journal_records;
use tradehost_tests::daemon_process::{DaemonProcess, binary};

/// The workspace root (tests/ is one of its members).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The target folder the nested cargo builds share with tests/build.rs's guests, so that the
/// SDK's dependencies are compiled once per machine, not once per test run.
fn guest_target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir).join("guests"),
        None => workspace_root().join("target").join("guests"),
    }
}

/// A command in `dir` without the outer `cargo test`'s settings that would leak into a nested
/// build (as tests/build.rs removes them), building into the shared guest target folder.
fn clean_command(program: impl AsRef<std::ffi::OsStr>, dir: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir);
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_TARGET_DIR",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_LLVM_COV",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MANIFEST_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("CARGO_TARGET_DIR", guest_target_dir());
    cmd
}

/// Runs `cmd`; its output, or a failure showing the end of both streams.
fn run(what: &str, cmd: &mut Command) -> Output {
    let started = Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    eprintln!("{what}: {:.1} s", started.elapsed().as_secs_f64());
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\n--- stdout\n{}\n--- stderr (end)\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            tail(&String::from_utf8_lossy(&out.stderr), 60)
        );
    }
    out
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `tradehost ARGS` in `dir`, expected to fail; its stderr.
fn refused(dir: &Path, args: &[&str]) -> String {
    let out = clean_command(binary().unwrap(), dir)
        .args(args)
        .output()
        .unwrap();
    assert!(!out.status.success(), "tradehost {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A running demo daemon with no plugin yet, in a folder of its own; its plugins folder.
fn empty_daemon() -> (tempfile::TempDir, PathBuf, DaemonProcess) {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let mut daemon = DaemonProcess::start(dir.path(), &[]).unwrap();
    daemon
        .wait_until("the status API", Duration::from_secs(60), |d| {
            d.status().is_some()
        })
        .unwrap();
    (dir, plugins, daemon)
}

/// Wait for a fill of `plugin` in the daemon's journal, then stop the daemon cleanly.
fn fills_then_stops(mut daemon: DaemonProcess, dir: &Path, plugin: &str, limit: Duration) {
    let journal = dir.join("journal/journal.bin");
    daemon
        .wait_until(&format!("a fill of {plugin}"), limit, |_| {
            journal_records(&journal)
                .iter()
                .any(|r| matches!(r, JournalRecord::Fill { fill, .. } if &*fill.plugin == plugin))
        })
        .unwrap();
    let (status, _) = daemon.sigterm(Duration::from_secs(20)).unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn a_new_strategy_is_tested_built_installed_into_a_running_daemon_and_fills() {
    let home = tempfile::tempdir().unwrap();
    assert!(
        !home.path().starts_with(workspace_root()),
        "the crate must live outside the workspace"
    );
    let name = "first-strategy";
    let out = run(
        "tradehost new",
        clean_command(binary().unwrap(), home.path()).args(["new", name, "--dir", "."]),
    );
    let krate = home.path().join(name);
    assert!(
        stdout(&out).contains("cargo test-native"),
        "{}",
        stdout(&out)
    );
    assert!(krate.join(".cargo/config.toml").is_file());

    // The template's unit tests run natively through the alias the template defines.
    let out = run(
        "cargo test-native",
        clean_command(env!("CARGO"), &krate).arg("test-native"),
    );
    assert!(
        stdout(&out).contains("test result: ok. 2 passed"),
        "{}",
        stdout(&out)
    );

    // A running demo daemon with no plugin yet: the new strategy arrives by hot drop-in.
    let (daemon_dir, plugins, daemon) = empty_daemon();

    let out = run(
        "tradehost build --install",
        clean_command(binary().unwrap(), &krate)
            .args(["build", "--install"])
            .arg(&plugins),
    );
    let text = stdout(&out);
    assert!(text.contains("is a valid tradehost strategy"), "{text}");
    assert!(text.contains(&format!("strategy:  {name} 0.1.0")), "{text}");
    // The crate's settings file went along and is the one in force (fast = 3).
    assert!(text.contains("setting:   fast = 3"), "{text}");
    assert!(plugins.join(format!("{name}.wasm")).is_file());
    assert!(plugins.join(format!("{name}.toml")).is_file());
    let built = guest_target_dir().join("wasm32-wasip2/release/first_strategy.wasm");
    assert!(built.is_file(), "{} missing", built.display());

    fills_then_stops(daemon, daemon_dir.path(), name, Duration::from_secs(120));
}

#[test]
fn new_refuses_a_bad_name_and_a_non_empty_folder_and_build_refuses_a_crate_without_cdylib() {
    let home = tempfile::tempdir().unwrap();
    let err = refused(home.path(), &["new", "9-lives"]);
    assert!(
        err.contains("`9-lives` is not a valid strategy name"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(home.path()).unwrap().count(),
        0,
        "nothing written"
    );

    std::fs::create_dir_all(home.path().join("taken")).unwrap();
    std::fs::write(home.path().join("taken/notes.txt"), "mine").unwrap();
    let err = refused(home.path(), &["new", "taken"]);
    assert!(err.contains("already exists and is not empty"), "{err}");
    assert_eq!(
        std::fs::read_to_string(home.path().join("taken/notes.txt")).unwrap(),
        "mine"
    );

    let err = refused(home.path(), &["new", "other", "--lang", "cobol"]);
    assert!(err.contains("unknown language `cobol`"), "{err}");

    // A crate whose library is not a cdylib: cargo would print `Finished` and no .wasm.
    let plain = home.path().join("plain");
    std::fs::create_dir_all(plain.join("src")).unwrap();
    std::fs::write(
        plain.join("Cargo.toml"),
        "[package]\nname = \"plain\"\nversion = \"0.1.0\"\nedition = \"2024\"\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(plain.join("src/lib.rs"), "").unwrap();
    let err = refused(home.path(), &["build", "plain"]);
    assert!(
        err.contains("its library is not a cdylib") && err.contains("crate-type"),
        "{err}"
    );
}

#[test]
fn a_new_python_strategy_is_built_with_componentize_py_installed_and_fills() {
    let home = tempfile::tempdir().unwrap();
    let name = "py-first";
    let out = run(
        "tradehost new --lang python",
        clean_command(binary().unwrap(), home.path())
            .args(["new", name, "--lang", "python", "--dir", "."]),
    );
    let project = home.path().join(name);
    assert!(project.join("app.py").is_file(), "{}", stdout(&out));

    let (daemon_dir, plugins, daemon) = empty_daemon();
    // The same command as for Rust; it sees app.py and runs componentize-py.
    let out = run(
        "tradehost build --install (Python)",
        clean_command(binary().unwrap(), &project)
            .args(["build", "--install"])
            .arg(&plugins),
    );
    let text = stdout(&out);
    assert!(text.contains("is a valid tradehost strategy"), "{text}");
    assert!(text.contains("built by:  Python"), "{text}");
    assert!(plugins.join(format!("{name}.wasm")).is_file());

    fills_then_stops(daemon, daemon_dir.path(), name, Duration::from_secs(240));
}

#[test]
fn a_reload_of_a_strategy_without_serde_says_its_state_was_not_kept() {
    let (dir, plugins, mut daemon) = empty_daemon();
    let install = |plugins: &Path| {
        // Copy then rename, as `tradehost build --install` does.
        let tmp = plugins.join(".quiet.wasm.tmp");
        std::fs::copy(tradehost_tests::guests::CLOCK_READER, &tmp).unwrap();
        std::fs::rename(&tmp, plugins.join("quiet.wasm")).unwrap();
    };
    install(&plugins);
    daemon
        .wait_until("quiet loaded", Duration::from_secs(60), |d| {
            d.log("trading_agent.log").contains("loaded ")
                && d.log("trading_agent.log").contains("quiet.wasm")
        })
        .unwrap();
    install(&plugins);
    daemon
        .wait_until("the reload's warning", Duration::from_secs(60), |d| {
            d.log("trading_agent.log")
                .contains("quiet keeps no state across this reload")
        })
        .unwrap();
    assert!(
        daemon
            .log("trading_agent.log")
            .contains("derive Serialize and Deserialize")
    );
    let (status, _) = daemon.sigterm(Duration::from_secs(20)).unwrap();
    assert!(status.success(), "{status}");
    drop(dir);
}
