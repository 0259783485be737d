//! The model file: a safetensors file with the tensors `weight` [D, C],
//! `bias` \[C\] and, for a standardized model, `mean` \[D\] and `std` \[D\] (all
//! f32), and the string metadata `format` = `lintrain-linear`, `loss` (see
//! [`format_loss`]), `classes` and `feature_names` (JSON arrays of strings),
//! `num_classes` and `lintrain_version`; with [`SavedModel::with_regularizer`]
//! also `regularizer` (`none`, `l2`, `l1`, `elastic`), `reg_strength` (λ) and
//! `l1_ratio` (elastic: lintrain's r); with
//! [`SavedModel::with_class_label_type`] also `class_label_type` (the type
//! the class names were written from: `bool`, `int`, `float` or `str`).
//! Older files without them load.
//!
//! Saving is atomic: the bytes go to a temporary file in the target's
//! directory, which is flushed to disk and then renamed over the target, so
//! an existing model is either replaced whole or left as it was.
//!
//! Saving is reproducible: the same model gives the same bytes. The layout
//! is safetensors' own (an 8-byte little-endian header length, the JSON
//! header padded with spaces to a multiple of 8 bytes, the tensor data in
//! the header's order), written here with the metadata keys and the tensor
//! names sorted; `safetensors::serialize` takes the metadata as a `HashMap`
//! and writes it in that map's random order.
//!
//! Loading checks, before any array is allocated: the file size against
//! [`MAX_MODEL_FILE_BYTES`], the header's shapes and the metadata against
//! every invariant of a [`Model`] ([`Model::check_parts`], which holds the
//! [`MAX_CLASSES`](crate::limits::MAX_CLASSES) and
//! [`MAX_PARAMETERS`] limits), then the
//! values (finite weights, finite means, standard deviations that are
//! normal positive f32, at least `f32::MIN_POSITIVE`) and the names (one per class and feature, no class twice).

use crate::data::{ClassMap, Standardizer};
use crate::limits::{self, MAX_PARAMETERS};
use crate::{Error, Loss, Model, Regularizer, Result};
use ndarray::{Array1, Array2, ArrayView2};
use safetensors::tensor::{Dtype, SafeTensors, TensorInfo};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// The value of the `format` metadata key.
pub const FORMAT: &str = "lintrain-linear";

/// The largest header safetensors reads (its `MAX_HEADER_SIZE`).
const MAX_HEADER_BYTES: u64 = 100_000_000;

/// The largest model file: the 8-byte header length, the largest header
/// safetensors reads, and the f32 tensors of the largest model the limits
/// allow: `weight` and `bias` hold (D + 1)·C ≤ `MAX_PARAMETERS` values,
/// `mean` and `std` 2·D < 2·`MAX_PARAMETERS`. A larger file cannot be a
/// valid model and is refused before it is read.
pub const MAX_MODEL_FILE_BYTES: u64 = 8 + MAX_HEADER_BYTES + 4 * 3 * MAX_PARAMETERS;

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
    /// The regularizer the weights were trained with (its λ as it trained,
    /// after any conversion from scikit-learn's C or alpha); `None` when
    /// unrecorded.
    pub regularizer: Option<Regularizer>,
    /// The type of the labels the class names were written from, so that
    /// a reader can give them back as they were (the Python package's
    /// `classes_`): one of [`CLASS_LABEL_TYPES`], metadata
    /// `class_label_type`. `None` when unrecorded (the command line's
    /// files): the names are text.
    pub class_label_type: Option<String>,
}

