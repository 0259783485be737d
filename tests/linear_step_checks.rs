//! The linear step's input checks, written once over `Backend`: a step
//! reads only `indices[first..first + rows]` and the labels of those rows,
//! so that is all it checks, and an error names the real place (the
//! position in the index buffer, the dataset row of a label), whichever
//! kernels compute the step.

mod common;

use lintrain::backend::{LinearStep, ResidentTargets, unfused_linear_step};
use lintrain::cpu::StepKernels;
use lintrain::{Backend, CpuBackend, Error, Loss};
use ndarray::Array2;

/// Dataset rows.
const ROWS: usize = 8;
const FEATURES: usize = 3;
const CLASSES: usize = 3;

/// A step of 3 rows read from positions 2..5 of an index buffer whose
/// indices are not the identity, so that a batch row, a buffer position
/// and a dataset row are three different numbers.
const FIRST: usize = 2;
const STEP_ROWS: usize = 3;
const INDICES: [u32; 7] = [7, 0, 5, 1, 6, 2, 3];

/// How a step is run: the backend's own `linear_step`, or the unfused
/// composition called directly (the GPU's path where the fused kernels do
/// not fit).
#[derive(Clone, Copy)]
enum Path {
    Backend,
    Unfused,
}

/// Runs one step over `labels` and `indices` (as uploaded) and returns its result.
fn step<B: Backend>(
    backend: &B,
    path: Path,
    labels: &[u32],
    indices: &[u32],
) -> lintrain::Result<()> {
    let x = Array2::from_shape_fn((ROWS, FEATURES), |(i, j)| (i * FEATURES + j) as f32 * 0.1);
    let x = backend.upload_rows(x.view())?;
    let labels = backend.upload_indices(labels)?;
    let indices = backend.upload_indices(indices)?;
    let params = backend.zeros(FEATURES * CLASSES + CLASSES)?;
    let mut grads = backend.zeros(FEATURES * CLASSES + CLASSES)?;
    let mut stats = backend.zeros(2)?;
    let loss = Loss::softmax();
    let step = LinearStep {
        loss: &loss,
        x: &x,
        targets: ResidentTargets::Classes {
            labels: &labels,
            class_weights: None,
        },
        indices: &indices,
        first: FIRST,
        rows: STEP_ROWS,
        outputs: CLASSES,
    };
    match path {
        Path::Backend => backend.linear_step(step, &params, Some(&mut grads), &mut stats, 0)?,
        Path::Unfused => {
            unfused_linear_step(backend, step, &params, Some(&mut grads), &mut stats, 0)?
        }
    }
    backend.read(&stats).map(|_| ())
}

fn good_labels() -> Vec<u32> {
    (0..ROWS as u32).map(|row| row % CLASSES as u32).collect()
}

/// The checks every backend's linear step must make, `name` saying which ran.
fn names_the_real_row_and_checks_only_the_batch<B: Backend>(backend: &B, path: Path, name: &str) {
    step(backend, path, &good_labels(), &INDICES).unwrap_or_else(|e| panic!("{name}: {e}"));

    // Dataset row 4 is read by no step position in 2..5 (rows 5, 1, 6).
    let mut labels = good_labels();
    labels[4] = 9;
    step(backend, path, &labels, &INDICES)
        .unwrap_or_else(|e| panic!("{name}: a bad label outside the batch is not the step's: {e}"));

    // Position 3 of the indices reads dataset row 1 (batch row 1).
    let mut labels = good_labels();
    labels[1] = 9;
    match step(backend, path, &labels, &INDICES) {
        Err(Error::LabelOutOfRange {
            row: 1,
            label: 9,
            classes: CLASSES,
        }) => {}
        other => panic!("{name}: expected label 9 at dataset row 1, got {other:?}"),
    }
    // Position 4 reads dataset row 6 (batch row 2).
    let mut labels = good_labels();
    labels[6] = 5;
    match step(backend, path, &labels, &INDICES) {
        Err(Error::LabelOutOfRange {
            row: 6,
            label: 5,
            classes: CLASSES,
        }) => {}
        other => panic!("{name}: expected label 5 at dataset row 6, got {other:?}"),
    }

    // An index out of range at a position the step does not read.
    let mut indices = INDICES;
    indices[6] = 99;
    step(backend, path, &good_labels(), &indices)
        .unwrap_or_else(|e| panic!("{name}: a bad index outside the batch is not the step's: {e}"));
    // One the step reads, at position 4 (batch row 2).
    let mut indices = INDICES;
    indices[4] = 99;
    match step(backend, path, &good_labels(), &indices) {
        Err(Error::IndexOutOfRange {
            position: 4,
            index: 99,
            rows: ROWS,
        }) => {}
        other => panic!("{name}: expected index 99 at position 4, got {other:?}"),
    }
}

#[test]
fn fused_cpu_step_names_the_real_row_and_checks_only_the_batch() {
    let backend = CpuBackend::new().with_step_kernels(StepKernels::Fused);
    names_the_real_row_and_checks_only_the_batch(&backend, Path::Backend, "cpu fused");
    let portable = CpuBackend::portable().with_step_kernels(StepKernels::Fused);
    names_the_real_row_and_checks_only_the_batch(&portable, Path::Backend, "cpu fused, portable");
}

#[test]
fn unfused_cpu_step_names_the_real_row_and_checks_only_the_batch() {
    let backend = CpuBackend::new().with_step_kernels(StepKernels::Unfused);
    names_the_real_row_and_checks_only_the_batch(&backend, Path::Backend, "cpu unfused");
}

/// Every matmul variant, through the fused kernels (lavapipe has 8-lane
/// subgroups) and through the unfused composition: a gather whose labels
/// keep their source's bound, then the loss kernel, which must read the
/// labels back to learn that the bad one is not the batch's.
#[test]
fn gpu_step_names_the_real_row_and_checks_only_the_batch() {
    for (variant, gpu) in common::gpu_variants() {
        names_the_real_row_and_checks_only_the_batch(
            &gpu,
            Path::Backend,
            &format!("gpu {variant:?}"),
        );
        names_the_real_row_and_checks_only_the_batch(
            &gpu,
            Path::Unfused,
            &format!("gpu {variant:?} unfused"),
        );
    }
}
