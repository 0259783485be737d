//! Every kernel against its CPU twin on odd shapes, with NaN-prefilled outputs.

mod common;

use common::*;
use lintrain::backend::{Backend, LossOutputs, MatmulSpec, Targets};
use lintrain::{CpuBackend, Loss};
use ndarray::Array2;

const RTOL: f32 = 1e-4;
const ATOL: f32 = 1e-5;

/// One test body run on each device, as candle's `test_device!` does:
/// `test_device!(body, name_cpu, name_gpu)` makes the test `name_cpu`,
/// which runs `body("cpu", &CpuBackend::new())`, and the test `name_gpu`,
/// which runs `body("gpu", &gpu)` on the harness's GPU backend. `body` is a
/// generic `fn(&str, &impl Backend)`; the name is for its messages. Without
/// an adapter the GPU test fails under CI=true and elsewhere says that its
/// GPU half did not run (see `common::gpu_with_options`).
macro_rules! test_device {
    ($body:ident, $cpu:ident, $gpu:ident) => {
        #[test]
        fn $cpu() {
            $body("cpu", &CpuBackend::new());
        }

        #[test]
        fn $gpu() {
            if let Some(gpu) = gpu() {
                $body("gpu", &gpu);
            }
        }
    };
}

fn matmul_on<B: Backend>(
    b: &B,
    a: &[f32],
    w: &[f32],
    out_len: usize,
    spec: &MatmulSpec,
) -> Vec<f32> {
    let a = b.upload(a).unwrap();
    let w = b.upload(w).unwrap();
    let mut out = b.upload(&nan_vec(out_len)).unwrap();
    b.matmul(&a, &w, &mut out, spec).unwrap();
    b.read(&out).unwrap()
}

#[test]
fn matmul_matches_cpu_on_odd_shapes_both_variants() {
    let shapes = [
        (1, 1, 1),
        (7, 7, 7),
        (63, 65, 7),
        (65, 63, 10),
        (257, 7, 65),
        (7, 3073, 10),
        (200, 3073, 10),
        (3073, 7, 10),
        (1, 257, 1),
        // Rows at a multiple of 256 bytes: operands copied, not packed, on CPU adapters.
        (9, 64, 128),
        (7, 128, 3),
        // Enough tiles for the packed matmul's 16-row tiles.
        (257, 63, 129),
    ];
    let cpu = CpuBackend::new();
    let variants = gpu_variants();
    let mut rng = rng(1);
    for &(m, k, n) in &shapes {
        for transpose_a in [false, true] {
            for bias in [false, true] {
                let a = random_vec(&mut rng, m * k, 1.0);
                // W then b packed in one buffer, as training stores them.
                let w = random_vec(&mut rng, k * n + n, 1.0);
                let spec = MatmulSpec {
                    transpose_a,
                    bias_offset: bias.then_some(k * n),
                    ..MatmulSpec::new(m, k, n)
                };
                let expected = matmul_on(&cpu, &a, &w, m * n, &spec);
                for (variant, gpu) in &variants {
                    let actual = matmul_on(gpu, &a, &w, m * n, &spec);
                    let what = format!(
                        "matmul {variant:?} {m}x{k}x{n} transpose_a={transpose_a} bias={bias}"
                    );
                    assert_close(&what, &actual, &expected, RTOL, 1e-4);
                }
            }
        }
    }
}

#[test]
fn matmul_honours_offsets_and_leaves_the_rest_untouched() {
    let cpu = CpuBackend::new();
    let (m, k, n) = (7, 65, 3);
    let mut rng = rng(2);
    let a = random_vec(&mut rng, 5 + m * k, 1.0);
    let w = random_vec(&mut rng, 11 + k * n, 1.0);
    let spec = MatmulSpec {
        a_offset: 5,
        b_offset: 11,
        out_offset: 9,
        ..MatmulSpec::new(m, k, n)
    };
    let expected = matmul_on(&cpu, &a, &w, 9 + m * n + 4, &spec);
    assert!(
        expected[..9].iter().all(|v| v.is_nan()),
        "CPU wrote before the offset"
    );
    assert!(
        expected[9 + m * n..].iter().all(|v| v.is_nan()),
        "CPU wrote past the end"
    );
    for (variant, gpu) in gpu_variants() {
        let actual = matmul_on(&gpu, &a, &w, 9 + m * n + 4, &spec);
        assert!(
            actual[..9].iter().all(|v| v.is_nan()),
            "{variant:?} wrote before the offset"
        );
        assert!(
            actual[9 + m * n..].iter().all(|v| v.is_nan()),
            "{variant:?} wrote past the end"
        );
        assert_close(
            &format!("{variant:?}"),
            &actual[9..9 + m * n],
            &expected[9..9 + m * n],
            RTOL,
            ATOL,
        );
    }
}

