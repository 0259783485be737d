//! Issue 15's grid syntax (`a,b,c`, `logspace`, `linspace`), the grid's
//! product and limits, and the k-fold splits of a sweep.

use lintrain::Error;
use lintrain::sweep::grid::format_value;
use lintrain::sweep::{
    Grid, MAX_MEMBERS, SweptParameter, parse_values, random_folds, stratified_folds, training_rows,
};
use std::collections::BTreeMap;

use SweptParameter::{Alpha, C, L1Ratio, LearningRate, Momentum, RegStrength};

/// numpy's `linspace`: `lo + i·(hi − lo)/(n − 1)`, the last point `hi`.
fn numpy_linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![lo];
    }
    let step = (hi - lo) / (n - 1) as f64;
    (0..n)
        .map(|i| if i == n - 1 { hi } else { lo + i as f64 * step })
        .collect()
}

fn numpy_logspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    numpy_linspace(lo, hi, n)
        .into_iter()
        .map(|e| 10f64.powf(e))
        .collect()
}

#[test]
fn lists_are_read_as_written_with_whitespace_around_values() {
    assert_eq!(
        parse_values(RegStrength, "1e-4, 0.01 ,1").unwrap(),
        vec![1e-4, 0.01, 1.0]
    );
    assert_eq!(parse_values(LearningRate, " 0.5 ").unwrap(), vec![0.5]);
    assert_eq!(parse_values(Momentum, "0,0.9").unwrap(), vec![0.0, 0.9]);
    assert_eq!(parse_values(L1Ratio, "0,1").unwrap(), vec![0.0, 1.0]);
}

#[test]
fn logspace_gives_numpys_powers_of_ten() {
    let values = parse_values(RegStrength, "logspace(-6,6,13)").unwrap();
    assert_eq!(values, numpy_logspace(-6.0, 6.0, 13));
    // The whole powers themselves, 1e-6 … 1e6, to the last bit or one ulp.
    for (k, v) in (-6..=6).zip(&values) {
        let power: f64 = format!("1e{k}").parse().unwrap();
        assert!((v - power).abs() <= power * f64::EPSILON, "1e{k}: {v}");
    }
    assert_eq!(
        parse_values(C, " logspace( -2 , 2 , 5 ) ").unwrap(),
        numpy_logspace(-2.0, 2.0, 5)
    );
    assert_eq!(
        parse_values(LearningRate, "logspace(-1,-3,3)").unwrap(),
        numpy_logspace(-1.0, -3.0, 3)
    );
    assert_eq!(
        parse_values(Alpha, "logspace(-4,0,1)").unwrap(),
        vec![10f64.powf(-4.0)]
    );
    // Fractional exponents: numpy.logspace(0, 1, 4).
    assert_eq!(
        parse_values(C, "logspace(0,1,4)").unwrap(),
        numpy_logspace(0.0, 1.0, 4)
    );
}

#[test]
fn linspace_gives_numpys_points_with_the_endpoint() {
    assert_eq!(
        parse_values(L1Ratio, "linspace(0,1,5)").unwrap(),
        vec![0.0, 0.25, 0.5, 0.75, 1.0]
    );
    let values = parse_values(Momentum, "linspace(0.1,0.9,4)").unwrap();
    assert_eq!(values, numpy_linspace(0.1, 0.9, 4));
    assert_eq!(values[3], 0.9);
    assert_eq!(
        parse_values(LearningRate, "linspace(0.3,0.7,1)").unwrap(),
        vec![0.3]
    );
}

