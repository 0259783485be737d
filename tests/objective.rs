//! The full-batch objective (`lintrain::objective`) on each backend against
//! the same objective written in f64 here: every loss, class weights, real
//! targets, row counts that are not a multiple of the chunk size; bitwise
//! repeatable; on the GPU one readback and no allocation per evaluation.

mod common;

use common::*;
use lintrain::backend::{Backend, ResidentTargets};
use lintrain::cpu::StepKernels;
use lintrain::cpu::reference::{RowTargets, loss_rows};
use lintrain::{
    CpuBackend, Error, FullBatch, FullBatchObjective, Loss, Objective, ObjectiveValue, Regularizer,
};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

/// A problem on the host: rows, targets, loss, outputs, λ₂.
struct Problem {
    x: Array2<f32>,
    targets: HostTargets,
    loss: Loss,
    outputs: usize,
    l2: f64,
}

enum HostTargets {
    Classes {
        labels: Vec<u32>,
        class_weights: Option<Vec<f32>>,
    },
    Values(Array2<f32>),
}

/// What the f64 reference computes.
struct Reference {
    value: f64,
    data_loss: f64,
    gradient: Vec<f64>,
    correct: usize,
}

/// The objective of `lintrain::objective`'s rustdoc, in f64: the mean row
/// loss (`loss_rows`, the f64 reference math), `dW = Xᵀ·dS`, `db = Σ dS`,
/// plus `λ₂·ΣW²` on the weights only.
fn reference(problem: &Problem, params: &[f64]) -> Reference {
    let (d, c) = (problem.x.ncols(), problem.outputs);
    let x = problem.x.mapv(|v| v as f64);
    let w = ArrayView2::from_shape((d, c), &params[..d * c]).unwrap();
    let b = ArrayView1::from(&params[d * c..]);
    let scores = x.dot(&w) + b;
    let weights64;
    let values64;
    let targets = match &problem.targets {
        HostTargets::Classes {
            labels,
            class_weights,
        } => {
            weights64 = class_weights
                .as_ref()
                .map(|w| Array1::from_iter(w.iter().map(|&v| v as f64)));
            RowTargets::Classes {
                labels,
                class_weights: weights64.as_ref().map(|w| w.view()),
            }
        }
        HostTargets::Values(values) => {
            values64 = values.mapv(|v| v as f64);
            RowTargets::Values(values64.view())
        }
    };
    let result = loss_rows(&problem.loss, scores.view(), &targets);
    let data_loss = result.row_loss.sum() / x.nrows() as f64;
    let dw = x.t().dot(&result.dscores);
    let db = result.dscores.sum_axis(Axis(0));
    let mut gradient: Vec<f64> = dw.iter().copied().collect();
    gradient.extend(db.iter());
    let mut penalty = 0.0;
    for (g, &w) in gradient.iter_mut().zip(&params[..d * c]) {
        penalty += problem.l2 * w * w;
        *g += 2.0 * problem.l2 * w;
    }
    Reference {
        value: data_loss + penalty,
        data_loss,
        gradient,
        correct: result.correct,
    }
}

/// The problem's data on `backend`, kept for the objective to borrow.
struct Resident<B: Backend> {
    x: B::Rows,
    labels: Option<B::Indices>,
    class_weights: Option<B::Buffer>,
    values: Option<B::Rows>,
}

impl<B: Backend> Resident<B> {
    fn new(backend: &B, problem: &Problem) -> Self {
        let x = backend.upload_rows(problem.x.view()).unwrap();
        match &problem.targets {
            HostTargets::Classes {
                labels,
                class_weights,
            } => Self {
                x,
                labels: Some(backend.upload_indices(labels).unwrap()),
                class_weights: class_weights.as_ref().map(|w| backend.upload(w).unwrap()),
                values: None,
            },
            HostTargets::Values(values) => Self {
                x,
                labels: None,
                class_weights: None,
                values: Some(backend.upload_rows(values.view()).unwrap()),
            },
        }
    }

    fn data(&self, problem: &Problem) -> FullBatch<'_, B> {
        let targets = match (&self.labels, &self.values) {
            (Some(labels), _) => ResidentTargets::Classes {
                labels,
                class_weights: self.class_weights.as_ref(),
            },
            (None, Some(values)) => ResidentTargets::Values(values),
            (None, None) => unreachable!(),
        };
        FullBatch {
            loss: problem.loss,
            x: &self.x,
            targets,
            outputs: problem.outputs,
        }
    }
}

