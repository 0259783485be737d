//! Delimited text: comma, tab or semicolon separated (sniffed from the first
//! line; `.tsv` is always tab), with or without a header row.
//!
//! The first row is a header when one of its fields is not a number while
//! the same field of the second row is (or, in a one-row file, when none of
//! its fields is a number). Errors name the file, the 1-based line (the
//! header counts) and the 1-based column.

use super::labels::{LabelColumn, RawLabels};
use super::{LoadOptions, Table, format_error, numbered_names};
use crate::{Error, Result};
use csv::{ByteRecord, ReaderBuilder};
use ndarray::Array2;
use rayon::prelude::*;
use std::path::Path;

/// Rows parsed together in parallel; errors are still reported for the
/// first bad row in file order.
const BATCH_ROWS: usize = 2048;

pub(crate) fn load(path: &Path, bytes: &[u8], options: &LoadOptions) -> Result<Table> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let delimiter = sniff_delimiter(path, bytes);
    // Fields are trimmed where they are parsed: the reader's own trimming
    // costs more than the parsing.
    let mut reader = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(bytes);
    let read_error = |e: csv::Error| {
        let line = e.position().map_or(0, |p| p.line() as usize);
        Error::Parse {
            path: path.to_path_buf(),
            line,
            column: 1,
            reason: e.to_string(),
        }
    };

    let mut first = ByteRecord::new();
    if !reader.read_byte_record(&mut first).map_err(read_error)? {
        return Err(Error::EmptyData(format!("{} is empty", path.display())));
    }
    let mut second = ByteRecord::new();
    let has_second = reader.read_byte_record(&mut second).map_err(read_error)?;
    let has_header = is_header(&first, has_second.then_some(&second));
    if has_header && !has_second {
        return Err(Error::EmptyData(format!(
            "{} has a header but no data rows",
            path.display()
        )));
    }

    let columns = first.len();
    let header: Option<Vec<String>> = has_header.then(|| {
        first
            .iter()
            .map(|f| String::from_utf8_lossy(f.trim_ascii()).into_owned())
            .collect()
    });
    let label_index = label_column(path, columns, header.as_deref(), options)?;
    let feature_count = columns - usize::from(label_index.is_some());
    let column_names: Vec<String> = match &header {
        Some(names) => names.clone(),
        None => numbered_names("x", columns),
    };
    let feature_names: Vec<String> = column_names
        .iter()
        .enumerate()
        .filter(|(j, _)| Some(*j) != label_index)
        .map(|(_, name)| name.clone())
        .collect();

    let layout = RowLayout {
        path,
        columns,
        feature_count,
        first_line: line_of(&first),
        label_index,
        column_names: header.as_deref(),
        delimiter,
    };
    let mut rows = Rows::default();
    // Records are read into a pool reused from batch to batch.
    let mut batch: Vec<ByteRecord> = Vec::with_capacity(BATCH_ROWS);
    if !has_header {
        batch.push(first);
    }
    if has_second {
        batch.push(second);
    }
    let mut filled = batch.len();
    loop {
        if filled == batch.len() {
            batch.push(ByteRecord::new());
        }
        if !reader
            .read_byte_record(&mut batch[filled])
            .map_err(read_error)?
        {
            break;
        }
        filled += 1;
        if filled == BATCH_ROWS {
            rows.push_batch(&layout, &batch[..filled])?;
            filled = 0;
        }
    }
    rows.push_batch(&layout, &batch[..filled])?;

    let features = Array2::from_shape_vec((rows.count, feature_count), rows.features)
        .map_err(|e| format_error(path, e.to_string()))?;
    let labels = label_index.map(|_| RawLabels::from_strings(rows.labels));
    Ok(Table {
        features,
        labels,
        feature_names,
    })
}

/// Tab for `.tsv`; otherwise the most frequent of tab, comma and semicolon
/// on the first line, comma when there is none.
fn sniff_delimiter(path: &Path, bytes: &[u8]) -> u8 {
    let is_tsv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tsv"));
    if is_tsv {
        return b'\t';
    }
    let first_line = bytes
        .split(|&b| b == b'\n')
        .find(|line| line.iter().any(|b| !b.is_ascii_whitespace()))
        .unwrap_or(&[]);
    let count = |d: u8| first_line.iter().filter(|&&b| b == d).count();
    [b',', b'\t', b';']
        .into_iter()
        .map(|d| (count(d), d))
        .filter(|(n, _)| *n > 0)
        .max_by_key(|(n, d)| (*n, *d == b','))
        .map_or(b',', |(_, d)| d)
}

fn is_number(field: &[u8]) -> bool {
    std::str::from_utf8(field.trim_ascii()).is_ok_and(|s| s.parse::<f32>().is_ok())
}

fn is_header(first: &ByteRecord, second: Option<&ByteRecord>) -> bool {
    match second {
        Some(second) => first
            .iter()
            .zip(second.iter())
            .any(|(a, b)| !is_number(a) && is_number(b)),
        None => first.iter().all(|f| !is_number(f)),
    }
}

fn line_of(record: &ByteRecord) -> usize {
    record.position().map_or(0, |p| p.line() as usize)
}

