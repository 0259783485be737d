//! `GpuBackend` is `Send + Sync`: it moves to a worker thread, and one
//! backend serves several threads at once with each thread's results intact.
//! Inputs are small whole numbers, so every product and sum is exact.

mod common;

use lintrain::GpuBackend;
use lintrain::backend::{Backend, MatmulSpec};

/// `A·B` for row-major A (m×k) and B (k×n), in f64.
fn reference(a: &[f32], b: &[f32], (m, k, n): (usize, usize, usize)) -> Vec<f32> {
    let mut out = vec![0.0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            for p in 0..k {
                out[i * n + j] += f64::from(a[i * k + p]) * f64::from(b[p * n + j]);
            }
        }
    }
    out.into_iter().map(|v| v as f32).collect()
}

/// Whole numbers in -4..=4 that differ with `seed`.
fn whole_numbers(len: usize, seed: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7 + seed * 13) % 9) as f32 - 4.0)
        .collect()
}

/// Uploads, multiplies and reads back `rounds` products of shape 63×65·65×17
/// whose inputs depend on `seed`, and checks each exactly.
fn multiply_and_check(gpu: &GpuBackend, seed: usize, rounds: usize) {
    let shape @ (m, k, n) = (63, 65, 17);
    for round in 0..rounds {
        let seed = seed * 100 + round;
        let (a, b) = (whole_numbers(m * k, seed), whole_numbers(k * n, seed + 1));
        let a_device = gpu.upload(&a).unwrap();
        let b_device = gpu.upload(&b).unwrap();
        let mut out = gpu.upload(&vec![f32::NAN; m * n]).unwrap();
        gpu.matmul(&a_device, &b_device, &mut out, &MatmulSpec::new(m, k, n))
            .unwrap();
        let got = gpu.read(&out).unwrap();
        let expected = reference(&a, &b, shape);
        for (index, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert_eq!(g, e, "seed {seed}, index {index}: got {g}, expected {e}");
        }
    }
}

#[test]
fn a_backend_moves_to_a_worker_thread() {
    for (variant, gpu) in common::gpu_variants() {
        let gpu = std::thread::spawn(move || {
            multiply_and_check(&gpu, 1, 2);
            gpu
        })
        .join()
        .unwrap_or_else(|_| panic!("{variant:?}: the worker thread panicked"));
        // Still usable on the thread that gets it back.
        multiply_and_check(&gpu, 2, 1);
    }
}

#[test]
fn one_backend_serves_several_threads_at_once() {
    for (_variant, gpu) in common::gpu_variants() {
        std::thread::scope(|scope| {
            for thread in 0..4 {
                let gpu = &gpu;
                scope.spawn(move || multiply_and_check(gpu, 10 + thread, 3));
            }
        });
    }
}
