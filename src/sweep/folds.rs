//! k-fold cross-validation splits: stratified by class for labels, plain
//! for real-valued targets, seeded as [`stratified_split`] is.
//!
//! [`stratified_split`]: crate::dataset::stratified_split

use crate::{Error, Result};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// The validation rows of each of `k` folds, each fold's rows sorted; every
/// row is in exactly one fold.
///
/// The conventions of [`stratified_split`](crate::dataset::stratified_split):
/// the rows of each class (classes in increasing label order) are shuffled
/// by one ChaCha8 generator seeded from `seed`, then dealt round-robin to
/// the folds. The deal carries on from class to class where the previous
/// class stopped, so within every class the folds' counts differ by at most
/// one, and so do the folds' sizes. The same labels, `k` and `seed` give the
/// same folds.
///
/// A class with fewer rows than `k` is not an error: its rows go to as many
/// folds as it has, and the other folds validate without it (their training
/// rows still hold all of it). scikit-learn's `StratifiedKFold` only warns
/// there too; refusing would make k-fold unusable on data with one rare
/// class, while what is lost, that class in some folds' validation scores,
/// is what any split of so few rows must lose.
///
/// Errors ([`Error::InvalidConfig`]): `k < 2` (one fold has no training
/// rows) and `k` greater than the number of rows (a fold would be empty).
pub fn stratified_folds(labels: &[u32], k: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
    if k < 2 {
        return Err(Error::InvalidConfig(format!(
            "k-fold cross-validation needs at least 2 folds, got {k}"
        )));
    }
    if k > labels.len() {
        return Err(Error::InvalidConfig(format!(
            "{k} folds need at least {k} rows, and there are {}",
            labels.len()
        )));
    }
    let mut by_class: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
    for (i, &label) in labels.iter().enumerate() {
        by_class.entry(label).or_default().push(i);
    }
    // A constant of its own, so that the folds are not the split's shuffle.
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_f01d_0000_0002);
    let mut folds = vec![Vec::with_capacity(labels.len() / k + 1); k];
    let mut next = 0;
    for rows in by_class.values_mut() {
        rows.shuffle(&mut rng);
        for &row in rows.iter() {
            folds[next].push(row);
            next = (next + 1) % k;
        }
    }
    for fold in &mut folds {
        fold.sort_unstable();
    }
    Ok(folds)
}

/// [`stratified_folds`] for real-valued targets: `rows` rows, all of one
/// class, so only the seeded shuffle and the round-robin deal remain.
pub fn random_folds(rows: usize, k: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
    stratified_folds(&vec![0; rows], k, seed)
}

/// The training rows of fold `fold`: every row of the other folds, sorted.
/// `folds` must partition the rows, as [`stratified_folds`] gives them.
pub fn training_rows(folds: &[Vec<usize>], fold: usize) -> Vec<usize> {
    assert!(fold < folds.len(), "fold {fold} of {}", folds.len());
    let mut rows: Vec<usize> = folds
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != fold)
        .flat_map(|(_, rows)| rows.iter().copied())
        .collect();
    rows.sort_unstable();
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_sizes_differ_by_at_most_one_across_classes() {
        // Three classes of 4 rows into 3 folds: dealing every class from
        // fold 0 would give 6, 3, 3.
        let labels: Vec<u32> = (0..12).map(|i| i / 4).collect();
        let folds = stratified_folds(&labels, 3, 7).unwrap();
        let sizes: Vec<usize> = folds.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![4, 4, 4]);
    }

    #[test]
    fn training_rows_are_the_sorted_complement() {
        let folds = vec![vec![1, 4], vec![0, 3], vec![2]];
        assert_eq!(training_rows(&folds, 0), vec![0, 2, 3]);
        assert_eq!(training_rows(&folds, 2), vec![0, 1, 3, 4]);
    }
}
