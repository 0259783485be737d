//! The CPU backend's own kernels: the fused linear step against the unfused
//! operations and an f64 computation, for every loss and odd shapes, bitwise
//! equal whatever the thread count, with the SIMD and the portable kernels;
//! the unfused steps a CPU without AVX2 runs; its bad-input errors; and no
//! heap allocation in steady state.

mod common;

use common::{assert_close, assert_close_f64, nan_vec, random_labels, random_vec, rng};
use lintrain::backend::{LinearStep, ResidentTargets, unfused_linear_step};
use lintrain::cpu::reference::{RowTargets, loss_rows};
use lintrain::cpu::{CpuIndices, Isa, StepKernels};
use lintrain::{Backend, CpuBackend, Error, Loss, Optimizer, Regularizer, UpdateStep};
use ndarray::{Array1, Array2};
use rand::Rng;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts heap allocations made by threads that opted in (the test thread
/// and the workers of the pool it measures), so other tests running at the
/// same time do not disturb the count.
struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTED.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTED.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// What a case's rows are compared against.
#[derive(Clone, Copy, Debug)]
enum TargetKind {
    Labels,
    WeightedLabels,
    Values,
}

/// A resident dataset and a step over it, with indices that repeat rows.
struct Case {
    loss: Loss,
    kind: TargetKind,
    rows: usize,
    d: usize,
    c: usize,
    x: Array2<f32>,
    labels: Vec<u32>,
    values: Array2<f32>,
    weights: Vec<f32>,
    /// The step reads `indices[first..first + rows]`.
    indices: Vec<u32>,
    first: usize,
    params: Vec<f32>,
}

impl Case {
    fn new(loss: Loss, kind: TargetKind, rows: usize, d: usize, c: usize, seed: u64) -> Self {
        let mut rng = rng(seed);
        let n = rows / 2 + 3;
        let x = Array2::from_shape_vec((n, d), random_vec(&mut rng, n * d, 1.0)).unwrap();
        let classes = if c == 1 { 2 } else { c };
        let labels = random_labels(&mut rng, n, classes);
        let values = Array2::from_shape_vec((n, c), random_vec(&mut rng, n * c, 1.0)).unwrap();
        let values = if matches!(loss, Loss::Logistic) {
            values.mapv(|v| (v + 1.0) / 2.0)
        } else {
            values
        };
        let weights = (0..c).map(|_| rng.random_range(0.25f32..2.0)).collect();
        // Fewer dataset rows than step rows, so rows repeat.
        let first = 3;
        let indices = (0..first + rows + 2)
            .map(|_| rng.random_range(0..n as u32))
            .collect();
        let scale = 1.0 / (d as f32).sqrt();
        let params = random_vec(&mut rng, d * c + c, scale);
        Self {
            loss,
            kind,
            rows,
            d,
            c,
            x,
            labels,
            values,
            weights,
            indices,
            first,
            params,
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} ({:?}) rows {} D {} C {}",
            self.loss.name(),
            self.kind,
            self.rows,
            self.d,
            self.c
        )
    }
}

/// The case uploaded to one backend.
struct Resident {
    x: Array2<f32>,
    labels: CpuIndices,
    values: Array2<f32>,
    weights: Vec<f32>,
    indices: CpuIndices,
}

impl Resident {
    fn new(backend: &CpuBackend, case: &Case) -> Self {
        Self {
            x: backend.upload_rows(case.x.view()).unwrap(),
            labels: backend.upload_indices(&case.labels).unwrap(),
            values: backend.upload_rows(case.values.view()).unwrap(),
            weights: backend.upload(&case.weights).unwrap(),
            indices: backend.upload_indices(&case.indices).unwrap(),
        }
    }

    fn step<'a>(&'a self, case: &'a Case) -> LinearStep<'a, CpuBackend> {
        let targets = match case.kind {
            TargetKind::Labels => ResidentTargets::Classes {
                labels: &self.labels,
                class_weights: None,
            },
            TargetKind::WeightedLabels => ResidentTargets::Classes {
                labels: &self.labels,
                class_weights: Some(&self.weights),
            },
            TargetKind::Values => ResidentTargets::Values(&self.values),
        };
        LinearStep {
            loss: &case.loss,
            x: &self.x,
            targets,
            indices: &self.indices,
            first: case.first,
            rows: case.rows,
            outputs: case.c,
        }
    }
}

