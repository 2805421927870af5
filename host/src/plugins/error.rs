//! Why a plugin could not be loaded, or stopped running.

use std::path::PathBuf;

/// A plugin failed to load, validate, start or keep running.
///
/// Every variant names the plugin file or the plugin and says what to do. None of them
/// stops the daemon: a load failure leaves the previous version serving, a fault disables
/// only that plugin's instance.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The file could not be read.
    #[error("cannot read plugin {path}: {source}")]
    Read {
        /// The plugin file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bytes are not a WebAssembly component.
    #[error("{path} is not a WebAssembly component: {what}")]
    NotAComponent {
        /// The plugin file.
        path: PathBuf,
        /// What the bytes look like instead, and what to do.
        what: String,
    },
    /// The component is larger than the configured limit.
    #[error("{path} is {size} bytes; the limit is {limit} (PLUGIN_MAX_FILE_BYTES)")]
    TooLarge {
        /// The plugin file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The component has more functions than the host is willing to compile.
    #[error(
        "{path} defines {functions} functions; the limit is {limit} \
         (PLUGIN_MAX_FUNCTIONS): compiling it could take minutes and gigabytes"
    )]
    TooManyFunctions {
        /// The plugin file.
        path: PathBuf,
        /// Functions found.
        functions: u64,
        /// The limit.
        limit: u64,
    },
    /// The component was built against an incompatible version of the interface.
    #[error(
        "{path} was built against tradehost:strategy@{plugin_version}, but this host \
         speaks tradehost:strategy@{host_version}: rebuild it with a matching tradehost-sdk"
    )]
    IncompatibleVersion {
        /// The plugin file.
        path: PathBuf,
        /// The interface version the plugin uses.
        plugin_version: String,
        /// The interface version of this host.
        host_version: String,
    },
    /// The component does not export the strategy interface at all.
    #[error(
        "{path} does not export tradehost:strategy/strategy (it exports: {exports}): \
         build it with tradehost-sdk's export_strategy!"
    )]
    NotAStrategy {
        /// The plugin file.
        path: PathBuf,
        /// What it exports instead.
        exports: String,
    },
    /// wasmtime refused to compile or link the component.
    #[error("cannot compile {path}: {message}")]
    Compile {
        /// The plugin file.
        path: PathBuf,
        /// The whole error chain.
        message: String,
    },
    /// The settings file beside the plugin is invalid.
    #[error("invalid plugin settings {path}: {message}")]
    Settings {
        /// The `NAME.toml` file.
        path: PathBuf,
        /// What is wrong, with line and key where known.
        message: String,
    },
    /// A call into the plugin failed while loading it (instantiate, describe, init, restore).
    #[error("plugin {plugin} failed in {stage}: {reason}")]
    Start {
        /// The plugin's name.
        plugin: String,
        /// Which step failed.
        stage: &'static str,
        /// The trap or error message.
        reason: String,
    },
    /// The plugin's worker thread is gone (it was unloaded or the host is shutting down).
    #[error("plugin {0} is not running")]
    NotRunning(String),
    /// The artifact cache or the engine could not be set up.
    #[error("plugin runtime: {0}")]
    Runtime(String),
}

/// Format a wasmtime error with its whole chain: wasmtime's top-level messages alone
/// ("failed to parse WebAssembly module") rarely say what is wrong.
pub fn chain(err: &wasmtime::Error) -> String {
    let mut out = String::new();
    for (i, cause) in err.chain().enumerate() {
        if i > 0 {
            out.push_str(": ");
        }
        out.push_str(&cause.to_string());
    }
    out
}
