//! Loading feature tables with labels from files: delimited text (CSV, TSV,
//! whitespace-separated), NumPy `.npy` and `.npz`, MNIST IDX and CIFAR-10
//! binary batches, each also gzip-compressed. The format is chosen by magic
//! number first and by extension second.
//!
//! Every file is read through [`crate::input_file::read_whole`] (regular
//! files only, bounded), gzip is decompressed bounded by
//! [`MAX_FILE_BYTES`](crate::limits::MAX_FILE_BYTES), and every size a
//! header declares (an `.npy` shape, IDX dimensions, an `.npz` member) is
//! checked against the stated [`limits`](crate::limits) and the bytes present
//! before anything is allocated for it.
//!
//! Feature names: the CSV header, else `x0, x1, …` (text without header,
//! `.npy`, `.npz`), `p0, p1, …` for MNIST pixels (row-major), and for CIFAR-10
//! `r0…r1023, g0…g1023, b0…b1023` (one 32×32 plane per colour, row-major, as
//! the batches store them).
//!
//! Labels: a CSV label column (see [`LabelColumn`]), an `.npz` array (see
//! [`LoadOptions::y_key`]), the IDX label file next to the images, the label
//! byte of each CIFAR record, or, when [`LoadOptions::labels_file`] is given,
//! that file for every format (then every CSV column is a feature).

mod cifar;
mod csv;
mod format;
mod idx;
mod labels;
mod labels_file;
mod npy;
mod npz;
mod source;
mod standardizer;

pub use csv::{Delimiter, HeaderMode};
pub use format::Format;
pub use labels::{ClassMap, LabelColumn, RawLabels};
pub use labels_file::read_labels_file;
pub use standardizer::Standardizer;

use crate::{Error, Result};
use ndarray::{Array2, Axis, concatenate};
use std::path::{Path, PathBuf};

/// Features, labels when the file has them, and one name per feature.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// N×D.
    pub features: Array2<f32>,
    /// N labels, or `None` when the data carries none.
    pub labels: Option<RawLabels>,
    /// D names.
    pub feature_names: Vec<String>,
}

/// How to read a data file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    /// The CSV label column (ignored by other formats).
    pub label: LabelColumn,
    /// Labels from a separate file: an `.npy` 1-D integer array, an IDX label
    /// file, or text with one label per line. Required for `.npy` features
    /// when labels are required; overrides the labels of every format.
    pub labels_file: Option<PathBuf>,
    /// Whether a table without labels is an error (train, eval) or not
    /// (predict).
    pub labels_required: bool,
    /// The model's feature count D, when there is a model: a CSV with D + 1
    /// columns has its label column taken out per [`LoadOptions::label`];
    /// one with exactly D columns has no label column, which is an error
    /// when labels are required (the feature counts differ).
    pub expected_features: Option<usize>,
    /// Whether the first row of a text file is a header.
    pub header: HeaderMode,
    /// The field separator of a text file; `None` sniffs it from the first
    /// line.
    pub delimiter: Option<Delimiter>,
    /// The `.npz` array holding the features (the name `numpy.savez` was
    /// given, with or without `.npy`); `None` picks the only array, or of
    /// two the 2-D one beside a 1-D (or N×1) one.
    pub x_key: Option<String>,
    /// The `.npz` array holding the labels; `None` picks the other of two
    /// arrays. A labels file takes precedence.
    pub y_key: Option<String>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            label: LabelColumn::Last,
            labels_file: None,
            labels_required: true,
            expected_features: None,
            header: HeaderMode::Auto,
            delimiter: None,
            x_key: None,
            y_key: None,
        }
    }
}