/// Every way a value list can be wrong: the flag, the text, and a phrase
/// the one-line message must contain.
const BAD_LISTS: &[(SweptParameter, &str, &str)] = &[
    (RegStrength, "", "empty"),
    (RegStrength, "   ", "empty"),
    (LearningRate, "0.1,,0.2", "value 2 of \"0.1,,0.2\" is empty"),
    (LearningRate, "0.1,", "is empty"),
    (C, "abc", "expected a number, got \"abc\""),
    (C, "1,x", "expected a number, got \"x\""),
    (RegStrength, "logspace(-6,6,0)", "n must be ≥ 1, got 0"),
    (RegStrength, "linspace(0,1,2.5)", "n must be a whole number"),
    (RegStrength, "linspace(0,1,-3)", "n must be a whole number"),
    (LearningRate, "linspace(0,1,5000)", "limit of 4096"),
    (
        RegStrength,
        "logspace(0,x,3)",
        "expected a number, got \"x\"",
    ),
    (RegStrength, "logspace(0,inf,3)", "hi must be finite"),
    (RegStrength, "inf", "finite"),
    (LearningRate, "nan", "finite"),
    (LearningRate, "1e39", "finite"),
    (C, "logspace(0,400,2)", "finite"),
    (RegStrength, "-1e-4", "must be ≥ 0, got -0.0001"),
    (RegStrength, "logspace(-2,2,3),-1", "expected `)`"),
    (Alpha, "0.1,-0.1", "must be ≥ 0"),
    (C, "0,1", "must be > 0, got 0"),
    (LearningRate, "linspace(0,1,3)", "must be > 0, got 0"),
    (L1Ratio, "0.5,1.5", "must be in [0, 1], got 1.5"),
    (Momentum, "0.9,1", "must be in [0, 1), got 1"),
    (Momentum, "-0.5", "must be in [0, 1)"),
    // In range in f64, out of it in the f32 that trains (and that `train`
    // checks): momentum 1, a learning rate of 0.
    (Momentum, "0.9,0.99999999999", "which is 1 in f32"),
    (LearningRate, "0.1,1e-50", "which is 0 in f32"),
    (RegStrength, "0.1,0.1", "the value 0.1 is given twice"),
    (RegStrength, "linspace(1,1,3)", "given twice"),
    (LearningRate, "0.1,0.100000000001", "the same in f32"),
    (C, "geomspace(1,10,3)", "unknown function \"geomspace\""),
    (C, "(1,2,3)", "unknown function \"\""),
    (
        C,
        "logspace(1,2)",
        "logspace takes 3 arguments (lo,hi,n), got 2",
    ),
    (C, "linspace(1,2,3,4)", "got 4"),
    (C, "logspace()", "got 0"),
    (C, "logspace(1,2,3", "expected `)`"),
];

#[test]
fn every_bad_list_is_a_one_line_error_naming_the_flag_and_the_problem() {
    for &(parameter, text, phrase) in BAD_LISTS {
        let error = match parse_values(parameter, text) {
            Ok(values) => panic!("{parameter} {text:?} gave {values:?}"),
            Err(error) => error,
        };
        assert!(
            matches!(&error, Error::InvalidGrid { flag, .. } if flag == parameter.flag()),
            "{parameter} {text:?}: {error:?}"
        );
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("{}: ", parameter.flag())),
            "{message}"
        );
        assert!(message.contains(phrase), "{text:?}: {message}");
        assert!(!message.contains('\n'), "{message}");
    }
}

#[test]
fn a_flag_that_cannot_be_swept_is_named() {
    let error = SweptParameter::from_flag("--epochs").unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("--epochs: cannot be swept"),
        "{message}"
    );
    assert!(
        message.contains("--reg-strength, --C, --alpha, --lr, --l1-ratio, --momentum"),
        "{message}"
    );
}

#[test]
fn the_first_parameter_varies_slowest() {
    let grid = Grid::parse([
        (RegStrength, "1e-4,1e-2,1"),
        (LearningRate, "0.1,0.01"),
        (Momentum, "0,0.9"),
    ])
    .unwrap();
    assert_eq!(grid.len(), 12);
    assert!(!grid.is_empty());
    let settings: Vec<_> = grid.settings().collect();
    assert_eq!(settings.len(), 12);
    let mut expected = Vec::new();
    for r in [1e-4, 1e-2, 1.0] {
        for lr in [0.1, 0.01] {
            for m in [0.0, 0.9] {
                expected.push((r, lr, m));
            }
        }
    }
    for (setting, &(r, lr, m)) in settings.iter().zip(&expected) {
        assert_eq!(setting.get(RegStrength), Some(r));
        assert_eq!(setting.get(LearningRate), Some(lr));
        assert_eq!(setting.get(Momentum), Some(m));
        assert_eq!(setting.get(C), None);
        let order: Vec<_> = setting.iter().map(|(p, _)| p).collect();
        assert_eq!(order, vec![RegStrength, LearningRate, Momentum]);
    }
    assert_eq!(
        settings[0].describe(),
        "reg_strength=1e-4 lr=0.1 momentum=0"
    );
    assert_eq!(
        settings[11].describe(),
        "reg_strength=1 lr=0.01 momentum=0.9"
    );
    assert_eq!(
        settings[5].to_string(),
        "reg_strength=0.01 lr=0.1 momentum=0.9"
    );
    assert_eq!(grid.values(LearningRate), Some(&[0.1, 0.01][..]));
    assert_eq!(grid.values(L1Ratio), None);
    assert_eq!(grid.axes().len(), 3);
}

