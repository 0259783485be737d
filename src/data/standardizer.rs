//! Per-feature standardization `(x − mean) / std`, fitted on training data
//! and stored with the model so that prediction applies the same transform.

use crate::dataset::{feature_moments, standardize};
use crate::{Error, Result};
use ndarray::{Array1, Array2, ArrayView2};

/// Feature means and standard deviations; a constant feature has std 1, so
/// it standardizes to 0 rather than NaN.
#[derive(Clone, Debug, PartialEq)]
pub struct Standardizer {
    pub mean: Array1<f32>,
    pub std: Array1<f32>,
}

impl Standardizer {
    /// Moments of each column of `x` (population std).
    pub fn fit(x: ArrayView2<'_, f32>) -> Standardizer {
        let (mean, std) = feature_moments(&x);
        Standardizer { mean, std }
    }

    /// Number of features it was fitted on.
    pub fn features(&self) -> usize {
        self.mean.len()
    }

    /// `(x − mean) / std`; `x` must have as many columns as were fitted.
    pub fn apply(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        if x.ncols() != self.mean.len() || self.std.len() != self.mean.len() {
            return Err(Error::ShapeMismatch {
                op: "standardize",
                detail: format!(
                    "data has {} features, the standardizer was fitted on {}",
                    x.ncols(),
                    self.mean.len()
                ),
            });
        }
        Ok(standardize(&x, &self.mean, &self.std))
    }
}