/// 2×4·4×2 from buffers of 6 values: a typed error, not a device fault.
fn matmul_rejects_bad_shapes<B: Backend>(name: &str, b: &B) {
    let a = b.upload(&[1.0; 6]).unwrap();
    let w = b.upload(&[1.0; 6]).unwrap();
    let mut out = b.zeros(4).unwrap();
    let err = b
        .matmul(&a, &w, &mut out, &MatmulSpec::new(2, 4, 2))
        .unwrap_err();
    assert!(
        matches!(err, lintrain::Error::ShapeMismatch { .. }),
        "{name}: {err}"
    );
}

test_device!(
    matmul_rejects_bad_shapes,
    matmul_rejects_bad_shapes_with_typed_errors_cpu,
    matmul_rejects_bad_shapes_with_typed_errors_gpu
);

fn column_sums_on<B: Backend>(b: &B, x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let x = b.upload(x).unwrap();
    let mut out = b.upload(&nan_vec(cols + 3)).unwrap();
    b.column_sums(&x, rows, cols, &mut out, 3).unwrap();
    b.read(&out).unwrap()
}

#[test]
fn column_sums_match_cpu() {
    let cpu = CpuBackend::new();
    let Some(gpu) = gpu() else { return };
    let mut rng = rng(3);
    for (rows, cols) in [(1, 1), (7, 63), (257, 65), (65, 3073), (3073, 7)] {
        let x = random_vec(&mut rng, rows * cols, 1.0);
        let expected = column_sums_on(&cpu, &x, rows, cols);
        let actual = column_sums_on(&gpu, &x, rows, cols);
        assert!(actual[..3].iter().all(|v| v.is_nan()));
        assert_close(
            &format!("column_sums {rows}x{cols}"),
            &actual[3..],
            &expected[3..],
            RTOL,
            1e-4,
        );
    }
}

struct LossRun {
    dscores: Vec<f32>,
    row_loss: Vec<f32>,
    stats: Vec<f32>,
}

enum TargetData<'a> {
    Classes(&'a [u32], Option<&'a [f32]>),
    Values(&'a [f32]),
}

fn loss_on<B: Backend>(
    b: &B,
    loss: &Loss,
    scores: &[f32],
    targets: &TargetData<'_>,
    rows: usize,
    cols: usize,
) -> LossRun {
    let scores = b.upload(scores).unwrap();
    let mut dscores = b.upload(&nan_vec(rows * cols)).unwrap();
    let mut row_loss = b.upload(&nan_vec(rows)).unwrap();
    let mut stats = b.upload(&nan_vec(6)).unwrap();
    let out = LossOutputs {
        dscores: &mut dscores,
        row_loss: &mut row_loss,
        stats: &mut stats,
        slot: 1,
    };
    match targets {
        TargetData::Classes(labels, weights) => {
            let labels = b.upload_indices(labels).unwrap();
            let weights = weights.map(|w| b.upload(w).unwrap());
            let targets = Targets::Classes {
                labels: &labels,
                class_weights: weights.as_ref(),
            };
            b.loss(loss, &scores, targets, rows, cols, out).unwrap();
        }
        TargetData::Values(values) => {
            let values = b.upload(values).unwrap();
            b.loss(loss, &scores, Targets::Values(&values), rows, cols, out)
                .unwrap();
        }
    }
    LossRun {
        dscores: b.read(&dscores).unwrap(),
        row_loss: b.read(&row_loss).unwrap(),
        stats: b.read(&stats).unwrap(),
    }
}

fn compare_loss_runs(what: &str, actual: &LossRun, expected: &LossRun) {
    assert_close(
        &format!("{what} dscores"),
        &actual.dscores,
        &expected.dscores,
        RTOL,
        1e-6,
    );
    assert_close(
        &format!("{what} row loss"),
        &actual.row_loss,
        &expected.row_loss,
        RTOL,
        1e-5,
    );
    assert!(
        actual.stats[0].is_nan() && actual.stats[1].is_nan(),
        "{what}: wrote outside its stats slot"
    );
    assert!(
        actual.stats[4].is_nan() && actual.stats[5].is_nan(),
        "{what}: wrote outside its stats slot"
    );
    assert_close(
        &format!("{what} mean loss"),
        &actual.stats[2..3],
        &expected.stats[2..3],
        RTOL,
        1e-5,
    );
    assert_eq!(
        actual.stats[3], expected.stats[3],
        "{what}: correct count differs"
    );
}

fn all_losses() -> Vec<Loss> {
    vec![
        Loss::SoftmaxCrossEntropy {
            label_smoothing: 0.0,
        },
        Loss::SoftmaxCrossEntropy {
            label_smoothing: 0.1,
        },
        Loss::Hinge { margin: 1.0 },
        Loss::SquaredHinge { margin: 0.5 },
        Loss::MeanSquaredError,
        Loss::Logistic,
    ]
}

