//! `tradehost kill-switch`: halt or resume a running daemon's trading, or show its state.

use super::SettingsFile;
use anyhow::Context;
use clap::Args;
use tradehost::status::client;

/// What `tradehost kill-switch` does.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum KillSwitchAction {
    /// Halt trading.
    On,
    /// Resume trading.
    Off,
    /// Show the current state.
    Status,
}

/// Flags of `tradehost kill-switch`.
#[derive(Args)]
pub struct KillSwitchArgs {
    /// `on`, `off` or `status`.
    #[arg(value_enum)]
    action: KillSwitchAction,
    /// Why, recorded in the journal and the log.
    #[arg(long)]
    reason: Option<String>,
    /// The daemon's status address (default: STATUS_ADDR from the settings).
    #[arg(long, value_name = "ADDR")]
    addr: Option<std::net::SocketAddr>,
    /// Bearer token (default: CONTROL_TOKEN from the settings).
    #[arg(long)]
    token: Option<String>,
    #[command(flatten)]
    settings: SettingsFile,
}

impl KillSwitchArgs {
    /// Ask the daemon, print the state.
    pub fn execute(self) -> anyhow::Result<()> {
        let config = self.settings.load(&[], true)?;
        let addr = self.addr.or(config.status_addr).context(
            "STATUS_ADDR is off in the settings: give the daemon's status address with --addr",
        )?;
        let token = self
            .token
            .or(config.control_token.map(|t| t.expose().to_string()));
        let runtime = tokio::runtime::Runtime::new()?;
        let state = match self.action {
            KillSwitchAction::Status => runtime.block_on(client::kill_switch(addr))?,
            KillSwitchAction::On | KillSwitchAction::Off => {
                let engaged = matches!(self.action, KillSwitchAction::On);
                let reason = self.reason.or_else(|| Some("tradehost kill-switch".into()));
                let change = runtime.block_on(client::set_kill_switch(
                    addr,
                    engaged,
                    reason,
                    token.as_deref(),
                ))?;
                if !change.changed {
                    println!(
                        "no change: the kill switch was already {}",
                        if engaged { "engaged" } else { "released" }
                    );
                } else if change.cancelled_orders > 0 {
                    println!("cancelled {} resting orders", change.cancelled_orders);
                }
                change.state
            }
        };
        let since = state
            .since_ms
            .map(|t| format!(" since {}", tradehost::types::format_time_ms(t)))
            .unwrap_or_default();
        match state.engaged {
            true => println!(
                "kill switch ENGAGED{since}: trading is halted ({})",
                state.reason
            ),
            false => println!("kill switch released{since}: trading is on"),
        }
        Ok(())
    }
}
