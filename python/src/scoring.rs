//! Scores, predictions and probabilities of a fitted model, computed by
//! the library's `Model` with the interpreter lock released.

use crate::errors::{invalid, to_py};
use lintrain::Model;
use lintrain::data::Standardizer;
use lintrain::model_file::parse_loss;
use ndarray::Array1;
use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

/// A model's parts as the estimator holds them: the weights (D ×
/// outputs), the bias, the loss as the model file writes it, the class
/// count, and the standardizer of a model trained by the command line.
#[derive(FromPyObject)]
pub struct Parts<'py> {
    #[pyo3(item)]
    weights: PyReadonlyArray2<'py, f32>,
    #[pyo3(item)]
    bias: PyReadonlyArray1<'py, f32>,
    #[pyo3(item)]
    loss: String,
    #[pyo3(item)]
    classes: usize,
    #[pyo3(item)]
    mean: Option<PyReadonlyArray1<'py, f32>>,
    #[pyo3(item)]
    std: Option<PyReadonlyArray1<'py, f32>>,
}

impl Parts<'_> {
    pub fn model(&self) -> PyResult<Model> {
        let model = Model {
            weights: self.weights.as_array().to_owned(),
            bias: self.bias.as_array().to_owned(),
            loss: parse_loss(&self.loss).map_err(to_py)?,
            classes: self.classes,
        };
        model.check().map_err(to_py)?;
        Ok(model)
    }

    pub fn standardizer(&self) -> PyResult<Option<Standardizer>> {
        match (&self.mean, &self.std) {
            (Some(mean), Some(std)) => Ok(Some(Standardizer {
                mean: mean.as_array().to_owned(),
                std: std.as_array().to_owned(),
            })),
            (None, None) => Ok(None),
            _ => Err(invalid("a standardizer needs both its mean and its std")),
        }
    }
}

/// `kind` of `x` under the model: "class_scores" (N × classes float32,
/// whose first maximum is the prediction; `[t, s]` for a one-output
/// model), "proba" (N × classes float32) or "predict" (N class ids,
/// uint32). `x` is standardized first when the model carries a
/// standardizer.
#[pyfunction]
pub fn scores<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    parts: Parts<'py>,
    kind: &str,
) -> PyResult<Bound<'py, PyAny>> {
    crate::arrays::check_aligned(&x)?;
    if !matches!(kind, "class_scores" | "proba" | "predict") {
        return Err(invalid(format!("unknown kind of scores {kind:?}")));
    }
    let model = parts.model()?;
    let view = x.as_array();
    // Standardized once, into a copy, for a model that carries a
    // standardizer (`apply` checks the width); `x` itself otherwise.
    let standardized = match parts.standardizer()? {
        Some(s) => Some(py.detach(|| s.apply(view)).map_err(to_py)?),
        None => None,
    };
    let input = standardized.as_ref().map_or(view, |x| x.view());
    Ok(match kind {
        "class_scores" => py
            .detach(|| model.class_scores(input))
            .map_err(to_py)?
            .into_pyarray(py)
            .into_any(),
        "proba" => py
            .detach(|| model.predict_proba(input))
            .map_err(to_py)?
            .into_pyarray(py)
            .into_any(),
        _ => Array1::from(py.detach(|| model.predict(input)).map_err(to_py)?)
            .into_pyarray(py)
            .into_any(),
    })
}

/// `x` standardized by a model file's standardizer (`(x − mean) / std`,
/// as the command line applies it), for continuing to train a model that
/// carries one.
#[pyfunction]
pub fn standardize<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    mean: PyReadonlyArray1<'py, f32>,
    std: PyReadonlyArray1<'py, f32>,
) -> PyResult<Bound<'py, numpy::PyArray2<f32>>> {
    crate::arrays::check_aligned(&x)?;
    let standardizer = Standardizer {
        mean: mean.as_array().to_owned(),
        std: std.as_array().to_owned(),
    };
    let view = x.as_array();
    let standardized = py.detach(|| standardizer.apply(view)).map_err(to_py)?;
    Ok(standardized.into_pyarray(py))
}
