//! The CPU's wide fused step (the step's rows gathered once, scores and
//! weight gradient as register-tiled products) at linear-probe shapes, on
//! every instruction set this CPU runs, forced (`StepKernels::FusedTiles`)
//! and chosen automatically (`StepKernels::Fused`): every loss and target
//! kind against the unfused composition and f64, with NaN-prefilled
//! outputs; a step longer than one chunk of gathered rows; bitwise
//! identity across thread counts; the dot-product kernel's typed errors.

mod common;

use common::cpu_step::{
    Case, FUSED_KERNELS, Reference, Resident, TILE_GRAD_TOLERANCES, TargetKind,
    assert_bitwise_identical_across_pools, backend_on, check_step_within, loss_cases, pool,
    supported_isas, takes_outputs,
};
use common::nan_vec;
use lintrain::backend::{LinearStep, ResidentTargets};
use lintrain::cpu::StepKernels;
use lintrain::{Backend, CpuBackend, Error, Loss};

/// Widths where the tiles are the point: one 16-lane vector and a value
/// more, a probe's 100, ImageNet's 1000 and an odd width past it.
const WIDE_OUTPUTS: [usize; 4] = [17, 100, 1000, 1003];

/// Narrow widths, where the automatic choice takes the dot products; the
/// tiles are forced there so that they stay right for any width.
const NARROW_OUTPUTS: [usize; 3] = [1, 2, 10];

