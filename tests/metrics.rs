//! `lintrain::metrics` against independent computations: values worked out
//! by hand from a small confusion matrix, a dense-matrix reference with
//! scikit-learn's definitions, a brute-force pair count for ROC-AUC and a
//! sort-based top-k.

use lintrain::Error;
use lintrain::metrics::{
    ClassCounts, MAX_CONFUSION_CELLS, SparseConfusion, check_top_k, label_rank, roc_auc,
    top_k_accuracy, top_k_accuracy_of_ranks,
};
use ndarray::{Array2, array};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Rows (true, predicted) that make the dense matrix `m` (rows: true class).
fn pairs_of(m: &[Vec<u64>]) -> (Vec<u32>, Vec<u32>) {
    let (mut labels, mut predicted) = (Vec::new(), Vec::new());
    for (t, row) in m.iter().enumerate() {
        for (p, &count) in row.iter().enumerate() {
            for _ in 0..count {
                labels.push(t as u32);
                predicted.push(p as u32);
            }
        }
    }
    (labels, predicted)
}

fn close(what: &str, got: f64, expected: f64) {
    assert!(
        (got - expected).abs() <= 1e-12,
        "{what}: {got} vs {expected}"
    );
}

/// Five classes: 2 is never predicted, 3 has no rows but is predicted once,
/// 4 occurs nowhere. Every value below is worked out by hand.
#[test]
fn scores_match_a_confusion_matrix_worked_by_hand() {
    let m = vec![
        vec![5, 1, 0, 0, 0],
        vec![2, 3, 0, 1, 0],
        vec![1, 1, 0, 0, 0],
        vec![0, 0, 0, 0, 0],
        vec![0, 0, 0, 0, 0],
    ];
    let (labels, predicted) = pairs_of(&m);
    let counts = ClassCounts::new(5, &labels, &predicted).unwrap();
    assert_eq!(counts.rows(), 14);
    close("accuracy", counts.accuracy(), 8.0 / 14.0);
    // class 0: tp 5, predicted 8, support 6.
    let s = counts.scores(0);
    close("P0", s.precision, 5.0 / 8.0);
    close("R0", s.recall, 5.0 / 6.0);
    close("F0", s.f1, 10.0 / 14.0);
    // class 1: tp 3, predicted 5, support 6.
    let s = counts.scores(1);
    close("P1", s.precision, 3.0 / 5.0);
    close("R1", s.recall, 3.0 / 6.0);
    close("F1", s.f1, 6.0 / 11.0);
    // class 2, never predicted: precision 0/0 is 0 (zero_division).
    let s = counts.scores(2);
    assert_eq!((s.precision, s.recall, s.f1), (0.0, 0.0, 0.0));
    // class 3, no rows: recall 0/0 is 0, F1 0/(0 + 1 + 0) = 0.
    let s = counts.scores(3);
    assert_eq!((s.precision, s.recall, s.f1), (0.0, 0.0, 0.0));
    assert!(counts.is_present(3) && !counts.is_present(4));
    // Averages over classes 0–3 (4 occurs in neither labels nor predictions).
    let macro_avg = counts.macro_average();
    close(
        "macro P",
        macro_avg.precision,
        (5.0 / 8.0 + 3.0 / 5.0) / 4.0,
    );
    close("macro R", macro_avg.recall, (5.0 / 6.0 + 3.0 / 6.0) / 4.0);
    close("macro F1", macro_avg.f1, (10.0 / 14.0 + 6.0 / 11.0) / 4.0);
    let weighted = counts.weighted_average();
    close(
        "weighted P",
        weighted.precision,
        (6.0 * 5.0 / 8.0 + 6.0 * 3.0 / 5.0) / 14.0,
    );
    // Support-weighted recall is always the accuracy.
    close("weighted R", weighted.recall, counts.accuracy());
    close(
        "weighted F1",
        weighted.f1,
        (6.0 * 10.0 / 14.0 + 6.0 * 6.0 / 11.0) / 14.0,
    );
    // Worst first: F1 0 with 2 rows, F1 0 with none, then 6/11, then 5/7.
    assert_eq!(counts.worst_classes(10), [2, 3, 1, 0]);
    assert_eq!(counts.worst_classes(2), [2, 3]);

    let confusion = SparseConfusion::new(5, &labels, &predicted).unwrap();
    assert_eq!(confusion.dense(), m);
    assert_eq!(
        confusion.cells(),
        [
            (0, 0, 5),
            (0, 1, 1),
            (1, 0, 2),
            (1, 1, 3),
            (1, 3, 1),
            (2, 0, 1),
            (2, 1, 1)
        ]
    );
}

