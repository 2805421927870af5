//! Fitting the MLP: AdamW over shuffled mini-batches, early stopping on the validation rows,
//! fixed seed so the same data gives the same model.
//!
//! Training runs inside a rayon pool of `threads` threads created for the calling thread (the
//! trainer's own, never a tokio worker), so it never queues behind other rayon work. Note that
//! candle's matrix products decide whether to split work from the process-wide
//! `RAYON_NUM_THREADS`, not from this pool: on 2 cores, training is twice as fast with
//! `RAYON_NUM_THREADS=1` (see docs/performance.md, "Trainer").

use super::error::TrainerError;
use super::model::{Mlp, MlpWeights, ModelShape, init_varmap};
use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Module, Optimizer, ParamsAdamW, VarBuilder};
use std::cell::RefCell;
use std::sync::Arc;
use std::time::Instant;

/// How to train.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainParams {
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// AdamW learning rate.
    pub learning_rate: f64,
    /// AdamW decoupled weight decay.
    pub weight_decay: f64,
    /// Most epochs.
    pub epochs: usize,
    /// Rows per mini-batch.
    pub batch_size: usize,
    /// Epochs without validation improvement before stopping.
    pub patience: usize,
    /// Seed of initialisation and shuffling.
    pub seed: u64,
    /// Size of the rayon pool candle runs in.
    pub threads: usize,
}

/// Rows of one part of the data: standardised features and scaled targets.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    /// Row-major features.
    pub x: &'a [f32],
    /// One target per row.
    pub y: &'a [f32],
}

/// A fitted network and how the fit went.
#[derive(Debug, Clone)]
pub struct TrainedModel {
    /// The weights of the best validation epoch.
    pub weights: MlpWeights,
    /// Epochs run before stopping.
    pub epochs_run: usize,
    /// The epoch whose weights were kept (1-based).
    pub best_epoch: usize,
    /// Mean training loss of the last epoch (scaled targets).
    pub train_loss: f64,
    /// Best validation loss (scaled targets).
    pub validation_loss: f64,
    /// Wall time of the fit.
    pub seconds: f64,
}

/// Trains a fresh network on `train`, stopping early on `validation`.
pub fn train_mlp(
    symbol: &str,
    width: usize,
    train: Rows,
    validation: Rows,
    params: &TrainParams,
) -> Result<TrainedModel, TrainerError> {
    with_pool(params.threads, || {
        train_in_pool(symbol, width, train, validation, params)
    })?
}

