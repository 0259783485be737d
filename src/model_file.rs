//! The model file: a safetensors file with the tensors `weight` [D, C],
//! `bias` [C] and, for a standardized model, `mean` [D] and `std` [D] (all
//! f32), and the string metadata `format` = `lintrain-linear`, `loss` (see
//! [`format_loss`]), `classes` and `feature_names` (JSON arrays of strings),
//! `num_classes` and `lintrain_version`.
//!
//! Saving is atomic: the bytes go to a temporary file in the target's
//! directory, which is flushed to disk and then renamed over the target, so
//! an existing model is either replaced whole or left as it was.

use crate::data::{ClassMap, Standardizer};
use crate::{Error, Loss, Model, Result};
use ndarray::{Array1, Array2, ArrayView2};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// The value of the `format` metadata key.
pub const FORMAT: &str = "lintrain-linear";

/// A trained model with what prediction needs besides the weights.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedModel {
    pub model: Model,
    /// Fitted on the training split; applied by [`SavedModel::prepare`].
    pub standardizer: Option<Standardizer>,
    /// One name per class, in class-id order.
    pub class_names: Vec<String>,
    /// One name per feature.
    pub feature_names: Vec<String>,
    /// The lintrain version that wrote the file (this one's for a new model).
    pub version: String,
}