/// Every loss with the kinds of targets it takes, C = 1, 3 and 10, with
/// and without class weights.
fn problems(rows: usize, features: usize, seed: u64) -> Vec<(String, Problem)> {
    let mut rng = rng(seed);
    let mut out = Vec::new();
    let losses = [
        Loss::softmax(),
        Loss::SoftmaxCrossEntropy {
            label_smoothing: 0.1,
        },
        Loss::SquaredHinge { margin: 1.0 },
        Loss::hinge(),
        Loss::MeanSquaredError,
        Loss::Logistic,
    ];
    for loss in losses {
        // One column per class, and one for two classes where the loss
        // allows it (logistic's default, MSE's 0/1 target).
        let shapes = [(2, 1), (2, 2), (3, 3), (10, 10)]
            .into_iter()
            .filter(|&(classes, outputs)| loss.fits_outputs(classes, outputs));
        for (classes, outputs) in shapes {
            for weighted in [false, true] {
                let x = Array2::from_shape_vec(
                    (rows, features),
                    random_vec(&mut rng, rows * features, 1.0),
                )
                .unwrap();
                let labels = random_labels(&mut rng, rows, classes);
                let class_weights = weighted.then(|| {
                    (0..outputs)
                        .map(|j| 0.5 + j as f32 * 0.25)
                        .collect::<Vec<_>>()
                });
                out.push((
                    format!(
                        "{} C={outputs} classes={classes}{}",
                        loss.name(),
                        if weighted { " weighted" } else { "" }
                    ),
                    Problem {
                        x,
                        targets: HostTargets::Classes {
                            labels,
                            class_weights,
                        },
                        loss,
                        outputs,
                        l2: 0.03125,
                    },
                ));
            }
        }
        if loss.takes_real_targets() {
            for outputs in [1, 3] {
                let x = Array2::from_shape_vec(
                    (rows, features),
                    random_vec(&mut rng, rows * features, 1.0),
                )
                .unwrap();
                // In [0, 1], as logistic targets must be.
                let values = random_vec(&mut rng, rows * outputs, 0.5)
                    .into_iter()
                    .map(|v| v + 0.5)
                    .collect();
                out.push((
                    format!("{} C={outputs} real targets", loss.name()),
                    Problem {
                        x,
                        targets: HostTargets::Values(
                            Array2::from_shape_vec((rows, outputs), values).unwrap(),
                        ),
                        loss,
                        outputs,
                        l2: 0.001,
                    },
                ));
            }
        }
    }
    out
}

fn random_params(problem: &Problem, seed: u64) -> Vec<f64> {
    let p = (problem.x.ncols() + 1) * problem.outputs;
    random_vec(&mut rng(seed), p, 0.5)
        .into_iter()
        .map(f64::from)
        .collect()
}

/// Worst errors of an evaluation against the reference: of the value
/// relative to max(1, |f|), of the gradient relative to max(1, ‖∇f‖∞).
#[derive(Clone, Copy, Debug, Default)]
struct Errors {
    value: f64,
    gradient: f64,
}

impl Errors {
    fn max(self, other: Errors) -> Errors {
        Errors {
            value: self.value.max(other.value),
            gradient: self.gradient.max(other.gradient),
        }
    }
}

/// f32 kernels against f64: the tolerances, relative to max(1, |f|) and
/// max(1, ‖∇f‖∞). Measured worst (both backends): 2e-7 for the value,
/// 1.6e-6 for the gradient (the CPU's hinge, N = 1003 in one chunk: f32
/// sums of rows that cancel).
const VALUE_TOLERANCE: f64 = 1e-6;
const GRADIENT_TOLERANCE: f64 = 1e-5;

