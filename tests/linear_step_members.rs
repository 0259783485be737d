//! A sweep's step (`Backend::linear_step_members`): every member's stats
//! and gradient equal its own `linear_step` over the same rows, on the CPU
//! (one shared pass over the rows, every instruction set) and on the GPU
//! (the trait's per-member default), with NaN-prefilled outputs; and its
//! typed errors.

mod common;

use common::cpu_step::{Case, Resident, TargetKind, loss_cases, supported_isas, takes_outputs};
use common::{assert_close, nan_vec, random_vec, rng};
use lintrain::cpu::StepKernels;
use lintrain::{Backend, CpuBackend, Error};

/// `members` parameter sets for the case's shape (the first is the case's).
fn member_params(case: &Case, members: usize) -> Vec<Vec<f32>> {
    let mut rng = rng(case.d as u64 * 31 + members as u64);
    let scale = 1.0 / (case.d as f32).sqrt();
    (0..members)
        .map(|k| match k {
            0 => case.params.clone(),
            _ => random_vec(&mut rng, case.params.len(), scale),
        })
        .collect()
}

/// Checks the members' step on `backend` against each member's own step
/// on `reference`.
fn check(what: &str, backend: &CpuBackend, case: &Case, members: usize) {
    let resident = Resident::new(backend, case);
    let params = member_params(case, members);
    let len = case.d * case.c + case.c;
    let slot = 1;
    let mut grads: Vec<Vec<f32>> = (0..members).map(|_| nan_vec(len + 2)).collect();
    let mut stats = nan_vec(2 * members * (slot + 2));
    backend
        .linear_step_members(
            resident.step(case),
            &params,
            Some(&mut grads),
            &mut stats,
            slot,
        )
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let own = CpuBackend::new().with_step_kernels(StepKernels::FusedDots);
    for (k, (params, grads)) in params.iter().zip(&grads).enumerate() {
        let mut want_grads = nan_vec(len);
        let mut want_stats = nan_vec(2);
        own.linear_step(
            resident.step(case),
            params,
            Some(&mut want_grads),
            &mut want_stats,
            0,
        )
        .unwrap();
        let at = 2 * (slot * members + k);
        let who = format!("{what}, member {k} of {members}");
        assert_close(
            &format!("{who}: grads"),
            &grads[..len],
            &want_grads,
            1e-4,
            1e-5,
        );
        assert!(
            grads[len..].iter().all(|v| v.is_nan()),
            "{who}: wrote past its gradient"
        );
        assert_close(
            &format!("{who}: mean loss"),
            &stats[at..at + 1],
            &want_stats[..1],
            1e-5,
            1e-6,
        );
        assert_eq!(stats[at + 1], want_stats[1], "{who}: correct rows");
    }
    let written = 2 * slot * members..2 * (slot + 1) * members;
    for (i, v) in stats.iter().enumerate() {
        assert!(
            written.contains(&i) || v.is_nan(),
            "{what}: stats[{i}] written outside the step's slots"
        );
    }
}

#[test]
fn cpu_members_equal_their_own_steps_for_every_loss() {
    for isa in supported_isas() {
        let backend = CpuBackend::with_isa(isa).unwrap();
        let mut seed = 100;
        for (loss, kind, _) in loss_cases() {
            for (rows, d, c) in [(7, 7, 2), (65, 257, 10), (33, 63, 3), (9, 1, 1)] {
                if !takes_outputs(&loss, c) {
                    continue;
                }
                seed += 1;
                let case = Case::new(loss, kind, rows, d, c, seed);
                for members in [1, 3, 8] {
                    let what =
                        format!("{isa:?} {} ({kind:?}) rows {rows} D {d} C {c}", loss.name());
                    check(&what, &backend, &case, members);
                }
            }
        }
    }
}

#[test]
fn wide_members_and_the_unfused_fallback_equal_their_own_steps() {
    let case = Case::new(
        lintrain::Loss::softmax(),
        TargetKind::Labels,
        129,
        768,
        100,
        7,
    );
    check("C 100 × 4 members", &CpuBackend::new(), &case, 4);
    let unfused = CpuBackend::new().with_step_kernels(StepKernels::Unfused);
    check("unfused, 3 members", &unfused, &case, 3);
}

#[test]
fn members_without_gradients_write_only_stats() {
    let backend = CpuBackend::new();
    let case = Case::new(lintrain::Loss::hinge(), TargetKind::Labels, 20, 16, 10, 3);
    let resident = Resident::new(&backend, &case);
    let params = member_params(&case, 3);
    let mut stats = nan_vec(6);
    backend
        .linear_step_members(resident.step(&case), &params, None, &mut stats, 0)
        .unwrap();
    assert!(stats.iter().all(|v| v.is_finite()), "{stats:?}");
}