/// Random labels and predictions against scikit-learn's definitions
/// computed from the dense matrix.
#[test]
fn counts_agree_with_a_dense_reference() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for classes in [2usize, 3, 7, 30] {
        let n = 300;
        let labels: Vec<u32> = (0..n)
            .map(|_| rng.random_range(0..classes as u32))
            .collect();
        // Mostly right, so the diagonal is not empty; some classes are
        // rarely or never predicted.
        let predicted: Vec<u32> = labels
            .iter()
            .map(|&l| {
                if rng.random_bool(0.6) {
                    l
                } else {
                    rng.random_range(0..(classes as u32).div_ceil(2))
                }
            })
            .collect();
        let mut m = vec![vec![0u64; classes]; classes];
        for (&l, &p) in labels.iter().zip(&predicted) {
            m[l as usize][p as usize] += 1;
        }
        let counts = ClassCounts::new(classes, &labels, &predicted).unwrap();
        let (mut sum_f1, mut present, mut weighted_f1) = (0.0, 0usize, 0.0);
        for c in 0..classes {
            let tp = m[c][c] as f64;
            let col: f64 = m.iter().map(|row| row[c] as f64).sum();
            let row: f64 = m[c].iter().map(|&v| v as f64).sum();
            let s = counts.scores(c);
            let div = |a: f64, b: f64| if b == 0.0 { 0.0 } else { a / b };
            close("precision", s.precision, div(tp, col));
            close("recall", s.recall, div(tp, row));
            let (p, r) = (div(tp, col), div(tp, row));
            close(
                "f1",
                s.f1,
                if p + r == 0.0 {
                    0.0
                } else {
                    2.0 * p * r / (p + r)
                },
            );
            if row + col > 0.0 {
                present += 1;
                sum_f1 += s.f1;
                weighted_f1 += row * s.f1;
            }
        }
        close(
            "macro f1",
            counts.macro_average().f1,
            sum_f1 / present as f64,
        );
        close(
            "weighted f1",
            counts.weighted_average().f1,
            weighted_f1 / n as f64,
        );
        let confusion = SparseConfusion::new(classes, &labels, &predicted).unwrap();
        assert_eq!(confusion.dense(), m);
        for (t, row) in m.iter().enumerate() {
            for (p, &count) in row.iter().enumerate() {
                assert_eq!(confusion.get(t as u32, p as u32), count);
            }
        }
    }
}

#[test]
fn bad_pairs_are_typed_errors() {
    assert!(matches!(
        ClassCounts::new(3, &[0, 1], &[0]),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        ClassCounts::new(3, &[0, 3], &[0, 1]),
        Err(Error::LabelOutOfRange {
            row: 1,
            label: 3,
            ..
        })
    ));
    assert!(matches!(
        SparseConfusion::new(3, &[0, 1], &[0, 5]),
        Err(Error::InvalidConfig(_))
    ));
}

/// Many classes, few rows: one cell per distinct (true, predicted) pair,
/// never classes².
#[test]
fn the_sparse_confusion_grows_with_rows_not_classes() {
    let classes = 1 << 20;
    let labels = [0u32, 5, 999_999, 5, 1_048_575];
    let predicted = [0u32, 7, 3, 7, 1_048_575];
    let confusion = SparseConfusion::new(classes, &labels, &predicted).unwrap();
    assert_eq!(
        confusion.cells(),
        [
            (0, 0, 1),
            (5, 7, 2),
            (999_999, 3, 1),
            (1_048_575, 1_048_575, 1)
        ]
    );
    let counts = ClassCounts::new(classes, &labels, &predicted).unwrap();
    close("accuracy", counts.accuracy(), 2.0 / 5.0);
    // Present: 0, 3, 5, 7, 999 999 and 1 048 575; F1 1 for 0 and the last.
    close("macro f1", counts.macro_average().f1, 2.0 / 6.0);
    assert!(matches!(
        SparseConfusion::check_csv_size(classes),
        Err(Error::TooLarge { .. })
    ));
}