#[track_caller]
fn check_against_reference(
    what: &str,
    problem: &Problem,
    params: &[f64],
    value: ObjectiveValue,
    gradient: &[f64],
) -> Errors {
    let expected = reference(problem, params);
    let value_scale = expected.value.abs().max(1.0);
    let value_error = (value.objective - expected.value).abs() / value_scale;
    assert!(
        value_error <= VALUE_TOLERANCE,
        "{what}: objective {} but f64 gives {} (relative error {value_error:e})",
        value.objective,
        expected.value
    );
    assert!(
        (value.data_loss - expected.data_loss).abs() <= VALUE_TOLERANCE * value_scale,
        "{what}: data loss {} but f64 gives {}",
        value.data_loss,
        expected.data_loss
    );
    assert!(
        (value.objective - value.data_loss - value.penalty).abs() <= 1e-12 * value_scale,
        "{what}: objective ≠ data loss + penalty: {value:?}"
    );
    assert_eq!(value.correct, expected.correct, "{what}: correct count");
    let scale = expected.gradient.iter().fold(1.0f64, |m, g| m.max(g.abs()));
    let mut gradient_error = 0.0f64;
    for (i, (&a, &e)) in gradient.iter().zip(&expected.gradient).enumerate() {
        let error = (a - e).abs() / scale;
        assert!(
            error <= GRADIENT_TOLERANCE,
            "{what}: gradient index {i}: got {a}, f64 gives {e} \
             (error {error:e} of max(1, ‖∇f‖∞) = {scale})"
        );
        gradient_error = gradient_error.max(error);
    }
    Errors {
        value: value_error,
        gradient: gradient_error,
    }
}

/// Evaluates every problem of `rows` rows on `backend`, with the default
/// chunks and with chunks of `small_chunk` rows, against the reference,
/// and twice to check that the results repeat bit for bit.
fn every_loss_matches_f64<B: Backend>(
    name: &str,
    backend: &B,
    rows: usize,
    small_chunk: usize,
) -> Errors {
    let mut worst = Errors::default();
    for (what, problem) in problems(rows, 13, rows as u64) {
        let resident = Resident::new(backend, &problem);
        let params = random_params(&problem, 7);
        let default = FullBatchObjective::new(backend, resident.data(&problem), problem.l2);
        let small = FullBatchObjective::with_chunk_rows(
            backend,
            resident.data(&problem),
            problem.l2,
            small_chunk,
        );
        for mut objective in [default.unwrap(), small.unwrap()] {
            let what = format!(
                "{name} {what} N={rows} in {} chunks of {}",
                objective.chunks(),
                objective.chunk_rows()
            );
            let mut gradient = vec![f64::NAN; objective.dimension()];
            let value = objective.evaluate(&params, Some(&mut gradient)).unwrap();
            worst = worst.max(check_against_reference(
                &what, &problem, &params, value, &gradient,
            ));
            let mut again = vec![f64::NAN; objective.dimension()];
            let repeated = objective.evaluate(&params, Some(&mut again)).unwrap();
            assert_eq!(
                repeated.objective.to_bits(),
                value.objective.to_bits(),
                "{what}: objective not repeatable"
            );
            for (i, (a, b)) in again.iter().zip(&gradient).enumerate() {
                assert_eq!(
                    a.to_bits(),
                    b.to_bits(),
                    "{what}: gradient index {i} not repeatable: {a} then {b}"
                );
            }
            let value_only = objective.evaluate(&params, None).unwrap();
            assert_eq!(value_only, value, "{what}: without the gradient");
        }
    }
    worst
}

fn cpu_backends() -> Vec<(&'static str, CpuBackend)> {
    vec![
        ("cpu", CpuBackend::new()),
        (
            "cpu unfused",
            CpuBackend::new().with_step_kernels(StepKernels::Unfused),
        ),
    ]
}

#[test]
fn every_loss_matches_f64_on_the_cpu() {
    for (name, cpu) in cpu_backends() {
        let mut worst = Errors::default();
        for (rows, small_chunk) in [(1, 1), (7, 3), (1003, 64)] {
            worst = worst.max(every_loss_matches_f64(name, &cpu, rows, small_chunk));
        }
        eprintln!("{name}: worst relative errors against f64: {worst:?}");
    }
}

#[test]
fn every_loss_matches_f64_on_the_gpu() {
    let Some(gpu) = gpu() else { return };
    let mut worst = Errors::default();
    for (rows, small_chunk) in [(1, 1), (7, 3), (1003, 64)] {
        worst = worst.max(every_loss_matches_f64("gpu", &gpu, rows, small_chunk));
    }
    eprintln!("gpu: worst relative errors against f64: {worst:?}");
}

