//! Loading feature tables with labels from files: delimited text (CSV, TSV,
//! whitespace-separated), NumPy `.npy` and `.npz`, MNIST IDX and CIFAR-10
//! binary batches, each also gzip-compressed. The format is chosen by magic
//! number first and by extension second.
//!
//! Every file is read through [`crate::input_file::read_whole`] (regular
//! files only, bounded), gzip is decompressed bounded by
//! [`MAX_FILE_BYTES`](crate::limits::MAX_FILE_BYTES), and every size a
//! header declares (an `.npy` shape, IDX dimensions, an `.npz` member) is
//! checked against the stated [`limits`] and the bytes present
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
//! that file for every format (then every CSV column is a feature). Labels
//! read as text are integers when all are whole numbers, names when some
//! are not numbers; integers beside a number that is not whole (`nan`,
//! `0.5`) are an error naming its line, not an extra class. They are held
//! as [`RawLabels`]: the distinct values once and a `u32` per row.
//!
//! Memory: the large buffers a loader sizes from a file (the text, the
//! f32 table, the label codes) are reserved at once and fallibly, so a
//! table the machine cannot hold is an error naming the file and the size,
//! and values are converted straight to f32 (never through a wider type).

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
pub mod stream;

pub use csv::{Delimiter, HeaderMode};
pub use format::Format;
pub use labels::{ClassMap, LabelColumn, RawLabels};
use labels::{LabelsError, too_many};
pub use labels_file::read_labels_file;
pub use standardizer::Standardizer;

use crate::limits::{self, MAX_TABLE_VALUES};
use crate::{Error, Result};
use ndarray::Array2;
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
    /// The CSV label column (ignored by other formats). Anything but
    /// [`LabelColumn::Last`] (the default) was given explicitly, and must
    /// then be in the file even where no label column is needed (a file as
    /// wide as the model, for predict).
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
    /// two the 2-D one beside a 1-D (or N×1) one. Given for a file of
    /// another format, it is an error (as is [`LoadOptions::y_key`]).
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
pub fn load_table(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Table> {
    load_table_at(path.as_ref(), options)
}

fn load_table_at(path: &Path, options: &LoadOptions) -> Result<Table> {
    let bytes = read_file(path)?;
    let format = Format::detect(path, &bytes)?;
    // Keys choose arrays of an archive; given for any other file they would
    // be ignored, and a user who gave them expects them to matter.
    if format != Format::Npz {
        let given = [("--x-key", &options.x_key), ("--y-key", &options.y_key)];
        if let Some((flag, Some(key))) = given.iter().find(|(_, key)| key.is_some()) {
            return Err(format_error(
                path,
                format!(
                    "{flag} {key:?} chooses an array of an .npz archive, but this is {}; \
                     leave {flag} out",
                    format.describe()
                ),
            ));
        }
    }
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
pub fn load_tables(paths: &[impl AsRef<Path>], options: &LoadOptions) -> Result<Table> {
    let paths: Vec<&Path> = paths.iter().map(AsRef::as_ref).collect();
    load_tables_at(&paths, options)
}

fn load_tables_at(paths: &[&Path], options: &LoadOptions) -> Result<Table> {
    let Some((&first_path, rest)) = paths.split_first() else {
        return Err(Error::EmptyData("no data files given".into()));
    };
    let first = load_table_at(first_path, options)?;
    if rest.is_empty() {
        return Ok(first);
    }
    let mut tables = vec![first];
    for &path in rest {
        let table = load_table_at(path, options)?;
        if table.feature_names != tables[0].feature_names {
            return Err(Error::Format {
                path: path.to_path_buf(),
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
                path: path.to_path_buf(),
                reason: format!(
                    "labels present in one file but not in the other ({})",
                    first_path.display()
                ),
            });
        }
        tables.push(table);
    }
    let rows: usize = tables.iter().map(|t| t.features.nrows()).sum();
    let cols = tables[0].features.ncols();
    limits::check_product(
        format!(
            "the number of values (rows × features) in {} and the other data files together",
            first_path.display()
        ),
        rows as u64,
        cols as u64,
        MAX_TABLE_VALUES,
    )?;
    let mut values = try_vec(
        first_path,
        rows * cols,
        &format!("the {rows} rows of {} data files together", paths.len()),
    )?;
    for table in &tables {
        // Each table is in standard (C) order, as every loader builds it.
        values.extend(table.features.iter().copied());
    }
    let features =
        Array2::from_shape_vec((rows, cols), values).map_err(|e| Error::ShapeMismatch {
            op: "stacking data files",
            detail: e.to_string(),
        })?;
    let labels = match tables[0].labels {
        None => None,
        Some(_) => {
            let parts: Vec<&RawLabels> = tables.iter().filter_map(|t| t.labels.as_ref()).collect();
            Some(RawLabels::concat(&parts).map_err(|e| match e {
                LabelsError::TooMany(count) => too_many(count, None),
                LabelsError::NotWhole { value, origin } => {
                    // The file and data row the label was first met in.
                    let mut row = origin as usize;
                    let mut at = 0;
                    while at + 1 < tables.len() && row >= tables[at].features.nrows() {
                        row -= tables[at].features.nrows();
                        at += 1;
                    }
                    format_error(
                        paths[at],
                        format!(
                            "data row {}: {}",
                            row + 1,
                            LabelsError::not_whole_reason(&value)
                        ),
                    )
                }
            })?)
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

/// The error for an allocation of `bytes` for `what`, sized by the file at
/// `path`, that the machine refused.
pub(crate) fn alloc_error(path: &Path, bytes: u64, what: &str) -> Error {
    Error::file(
        path,
        format!("cannot allocate {bytes} bytes for {what}: not enough memory"),
    )
}

/// An empty vector with room for exactly `len` items, or
/// [`alloc_error`]: the large buffers a loader sizes from a file are
/// reserved this way, so that one the machine cannot back is a typed error
/// naming the file instead of an abort.
pub(crate) fn try_vec<T>(path: &Path, len: usize, what: &str) -> Result<Vec<T>> {
    let mut vec = Vec::new();
    vec.try_reserve_exact(len).map_err(|_| {
        alloc_error(
            path,
            (len as u64).saturating_mul(std::mem::size_of::<T>() as u64),
            what,
        )
    })?;
    Ok(vec)
}

pub(crate) fn format_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::Format {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}
