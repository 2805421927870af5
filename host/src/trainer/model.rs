//! The MLP: a candle-nn network for training and a plain-Rust twin for serving.
//!
//! Training uses candle ([`Mlp`]); serving a single row after each bar uses [`MlpWeights`],
//! a copy of the same weights evaluated with plain loops. That costs well under a
//! microsecond, never touches candle's thread pool (which may be busy training), and has no
//! allocation per call. A test checks both give the same output.

use super::error::TrainerError;
use super::weights::read_tensor;
use candle_core::{Device, Tensor, Var};
use candle_nn::{Linear, Module, VarBuilder, VarMap};
use std::collections::HashMap;

/// Layer widths: inputs, hidden layers, one output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelShape {
    /// Features per row.
    pub inputs: usize,
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
}

impl ModelShape {
    /// `(inputs, outputs)` of each linear layer, the last one with a single output.
    pub fn layers(&self) -> Vec<(usize, usize)> {
        let mut widths = vec![self.inputs];
        widths.extend(&self.hidden);
        widths.push(1);
        widths.windows(2).map(|w| (w[0], w[1])).collect()
    }

    /// Number of trainable parameters.
    pub fn parameters(&self) -> usize {
        self.layers().iter().map(|(i, o)| i * o + o).sum()
    }
}

/// Name of layer `i`'s tensors in the safetensors file.
fn layer_name(i: usize) -> String {
    format!("layer{i}")
}

/// Fills `varmap` with seeded PyTorch-style initial weights: uniform in ±1/sqrt(fan_in).
/// candle's CPU generator cannot be seeded, so the values are drawn here.
pub fn init_varmap(shape: &ModelShape, seed: u64, device: &Device) -> Result<VarMap, TrainerError> {
    let varmap = VarMap::new();
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut draw = |n: usize, bound: f32| -> Vec<f32> {
        (0..n).map(|_| (rng.f32() * 2.0 - 1.0) * bound).collect()
    };
    {
        let mut data = varmap
            .data()
            .lock()
            .map_err(|_| TrainerError::Thread("variable map lock poisoned".into()))?;
        for (i, (fan_in, fan_out)) in shape.layers().into_iter().enumerate() {
            let bound = 1.0 / (fan_in as f32).sqrt();
            let w = Tensor::from_vec(draw(fan_in * fan_out, bound), (fan_out, fan_in), device)
                .map_err(TrainerError::candle("initialising weights"))?;
            let b = Tensor::from_vec(draw(fan_out, bound), fan_out, device)
                .map_err(TrainerError::candle("initialising biases"))?;
            data.insert(
                format!("{}.weight", layer_name(i)),
                Var::from_tensor(&w).map_err(TrainerError::candle("initialising"))?,
            );
            data.insert(
                format!("{}.bias", layer_name(i)),
                Var::from_tensor(&b).map_err(TrainerError::candle("initialising"))?,
            );
        }
    }
    Ok(varmap)
}

/// The candle network: linear layers with ReLU between them.
#[derive(Debug)]
pub struct Mlp {
    /// The layers, input first.
    layers: Vec<Linear>,
}

impl Mlp {
    /// Builds the network over the variables of `vb` (created by [`init_varmap`]).
    pub fn new(shape: &ModelShape, vb: VarBuilder) -> Result<Mlp, TrainerError> {
        let layers = shape
            .layers()
            .into_iter()
            .enumerate()
            .map(|(i, (fan_in, fan_out))| candle_nn::linear(fan_in, fan_out, vb.pp(layer_name(i))))
            .collect::<Result<Vec<_>, _>>()
            .map_err(TrainerError::candle("building the network"))?;
        Ok(Mlp { layers })
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut h = x.clone();
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(&h)?;
            if i < last {
                h = h.relu()?;
            }
        }
        Ok(h)
    }
}

/// The weights as plain vectors, for serving and saving.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpWeights {
    /// Per layer: row-major `(outputs, inputs)` weights and the biases.
    layers: Vec<(Vec<f32>, Vec<f32>)>,
    /// The shape they fill.
    shape: ModelShape,
    /// Widest layer, for the scratch buffers.
    widest: usize,
}

impl MlpWeights {
    /// Reads the weights named `layer{i}.weight`/`.bias` from tensors; checks every shape.
    pub fn from_tensors(
        shape: &ModelShape,
        tensors: &HashMap<String, Tensor>,
    ) -> Result<MlpWeights, String> {
        let mut layers = Vec::new();
        for (i, (fan_in, fan_out)) in shape.layers().into_iter().enumerate() {
            let get = |suffix: &str, dims: &[usize]| {
                read_tensor(tensors, &format!("{}.{suffix}", layer_name(i)), dims)
            };
            layers.push((get("weight", &[fan_out, fan_in])?, get("bias", &[fan_out])?));
        }
        if tensors.len() != layers.len() * 2 {
            return Err(format!(
                "{} tensors, expected {}",
                tensors.len(),
                layers.len() * 2
            ));
        }
        let widest = shape
            .layers()
            .iter()
            .map(|(i, o)| (*i).max(*o))
            .max()
            .unwrap_or(1);
        Ok(MlpWeights {
            layers,
            shape: shape.clone(),
            widest,
        })
    }