fn train_in_pool(
    symbol: &str,
    width: usize,
    train: Rows,
    validation: Rows,
    params: &TrainParams,
) -> Result<TrainedModel, TrainerError> {
    let started = Instant::now();
    let dev = Device::Cpu;
    let shape = ModelShape {
        inputs: width,
        hidden: params.hidden.clone(),
    };
    let varmap = init_varmap(&shape, params.seed, &dev)?;
    let mlp = Mlp::new(&shape, VarBuilder::from_varmap(&varmap, DType::F32, &dev))?;
    let adamw = ParamsAdamW {
        lr: params.learning_rate,
        weight_decay: params.weight_decay,
        ..ParamsAdamW::default()
    };
    let mut opt = AdamW::new(varmap.all_vars(), adamw)
        .map_err(TrainerError::candle("creating the optimiser"))?;
    let x_val = Tensor::from_slice(validation.x, (validation.y.len(), width), &dev)
        .map_err(TrainerError::candle("loading validation rows"))?;
    let y_val = Tensor::from_slice(validation.y, validation.y.len(), &dev)
        .map_err(TrainerError::candle("loading validation rows"))?;

    let n = train.y.len();
    let batch = params.batch_size.clamp(1, n.max(1));
    let mut order: Vec<usize> = (0..n).collect();
    // One generator for the whole run, seeded apart from the initialisation.
    let mut rng = fastrand::Rng::with_seed(params.seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut xb = Vec::with_capacity(batch * width);
    let mut yb = Vec::with_capacity(batch);
    let mut best = (
        f64::INFINITY,
        0usize,
        MlpWeights::from_varmap(&shape, &varmap)?,
    );
    let (mut train_loss, mut epochs_run) = (f64::NAN, 0);
    for epoch in 1..=params.epochs {
        rng.shuffle(&mut order);
        let (mut sum, mut batches) = (0.0, 0usize);
        for chunk in order.chunks(batch) {
            xb.clear();
            yb.clear();
            for &i in chunk {
                xb.extend_from_slice(&train.x[i * width..(i + 1) * width]);
                yb.push(train.y[i]);
            }
            let x = Tensor::from_slice(&xb, (chunk.len(), width), &dev)
                .map_err(TrainerError::candle("loading a batch"))?;
            let y = Tensor::from_slice(&yb, chunk.len(), &dev)
                .map_err(TrainerError::candle("loading a batch"))?;
            let pred = mlp
                .forward(&x)
                .and_then(|p| p.squeeze(1))
                .map_err(TrainerError::candle("running the network"))?;
            let loss = candle_nn::loss::mse(&pred, &y)
                .map_err(TrainerError::candle("computing the loss"))?;
            opt.backward_step(&loss)
                .map_err(TrainerError::candle("stepping the optimiser"))?;
            sum += f64::from(
                loss.to_scalar::<f32>()
                    .map_err(TrainerError::candle("reading the loss"))?,
            );
            batches += 1;
        }
        train_loss = sum / batches.max(1) as f64;
        epochs_run = epoch;
        if !train_loss.is_finite() {
            return Err(TrainerError::Diverged {
                symbol: symbol.to_string(),
                epoch,
                loss: train_loss,
            });
        }
        let val_loss = mlp
            .forward(&x_val)
            .and_then(|p| p.squeeze(1))
            .and_then(|p| candle_nn::loss::mse(&p, &y_val))
            .and_then(|l| l.to_scalar::<f32>())
            .map_err(TrainerError::candle("evaluating the validation rows"))?;
        let val_loss = f64::from(val_loss);
        tracing::trace!(target: "tradehost::trainer::training", symbol, epoch, train_loss, val_loss, "epoch");
        if val_loss < best.0 * (1.0 - 1e-4) {
            best = (val_loss, epoch, MlpWeights::from_varmap(&shape, &varmap)?);
        } else if epoch - best.1 >= params.patience {
            break;
        }
    }
    let (validation_loss, best_epoch, weights) = best;
    Ok(TrainedModel {
        weights,
        epochs_run,
        best_epoch,
        train_loss,
        validation_loss,
        seconds: started.elapsed().as_secs_f64(),
    })
}

thread_local! {
    /// The rayon pool of this thread, built on first use.
    static POOL: RefCell<Option<(usize, Arc<rayon::ThreadPool>)>> = const { RefCell::new(None) };
}

/// Runs `f` inside this thread's rayon pool of `threads` threads.
pub fn with_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> Result<R, TrainerError> {
    let threads = threads.max(1);
    let pool = POOL.with(|slot| -> Result<Arc<rayon::ThreadPool>, TrainerError> {
        let mut slot = slot.borrow_mut();
        match &*slot {
            Some((n, pool)) if *n == threads => Ok(pool.clone()),
            _ => {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .thread_name(|i| format!("trainer-rayon-{i}"))
                    .build()
                    .map_err(|e| {
                        TrainerError::Thread(format!(
                            "cannot build a pool of {threads} threads: {e}"
                        ))
                    })?;
                let pool = Arc::new(pool);
                *slot = Some((threads, pool.clone()));
                Ok(pool)
            }
        }
    })?;
    Ok(pool.install(f))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Small, quick training settings for tiny problems.
    pub(crate) fn params(seed: u64) -> TrainParams {
        TrainParams {
            hidden: vec![16, 8],
            learning_rate: 0.01,
            weight_decay: 0.0,
            epochs: 60,
            batch_size: 32,
            patience: 10,
            seed,
            threads: 1,
        }
    }

    /// A tiny problem with a known answer: y = 0.8·x0 - 0.5·x1 + 0.3·x0·x2 on 600 rows.
    fn problem(n: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
        let mut rng = fastrand::Rng::with_seed(seed);
        let x: Vec<f32> = (0..n * 3).map(|_| rng.f32() * 2.0 - 1.0).collect();
        let y = x
            .chunks_exact(3)
            .map(|r| 0.8 * r[0] - 0.5 * r[1] + 0.3 * r[0] * r[2])
            .collect();
        (x, y)
    }

    #[test]
    fn a_tiny_run_converges_and_is_reproducible() {
        let (x, y) = problem(600, 3);
        let (xv, yv) = problem(200, 4);
        let variance = yv.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / yv.len() as f64;
        let train = Rows { x: &x, y: &y };
        let val = Rows { x: &xv, y: &yv };
        let a = train_mlp("T", 3, train, val, &params(1)).unwrap();
        assert!(
            a.validation_loss < variance * 0.05,
            "val {} vs variance {variance}",
            a.validation_loss
        );
        let b = train_mlp("T", 3, train, val, &params(1)).unwrap();
        assert_eq!(a.weights, b.weights, "same seed must give the same model");
        assert_eq!(a.best_epoch, b.best_epoch);
        let c = train_mlp("T", 3, train, val, &params(2)).unwrap();
        assert_ne!(a.weights, c.weights);
        // The kept weights are those of the best epoch: their loss is the reported one.
        let mse = xv
            .chunks_exact(3)
            .zip(&yv)
            .map(|(r, t)| f64::from(a.weights.forward(r) - t).powi(2))
            .sum::<f64>()
            / yv.len() as f64;
        assert!(
            (mse - a.validation_loss).abs() < 1e-4 * variance.max(1.0),
            "{mse} vs {}",
            a.validation_loss
        );
    }

    #[test]
    fn noise_stops_early() {
        let mut rng = fastrand::Rng::with_seed(9);
        let x: Vec<f32> = (0..400 * 3).map(|_| rng.f32()).collect();
        let y: Vec<f32> = (0..400).map(|_| rng.f32() - 0.5).collect();
        let (xv, yv) = (&x[..100 * 3], &y[300..]);
        let mut p = params(1);
        p.epochs = 500;
        p.patience = 3;
        let m = train_mlp("N", 3, Rows { x: &x, y: &y }, Rows { x: xv, y: yv }, &p).unwrap();
        assert!(
            m.epochs_run < 500,
            "pure noise should stop early, ran {}",
            m.epochs_run
        );
        assert_eq!(m.epochs_run, m.best_epoch + 3);
    }
}
