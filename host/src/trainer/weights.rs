//! The weights of a model of either kind, as served and stored: the MLP or ridge regression.
//!
//! Both take one standardised feature row and return the scaled target; the kind is saved in
//! the metadata (`kind`, absent in files written before ridge existed, which are MLPs) and
//! decides which tensors `model.safetensors` must hold.

use super::error::TrainerError;
use super::model::{MlpWeights, ModelShape};
use super::ridge::RidgeWeights;
use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;

/// Which kind of model a version is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// The candle MLP ([`super::model`]).
    #[default]
    Mlp,
    /// Closed-form ridge regression ([`super::ridge`]).
    Ridge,
}

impl ModelKind {
    /// Every kind, in the order candidates are reported.
    pub const ALL: [ModelKind; 2] = [ModelKind::Mlp, ModelKind::Ridge];

    /// The name used in settings, metadata and logs.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Mlp => "mlp",
            ModelKind::Ridge => "ridge",
        }
    }

    /// The kind called `name` (`mlp`, `ridge`).
    pub fn from_name(name: &str) -> Option<ModelKind> {
        ModelKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A fitted forecaster of either kind.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelWeights {
    /// A network.
    Mlp(MlpWeights),
    /// A linear model.
    Ridge(RidgeWeights),
}

impl ModelWeights {
    /// Its kind.
    pub fn kind(&self) -> ModelKind {
        match self {
            ModelWeights::Mlp(_) => ModelKind::Mlp,
            ModelWeights::Ridge(_) => ModelKind::Ridge,
        }
    }

    /// The forecast (scaled target) for one standardised row.
    pub fn forward(&self, row: &[f32]) -> f32 {
        match self {
            ModelWeights::Mlp(w) => w.forward(row),
            ModelWeights::Ridge(w) => w.forward(row),
        }
    }

    /// The weights as named tensors, for safetensors.
    pub fn to_tensors(&self) -> Result<HashMap<String, Tensor>, TrainerError> {
        match self {
            ModelWeights::Mlp(w) => w.to_tensors(),
            ModelWeights::Ridge(w) => w.to_tensors(),
        }
    }

    /// Reads weights of `kind` over `inputs` features (`hidden` layers for an MLP), checking
    /// every tensor's name and shape.
    pub fn from_tensors(
        kind: ModelKind,
        inputs: usize,
        hidden: &[usize],
        tensors: &HashMap<String, Tensor>,
    ) -> Result<ModelWeights, String> {
        match kind {
            ModelKind::Mlp => {
                let shape = ModelShape {
                    inputs,
                    hidden: hidden.to_vec(),
                };
                MlpWeights::from_tensors(&shape, tensors).map(ModelWeights::Mlp)
            }
            ModelKind::Ridge => {
                RidgeWeights::from_tensors(inputs, tensors).map(ModelWeights::Ridge)
            }
        }
    }
}

/// The values of tensor `name`, checked to have shape `dims` and only finite values.
pub(super) fn read_tensor(
    tensors: &HashMap<String, Tensor>,
    name: &str,
    dims: &[usize],
) -> Result<Vec<f32>, String> {
    let t = tensors
        .get(name)
        .ok_or_else(|| format!("tensor {name} is missing"))?;
    if t.dims() != dims {
        return Err(format!(
            "tensor {name} has shape {:?}, expected {dims:?}",
            t.dims()
        ));
    }
    let v = t
        .flatten_all()
        .and_then(|t| t.to_dtype(DType::F32))
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(|e| format!("tensor {name}: {e}"))?;
    if v.iter().any(|x| !x.is_finite()) {
        return Err(format!("tensor {name} holds NaN or infinite values"));
    }
    Ok(v)
}
