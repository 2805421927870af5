//! AdamW with decoupled weight decay, updating each variable in one pass.
//!
//! The arithmetic is that of `candle_nn::AdamW` (Loshchilov & Hutter), but candle's version
//! builds about a dozen temporary tensors per variable and step; on a small MLP that
//! bookkeeping costs more than the matrix products. Here the moments live in plain vectors
//! and each variable is read, updated and written back once.

use candle_core::backprop::GradStore;
use candle_core::{DType, Result, Tensor, Var};
use candle_nn::{Optimizer, ParamsAdamW};

/// One trainable variable and its moment estimates.
#[derive(Debug)]
struct Slot {
    /// The variable.
    var: Var,
    /// First moment (mean of gradients).
    m: Vec<f32>,
    /// Second moment (mean of squared gradients).
    v: Vec<f32>,
}

/// AdamW over f32 variables, moments kept in plain vectors.
#[derive(Debug)]
pub struct FusedAdamW {
    /// The variables, in the order given.
    slots: Vec<Slot>,
    /// Learning rate, betas, epsilon, weight decay.
    params: ParamsAdamW,
    /// Steps taken, for bias correction.
    step: i32,
}

impl Optimizer for FusedAdamW {
    type Config = ParamsAdamW;

    fn new(vars: Vec<Var>, params: ParamsAdamW) -> Result<Self> {
        let slots = vars
            .into_iter()
            .filter(|v| v.dtype() == DType::F32)
            .map(|var| {
                let n = var.elem_count();
                Slot {
                    var,
                    m: vec![0.0; n],
                    v: vec![0.0; n],
                }
            })
            .collect();
        Ok(FusedAdamW {
            slots,
            params,
            step: 0,
        })
    }

    fn learning_rate(&self) -> f64 {
        self.params.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.params.lr = lr;
    }

    fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.step += 1;
        let p = &self.params;
        let (b1, b2) = (p.beta1 as f32, p.beta2 as f32);
        let scale_m = 1.0 / (1.0 - p.beta1.powi(self.step)) as f32;
        let scale_v = 1.0 / (1.0 - p.beta2.powi(self.step)) as f32;
        let (lr, eps) = (p.lr as f32, p.eps as f32);
        let decay = 1.0 - (p.lr * p.weight_decay) as f32;
        for slot in &mut self.slots {
            let Some(g) = grads.get(&slot.var) else {
                continue;
            };
            let g = g.flatten_all()?.to_vec1::<f32>()?;
            let mut theta = slot.var.as_tensor().flatten_all()?.to_vec1::<f32>()?;
            for i in 0..theta.len() {
                let m = b1 * slot.m[i] + (1.0 - b1) * g[i];
                let v = b2 * slot.v[i] + (1.0 - b2) * g[i] * g[i];
                slot.m[i] = m;
                slot.v[i] = v;
                theta[i] = theta[i] * decay - lr * (m * scale_m) / ((v * scale_v).sqrt() + eps);
            }
            let shape = slot.var.shape().clone();
            slot.var
                .set(&Tensor::from_vec(theta, shape, slot.var.device())?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use candle_nn::AdamW;

    /// Same steps as candle's AdamW on the same quadratic, within f32 rounding.
    #[test]
    fn matches_candle_adamw() {
        let params = ParamsAdamW {
            lr: 0.05,
            weight_decay: 0.1,
            ..ParamsAdamW::default()
        };
        let start = [1.5f32, -2.0, 0.3, 4.0];
        let a = Var::from_slice(&start, 4, &Device::Cpu).unwrap();
        let b = Var::from_slice(&start, 4, &Device::Cpu).unwrap();
        let mut fused = FusedAdamW::new(vec![a.clone()], params.clone()).unwrap();
        let mut reference = AdamW::new(vec![b.clone()], params).unwrap();
        for _ in 0..50 {
            let loss_a = a.as_tensor().sqr().unwrap().sum_all().unwrap();
            fused.backward_step(&loss_a).unwrap();
            let loss_b = b.as_tensor().sqr().unwrap().sum_all().unwrap();
            reference.backward_step(&loss_b).unwrap();
        }
        let (x, y) = (
            a.as_tensor().to_vec1::<f32>().unwrap(),
            b.as_tensor().to_vec1::<f32>().unwrap(),
        );
        for (x, y) in x.iter().zip(&y) {
            assert!((x - y).abs() < 1e-4 * y.abs().max(1.0), "{x} vs {y}");
        }
        assert!(
            x.iter().zip(start).all(|(x, s)| x.abs() < s.abs()),
            "moved towards 0: {x:?}"
        );
    }
}