#[test]
fn losses_match_cpu_on_odd_shapes() {
    let cpu = CpuBackend::new();
    let Some(gpu) = gpu() else { return };
    let mut rng = rng(4);
    for (rows, cols) in [
        (1, 7),
        (7, 10),
        (63, 3),
        (257, 10),
        (65, 65),
        (7, 3073),
        (300, 2),
    ] {
        let scores = random_vec(&mut rng, rows * cols, 3.0);
        let labels = random_labels(&mut rng, rows, cols);
        let weights = random_vec(&mut rng, cols, 1.0)
            .iter()
            .map(|w| w + 1.5)
            .collect::<Vec<_>>();
        for loss in all_losses() {
            let what = format!("{loss:?} {rows}x{cols}");
            let targets = TargetData::Classes(&labels, None);
            let expected = loss_on(&cpu, &loss, &scores, &targets, rows, cols);
            compare_loss_runs(
                &what,
                &loss_on(&gpu, &loss, &scores, &targets, rows, cols),
                &expected,
            );
        }
        let weighted = Loss::SoftmaxCrossEntropy {
            label_smoothing: 0.05,
        };
        let targets = TargetData::Classes(&labels, Some(&weights));
        let expected = loss_on(&cpu, &weighted, &scores, &targets, rows, cols);
        compare_loss_runs(
            &format!("weighted softmax {rows}x{cols}"),
            &loss_on(&gpu, &weighted, &scores, &targets, rows, cols),
            &expected,
        );
        let values = random_vec(&mut rng, rows * cols, 1.0);
        let binary: Vec<f32> = values
            .iter()
            .map(|v| if *v > 0.0 { 1.0 } else { 0.0 })
            .collect();
        for (loss, values) in [(Loss::MeanSquaredError, &values), (Loss::Logistic, &binary)] {
            let targets = TargetData::Values(values);
            let expected = loss_on(&cpu, &loss, &scores, &targets, rows, cols);
            compare_loss_runs(
                &format!("{loss:?} real targets {rows}x{cols}"),
                &loss_on(&gpu, &loss, &scores, &targets, rows, cols),
                &expected,
            );
        }
    }
}

#[test]
fn binary_losses_with_one_output_column() {
    let cpu = CpuBackend::new();
    let Some(gpu) = gpu() else { return };
    let mut rng = rng(5);
    let rows = 65;
    let scores = random_vec(&mut rng, rows, 4.0);
    let labels = random_labels(&mut rng, rows, 2);
    for loss in [Loss::Logistic, Loss::MeanSquaredError] {
        let targets = TargetData::Classes(&labels, None);
        let expected = loss_on(&cpu, &loss, &scores, &targets, rows, 1);
        compare_loss_runs(
            &format!("{loss:?} C=1"),
            &loss_on(&gpu, &loss, &scores, &targets, rows, 1),
            &expected,
        );
    }
}

/// Independent f64 softmax cross-entropy for one row.
fn softmax_row_f64(scores: &[f32], y: usize) -> (f64, Vec<f64>) {
    let max = scores
        .iter()
        .fold(f64::NEG_INFINITY, |m, &s| m.max(s as f64));
    let sum: f64 = scores.iter().map(|&s| (s as f64 - max).exp()).sum();
    let loss = -(scores[y] as f64 - max - sum.ln());
    let grad = scores
        .iter()
        .enumerate()
        .map(|(j, &s)| (s as f64 - max).exp() / sum - if j == y { 1.0 } else { 0.0 })
        .collect();
    (loss, grad)
}

