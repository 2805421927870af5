//! The `tradehost` command: run the daemon, check a plugin, watch the feed, train offline,
//! backtest, cut data snippets (trades of a window, bars built from them), and halt or
//! resume a running daemon's trading. Each subcommand lives in `cmd/`.

mod cmd;

use clap::Parser;

/// Real-time trading host with sandboxed WebAssembly strategies.
#[derive(Parser)]
#[command(name = "tradehost", version, about)]
struct Cli {
    #[command(subcommand)]
    command: cmd::Command,
}

fn main() -> anyhow::Result<()> {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // candle sizes its matrix work from this process-wide variable; on small models the
        // pool costs more than it saves (measured: training 2x slower, inference 30x slower).
        // SAFETY: set before any other thread of this process exists.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    }
    let cli = Cli::parse();
    // One TLS crypto provider for the whole process (see DESIGN.md: two would panic).
    let _ = rustls::crypto::ring::default_provider().install_default();
    cli.command.execute()
}