/// Which column holds the labels, if any.
fn label_column(
    path: &Path,
    columns: usize,
    header: Option<&[String]>,
    options: &LoadOptions,
) -> Result<Option<usize>> {
    if options.labels_file.is_some() {
        return Ok(None);
    }
    if let Some(expected) = options.expected_features {
        if columns == expected {
            return Ok(None);
        }
        if columns != expected + 1 {
            return Err(format_error(
                path,
                format!(
                    "has {columns} columns; the model expects {expected} features \
                     ({expected} columns, or {} with a label column)",
                    expected + 1
                ),
            ));
        }
    }
    let index = match &options.label {
        LabelColumn::Last => columns - 1,
        LabelColumn::Index(index) => {
            if *index >= columns {
                return Err(format_error(
                    path,
                    format!(
                        "label column index {index} is out of range: the file has {columns} \
                         columns (0-based indices 0..={})",
                        columns - 1
                    ),
                ));
            }
            *index
        }
        LabelColumn::Name(name) => {
            let Some(header) = header else {
                return Err(format_error(
                    path,
                    format!(
                        "the label column is given by name ({name:?}) but the file has no \
                         header row; give a 0-based column index instead"
                    ),
                ));
            };
            header.iter().position(|h| h == name).ok_or_else(|| {
                format_error(
                    path,
                    format!(
                        "no column named {name:?}; the header has: {}",
                        header
                            .iter()
                            .map(|h| format!("{h:?}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?
        }
    };
    Ok(Some(index))
}

/// Features row-major and label texts, as parsed so far.
#[derive(Default)]
struct Rows {
    count: usize,
    features: Vec<f32>,
    labels: Vec<String>,
}

impl Rows {
    fn push_batch(&mut self, layout: &RowLayout<'_>, batch: &[ByteRecord]) -> Result<()> {
        let width = layout.feature_count;
        let start = self.features.len();
        self.features.resize(start + batch.len() * width, 0.0);
        let outputs = &mut self.features[start..];
        let results: Vec<Result<()>> = if width == 0 {
            batch.iter().map(|r| layout.parse_row(r, &mut [])).collect()
        } else {
            outputs
                .par_chunks_mut(width)
                .zip(batch.par_iter())
                .map(|(out, record)| layout.parse_row(record, out))
                .collect()
        };
        results.into_iter().collect::<Result<()>>()?;
        if let Some(label) = layout.label_index {
            self.labels.extend(
                batch
                    .iter()
                    .map(|r| String::from_utf8_lossy(r[label].trim_ascii()).into_owned()),
            );
        }
        self.count += batch.len();
        Ok(())
    }
}

/// What a data row must look like, and how its errors are reported.
struct RowLayout<'a> {
    path: &'a Path,
    columns: usize,
    feature_count: usize,
    first_line: usize,
    label_index: Option<usize>,
    column_names: Option<&'a [String]>,
    delimiter: u8,
}

impl RowLayout<'_> {
    /// Checks the row and parses its features into `out`.
    fn parse_row(&self, record: &ByteRecord, out: &mut [f32]) -> Result<()> {
        let line = line_of(record);
        if record.len() != self.columns {
            return Err(Error::Parse {
                path: self.path.to_path_buf(),
                line,
                column: record.len().min(self.columns) + 1,
                reason: format!(
                    "has {} fields, expected {} (as on line {})",
                    record.len(),
                    self.columns,
                    self.first_line
                ),
            });
        }
        let mut out = out.iter_mut();
        for (j, field) in record.iter().enumerate() {
            let field = field.trim_ascii();
            if Some(j) == self.label_index {
                if field.is_empty() {
                    return Err(self.cell_error(line, j, "empty label".into()));
                }
            } else if let Some(slot) = out.next() {
                *slot = self.parse_feature(line, j, field)?;
            }
        }
        Ok(())
    }

    fn parse_feature(&self, line: usize, column: usize, field: &[u8]) -> Result<f32> {
        if field.is_empty() {
            return Err(self.cell_error(line, column, "empty cell; expected a number".into()));
        }
        let text = std::str::from_utf8(field)
            .map_err(|_| self.cell_error(line, column, "not UTF-8 text".into()))?;
        let value: f32 = text.parse().map_err(|_| {
            let hint = if text.contains(' ') && self.delimiter != b' ' {
                format!(
                    " (fields are separated by {:?}; space-separated files are not supported)",
                    self.delimiter as char
                )
            } else {
                String::new()
            };
            self.cell_error(
                line,
                column,
                format!("cannot parse {text:?} as a number{hint}"),
            )
        })?;
        if !value.is_finite() {
            return Err(self.cell_error(
                line,
                column,
                format!("non-finite value {text:?}; features must be finite numbers"),
            ));
        }
        Ok(value)
    }

    fn cell_error(&self, line: usize, column: usize, reason: String) -> Error {
        let reason = match self.column_names.and_then(|names| names.get(column)) {
            Some(name) => format!("{reason} (column {name:?})"),
            None => reason,
        };
        Error::Parse {
            path: self.path.to_path_buf(),
            line,
            column: column + 1,
            reason,
        }
    }
}