#[test]
fn bad_member_lists_are_typed_errors() {
    let backend = CpuBackend::new();
    let case = Case::new(lintrain::Loss::softmax(), TargetKind::Labels, 8, 5, 3, 4);
    let resident = Resident::new(&backend, &case);
    let mut stats = nan_vec(16);
    let none: Vec<Vec<f32>> = Vec::new();
    let err = backend
        .linear_step_members(resident.step(&case), &none, None, &mut stats, 0)
        .unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { .. }), "{err}");
    let params = member_params(&case, 2);
    let mut one_grad = vec![nan_vec(case.params.len())];
    let err = backend
        .linear_step_members(
            resident.step(&case),
            &params,
            Some(&mut one_grad),
            &mut stats,
            0,
        )
        .unwrap_err();
    assert!(err.to_string().contains("2 members"), "{err}");
    // A member of the wrong shape is refused as its own step refuses it.
    let mut short = member_params(&case, 2);
    short[1].truncate(3);
    let err = backend
        .linear_step_members(resident.step(&case), &short, None, &mut stats, 0)
        .unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { .. }), "{err}");
    // A slot whose stats index overflows is out of the stats buffer, for
    // the members' step as for one step (not an overflow panic, nor a
    // wrapped index that lands inside).
    let params = member_params(&case, 2);
    for slot in [usize::MAX / 2, usize::MAX / 4 + 1, usize::MAX] {
        let err = backend
            .linear_step_members(resident.step(&case), &params, None, &mut stats, slot)
            .unwrap_err();
        assert!(
            matches!(err, Error::ShapeMismatch { .. }),
            "slot {slot}: {err}"
        );
        let err = lintrain::backend::step_each_member(
            &backend,
            resident.step(&case),
            &params,
            None,
            &mut stats,
            slot,
        )
        .unwrap_err();
        assert!(
            matches!(err, Error::ShapeMismatch { .. }),
            "slot {slot}: {err}"
        );
        let err = backend
            .linear_step(resident.step(&case), &params[0], None, &mut stats, slot)
            .unwrap_err();
        assert!(
            matches!(err, Error::ShapeMismatch { .. }),
            "slot {slot}: {err}"
        );
    }
    assert!(stats.iter().all(|v| v.is_nan()), "nothing written on error");
}

/// The GPU's members step against the CPU's shared pass: the same stats in
/// the same slots and the same gradients, within f32 tolerance, with every
/// step variant forced (the unfused one gathers the rows once for every
/// member; the fused and tiled ones step each member), for class and
/// real-valued targets, and at C = 10 and C = 40.
#[test]
fn gpu_members_match_the_cpu_shared_pass() {
    use lintrain::gpu::{GpuOptions, StepVariant};
    for variant in [
        None,
        Some(StepVariant::Unfused),
        Some(StepVariant::Fused8),
        Some(StepVariant::Tiled),
    ] {
        let options = GpuOptions {
            step: variant,
            ..GpuOptions::default()
        };
        let Some(gpu) = common::gpu_with_options(options) else {
            return;
        };
        for (kind, c) in [
            (TargetKind::Labels, 10),
            (TargetKind::Labels, 40),
            (TargetKind::Values, 7),
        ] {
            let loss = match kind {
                TargetKind::Labels => lintrain::Loss::softmax(),
                _ => lintrain::Loss::MeanSquaredError,
            };
            let case = Case::new(loss, kind, 40, 33, c, 9);
            check_gpu_members(&format!("{variant:?}, {kind:?}, C = {c}"), &gpu, &case);
        }
    }
}