/// The values of [`SavedModel::class_label_type`]: Python's `bool`, an
/// integer, a float, or text.
pub const CLASS_LABEL_TYPES: [&str; 4] = ["bool", "int", "float", "str"];

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
            regularizer: None,
            class_label_type: None,
        }
    }

    /// This model, recording the type of its labels (one of
    /// [`CLASS_LABEL_TYPES`]) in the file's metadata; another type is an
    /// error when the file is written.
    pub fn with_class_label_type(self, label_type: impl Into<String>) -> SavedModel {
        SavedModel {
            class_label_type: Some(label_type.into()),
            ..self
        }
    }

    /// This model, recording the regularizer it was trained with in the
    /// file's metadata.
    pub fn with_regularizer(self, regularizer: Regularizer) -> SavedModel {
        SavedModel {
            regularizer: Some(regularizer),
            ..self
        }
    }

    /// The class names as a map from labels to class ids.
    pub fn class_map(&self) -> ClassMap {
        ClassMap::from_names(self.class_names.clone())
    }

    /// Writes the model atomically and reproducibly (see the module docs);
    /// the `lintrain_version` written is this lintrain's. A model that
    /// would not load is not written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self
            .check()
            .and_then(|()| self.to_bytes().map_err(Invalid::Reason))
            .map_err(|invalid| invalid.in_file(path, "model not saved: "))?;
        crate::atomic_file::write_atomically(path, &bytes)
    }

    /// Reads and checks a model file (see the module docs): every problem
    /// is an [`Error::Format`] (or [`Error::File`] when it cannot be read,
    /// [`Error::TooLarge`] for a size over a stated limit) naming the file.
    pub fn load(path: impl AsRef<Path>) -> Result<SavedModel> {
        let path = path.as_ref();
        let bytes = read_bounded(path, "model", MAX_MODEL_FILE_BYTES)?;
        Self::from_bytes(&bytes).map_err(|invalid| invalid.in_file(path, ""))
    }

    /// Checks that `x` has the model's feature count and standardizes it
    /// when the model was trained on standardized data.
    pub fn prepare(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        let expected = self.model.features();
        if x.ncols() != expected {
            return Err(Error::ShapeMismatch {
                op: "prepare data for the model",
                detail: format!(
                    "the feature counts differ: the data has {} features, the model {expected}",
                    x.ncols()
                ),
            });
        }
        match &self.standardizer {
            Some(standardizer) => standardizer.apply(x),
            None => Ok(x.to_owned()),
        }
    }

    /// Consistency of shapes, values and names.
    pub(crate) fn check(&self) -> std::result::Result<(), Invalid> {
        let (features, outputs) = self.model.weights.dim();
        if features == 0 || outputs == 0 {
            return Err(Invalid::Reason(format!(
                "tensor `weight` has shape [{features}, {outputs}]; both sizes must be positive"
            )));
        }
        if self.model.bias.len() != outputs {
            return Err(Invalid::Reason(format!(
                "tensor `bias` has shape [{}], expected [{outputs}]",
                self.model.bias.len()
            )));
        }
        check_finite("weight", self.model.weights.iter())?;
        check_finite("bias", self.model.bias.iter())?;
        if let Some(standardizer) = &self.standardizer {
            for (name, values) in [("mean", &standardizer.mean), ("std", &standardizer.std)] {
                if values.len() != features {
                    return Err(Invalid::Reason(format!(
                        "tensor `{name}` has shape [{}], expected [{features}]",
                        values.len()
                    )));
                }
                check_finite(name, values.iter())?;
            }
            // Standardizing divides by std: a zero, negative or subnormal
            // one (1e-45 is positive and finite) turns ordinary data into
            // infinities, and the scores into NaN.
            if let Some(i) = standardizer
                .std
                .iter()
                // Finite, checked above: NaN cannot slip past `<`.
                .position(|&s| s < f32::MIN_POSITIVE)
            {
                return Err(Invalid::Reason(format!(
                    "tensor `std` has the value {:e} at index {i}; a standard deviation must be a \
                     normal positive f32, at least {:e} (f32::MIN_POSITIVE)",
                    standardizer.std[i],
                    f32::MIN_POSITIVE
                )));
            }
        }
        check_names(
            &self.class_names,
            &self.feature_names,
            self.model.classes,
            features,
        )?;
        self.model.check()?;
        Ok(())
    }

    /// The file's bytes: safetensors' layout with sorted keys (see the
    /// module docs), so that the same model always gives the same bytes.
    fn to_bytes(&self) -> std::result::Result<Vec<u8>, String> {
        self.to_bytes_with(FORMAT, &[], Vec::new())
    }

    /// The bytes of a file of `format` that holds this model and, beside
    /// it, the f32 tensors `extra` (name, shape, values) and the metadata
    /// `extra_metadata` (a [checkpoint](crate::checkpoint_file) does).
    pub(crate) fn to_bytes_with(
        &self,
        format: &str,
        extra: &[ExtraTensor<'_>],
        extra_metadata: Vec<(&'static str, String)>,
    ) -> std::result::Result<Vec<u8>, String> {
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
        for (name, shape, values) in extra {
            tensors.push((name, shape.clone(), le_bytes(values.iter())));
        }
        // safetensors' order: descending dtype alignment, then name; every
        // tensor here is f32, so by name.
        tensors.sort_by(|a, b| a.0.cmp(b.0));
        let mut metadata = BTreeMap::from([
            ("format", format.to_string()),
            ("loss", format_loss(&self.model.loss)),
            ("classes", json(&self.class_names)?),
            ("feature_names", json(&self.feature_names)?),
            ("num_classes", self.model.classes.to_string()),
            ("lintrain_version", env!("CARGO_PKG_VERSION").to_string()),
        ]);
        if let Some(regularizer) = &self.regularizer {
            metadata.extend(regularizer_metadata(regularizer));
        }
        if let Some(label_type) = &self.class_label_type {
            check_class_label_type(label_type)?;
            metadata.insert("class_label_type", label_type.clone());
        }
        metadata.extend(extra_metadata);
        // A BTreeMap serializes in key order; the tensor entries follow in
        // data order, each as safetensors writes it (dtype, shape, offsets).
        let mut header = format!("{{\"__metadata__\":{}", json(&metadata)?);
        let mut offset = 0usize;
        for (name, shape, bytes) in &tensors {
            let end = offset + bytes.len();
            header.push_str(&format!(
                ",{}:{{\"dtype\":\"F32\",\"shape\":{},\"data_offsets\":[{offset},{end}]}}",
                json(name)?,
                json(shape)?
            ));
            offset = end;
        }
        header.push('}');
        // safetensors aligns the data to 8 bytes by padding the header with spaces.
        let padded = header.len().next_multiple_of(8);
        header.extend(std::iter::repeat_n(' ', padded - header.len()));
        if header.len() as u64 > MAX_HEADER_BYTES {
            return Err(format!(
                "the file header (names and metadata) would be {} bytes, more than the {MAX_HEADER_BYTES} bytes safetensors reads",
                header.len()
            ));
        }
        let mut bytes = Vec::with_capacity(8 + header.len() + offset);
        bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        for (_, _, data) in &tensors {
            bytes.extend_from_slice(data);
        }
        Ok(bytes)
    }

    fn from_bytes(bytes: &[u8]) -> std::result::Result<SavedModel, Invalid> {
        Self::from_bytes_as(bytes, FORMAT, "model").map(|(saved, _)| saved)
    }

    /// Reads the model of a file of `format` (a `kind` of file, for the
    /// messages), and returns it with the file's extra contents.
    pub(crate) fn from_bytes_as<'b>(
        bytes: &'b [u8],
        format: &str,
        kind: &str,
    ) -> std::result::Result<(SavedModel, Extras<'b>), Invalid> {
        let (header_len, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| format!("not a lintrain {kind} file (not valid safetensors: {e})"))?;
        let empty = HashMap::new();
        let metadata = header.metadata().as_ref().unwrap_or(&empty);
        match metadata.get("format") {
            Some(found) if found == format => {}
            Some(other) => {
                return Err(Invalid::Reason(format!(
                    "not a lintrain {kind} file (metadata `format` is {other:?}, expected {format:?})"
                )));
            }
            None => {
                return Err(Invalid::Reason(format!(
                    "not a lintrain {kind} file (no `format` metadata)"
                )));
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
        let num_classes: u64 = meta("num_classes")?.trim().parse().map_err(|_| {
            format!(
                "metadata `num_classes` is {:?}, not a whole number",
                meta("num_classes").map(String::as_str).unwrap_or_default()
            )
        })?;
        let num_classes = limits::check(
            "metadata `num_classes`",
            num_classes,
            crate::limits::MAX_CLASSES,
        )? as usize;
        let version = meta("lintrain_version")?.clone();
        let regularizer = parse_regularizer(metadata)?;
        let class_label_type = metadata
            .get("class_label_type")
            .map(|label_type| {
                check_class_label_type(label_type)
                    .map(|()| label_type.clone())
                    .map_err(|reason| format!("metadata {reason}"))
            })
            .transpose()?;

        // Shapes from the header, checked before any array is allocated.
        let weight = tensor_info(&header, "weight")?;
        let [features, outputs] = weight.shape[..] else {
            return Err(Invalid::Reason(format!(
                "tensor `weight` has shape {:?}, expected 2 dimensions [D, C]",
                weight.shape
            )));
        };
        let bias = tensor_info(&header, "bias")?;
        check_shape("bias", bias, outputs)?;
        let standardized = match (header.info("mean"), header.info("std")) {
            (None, None) => false,
            (Some(_), Some(_)) => {
                check_shape("mean", tensor_info(&header, "mean")?, features)?;
                check_shape("std", tensor_info(&header, "std")?, features)?;
                true
            }
            (Some(_), None) => return Err("tensor `mean` without tensor `std`".to_string().into()),
            (None, Some(_)) => return Err("tensor `std` without tensor `mean`".to_string().into()),
        };
        if features == 0 || outputs == 0 {
            return Err(Invalid::Reason(format!(
                "tensor `weight` has shape [{features}, {outputs}]; both sizes must be positive"
            )));
        }
        Model::check_parts(&loss, features, outputs, outputs, num_classes)?;
        check_names(&class_names, &feature_names, num_classes, features)?;

        // The values; `read_metadata` has checked that every tensor's data
        // range lies in the buffer and matches its shape and dtype.
        let data = &bytes[8 + header_len..];
        let values = |name: &str| -> std::result::Result<Vec<f32>, String> {
            let info = tensor_info(&header, name)?;
            let (start, end) = info.data_offsets;
            let raw = data
                .get(start..end)
                .ok_or_else(|| format!("tensor `{name}` lies outside the file"))?;
            Ok(raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect())
        };
        let weights = Array2::from_shape_vec((features, outputs), values("weight")?)
            .map_err(|e| format!("tensor `weight`: {e}"))?;
        let bias = Array1::from(values("bias")?);
        let standardizer = if standardized {
            Some(Standardizer {
                mean: Array1::from(values("mean")?),
                std: Array1::from(values("std")?),
            })
        } else {
            None
        };
        let saved = SavedModel {
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
            regularizer,
            class_label_type,
        };
        saved.check()?;
        let metadata = metadata.clone();
        Ok((
            saved,
            Extras {
                metadata,
                header,
                data,
            },
        ))
    }
}

/// An extra f32 tensor of a file: name, shape, values.
pub(crate) type ExtraTensor<'a> = (&'a str, Vec<usize>, &'a [f32]);

/// What a file holds beyond its model: metadata and tensors, read on
/// request and checked as they are read.
pub(crate) struct Extras<'b> {
    metadata: HashMap<String, String>,
    header: safetensors::tensor::Metadata,
    data: &'b [u8],
}

impl Extras<'_> {
    /// The metadata value of `key`.
    pub(crate) fn metadata(&self, key: &str) -> std::result::Result<&str, String> {
        self.metadata
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| format!("missing metadata `{key}`"))
    }

    /// The values of the 1-D f32 tensor `name`, which must hold `len`.
    pub(crate) fn vector(&self, name: &str, len: usize) -> std::result::Result<Vec<f32>, String> {
        let info = tensor_info(&self.header, name)?;
        check_shape(name, info, len)?;
        let (start, end) = info.data_offsets;
        let raw = self
            .data
            .get(start..end)
            .ok_or_else(|| format!("tensor `{name}` lies outside the file"))?;
        Ok(raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

/// The bytes of a `kind` file no valid one of which is larger than `max`:
/// a larger file is refused before a byte is read, and devices and the
/// like are refused by [`read_whole`](crate::input_file::read_whole).
pub(crate) fn read_bounded(path: &Path, kind: &str, max: u64) -> Result<Vec<u8>> {
    if let Ok(metadata) = std::fs::metadata(path)
        && metadata.is_file()
    {
        limits::check(
            format!("the size in bytes of the {kind} file {}", path.display()),
            metadata.len(),
            max,
        )?;
    }
    crate::input_file::read_whole(path)
}

/// Why a model is not a valid model file, before the file is named.
pub(crate) enum Invalid {
    /// Reported as an [`Error::Format`] naming the file.
    Reason(String),
    /// A size over a stated limit, reported as [`Error::TooLarge`].
    TooLarge { what: String, size: u64, limit: u64 },
}

impl Invalid {
    pub(crate) fn in_file(self, path: &Path, prefix: &str) -> Error {
        match self {
            Invalid::Reason(reason) => file_error(path, format!("{prefix}{reason}")),
            Invalid::TooLarge { what, size, limit } => Error::TooLarge {
                what: format!("{}: {prefix}{what}", path.display()),
                size,
                limit,
            },
        }
    }
}

impl From<String> for Invalid {
    fn from(reason: String) -> Self {
        Invalid::Reason(reason)
    }
}

impl From<Error> for Invalid {
    fn from(error: Error) -> Self {
        match error {
            Error::TooLarge { what, size, limit } => Invalid::TooLarge { what, size, limit },
            Error::InvalidConfig(reason) => Invalid::Reason(reason),
            other => Invalid::Reason(other.to_string()),
        }
    }
}

/// One name per class and per feature, and no class name twice.
fn check_names(
    class_names: &[String],
    feature_names: &[String],
    classes: usize,
    features: usize,
) -> std::result::Result<(), String> {
    if classes < 2 {
        return Err(format!(
            "a model file holds a classifier, with at least 2 classes; this one has {classes}"
        ));
    }
    if class_names.len() != classes {
        return Err(format!(
            "the model has {classes} classes but {} class names",
            class_names.len()
        ));
    }
    let mut seen = HashSet::new();
    if let Some(duplicate) = class_names.iter().find(|n| !seen.insert(n.as_str())) {
        return Err(format!("class name {duplicate:?} occurs twice"));
    }
    if feature_names.len() != features {
        return Err(format!(
            "{} feature names for {features} features",
            feature_names.len()
        ));
    }
    Ok(())
}

/// The header entry of an f32 tensor.
fn tensor_info<'a>(
    header: &'a safetensors::tensor::Metadata,
    name: &str,
) -> std::result::Result<&'a TensorInfo, String> {
    let info = header
        .info(name)
        .ok_or_else(|| format!("missing tensor `{name}`"))?;
    if info.dtype != Dtype::F32 {
        return Err(format!(
            "tensor `{name}` has dtype {:?}, expected F32",
            info.dtype
        ));
    }
    Ok(info)
}