#[test]
fn a_grid_of_nothing_is_one_member_with_nothing_swept() {
    let grid = Grid::new(Vec::new()).unwrap();
    assert_eq!(grid.len(), 1);
    let settings: Vec<_> = grid.settings().collect();
    assert_eq!(settings.len(), 1);
    assert_eq!(settings[0].describe(), "");
}

#[test]
fn describe_writes_sklearn_keys_and_short_numbers() {
    let grid = Grid::parse([(C, "logspace(-6,6,3)"), (L1Ratio, "0.15")]).unwrap();
    let described: Vec<String> = grid.settings().map(|s| s.describe()).collect();
    assert_eq!(
        described,
        vec![
            "C=1e-6 l1_ratio=0.15",
            "C=1 l1_ratio=0.15",
            "C=1e6 l1_ratio=0.15"
        ]
    );
    assert_eq!(format_value(0.001), "0.001");
    assert_eq!(format_value(12345.0), "1.2345e4");
}

#[test]
fn a_parameter_given_twice_is_an_error() {
    let error = Grid::parse([(LearningRate, "0.1"), (LearningRate, "0.2")]).unwrap_err();
    assert_eq!(error.to_string(), "--lr: is given twice");
}

#[test]
fn two_spellings_of_the_strength_are_an_error() {
    for (first, second) in [
        (RegStrength, C),
        (C, Alpha),
        (Alpha, RegStrength),
        (RegStrength, Alpha),
    ] {
        let error =
            Grid::parse([(first, "1,2"), (LearningRate, "0.1"), (second, "3")]).unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, Error::InvalidGrid { .. }), "{message}");
        assert!(
            message.starts_with(&format!(
                "{}: cannot be swept together with {}",
                second.flag(),
                first.flag()
            )),
            "{message}"
        );
        assert!(message.contains("regularization strength"), "{message}");
    }
}

#[test]
fn lists_given_directly_are_checked_as_parsed_ones_are() {
    let error = Grid::new(vec![(RegStrength, vec![-1.0])]).unwrap_err();
    assert_eq!(error.to_string(), "--reg-strength: must be ≥ 0, got -1");
    let error = Grid::new(vec![(Momentum, vec![])]).unwrap_err();
    assert!(error.to_string().starts_with("--momentum: "), "{error}");
    let error = Grid::new(vec![(C, vec![1.0, f64::NAN])]).unwrap_err();
    assert!(error.to_string().contains("finite"), "{error}");
}