fn check_extreme<B: Backend>(name: &str, b: &B) {
    // Logits of ±1e4: a naive softmax overflows.
    let scores = [1e4f32, -1e4, 0.0, 1e4 - 1.0, -1e4, 1e4];
    let labels = [1u32, 2];
    let run = loss_on(
        b,
        &Loss::softmax(),
        &scores,
        &TargetData::Classes(&labels, None),
        2,
        3,
    );
    for i in 0..2 {
        let (loss, grad) = softmax_row_f64(&scores[i * 3..i * 3 + 3], labels[i] as usize);
        assert!(
            run.row_loss[i].is_finite(),
            "{name}: softmax row {i} loss not finite"
        );
        assert_close_f64(
            &format!("{name} softmax ±1e4 row {i} loss"),
            &run.row_loss[i..i + 1],
            &[loss],
            1e-5,
            1e-3,
        );
        let grad: Vec<f64> = grad.iter().map(|g| g / 2.0).collect();
        assert_close_f64(
            &format!("{name} softmax ±1e4 row {i} dscores"),
            &run.dscores[i * 3..i * 3 + 3],
            &grad,
            1e-5,
            1e-6,
        );
    }

    // Hinge with Δ = 0 and ties: a tie gives a zero margin, which does not count.
    let scores = [2.0f32, 2.0, 1.0, 0.5, 3.0, 3.0];
    let labels = [0u32, 2];
    let run = loss_on(
        b,
        &Loss::Hinge { margin: 0.0 },
        &scores,
        &TargetData::Classes(&labels, None),
        2,
        3,
    );
    assert_close(
        &format!("{name} hinge Δ=0 ties row loss"),
        &run.row_loss,
        &[0.0, 0.0],
        0.0,
        0.0,
    );
    assert_close(
        &format!("{name} hinge Δ=0 ties dscores"),
        &run.dscores,
        &[0.0; 6],
        0.0,
        0.0,
    );
    // Tie breaks toward the first index: row 0 counts as correct, row 1 does not.
    assert_eq!(run.stats[3], 1.0, "{name}: argmax tie-break");

    // Labels 0 and C−1 with Δ = 1.
    let scores = [1.0f32, 2.0, 0.5, 0.0, 0.25, 3.0];
    let labels = [0u32, 2];
    let run = loss_on(
        b,
        &Loss::hinge(),
        &scores,
        &TargetData::Classes(&labels, None),
        2,
        3,
    );
    // Row 0: margins 2, 0.5 → 2.5. Row 1: margins max(0, 0 − 3 + 1), max(0, 0.25 − 3 + 1) → 0.
    assert_close(
        &format!("{name} hinge labels 0, C−1 row loss"),
        &run.row_loss,
        &[2.5, 0.0],
        1e-6,
        1e-6,
    );
    assert_close(
        &format!("{name} hinge labels 0, C−1 dscores"),
        &run.dscores,
        &[-1.0, 0.5, 0.5, 0.0, 0.0, 0.0],
        1e-6,
        1e-6,
    );
    assert_close(
        &format!("{name} hinge mean"),
        &run.stats[2..3],
        &[1.25],
        1e-6,
        1e-6,
    );

    // BCE with logits of ±100 stays finite and exact.
    let scores = [100.0f32, -100.0, 100.0, -100.0];
    let labels = [1u32, 0, 0, 1];
    let run = loss_on(
        b,
        &Loss::Logistic,
        &scores,
        &TargetData::Classes(&labels, None),
        4,
        1,
    );
    assert_close(
        &format!("{name} BCE ±100 row loss"),
        &run.row_loss,
        &[0.0, 0.0, 100.0, 100.0],
        1e-6,
        1e-6,
    );
    assert_close(
        &format!("{name} BCE ±100 dscores"),
        &run.dscores,
        &[0.0, 0.0, 0.25, -0.25],
        1e-6,
        1e-6,
    );
    assert_eq!(run.stats[3], 2.0, "{name}: BCE correct count");
}

test_device!(
    check_extreme,
    extreme_logits_ties_and_edge_labels_cpu,
    extreme_logits_ties_and_edge_labels_gpu
);

/// A label past the classes is refused before anything reaches the device.
fn out_of_range_labels_are_rejected<B: Backend>(name: &str, b: &B) {
    let run = || -> lintrain::Result<()> {
        let scores = b.upload(&[0.0; 6])?;
        let labels = b.upload_indices(&[0, 3])?;
        let (mut d, mut r, mut s) = (b.zeros(6)?, b.zeros(2)?, b.zeros(2)?);
        b.loss(
            &Loss::softmax(),
            &scores,
            Targets::Classes {
                labels: &labels,
                class_weights: None,
            },
            2,
            3,
            LossOutputs {
                dscores: &mut d,
                row_loss: &mut r,
                stats: &mut s,
                slot: 0,
            },
        )
    };
    let err = run().unwrap_err();
    assert!(
        matches!(err, lintrain::Error::LabelOutOfRange { .. }),
        "{name}: {err}"
    );
}

test_device!(
    out_of_range_labels_are_rejected,
    out_of_range_labels_are_rejected_before_the_device_cpu,
    out_of_range_labels_are_rejected_before_the_device_gpu
);

fn reductions_on<B: Backend>(
    b: &B,
    x: &[f32],
    rows: usize,
    cols: usize,
    labels: &[u32],
) -> (Vec<f32>, Vec<u32>) {
    let xb = b.upload(x).unwrap();
    let mut out = b.upload(&nan_vec(4)).unwrap();
    b.sum(&xb, x.len(), false, &mut out, 0).unwrap();
    b.sum(&xb, x.len(), true, &mut out, 1).unwrap();
    let mut predicted = b.upload_indices(&vec![u32::MAX; rows]).unwrap();
    b.argmax_rows(&xb, rows, cols, &mut predicted).unwrap();
    let labels = b.upload_indices(labels).unwrap();
    b.accuracy(&predicted, &labels, rows, &mut out, 2).unwrap();
    (b.read(&out).unwrap(), b.read_indices(&predicted).unwrap())
}

