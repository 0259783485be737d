//! Which column of a text file holds the labels: the last, a 0-based
//! index or a header name ([`LoadOptions::label`]), none when the labels
//! come from a labels file or the file is as wide as the model, and the
//! errors that name what the file has instead.

use super::Delimiter;
use crate::data::labels::LabelColumn;
use crate::data::{LoadOptions, format_error};
use crate::{Error, Result};
use csv::ByteRecord;
use std::path::Path;

/// The column index `label` points at, if it is in range.
pub(super) fn label_position(
    label: &LabelColumn,
    columns: usize,
    header: Option<&[String]>,
) -> Option<usize> {
    match label {
        LabelColumn::Last => columns.checked_sub(1),
        LabelColumn::Index(index) => (*index < columns).then_some(*index),
        LabelColumn::Name(name) => header?.iter().position(|h| h == name),
    }
}

/// Which column holds the labels, if any.
pub(super) fn label_column(
    path: &Path,
    columns: usize,
    header: Option<&[String]>,
    options: &LoadOptions,
) -> Result<Option<usize>> {
    if options.labels_file.is_some() {
        return Ok(None);
    }
    if let Some(expected) = options.expected_features {
        // As wide as the model: no label column, which is right only when
        // labels are not needed (predict) and none was named: a label
        // column given explicitly that is not in the file is a mistake (a
        // wrong index or name), and one that is leaves too few features.
        if columns == expected && !options.labels_required {
            if options.label == LabelColumn::Last {
                return Ok(None);
            }
            let index = resolve_label(path, columns, header, &options.label)?;
            return Err(format_error(
                path,
                format!(
                    "the feature counts differ: the label column {} is column {} of {columns}, \
                     which leaves {} features beside it, but the model has {expected} (a file \
                     for it has {expected} columns without a label column, or {} with one)",
                    describe_label(&options.label),
                    index + 1,
                    columns - 1,
                    expected + 1
                ),
            ));
        }
        if columns != expected + 1 {
            let reason = if options.labels_required {
                format!(
                    "the feature counts differ: the file has {columns} columns, so {} features \
                     beside its label column, but the model has {expected} features (a labelled \
                     file for it has {} columns)",
                    columns.saturating_sub(1),
                    expected + 1
                )
            } else {
                format!(
                    "the feature counts differ: the file has {columns} columns but the model has \
                     {expected} features (a file for it has {expected} columns, or {} with a \
                     label column)",
                    expected + 1
                )
            };
            return Err(format_error(path, reason));
        }
    }
    resolve_label(path, columns, header, &options.label).map(Some)
}

/// `--label 3` or `--label "name"`, for messages.
fn describe_label(label: &LabelColumn) -> String {
    match label {
        LabelColumn::Last => "(the last column)".to_string(),
        LabelColumn::Index(index) => index.to_string(),
        LabelColumn::Name(name) => format!("{name:?}"),
    }
}

/// The 0-based column `label` points at; one that is not in the file, and a
/// name that the header holds more than once, are errors.
fn resolve_label(
    path: &Path,
    columns: usize,
    header: Option<&[String]>,
    label: &LabelColumn,
) -> Result<usize> {
    let index = match label {
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
            let matches: Vec<usize> = header
                .iter()
                .enumerate()
                .filter(|(_, h)| *h == name)
                .map(|(j, _)| j)
                .collect();
            match matches[..] {
                [index] => index,
                [] => {
                    return Err(format_error(
                        path,
                        format!(
                            "no column named {name:?}; the header has: {}",
                            header
                                .iter()
                                .map(|h| format!("{h:?}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
                // Picking one of them would train on the other as a feature.
                _ => {
                    let mut listed: Vec<String> =
                        matches.iter().map(|j| (j + 1).to_string()).collect();
                    let last = listed.pop().unwrap_or_default();
                    return Err(format_error(
                        path,
                        format!(
                            "column name {name:?} appears in columns {} and {last} (1-based); \
                             give --label as a 0-based index",
                            listed.join(", ")
                        ),
                    ));
                }
            }
        }
    };
    Ok(index)
}

/// The error for a table whose only column is the labels: most often a
/// wrong delimiter, which makes each line one field.
pub(super) fn no_features(
    path: &Path,
    first: &ByteRecord,
    delimiter: Delimiter,
    options: &LoadOptions,
) -> Error {
    let line = String::from_utf8_lossy(first.get(0).unwrap_or_default());
    let shown: String = line.chars().take(60).collect();
    let reason = match options.delimiter {
        Some(_) => format!(
            "with --delimiter {delimiter} every line has one field, so there are no features \
             beside the label column; check --delimiter (the first line is {shown:?})"
        ),
        None => format!(
            "every line has one field (fields sniffed as separated by {delimiter}), so there \
             are no features beside the label column; give the separator with --delimiter \
             (the first line is {shown:?})"
        ),
    };
    format_error(path, reason)
}
