//! A fit on shared rows does not copy them: this binary's global allocator
//! records the largest single block allocated while a fit runs on the CPU,
//! which for a 2000 × 512 matrix shared through `SharedRows` (with the
//! library's own validation split) stays under half the matrix. The same
//! fit on a borrowed view, which copies the matrix, shows that the
//! measurement sees a copy.

use lintrain::{
    BackendChoice, BatchSize, CpuBackend, Examples, LbfgsOptions, Optimizer, SharedRows, Solver,
    TrainConfig, TrainData, Trainer,
};
use ndarray::{Array1, Array2};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// The system allocator, recording the largest block asked for.
struct LargestBlock;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the
// bookkeeping is an atomic and allocates nothing.
unsafe impl GlobalAlloc for LargestBlock {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Relaxed);
        // SAFETY: the caller's layout, as GlobalAlloc::alloc requires.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Relaxed);
        // SAFETY: as for alloc.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Relaxed);
        // SAFETY: the caller's block, layout and size, as GlobalAlloc::realloc requires.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's block and layout, as GlobalAlloc::dealloc requires.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: LargestBlock = LargestBlock;

const ROWS: usize = 2000;
const FEATURES: usize = 512;

/// The largest block allocated while `fit` runs.
fn largest_block_during(fit: impl FnOnce()) -> usize {
    LARGEST.store(0, Relaxed);
    fit();
    LARGEST.load(Relaxed)
}

#[test]
fn a_fit_with_a_validation_split_on_shared_rows_allocates_no_copy_of_them() {
    let owner: Arc<Vec<f32>> = Arc::new(
        (0..ROWS * FEATURES)
            .map(|i| ((i * 7919 % 1009) as f32 / 1009.0) - 0.5)
            .collect(),
    );
    let labels: Array1<u32> = (0..ROWS).map(|r| (r % 3) as u32).collect();
    let matrix_bytes = ROWS * FEATURES * size_of::<f32>();
    let config = TrainConfig {
        optimizer: Optimizer::adam(),
        epochs: 2,
        batch_size: BatchSize::Rows(64),
        validation_fraction: 0.2,
        backend: BackendChoice::Cpu,
        ..TrainConfig::default()
    };
    let cpu = CpuBackend::new();
    // SAFETY: ROWS·FEATURES f32 owned by `owner`, behind an Arc that nobody
    // writes, kept alive by the result.
    let x = unsafe { SharedRows::from_raw_parts(owner.as_ptr(), ROWS, FEATURES, owner.clone()) };
    // A first fit warms up what is made once per process (thread pools),
    // so that the measured fits count only their own blocks.
    let fit_shared = || {
        Trainer::new(config.clone())
            .fit_data_on(
                &cpu,
                TrainData::new(Examples::shared_classes(&x, labels.view())),
            )
            .unwrap()
    };
    fit_shared();
    let shared = largest_block_during(|| {
        fit_shared();
    });
    assert!(
        shared < matrix_bytes / 2,
        "a fit on shared rows allocated a block of {shared} bytes; the matrix is {matrix_bytes}"
    );
    // The full-batch path (L-BFGS over an objective on the backend's rows).
    let lbfgs = TrainConfig {
        solver: Solver::Lbfgs(LbfgsOptions {
            max_iterations: 5,
            ..LbfgsOptions::default()
        }),
        ..config.clone()
    };
    let full_batch = largest_block_during(|| {
        Trainer::new(lbfgs)
            .fit_data_on(
                &cpu,
                TrainData::new(Examples::shared_classes(&x, labels.view())),
            )
            .unwrap();
    });
    assert!(
        full_batch < matrix_bytes / 2,
        "an L-BFGS fit on shared rows allocated a block of {full_batch} bytes; the matrix is {matrix_bytes}"
    );
    eprintln!("largest blocks: minibatch {shared}, L-BFGS {full_batch}, matrix {matrix_bytes}");

    // The control: a borrowed view is copied into the backend, and the
    // allocator sees it.
    let array = Array2::from_shape_vec((ROWS, FEATURES), owner.to_vec()).unwrap();
    let copied = largest_block_during(|| {
        Trainer::new(config.clone())
            .fit_data_on(
                &cpu,
                TrainData::new(Examples::classes(array.view(), labels.view())),
            )
            .unwrap();
    });
    assert!(
        copied >= matrix_bytes,
        "the copying fit's largest block is {copied} bytes, the matrix {matrix_bytes}"
    );
}
