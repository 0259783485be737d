//! The CPU backend's own kernels: the fused linear step against the unfused
//! operations and an f64 computation, for every loss and odd shapes, bitwise
//! equal whatever the thread count, with both fused kernels (dot products
//! and tiles) on every instruction set this CPU runs (AVX-512, AVX2 + FMA,
//! portable); the unfused steps a CPU without AVX2 runs; which instruction
//! sets `with_isa` accepts; its bad-input errors; and no heap allocation in
//! steady state. The wide shapes are in `cpu_wide_step.rs`.

mod common;

use common::cpu_step::{
    ALL_ISAS, Case, FUSED_KERNELS, GRAD_TOLERANCES, Reference, Resident, TILE_GRAD_TOLERANCES,
    TargetKind, assert_bitwise_identical_across_pools, backend_on, backends_with, check_step,
    check_step_within, cpu_has, for_each_case, kernels, pool, supported_isas,
};
use common::{assert_close_f64, random_vec, rng};
use lintrain::backend::{LinearStep, ResidentTargets};
use lintrain::cpu::{CpuRows, Isa, StepKernels};
use lintrain::{Backend, CpuBackend, Error, Loss, Optimizer, Regularizer, UpdateStep};
use ndarray::Array2;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

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

#[test]
fn fused_step_matches_unfused_and_f64_for_every_loss() {
    let backend = CpuBackend::new().with_step_kernels(StepKernels::Fused);
    eprintln!("kernels: {:?}", backend.isa());
    for_each_case(|case| check_step(&backend, case));
}

/// Each fused kernel forced on each instruction set this CPU runs (the
/// references computed once per case).
#[test]
fn every_isa_and_fused_kernel_matches_unfused_and_f64_for_every_loss() {
    let backends = backends_with(&FUSED_KERNELS);
    let reference_backend = CpuBackend::new();
    for_each_case(|case| {
        let reference = Reference::new(&reference_backend, case);
        for backend in &backends {
            let tolerances = match backend.step_kernels() {
                StepKernels::FusedTiles => TILE_GRAD_TOLERANCES,
                _ => GRAD_TOLERANCES,
            };
            check_step_within(backend, case, &reference, tolerances);
        }
    });
}

/// The fused kernels where they have SIMD (AVX-512 or AVX2): there they
/// beat the unfused path. A clone keeps the instruction set and kernels.
#[test]
fn backend_fuses_steps_only_with_avx2_or_avx512() {
    let default_for = |isa| match isa {
        Isa::Avx512 | Isa::Avx2Fma => StepKernels::Fused,
        Isa::Portable => StepKernels::Unfused,
    };
    let backend = CpuBackend::new();
    let expected = default_for(backend.isa());
    assert_eq!(backend.step_kernels(), expected);
    assert_eq!(backend.clone().step_kernels(), expected);
    assert_eq!(CpuBackend::portable().step_kernels(), StepKernels::Unfused);
    for isa in supported_isas() {
        let backend = CpuBackend::with_isa(isa).unwrap();
        assert_eq!(backend.isa(), isa);
        assert_eq!(backend.step_kernels(), default_for(isa), "{isa:?}");
        let clone = backend.clone();
        assert_eq!((clone.isa(), clone.step_kernels()), (isa, default_for(isa)));
        for kernels in FUSED_KERNELS {
            let clone = backend_on(isa, kernels).clone();
            assert_eq!((clone.isa(), clone.step_kernels()), (isa, kernels));
        }
    }
}