#[test]
fn the_csv_limit_is_on_cells() {
    let largest = (MAX_CONFUSION_CELLS as f64).sqrt().floor() as usize;
    assert!((largest * largest) as u64 <= MAX_CONFUSION_CELLS);
    SparseConfusion::check_csv_size(largest).unwrap();
    match SparseConfusion::check_csv_size(largest + 1) {
        Err(Error::TooLarge { size, limit, .. }) => {
            assert_eq!(size, ((largest + 1) * (largest + 1)) as u64);
            assert_eq!(limit, MAX_CONFUSION_CELLS);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn the_csv_is_the_dense_matrix_with_quoted_names() {
    let names: Vec<String> = ["plain", "with, comma", "with \"quote\""]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let m = vec![vec![3, 0, 1], vec![0, 0, 2], vec![4, 1, 0]];
    let (labels, predicted) = pairs_of(&m);
    let mut bytes = Vec::new();
    SparseConfusion::new(3, &labels, &predicted)
        .unwrap()
        .write_csv(&names, &mut bytes)
        .unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes.as_slice());
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(records.len(), 4);
    let header: Vec<&str> = records[0].iter().collect();
    assert_eq!(
        header,
        ["true\\predicted", "plain", "with, comma", "with \"quote\""]
    );
    for (t, record) in records[1..].iter().enumerate() {
        assert_eq!(&record[0], names[t]);
        let counts: Vec<u64> = record.iter().skip(1).map(|v| v.parse().unwrap()).collect();
        assert_eq!(counts, m[t]);
    }
    let mut short = Vec::new();
    assert!(
        SparseConfusion::new(3, &labels, &predicted)
            .unwrap()
            .write_csv(&names[..2], &mut short)
            .is_err()
    );
}

/// P(positive scores above negative), ties one half, over every pair.
fn brute_force_auc(scores: &[f64], positive: &[bool]) -> f64 {
    let (mut wins, mut pairs) = (0.0, 0.0);
    for (i, &p) in positive.iter().enumerate() {
        for (j, &q) in positive.iter().enumerate() {
            if p && !q {
                pairs += 1.0;
                if scores[i] > scores[j] {
                    wins += 1.0;
                } else if scores[i] == scores[j] {
                    wins += 0.5;
                }
            }
        }
    }
    wins / pairs
}

#[test]
fn roc_auc_is_the_pair_count_with_ties_as_halves() {
    // scikit-learn's documented example.
    let auc = roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true])
        .unwrap()
        .unwrap();
    close("sklearn example", auc, 0.75);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for (n, levels) in [(2usize, 1u32), (9, 3), (200, 4), (500, 1000)] {
        // Both classes from the first two rows on.
        let positive: Vec<bool> = (0..n)
            .map(|i| i == 0 || (i > 1 && rng.random_bool(0.4)))
            .collect();
        // Integer scores from a few levels, so ties are common; positives
        // are lifted by one level half the time.
        let scores: Vec<f64> = positive
            .iter()
            .map(|&p| {
                let lift = if p && rng.random_bool(0.5) { 1.0 } else { 0.0 };
                rng.random_range(0..levels) as f64 + lift
            })
            .collect();
        let auc = roc_auc(&scores, &positive).unwrap().unwrap();
        close(
            &format!("n {n}, {levels} levels"),
            auc,
            brute_force_auc(&scores, &positive),
        );
    }
    assert_eq!(roc_auc(&[0.3, 0.1], &[true, true]).unwrap(), None);
    assert_eq!(roc_auc(&[], &[]).unwrap(), None);
    assert!(matches!(
        roc_auc(&[0.3], &[true, false]),
        Err(Error::ShapeMismatch { .. })
    ));
}

/// Top-k by sorting each row: classes by score, descending, ties by the
/// lower id first.
fn sorted_top_k(scores: &Array2<f32>, labels: &[u32], k: usize) -> f64 {
    let mut hits = 0;
    for (row, &label) in scores.outer_iter().zip(labels) {
        let mut order: Vec<usize> = (0..row.len()).collect();
        order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
        if order[..k].contains(&(label as usize)) {
            hits += 1;
        }
    }
    hits as f64 / labels.len() as f64
}

