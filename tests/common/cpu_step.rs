//! The CPU step harness shared by `cpu_backend.rs` and `cpu_wide_step.rs`:
//! cases over every loss and target kind, the step run on a backend with
//! NaN-prefilled outputs, the unfused composition and an f64 computation to
//! check it against, the instruction sets this CPU runs, and rayon pools to
//! compare thread counts with.

use super::{assert_close, assert_close_f64, nan_vec, random_labels, random_vec, rng};
use lintrain::backend::{LinearStep, ResidentTargets, unfused_linear_step};
use lintrain::cpu::reference::{RowTargets, loss_rows};
use lintrain::cpu::{CpuIndices, CpuRows, Isa, StepKernels};
use lintrain::{Backend, CpuBackend, Loss};
use ndarray::{Array1, Array2};
use rand::Rng;

/// What a case's rows are compared against.
#[derive(Clone, Copy, Debug)]
pub enum TargetKind {
    Labels,
    WeightedLabels,
    Values,
}

/// A resident dataset and a step over it, with indices that repeat rows.
pub struct Case {
    pub loss: Loss,
    pub kind: TargetKind,
    pub rows: usize,
    pub d: usize,
    pub c: usize,
    pub x: Array2<f32>,
    pub labels: Vec<u32>,
    pub values: Array2<f32>,
    pub weights: Vec<f32>,
    /// The step reads `indices[first..first + rows]`.
    pub indices: Vec<u32>,
    pub first: usize,
    pub params: Vec<f32>,
}

