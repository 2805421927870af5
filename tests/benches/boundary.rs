//! Plugin boundary and reload benchmark (issue 2): per-event cost of the SMA crossover as a
//! component vs the same code compiled natively, by batch size; compile vs cached load; and
//! hot-reload latency (file renamed into place → new version serving).
//!
//! Both sides get the same batches, built before the clock starts: the component through
//! `PluginInstance::on_events` (lowering, guest lifting, SDK dispatch, epoch deadline armed),
//! the native build through the SDK's harness (a copy of each batch, as the guest gets one,
//! and the same dispatch). Results are printed as markdown tables.
//!
//! Run: `cargo bench -p tradehost-tests --bench boundary`

use std::sync::Arc;
use std::time::{Duration, Instant};
use tradehost::plugins::bindings::trade_event;
use tradehost::plugins::instance::{CallLimits, PluginInstance};
use tradehost::plugins::runtime::PluginRuntime;
use tradehost::plugins::sandbox::HostState;
use tradehost::plugins::{BatchBuilder, EmptyView, PluginConfig, SymbolTable, wit};
use tradehost_sdk::testing::Harness;
use tradehost_tests::guests;
use tradehost_tests::plugin_harness::{self, real_trades};

const EVENTS: usize = 200_000;

fn main() {
    let trades = real_trades("SPY", 30_000);
    println!(
        "SMA crossover (fast 8, slow 21, 2 s bars) over real SPY trades, {EVENTS} events per \
         case, {}, load average {}\n",
        chrono::Utc::now().format("%Y-%m-%d"),
        load_average()
    );
    println!("| batch | native ns/event | wasm ns/event | wasm / native |");
    println!("| ---: | ---: | ---: | ---: |");
    for batch in [1usize, 16, 64, 256] {
        let native = native_ns_per_event(&trades, batch);
        let wasm = component_ns_per_event(&trades, batch);
        println!(
            "| {batch} | {native:.1} | {wasm:.1} | {:.2} |",
            wasm / native
        );
    }
    println!("\n| what | ms |");
    println!("| --- | ---: |");
    compile_times();
    reload_latency();
}

fn native_ns_per_event(trades: &[tradehost::types::Trade], batch: usize) -> f64 {
    use tradehost_sdk::types::{Event, EventBatch, Trade};
    let mut h =
        Harness::<sma_crossover::SmaCrossover>::start(&[("symbols", "SPY")]).expect("start");
    let spy = h.symbol("SPY");
    let batches: Vec<(usize, EventBatch)> = trades
        .chunks(batch)
        .map(|chunk| {
            let events = chunk.iter().map(|t| {
                Event::Trade(Trade {
                    symbol: spy,
                    price: t.price,
                    size: t.size,
                    time: t.time_ms,
                })
            });
            (chunk.len(), EventBatch::from_events(events))
        })
        .collect();
    let started = Instant::now();
    let mut done = 0;
    while done < EVENTS {
        for (len, b) in &batches {
            std::hint::black_box(h.batch(b.clone()));
            done += len;
        }
    }
    started.elapsed().as_nanos() as f64 / done as f64
}

fn component_ns_per_event(trades: &[tradehost::types::Trade], batch: usize) -> f64 {
    let config = PluginConfig {
        cache_dir: None,
        ..PluginConfig::default()
    };
    let runtime = PluginRuntime::new(&config).expect("runtime");
    let bytes = std::fs::read(guests::SMA_CROSSOVER).expect("guest");
    let prepared = runtime
        .prepare(std::path::Path::new(guests::SMA_CROSSOVER), &bytes)
        .expect("prepare");
    let symbols = SymbolTable::new();
    let state = HostState::new(
        "sma".into(),
        64 << 20,
        Arc::new(EmptyView),
        symbols.clone(),
        0,
    );
    let limits = CallLimits {
        call: Duration::from_secs(1),
        start: Duration::from_secs(5),
        fuel: None,
    };
    let mut instance =
        PluginInstance::instantiate(&runtime, &prepared.pre, state, limits).expect("instantiate");
    instance
        .init(&[("symbols".into(), "SPY".into())])
        .expect("init")
        .expect("init ok");
    let batches: Vec<(usize, wit::EventBatch)> = trades
        .chunks(batch)
        .map(|chunk| {
            let b: BatchBuilder = chunk.iter().map(|t| trade_event(t, &symbols)).collect();
            (chunk.len(), b.finish())
        })
        .collect();
    let started = Instant::now();
    let mut done = 0;
    while done < EVENTS {
        for (len, b) in &batches {
            std::hint::black_box(instance.on_events(b, 100_000).expect("call"));
            done += len;
        }
    }
    started.elapsed().as_nanos() as f64 / done as f64
}

fn compile_times() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = PluginConfig {
        cache_dir: Some(dir.path().join("cache")),
        ..PluginConfig::default()
    };
    let runtime = PluginRuntime::new(&config).expect("runtime");
    let bytes = std::fs::read(guests::SMA_CROSSOVER).expect("guest");
    let path = std::path::Path::new(guests::SMA_CROSSOVER);
    let cold = runtime.prepare(path, &bytes).expect("cold");
    let warm = runtime.prepare(path, &bytes).expect("warm");
    assert!(warm.cached);
    let kb = bytes.len() / 1024;
    println!(
        "| compile `sma-crossover.wasm` ({kb} KB), cold | {:.1} |",
        cold.compile_time.as_secs_f64() * 1e3
    );
    println!(
        "| load the same from the artifact cache | {:.2} |",
        warm.compile_time.as_secs_f64() * 1e3
    );
}

fn reload_latency() {
    for cached in [false, true] {
        let h = plugin_harness::Harness::new(|c| c.reload_debounce = Duration::from_millis(20));
        let path = h.install(guests::COUNTER, "counter");
        h.host.load_file(&path, None).expect("load");
        if cached {
            // Compile v2 once so that the reload finds it in the cache.
            let warm = h.install(guests::COUNTER_V2, "warmup");
            h.host.load_file(&warm, None).expect("warm");
            h.host.unload("warmup");
            std::fs::remove_file(&warm).expect("rm");
        }
        let _watch = tradehost::plugins::watcher::watch(h.host.clone()).expect("watch");
        std::thread::sleep(Duration::from_millis(100));
        let tmp = path.with_extension("wasm.tmp");
        std::fs::copy(guests::COUNTER_V2, &tmp).expect("copy");
        let started = Instant::now();
        std::fs::rename(&tmp, &path).expect("rename");
        while h.host.statuses()[0].stats.reloads_ok == 0 {
            assert!(started.elapsed() < Duration::from_secs(30), "no reload");
            std::thread::sleep(Duration::from_micros(200));
        }
        println!(
            "| hot reload, file renamed into place → new version serving, {} (debounce 20 ms included) | {:.1} |",
            if cached {
                "compiled artifact cached"
            } else {
                "cold compile"
            },
            started.elapsed().as_secs_f64() * 1e3
        );
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