impl SavedModel {
    /// A model to save, stamped with this lintrain version.
    pub fn new(
        model: Model,
        standardizer: Option<Standardizer>,
        class_names: Vec<String>,
        feature_names: Vec<String>,
    ) -> SavedModel {
        SavedModel {
            model,
            standardizer,
            class_names,
            feature_names,
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// The class names as a map from labels to class ids.
    pub fn class_map(&self) -> ClassMap {
        ClassMap::from_names(self.class_names.clone())
    }

    /// Writes the model atomically (see the module docs); the
    /// `lintrain_version` written is this lintrain's.
    pub fn save(&self, path: &Path) -> Result<()> {
        self.check()
            .map_err(|reason| file_error(path, format!("model not saved: {reason}")))?;
        let bytes = self.to_bytes().map_err(|reason| file_error(path, reason))?;
        crate::atomic_file::write_atomically(path, &bytes)
    }

    /// Reads and checks a model file; every problem is an [`Error::Format`]
    /// (or [`Error::File`] when it cannot be read) naming the file.
    pub fn load(path: &Path) -> Result<SavedModel> {
        let bytes = std::fs::read(path).map_err(|e| Error::File {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let model = Self::from_bytes(&bytes).map_err(|reason| file_error(path, reason))?;
        model.check().map_err(|reason| file_error(path, reason))?;
        Ok(model)
    }

    /// Checks that `x` has the model's feature count and standardizes it
    /// when the model was trained on standardized data.
    pub fn prepare(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        let expected = self.model.features();
        if x.ncols() != expected {
            return Err(Error::ShapeMismatch {
                op: "prepare data for the model",
                detail: format!(
                    "data has {} features, the model expects {expected}",
                    x.ncols()
                ),
            });
        }
        match &self.standardizer {
            Some(standardizer) => standardizer.apply(x),
            None => Ok(x.to_owned()),
        }
    }

    /// Consistency of shapes, values and names; the reason when not.
    fn check(&self) -> std::result::Result<(), String> {
        let (features, outputs) = self.model.weights.dim();
        if features == 0 || outputs == 0 {
            return Err(format!(
                "tensor `weight` has shape [{features}, {outputs}]; both sizes must be positive"
            ));
        }
        if self.model.bias.len() != outputs {
            return Err(format!(
                "tensor `bias` has shape [{}], expected [{outputs}]",
                self.model.bias.len()
            ));
        }
        check_finite("weight", self.model.weights.iter())?;
        check_finite("bias", self.model.bias.iter())?;
        if let Some(standardizer) = &self.standardizer {
            for (name, values) in [("mean", &standardizer.mean), ("std", &standardizer.std)] {
                if values.len() != features {
                    return Err(format!(
                        "tensor `{name}` has shape [{}], expected [{features}]",
                        values.len()
                    ));
                }
                check_finite(name, values.iter())?;
            }
            if let Some(i) = standardizer.std.iter().position(|&s| s <= 0.0) {
                return Err(format!(
                    "tensor `std` has the non-positive value {} at index {i}",
                    standardizer.std[i]
                ));
            }
        }
        let classes = self.class_names.len();
        if self.model.classes != classes {
            return Err(format!(
                "the model has {} classes but {classes} class names",
                self.model.classes
            ));
        }
        if outputs != classes && !(outputs == 1 && classes == 2) {
            return Err(format!(
                "{classes} classes do not fit {outputs} output columns \
                 (expected one column per class, or one column for 2 classes)"
            ));
        }
        let mut seen = HashSet::new();
        if let Some(duplicate) = self.class_names.iter().find(|n| !seen.insert(n.as_str())) {
            return Err(format!("class name {duplicate:?} occurs twice"));
        }
        if self.feature_names.len() != features {
            return Err(format!(
                "{} feature names for {features} features",
                self.feature_names.len()
            ));
        }
        self.model.loss.validate().map_err(|e| e.to_string())?;
        Ok(())
    }

    fn to_bytes(&self) -> std::result::Result<Vec<u8>, String> {
        let (features, outputs) = self.model.weights.dim();
        let mut tensors: Vec<(&str, Vec<usize>, Vec<u8>)> = vec![
            (
                "weight",
                vec![features, outputs],
                le_bytes(self.model.weights.iter()),
            ),
            ("bias", vec![outputs], le_bytes(self.model.bias.iter())),
        ];
        if let Some(standardizer) = &self.standardizer {
            tensors.push(("mean", vec![features], le_bytes(standardizer.mean.iter())));
            tensors.push(("std", vec![features], le_bytes(standardizer.std.iter())));
        }
        let views = tensors
            .iter()
            .map(|(name, shape, bytes)| {
                TensorView::new(Dtype::F32, shape.clone(), bytes).map(|view| (*name, view))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| format!("cannot build tensor: {e}"))?;
        let json = |names: &[String]| serde_json::to_string(names).map_err(|e| e.to_string());
        let metadata = HashMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("loss".to_string(), format_loss(&self.model.loss)),
            ("classes".to_string(), json(&self.class_names)?),
            ("feature_names".to_string(), json(&self.feature_names)?),
            ("num_classes".to_string(), self.model.classes.to_string()),
            (
                "lintrain_version".to_string(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
        ]);
        safetensors::serialize(views, Some(metadata)).map_err(|e| format!("cannot serialize: {e}"))
    }

    fn from_bytes(bytes: &[u8]) -> std::result::Result<SavedModel, String> {
        let tensors = SafeTensors::deserialize(bytes)
            .map_err(|e| format!("not a lintrain model file (not valid safetensors: {e})"))?;
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| format!("not a lintrain model file (not valid safetensors: {e})"))?;
        let empty = HashMap::new();
        let metadata = header.metadata().as_ref().unwrap_or(&empty);
        match metadata.get("format") {
            Some(format) if format == FORMAT => {}
            Some(other) => {
                return Err(format!(
                    "not a lintrain model file (metadata `format` is {other:?}, expected {FORMAT:?})"
                ));
            }
            None => {
                return Err("not a lintrain model file (no `format` metadata)".into());
            }
        }
        let meta = |key: &str| {
            metadata
                .get(key)
                .ok_or_else(|| format!("missing metadata `{key}`"))
        };
        let names = |key: &str| -> std::result::Result<Vec<String>, String> {
            serde_json::from_str(meta(key)?)
                .map_err(|e| format!("metadata `{key}` is not a JSON array of strings: {e}"))
        };
        let loss = parse_loss(meta("loss")?).map_err(|e| format!("metadata `loss`: {e}"))?;
        let class_names = names("classes")?;
        let feature_names = names("feature_names")?;
        let num_classes: usize = meta("num_classes")?
            .parse()
            .map_err(|_| "metadata `num_classes` is not a whole number".to_string())?;
        let version = meta("lintrain_version")?.clone();

        let (weight_shape, weight) = read_f32(&tensors, "weight")?;
        let [features, outputs] = weight_shape[..] else {
            return Err(format!(
                "tensor `weight` has shape {weight_shape:?}, expected 2 dimensions [D, C]"
            ));
        };
        let weights = Array2::from_shape_vec((features, outputs), weight)
            .map_err(|e| format!("tensor `weight`: {e}"))?;
        let bias = read_vector(&tensors, "bias", outputs)?;
        let standardizer = match (
            tensors.tensor("mean").is_ok(),
            tensors.tensor("std").is_ok(),
        ) {
            (false, false) => None,
            (true, true) => Some(Standardizer {
                mean: read_vector(&tensors, "mean", features)?,
                std: read_vector(&tensors, "std", features)?,
            }),
            (true, false) => return Err("tensor `mean` without tensor `std`".into()),
            (false, true) => return Err("tensor `std` without tensor `mean`".into()),
        };
        Ok(SavedModel {
            model: Model {
                weights,
                bias,
                loss,
                classes: num_classes,
            },
            standardizer,
            class_names,
            feature_names,
            version,
        })
    }
}

/// The loss as stored in the model file, parameters included:
/// `softmax(label_smoothing=0.1)`, `svm(margin=1)`,
/// `squared-hinge(margin=1)`, `mse`, `logistic`. [`parse_loss`] reads it
/// back exactly (f32 `Display` round-trips).
pub fn format_loss(loss: &Loss) -> String {
    match *loss {
        Loss::SoftmaxCrossEntropy { label_smoothing } => {
            format!("{}(label_smoothing={label_smoothing})", loss.name())
        }
        Loss::Hinge { margin } | Loss::SquaredHinge { margin } => {
            format!("{}(margin={margin})", loss.name())
        }
        Loss::MeanSquaredError | Loss::Logistic => loss.name().to_string(),
    }
}

/// Reads [`format_loss`]'s form; a missing parameter takes its default
/// (label smoothing 0, margin 1).
pub fn parse_loss(text: &str) -> Result<Loss> {
    let bad = |reason: String| Error::InvalidConfig(format!("loss {text:?}: {reason}"));
    let text = text.trim();
    let (name, params) = match text.split_once('(') {
        Some((name, rest)) => {
            let params = rest
                .strip_suffix(')')
                .ok_or_else(|| bad("missing closing parenthesis".into()))?;
            (name.trim(), params)
        }
        None => (text, ""),
    };
    let mut values = HashMap::new();
    for param in params.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = param
            .split_once('=')
            .ok_or_else(|| bad(format!("parameter {param:?} is not key=value")))?;
        let value: f32 = value
            .trim()
            .parse()
            .map_err(|_| bad(format!("parameter {param:?} is not a number")))?;
        values.insert(key.trim().to_string(), value);
    }
    let mut take = |key: &str, default: f32| values.remove(key).unwrap_or(default);
    let loss = match name {
        "softmax" => Loss::SoftmaxCrossEntropy {
            label_smoothing: take("label_smoothing", 0.0),
        },
        "svm" => Loss::Hinge {
            margin: take("margin", 1.0),
        },
        "squared-hinge" => Loss::SquaredHinge {
            margin: take("margin", 1.0),
        },
        "mse" => Loss::MeanSquaredError,
        "logistic" => Loss::Logistic,
        other => {
            return Err(bad(format!(
                "unknown loss {other:?}; known: softmax, svm, squared-hinge, mse, logistic"
            )));
        }
    };
    if let Some(key) = values.keys().next() {
        return Err(bad(format!("unknown parameter {key:?} for {name}")));
    }
    loss.validate()?;
    Ok(loss)
}

fn file_error(path: &Path, reason: String) -> Error {
    Error::Format {
        path: path.to_path_buf(),
        reason,
    }
}

fn check_finite<'a>(
    name: &str,
    mut values: impl Iterator<Item = &'a f32>,
) -> std::result::Result<(), String> {
    match values.position(|v| !v.is_finite()) {
        Some(i) => Err(format!(
            "tensor `{name}` has a non-finite value at index {i}"
        )),
        None => Ok(()),
    }
}

fn le_bytes<'a>(values: impl Iterator<Item = &'a f32>) -> Vec<u8> {
    values.flat_map(|v| v.to_le_bytes()).collect()
}

fn read_f32(
    tensors: &SafeTensors<'_>,
    name: &str,
) -> std::result::Result<(Vec<usize>, Vec<f32>), String> {
    let view = tensors
        .tensor(name)
        .map_err(|_| format!("missing tensor `{name}`"))?;
    if view.dtype() != Dtype::F32 {
        return Err(format!(
            "tensor `{name}` has dtype {:?}, expected F32",
            view.dtype()
        ));
    }
    let values = view
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok((view.shape().to_vec(), values))
}

fn read_vector(
    tensors: &SafeTensors<'_>,
    name: &str,
    len: usize,
) -> std::result::Result<Array1<f32>, String> {
    let (shape, values) = read_f32(tensors, name)?;
    if shape != [len] {
        return Err(format!(
            "tensor `{name}` has shape {shape:?}, expected [{len}]"
        ));
    }
    Ok(Array1::from(values))
}