/// Reads one data file (format detected from its first bytes and extension).
pub fn load_table(path: &Path, options: &LoadOptions) -> Result<Table> {
    let bytes = read_file(path)?;
    let format = Format::detect(path, &bytes)?;
    // Where the labels come from when not from the data file itself.
    let mut labels_source = options.labels_file.clone();
    let mut table = match format {
        Format::Csv => csv::load(path, &bytes, options)?,
        Format::Npz => npz::load(path, &bytes, options)?,
        Format::Npy => {
            let features = npy::read_features(path, &bytes)?;
            let feature_names = numbered_names("x", features.ncols());
            Table {
                features,
                labels: None,
                feature_names,
            }
        }
        Format::Idx => {
            let features = idx::read_images(path, &bytes)?;
            let feature_names = numbered_names("p", features.ncols());
            let labels = match options.labels_file {
                Some(_) => None,
                None => match idx::companion_labels(path, options.labels_required)? {
                    Some((found, labels)) => {
                        labels_source = Some(found);
                        Some(labels)
                    }
                    None => None,
                },
            };
            Table {
                features,
                labels,
                feature_names,
            }
        }
        Format::Cifar => cifar::read_batch(path, &bytes)?,
    };
    if let Some(labels_path) = &options.labels_file {
        table.labels = Some(read_labels_file(labels_path)?);
    }
    check_table(path, format, &table, labels_source.as_deref(), options)?;
    Ok(table)
}

/// Reads several files of one layout (e.g. the five CIFAR-10 training
/// batches) and stacks their rows in order.
pub fn load_tables(paths: &[PathBuf], options: &LoadOptions) -> Result<Table> {
    let Some((first_path, rest)) = paths.split_first() else {
        return Err(Error::EmptyData("no data files given".into()));
    };
    let first = load_table(first_path, options)?;
    if rest.is_empty() {
        return Ok(first);
    }
    let mut tables = vec![first];
    for path in rest {
        let table = load_table(path, options)?;
        if table.feature_names != tables[0].feature_names {
            return Err(Error::Format {
                path: path.clone(),
                reason: format!(
                    "has {} features that do not match the {} features of {}",
                    table.features.ncols(),
                    tables[0].features.ncols(),
                    first_path.display()
                ),
            });
        }
        if table.labels.is_some() != tables[0].labels.is_some() {
            return Err(Error::Format {
                path: path.clone(),
                reason: format!(
                    "labels present in one file but not in the other ({})",
                    first_path.display()
                ),
            });
        }
        tables.push(table);
    }
    let views: Vec<_> = tables.iter().map(|t| t.features.view()).collect();
    let features = concatenate(Axis(0), &views).map_err(|e| Error::ShapeMismatch {
        op: "stacking data files",
        detail: e.to_string(),
    })?;
    let labels = match tables[0].labels {
        None => None,
        Some(_) => {
            let texts: Vec<String> = tables
                .iter()
                .flat_map(|t| {
                    let labels = t.labels.as_ref().expect("presence checked above");
                    (0..labels.len()).filter_map(move |row| labels.text(row))
                })
                .collect();
            Some(RawLabels::from_strings(texts))
        }
    };
    let feature_names = tables.swap_remove(0).feature_names;
    Ok(Table {
        features,
        labels,
        feature_names,
    })
}

fn check_table(
    path: &Path,
    format: Format,
    table: &Table,
    labels_source: Option<&Path>,
    options: &LoadOptions,
) -> Result<()> {
    let rows = table.features.nrows();
    if rows == 0 || table.features.ncols() == 0 {
        return Err(Error::EmptyData(format!(
            "{} has {} rows and {} features",
            path.display(),
            rows,
            table.features.ncols()
        )));
    }
    match &table.labels {
        Some(labels) if labels.len() != rows => {
            let source = labels_source.unwrap_or(path);
            Err(Error::Format {
                path: source.to_path_buf(),
                reason: format!(
                    "has {} labels but the data {} has {} rows",
                    labels.len(),
                    path.display(),
                    rows
                ),
            })
        }
        None if options.labels_required => {
            let (what, where_else) = match format {
                Format::Npy => ("a .npy file holds only features", ""),
                Format::Npz => (
                    "the archive has no labels array",
                    ", or name its labels array with --y-key",
                ),
                _ => ("the file has none", ""),
            };
            Err(Error::Format {
                path: path.to_path_buf(),
                reason: format!(
                    "no labels: {what}; give them in a labels file with --labels (--test-labels \
                     for --test): a .npy array, an IDX label file or text with one label per \
                     line{where_else}"
                ),
            })
        }
        _ => Ok(()),
    }
}

/// The whole file, decompressed when it is gzip: only a regular file,
/// bounded (see [`source`]); errors name the path.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    source::read_input(path)
}

pub(crate) fn numbered_names(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}{i}")).collect()
}

pub(crate) fn format_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::Format {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}
