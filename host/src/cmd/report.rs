//! `tradehost report`: the HTML view of one or more backtests, written or served.

use super::shutdown_signal;
use clap::Args;
use std::path::PathBuf;
use tradehost::dashboard::report_page;

/// Flags of `tradehost report`.
#[derive(Args)]
pub struct ReportArgs {
    /// Backtest output folders (each holds report.json).
    #[arg(value_name = "DIR", num_args = 1.., required = true)]
    dirs: Vec<PathBuf>,
    /// Where to write the page (default: report.html in the one folder given, else
    /// ./report.html).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Serve the page over HTTP at this address instead (e.g. 127.0.0.1:8788).
    #[arg(long, value_name = "ADDR")]
    serve: Option<std::net::SocketAddr>,
}

impl ReportArgs {
    /// Write the page, or serve it until Ctrl-C.
    pub fn execute(self) -> anyhow::Result<()> {
        match self.serve {
            Some(addr) => {
                let runtime = tokio::runtime::Runtime::new()?;
                runtime.block_on(async {
                    let bound = report_page::serve(addr, self.dirs, shutdown_signal()).await?;
                    println!("report on http://{bound}/ (Ctrl-C stops)");
                    shutdown_signal().await;
                    anyhow::Ok(())
                })?;
            }
            None => {
                let out = self.out.unwrap_or_else(|| match self.dirs.as_slice() {
                    [one] => one.join("report.html"),
                    _ => PathBuf::from("report.html"),
                });
                report_page::write(&self.dirs, &out)?;
                println!(
                    "report of {} backtests -> {}",
                    self.dirs.len(),
                    out.display()
                );
            }
        }
        Ok(())
    }
}
