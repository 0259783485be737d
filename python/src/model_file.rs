//! The command line's model file (safetensors, `lintrain::SavedModel`),
//! written and read for the estimator's `save` and `lintrain.load`.

use crate::errors::{invalid, to_py};
use crate::scoring::Parts;
use lintrain::model_file::format_loss;
use lintrain::{Regularizer, SavedModel};
use numpy::IntoPyArray;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// A regularizer as Python passes it: `(name, λ, r)` with the names of
/// `Regularizer::name` ("none", "l2", "l1", "elastic").
pub type RegularizerParts = (String, f32, f32);

pub fn regularizer_parts(regularizer: &Regularizer) -> RegularizerParts {
    let (strength, ratio) = match *regularizer {
        Regularizer::L2 { strength } | Regularizer::L1 { strength } => (strength, 0.0),
        Regularizer::ElasticNet { strength, l1_ratio } => (strength, l1_ratio),
        _ => (0.0, 0.0),
    };
    (regularizer.name().to_string(), strength, ratio)
}

fn regularizer_of((name, strength, l1_ratio): RegularizerParts) -> PyResult<Regularizer> {
    Ok(match name.as_str() {
        "none" => Regularizer::None,
        "l2" => Regularizer::L2 { strength },
        "l1" => Regularizer::L1 { strength },
        "elastic" => Regularizer::ElasticNet { strength, l1_ratio },
        other => return Err(invalid(format!("unknown regularizer {other:?}"))),
    })
}

/// Writes the model atomically to `path` (as `lintrain train --save`).
#[pyfunction]
#[pyo3(signature = (path, parts, class_names, feature_names, regularizer=None, class_label_type=None))]
pub fn save(
    py: Python<'_>,
    path: std::path::PathBuf,
    parts: Parts<'_>,
    class_names: Vec<String>,
    feature_names: Vec<String>,
    regularizer: Option<RegularizerParts>,
    class_label_type: Option<String>,
) -> PyResult<()> {
    let mut saved = SavedModel::new(
        parts.model()?,
        parts.standardizer()?,
        class_names,
        feature_names,
    );
    if let Some(regularizer) = regularizer {
        saved = saved.with_regularizer(regularizer_of(regularizer)?);
    }
    if let Some(label_type) = class_label_type {
        saved = saved.with_class_label_type(label_type);
    }
    py.detach(|| saved.save(&path)).map_err(to_py)
}

/// Reads a model file: a dict of its parts (`weights` D × outputs,
/// `bias`, `loss` in the file's form, `classes`, `mean`/`std` or None),
/// `class_names`, `feature_names`, `version`, `regularizer` and
/// `class_label_type`.
#[pyfunction]
pub fn load(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Bound<'_, PyDict>> {
    let saved = py.detach(|| SavedModel::load(&path)).map_err(to_py)?;
    let result = PyDict::new(py);
    result.set_item("loss", format_loss(&saved.model.loss))?;
    result.set_item("loss_name", saved.model.loss.name())?;
    result.set_item("classes", saved.model.classes)?;
    result.set_item("weights", saved.model.weights.into_pyarray(py))?;
    result.set_item("bias", saved.model.bias.into_pyarray(py))?;
    let (mean, std) = match saved.standardizer {
        Some(s) => (Some(s.mean.into_pyarray(py)), Some(s.std.into_pyarray(py))),
        None => (None, None),
    };
    result.set_item("mean", mean)?;
    result.set_item("std", std)?;
    result.set_item("class_names", saved.class_names)?;
    result.set_item("feature_names", saved.feature_names)?;
    result.set_item("version", saved.version)?;
    result.set_item("class_label_type", saved.class_label_type)?;
    result.set_item(
        "regularizer",
        saved.regularizer.as_ref().map(regularizer_parts),
    )?;
    Ok(result)
}