fn check_shape(name: &str, info: &TensorInfo, len: usize) -> std::result::Result<(), String> {
    if info.shape != [len] {
        return Err(format!(
            "tensor `{name}` has shape {:?}, expected [{len}]",
            info.shape
        ));
    }
    Ok(())
}

/// `value` as JSON, or why not.
fn json<T: serde::Serialize + ?Sized>(value: &T) -> std::result::Result<String, String> {
    serde_json::to_string(value).map_err(|e| e.to_string())
}

/// The metadata entries that record `regularizer`: its name, and its
/// strength and l1 ratio where it has them (f32 `Display` round-trips).
fn regularizer_metadata(regularizer: &Regularizer) -> Vec<(&'static str, String)> {
    let (strength, l1_ratio) = match *regularizer {
        Regularizer::L2 { strength } | Regularizer::L1 { strength } => (Some(strength), None),
        Regularizer::ElasticNet { strength, l1_ratio } => (Some(strength), Some(l1_ratio)),
        _ => (None, None),
    };
    [("regularizer", Some(regularizer.name().to_string()))]
        .into_iter()
        .chain([("reg_strength", strength.map(|v| v.to_string()))])
        .chain([("l1_ratio", l1_ratio.map(|v| v.to_string()))])
        .filter_map(|(key, value)| Some((key, value?)))
        .collect()
}