#[test]
fn reductions_match_cpu_and_are_deterministic() {
    let cpu = CpuBackend::new();
    let Some(gpu) = gpu() else { return };
    let mut rng = rng(6);
    for (rows, cols) in [(1, 1), (7, 3), (63, 65), (257, 10), (3073, 7)] {
        let mut x = random_vec(&mut rng, rows * cols, 2.0);
        if rows > 1 {
            // A tie: the first maximum wins.
            x[cols] = 5.0;
            if cols > 1 {
                x[cols + 1] = 5.0;
            }
        }
        let labels = random_labels(&mut rng, rows, cols);
        let (expected, expected_argmax) = reductions_on(&cpu, &x, rows, cols, &labels);
        let (actual, actual_argmax) = reductions_on(&gpu, &x, rows, cols, &labels);
        assert_eq!(actual_argmax, expected_argmax, "argmax {rows}x{cols}");
        assert_close(
            &format!("sum/mean/accuracy {rows}x{cols}"),
            &actual[..3],
            &expected[..3],
            1e-5,
            1e-5,
        );
        assert!(actual[3].is_nan(), "reduction wrote an extra slot");
        let (again, _) = reductions_on(&gpu, &x, rows, cols, &labels);
        assert_eq!(
            again[..3],
            actual[..3],
            "GPU reductions are not bitwise repeatable"
        );
    }
}

fn gather_on<B: Backend>(
    b: &B,
    x: &Array2<f32>,
    labels: &[u32],
    indices: &[u32],
    first: usize,
    count: usize,
) -> (Vec<f32>, Vec<u32>) {
    let cols = x.ncols();
    let rows = b.upload_rows(x.view()).unwrap();
    let source_labels = b.upload_indices(labels).unwrap();
    let indices = b.upload_indices(indices).unwrap();
    let mut out = b.upload(&nan_vec(count * cols + 1)).unwrap();
    let mut out_labels = b.upload_indices(&vec![u32::MAX; count + 1]).unwrap();
    b.gather(
        &rows,
        Some((&source_labels, &mut out_labels)),
        &indices,
        first,
        count,
        &mut out,
    )
    .unwrap();
    (b.read(&out).unwrap(), b.read_indices(&out_labels).unwrap())
}

#[test]
fn gather_matches_cpu_including_datasets_split_over_many_bindings() {
    let cpu = CpuBackend::new();
    let mut rng = rng(7);
    for (n, cols) in [(1, 1), (65, 7), (257, 63), (63, 3073)] {
        let x = Array2::from_shape_vec((n, cols), random_vec(&mut rng, n * cols, 1.0)).unwrap();
        let labels = random_labels(&mut rng, n, 10);
        let indices = random_labels(&mut rng, 3 + 2 * n, n);
        let count = 2 * n;
        let (expected, expected_labels) = gather_on(&cpu, &x, &labels, &indices, 3, count);
        // Small binding caps force 1, several, and more than four chunks
        // (two gather dispatches).
        for cap in [None, Some(7), Some(2)] {
            let options = lintrain::gpu::GpuOptions {
                max_chunk_rows: cap,
                ..Default::default()
            };
            let Some(gpu) = gpu_with_options(options) else {
                return;
            };
            let (actual, actual_labels) = gather_on(&gpu, &x, &labels, &indices, 3, count);
            let what = format!("gather {n}x{cols} cap {cap:?}");
            assert_close(
                &what,
                &actual[..count * cols],
                &expected[..count * cols],
                0.0,
                0.0,
            );
            assert!(actual[count * cols].is_nan(), "{what}: wrote past count");
            assert_eq!(
                actual_labels[..count],
                expected_labels[..count],
                "{what}: labels"
            );
            assert_eq!(
                actual_labels[count],
                u32::MAX,
                "{what}: wrote a label past count"
            );
        }
    }
}

/// Row index 5 of a 5-row dataset: a typed error naming both.
fn gather_rejects_out_of_range<B: Backend>(name: &str, b: &B) {
    let x = Array2::<f32>::zeros((5, 3));
    let rows = b.upload_rows(x.view()).unwrap();
    let indices = b.upload_indices(&[0, 5]).unwrap();
    let mut out = b.zeros(6).unwrap();
    let err = b.gather(&rows, None, &indices, 0, 2, &mut out).unwrap_err();
    assert!(
        matches!(
            err,
            lintrain::Error::IndexOutOfRange {
                index: 5,
                rows: 5,
                ..
            }
        ),
        "{name}: {err}"
    );
}

test_device!(
    gather_rejects_out_of_range,
    gather_rejects_out_of_range_indices_cpu,
    gather_rejects_out_of_range_indices_gpu
);