/// `with_isa` accepts exactly the instruction sets this CPU has (detected
/// by the test itself) and refuses the others with InvalidConfig; the
/// portable kernels run everywhere, and `new()` takes the best.
#[test]
fn with_isa_accepts_exactly_the_instruction_sets_this_cpu_has() {
    for isa in ALL_ISAS {
        assert_eq!(isa.is_supported(), cpu_has(isa), "{isa:?}.is_supported()");
        match CpuBackend::with_isa(isa) {
            Ok(backend) => {
                assert!(cpu_has(isa), "{isa:?} accepted on a CPU without it");
                assert_eq!(backend.isa(), isa);
            }
            Err(Error::InvalidConfig(message)) => {
                assert!(!cpu_has(isa), "{isa:?} refused on a CPU with it: {message}");
                eprintln!("refused as it should be: {message}");
            }
            Err(e) => panic!("{isa:?} refused with {e:?} instead of InvalidConfig"),
        }
    }
    let portable = CpuBackend::with_isa(Isa::Portable).unwrap();
    assert_eq!(portable.isa(), Isa::Portable);
    assert_eq!(
        portable.step_kernels(),
        CpuBackend::portable().step_kernels()
    );
    let best = ALL_ISAS.into_iter().find(|&isa| cpu_has(isa)).unwrap();
    assert_eq!(Isa::detect(), best);
    let detected = CpuBackend::with_isa(Isa::detect()).unwrap();
    let new = CpuBackend::new();
    assert_eq!(
        (detected.isa(), detected.step_kernels()),
        (new.isa(), new.step_kernels())
    );
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

/// The automatic choice, the portable fused and unfused steps, and each
/// fused kernel forced on each instruction set this CPU runs.
#[test]
fn fused_step_is_bitwise_identical_across_thread_counts() {
    let threads = [1, 2, 3];
    let pools: Vec<_> = threads.into_iter().map(pool).collect();
    let mut backends = vec![
        CpuBackend::new().with_step_kernels(StepKernels::Fused),
        CpuBackend::portable().with_step_kernels(StepKernels::Fused),
        CpuBackend::portable(),
    ];
    backends.extend(backends_with(&FUSED_KERNELS));
    for backend in &backends {
        for_each_case(|case| {
            assert_bitwise_identical_across_pools(backend, case, &threads, &pools)
        });
    }
}

#[test]
fn fused_step_rejects_bad_input_with_typed_errors() {
    let mut backends = vec![CpuBackend::new().with_step_kernels(StepKernels::Fused)];
    backends.extend(backends_with(&FUSED_KERNELS));
    for backend in &backends {
        assert_rejects_bad_input(backend);
    }
}

fn assert_rejects_bad_input(backend: &CpuBackend) {
    let on = kernels(backend);
    let case = Case::new(Loss::softmax(), TargetKind::Labels, 7, 5, 3, 99);
    let resident = Resident::new(backend, &case);
    let params = backend.upload(&case.params).unwrap();
    let mut grads = vec![0.0; 5 * 3 + 3];
    let mut stats = vec![0.0; 2];
    let mut run = |step: LinearStep<'_, CpuBackend>, params: &Vec<f32>, stats: &mut Vec<f32>| {
        backend.linear_step(step, params, Some(&mut grads), stats, 0)
    };

    let short_params = vec![0.0; 5 * 3];
    assert!(
        matches!(
            run(resident.step(&case), &short_params, &mut stats),
            Err(Error::ShapeMismatch { .. })
        ),
        "{on}"
    );
    let mut no_stats = vec![];
    assert!(
        matches!(
            run(resident.step(&case), &params, &mut no_stats),
            Err(Error::ShapeMismatch { .. })
        ),
        "{on}"
    );
    let empty = LinearStep {
        rows: 0,
        ..resident.step(&case)
    };
    assert!(
        matches!(
            run(empty, &params, &mut stats),
            Err(Error::ShapeMismatch { .. })
        ),
        "{on}"
    );
    let past_the_end = LinearStep {
        first: case.indices.len() - 2,
        ..resident.step(&case)
    };
    assert!(
        matches!(
            run(past_the_end, &params, &mut stats),
            Err(Error::ShapeMismatch { .. })
        ),
        "{on}"
    );

    let bad_indices = backend.upload_indices(&[0, 1, 99]).unwrap();
    let step = LinearStep {
        indices: &bad_indices,
        first: 0,
        rows: 3,
        ..resident.step(&case)
    };
    assert!(
        matches!(
            run(step, &params, &mut stats),
            Err(Error::IndexOutOfRange { index: 99, .. })
        ),
        "{on}"
    );

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
    assert!(
        matches!(
            run(step, &params, &mut stats),
            Err(Error::LabelOutOfRange { label: 3, .. })
        ),
        "{on}"
    );

    let short_weights = vec![1.0; 2];
    let step = LinearStep {
        targets: ResidentTargets::Classes {
            labels: &resident.labels,
            class_weights: Some(&short_weights),
        },
        ..resident.step(&case)
    };
    assert!(
        matches!(
            run(step, &params, &mut stats),
            Err(Error::ShapeMismatch { .. })
        ),
        "{on}"
    );

    let step = LinearStep {
        targets: ResidentTargets::Values(&resident.values),
        ..resident.step(&case)
    };
    assert!(
        matches!(run(step, &params, &mut stats), Err(Error::InvalidConfig(_))),
        "{on}"
    );

    let mse = Loss::MeanSquaredError;
    let narrow_values = CpuRows::Owned(Array2::<f32>::zeros((case.x.nrows(), 2)));
    let step = LinearStep {
        loss: &mse,
        targets: ResidentTargets::Values(&narrow_values),
        ..resident.step(&case)
    };
    assert!(
        matches!(
            run(step, &params, &mut stats),
            Err(Error::ShapeMismatch { .. })
        ),
        "{on}"
    );
}

/// Counts the allocations of `work` run on a counted pool.
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

/// Pools of 2 threads and of 1, made once and never dropped. Only the thread
/// running [`allocations_during`]'s closure counts: an idle rayon worker
/// may allocate on its own (crossbeam's epoch garbage), which is not the
/// step's doing. On the 1-thread pool every task of the step runs on that
/// thread, so it sees the whole step; the 2-thread pool sees the caller's
/// share with the spin pool's helpers at work.
fn counted_pools() -> &'static [(usize, rayon::ThreadPool); 2] {
    static POOLS: OnceLock<[(usize, rayon::ThreadPool); 2]> = OnceLock::new();
    POOLS.get_or_init(|| {
        [2, 1].map(|threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            (threads, pool)
        })
    })
}