    /// The current values of a trained [`VarMap`].
    pub fn from_varmap(shape: &ModelShape, varmap: &VarMap) -> Result<MlpWeights, TrainerError> {
        let data = varmap
            .data()
            .lock()
            .map_err(|_| TrainerError::Thread("variable map lock poisoned".into()))?;
        let tensors: HashMap<String, Tensor> = data
            .iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect();
        MlpWeights::from_tensors(shape, &tensors)
            .map_err(|reason| TrainerError::Thread(format!("reading trained weights: {reason}")))
    }

    /// The weights as named tensors, for safetensors.
    pub fn to_tensors(&self) -> Result<HashMap<String, Tensor>, TrainerError> {
        let mut out = HashMap::new();
        for (i, ((w, b), (fan_in, fan_out))) in
            self.layers.iter().zip(self.shape.layers()).enumerate()
        {
            let wt = Tensor::from_slice(w, (fan_out, fan_in), &Device::Cpu)
                .map_err(TrainerError::candle("exporting weights"))?;
            let bt = Tensor::from_slice(b, fan_out, &Device::Cpu)
                .map_err(TrainerError::candle("exporting biases"))?;
            out.insert(format!("{}.weight", layer_name(i)), wt);
            out.insert(format!("{}.bias", layer_name(i)), bt);
        }
        Ok(out)
    }

    /// The shape of the network.
    pub fn shape(&self) -> &ModelShape {
        &self.shape
    }

    /// The network's output for one standardised row.
    pub fn forward(&self, row: &[f32]) -> f32 {
        let mut a = vec![0f32; self.widest];
        let mut b = vec![0f32; self.widest];
        let n = row.len().min(self.shape.inputs);
        a[..n].copy_from_slice(&row[..n]);
        let last = self.layers.len() - 1;
        let mut width = self.shape.inputs;
        for (i, (w, bias)) in self.layers.iter().enumerate() {
            let out = bias.len();
            for o in 0..out {
                let dot: f32 = w[o * width..(o + 1) * width]
                    .iter()
                    .zip(&a[..width])
                    .map(|(x, y)| x * y)
                    .sum();
                let v = dot + bias[o];
                b[o] = if i < last { v.max(0.0) } else { v };
            }
            std::mem::swap(&mut a, &mut b);
            width = out;
        }
        a[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;

    #[test]
    fn plain_forward_matches_candle() {
        let shape = ModelShape {
            inputs: 16,
            hidden: vec![64, 32],
        };
        assert_eq!(shape.parameters(), 16 * 64 + 64 + 64 * 32 + 32 + 32 + 1);
        let varmap = init_varmap(&shape, 7, &Device::Cpu).unwrap();
        let mlp = Mlp::new(
            &shape,
            VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
        )
        .unwrap();
        let weights = MlpWeights::from_varmap(&shape, &varmap).unwrap();
        let mut rng = fastrand::Rng::with_seed(1);
        let rows: Vec<f32> = (0..16 * 50).map(|_| rng.f32() * 4.0 - 2.0).collect();
        let x = Tensor::from_slice(&rows, (50, 16), &Device::Cpu).unwrap();
        let out = mlp
            .forward(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        for (row, want) in rows.chunks_exact(16).zip(out) {
            let got = weights.forward(row);
            assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        }
        // Same seed, same weights; another seed, other weights.
        assert_eq!(
            MlpWeights::from_varmap(&shape, &init_varmap(&shape, 7, &Device::Cpu).unwrap())
                .unwrap(),
            weights
        );
        assert_ne!(
            MlpWeights::from_varmap(&shape, &init_varmap(&shape, 8, &Device::Cpu).unwrap())
                .unwrap(),
            weights
        );
    }

    #[test]
    fn tensors_of_the_wrong_shape_are_refused() {
        let shape = ModelShape {
            inputs: 4,
            hidden: vec![3],
        };
        let weights =
            MlpWeights::from_varmap(&shape, &init_varmap(&shape, 1, &Device::Cpu).unwrap())
                .unwrap();
        let tensors = weights.to_tensors().unwrap();
        assert_eq!(MlpWeights::from_tensors(&shape, &tensors).unwrap(), weights);
        let other = ModelShape {
            inputs: 5,
            hidden: vec![3],
        };
        let err = MlpWeights::from_tensors(&other, &tensors).unwrap_err();
        assert!(err.contains("layer0.weight"), "{err}");
    }
}
