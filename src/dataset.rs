//! Input checks and the seeded, stratified validation split.

use crate::{Error, Result};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Rejects empty or non-finite features.
pub fn check_features(x: &ArrayView2<'_, f32>, what: &'static str) -> Result<()> {
    if x.nrows() == 0 || x.ncols() == 0 {
        return Err(Error::EmptyData(format!(
            "{what} has {} rows and {} columns",
            x.nrows(),
            x.ncols()
        )));
    }
    for (row, values) in x.outer_iter().enumerate() {
        if let Some((column, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite {
                what,
                row,
                column,
                value,
            });
        }
    }
    Ok(())
}

/// Checks labels against the rows and returns the number of classes.
pub fn check_labels(
    labels: &ArrayView1<'_, u32>,
    rows: usize,
    classes: Option<usize>,
) -> Result<usize> {
    if labels.len() != rows {
        return Err(Error::ShapeMismatch {
            op: "fit",
            detail: format!("{rows} feature rows but {} labels", labels.len()),
        });
    }
    let classes = classes.unwrap_or_else(|| labels.iter().max().map_or(0, |&m| m as usize + 1));
    if let Some((row, &label)) = labels
        .iter()
        .enumerate()
        .find(|(_, l)| **l as usize >= classes)
    {
        return Err(Error::LabelOutOfRange {
            row,
            label: label as usize,
            classes,
        });
    }
    if classes < 2 {
        return Err(Error::InvalidConfig(format!(
            "a classification loss needs at least 2 classes, the labels have {classes}"
        )));
    }
    Ok(classes)
}

/// Row indices of a seeded split that holds out `fraction` of each class
/// (at least one row of a class with two or more rows). Returns (train, validation).
pub fn stratified_split(labels: &[u32], fraction: f32, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut by_class: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
    for (i, &l) in labels.iter().enumerate() {
        by_class.entry(l).or_default().push(i);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_5a1e_0000_0001);
    let (mut train, mut validation) = (Vec::new(), Vec::new());
    for rows in by_class.values_mut() {
        rows.shuffle(&mut rng);
        let mut held = (rows.len() as f64 * fraction as f64).round() as usize;
        if fraction > 0.0 && held == 0 && rows.len() >= 2 {
            held = 1;
        }
        validation.extend_from_slice(&rows[..held]);
        train.extend_from_slice(&rows[held..]);
    }
    train.sort_unstable();
    validation.sort_unstable();
    (train, validation)
}

/// Seeded split for real-valued targets (no classes to stratify by).
pub fn random_split(rows: usize, fraction: f32, seed: u64) -> (Vec<usize>, Vec<usize>) {
    stratified_split(&vec![0; rows], fraction, seed)
}

pub fn select_rows(x: &ArrayView2<'_, f32>, rows: &[usize]) -> Array2<f32> {
    x.select(Axis(0), rows)
}

pub fn select_labels(y: &ArrayView1<'_, u32>, rows: &[usize]) -> Array1<u32> {
    y.select(Axis(0), rows)
}