/// Held by each test that counts allocations, for its whole length: the
/// count is one for the process, and a test's counted threads would add to
/// another's count.
static COUNTING: Mutex<()> = Mutex::new(());

#[test]
fn steady_state_step_loss_and_update_do_not_allocate() {
    let case = Case::new(Loss::softmax(), TargetKind::Labels, 65, 3073, 10, 7);
    assert_steady_state_does_not_allocate(
        || CpuBackend::new().with_step_kernels(StepKernels::Fused),
        &case,
    );
}

/// The wide step's tiles (their gathered batch and score scratch) at a
/// linear probe's width, on each instruction set this CPU runs.
#[test]
fn steady_state_wide_tiles_step_does_not_allocate() {
    let case = Case::new(Loss::softmax(), TargetKind::Labels, 65, 768, 100, 8);
    for isa in supported_isas() {
        assert_steady_state_does_not_allocate(|| backend_on(isa, StepKernels::FusedTiles), &case);
    }
}

/// Steps, each with an Adam update and a loss, allocate nothing once a
/// first step has grown the scratch. Counted on a 2-thread pool and on a
/// 1-thread one, where every task of the step runs on the counted caller
/// (the step's helper threads are not counted).
fn assert_steady_state_does_not_allocate(new_backend: impl Fn() -> CpuBackend, case: &Case) {
    let _counting = COUNTING.lock().unwrap_or_else(|e| e.into_inner());
    for (threads, counted_pool) in counted_pools() {
        let backend = new_backend();
        let what = format!(
            "{} on {} ({threads} threads)",
            case.describe(),
            kernels(&backend)
        );
        let resident = Resident::new(&backend, case);
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
                        resident.step(case),
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
        let fresh = new_backend();
        let first_step = allocations_during(counted_pool, || {
            let mut stats = vec![0.0; 2];
            fresh
                .linear_step(resident.step(case), &case.params, None, &mut stats, 0)
                .unwrap();
        });
        assert!(first_step > 0, "{what}: a first step must grow its scratch");
        counted_pool.install(|| steps(2));
        let allocations = allocations_during(counted_pool, || steps(5));
        assert_eq!(
            allocations, 0,
            "{what}: steady-state steps allocated {allocations} times"
        );
    }
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

#[test]
fn updates_read_only_the_parameters_length_of_longer_gradient_and_state_buffers() {
    // As the GPU's update does: the parameters' length rules, and the
    // gradient and state buffers need only hold that much. Short vectors
    // run in one loop, long ones in the pool's chunks.
    for len in [10usize, 9_001] {
        let mut rng = rng(len as u64);
        let init = random_vec(&mut rng, len, 1.0);
        let grads = random_vec(&mut rng, len, 1.0);
        let step = UpdateStep {
            optimizer: Optimizer::adam(),
            regularizer: Regularizer::L2 { strength: 1e-2 },
            learning_rate: 1e-2,
            step: 1,
            weight_len: len - 2,
        };
        let backend = CpuBackend::new();
        let mut expected = init.clone();
        let mut expected_state = vec![0.0f32; 3 * len];
        backend
            .update(&mut expected, &grads, &mut expected_state, &step)
            .unwrap();
        let longer_grads: Vec<f32> = grads.iter().copied().chain([f32::NAN; 5000]).collect();
        let mut params = init.clone();
        let mut state = vec![0.0f32; 3 * len + 7];
        backend
            .update(&mut params, &longer_grads, &mut state, &step)
            .unwrap_or_else(|e| panic!("{len} parameters: {e}"));
        assert_eq!(params, expected, "{len} parameters");
        // Members of different lengths, each with a longer gradient.
        let mut members = vec![init.clone(), init[..len / 2].to_vec()];
        let member_grads = vec![longer_grads.clone(), longer_grads.clone()];
        let mut states = vec![vec![0.0f32; 3 * len], vec![0.0f32; 3 * len]];
        let steps = [
            step,
            UpdateStep {
                weight_len: len / 2 - 1,
                ..step
            },
        ];
        backend
            .update_members(&mut members, &member_grads, &mut states, &steps)
            .unwrap_or_else(|e| panic!("members of {len} parameters: {e}"));
        assert_eq!(members[0], expected, "member 0 of {len} parameters");
        let mut half = init[..len / 2].to_vec();
        backend
            .update(
                &mut half,
                &grads[..len / 2].to_vec(),
                &mut vec![0.0; 3 * len],
                &steps[1],
            )
            .unwrap();
        assert_eq!(members[1], half, "member 1 of {len} parameters");
    }
}