fn check_gpu_members(what: &str, gpu: &lintrain::GpuBackend, case: &Case) {
    let cpu = CpuBackend::new();
    let params = member_params(case, 3);
    let len = case.d * case.c + case.c;
    let (slot, members) = (2, params.len());
    let mut cpu_grads: Vec<Vec<f32>> = (0..members).map(|_| nan_vec(len)).collect();
    let mut cpu_stats = nan_vec(2 * members * (slot + 1));
    let resident = Resident::new(&cpu, case);
    cpu.linear_step_members(
        resident.step(case),
        &params,
        Some(&mut cpu_grads),
        &mut cpu_stats,
        slot,
    )
    .unwrap();
    let x = gpu.upload_rows(case.x.view()).unwrap();
    let labels = gpu.upload_indices(&case.labels).unwrap();
    let values = gpu.upload_rows(case.values.view()).unwrap();
    let indices = gpu.upload_indices(&case.indices).unwrap();
    let step = lintrain::backend::LinearStep {
        loss: &case.loss,
        x: &x,
        targets: match case.kind {
            TargetKind::Values => lintrain::backend::ResidentTargets::Values(&values),
            _ => lintrain::backend::ResidentTargets::Classes {
                labels: &labels,
                class_weights: None,
            },
        },
        indices: &indices,
        first: case.first,
        rows: case.rows,
        outputs: case.c,
    };
    let gpu_params: Vec<_> = params.iter().map(|p| gpu.upload(p).unwrap()).collect();
    let mut gpu_grads: Vec<_> = (0..members)
        .map(|_| gpu.upload(&nan_vec(len)).unwrap())
        .collect();
    let mut gpu_stats = gpu.upload(&nan_vec(2 * members * (slot + 1))).unwrap();
    gpu.linear_step_members(
        step,
        &gpu_params,
        Some(&mut gpu_grads),
        &mut gpu_stats,
        slot,
    )
    .unwrap();
    let stats = gpu.read(&gpu_stats).unwrap();
    for (i, v) in stats.iter().enumerate() {
        let written = (2 * slot * members..2 * (slot + 1) * members).contains(&i);
        assert_eq!(written, v.is_finite(), "{what}: GPU stats[{i}] = {v}");
    }
    let at = 2 * slot * members..2 * (slot + 1) * members;
    assert_close(
        &format!("{what}: GPU stats vs CPU"),
        &stats[at.clone()],
        &cpu_stats[at],
        1e-4,
        1e-5,
    );
    for (k, (g, c)) in gpu_grads.iter().zip(&cpu_grads).enumerate() {
        let g = gpu.read(g).unwrap();
        assert_close(
            &format!("{what}: GPU member {k} grads vs CPU"),
            &g[..len],
            c,
            1e-3,
            1e-5,
        );
    }
}

/// A warm sweep step on the GPU creates no bind group, however many
/// members it has: each member's step and update bind their own buffers,
/// so the caches must hold them all (40 members: more than the caches'
/// first capacity).
#[test]
fn a_warm_gpu_sweep_step_creates_no_bind_groups() {
    use lintrain::UpdateStep;
    use lintrain::optimizer::STATE_SLOTS;
    let Some(gpu) = common::gpu() else { return };
    let case = Case::new(lintrain::Loss::softmax(), TargetKind::Labels, 40, 33, 10, 9);
    let members = 40;
    let len = case.d * case.c + case.c;
    let x = gpu.upload_rows(case.x.view()).unwrap();
    let labels = gpu.upload_indices(&case.labels).unwrap();
    let indices = gpu.upload_indices(&case.indices).unwrap();
    let mut params: Vec<_> = member_params(&case, members)
        .iter()
        .map(|p| gpu.upload(p).unwrap())
        .collect();
    let mut grads: Vec<_> = (0..members).map(|_| gpu.zeros(len).unwrap()).collect();
    let mut states: Vec<_> = (0..members)
        .map(|_| gpu.zeros(STATE_SLOTS * len).unwrap())
        .collect();
    let mut stats = gpu.zeros(2 * members).unwrap();
    let updates: Vec<UpdateStep> = (0..members)
        .map(|k| UpdateStep {
            optimizer: lintrain::Optimizer::adam(),
            regularizer: lintrain::Regularizer::L2 {
                strength: 1e-3 * k as f32,
            },
            learning_rate: 1e-3,
            step: 1,
            weight_len: case.d * case.c,
        })
        .collect();
    let mut bind_groups_per_step = Vec::new();
    for _ in 0..4 {
        let before = gpu.counters().bind_groups;
        let step = lintrain::backend::LinearStep {
            loss: &case.loss,
            x: &x,
            targets: lintrain::backend::ResidentTargets::Classes {
                labels: &labels,
                class_weights: None,
            },
            indices: &indices,
            first: case.first,
            rows: case.rows,
            outputs: case.c,
        };
        gpu.linear_step_members(step, &params, Some(&mut grads), &mut stats, 0)
            .unwrap();
        gpu.update_members(&mut params, &grads, &mut states, &updates)
            .unwrap();
        gpu.read(&stats).unwrap();
        bind_groups_per_step.push(gpu.counters().bind_groups - before);
    }
    assert!(bind_groups_per_step[0] > 0, "{bind_groups_per_step:?}");
    assert_eq!(
        &bind_groups_per_step[2..],
        &[0, 0],
        "bind groups created per step: {bind_groups_per_step:?}"
    );
}
