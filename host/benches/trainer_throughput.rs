//! Training throughput of the trainer's candle MLP (issue 4, item 13): MLP 20→64→32→1,
//! batch 256, AdamW, 20 epochs, 50,000 samples; reported in samples per second
//! (samples × epochs / wall time), for candle pools of 1 and 2 threads.
//!
//! Run: `cargo bench -p tradehost --bench trainer_throughput`. Reference on this machine
//! class: PyTorch 447k samples/s, scikit-learn MLPRegressor 670k samples/s.

use std::time::Instant;
use tradehost::trainer::training::{Rows, TrainParams, train_mlp};

const SAMPLES: usize = 50_000;
const INPUTS: usize = 20;
const EPOCHS: usize = 20;
const RUNS: usize = 3;

fn main() {
    // Inputs uniform in [-1, 1); a smooth target with some noise, so the fit does real work.
    let mut rng = fastrand::Rng::with_seed(1);
    let x: Vec<f32> = (0..SAMPLES * INPUTS)
        .map(|_| rng.f32() * 2.0 - 1.0)
        .collect();
    let y: Vec<f32> = x
        .chunks_exact(INPUTS)
        .map(|r| 0.5 * r[0] - 0.3 * r[1] * r[2] + 0.2 * r[3].abs() + 0.05 * (rng.f32() - 0.5))
        .collect();
    // A small validation set: the epoch-end check is part of the trainer's loop.
    let (xv, yv) = (&x[..1000 * INPUTS], &y[..1000]);
    println!(
        "MLP {INPUTS}→64→32→1, batch 256, AdamW, {EPOCHS} epochs, {SAMPLES} samples, {RUNS} timed runs after a warm-up"
    );
    for threads in [1, 2] {
        let params = TrainParams {
            hidden: vec![64, 32],
            learning_rate: 1e-3,
            weight_decay: 1e-4,
            epochs: EPOCHS,
            batch_size: 256,
            patience: EPOCHS + 1,
            seed: 42,
            threads,
        };
        let train = Rows { x: &x, y: &y };
        let val = Rows { x: xv, y: yv };
        let run = || {
            let started = Instant::now();
            let model = train_mlp("bench", INPUTS, train, val, &params).expect("training runs");
            assert_eq!(model.epochs_run, EPOCHS);
            (started.elapsed().as_secs_f64(), model.validation_loss)
        };
        run();
        let mut times: Vec<f64> = Vec::new();
        let mut loss = 0.0;
        for _ in 0..RUNS {
            let (t, l) = run();
            times.push(t);
            loss = l;
        }
        times.sort_by(f64::total_cmp);
        let median = times[RUNS / 2];
        let rate = (SAMPLES * EPOCHS) as f64 / median;
        println!(
            "candle pool of {threads} thread(s): median {median:.3} s per run (min {:.3}, max {:.3}) = {:.0}k samples/s; final validation MSE {loss:.5}",
            times[0],
            times[RUNS - 1],
            rate / 1000.0
        );
    }
}
