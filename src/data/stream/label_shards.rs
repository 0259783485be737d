//! The labels of streamed data: one labels file for all rows, one labels
//! shard per data shard, or the labels array of the same `.npz`. Labels are
//! small (a `u32` code per row) and are always held whole.

use super::super::labels::{LabelsError, RawLabels, too_many};
use super::super::npz::member_path;
use super::super::{format_error, npy, read_labels_file};
use super::npz_archive::NpzArchive;
use super::shard_set::ShardSet;
use super::shard_spec::{SpecFiles, resolve};
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// Labels of every row of `data`: `spec` is one file (`.npy`, or anything
/// [`read_labels_file`] reads) or a glob/directory of `.npy` label shards
/// matched to the data shards in sorted order (the same count, each with
/// the same number of rows as its data shard: a mismatch names both
/// shards and both counts). For an `.npz` data spec without a labels spec,
/// the labels member (`y_key`, else the 1-D array, else the N×1 one) is
/// read alone without reading the features member.
///
/// A labels spec takes precedence over `y_key`; `y_key` with data that is
/// not an `.npz` is an error, as is no labels spec for `.npy` data. Label
/// shards are concatenated as [`crate::data::load_tables`] concatenates
/// tables: integers when every shard has integers, else text.
pub fn read_label_shards(
    spec: Option<&Path>,
    y_key: Option<&str>,
    data: &ShardSet,
) -> Result<RawLabels> {
    let data_path = &data.shards()[0].path;
    if data.npz_key.is_none()
        && let Some(key) = y_key
    {
        return Err(format_error(
            data_path,
            format!(
                "--y-key {key:?} chooses an array of an .npz archive, but the data is not one; \
                 leave --y-key out"
            ),
        ));
    }
    let labels = match (spec, &data.npz_key) {
        (Some(spec), _) => match resolve(spec)? {
            SpecFiles::One(path) => {
                let labels = read_labels_file(&path)?;
                check_count(&path, labels.len(), data_path, data.rows())?;
                labels
            }
            SpecFiles::Set(paths) => matched_shards(spec, &paths, data)?,
        },
        (None, Some(x_key)) => {
            let mut archive = NpzArchive::open(data_path)?;
            let member = archive.labels_member(y_key, x_key)?.clone();
            let name = member.name(data_path);
            let bytes = archive.read_member(&member)?;
            let labels = npy::read_labels(&name, &bytes)?;
            check_count(
                &name,
                labels.len(),
                &member_path(data_path, x_key),
                data.rows(),
            )?;
            labels
        }
        (None, None) => {
            return Err(format_error(
                data_path,
                "no labels: a .npy file holds only features; give them with --labels: one \
                 file (a .npy array, an IDX label file or text with one label per line) or a \
                 glob of .npy label shards matching the data shards",
            ));
        }
    };
    Ok(labels)
}

/// One labels shard per data shard, in order, each with its shard's rows.
fn matched_shards(spec: &Path, paths: &[PathBuf], data: &ShardSet) -> Result<RawLabels> {
    let shards = data.shards();
    if paths.len() != shards.len() {
        return Err(format_error(
            spec,
            format!(
                "{} labels {}, but the data has {} shards (the first {}); give one \
                 labels shard per data shard, or one labels file",
                paths.len(),
                if paths.len() == 1 {
                    "file matches"
                } else {
                    "files match"
                },
                shards.len(),
                shards[0].path.display()
            ),
        ));
    }
    let mut parts = Vec::with_capacity(paths.len());
    for (path, shard) in paths.iter().zip(shards) {
        let labels = read_labels_file(path)?;
        check_count(path, labels.len(), &shard.path, shard.rows)?;
        parts.push(labels);
    }
    let parts: Vec<&RawLabels> = parts.iter().collect();
    RawLabels::concat(&parts).map_err(|error| match error {
        LabelsError::TooMany(count) => too_many(count, Some(spec)),
        LabelsError::NotWhole { value, origin } => {
            // The shard and row the label was first met in.
            let shard = shards
                .partition_point(|s| (s.first_row + s.rows) as u64 <= origin)
                .min(shards.len() - 1);
            format_error(
                &paths[shard],
                format!(
                    "at index {}: {}",
                    origin - shards[shard].first_row as u64,
                    LabelsError::not_whole_reason(&value)
                ),
            )
        }
    })
}

/// `labels` labels in `labels_path` for the `rows` rows of `data_path`.
fn check_count(labels_path: &Path, labels: usize, data_path: &Path, rows: usize) -> Result<()> {
    if labels == rows {
        return Ok(());
    }
    Err(Error::Format {
        path: labels_path.to_path_buf(),
        reason: format!(
            "has {labels} labels but the data {} has {rows} rows",
            data_path.display()
        ),
    })
}
