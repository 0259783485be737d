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

/// Checks training labels against the rows and returns the number of
/// classes: [`check_label_range`], and, when the number of classes comes
/// from the labels (`classes` is `None`), at least two classes present (a
/// classifier cannot learn from one). A caller that states the classes may
/// train on rows of fewer of them: a batch of scikit-learn's
/// `partial_fit`, continuing a model of every class, may hold one class.
pub fn check_labels(
    labels: &ArrayView1<'_, u32>,
    rows: usize,
    classes: Option<usize>,
) -> Result<usize> {
    let stated = classes.is_some();
    let classes = check_label_range(labels, rows, classes)?;
    let first = labels[0];
    if !stated && labels.iter().all(|&l| l == first) {
        return Err(Error::InvalidConfig(format!(
            "a classification loss needs at least 2 classes present, every label is {first}"
        )));
    }
    Ok(classes)
}

/// One label per row, each below the number of classes (`classes`, or the
/// largest label + 1), of which there are at least 2; returns that number.
/// Scoring data (validation, test) may hold a single class.
pub fn check_label_range(
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

/// Fisher's Iris data (150 × 4, 3 classes), bundled in the binary:
/// features, class indices and class names in sorted order.
pub fn iris() -> (Array2<f32>, Array1<u32>, Vec<String>) {
    let text = include_str!("data/iris.csv");
    let names: Vec<String> = vec!["setosa".into(), "versicolor".into(), "virginica".into()];
    let mut values = Vec::with_capacity(600);
    let mut labels = Vec::with_capacity(150);
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').collect();
        values.extend(
            fields[..4]
                .iter()
                .map(|v| v.trim().parse::<f32>().expect("bundled data")),
        );
        let species = fields[4].trim();
        labels.push(
            names
                .iter()
                .position(|n| n == species)
                .expect("bundled data") as u32,
        );
    }
    let x = Array2::from_shape_vec((labels.len(), 4), values).expect("bundled data");
    (x, Array1::from(labels), names)
}

/// Per-feature mean and standard deviation; a constant feature gets std 1
/// so that standardizing it gives zeros, not NaN.
pub fn feature_moments(x: &ArrayView2<'_, f32>) -> (Array1<f32>, Array1<f32>) {
    feature_moments_of_rows(x, 0..x.nrows())
}

/// [`feature_moments`] of the rows `rows` of `x`, read in place: two passes
/// in row order with one f64 accumulator per feature, so fitting costs
/// O(D) memory rather than an f64 copy of the data, and the same rows give
/// the same bits.
pub fn feature_moments_of_rows(
    x: &ArrayView2<'_, f32>,
    rows: impl Iterator<Item = usize> + Clone,
) -> (Array1<f32>, Array1<f32>) {
    let d = x.ncols();
    let mut count = 0usize;
    let mut sum = vec![0.0f64; d];
    for r in rows.clone() {
        count += 1;
        for (s, &v) in sum.iter_mut().zip(x.row(r)) {
            *s += v as f64;
        }
    }
    if count == 0 {
        return (Array1::zeros(d), Array1::ones(d));
    }
    let mean: Vec<f64> = sum.iter().map(|s| s / count as f64).collect();
    let mut squares = vec![0.0f64; d];
    for r in rows {
        for ((q, &v), m) in squares.iter_mut().zip(x.row(r)).zip(&mean) {
            let centred = v as f64 - m;
            *q += centred * centred;
        }
    }
    let std = squares.iter().map(|q| {
        let s = (q / count as f64).sqrt();
        if s > 1e-12 { s as f32 } else { 1.0 }
    });
    (mean.iter().map(|&m| m as f32).collect(), std.collect())
}

/// `(x − mean) / std`, row by row.
pub fn standardize(x: &ArrayView2<'_, f32>, mean: &Array1<f32>, std: &Array1<f32>) -> Array2<f32> {
    (x - mean) / std
}
