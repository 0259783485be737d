//! Shared test harness: backends under test, NaN-prefilled outputs and a
//! relative-plus-absolute comparison that names the failing index.
#![allow(dead_code)]

pub mod cli;
pub mod cpu_step;
pub mod files;

use lintrain::gpu::{GpuOptions, MatmulVariant};
use lintrain::{AdapterChoice, GpuBackend, GpuContext};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use std::sync::Arc;

/// Whether this run is CI, where a missing GPU adapter is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Opens a GPU backend with the given matmul variant (None: the adapter's
/// default). Under CI a missing adapter fails the test; elsewhere the test
/// says loudly that it did not run its GPU half.
pub fn gpu_with(
    variant: Option<MatmulVariant>,
    max_binding_bytes: Option<u64>,
) -> Option<GpuBackend> {
    gpu_with_options(GpuOptions {
        adapter: AdapterChoice::PreferHardware,
        matmul: variant,
        max_binding_bytes,
        max_chunk_rows: None,
        step: None,
        tiled_loss: None,
    })
}

pub fn gpu_with_options(options: GpuOptions) -> Option<GpuBackend> {
    match GpuContext::with_options(options) {
        Ok(context) => Some(GpuBackend::new(Arc::new(context))),
        Err(e) if in_ci() => panic!("CI=true but no GPU adapter could be opened: {e}"),
        Err(e) => {
            eprintln!("NOT RUN ON GPU: no adapter ({e}); only the CPU half of this test ran");
            None
        }
    }
}

pub fn gpu() -> Option<GpuBackend> {
    gpu_with(None, None)
}

/// Every matmul variant, whatever the adapter.
pub fn gpu_variants() -> Vec<(MatmulVariant, GpuBackend)> {
    [
        MatmulVariant::RegisterTiled,
        MatmulVariant::RegisterTiledBuffers,
        MatmulVariant::SharedTiled,
    ]
    .into_iter()
    .filter_map(|v| gpu_with(Some(v), None).map(|b| (v, b)))
    .collect()
}

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Uniform values in [-scale, scale).
pub fn random_vec(rng: &mut ChaCha8Rng, len: usize, scale: f32) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(-scale..scale)).collect()
}

pub fn random_labels(rng: &mut ChaCha8Rng, len: usize, classes: usize) -> Vec<u32> {
    (0..len)
        .map(|_| rng.random_range(0..classes as u32))
        .collect()
}

/// Features (standard normal), three classes from a linear teacher (the
/// highest of `x·M`, M standard normal) and real-valued targets (`x·M`
/// plus noise 0.1) for the same rows, seeded.
pub fn teacher_data(
    rows: usize,
    features: usize,
    seed: u64,
) -> (Array2<f32>, Array1<u32>, Array2<f32>) {
    let mut rng = rng(seed);
    let x = Array2::from_shape_simple_fn((rows, features), || rng.sample::<f32, _>(StandardNormal));
    let map = Array2::from_shape_simple_fn((features, 3), || rng.sample::<f32, _>(StandardNormal));
    let scores = x.dot(&map);
    let labels = scores
        .outer_iter()
        .map(|row| (0..3).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap() as u32)
        .collect();
    let values = scores.mapv(|s| s + 0.1 * rng.sample::<f32, _>(StandardNormal));
    (x, labels, values)
}

pub fn nan_vec(len: usize) -> Vec<f32> {
    vec![f32::NAN; len]
}

/// Asserts |a − e| ≤ atol + rtol·|e| elementwise; NaN never passes.
#[track_caller]
pub fn assert_close(what: &str, actual: &[f32], expected: &[f32], rtol: f32, atol: f32) {
    assert_eq!(
        actual.len(),
        expected.len(),
        "{what}: length {} but expected {}",
        actual.len(),
        expected.len()
    );
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let ok = (a - e).abs() <= atol + rtol * e.abs();
        assert!(
            ok,
            "{what}: index {i}: got {a}, expected {e} (|diff| = {}, tolerance {atol} + {rtol}·|expected|)",
            (a - e).abs()
        );
    }
}

/// The same with f64 expectations.
#[track_caller]
pub fn assert_close_f64(what: &str, actual: &[f32], expected: &[f64], rtol: f64, atol: f64) {
    assert_eq!(actual.len(), expected.len(), "{what}: length mismatch");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let a64 = a as f64;
        let ok = (a64 - e).abs() <= atol + rtol * e.abs();
        assert!(
            ok,
            "{what}: index {i}: got {a}, expected {e} (|diff| = {}, tolerance {atol} + {rtol}·|expected|)",
            (a64 - e).abs()
        );
    }
}