impl Case {
    pub fn new(loss: Loss, kind: TargetKind, rows: usize, d: usize, c: usize, seed: u64) -> Self {
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

    pub fn describe(&self) -> String {
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
pub struct Resident {
    pub x: CpuRows,
    pub labels: CpuIndices,
    pub values: CpuRows,
    pub weights: Vec<f32>,
    pub indices: CpuIndices,
}

impl Resident {
    pub fn new(backend: &CpuBackend, case: &Case) -> Self {
        Self {
            x: backend.upload_rows(case.x.view()).unwrap(),
            labels: backend.upload_indices(&case.labels).unwrap(),
            values: backend.upload_rows(case.values.view()).unwrap(),
            weights: backend.upload(&case.weights).unwrap(),
            indices: backend.upload_indices(&case.indices).unwrap(),
        }
    }

    pub fn step<'a>(&'a self, case: &'a Case) -> LinearStep<'a, CpuBackend> {
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
pub struct StepResult {
    pub grads: Vec<f32>,
    pub stats: Vec<f32>,
}

pub const GRAD_TAIL: usize = 3;

/// The backend's own step (whatever its [`StepKernels`]) into NaN-prefilled
/// outputs.
pub fn fused(backend: &CpuBackend, case: &Case, with_grads: bool) -> StepResult {
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
        .unwrap_or_else(|e| panic!("{} on {}: {e}", case.describe(), kernels(backend)));
    StepResult { grads, stats }
}

pub fn unfused(backend: &CpuBackend, case: &Case) -> StepResult {
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
/// Each score and each gradient value is summed in a fixed order (bias,
/// then features in order; rows in order); the loops run along C
/// innermost only so that wide cases stay fast.
pub fn expected_f64(case: &Case) -> (Vec<f64>, f64, f64) {
    let (rows, d, c) = (case.rows, case.d, case.c);
    let step_rows: Vec<usize> = case.indices[case.first..case.first + rows]
        .iter()
        .map(|&i| i as usize)
        .collect();
    let weights64: Vec<f64> = case.params.iter().map(|&v| v as f64).collect();
    let mut scores = Array2::<f64>::zeros((rows, c));
    for (r, &row) in step_rows.iter().enumerate() {
        let mut score_row = scores.row_mut(r);
        for k in 0..c {
            score_row[k] = weights64[d * c + k];
        }
        for f in 0..d {
            let x = case.x[(row, f)] as f64;
            for k in 0..c {
                score_row[k] += x * weights64[f * c + k];
            }
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
        let g = result.dscores.row(r);
        for f in 0..d {
            let x = case.x[(row, f)] as f64;
            for (dw, &g) in grads[f * c..(f + 1) * c].iter_mut().zip(g) {
                *dw += x * g;
            }
        }
        for (db, &g) in grads[d * c..].iter_mut().zip(g) {
            *db += g;
        }
    }
    let mean = result.row_loss.sum() / rows as f64;
    (grads, mean, result.correct as f64)
}

/// Every loss with the targets it takes and the output counts it makes sense for.
pub fn loss_cases() -> Vec<(Loss, TargetKind, Vec<usize>)> {
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

/// Whether `loss` scores with `outputs` columns: MSE and logistic take a
/// single column; softmax and the hinges compare a class's score with the
/// others' and need two or more.
pub fn takes_outputs(loss: &Loss, outputs: usize) -> bool {
    outputs >= 2 || matches!(loss, Loss::MeanSquaredError | Loss::Logistic)
}

/// (rows, D) pairs covering every odd size on both axes.
pub const SHAPES: [(usize, usize); 6] = [(1, 7), (7, 1), (63, 63), (65, 3073), (257, 7), (7, 3073)];

pub fn for_each_case(mut check: impl FnMut(&Case)) {
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

/// What a step is checked against, computed once per case however many
/// backends are checked: the unfused composition and the f64 step.
pub struct Reference {
    pub unfused: StepResult,
    pub grads64: Vec<f64>,
    pub mean64: f64,
    pub correct64: f64,
}

impl Reference {
    /// The unfused composition runs on `backend` (whatever its kernels).
    pub fn new(backend: &CpuBackend, case: &Case) -> Self {
        let (grads64, mean64, correct64) = expected_f64(case);
        Self {
            unfused: unfused(backend, case),
            grads64,
            mean64,
            correct64,
        }
    }
}

/// The backend's instruction set and step kernels, for failure messages.
pub fn kernels(backend: &CpuBackend) -> String {
    format!("{:?} {:?}", backend.isa(), backend.step_kernels())
}

/// The step checked against the unfused composition on the same backend and
/// against f64.
pub fn check_step(backend: &CpuBackend, case: &Case) {
    check_step_against(backend, case, &Reference::new(backend, case));
}

/// Relative and absolute tolerances of the gradient against the unfused
/// composition and against f64.
#[derive(Clone, Copy, Debug)]
pub struct GradTolerances {
    pub vs_unfused: (f32, f32),
    pub vs_f64: (f64, f64),
}

/// The gradient tolerances of the narrow cases ([`for_each_case`]).
pub const GRAD_TOLERANCES: GradTolerances = GradTolerances {
    vs_unfused: (1e-4, 1e-6),
    vs_f64: (1e-3, 1e-5),
};

/// The gradient tolerances of the tiles (`StepKernels::FusedTiles`). Each
/// of their scores is one f32 sum over D in order (so that it does not
/// depend on how the outputs are cut into tiles), which at D in the
/// thousands rounds several times more than the dot kernels' lane sums;
/// the squared hinge and MSE pass that on to dS and dW (measured: up to
/// 3.5 times the narrow absolute tolerance against the unfused step, 0.37
/// of it against f64, squared hinge at D 4097). Against f64 the tolerance
/// is the narrow one.
pub const TILE_GRAD_TOLERANCES: GradTolerances = GradTolerances {
    vs_unfused: (1e-4, 1e-5),
    vs_f64: GRAD_TOLERANCES.vs_f64,
};

/// The step on `backend`, with and without gradients, checked against
/// `reference` (see [`check_step_within`]) with [`GRAD_TOLERANCES`].
pub fn check_step_against(backend: &CpuBackend, case: &Case, reference: &Reference) {
    check_step_within(backend, case, reference, GRAD_TOLERANCES);
}

/// The step on `backend`, with and without gradients, checked against
/// `reference`: [dW | db] (within `tolerances`), the mean loss and the
/// correct count, nothing written past [dW | db] or outside stats slot 1,
/// no gradient written when none is asked for.
pub fn check_step_within(
    backend: &CpuBackend,
    case: &Case,
    reference: &Reference,
    tolerances: GradTolerances,
) {
    let what = format!("{} on {}", case.describe(), kernels(backend));
    let (d, c) = (case.d, case.c);
    let got = fused(backend, case, true);
    let unfused = &reference.unfused;

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
        &unfused.grads[..d * c + c],
        tolerances.vs_unfused.0,
        tolerances.vs_unfused.1,
    );
    assert_close_f64(
        &format!("{what}: grads vs f64"),
        grads,
        &reference.grads64,
        tolerances.vs_f64.0,
        tolerances.vs_f64.1,
    );
    assert_close(
        &format!("{what}: mean loss vs unfused"),
        &got.stats[2..3],
        &unfused.stats[2..3],
        1e-5,
        1e-6,
    );
    assert_close_f64(
        &format!("{what}: mean loss vs f64"),
        &got.stats[2..3],
        &[reference.mean64],
        1e-4,
        1e-5,
    );
    assert_eq!(
        got.stats[3], unfused.stats[3],
        "{what}: correct count vs unfused"
    );
    assert_eq!(
        got.stats[3] as f64, reference.correct64,
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

/// Every instruction set, best first.
pub const ALL_ISAS: [Isa; 3] = [Isa::Avx512, Isa::Avx2Fma, Isa::Portable];

/// The kernels a fused step can be forced to.
pub const FUSED_KERNELS: [StepKernels; 2] = [StepKernels::FusedDots, StepKernels::FusedTiles];

/// Whether this CPU has what `isa`'s kernels need (as [`Isa`] documents
/// it), detected here rather than asked of the library.
pub fn cpu_has(isa: Isa) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        let avx2_fma = has!("avx2") && has!("fma");
        match isa {
            Isa::Avx512 => avx2_fma && has!("avx512f"),
            Isa::Avx2Fma => avx2_fma,
            Isa::Portable => true,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    matches!(isa, Isa::Portable)
}

/// The instruction sets [`CpuBackend::with_isa`] accepts here, best first;
/// says which it skipped. One this CPU has may not be refused, so on an
/// x86-64 CPU with AVX2 and FMA (every CI runner) the AVX2 kernels always
/// run.
pub fn supported_isas() -> Vec<Isa> {
    let mut isas = Vec::new();
    for isa in ALL_ISAS {
        match CpuBackend::with_isa(isa) {
            Ok(_) => isas.push(isa),
            Err(e) => {
                assert!(
                    !cpu_has(isa),
                    "this CPU has {isa:?} but CpuBackend::with_isa refused it: {e}"
                );
                eprintln!("SKIPPED the {isa:?} kernels: {e}");
            }
        }
    }
    isas
}

/// A backend on `isa` computing steps with `step_kernels`.
pub fn backend_on(isa: Isa, step_kernels: StepKernels) -> CpuBackend {
    CpuBackend::with_isa(isa)
        .unwrap_or_else(|e| panic!("{isa:?}: {e}"))
        .with_step_kernels(step_kernels)
}

/// Every supported instruction set with each of `step_kernels`.
pub fn backends_with(step_kernels: &[StepKernels]) -> Vec<CpuBackend> {
    supported_isas()
        .into_iter()
        .flat_map(|isa| step_kernels.iter().map(move |&k| backend_on(isa, k)))
        .collect()
}

pub fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

pub fn bitwise_equal(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// The step on each of `pools` (thread counts `threads`), gradients and
/// stats compared bit for bit with the first pool's.
pub fn assert_bitwise_identical_across_pools(
    backend: &CpuBackend,
    case: &Case,
    threads: &[usize],
    pools: &[rayon::ThreadPool],
) {
    let results: Vec<StepResult> = pools
        .iter()
        .map(|p| p.install(|| fused(backend, case, true)))
        .collect();
    for (count, result) in threads.iter().zip(&results).skip(1) {
        assert!(
            bitwise_equal(&result.grads, &results[0].grads),
            "{} ({}): gradients differ between {} and {count} threads",
            case.describe(),
            kernels(backend),
            threads[0]
        );
        assert!(
            bitwise_equal(&result.stats, &results[0].stats),
            "{} ({}): stats differ between {} and {count} threads",
            case.describe(),
            kernels(backend),
            threads[0]
        );
    }
}