#[test]
fn oversized_buffers_are_rejected_with_the_limit_named() {
    let Some(gpu) = gpu_with(None, Some(1024)) else {
        return;
    };
    let err = gpu.zeros(257).unwrap_err();
    match err {
        lintrain::Error::BufferTooLarge {
            requested, limit, ..
        } => {
            assert_eq!(requested, 1028);
            assert_eq!(limit, 1024);
        }
        other => panic!("expected BufferTooLarge, got {other}"),
    }
    let wide = Array2::<f32>::zeros((2, 300));
    assert!(matches!(
        gpu.upload_rows(wide.view()),
        Err(lintrain::Error::BufferTooLarge { .. })
    ));
    // A dataset larger than one binding is split, not rejected.
    let tall = Array2::<f32>::zeros((1000, 7));
    let rows = gpu.upload_rows(tall.view()).unwrap();
    assert!(rows.chunk_count() > 1, "expected a split dataset");
}

/// What a linear step reads its targets from.
enum StepTargets {
    Labels(Vec<u32>, Option<Vec<f32>>),
    Values(Array2<f32>),
}

/// One linear step (fused or the unfused composition) on `b`: returns the
/// stats buffer (three slots, written at slot 1) and the gradient buffer
/// (one spare NaN value at the end), both NaN-prefilled.
#[allow(clippy::too_many_arguments)]
fn linear_step_on<B: Backend>(
    b: &B,
    fused: bool,
    loss: &Loss,
    x: &Array2<f32>,
    targets: &StepTargets,
    indices: &[u32],
    rows: usize,
    params: &[f32],
    with_grads: bool,
) -> (Vec<f32>, Vec<f32>) {
    use lintrain::backend::{LinearStep, ResidentTargets, unfused_linear_step};
    let d = x.ncols();
    let c = params.len() / (d + 1);
    let x_rows = b.upload_rows(x.view()).unwrap();
    let index_buffer = b.upload_indices(indices).unwrap();
    let params = b.upload(params).unwrap();
    let mut grads = b.upload(&nan_vec(d * c + c + 1)).unwrap();
    let mut stats = b.upload(&nan_vec(6)).unwrap();
    let labels;
    let weights;
    let values;
    let resident = match targets {
        StepTargets::Labels(l, w) => {
            labels = b.upload_indices(l).unwrap();
            weights = w.as_ref().map(|w| b.upload(w).unwrap());
            ResidentTargets::Classes {
                labels: &labels,
                class_weights: weights.as_ref(),
            }
        }
        StepTargets::Values(v) => {
            values = b.upload_rows(v.view()).unwrap();
            ResidentTargets::Values(&values)
        }
    };
    let step = LinearStep {
        loss,
        x: &x_rows,
        targets: resident,
        indices: &index_buffer,
        first: 2,
        rows,
        outputs: c,
    };
    let grads_arg = with_grads.then_some(&mut grads);
    if fused {
        b.linear_step(step, &params, grads_arg, &mut stats, 1)
            .unwrap();
    } else {
        unfused_linear_step(b, step, &params, grads_arg, &mut stats, 1).unwrap();
    }
    (b.read(&stats).unwrap(), b.read(&grads).unwrap())
}