/// A pass over more rows than one fused GPU step takes, C = 10: several
/// chunks at the default size, the last one short.
fn several_default_chunks<B: Backend>(name: &str, backend: &B) {
    let rows = 2 * backend_chunk(backend, 9, 10) + 3;
    let problem = problems(rows, 9, 99)
        .into_iter()
        .find(|(what, _)| what == "softmax C=10 classes=10 weighted")
        .unwrap()
        .1;
    let resident = Resident::new(backend, &problem);
    let mut objective =
        FullBatchObjective::new(backend, resident.data(&problem), problem.l2).unwrap();
    assert_eq!(objective.chunks(), 3, "{name}: {rows} rows");
    let params = random_params(&problem, 3);
    let mut gradient = vec![f64::NAN; objective.dimension()];
    let value = objective.evaluate(&params, Some(&mut gradient)).unwrap();
    let errors = check_against_reference(name, &problem, &params, value, &gradient);
    eprintln!("{name}: N = {rows} in 3 chunks: {errors:?}");
}

/// The default chunk for `features` × `outputs` on `backend`.
fn backend_chunk<B: Backend>(backend: &B, features: usize, outputs: usize) -> usize {
    let probe = Array2::zeros((1 << 16, features));
    let rows = backend.upload_rows(probe.view()).unwrap();
    backend.preferred_step_rows(&rows, outputs)
}

#[test]
fn several_default_chunks_match_f64() {
    several_default_chunks("cpu", &CpuBackend::new());
    if let Some(gpu) = gpu() {
        several_default_chunks("gpu", &gpu);
    }
}

/// λ₂ as `Regularizer::L2` states it: the same objective as the gradient
/// check's `objective_and_gradient` (`λ·ΣW²`, the bias free).
#[test]
fn l2_follows_the_regularizer_convention_of_gradcheck() {
    let cpu = CpuBackend::new();
    let problem = problems(50, 4, 5)
        .into_iter()
        .find(|(what, _)| what == "softmax C=3 classes=3")
        .unwrap()
        .1;
    let HostTargets::Classes { labels, .. } = &problem.targets else {
        unreachable!()
    };
    let strength = 0.25f32;
    let regularizer = Regularizer::L2 { strength };
    let (_, l2) = regularizer.coefficients();
    let resident = Resident::new(&cpu, &problem);
    let mut objective = FullBatchObjective::new(&cpu, resident.data(&problem), l2 as f64).unwrap();
    let params = random_params(&problem, 11);
    let mut gradient = vec![0.0; objective.dimension()];
    let value = objective
        .value_and_gradient(&params, &mut gradient)
        .unwrap();
    let (expected, expected_gradient) = lintrain::gradcheck::objective_and_gradient(
        problem.x.mapv(|v| v as f64).view(),
        labels,
        &params,
        problem.outputs,
        &problem.loss,
        &regularizer,
    );
    assert!(
        (value - expected).abs() <= 1e-6 * expected.abs(),
        "{value} vs {expected}"
    );
    assert_close_f64(
        "gradient",
        &gradient.iter().map(|&g| g as f32).collect::<Vec<_>>(),
        &expected_gradient,
        1e-5,
        1e-6,
    );
    // The bias is not penalized: its gradient is the data gradient alone.
    let mut without = vec![0.0; params.len()];
    let unpenalized = FullBatchObjective::new(&cpu, resident.data(&problem), 0.0)
        .unwrap()
        .evaluate(&params, Some(&mut without))
        .unwrap();
    assert_eq!(unpenalized.penalty, 0.0);
    let d_times_c = problem.x.ncols() * problem.outputs;
    assert_eq!(gradient[d_times_c..], without[d_times_c..]);
}

