//! One offline training cycle on a bars or trades file, until `tradehost train` is wired:
//! `cargo run -p tradehost --example train_offline -- FILE [SYMBOL] [MODELS_DIR]`.
//! Settings come from the environment (`FEATURE_WINDOW`, `MODEL_EPOCHS`, ...).

use std::path::PathBuf;
use tradehost::settings::Settings;
use tradehost::trainer::{TrainerConfig, train_offline};

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("tradehost=info"))
        .init();
    let mut args = std::env::args().skip(1);
    let data = PathBuf::from(
        args.next()
            .ok_or_else(|| anyhow::anyhow!("usage: train_offline FILE [SYMBOL] [MODELS_DIR]"))?,
    );
    let symbol = args.next().filter(|s| !s.is_empty() && s != "-");
    let models = PathBuf::from(args.next().unwrap_or_else(|| "models".into()));
    let config = TrainerConfig::from_settings(&Settings::from_process_env())?;
    let report = train_offline(&config, &data, symbol.as_deref(), &models)?;
    println!("{report}");
    Ok(())
}