#[test]
fn fused_linear_step_matches_cpu_for_every_loss_and_odd_shapes() {
    let cpu = CpuBackend::new();
    let mut gpus = Vec::new();
    for cap in [None, Some(7)] {
        let options = lintrain::gpu::GpuOptions {
            max_chunk_rows: cap,
            ..Default::default()
        };
        if let Some(gpu) = gpu_with_options(options) {
            gpus.push((cap, gpu));
        }
    }
    let mut rng = rng(11);
    // (dataset rows, features, outputs, batch rows)
    let shapes = [
        (1, 1, 1, 1),
        (65, 7, 3, 63),
        (70, 63, 10, 65),
        (260, 3073, 10, 257),
    ];
    for &(n, d, c, rows) in &shapes {
        let x = Array2::from_shape_vec((n, d), random_vec(&mut rng, n * d, 1.0)).unwrap();
        let indices = random_labels(&mut rng, rows + 3, n);
        let params = random_vec(&mut rng, d * c + c, 0.1);
        let classes = c.max(2);
        let labels = random_labels(&mut rng, n, classes);
        let weights = random_vec(&mut rng, c, 1.0)
            .iter()
            .map(|w| w.abs() + 0.5)
            .collect::<Vec<f32>>();
        let values = Array2::from_shape_vec((n, c), random_vec(&mut rng, n * c, 1.0)).unwrap();
        let mut cases: Vec<(Loss, StepTargets)> = vec![
            (Loss::softmax(), StepTargets::Labels(labels.clone(), None)),
            (
                Loss::SoftmaxCrossEntropy {
                    label_smoothing: 0.1,
                },
                StepTargets::Labels(labels.clone(), Some(weights.clone())),
            ),
            (Loss::hinge(), StepTargets::Labels(labels.clone(), None)),
            (
                Loss::SquaredHinge { margin: 0.5 },
                StepTargets::Labels(labels.clone(), None),
            ),
            (
                Loss::MeanSquaredError,
                StepTargets::Labels(labels.clone(), None),
            ),
            (Loss::MeanSquaredError, StepTargets::Values(values.clone())),
            (Loss::Logistic, StepTargets::Labels(labels.clone(), None)),
        ];
        if c == 1 {
            // One output: only the binary losses are meaningful.
            cases.retain(|(loss, _)| !loss.is_classification() || *loss == Loss::Logistic);
            cases.push((
                Loss::Logistic,
                StepTargets::Values(values.mapv(|v| (v > 0.0) as u8 as f32)),
            ));
        }
        if d > 1000 {
            // Keep the wide shape to one loss per kind of targets (test time).
            cases.retain(|(loss, targets)| {
                *loss == Loss::softmax() || matches!(targets, StepTargets::Values(_))
            });
        }
        for (loss, targets) in &cases {
            for with_grads in [true, false] {
                let (stats, grads) = linear_step_on(
                    &cpu, false, loss, &x, targets, &indices, rows, &params, with_grads,
                );
                let scale = grads[..d * c + c]
                    .iter()
                    .filter(|g| g.is_finite())
                    .fold(0.0f32, |m, g| m.max(g.abs()));
                for (cap, gpu) in &gpus {
                    let what = format!(
                        "fused {} {n}x{d} C={c} rows={rows} cap={cap:?} grads={with_grads} real={}",
                        loss.name(),
                        matches!(targets, StepTargets::Values(_))
                    );
                    let (gpu_stats, gpu_grads) = linear_step_on(
                        gpu, true, loss, &x, targets, &indices, rows, &params, with_grads,
                    );
                    assert!(
                        gpu_stats[0].is_nan() && gpu_stats[1].is_nan(),
                        "{what}: wrote slot 0"
                    );
                    assert!(
                        gpu_stats[4].is_nan() && gpu_stats[5].is_nan(),
                        "{what}: wrote slot 2"
                    );
                    assert_close(
                        &format!("{what} stats"),
                        &gpu_stats[2..4],
                        &stats[2..4],
                        1e-3,
                        1e-5,
                    );
                    if with_grads {
                        assert_close(
                            &format!("{what} grads"),
                            &gpu_grads[..d * c + c],
                            &grads[..d * c + c],
                            2e-3,
                            1e-4 * scale + 1e-7,
                        );
                    } else {
                        assert!(
                            gpu_grads[..d * c + c].iter().all(|g| g.is_nan()),
                            "{what}: wrote grads"
                        );
                    }
                    assert!(
                        gpu_grads[d * c + c].is_nan(),
                        "{what}: wrote past the gradient"
                    );
                }
            }
        }
    }
}

#[test]
fn fused_steps_in_steady_state_allocate_nothing_and_read_nothing_back() {
    use lintrain::backend::{LinearStep, ResidentTargets};
    let Some(gpu) = gpu() else {
        return;
    };
    let mut rng = rng(12);
    let (n, d, c, rows) = (300, 3073, 10, 200);
    let x = Array2::from_shape_vec((n, d), random_vec(&mut rng, n * d, 1.0)).unwrap();
    let x_rows = gpu.upload_rows(x.view()).unwrap();
    let labels = gpu.upload_indices(&random_labels(&mut rng, n, c)).unwrap();
    let indices = gpu
        .upload_indices(&random_labels(&mut rng, 2 * rows, n))
        .unwrap();
    let params = gpu.upload(&random_vec(&mut rng, d * c + c, 0.1)).unwrap();
    let mut grads = gpu.zeros(d * c + c).unwrap();
    let mut stats = gpu.zeros(4).unwrap();
    let loss = Loss::softmax();
    let mut step = |first: usize, slot: usize| {
        let step = LinearStep {
            loss: &loss,
            x: &x_rows,
            targets: ResidentTargets::Classes {
                labels: &labels,
                class_weights: None,
            },
            indices: &indices,
            first,
            rows,
            outputs: c,
        };
        gpu.linear_step(step, &params, Some(&mut grads), &mut stats, slot)
            .unwrap();
    };
    step(0, 0);
    let before = gpu.counters();
    step(rows, 1);
    let after = gpu.counters();
    assert_eq!(
        after.buffer_allocations, before.buffer_allocations,
        "allocated in a steady step"
    );
    assert_eq!(
        after.bind_groups, before.bind_groups,
        "created bind groups in a steady step"
    );
    assert_eq!(after.readbacks, before.readbacks, "read back in a step");
    assert_eq!(after.submissions, before.submissions, "submitted in a step");
    assert!(
        after.dispatches - before.dispatches <= 2,
        "{} dispatches",
        after.dispatches - before.dispatches
    );
    let stats = gpu.read(&stats).unwrap();
    assert!(stats.iter().all(|s| s.is_finite()), "{stats:?}");
}