#[test]
fn a_gpu_pass_is_one_submission_and_one_readback_and_allocates_nothing_after_the_first() {
    let Some(gpu) = gpu() else { return };
    let problem = problems(1003, 37, 21)
        .into_iter()
        .find(|(what, _)| what == "squared-hinge C=10 classes=10")
        .unwrap()
        .1;
    let resident = Resident::new(&gpu, &problem);
    for chunk_rows in [None, Some(100)] {
        let data = resident.data(&problem);
        let mut objective = match chunk_rows {
            None => FullBatchObjective::new(&gpu, data, problem.l2),
            Some(rows) => FullBatchObjective::with_chunk_rows(&gpu, data, problem.l2, rows),
        }
        .unwrap();
        let what = format!("{} chunks", objective.chunks());
        let mut gradient = vec![0.0; objective.dimension()];
        let params = random_params(&problem, 1);
        objective.evaluate(&params, Some(&mut gradient)).unwrap();
        let before = gpu.counters();
        let shifted: Vec<f64> = params.iter().map(|p| p * 0.5).collect();
        objective.evaluate(&shifted, Some(&mut gradient)).unwrap();
        let after = gpu.counters();
        assert_eq!(after.readbacks - before.readbacks, 1, "{what}: readbacks");
        assert_eq!(
            after.submissions - before.submissions,
            1,
            "{what}: submissions"
        );
        assert_eq!(
            after.buffer_allocations, before.buffer_allocations,
            "{what}: allocated in a later evaluation"
        );
        assert_eq!(
            after.bind_groups, before.bind_groups,
            "{what}: created bind groups in a later evaluation"
        );
        assert_eq!(
            after.fused_steps - before.fused_steps,
            objective.chunks() as u64,
            "{what}: every chunk runs the fused step"
        );
    }
}

/// The objective and gradient of `problem` at `params` on `backend`, at
/// its default chunks.
fn evaluate_on<B: Backend>(
    backend: &B,
    problem: &Problem,
    params: &[f64],
) -> (ObjectiveValue, Vec<f64>) {
    let resident = Resident::new(backend, problem);
    let mut objective =
        FullBatchObjective::new(backend, resident.data(problem), problem.l2).unwrap();
    let mut gradient = vec![f64::NAN; objective.dimension()];
    let value = objective.evaluate(params, Some(&mut gradient)).unwrap();
    (value, gradient)
}

#[test]
fn the_cpu_and_the_gpu_agree() {
    let Some(gpu) = gpu() else { return };
    let cpu = CpuBackend::new();
    for (what, problem) in problems(301, 11, 8) {
        let params = random_params(&problem, 4);
        let (cpu_value, cpu_gradient) = evaluate_on(&cpu, &problem, &params);
        let (gpu_value, gpu_gradient) = evaluate_on(&gpu, &problem, &params);
        assert_eq!(cpu_value.correct, gpu_value.correct, "{what}: correct");
        let scale = cpu_value.objective.abs().max(1.0);
        assert!(
            (cpu_value.objective - gpu_value.objective).abs() <= 2e-6 * scale,
            "{what}: cpu {} gpu {}",
            cpu_value.objective,
            gpu_value.objective
        );
        let gpu_f32: Vec<f32> = gpu_gradient.iter().map(|&g| g as f32).collect();
        assert_close_f64(&what, &gpu_f32, &cpu_gradient, 1e-5, 1e-6);
    }
}

#[test]
fn the_solver_trait_and_the_last_evaluation() {
    let cpu = CpuBackend::new();
    let problem = problems(20, 3, 2).into_iter().next().unwrap().1;
    let resident = Resident::new(&cpu, &problem);
    let mut objective = FullBatchObjective::new(&cpu, resident.data(&problem), problem.l2).unwrap();
    assert!(objective.last_evaluation().is_none());
    let params = random_params(&problem, 9);
    let as_solver_sees_it: &mut dyn Objective = &mut objective;
    assert_eq!(as_solver_sees_it.dimension(), (3 + 1) * problem.outputs);
    let mut gradient = vec![0.0; params.len()];
    let value = as_solver_sees_it
        .value_and_gradient(&params, &mut gradient)
        .unwrap();
    let (last_params, last) = objective.last_evaluation().unwrap();
    assert_eq!(last_params, &params[..]);
    assert_eq!(last.objective, value);
    assert_eq!(objective.rows(), 20);
    // A new λ₂ changes the penalty and forgets the last evaluation.
    objective.set_l2(0.5).unwrap();
    assert!(objective.last_evaluation().is_none());
    let heavier = objective.evaluate(&params, None).unwrap();
    assert!(heavier.penalty > last.penalty);
    assert_eq!(heavier.data_loss, last.data_loss);
}