/// Gradient (NaN-prefilled, with a tail past [dW | db] that must stay NaN)
/// and the stats pair of slot 1.
struct StepResult {
    grads: Vec<f32>,
    stats: Vec<f32>,
}

const GRAD_TAIL: usize = 3;

fn fused(backend: &CpuBackend, case: &Case, with_grads: bool) -> StepResult {
    let resident = Resident::new(backend, case);
    let mut grads = nan_vec(case.d * case.c + case.c + GRAD_TAIL);
    let mut stats = nan_vec(4);
    let params = backend.upload(&case.params).unwrap();
    backend
        .linear_step(
            resident.step(case),
            &params,
            with_grads.then_some(&mut grads),
            &mut stats,
            1,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", case.describe()));
    StepResult { grads, stats }
}

fn unfused(backend: &CpuBackend, case: &Case) -> StepResult {
    let resident = Resident::new(backend, case);
    let mut grads = nan_vec(case.d * case.c + case.c + GRAD_TAIL);
    let mut stats = nan_vec(4);
    let params = backend.upload(&case.params).unwrap();
    unfused_linear_step(
        backend,
        resident.step(case),
        &params,
        Some(&mut grads),
        &mut stats,
        1,
    )
    .unwrap_or_else(|e| panic!("{}: {e}", case.describe()));
    StepResult { grads, stats }
}

/// The step in f64: scores, the loss formulas, Xᵀ·dS and Σ dS written out.
fn expected_f64(case: &Case) -> (Vec<f64>, f64, f64) {
    let (rows, d, c) = (case.rows, case.d, case.c);
    let step_rows: Vec<usize> = case.indices[case.first..case.first + rows]
        .iter()
        .map(|&i| i as usize)
        .collect();
    let w = |f: usize, k: usize| case.params[f * c + k] as f64;
    let mut scores = Array2::<f64>::zeros((rows, c));
    for (r, &row) in step_rows.iter().enumerate() {
        for k in 0..c {
            let mut s = case.params[d * c + k] as f64;
            for f in 0..d {
                s += case.x[(row, f)] as f64 * w(f, k);
            }
            scores[(r, k)] = s;
        }
    }
    let labels: Vec<u32> = step_rows.iter().map(|&row| case.labels[row]).collect();
    let weights = Array1::from_iter(case.weights.iter().map(|&v| v as f64));
    let values = Array2::from_shape_fn((rows, c), |(r, k)| case.values[(step_rows[r], k)] as f64);
    let targets = match case.kind {
        TargetKind::Labels => RowTargets::Classes {
            labels: &labels,
            class_weights: None,
        },
        TargetKind::WeightedLabels => RowTargets::Classes {
            labels: &labels,
            class_weights: Some(weights.view()),
        },
        TargetKind::Values => RowTargets::Values(values.view()),
    };
    let result = loss_rows(&case.loss, scores.view(), &targets);
    let mut grads = vec![0.0f64; d * c + c];
    for (r, &row) in step_rows.iter().enumerate() {
        for k in 0..c {
            let g = result.dscores[(r, k)];
            for f in 0..d {
                grads[f * c + k] += case.x[(row, f)] as f64 * g;
            }
            grads[d * c + k] += g;
        }
    }
    let mean = result.row_loss.sum() / rows as f64;
    (grads, mean, result.correct as f64)
}

/// Every loss with the targets it takes and the output counts it makes sense for.
fn loss_cases() -> Vec<(Loss, TargetKind, Vec<usize>)> {
    vec![
        (Loss::softmax(), TargetKind::Labels, vec![2, 3, 10]),
        (
            Loss::SoftmaxCrossEntropy {
                label_smoothing: 0.1,
            },
            TargetKind::WeightedLabels,
            vec![2, 3, 10],
        ),
        (Loss::hinge(), TargetKind::Labels, vec![2, 3, 10]),
        (
            Loss::SquaredHinge { margin: 0.5 },
            TargetKind::Labels,
            vec![2, 3, 10],
        ),
        (Loss::MeanSquaredError, TargetKind::Labels, vec![1, 2, 10]),
        (Loss::MeanSquaredError, TargetKind::Values, vec![1, 3, 10]),
        (Loss::Logistic, TargetKind::Labels, vec![1, 3]),
        (Loss::Logistic, TargetKind::Values, vec![1, 2]),
    ]
}

/// (rows, D) pairs covering every odd size on both axes.
const SHAPES: [(usize, usize); 6] = [(1, 7), (7, 1), (63, 63), (65, 3073), (257, 7), (7, 3073)];

fn for_each_case(mut check: impl FnMut(&Case)) {
    let mut seed = 0;
    for (loss, kind, outputs) in loss_cases() {
        for &(rows, d) in &SHAPES {
            for &c in &outputs {
                seed += 1;
                check(&Case::new(loss, kind, rows, d, c, seed));
            }
        }
    }
}

fn check_step(backend: &CpuBackend, case: &Case) {
    let what = case.describe();
    let (d, c) = (case.d, case.c);
    let got = fused(backend, case, true);
    let reference = unfused(backend, case);
    let (grads64, mean64, correct64) = expected_f64(case);

    assert!(
        got.grads[d * c + c..].iter().all(|v| v.is_nan()),
        "{what}: wrote past [dW | db]"
    );
    assert!(
        got.stats[..2].iter().all(|v| v.is_nan()),
        "{what}: wrote outside its stats slot"
    );
    let grads = &got.grads[..d * c + c];
    assert_close(
        &format!("{what}: grads vs unfused"),
        grads,
        &reference.grads[..d * c + c],
        1e-4,
        1e-6,
    );
    assert_close_f64(
        &format!("{what}: grads vs f64"),
        grads,
        &grads64,
        1e-3,
        1e-5,
    );
    assert_close(
        &format!("{what}: mean loss vs unfused"),
        &got.stats[2..3],
        &reference.stats[2..3],
        1e-5,
        1e-6,
    );
    assert_close_f64(
        &format!("{what}: mean loss vs f64"),
        &got.stats[2..3],
        &[mean64],
        1e-4,
        1e-5,
    );
    assert_eq!(
        got.stats[3], reference.stats[3],
        "{what}: correct count vs unfused"
    );
    assert_eq!(
        got.stats[3] as f64, correct64,
        "{what}: correct count vs f64"
    );

    let no_grads = fused(backend, case, false);
    assert!(
        no_grads.grads.iter().all(|v| v.is_nan()),
        "{what}: wrote gradients without being asked"
    );
    assert_eq!(
        no_grads.stats[2..].to_vec(),
        got.stats[2..].to_vec(),
        "{what}: stats without gradients"
    );
}

#[test]
fn fused_step_matches_unfused_and_f64_for_every_loss() {
    let backend = CpuBackend::new().with_step_kernels(StepKernels::Fused);
    eprintln!("kernels: {:?}", backend.isa());
    for_each_case(|case| check_step(&backend, case));
}

/// The fused kernels where they have SIMD: there they beat the unfused path.
#[test]
fn backend_fuses_steps_only_with_avx2() {
    let backend = CpuBackend::new();
    let expected = match backend.isa() {
        Isa::Avx512 | Isa::Avx2Fma => StepKernels::Fused,
        Isa::Portable => StepKernels::Unfused,
    };
    assert_eq!(backend.step_kernels(), expected);
    assert_eq!(backend.clone().step_kernels(), expected);
    assert_eq!(CpuBackend::portable().step_kernels(), StepKernels::Unfused);
}

#[test]
fn portable_kernels_match_unfused_and_f64_for_every_loss() {
    let backend = CpuBackend::portable().with_step_kernels(StepKernels::Fused);
    assert_eq!(backend.isa(), Isa::Portable);
    for_each_case(|case| check_step(&backend, case));
}

#[test]
fn unfused_steps_without_avx2_match_f64_for_every_loss() {
    let backend = CpuBackend::portable();
    assert_eq!(backend.step_kernels(), StepKernels::Unfused);
    for_each_case(|case| check_step(&backend, case));
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

#[test]
fn fused_step_is_bitwise_identical_across_thread_counts() {
    let pools: Vec<_> = [1, 2, 3].into_iter().map(pool).collect();
    for backend in [
        CpuBackend::new().with_step_kernels(StepKernels::Fused),
        CpuBackend::portable().with_step_kernels(StepKernels::Fused),
        CpuBackend::portable(),
    ] {
        for_each_case(|case| {
            let results: Vec<StepResult> = pools
                .iter()
                .map(|p| p.install(|| fused(&backend, case, true)))
                .collect();
            for (threads, result) in [1, 2, 3].iter().zip(&results).skip(1) {
                let same = |a: &[f32], b: &[f32]| {
                    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
                };
                assert!(
                    same(&result.grads, &results[0].grads),
                    "{} ({:?}): gradients differ between 1 and {threads} threads",
                    case.describe(),
                    (backend.isa(), backend.step_kernels())
                );
                assert!(
                    same(&result.stats, &results[0].stats),
                    "{} ({:?}): stats differ between 1 and {threads} threads",
                    case.describe(),
                    (backend.isa(), backend.step_kernels())
                );
            }
        });
    }
}

#[test]
fn fused_step_rejects_bad_input_with_typed_errors() {
    let backend = CpuBackend::new().with_step_kernels(StepKernels::Fused);
    let case = Case::new(Loss::softmax(), TargetKind::Labels, 7, 5, 3, 99);
    let resident = Resident::new(&backend, &case);
    let params = backend.upload(&case.params).unwrap();
    let mut grads = vec![0.0; 5 * 3 + 3];
    let mut stats = vec![0.0; 2];
    let mut run = |step: LinearStep<'_, CpuBackend>, params: &Vec<f32>, stats: &mut Vec<f32>| {
        backend.linear_step(step, params, Some(&mut grads), stats, 0)
    };

    let short_params = vec![0.0; 5 * 3];
    assert!(matches!(
        run(resident.step(&case), &short_params, &mut stats),
        Err(Error::ShapeMismatch { .. })
    ));
    let mut no_stats = vec![];
    assert!(matches!(
        run(resident.step(&case), &params, &mut no_stats),
        Err(Error::ShapeMismatch { .. })
    ));
    let empty = LinearStep {
        rows: 0,
        ..resident.step(&case)
    };
    assert!(matches!(
        run(empty, &params, &mut stats),
        Err(Error::ShapeMismatch { .. })
    ));
    let past_the_end = LinearStep {
        first: case.indices.len() - 2,
        ..resident.step(&case)
    };
    assert!(matches!(
        run(past_the_end, &params, &mut stats),
        Err(Error::ShapeMismatch { .. })
    ));

    let bad_indices = backend.upload_indices(&[0, 1, 99]).unwrap();
    let step = LinearStep {
        indices: &bad_indices,
        first: 0,
        rows: 3,
        ..resident.step(&case)
    };
    assert!(matches!(
        run(step, &params, &mut stats),
        Err(Error::IndexOutOfRange { index: 99, .. })
    ));

    let mut labels = case.labels.clone();
    labels[case.indices[case.first + 2] as usize] = 3;
    let bad_labels = backend.upload_indices(&labels).unwrap();
    let step = LinearStep {
        targets: ResidentTargets::Classes {
            labels: &bad_labels,
            class_weights: None,
        },
        ..resident.step(&case)
    };
    assert!(matches!(
        run(step, &params, &mut stats),
        Err(Error::LabelOutOfRange { label: 3, .. })
    ));

    let short_weights = vec![1.0; 2];
    let step = LinearStep {
        targets: ResidentTargets::Classes {
            labels: &resident.labels,
            class_weights: Some(&short_weights),
        },
        ..resident.step(&case)
    };
    assert!(matches!(
        run(step, &params, &mut stats),
        Err(Error::ShapeMismatch { .. })
    ));

    let step = LinearStep {
        targets: ResidentTargets::Values(&resident.values),
        ..resident.step(&case)
    };
    assert!(matches!(
        run(step, &params, &mut stats),
        Err(Error::InvalidConfig(_))
    ));

    let mse = Loss::MeanSquaredError;
    let narrow_values = Array2::<f32>::zeros((case.x.nrows(), 2));
    let step = LinearStep {
        loss: &mse,
        targets: ResidentTargets::Values(&narrow_values),
        ..resident.step(&case)
    };
    assert!(matches!(
        run(step, &params, &mut stats),
        Err(Error::ShapeMismatch { .. })
    ));
}

/// Counts the allocations of `work` run on a counted 2-thread pool.
fn allocations_during(pool: &rayon::ThreadPool, work: impl FnOnce() + Send) -> usize {
    pool.install(|| {
        COUNTED.with(|c| c.set(true));
        let before = ALLOCATIONS.load(Ordering::SeqCst);
        work();
        let after = ALLOCATIONS.load(Ordering::SeqCst);
        COUNTED.with(|c| c.set(false));
        after - before
    })
}

#[test]
fn steady_state_step_loss_and_update_do_not_allocate() {
    let counted_pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .start_handler(|_| COUNTED.with(|c| c.set(true)))
        .build()
        .unwrap();
    let backend = CpuBackend::new().with_step_kernels(StepKernels::Fused);
    let case = Case::new(Loss::softmax(), TargetKind::Labels, 65, 3073, 10, 7);
    let resident = Resident::new(&backend, &case);
    let mut params = backend.upload(&case.params).unwrap();
    let mut grads = backend.zeros(params.len()).unwrap();
    let mut state = backend.zeros(3 * params.len()).unwrap();
    let mut stats = backend.zeros(2).unwrap();
    let (rows, c) = (case.rows, case.c);
    let scores = backend
        .upload(&random_vec(&mut rng(3), rows * c, 2.0))
        .unwrap();
    let batch_labels = backend.upload_indices(&case.labels[..3]).unwrap();
    let mut dscores = backend.zeros(rows * c).unwrap();
    let mut row_loss = backend.zeros(rows).unwrap();
    let mut steps = |count: u64| {
        for t in 1..=count {
            backend
                .linear_step(
                    resident.step(&case),
                    &params,
                    Some(&mut grads),
                    &mut stats,
                    0,
                )
                .unwrap();
            let update = UpdateStep {
                optimizer: Optimizer::adam(),
                regularizer: Regularizer::L2 { strength: 1e-3 },
                learning_rate: 1e-3,
                step: t,
                weight_len: case.d * c,
            };
            backend
                .update(&mut params, &grads, &mut state, &update)
                .unwrap();
            backend
                .loss(
                    &case.loss,
                    &scores,
                    lintrain::backend::Targets::Classes {
                        labels: &batch_labels,
                        class_weights: None,
                    },
                    3,
                    c,
                    lintrain::backend::LossOutputs {
                        dscores: &mut dscores,
                        row_loss: &mut row_loss,
                        stats: &mut stats,
                        slot: 0,
                    },
                )
                .unwrap();
        }
    };
    // The counter sees the scratch that a first step grows.
    let fresh = CpuBackend::new().with_step_kernels(StepKernels::Fused);
    let first_step = allocations_during(&counted_pool, || {
        let mut stats = vec![0.0; 2];
        fresh
            .linear_step(resident.step(&case), &case.params, None, &mut stats, 0)
            .unwrap();
    });
    assert!(first_step > 0, "a first step must grow its scratch");
    counted_pool.install(|| steps(2));
    let allocations = allocations_during(&counted_pool, || steps(5));
    assert_eq!(
        allocations, 0,
        "steady-state steps allocated {allocations} times"
    );
}

/// Adam or AdamW in f64 as documented in `optimizer.rs`, with an
/// elastic-net regularizer on the first `weight_len` parameters.
#[allow(clippy::too_many_arguments)]
fn adam_f64(
    params: &mut [f64],
    grads: &[f32],
    m: &mut [f64],
    v: &mut [f64],
    v_max: &mut [f64],
    t: u64,
    weight_len: usize,
    (lr, l1, l2, decay): (f64, f64, f64, Option<f64>),
    amsgrad: bool,
) {
    let (beta1, beta2, eps) = (0.9f64, 0.999f64, 1e-8f64);
    for i in 0..params.len() {
        let is_weight = i < weight_len;
        let p = params[i];
        let mut g = grads[i] as f64;
        if is_weight {
            g += l1 * p.signum() * (p != 0.0) as u8 as f64 + 2.0 * l2 * p;
        }
        let mut p = p;
        if let (Some(wd), true) = (decay, is_weight) {
            p *= 1.0 - lr * wd;
        }
        m[i] = beta1 * m[i] + (1.0 - beta1) * g;
        v[i] = beta2 * v[i] + (1.0 - beta2) * g * g;
        v_max[i] = v_max[i].max(v[i]);
        let second = if amsgrad { v_max[i] } else { v[i] };
        let denom = second.sqrt() / (1.0 - beta2.powi(t as i32)).sqrt() + eps;
        params[i] = p - lr / (1.0 - beta1.powi(t as i32)) * m[i] / denom;
    }
}

#[test]
fn adam_update_matches_f64_and_is_bitwise_identical_across_thread_counts() {
    let (lr, strength, l1_ratio, wd) = (1e-2f32, 1e-2f32, 0.3f32, 0.05f32);
    let optimizers = [
        (Optimizer::adam(), None, false),
        (
            Optimizer::Adam {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                amsgrad: true,
            },
            None,
            true,
        ),
        (
            Optimizer::AdamW {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: wd,
                amsgrad: false,
            },
            Some(wd as f64),
            false,
        ),
        (
            Optimizer::AdamW {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: wd,
                amsgrad: true,
            },
            Some(wd as f64),
            true,
        ),
    ];
    let pools: Vec<_> = [1, 2].into_iter().map(pool).collect();
    // Short vectors run in one loop, long ones in parallel chunks.
    for len in [7usize, 1_001, 200_003] {
        for (optimizer, decay, amsgrad) in optimizers {
            let mut rng = rng(len as u64);
            let init = random_vec(&mut rng, len, 1.0);
            let weight_len = len - len.min(5);
            let mut results = Vec::new();
            for pool in &pools {
                let backend = CpuBackend::new();
                let mut params = init.clone();
                let mut state = vec![0.0f32; 3 * len];
                let mut expected: Vec<f64> = init.iter().map(|&p| p as f64).collect();
                let (mut m, mut v, mut v_max) = (vec![0.0; len], vec![0.0; len], vec![0.0; len]);
                let mut grad_rng = common::rng(99);
                for t in 1..=3u64 {
                    let grads = random_vec(&mut grad_rng, len, 1.0);
                    let step = UpdateStep {
                        optimizer,
                        regularizer: Regularizer::ElasticNet { strength, l1_ratio },
                        learning_rate: lr,
                        step: t,
                        weight_len,
                    };
                    pool.install(|| backend.update(&mut params, &grads, &mut state, &step))
                        .unwrap();
                    let (l1, l2) = (
                        (strength * l1_ratio) as f64,
                        (strength * (1.0 - l1_ratio)) as f64,
                    );
                    adam_f64(
                        &mut expected,
                        &grads,
                        &mut m,
                        &mut v,
                        &mut v_max,
                        t,
                        weight_len,
                        (lr as f64, l1, l2, decay),
                        amsgrad,
                    );
                }
                assert_close_f64(
                    &format!("{} (amsgrad {amsgrad}) len {len}", optimizer.name()),
                    &params,
                    &expected,
                    1e-4,
                    1e-6,
                );
                results.push(params);
            }
            assert!(
                results[0]
                    .iter()
                    .zip(&results[1])
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{} len {len}: 1 and 2 threads differ",
                optimizer.name()
            );
        }
    }
}