/// The regularizer [`regularizer_metadata`] recorded; `None` for a file
/// without the `regularizer` key.
fn parse_regularizer(
    metadata: &HashMap<String, String>,
) -> std::result::Result<Option<Regularizer>, String> {
    let Some(name) = metadata.get("regularizer") else {
        return Ok(None);
    };
    let number = |key: &str| -> std::result::Result<f32, String> {
        let text = metadata
            .get(key)
            .ok_or_else(|| format!("metadata `regularizer` is {name:?} but `{key}` is missing"))?;
        text.trim()
            .parse()
            .map_err(|_| format!("metadata `{key}` is {text:?}, not a number"))
    };
    let regularizer = match name.as_str() {
        "none" => Regularizer::None,
        "l2" => Regularizer::L2 {
            strength: number("reg_strength")?,
        },
        "l1" => Regularizer::L1 {
            strength: number("reg_strength")?,
        },
        "elastic" => Regularizer::ElasticNet {
            strength: number("reg_strength")?,
            l1_ratio: number("l1_ratio")?,
        },
        other => {
            return Err(format!(
                "metadata `regularizer` is {other:?}; known: none, l2, l1, elastic"
            ));
        }
    };
    regularizer
        .validate()
        .map_err(|e| format!("metadata `regularizer`: {e}"))?;
    Ok(Some(regularizer))
}

fn check_class_label_type(label_type: &str) -> std::result::Result<(), String> {
    if CLASS_LABEL_TYPES.contains(&label_type) {
        Ok(())
    } else {
        Err(format!(
            "`class_label_type` is {label_type:?}; known: {}",
            CLASS_LABEL_TYPES.join(", ")
        ))
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