#[test]
fn top_k_accuracy_matches_sorting_each_row() {
    // scikit-learn's documented example: 0.75 at k = 2.
    let scores = array![
        [0.5f32, 0.2, 0.2],
        [0.3, 0.4, 0.2],
        [0.2, 0.4, 0.3],
        [0.7, 0.2, 0.1]
    ];
    close(
        "sklearn example",
        top_k_accuracy(scores.view(), &[0, 1, 2, 2], 2).unwrap(),
        0.75,
    );
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for classes in [2usize, 3, 6, 50] {
        let n = 120;
        // Integer scores from a few levels, so ties are common.
        let scores = Array2::from_shape_simple_fn((n, classes), || rng.random_range(0..4) as f32);
        let labels: Vec<u32> = (0..n)
            .map(|_| rng.random_range(0..classes as u32))
            .collect();
        for k in 1..=classes {
            close(
                &format!("{classes} classes, k {k}"),
                top_k_accuracy(scores.view(), &labels, k).unwrap(),
                sorted_top_k(&scores, &labels, k),
            );
        }
        // k = 1 is the accuracy of the first maximum, which predict takes.
        let first_max: Vec<u32> = scores
            .outer_iter()
            .map(|row| {
                let mut best = 0;
                for j in 1..row.len() {
                    if row[j] > row[best] {
                        best = j;
                    }
                }
                best as u32
            })
            .collect();
        let counts = ClassCounts::new(classes, &labels, &first_max).unwrap();
        close(
            "top-1 is accuracy",
            top_k_accuracy(scores.view(), &labels, 1).unwrap(),
            counts.accuracy(),
        );
        close(
            "top-C",
            top_k_accuracy(scores.view(), &labels, classes).unwrap(),
            1.0,
        );
    }
}

#[test]
fn top_k_is_validated() {
    let scores = Array2::<f32>::zeros((2, 3));
    for k in [0, 4, usize::MAX] {
        assert!(
            matches!(check_top_k(k, 3), Err(Error::InvalidConfig(_))),
            "{k}"
        );
        let error = top_k_accuracy(scores.view(), &[0, 1], k).unwrap_err();
        assert!(
            matches!(error, Error::InvalidConfig(ref m) if m.contains("between 1 and")),
            "{error}"
        );
    }
    check_top_k(3, 3).unwrap();
    assert!(matches!(
        top_k_accuracy(scores.view(), &[0], 1),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        top_k_accuracy(scores.view(), &[0, 3], 1),
        Err(Error::LabelOutOfRange { .. })
    ));
    let empty = Array2::<f32>::zeros((0, 3));
    assert!(matches!(
        top_k_accuracy(empty.view(), &[], 1),
        Err(Error::EmptyData(_))
    ));
}

/// `eval` keeps one rank per row instead of the N × C scores: the number
/// of classes sorted before the label (by score, descending, ties by the
/// lower id first). Top-k accuracy from the ranks is the one from the
/// scores, for every k.
#[test]
fn label_ranks_give_the_top_k_accuracy_of_the_scores() {
    let row = ndarray::arr1(&[0.5f32, 0.9, 0.5, 0.1, 0.9]);
    // Above class 2 (0.5): 1 and 4 score higher, 0 ties with a lower id.
    assert_eq!(label_rank(row.view(), 2), 3);
    assert_eq!(label_rank(row.view(), 0), 2);
    assert_eq!(label_rank(row.view(), 1), 0);
    assert_eq!(label_rank(row.view(), 4), 1);
    assert_eq!(label_rank(row.view(), 3), 4);
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    for classes in [2usize, 3, 7, 40] {
        let n = 90;
        let scores = Array2::from_shape_simple_fn((n, classes), || rng.random_range(0..4) as f32);
        let labels: Vec<u32> = (0..n)
            .map(|_| rng.random_range(0..classes as u32))
            .collect();
        let ranks: Vec<u32> = scores
            .outer_iter()
            .zip(&labels)
            .map(|(row, &label)| {
                let mut order: Vec<usize> = (0..classes).collect();
                order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
                let sorted = order.iter().position(|&c| c == label as usize).unwrap();
                assert_eq!(label_rank(row, label as usize), sorted);
                sorted as u32
            })
            .collect();
        for k in 1..=classes {
            assert_eq!(
                top_k_accuracy_of_ranks(&ranks, classes, k).unwrap(),
                top_k_accuracy(scores.view(), &labels, k).unwrap(),
                "{classes} classes, k {k}"
            );
        }
    }
    for k in [0, 4] {
        assert!(matches!(
            top_k_accuracy_of_ranks(&[0, 1], 3, k),
            Err(Error::InvalidConfig(ref m)) if m.contains("between 1 and")
        ));
    }
    assert!(matches!(
        top_k_accuracy_of_ranks(&[], 3, 1),
        Err(Error::EmptyData(_))
    ));
    // No label has all C classes above it.
    assert!(matches!(
        top_k_accuracy_of_ranks(&[0, 3], 3, 1),
        Err(Error::InvalidConfig(ref m)) if m.contains("rank 3 at row 1")
    ));
}
