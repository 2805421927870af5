//! Parameter sweep against one backtest (issue 11): the real `tradehost sweep` command with
//! 100 parameter sets of the SMA crossover example over the SPY trades of 2013-10-07..11,
//! and the real `tradehost backtest` of the example's defaults on the same file, whole
//! process each, side by side in one run.
//!
//! Both read the trades from the parsed-trade cache (a warm-up run fills it). The backtest
//! runs three times and its median is the unit; the sweep runs once, on every core. Each of
//! the sweep's sets is its own sandboxed instance with its own orders and positions; what
//! they share is the one read of the data, the one compile of the plugin and, within each
//! thread's group of sets, the market pass.
//!
//! Run (after `scripts/build-plugins.sh`): `cargo bench -p tradehost --bench sweep`.
//! `SWEEP_DATA` and `SWEEP_PLUGIN` override the defaults.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// The grid: 10 fast lengths by 10 slow lengths, 100 sets, every one valid (fast < slow).
const FAST: &str = "fast=2,3,4,5,6,8,10,12,15,20";
const SLOW: &str = "slow=25,30,35,40,50,60,80,100,150,200";

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let (data, plugin) = support::data_and_plugin(&root, "SWEEP");
    let work = tempfile::tempdir().expect("temp dir");
    let cache = work.path().join("cache");
    let command = |args: &[&std::ffi::OsStr]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tradehost"));
        c.current_dir(&root)
            .env("XDG_CACHE_HOME", &cache)
            .env("PLUGIN_CACHE_DIR", work.path().join("plugin-cache"))
            .args(args);
        c
    };
    let backtest = |out: &str| {
        command(&[
            "backtest".as_ref(),
            "--env".as_ref(),
            "/dev/null".as_ref(),
            "--data".as_ref(),
            data.as_os_str(),
            "--plugins".as_ref(),
            plugin.as_os_str(),
            "--out".as_ref(),
            work.path().join(out).as_os_str(),
        ])
    };
    // Warm-up: fills the trade cache and compiles the plugin into the artifact cache.
    timed(&mut backtest("warm-up"));
    let singles: Vec<(f64, f64)> = (0..3)
        .map(|i| timed(&mut backtest(&format!("single-{i}"))).0)
        .collect();
    let mut by_wall = singles.clone();
    by_wall.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (single_wall, single_cpu) = by_wall[1];
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let sweep_out = work.path().join("sweep");
    let ((sweep_wall, sweep_cpu), printed) = timed(&mut command(&[
        "sweep".as_ref(),
        "--env".as_ref(),
        "/dev/null".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
        "--plugin".as_ref(),
        plugin.as_os_str(),
        "--grid".as_ref(),
        FAST.as_ref(),
        "--grid".as_ref(),
        SLOW.as_ref(),
        "--top".as_ref(),
        "3".as_ref(),
        "--out".as_ref(),
        sweep_out.as_os_str(),
    ]));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sweep_out.join("sweep.json")).expect("sweep.json"))
            .expect("sweep.json is JSON");
    let rows = report["rows"].as_array().map_or(0, Vec::len);
    let failed = report["rows"]
        .as_array()
        .map_or(0, |r| r.iter().filter(|r| !r["error"].is_null()).count());
    assert_eq!(rows, 100, "the sweep ran every set:\n{printed}");
    assert_eq!(failed, 0, "no set failed:\n{printed}");
    println!(
        "`--grid {FAST} --grid {SLOW}` ({rows} sets, {threads} threads), {}, load average {}\n",
        chrono::Utc::now().format("%Y-%m-%d"),
        support::load_average()
    );
    println!("| run | whole process s | CPU s |");
    println!("| --- | ---: | ---: |");
    for (i, (wall, cpu)) in singles.iter().enumerate() {
        println!(
            "| one backtest, default parameters, run {} | {wall:.2} | {cpu:.2} |",
            i + 1
        );
    }
    println!("| sweep of {rows} sets | {sweep_wall:.2} | {sweep_cpu:.2} |");
    let ratio = sweep_wall / single_wall;
    let per_set = sweep_cpu / rows as f64;
    println!(
        "\nSweep / median backtest: {ratio:.1}× whole process; {per_set:.3} CPU-s per set against \
         {single_cpu:.2} CPU-s for one backtest process.\n\nThe sweep's best sets:\n\n```\n{}```",
        printed
            .lines()
            .take(4)
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );
    println!(
        "TARGET|100 parameter sets of the SMA example over the SPY file, against one backtest, whole process, same run|{ratio:.1}× (sweep {sweep_wall:.2} s, one backtest {single_wall:.2} s)|< 10×|{}",
        if ratio < 10.0 { "met" } else { "not met" }
    );
}

/// Run to the end; (wall s, CPU s of the child) and what it printed. Panics on failure.
fn timed(command: &mut Command) -> ((f64, f64), String) {
    let cpu_before = children_cpu();
    let started = Instant::now();
    let out = command.output().expect("start tradehost");
    let wall = started.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{command:?} failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ((wall, children_cpu() - cpu_before), text)
}

/// User + system time of the children waited for so far.
fn children_cpu() -> f64 {
    // SAFETY: an all-zero rusage is valid; getrusage fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: plain syscall writing into `usage`, which outlives the call.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}