/// `axpby` over the first `len` values of buffers two longer, `y` prefilled
/// with `y_fill` (its tail stays NaN), read back whole.
fn axpby_on<B: Backend>(
    b: &B,
    alpha: f32,
    x: &[f32],
    beta: f32,
    y_fill: &[f32],
    len: usize,
) -> Vec<f32> {
    let x = b.upload(x).unwrap();
    let mut y = b.upload(y_fill).unwrap();
    b.axpby(alpha, &x, beta, &mut y, len).unwrap();
    b.read(&y).unwrap()
}

/// The plain formula, term by term in f32, as the CPU twin computes it.
fn axpby_expected(alpha: f32, x: &[f32], beta: f32, y: &[f32], len: usize) -> Vec<f32> {
    let mut out = y.to_vec();
    for i in 0..len {
        out[i] = if beta == 0.0 {
            alpha * x[i]
        } else {
            alpha * x[i] + beta * y[i]
        };
    }
    out
}

#[test]
fn axpby_matches_cpu_on_odd_lengths() {
    let cpu = CpuBackend::new();
    let gpu = gpu();
    let mut rng = rng(13);
    for len in [1, 7, 63, 65, 257, 3073] {
        let x = random_vec(&mut rng, len + 2, 4.0);
        // Whole numbers: every product and sum is exact in f32, so the
        // device must match bit for bit whether or not it fuses them.
        let whole_x: Vec<f32> = x.iter().map(|v| v.round()).collect();
        let mut y = random_vec(&mut rng, len + 2, 4.0);
        y[len..].fill(f32::NAN);
        let whole_y: Vec<f32> = y.iter().map(|v| v.round()).collect();
        let cases = [
            ("β = 0 over NaN", 0.75, &x, 0.0, nan_vec(len + 2), false),
            ("β = 1", 0.3, &x, 1.0, y.clone(), false),
            ("α, β arbitrary", -1.7, &x, 0.45, y.clone(), false),
            ("whole numbers", 3.0, &whole_x, -2.0, whole_y.clone(), true),
            (
                "whole numbers, β = 0 over NaN",
                -5.0,
                &whole_x,
                0.0,
                nan_vec(len + 2),
                true,
            ),
        ];
        for (what, alpha, x, beta, y, exact) in cases {
            let what = format!("axpby {what}, len {len}");
            let expected = axpby_expected(alpha, x, beta, &y, len);
            let mut backends: Vec<(&str, Vec<f32>)> =
                vec![("cpu", axpby_on(&cpu, alpha, x, beta, &y, len))];
            if let Some(gpu) = &gpu {
                backends.push(("gpu", axpby_on(gpu, alpha, x, beta, &y, len)));
            }
            for (device, actual) in backends {
                let what = format!("{device} {what}");
                assert!(
                    actual[len..].iter().all(|v| v.is_nan()),
                    "{what}: wrote past len: {:?}",
                    &actual[len..]
                );
                if exact {
                    for (i, (a, e)) in actual[..len].iter().zip(&expected).enumerate() {
                        assert!(a == e, "{what}: index {i}: got {a}, expected {e}");
                    }
                } else {
                    // One rounding of a fused multiply-add apart at most.
                    assert_close(&what, &actual[..len], &expected[..len], 1e-6, 1e-6);
                }
            }
        }
    }
}

/// A length past either buffer: a typed error before the device, and `y`
/// left as it was.
fn axpby_rejects_short_buffers<B: Backend>(name: &str, b: &B) {
    let short = b.upload(&[1.0; 6]).unwrap();
    let mut long = b.upload(&[2.0; 8]).unwrap();
    let long_x = b.upload(&[3.0; 8]).unwrap();
    let mut short_y = b.upload(&[4.0; 6]).unwrap();
    for (what, result) in [
        ("x", b.axpby(1.0, &short, 1.0, &mut long, 7)),
        ("y", b.axpby(1.0, &long_x, 0.0, &mut short_y, 7)),
    ] {
        let err = result.unwrap_err();
        assert!(
            matches!(err, lintrain::Error::ShapeMismatch { op: "axpby", .. }),
            "{name}: a short {what}: {err}"
        );
    }
    assert_eq!(b.read(&long).unwrap(), [2.0; 8], "{name}: y changed");
    assert_eq!(b.read(&short_y).unwrap(), [4.0; 6], "{name}: y changed");
}

test_device!(
    axpby_rejects_short_buffers,
    axpby_rejects_short_buffers_cpu,
    axpby_rejects_short_buffers_gpu
);
