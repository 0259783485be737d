//! The `lbfgs` case's problem: the seeded linear-probe-like table of the
//! scikit-learn peer (`peers/sklearn_lbfgs.py`), either generated here with
//! the same recipe or read from the `x.npy` / `y.npy` the peer wrote, so
//! that both tools fit exactly the same rows.
//!
//! The recipe: class means `μ_c ~ N(0, 1)^D`, labels uniform in `0..C`,
//! rows `x = 0.15·μ_y + N(0, 1)^D`, then every feature standardized to
//! mean 0 and (population) standard deviation 1. numpy's generator is not
//! ChaCha, so generated rows are the same distribution, not the same
//! numbers; only `--lbfgs-data` gives scikit-learn's exact rows.
//!
//! [`l2_normalized`] is the `probe` case's table, the recipe of
//! `peers/probe_step.py`: rows `x = 0.1·μ_y + N(0, 1)^D`, each row scaled
//! to unit L2 norm (embeddings as linear probes see them).

use crate::data::{ClassMap, LoadOptions, load_table};
use crate::{Error, Result};
use ndarray::{Array1, Array2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use std::path::Path;

/// How far apart the class means are, relative to the unit noise.
const MEAN_SCALE: f64 = 0.15;

/// `rows × features` standardized features and labels in `0..classes`,
/// generated from `seed`.
pub fn class_means(
    rows: usize,
    features: usize,
    classes: usize,
    seed: u64,
) -> (Array2<f32>, Array1<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let means: Vec<f64> = (0..classes * features)
        .map(|_| rng.sample::<f64, _>(StandardNormal))
        .collect();
    let labels: Array1<u32> = (0..rows)
        .map(|_| rng.random_range(0..classes as u32))
        .collect();
    let mut x = Array2::<f64>::zeros((rows, features));
    for (mut row, &y) in x.outer_iter_mut().zip(&labels) {
        let mean = &means[y as usize * features..(y as usize + 1) * features];
        for (v, &m) in row.iter_mut().zip(mean) {
            *v = MEAN_SCALE * m + rng.sample::<f64, _>(StandardNormal);
        }
    }
    // Standardized in f64, as numpy does before its cast to f32.
    let mean = x.mean_axis(Axis(0)).expect("at least one row");
    let std = x.std_axis(Axis(0), 0.0);
    x -= &mean;
    x /= &std.mapv(|s| if s > 0.0 { s } else { 1.0 });
    (x.mapv(|v| v as f32), labels)
}

/// How far apart the `probe` case's class means are (the peer's 0.1).
const PROBE_MEAN_SCALE: f32 = 0.1;

/// `rows × features` rows of unit L2 norm and labels in `0..classes`,
/// generated from `seed` in f32 as `peers/probe_step.py` does (the norm
/// summed in f64).
pub fn l2_normalized(
    rows: usize,
    features: usize,
    classes: usize,
    seed: u64,
) -> (Array2<f32>, Array1<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let means: Vec<f32> = (0..classes * features)
        .map(|_| rng.sample::<f32, _>(StandardNormal))
        .collect();
    let labels: Array1<u32> = (0..rows)
        .map(|_| rng.random_range(0..classes as u32))
        .collect();
    let mut x = Array2::<f32>::zeros((rows, features));
    for (mut row, &y) in x.outer_iter_mut().zip(&labels) {
        let mean = &means[y as usize * features..(y as usize + 1) * features];
        for (v, &m) in row.iter_mut().zip(mean) {
            *v = PROBE_MEAN_SCALE * m + rng.sample::<f32, _>(StandardNormal);
        }
        let norm = row
            .iter()
            .map(|&v| f64::from(v).powi(2))
            .sum::<f64>()
            .sqrt();
        if norm > 0.0 {
            let scale = (1.0 / norm) as f32;
            row.mapv_inplace(|v| v * scale);
        }
    }
    (x, labels)
}

/// `dir/x.npy` (N×D features) and `dir/y.npy` (N integer labels), the
/// labels mapped to class ids in sorted order (scikit-learn's `classes_`).
/// A missing or malformed file is an error naming it.
pub fn load_dir(dir: &Path) -> Result<(Array2<f32>, Array1<u32>)> {
    if !dir.is_dir() {
        return Err(Error::file(
            dir,
            "not a directory: the lbfgs case's data is a directory holding x.npy and y.npy, \
             as peers/sklearn_lbfgs.py --out writes them",
        ));
    }
    let options = LoadOptions {
        labels_file: Some(dir.join("y.npy")),
        ..LoadOptions::default()
    };
    let table = load_table(dir.join("x.npy"), &options)?;
    let raw = table
        .labels
        .expect("load_table returns labels when they are required");
    let labels = ClassMap::fit(&raw).encode(&raw)?;
    Ok((table.features, Array1::from(labels)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_features_are_standardized_and_every_class_occurs() {
        let (x, labels) = class_means(3000, 8, 4, 256);
        assert_eq!(x.dim(), (3000, 8));
        for column in x.columns() {
            let n = column.len() as f64;
            let mean = column.iter().map(|&v| v as f64).sum::<f64>() / n;
            let var = column
                .iter()
                .map(|&v| (v as f64 - mean).powi(2))
                .sum::<f64>()
                / n;
            assert!(mean.abs() < 1e-6, "mean {mean}");
            assert!((var - 1.0).abs() < 1e-5, "variance {var}");
        }
        for class in 0..4 {
            assert!(labels.iter().any(|&y| y == class), "class {class} missing");
        }
        assert!(labels.iter().all(|&y| y < 4));
        // Seeded: the same table again.
        assert_eq!(class_means(3000, 8, 4, 256), (x, labels));
    }

    #[test]
    fn probe_rows_have_unit_norm_labels_in_range_and_are_seeded() {
        let (x, labels) = l2_normalized(2000, 48, 7, 768);
        assert_eq!(x.dim(), (2000, 48));
        assert_eq!(labels.len(), 2000);
        for row in x.rows() {
            let norm = row
                .iter()
                .map(|&v| f64::from(v).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "row norm {norm}");
        }
        assert!(labels.iter().all(|&y| y < 7));
        for class in 0..7 {
            assert!(labels.iter().any(|&y| y == class), "class {class} missing");
        }
        // Not all rows alike: the noise is there.
        assert_ne!(x.row(0), x.row(1));
        // Seeded: the same table again; another seed, another table.
        assert_eq!(l2_normalized(2000, 48, 7, 768), (x.clone(), labels));
        assert_ne!(l2_normalized(2000, 48, 7, 769).0, x);
    }
}
