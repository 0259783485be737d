//! Scores, predictions and probabilities of a fitted model, computed by
//! the library's `Model` with the interpreter lock released.

use crate::errors::{invalid, to_py};
use lintrain::Model;
use lintrain::data::Standardizer;
use lintrain::model_file::parse_loss;
use ndarray::{Array1, Array2, ArrayView2};
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
    let model = parts.model()?;
    let standardizer = parts.standardizer()?;
    let view = x.as_array();
    let prepared = |x: ArrayView2<'_, f32>| -> lintrain::Result<Option<Array2<f32>>> {
        let Some(s) = &standardizer else {
            return Ok(None);
        };
        if s.features() != x.ncols() {
            return Err(lintrain::Error::ShapeMismatch {
                op: "standardize",
                detail: format!(
                    "the data has {} features, the model {}",
                    x.ncols(),
                    s.features()
                ),
            });
        }
        s.apply(x).map(Some)
    };
    let scored =
        |compute: &(dyn Fn(ArrayView2<'_, f32>) -> lintrain::Result<Array2<f32>> + Sync)| {
            py.detach(|| {
                let standardized = prepared(view)?;
                compute(standardized.as_ref().map_or(view, |x| x.view()))
            })
            .map_err(to_py)
        };
    Ok(match kind {
        "class_scores" => scored(&|x| model.class_scores(x))?
            .into_pyarray(py)
            .into_any(),
        "proba" => scored(&|x| model.predict_proba(x))?
            .into_pyarray(py)
            .into_any(),
        "predict" => {
            let ids = py
                .detach(|| {
                    let standardized = prepared(view)?;
                    model.predict(standardized.as_ref().map_or(view, |x| x.view()))
                })
                .map_err(to_py)?;
            Array1::from(ids).into_pyarray(py).into_any()
        }
        other => return Err(invalid(format!("unknown kind of scores {other:?}"))),
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