#[test]
fn a_grid_may_hold_max_members_and_no_more() {
    assert_eq!(MAX_MEMBERS, 4096);
    let grid = Grid::parse([
        (RegStrength, "logspace(-6,6,64)"),
        (LearningRate, "logspace(-4,0,64)"),
    ])
    .unwrap();
    assert_eq!(grid.len(), MAX_MEMBERS);
    assert_eq!(grid.settings().len(), MAX_MEMBERS);
    let last = grid.settings().last().unwrap();
    assert_eq!(last.get(RegStrength), Some(1e6));
    assert_eq!(last.get(LearningRate), Some(1.0));

    let error = Grid::parse([
        (RegStrength, "logspace(-6,6,64)"),
        (LearningRate, "logspace(-4,0,64)"),
        (Momentum, "0,0.9"),
    ])
    .unwrap_err();
    assert!(
        matches!(
            error,
            Error::TooLarge {
                size: 8192,
                limit: 4096,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "the sweep grid (64 values of --reg-strength × 64 values of --lr × 2 values of --momentum) is 8192, more than the limit of 4096"
    );
}

/// How many rows of each class each fold holds.
fn class_counts(labels: &[u32], fold: &[usize]) -> BTreeMap<u32, usize> {
    let mut counts = BTreeMap::new();
    for &row in fold {
        *counts.entry(labels[row]).or_default() += 1;
    }
    counts
}

/// Every row in exactly one fold, each fold sorted and non-empty.
fn assert_partition(folds: &[Vec<usize>], rows: usize) {
    let mut seen = vec![0; rows];
    for fold in folds {
        assert!(!fold.is_empty());
        assert!(fold.windows(2).all(|w| w[0] < w[1]), "{fold:?}");
        for &row in fold {
            seen[row] += 1;
        }
    }
    assert!(seen.iter().all(|&n| n == 1), "{seen:?}");
}

/// Labels of uneven classes: 0 has 23 rows, 1 has 11, 2 has 7, 3 has 2,
/// interleaved.
fn uneven_labels() -> Vec<u32> {
    let mut labels = Vec::new();
    for (class, count) in [(0u32, 23), (1, 11), (2, 7), (3, 2)] {
        labels.extend(std::iter::repeat_n(class, count));
    }
    let n = labels.len();
    // A fixed interleaving, so rows of a class are not contiguous.
    (0..n).map(|i| labels[(i * 17) % n]).collect()
}

#[test]
fn folds_cover_every_row_once_and_are_stratified() {
    let labels = uneven_labels();
    for k in [2, 3, 5, 7] {
        let folds = stratified_folds(&labels, k, 42).unwrap();
        assert_eq!(folds.len(), k);
        assert_partition(&folds, labels.len());
        let counts: Vec<_> = folds.iter().map(|f| class_counts(&labels, f)).collect();
        for class in 0..4u32 {
            let per_fold: Vec<usize> = counts
                .iter()
                .map(|c| c.get(&class).copied().unwrap_or(0))
                .collect();
            let (lo, hi) = (per_fold.iter().min(), per_fold.iter().max());
            assert!(
                hi.unwrap() - lo.unwrap() <= 1,
                "k {k} class {class}: {per_fold:?}"
            );
        }
        let sizes: Vec<usize> = folds.iter().map(Vec::len).collect();
        let spread = sizes.iter().max().unwrap() - sizes.iter().min().unwrap();
        assert!(spread <= 1, "k {k}: {sizes:?}");
    }
}

#[test]
fn training_rows_are_every_other_fold() {
    let labels = uneven_labels();
    let folds = stratified_folds(&labels, 4, 3).unwrap();
    for (i, fold) in folds.iter().enumerate() {
        let train = training_rows(&folds, i);
        assert!(train.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(train.len() + fold.len(), labels.len());
        assert!(train.iter().all(|row| fold.binary_search(row).is_err()));
    }
}

#[test]
fn folds_are_seeded() {
    let labels = uneven_labels();
    let a = stratified_folds(&labels, 5, 1).unwrap();
    assert_eq!(a, stratified_folds(&labels, 5, 1).unwrap());
    assert_ne!(a, stratified_folds(&labels, 5, 2).unwrap());
    let r = random_folds(100, 5, 9).unwrap();
    assert_eq!(r, random_folds(100, 5, 9).unwrap());
    assert_ne!(r, random_folds(100, 5, 10).unwrap());
    // Not the identity deal: the rows are shuffled.
    assert_ne!(r[0], (0..100).step_by(5).collect::<Vec<_>>());
}

#[test]
fn random_folds_partition_rows_evenly() {
    let folds = random_folds(103, 10, 0).unwrap();
    assert_partition(&folds, 103);
    let sizes: Vec<usize> = folds.iter().map(Vec::len).collect();
    assert_eq!(sizes.iter().filter(|&&s| s == 11).count(), 3);
    assert_eq!(sizes.iter().filter(|&&s| s == 10).count(), 7);
}

#[test]
fn two_folds_and_one_row_per_fold_are_the_edge_cases() {
    let labels = uneven_labels();
    let halves = stratified_folds(&labels, 2, 5).unwrap();
    assert_partition(&halves, labels.len());
    assert_eq!(training_rows(&halves, 0), halves[1]);
    assert_eq!(training_rows(&halves, 1), halves[0]);

    let rows = labels.len();
    let singles = stratified_folds(&labels, rows, 5).unwrap();
    assert_partition(&singles, rows);
    assert!(singles.iter().all(|f| f.len() == 1));
    let leave_one_out = random_folds(6, 6, 0).unwrap();
    assert_partition(&leave_one_out, 6);
}

#[test]
fn a_class_smaller_than_k_is_spread_not_refused() {
    // Class 3 has 2 rows; with 5 folds, two folds validate one row of it.
    let labels = uneven_labels();
    let folds = stratified_folds(&labels, 5, 11).unwrap();
    let holding: usize = folds
        .iter()
        .filter(|f| f.iter().any(|&r| labels[r] == 3))
        .count();
    assert_eq!(holding, 2);
}

#[test]
fn bad_fold_counts_are_errors() {
    let labels = uneven_labels();
    for k in [0, 1] {
        let error = stratified_folds(&labels, k, 0).unwrap_err();
        assert!(matches!(error, Error::InvalidConfig(_)), "{error:?}");
        assert!(error.to_string().contains("at least 2 folds"), "{error}");
    }
    let error = stratified_folds(&labels, labels.len() + 1, 0).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid configuration: 44 folds need at least 44 rows, and there are 43"
    );
    assert!(random_folds(0, 2, 0).is_err());
    assert!(random_folds(3, 1, 0).is_err());
}
