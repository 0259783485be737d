//! The data rows of a text file parsed into the table: checked against
//! the first row's layout and parsed in parallel batches, into features
//! reserved once from the line count and labels kept as text.

use super::{Delimiter, byte_of, line_at};
use crate::data::alloc_error;
use crate::data::labels::{TextLabels, too_many};
use crate::limits::{self, MAX_TABLE_VALUES};
use crate::{Error, Result};
use csv::ByteRecord;
use rayon::prelude::*;
use std::path::Path;

/// Rows parsed together in parallel; errors are still reported for the
/// first bad row in file order.
pub(super) const BATCH_ROWS: usize = 2048;

/// `reason` with the column's header name, when there is one.
pub(super) fn named_column(reason: String, names: Option<&[String]>, column: usize) -> String {
    match names.and_then(|names| names.get(column)) {
        Some(name) => format!("{reason} (column {name:?})"),
        None => reason,
    }
}

/// At most how many records `text` holds: one per line, where `\n`, `\r\n`
/// and a lone `\r` each end a line.
pub(super) fn line_bound(text: &[u8]) -> usize {
    let newlines = text.iter().filter(|&&b| b == b'\n').count();
    let lone_returns = if text.contains(&b'\r') {
        text.iter()
            .enumerate()
            .filter(|&(i, &b)| b == b'\r' && text.get(i + 1) != Some(&b'\n'))
            .count()
    } else {
        0
    };
    newlines + lone_returns + 1
}

/// Features row-major and labels, as parsed so far.
pub(super) struct Rows {
    pub(super) count: usize,
    pub(super) features: Vec<f32>,
    pub(super) labels: Option<TextLabels>,
}

impl Rows {
    /// Room for `lines` rows of `width` features and their labels, reserved
    /// at once from the file's line count (an upper bound on its rows), so
    /// that the table never reallocates while it grows and a table the
    /// machine cannot hold is an error up front instead of an abort later.
    pub(super) fn new(path: &Path, lines: usize, width: usize, labelled: bool) -> Result<Rows> {
        // Beyond the limit the rows themselves are refused as they come.
        let values = (lines as u64)
            .saturating_mul(width as u64)
            .min(MAX_TABLE_VALUES) as usize;
        let mut features = Vec::new();
        features.try_reserve_exact(values).map_err(|_| {
            alloc_error(
                path,
                values as u64 * 4,
                &format!("a table of up to {lines} rows × {width} features"),
            )
        })?;
        let labels = if labelled {
            let mut labels = TextLabels::default();
            let rows = lines.min(values);
            labels
                .try_reserve(rows)
                .map_err(|()| alloc_error(path, rows as u64 * 4, "the labels"))?;
            Some(labels)
        } else {
            None
        };
        Ok(Rows {
            count: 0,
            features,
            labels,
        })
    }

    pub(super) fn push_batch(
        &mut self,
        layout: &RowLayout<'_>,
        batch: &[ByteRecord],
    ) -> Result<()> {
        let width = layout.feature_count;
        limits::check_product(
            format!(
                "the number of values (rows × features) in {}",
                layout.path.display()
            ),
            (self.count + batch.len()) as u64,
            width as u64,
            MAX_TABLE_VALUES,
        )?;
        let start = self.features.len();
        let added = batch.len() * width;
        // A no-op within the reservation made for every line.
        self.features.try_reserve_exact(added).map_err(|_| {
            alloc_error(
                layout.path,
                (start + added) as u64 * 4,
                &format!("a table of {} rows", self.count + batch.len()),
            )
        })?;
        self.features.resize(start + added, 0.0);
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
        if let (Some(column), Some(labels)) = (layout.label_index, &mut self.labels) {
            for record in batch {
                let text = String::from_utf8_lossy(record[column].trim_ascii());
                labels
                    .push(&text, byte_of(record))
                    .map_err(|count| too_many(count, Some(layout.path)))?;
            }
        }
        self.count += batch.len();
        Ok(())
    }
}

/// What a data row must look like, and how its errors are reported.
pub(super) struct RowLayout<'a> {
    pub(super) path: &'a Path,
    /// The whole text, to turn a record's byte position into its line.
    pub(super) text: &'a [u8],
    pub(super) columns: usize,
    pub(super) feature_count: usize,
    pub(super) first_byte: u64,
    pub(super) label_index: Option<usize>,
    /// The column that would hold labels in a file as wide as the model.
    pub(super) would_be_label: Option<usize>,
    pub(super) column_names: Option<&'a [String]>,
    pub(super) delimiter: Delimiter,
}

impl RowLayout<'_> {
    /// Checks the row and parses its features into `out`.
    fn parse_row(&self, record: &ByteRecord, out: &mut [f32]) -> Result<()> {
        if record.len() != self.columns {
            return Err(Error::Parse {
                path: self.path.to_path_buf(),
                line: self.line_of(record),
                column: record.len().min(self.columns) + 1,
                reason: format!(
                    "has {} fields, expected {} (as on line {})",
                    record.len(),
                    self.columns,
                    line_at(self.text, self.first_byte)
                ),
            });
        }
        let mut out = out.iter_mut();
        for (j, field) in record.iter().enumerate() {
            let field = field.trim_ascii();
            if Some(j) == self.label_index {
                if field.is_empty() {
                    return Err(self.cell_error(record, j, "empty label".into()));
                }
            } else if let Some(slot) = out.next() {
                *slot = self.parse_feature(record, j, field)?;
            }
        }
        Ok(())
    }

    fn line_of(&self, record: &ByteRecord) -> usize {
        line_at(self.text, byte_of(record))
    }

    fn parse_feature(&self, record: &ByteRecord, column: usize, field: &[u8]) -> Result<f32> {
        if field.is_empty() {
            return Err(self.cell_error(record, column, "empty cell; expected a number".into()));
        }
        let text = std::str::from_utf8(field)
            .map_err(|_| self.cell_error(record, column, "not UTF-8 text".into()))?;
        let value: f32 = text.parse().map_err(|_| {
            let hint = if Some(column) == self.would_be_label {
                format!(
                    "; if this is the label column, the feature counts differ: the file has {} \
                     features but the model has {}",
                    self.columns - 1,
                    self.columns
                )
            } else if text.contains([' ', '\t']) && self.delimiter != Delimiter::Whitespace {
                format!(
                    " (fields are separated by {}; for whitespace-separated text give \
                     --delimiter space)",
                    self.delimiter
                )
            } else {
                String::new()
            };
            self.cell_error(
                record,
                column,
                format!("cannot parse {text:?} as a number{hint}"),
            )
        })?;
        if !value.is_finite() {
            return Err(self.cell_error(
                record,
                column,
                format!("non-finite value {text:?}; features must be finite numbers"),
            ));
        }
        Ok(value)
    }

    fn cell_error(&self, record: &ByteRecord, column: usize, reason: String) -> Error {
        let reason = named_column(reason, self.column_names, column);
        Error::Parse {
            path: self.path.to_path_buf(),
            line: self.line_of(record),
            column: column + 1,
            reason,
        }
    }
}
