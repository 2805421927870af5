//! The process-wide plugin runtime: one wasmtime `Engine`, one `Linker`, the epoch ticker,
//! and compilation (validated, budgeted, cached).

use super::PluginConfig;
use super::bindings::StrategyPluginPre;
use super::cache::{ArtifactCache, Digest32};
pub use super::epoch_ticker::EPOCH_TICK;
use super::epoch_ticker::EpochTicker;
use super::error::{PluginError, chain};
use super::sandbox::HostState;
use super::validate::{ComponentFacts, ValidationLimits, inspect};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};

/// A component compiled, validated and linked, ready to instantiate any number of times.
pub struct Prepared {
    /// Pre-linked instance factory (instantiation ≈20 µs).
    pub pre: StrategyPluginPre<HostState>,
    /// What validation learned about the bytes.
    pub facts: ComponentFacts,
    /// Time spent compiling or loading from the cache.
    pub compile_time: Duration,
    /// True when the artifact came from the cache.
    pub cached: bool,
}

/// The shared engine and everything built on it.
pub struct PluginRuntime {
    engine: Engine,
    linker: Linker<HostState>,
    cache: Option<ArtifactCache>,
    limits: ValidationLimits,
    /// One compilation at a time: compiling is CPU- and memory-hungry.
    compile_lock: Mutex<()>,
    /// Advances the epoch while guest calls run.
    ticker: Arc<EpochTicker>,
    /// The last component prepared, with the digest of its bytes: the same bytes again (a
    /// sweep's sets, one plugin in several files) share its validation, compiled code and
    /// linking.
    last: Mutex<Option<(Digest32, ComponentFacts, StrategyPluginPre<HostState>)>>,
}

impl PluginRuntime {
    /// Build the engine for `config`'s limits and start the epoch ticker.
    pub fn new(config: &PluginConfig) -> Result<Arc<Self>, PluginError> {
        let mut wasm = Config::new();
        wasm.wasm_component_model(true)
            // Measured: with concurrency support every call costs ~3x more.
            .concurrency_support(false)
            .epoch_interruption(true)
            .consume_fuel(config.fuel_per_call.is_some())
            .max_wasm_stack(config.max_stack_bytes)
            .cranelift_opt_level(wasmtime::OptLevel::Speed);
        let engine = Engine::new(&wasm).map_err(|e| PluginError::Runtime(chain(&e)))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| PluginError::Runtime(chain(&e)))?;
        super::wait_limit::add_to_linker(&mut linker)
            .map_err(|e| PluginError::Runtime(chain(&e)))?;
        super::bindings::StrategyPlugin::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
            &mut linker,
            |state: &mut HostState| state,
        )
        .map_err(|e| PluginError::Runtime(chain(&e)))?;
        let cache = config
            .cache_dir
            .as_ref()
            .map(|dir| ArtifactCache::new(dir.clone(), &engine));
        let ticker = EpochTicker::spawn(engine.clone())
            .map_err(|e| PluginError::Runtime(format!("cannot start the epoch ticker: {e}")))?;
        Ok(Arc::new(PluginRuntime {
            engine,
            linker,
            cache,
            limits: ValidationLimits {
                max_file_bytes: config.max_file_bytes,
                max_functions: config.max_functions,
            },
            compile_lock: Mutex::new(()),
            ticker,
            last: Mutex::new(None),
        }))
    }

    /// The shared engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The epoch ticker: a guest call holds it while it runs.
    pub fn ticker(&self) -> &Arc<EpochTicker> {
        &self.ticker
    }

    /// Epoch ticks that make up at least `d` (never fewer than 2: the first tick may come
    /// at any moment).
    pub fn ticks_for(d: Duration) -> u64 {
        let ticks = d.as_nanos().div_ceil(EPOCH_TICK.as_nanos()) as u64;
        ticks.max(1) + 1
    }

    /// Validate, compile (or load from the cache) and link a component. Blocking: call it
    /// from a loader thread, never from the event path.
    pub fn prepare(&self, path: &Path, bytes: &[u8]) -> Result<Prepared, PluginError> {
        let started = Instant::now();
        let digest = super::cache::digest(bytes);
        if let Some((seen, facts, pre)) = &*self.last.lock().unwrap_or_else(|p| p.into_inner())
            && *seen == digest
        {
            return Ok(Prepared {
                pre: pre.clone(),
                facts: facts.clone(),
                compile_time: started.elapsed(),
                cached: true,
            });
        }
        let facts = inspect(path, bytes, self.limits)?;
        let _guard = self.compile_lock.lock().unwrap_or_else(|p| p.into_inner());
        let started = Instant::now();
        let cached_component = self
            .cache
            .as_ref()
            .and_then(|c| c.load(&self.engine, &digest));
        let cached = cached_component.is_some();
        let component = match cached_component {
            Some(c) => c,
            None => {
                let c = Component::from_binary(&self.engine, bytes).map_err(|e| {
                    PluginError::Compile {
                        path: path.to_path_buf(),
                        message: chain(&e),
                    }
                })?;
                if let Some(cache) = &self.cache {
                    cache.store(&digest, &c);
                }
                c
            }
        };
        cow_image(&component, path);
        let compile_time = started.elapsed();
        let link_error = |e: wasmtime::Error| PluginError::Compile {
            path: path.to_path_buf(),
            message: format!(
                "cannot link: {} (the plugin imports something this host does not provide)",
                chain(&e)
            ),
        };
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(link_error)?;
        let pre = StrategyPluginPre::new(instance_pre).map_err(link_error)?;
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((digest, facts.clone(), pre.clone()));
        Ok(Prepared {
            pre,
            facts,
            compile_time,
            cached,
        })
    }
}

/// Make the component's initial-memory image now, retrying a few times: on Linux it is a
/// sealed memfd, and sealing fails with EBUSY while the kernel still holds a transient
/// reference to a freshly written page (seen once in a few hundred loads of the 19 MB Python
/// component on a busy machine). Without an image here, instantiation makes it lazily (and
/// reports a persistent failure then).
fn cow_image(component: &Component, path: &Path) {
    const ATTEMPTS: u32 = 5;
    for attempt in 1..=ATTEMPTS {
        match component.initialize_copy_on_write_image() {
            Ok(()) => return,
            Err(e) if attempt == ATTEMPTS => {
                tracing::warn!(
                    target: "tradehost::plugins",
                    "{}: no initial-memory image after {ATTEMPTS} attempts ({}); instantiation tries again",
                    path.display(),
                    chain(&e)
                );
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10 * u64::from(attempt))),
        }
    }
}

impl Drop for PluginRuntime {
    fn drop(&mut self) {
        self.ticker.stop();
    }
}