/// A shape: rows, features D, and the output counts C it runs with.
type Shape = (usize, usize, &'static [usize]);

/// D of 1 and 7: short rows against every wide C, with rows that leave
/// partial row tiles (65 = 5·12 + 5) and several row groups (257).
const FEW_FEATURES: [Shape; 5] = [
    (1, 1, &WIDE_OUTPUTS),
    (257, 1, &WIDE_OUTPUTS),
    (7, 7, &WIDE_OUTPUTS),
    (65, 7, &[17, 1003]),
    (257, 7, &WIDE_OUTPUTS),
];

/// D of 768 (a probe's embedding) and 4097 (past 4096, odd): the widest C
/// with few rows, two row groups of the scores (129 rows) at C = 100,
/// D = 4097 with C ≤ 100, so that the f64 reference and the portable
/// tiles stay quick.
const MANY_FEATURES: [Shape; 7] = [
    (1, 768, &[17, 1000]),
    (7, 768, &WIDE_OUTPUTS),
    (65, 768, &[17, 100]),
    (129, 768, &[100]),
    (1, 4097, &[17, 100]),
    (7, 4097, &[17, 100]),
    (65, 4097, &[17]),
];

/// The narrow widths with the tiles forced, over the same range of D.
const NARROW_SHAPES: [Shape; 7] = [
    (1, 1, &NARROW_OUTPUTS),
    (257, 1, &NARROW_OUTPUTS),
    (7, 7, &NARROW_OUTPUTS),
    (65, 7, &NARROW_OUTPUTS),
    (65, 768, &NARROW_OUTPUTS),
    (7, 4097, &NARROW_OUTPUTS),
    (257, 4097, &[10]),
];

/// Every loss and target kind at every shape and C it takes, checked with
/// `step_kernels` on each instruction set this CPU runs; the unfused and
/// f64 references are computed once per case.
fn check_shapes(shapes: &[Shape], step_kernels: &[StepKernels], seed: u64) {
    let backends: Vec<CpuBackend> = supported_isas()
        .into_iter()
        .flat_map(|isa| step_kernels.iter().map(move |&k| backend_on(isa, k)))
        .collect();
    let reference_backend = CpuBackend::new();
    let mut seed = seed;
    let mut checked = 0;
    for (loss, kind, _) in loss_cases() {
        for &(rows, d, outputs) in shapes {
            for &c in outputs.iter().filter(|&&c| takes_outputs(&loss, c)) {
                seed += 1;
                let case = Case::new(loss, kind, rows, d, c, seed);
                let reference = Reference::new(&reference_backend, &case);
                for backend in &backends {
                    check_step_within(backend, &case, &reference, TILE_GRAD_TOLERANCES);
                }
                checked += 1;
            }
        }
    }
    eprintln!("{checked} cases on {} backends", backends.len());
}

#[test]
fn wide_steps_with_few_features_match_unfused_and_f64_for_every_loss() {
    check_shapes(
        &FEW_FEATURES,
        &[StepKernels::FusedTiles, StepKernels::Fused],
        1000,
    );
}

#[test]
fn wide_steps_with_many_features_match_unfused_and_f64_for_every_loss() {
    check_shapes(
        &MANY_FEATURES,
        &[StepKernels::FusedTiles, StepKernels::Fused],
        2000,
    );
}

#[test]
fn forced_tiles_at_narrow_widths_match_unfused_and_f64_for_every_loss() {
    check_shapes(&NARROW_SHAPES, &[StepKernels::FusedTiles], 3000);
}

/// Gathered values one chunk of the wide step may hold: 2^21 (8 MiB).
const CHUNK_VALUES: usize = 1 << 21;

/// Steps whose gathered rows exceed one chunk, so that dW and db add up
/// chunk after chunk: 600 rows of 4097 features, and 1009 rows, which
/// leave a last chunk of a few rows.
#[test]
fn wide_step_longer_than_one_chunk_matches_f64_and_is_bitwise_identical_across_thread_counts() {
    let threads = [1, 2, 3];
    let pools: Vec<_> = threads.into_iter().map(pool).collect();
    let reference_backend = CpuBackend::new();
    let cases = [
        Case::new(
            Loss::SoftmaxCrossEntropy {
                label_smoothing: 0.1,
            },
            TargetKind::WeightedLabels,
            600,
            4097,
            17,
            4001,
        ),
        Case::new(
            Loss::MeanSquaredError,
            TargetKind::Values,
            1009,
            4097,
            17,
            4002,
        ),
    ];
    for case in &cases {
        assert!(case.rows * case.d > CHUNK_VALUES, "{}", case.describe());
        let reference = Reference::new(&reference_backend, case);
        for isa in supported_isas() {
            let backend = backend_on(isa, StepKernels::FusedTiles);
            check_step_within(&backend, case, &reference, TILE_GRAD_TOLERANCES);
            assert_bitwise_identical_across_pools(&backend, case, &threads, &pools);
        }
    }
}

/// A thousand outputs and more: many column panels, several row groups
/// (300 rows) and feature groups (768 features) per product.
#[test]
fn wide_step_at_a_thousand_outputs_is_bitwise_identical_across_thread_counts() {
    let threads = [1, 2, 3];
    let pools: Vec<_> = threads.into_iter().map(pool).collect();
    let cases = [
        Case::new(Loss::softmax(), TargetKind::Labels, 65, 768, 1000, 5001),
        Case::new(
            Loss::MeanSquaredError,
            TargetKind::Values,
            300,
            97,
            1003,
            5002,
        ),
    ];
    for isa in supported_isas() {
        for step_kernels in [StepKernels::FusedTiles, StepKernels::Fused] {
            let backend = backend_on(isa, step_kernels);
            for case in &cases {
                assert_bitwise_identical_across_pools(&backend, case, &threads, &pools);
            }
        }
    }
}

/// The step on `backend` into NaN-prefilled outputs; its result, and
/// whether the outputs are still all NaN.
fn run_step(
    backend: &CpuBackend,
    step: LinearStep<'_, CpuBackend>,
    params: &Vec<f32>,
) -> (Result<(), String>, bool) {
    let mut grads = nan_vec(step.x.ncols() * step.outputs + step.outputs);
    let mut stats = nan_vec(2);
    let result = backend
        .linear_step(step, params, Some(&mut grads), &mut stats, 0)
        .map_err(|e| format!("{e:?}"));
    let untouched = grads.iter().chain(&stats).all(|v| v.is_nan());
    (result, untouched)
}

/// `step` refused on the dot-product kernel and on the tiles with the same
/// error, one `expected` accepts, before either wrote an output.
fn assert_same_error<'a>(
    what: &str,
    [dots, tiles]: [&CpuBackend; 2],
    params: &Vec<f32>,
    step: impl Fn() -> LinearStep<'a, CpuBackend>,
    expected: impl Fn(&Error) -> bool,
) {
    assert_eq!(dots.step_kernels(), StepKernels::FusedDots, "{what}");
    assert_eq!(tiles.step_kernels(), StepKernels::FusedTiles, "{what}");
    let error = tiles
        .linear_step(step(), params, None, &mut nan_vec(2), 0)
        .expect_err(what);
    assert!(expected(&error), "{what}: {error:?}");
    let (tiles_result, tiles_untouched) = run_step(tiles, step(), params);
    let (dots_result, dots_untouched) = run_step(dots, step(), params);
    assert_eq!(
        tiles_result,
        Err(format!("{error:?}")),
        "{what}: with gradients"
    );
    assert_eq!(tiles_result, dots_result, "{what}: tiles vs dots");
    assert!(tiles_untouched, "{what}: the tiles wrote outputs");
    assert!(dots_untouched, "{what}: the dots wrote outputs");
}

