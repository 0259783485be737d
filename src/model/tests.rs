//! [`Model`]'s scoring in chunks against one product over all rows: the
//! same scores, losses and probabilities whatever the chunk size, and the
//! limits enforced before anything large is allocated.

use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A seeded model and data; D = 300 crosses the matrix product's inner
/// blocking, so a chunk's product could differ from the whole one's if
/// the blocking depended on the rows.
fn problem(
    rows: usize,
    features: usize,
    outputs: usize,
    classes: usize,
    loss: Loss,
    seed: u64,
) -> (Model, Array2<f32>, Array1<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let model = Model {
        weights: Array2::from_shape_simple_fn((features, outputs), || rng.random_range(-1.0..1.0)),
        bias: Array1::from_shape_simple_fn(outputs, || rng.random_range(-0.5..0.5)),
        loss,
        classes,
    };
    let x = Array2::from_shape_simple_fn((rows, features), || rng.random_range(-2.0..2.0));
    let labels = Array1::from_shape_simple_fn(rows, || rng.random_range(0..classes as u32));
    (model, x, labels)
}

/// Chunk sizes from one score (one row a chunk) to more than all of them.
fn chunk_sizes(rows: usize, outputs: usize) -> [u64; 6] {
    let all = (rows * outputs) as u64;
    [
        1,
        outputs as u64,
        3 * outputs as u64 - 1,
        all / 2,
        all,
        u64::MAX,
    ]
}

/// The scores as one product over all rows, as scoring computed them
/// before it was chunked.
fn whole_product(model: &Model, x: &Array2<f32>) -> Array2<f32> {
    x.dot(&model.weights) + &model.bias
}

#[test]
fn chunks_cover_the_rows_in_order_within_the_bound_with_the_scores_of_one_product() {
    let (model, x, _) = problem(53, 300, 7, 7, Loss::softmax(), 1);
    let expected = whole_product(&model, &x);
    for max_scores in chunk_sizes(53, 7) {
        let mut next_row = 0;
        let mut chunks = 0;
        model
            .score_chunks(x.view(), max_scores, |first, scores| {
                assert_eq!(first, next_row, "chunks of {max_scores}");
                assert!(
                    scores.len() as u64 <= max_scores.max(7),
                    "a chunk of {} scores over the bound {max_scores}",
                    scores.len()
                );
                // Bitwise: chunking changes no score.
                assert_eq!(
                    scores,
                    expected.slice(s![first..first + scores.nrows(), ..]),
                    "chunks of {max_scores}"
                );
                next_row += scores.nrows();
                chunks += 1;
                Ok::<(), Error>(())
            })
            .unwrap();
        assert_eq!(next_row, 53, "chunks of {max_scores}");
        if max_scores <= 7 {
            assert_eq!(chunks, 53, "one row a chunk");
        }
    }
    assert_eq!(model.decision_function(x.view()).unwrap(), expected);
}

/// `evaluate` and `data_loss` give what one product over all rows gave
/// before scoring was chunked: the loss to the bit (row losses in f64
/// by `loss_row`, averaged by `ndarray`'s mean), the predictions, the
/// label ranks and margins of the class scores; for every chunk size.
#[test]
fn evaluation_in_chunks_is_the_evaluation_of_one_product() {
    let cases = [
        (Loss::softmax(), 5, 5),
        (Loss::Hinge { margin: 1.0 }, 4, 4),
        (Loss::SquaredHinge { margin: 0.5 }, 2, 2),
        (Loss::Logistic, 1, 2),
        (Loss::MeanSquaredError, 1, 2),
        (Loss::MeanSquaredError, 3, 3),
    ];
    for (seed, (loss, outputs, classes)) in cases.into_iter().enumerate() {
        let case = format!("{} with {outputs} outputs", loss.name());
        let (model, x, labels) = problem(41, 300, outputs, classes, loss, seed as u64);
        let scores = whole_product(&model, &x);
        let class_scores = model.class_scores(x.view()).unwrap();
        let mut ds = vec![0.0; outputs];
        let row_losses: Array1<f64> = scores
            .outer_iter()
            .zip(labels.iter())
            .map(|(row, &label)| {
                let s: Vec<f64> = row.iter().map(|&v| v as f64).collect();
                let target = RowTarget::Class { label, weight: 1.0 };
                loss_row(&model.loss, &s, target, &mut ds, 1.0 / 41.0)
            })
            .collect();
        let expected = Evaluation {
            loss: row_losses.mean().unwrap(),
            predicted: scores.outer_iter().map(|r| model.class_of(r)).collect(),
            label_ranks: class_scores
                .outer_iter()
                .zip(labels.iter())
                .map(|(r, &l)| label_rank(r, l as usize) as u32)
                .collect(),
            margins: (classes == 2).then(|| {
                class_scores
                    .outer_iter()
                    .map(|r| r[1] as f64 - r[0] as f64)
                    .collect()
            }),
        };
        for max_scores in chunk_sizes(41, outputs) {
            let evaluation = model
                .evaluate_in_chunks(x.view(), labels.view(), max_scores)
                .unwrap();
            assert_eq!(evaluation, expected, "{case}, chunks of {max_scores}");
        }
        assert_eq!(
            model.data_loss(x.view(), labels.view()).unwrap(),
            expected.loss,
            "{case}"
        );
        assert_eq!(model.predict(x.view()).unwrap(), expected.predicted);
        let hits = expected.label_ranks.iter().filter(|&&r| r == 0).count();
        assert_eq!(
            model.accuracy(x.view(), labels.view()).unwrap(),
            hits as f32 / 41.0,
            "{case}"
        );
    }
}

