//! `CpuBackend` takes its resident rows as a public `Array2`, so a caller
//! can hand it any memory layout. A Fortran-order (column-major) matrix must
//! give the same results as the row-major one, not a panic.

use lintrain::backend::{Backend, LinearStep, ResidentTargets};
use lintrain::cpu::CpuRows;
use lintrain::{CpuBackend, Loss};
use ndarray::{Array2, ShapeBuilder};

const ROWS: usize = 5;
const FEATURES: usize = 3;
const OUTPUTS: usize = 2;

fn value(row: usize, column: usize) -> f32 {
    row as f32 * 0.5 - column as f32 * 0.25 + 0.125
}

/// The same matrix in row-major and in column-major memory order.
/// The same matrix in C and Fortran order, as the CPU backend's rows (a
/// caller may hand its own matrix in, in either order).
fn both_layouts(rows: usize, columns: usize) -> (CpuRows, CpuRows) {
    let row_major = Array2::from_shape_fn((rows, columns), |(i, j)| value(i, j));
    let column_major = Array2::from_shape_fn((rows, columns).f(), |(i, j)| value(i, j));
    assert!(!column_major.is_standard_layout());
    assert_eq!(row_major, column_major);
    (CpuRows::Owned(row_major), CpuRows::Owned(column_major))
}

#[test]
fn gather_reads_a_fortran_order_matrix_by_rows() {
    let backend = CpuBackend::new();
    let (row_major, column_major) = both_layouts(ROWS, FEATURES);
    let indices = backend.upload_indices(&[4, 0, 2]).unwrap();
    let gathered = |rows: &CpuRows| {
        let mut out = backend.zeros(3 * FEATURES).unwrap();
        backend
            .gather(rows, None, &indices, 0, 3, &mut out)
            .unwrap();
        out
    };
    let expected: Vec<f32> = [4, 0, 2]
        .iter()
        .flat_map(|&row| (0..FEATURES).map(move |column| value(row, column)))
        .collect();
    assert_eq!(gathered(&row_major), expected);
    assert_eq!(gathered(&column_major), expected);
}

#[test]
fn linear_step_takes_fortran_order_rows_and_targets() {
    let backend = CpuBackend::new();
    let (x_row_major, x_column_major) = both_layouts(ROWS, FEATURES);
    let (targets_row_major, targets_column_major) = both_layouts(ROWS, OUTPUTS);
    let labels = backend.upload_indices(&[0, 1, 1, 0, 1]).unwrap();
    let indices = backend.upload_indices(&[3, 1, 4, 0]).unwrap();
    let params = backend
        .upload(
            &(0..FEATURES * OUTPUTS + OUTPUTS)
                .map(|i| i as f32 * 0.1 - 0.3)
                .collect::<Vec<_>>(),
        )
        .unwrap();
    let softmax = Loss::softmax();
    let mse = Loss::MeanSquaredError;
    let run = |x: &CpuRows, targets: ResidentTargets<'_, CpuBackend>, loss: &Loss| {
        let step = LinearStep {
            loss,
            x,
            targets,
            indices: &indices,
            first: 0,
            rows: 4,
            outputs: OUTPUTS,
        };
        let mut grads = backend.zeros(FEATURES * OUTPUTS + OUTPUTS).unwrap();
        let mut stats = backend.zeros(2).unwrap();
        backend
            .linear_step(step, &params, Some(&mut grads), &mut stats, 0)
            .unwrap();
        (grads, stats)
    };
    let classes = || ResidentTargets::Classes {
        labels: &labels,
        class_weights: None,
    };
    assert_eq!(
        run(&x_column_major, classes(), &softmax),
        run(&x_row_major, classes(), &softmax)
    );
    assert_eq!(
        run(
            &x_column_major,
            ResidentTargets::Values(&targets_column_major),
            &mse
        ),
        run(
            &x_row_major,
            ResidentTargets::Values(&targets_row_major),
            &mse
        )
    );
}