/// The tiles check their input as the dot-product kernel does: the same
/// typed errors (an empty step, an index past the dataset, a label past
/// the classes), before anything is written.
#[test]
fn tiles_reject_bad_input_with_the_errors_of_the_dot_kernel() {
    let cases = [
        Case::new(Loss::softmax(), TargetKind::Labels, 7, 7, 100, 6001),
        Case::new(
            Loss::SquaredHinge { margin: 0.5 },
            TargetKind::WeightedLabels,
            65,
            7,
            1003,
            6002,
        ),
        // One output: the labels name two classes.
        Case::new(Loss::Logistic, TargetKind::Labels, 7, 768, 1, 6003),
    ];
    for isa in supported_isas() {
        let [dots, tiles] = FUSED_KERNELS.map(|k| backend_on(isa, k));
        for case in &cases {
            let resident = Resident::new(&tiles, case);
            let params = tiles.upload(&case.params).unwrap();
            let dataset_rows = case.x.nrows() as u32;
            let bad_indices = tiles.upload_indices(&[0, 1, dataset_rows + 4, 2]).unwrap();
            let classes = case.c.max(2);
            let mut labels = case.labels.clone();
            labels[case.indices[case.first + 2] as usize] = classes as u32;
            let bad_labels = tiles.upload_indices(&labels).unwrap();
            let class_weights = match case.kind {
                TargetKind::WeightedLabels => Some(&resident.weights),
                _ => None,
            };

            let what = |bad: &str| format!("{} on {isa:?}: {bad}", case.describe());
            assert_same_error(
                &what("no rows"),
                [&dots, &tiles],
                &params,
                || LinearStep {
                    rows: 0,
                    ..resident.step(case)
                },
                |e| matches!(e, Error::ShapeMismatch { .. }),
            );
            assert_same_error(
                &what("an index past the dataset"),
                [&dots, &tiles],
                &params,
                || LinearStep {
                    indices: &bad_indices,
                    first: 0,
                    rows: 4,
                    ..resident.step(case)
                },
                |e| matches!(e, Error::IndexOutOfRange { position: 2, index, .. } if *index == dataset_rows as usize + 4),
            );
            assert_same_error(
                &what("a label past the classes"),
                [&dots, &tiles],
                &params,
                || LinearStep {
                    targets: ResidentTargets::Classes {
                        labels: &bad_labels,
                        class_weights,
                    },
                    ..resident.step(case)
                },
                |e| matches!(e, Error::LabelOutOfRange { label, .. } if *label == classes),
            );
        }
    }
}