#[test]
fn probabilities_in_chunks_are_those_of_one_product() {
    for (loss, outputs, classes) in [(Loss::softmax(), 6, 6), (Loss::Logistic, 1, 2)] {
        let (model, x, _) = problem(29, 300, outputs, classes, loss, 7);
        let whole = model.probabilities(whole_product(&model, &x).view());
        for max_scores in chunk_sizes(29, outputs) {
            let mut chunked = Array2::<f32>::zeros(whole.dim());
            model
                .proba_chunks(x.view(), max_scores, |first, proba| {
                    chunked
                        .slice_mut(s![first..first + proba.nrows(), ..])
                        .assign(&proba);
                    Ok::<(), Error>(())
                })
                .unwrap();
            assert_eq!(chunked, whole, "{}, chunks of {max_scores}", loss.name());
        }
        assert_eq!(model.predict_proba(x.view()).unwrap(), whole);
    }
}

/// Weights of 3.4e38 are finite and load, but their scores overflow:
/// every scoring function names the first row whose score does, in
/// whichever chunk it falls, instead of returning NaN or infinity.
#[test]
fn scores_that_overflow_are_an_error_naming_the_row() {
    let model = Model {
        weights: Array2::from_elem((2, 3), 3.4e38),
        bias: Array1::zeros(3),
        loss: Loss::softmax(),
        classes: 3,
    };
    // Row 2 is the first whose scores overflow (1 + 1 > 1 in units of 3.4e38).
    let x = ndarray::array![[0.5f32, 0.25], [-0.5, 0.75], [1.0, 1.0], [0.0, 0.0]];
    let labels = Array1::from(vec![0u32, 1, 2, 0]);
    let is_row_2 = |what: &str, error: Error| match error {
        Error::NonFinite {
            what: "scores",
            row: 2,
            column: 0,
            value,
        } if value == f32::INFINITY => {}
        other => panic!("{what}: {other:?}"),
    };
    for max_scores in chunk_sizes(4, 3) {
        let result = model.score_chunks(x.view(), max_scores, |_, _| Ok::<(), Error>(()));
        is_row_2(&format!("chunks of {max_scores}"), result.unwrap_err());
        let evaluation = model.evaluate_in_chunks(x.view(), labels.view(), max_scores);
        is_row_2("evaluate", evaluation.unwrap_err());
    }
    is_row_2("scores", model.decision_function(x.view()).unwrap_err());
    is_row_2("class scores", model.class_scores(x.view()).unwrap_err());
    is_row_2("predict", model.predict(x.view()).unwrap_err());
    is_row_2("proba", model.predict_proba(x.view()).unwrap_err());
    is_row_2(
        "loss",
        model.data_loss(x.view(), labels.view()).unwrap_err(),
    );
    is_row_2(
        "accuracy",
        model.accuracy(x.view(), labels.view()).unwrap_err(),
    );
    // Below the overflow everything is finite.
    let first_two = x.slice(s![..2, ..]);
    let proba = model.predict_proba(first_two).unwrap();
    assert!(proba.iter().all(|p| p.is_finite()), "{proba}");
}

/// A whole-array result is refused beyond the stated limit before it
/// is allocated; the chunked and O(N) functions are not limited.
#[test]
fn whole_arrays_beyond_the_output_limit_are_refused_before_allocating() {
    let model = Model {
        weights: Array2::zeros((1, 1 << 20)),
        bias: Array1::zeros(1 << 20),
        loss: Loss::softmax(),
        classes: 1 << 20,
    };
    // 257 · 2²⁰ > 2²⁸; x is a view of one zero broadcast to every row.
    let zero = ndarray::arr2(&[[0.0f32]]);
    let x = zero.broadcast((257, 1)).unwrap();
    for (what, result) in [
        ("scores", model.decision_function(x).map(|_| ())),
        ("class scores", model.class_scores(x).map(|_| ())),
        ("probabilities", model.predict_proba(x).map(|_| ())),
    ] {
        match result {
            Err(Error::TooLarge { size, limit, .. }) => {
                assert_eq!(size, 257 << 20, "{what}");
                assert_eq!(limit, MAX_OUTPUT_CELLS, "{what}");
            }
            other => panic!("{what}: {other:?}"),
        }
    }
}
