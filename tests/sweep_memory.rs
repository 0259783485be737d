//! The memory a sweep's members take, measured by the allocator, against
//! the estimate its check refuses too large a grid with
//! ([`BYTES_PER_MEMBER_PARAMETER`]): an estimate below the real peak lets
//! a grid through that then runs out of memory.

use lintrain::sweep::{Grid, SweepConfig, Sweeper, SweptParameter};
use lintrain::train::BYTES_PER_MEMBER_PARAMETER;
use lintrain::{CpuBackend, Examples, TrainConfig, TrainData};
use ndarray::{Array1, Array2};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The bytes allocated now, and the most at once since the last reset.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

struct PeakCounting;

// SAFETY: every call is System's, with the bytes counted on the side.
unsafe impl GlobalAlloc for PeakCounting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(live, Ordering::SeqCst);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: PeakCounting = PeakCounting;

#[test]
fn the_members_peak_memory_is_within_the_estimate_the_check_uses() {
    // Wide members on few rows, so that the members' parameters are
    // nearly all the memory.
    let (rows, features, classes, members) = (40, 2000, 10, 16);
    let x = Array2::from_shape_fn((rows, features), |(i, j)| {
        ((i * 7 + j * 3) % 11) as f32 - 5.0
    });
    let labels = Array1::from_iter((0..rows).map(|i| (i % classes) as u32));
    let values: Vec<f64> = (0..members).map(|k| 1e-3 * (k + 1) as f64).collect();
    let grid = Grid::new(vec![(SweptParameter::LearningRate, values)]).unwrap();
    let config = SweepConfig::new(
        TrainConfig {
            epochs: 2,
            validation_fraction: 0.25,
            // Its best epoch's weights are one more copy.
            early_stopping: Some(lintrain::EarlyStopping {
                patience: 5,
                monitor: lintrain::Monitor::ValidationLoss,
            }),
            ..TrainConfig::default()
        },
        grid,
    );
    let backend = CpuBackend::new();
    let data_bytes = rows * features * 4;
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let outcome = Sweeper::new(config)
        .fit_data_on(
            &backend,
            TrainData::new(Examples::classes(x.view(), labels.view())),
        )
        .unwrap();
    let peak = PEAK.load(Ordering::SeqCst) - before;
    let parameters = members * (features + 1) * classes;
    let estimate = parameters * BYTES_PER_MEMBER_PARAMETER as usize;
    // Besides the members: the split's copies of the rows, and the
    // step's scratch, a few copies of the data at most.
    let allowance = 4 * data_bytes + (1 << 20);
    eprintln!(
        "peak {peak} bytes: {:.1} per member parameter (estimate {BYTES_PER_MEMBER_PARAMETER})",
        peak as f64 / parameters as f64
    );
    assert!(
        peak <= estimate + allowance,
        "a sweep of {members} members of {} parameters peaked at {peak} bytes, {:.1} a member parameter; the check estimates {BYTES_PER_MEMBER_PARAMETER}",
        parameters / members,
        peak as f64 / parameters as f64
    );
    drop(outcome);
}
