//! What `eval` and `predict` share: output files streamed atomically, and
//! the messages for data the model cannot score.

use super::{CliError, CliResult};
use std::io::Write;
use std::path::Path;

/// Why writing output stopped.
pub(crate) enum Failure {
    /// Writing the output failed (on stdout, a closed pipe is no error).
    Io(std::io::Error),
    /// The model failed to score the data; [`scoring_error`] names them.
    Scoring(lintrain::Error),
    /// Anything else, with its message.
    Cli(CliError),
}

impl From<lintrain::Error> for Failure {
    fn from(error: lintrain::Error) -> Self {
        Failure::Scoring(error)
    }
}

/// Writes `path` atomically with what `write` writes, streamed through a
/// buffer ([`lintrain::atomic_file::write_atomically_with`]): on any
/// failure `path` is left as it was, and the message names it.
pub(crate) fn write_file(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<(), Failure>,
) -> CliResult {
    /// The temporary file's own failures apart from those of `write`.
    enum Outcome {
        File(lintrain::Error),
        Write(Failure),
    }
    impl From<lintrain::Error> for Outcome {
        fn from(error: lintrain::Error) -> Self {
            Outcome::File(error)
        }
    }
    let written = lintrain::atomic_file::write_atomically_with(path, |out| {
        write(out).map_err(Outcome::Write)
    });
    match written {
        Ok(()) => Ok(()),
        Err(Outcome::File(e)) => Err(CliError::new(format!("cannot write {e}"))),
        Err(Outcome::Write(Failure::Io(e))) => Err(CliError::new(format!(
            "cannot write {}: {e}",
            path.display()
        ))),
        Err(Outcome::Write(Failure::Scoring(e))) => Err(e.into()),
        Err(Outcome::Write(Failure::Cli(e))) => Err(e),
    }
}

/// The data's columns are the model's: as many ([`check_feature_count`])
/// and, where both have names, the same ([`check_feature_names`]).
pub(crate) fn check_columns(
    data: &Path,
    table: &lintrain::data::Table,
    model: &Path,
    saved: &lintrain::SavedModel,
) -> CliResult {
    check_feature_count(data, table.features.ncols(), model, saved.model.features())?;
    check_feature_names(data, &table.feature_names, model, &saved.feature_names)
}

/// The data file as wide as the model: a message naming both files when
/// not. (A CSV is checked as it is read, where its label column is told
/// apart; the binary formats have no label column and are checked here.)
fn check_feature_count(data: &Path, found: usize, model: &Path, expected: usize) -> CliResult {
    if found == expected {
        return Ok(());
    }
    Err(CliError::new(format!(
        "{}: the feature counts differ: the data has {found} features, the model {} has {expected}",
        data.display(),
        model.display()
    )))
}

/// A failure of `model` to score `data`, naming both: a non-finite score
/// or loss says where (data rows counted from 1, as in the other data
/// messages; the column is the output, or for the loss the label).
pub(crate) fn scoring_error(model: &Path, data: &Path, error: lintrain::Error) -> CliError {
    match error {
        lintrain::Error::NonFinite {
            what,
            row,
            column,
            value,
        } => CliError::new(format!(
            "{} on {}: non-finite {what} ({value} at data row {}, column {column}): the model's \
             weights, or the data after its standardization, overflow f32 here, so there are \
             no results to report",
            model.display(),
            data.display(),
            row + 1
        )),
        other => CliError::new(format!(
            "{} on {}: {other}",
            model.display(),
            data.display()
        )),
    }
}

/// Names the loaders make up for files that have none: `x0, x1, …` (text
/// without a header, `.npy`), `p0, …` (IDX pixels), `r0…b1023` (CIFAR).
fn generated(names: &[String]) -> bool {
    let numbered = |prefix: &str| {
        names
            .iter()
            .enumerate()
            .all(|(i, n)| n.strip_prefix(prefix) == Some(i.to_string().as_str()))
    };
    let cifar = names.len() == 3072
        && names.iter().enumerate().all(|(i, n)| {
            let plane = ["r", "g", "b"][i / 1024];
            n.strip_prefix(plane) == Some((i % 1024).to_string().as_str())
        });
    numbered("x") || numbered("p") || cifar
}

/// The data's columns are the model's, by name, when both have real names
/// (scikit-learn refuses the same): a header that renames or reorders the
/// columns would otherwise be scored by position, silently wrong.
fn check_feature_names(
    data: &Path,
    data_names: &[String],
    model: &Path,
    model_names: &[String],
) -> CliResult {
    if generated(data_names) || generated(model_names) {
        return Ok(());
    }
    match data_names
        .iter()
        .zip(model_names)
        .enumerate()
        .find(|(_, (a, b))| a != b)
    {
        None => Ok(()),
        Some((column, (found, expected))) => Err(CliError::new(format!(
            "{}: the feature names differ from the model's: column {column} (0-based) is {found:?}, the model {} has {expected:?} there; give the model's columns in its order",
            data.display(),
            model.display()
        ))),
    }
}