#[test]
fn bad_inputs_are_typed_errors() {
    let cpu = CpuBackend::new();
    let x = Array2::from_shape_vec((4, 2), vec![0.5; 8]).unwrap();
    let rows = cpu.upload_rows(x.view()).unwrap();
    let labels = cpu.upload_indices(&[0, 1, 2, 3]).unwrap();
    let values = cpu
        .upload_rows(Array2::<f32>::zeros((4, 3)).view())
        .unwrap();
    let data = |loss: Loss, outputs: usize, real: bool| FullBatch {
        loss,
        x: &rows,
        targets: if real {
            ResidentTargets::Values(&values)
        } else {
            ResidentTargets::Classes {
                labels: &labels,
                class_weights: None,
            }
        },
        outputs,
    };
    let err = |result: lintrain::Result<FullBatchObjective<'_, CpuBackend>>| match result {
        Ok(_) => panic!("accepted"),
        Err(e) => e,
    };
    // Label 3 with 3 outputs: named with its row.
    let e = err(FullBatchObjective::new(
        &cpu,
        data(Loss::softmax(), 3, false),
        0.0,
    ));
    assert!(
        matches!(
            e,
            Error::LabelOutOfRange {
                row: 3,
                label: 3,
                ..
            }
        ),
        "{e}"
    );
    let e = err(FullBatchObjective::new(
        &cpu,
        data(Loss::softmax(), 3, true),
        0.0,
    ));
    assert!(matches!(e, Error::InvalidConfig(_)), "{e}");
    for l2 in [-1.0, f64::NAN, f64::INFINITY] {
        let e = err(FullBatchObjective::new(
            &cpu,
            data(Loss::MeanSquaredError, 3, true),
            l2,
        ));
        assert!(matches!(e, Error::InvalidConfig(_)), "λ₂ = {l2}: {e}");
    }
    let e = err(FullBatchObjective::with_chunk_rows(
        &cpu,
        data(Loss::MeanSquaredError, 3, true),
        0.0,
        0,
    ));
    assert!(matches!(e, Error::InvalidConfig(_)), "{e}");
    let mut objective =
        FullBatchObjective::new(&cpu, data(Loss::MeanSquaredError, 3, true), 0.0).unwrap();
    let p = objective.dimension();
    assert_eq!(p, 9);
    for (params, gradient) in [(p - 1, p), (p, p + 1)] {
        let e = objective
            .value_and_gradient(&vec![0.0; params], &mut vec![0.0; gradient])
            .unwrap_err();
        assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
    }
}

/// C = 20, past the GPU's fused step (at most 16 outputs): the unfused
/// composition computes each chunk, and the pass still matches f64.
#[test]
fn more_outputs_than_the_fused_step_takes() {
    let (rows, features, classes) = (1003, 6, 20);
    let mut rng = rng(31);
    let problem = Problem {
        x: Array2::from_shape_vec((rows, features), random_vec(&mut rng, rows * features, 1.0))
            .unwrap(),
        targets: HostTargets::Classes {
            labels: random_labels(&mut rng, rows, classes),
            class_weights: None,
        },
        loss: Loss::softmax(),
        outputs: classes,
        l2: 0.01,
    };
    let params = random_params(&problem, 2);
    fn both_chunkings<B: Backend>(
        backend: &B,
        problem: &Problem,
        params: &[f64],
    ) -> Vec<(ObjectiveValue, Vec<f64>)> {
        let resident = Resident::new(backend, problem);
        [None, Some(300)]
            .into_iter()
            .map(|chunk_rows| {
                let data = resident.data(problem);
                let mut objective = match chunk_rows {
                    None => FullBatchObjective::new(backend, data, problem.l2),
                    Some(rows) => {
                        FullBatchObjective::with_chunk_rows(backend, data, problem.l2, rows)
                    }
                }
                .unwrap();
                let mut gradient = vec![f64::NAN; objective.dimension()];
                let value = objective.evaluate(params, Some(&mut gradient)).unwrap();
                (value, gradient)
            })
            .collect()
    }
    let cpu = CpuBackend::new();
    for (value, gradient) in both_chunkings(&cpu, &problem, &params) {
        check_against_reference("cpu C=20", &problem, &params, value, &gradient);
    }
    if let Some(gpu) = gpu() {
        let before = gpu.counters().fused_steps;
        for (value, gradient) in both_chunkings(&gpu, &problem, &params) {
            check_against_reference("gpu C=20", &problem, &params, value, &gradient);
        }
        assert_eq!(gpu.counters().fused_steps, before, "C = 20 ran fused");
    }
}
