//! The tiled linear step (`StepVariant::Tiled`, what discrete GPUs run for
//! wide models), forced on whatever adapter CI has (lavapipe), against an
//! independent f64 computation: gather by index, scores = x·W + b, the
//! loss's row terms from `cpu::reference::loss_rows`, dW = Xᵀ·dS and
//! db = Σ dS. Covers every loss, class weights, real targets, C from 1 to
//! 1003 and D from 1 to 4097 (edges of every 64-wide tile), a nonzero
//! `first`, outputs and scratch holding NaN beforehand, repeatability to
//! the bit, the batch split of the weight gradient, datasets over several
//! chunk buffers, the same typed errors as the CPU, and no allocation once
//! warm. The loss rows' two reductions (`TiledLoss`) are each forced: in
//! workgroup memory on every shape, with subgroup operations on a subset
//! (lavapipe's subgroups hold 8 invocations), and the two agree.

mod common;

use common::*;
use lintrain::cpu::reference::{RowTargets, loss_rows};
use lintrain::gpu::{GpuOptions, StepVariant, TiledLoss};
use lintrain::{AdapterChoice, Backend, CpuBackend, GpuBackend, LinearStep, Loss, ResidentTargets};
use ndarray::{Array1, Array2};
use rand::Rng;

/// A resident problem: `n` dataset rows of `d` features, `c` outputs, and
/// the step's index list, read from `first` on.
struct Problem {
    x: Array2<f32>,
    labels: Vec<u32>,
    values: Array2<f32>,
    class_weights: Option<Vec<f32>>,
    params: Vec<f32>,
    indices: Vec<u32>,
    first: usize,
    rows: usize,
    c: usize,
}

fn problem(seed: u64, n: usize, d: usize, c: usize, rows: usize, weighted: bool) -> Problem {
    let mut rng = rng(seed);
    let x = Array2::from_shape_vec((n, d), random_vec(&mut rng, n * d, 1.0)).unwrap();
    let labels = random_labels(&mut rng, n, c.max(2));
    let values = Array2::from_shape_vec((n, c), random_vec(&mut rng, n * c, 2.0)).unwrap();
    let class_weights = weighted.then(|| (0..c).map(|_| rng.random_range(0.25..2.0)).collect());
    // Scaled so that scores stay of order one whatever D is.
    let scale = 1.5 / (d as f32).sqrt();
    let params = random_vec(&mut rng, d * c + c, scale);
    // Read from an offset into a longer list, with repeats.
    let first = 5;
    let indices = (0..first + rows + 3)
        .map(|_| rng.random_range(0..n as u32))
        .collect();
    Problem {
        x,
        labels,
        values,
        class_weights,
        params,
        indices,
        first,
        rows,
        c,
    }
}

/// (mean loss, correct count, [dW | db]) computed in f64.
fn expected(loss: &Loss, p: &Problem, real_targets: bool) -> (f64, f64, Vec<f64>) {
    let (d, c) = (p.x.ncols(), p.c);
    let picked: Vec<usize> = p.indices[p.first..p.first + p.rows]
        .iter()
        .map(|&i| i as usize)
        .collect();
    let xb = Array2::from_shape_fn((p.rows, d), |(r, k)| p.x[(picked[r], k)] as f64);
    let w = Array2::from_shape_fn((d, c), |(k, j)| p.params[k * c + j] as f64);
    let b = Array1::from_shape_fn(c, |j| p.params[d * c + j] as f64);
    let scores = xb.dot(&w) + &b;
    let labels: Vec<u32> = picked.iter().map(|&i| p.labels[i]).collect();
    let weights = p
        .class_weights
        .as_ref()
        .map(|w| Array1::from_iter(w.iter().map(|&v| v as f64)));
    let values = Array2::from_shape_fn((p.rows, c), |(r, j)| p.values[(picked[r], j)] as f64);
    let targets = if real_targets {
        RowTargets::Values(values.view())
    } else {
        RowTargets::Classes {
            labels: &labels,
            class_weights: weights.as_ref().map(|w| w.view()),
        }
    };
    let result = loss_rows(loss, scores.view(), &targets);
    let mean = result.row_loss.sum() / p.rows as f64;
    let dw = xb.t().dot(&result.dscores);
    let db = result.dscores.sum_axis(ndarray::Axis(0));
    let mut grads: Vec<f64> = dw.iter().copied().collect();
    grads.extend(db.iter());
    (mean, result.correct as f64, grads)
}

/// A problem's buffers on one backend.
struct Resident<B: Backend> {
    x: B::Rows,
    labels: B::Indices,
    values: B::Rows,
    weights: Option<B::Buffer>,
    indices: B::Indices,
    params: B::Buffer,
}

fn resident<B: Backend>(backend: &B, p: &Problem) -> Resident<B> {
    Resident {
        x: backend.upload_rows(p.x.view()).unwrap(),
        labels: backend.upload_indices(&p.labels).unwrap(),
        values: backend.upload_rows(p.values.view()).unwrap(),
        weights: p.class_weights.as_ref().map(|w| backend.upload(w).unwrap()),
        indices: backend.upload_indices(&p.indices).unwrap(),
        params: backend.upload(&p.params).unwrap(),
    }
}

/// Runs one step with `params` (the problem's unless given) and returns
/// (stats, grads), both prefilled with NaN: the step writes slot 1 of 3.
fn step<B: Backend>(
    backend: &B,
    on: &Resident<B>,
    loss: &Loss,
    p: &Problem,
    real_targets: bool,
    with_grads: bool,
    params: Option<&B::Buffer>,
) -> lintrain::Result<(Vec<f32>, Vec<f32>)> {
    let d = p.x.ncols();
    let mut grads = backend.upload(&nan_vec(d * p.c + p.c))?;
    let mut stats = backend.upload(&nan_vec(6))?;
    let targets = if real_targets {
        ResidentTargets::Values(&on.values)
    } else {
        ResidentTargets::Classes {
            labels: &on.labels,
            class_weights: on.weights.as_ref(),
        }
    };
    let linear = LinearStep {
        loss,
        x: &on.x,
        targets,
        indices: &on.indices,
        first: p.first,
        rows: p.rows,
        outputs: p.c,
    };
    let grads_out = with_grads.then_some(&mut grads);
    let params = params.unwrap_or(&on.params);
    backend.linear_step(linear, params, grads_out, &mut stats, 1)?;
    Ok((backend.read(&stats)?, backend.read(&grads)?))
}

fn forced(variant: StepVariant, max_chunk_rows: Option<usize>) -> Option<GpuBackend> {
    gpu_with_options(GpuOptions {
        adapter: AdapterChoice::PreferHardware,
        step: Some(variant),
        max_chunk_rows,
        ..GpuOptions::default()
    })
}

/// The tiled step with its loss rows reduced by `loss`, or None when no
/// adapter opens or (said loudly) `Subgroup` is not available on it. On
/// lavapipe, which has subgroups of 8, it must be.
fn tiled_with(loss: TiledLoss) -> Option<GpuBackend> {
    let gpu = gpu_with_options(GpuOptions {
        adapter: AdapterChoice::PreferHardware,
        step: Some(StepVariant::Tiled),
        tiled_loss: Some(loss),
        ..GpuOptions::default()
    })?;
    let context = gpu.context();
    if context.tiled_loss() != loss {
        assert!(
            !context.adapter_name().contains("llvmpipe"),
            "lavapipe has subgroups, yet the tiled loss runs {:?}",
            context.tiled_loss()
        );
        eprintln!(
            "{} has no usable subgroups: the {loss:?} loss is not tested here",
            context.adapter_name()
        );
        return None;
    }
    Some(gpu)
}

fn losses() -> Vec<(Loss, bool)> {
    vec![
        (Loss::softmax(), false),
        (
            Loss::SoftmaxCrossEntropy {
                label_smoothing: 0.1,
            },
            false,
        ),
        (Loss::hinge(), false),
        (Loss::SquaredHinge { margin: 0.5 }, false),
        (Loss::MeanSquaredError, false),
        (Loss::MeanSquaredError, true),
        (Loss::Logistic, false),
    ]
}

/// Checks one problem under one loss: first a step with NaN parameters,
/// which leaves NaN in the scores scratch (and in dS and the row losses
/// where the loss passes NaN on), then the real step, which must write
/// every value it reads.
fn check_problem(gpu: &GpuBackend, what: &str, loss: &Loss, p: &Problem, real_targets: bool) {
    let d = p.x.ncols();
    let on = resident(gpu, p);
    let poison = gpu.upload(&nan_vec(p.params.len())).unwrap();
    step(gpu, &on, loss, p, real_targets, true, Some(&poison)).unwrap();
    let (loss_mean, correct, grads) = expected(loss, p, real_targets);
    for with_grads in [true, false] {
        let (stats, got) = step(gpu, &on, loss, p, real_targets, with_grads, None).unwrap();
        assert!(
            stats[0].is_nan() && stats[1].is_nan() && stats[4].is_nan() && stats[5].is_nan(),
            "{what}: wrote outside its stats slot: {stats:?}"
        );
        assert_close_f64(
            &format!("{what} mean loss"),
            &stats[2..3],
            &[loss_mean],
            1e-4,
            1e-5,
        );
        assert_eq!(stats[3] as f64, correct, "{what}: correct count");
        if with_grads {
            // f32 scores over thousands of features carry more rounding
            // into dS than the small shapes do.
            let atol = 1e-5 * (d as f64 / 1000.0).max(1.0);
            assert_close_f64(&format!("{what} [dW | db]"), &got, &grads, 2e-3, atol);
        } else {
            assert!(
                got.iter().all(|g| g.is_nan()),
                "{what}: grads None must leave the gradient buffer untouched"
            );
        }
    }
}

/// (D, C, rows): every C at D 7 and 768, a few at D 1 and 4097; C 1 and 2
/// are the binary models, 17 and 1003 leave partial 64-wide tiles, and D
/// and C multiples of 4 take the vec4 loads. Rows from 1 to 257 (two
/// splits of the weight gradient), fewer where C·D is large, so that the
/// test runs in seconds on lavapipe.
fn shapes() -> Vec<(usize, usize, usize)> {
    let rows = [1, 7, 65, 257];
    let mut shapes = Vec::new();
    for (i, &c) in [1, 2, 10, 17, 100, 1000, 1003].iter().enumerate() {
        shapes.push((7, c, rows[i % 4]));
    }
    for &(c, r) in &[
        (1, 65),
        (2, 257),
        (10, 1),
        (17, 65),
        (100, 257),
        (1000, 7),
        (1003, 7),
    ] {
        shapes.push((768, c, r));
    }
    for &(c, r) in &[(2, 65), (17, 257), (1003, 7)] {
        shapes.push((1, c, r));
    }
    for &(c, r) in &[(1, 65), (17, 7), (1003, 7)] {
        shapes.push((4097, c, r));
    }
    shapes
}

/// Checks every loss on every shape of `shapes` with the tiled step of
/// `gpu`, each problem seeded by its place in the loop.
fn check_shapes(gpu: &GpuBackend, shapes: &[(usize, usize, usize)]) {
    let label = format!("tiled, {:?} loss", gpu.context().tiled_loss());
    let mut seed = 0;
    let mut steps = 0;
    for (loss, real_targets) in losses() {
        for &(d, c, rows) in shapes {
            seed += 1;
            // Class-index losses need two columns; one is the binary model
            // of MSE and logistic.
            let c = if matches!(loss, Loss::MeanSquaredError | Loss::Logistic) {
                c
            } else {
                c.max(2)
            };
            let weighted = !real_targets && seed % 2 == 0;
            let n = 300;
            let p = problem(seed, n, d, c, rows, weighted);
            let what = format!(
                "{label} {}{} d={d} c={c} rows={rows}{}",
                loss.name(),
                if real_targets { " (real targets)" } else { "" },
                if weighted { " weighted" } else { "" }
            );
            check_problem(gpu, &what, &loss, &p, real_targets);
            steps += 3;
        }
    }
    assert_eq!(gpu.counters().tiled_steps, steps, "every step ran tiled");
    assert_eq!(gpu.counters().fused_steps, 0);
}

#[test]
fn tiled_step_matches_f64_reference_for_every_loss_and_wide_shape() {
    let Some(gpu) = tiled_with(TiledLoss::Workgroup) else {
        return;
    };
    check_shapes(&gpu, &shapes());
}

/// The subgroup reduction on every loss at C 1, 2, 17 and 1003 (one
/// subgroup's worth of columns and less, and rows over several subgroups
/// and several columns per invocation) with D 7, and at 768 × 1000.
#[test]
fn tiled_step_with_subgroup_loss_matches_f64_reference() {
    let Some(gpu) = tiled_with(TiledLoss::Subgroup) else {
        return;
    };
    let shapes = [
        (7, 1, 65),
        (7, 2, 257),
        (7, 17, 7),
        (7, 1003, 65),
        (768, 1000, 7),
    ];
    check_shapes(&gpu, &shapes);
}

/// Datasets over 3 chunk buffers (read in place) and over 9 (more than the
/// kernels bind: the batch is gathered first), with either kind of load.
#[test]
fn tiled_step_reads_rows_across_chunks() {
    for chunk_rows in [20, 7] {
        let Some(gpu) = forced(StepVariant::Tiled, Some(chunk_rows)) else {
            return;
        };
        for (seed, (loss, real_targets)) in losses().into_iter().enumerate() {
            // Scalar loads, and vec4 loads (D and C multiples of 4).
            for (d, c) in [(70, 19), (72, 20)] {
                let p = problem(200 + seed as u64, 60, d, c, 45, seed % 2 == 0);
                let what = format!("chunks of {chunk_rows} rows, d={d} c={c} {}", loss.name());
                check_problem(&gpu, &what, &loss, &p, real_targets);
            }
        }
    }
}

/// The same step twice gives the same bits with either loss reduction:
/// the weight gradient's splits are summed in a fixed order, with no
/// atomics, and so are the loss rows; the two reductions agree within f32
/// rounding, on the row's top (the correct count) exactly.
#[test]
fn tiled_step_is_bit_identical_across_runs() {
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let mut results = Vec::new();
    for reduction in [TiledLoss::Workgroup, TiledLoss::Subgroup] {
        let Some(gpu) = tiled_with(reduction) else {
            continue;
        };
        // 600 rows: three splits of the weight gradient.
        let p = problem(31, 700, 768, 100, 600, true);
        let on = resident(&gpu, &p);
        let loss = Loss::softmax();
        let first = step(&gpu, &on, &loss, &p, false, true, None).unwrap();
        let again = step(&gpu, &on, &loss, &p, false, true, None).unwrap();
        assert_eq!(
            bits(&first.0),
            bits(&again.0),
            "{reduction:?}: stats differ between runs"
        );
        assert_eq!(
            bits(&first.1),
            bits(&again.1),
            "{reduction:?}: [dW | db] differs between runs"
        );
        results.push(first);
    }
    if let [workgroup, subgroup] = &results[..] {
        let as_f64 = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
        assert_close_f64(
            "subgroup vs workgroup mean loss",
            &subgroup.0[2..3],
            &as_f64(&workgroup.0[2..3]),
            1e-6,
            1e-7,
        );
        assert_eq!(subgroup.0[3], workgroup.0[3], "correct counts differ");
        assert_close_f64(
            "subgroup vs workgroup [dW | db]",
            &subgroup.1,
            &as_f64(&workgroup.1),
            1e-5,
            1e-7,
        );
    }
}

/// The predicted class is reference::argmax's with either loss reduction:
/// the first column of the largest score, a NaN in column 0 predicting 0
/// and any other NaN passed over. Scores are the bias alone (W = 0), the
/// same in every row, with 300 columns: 44 invocations hold two each.
#[test]
fn tiled_loss_predicts_the_first_largest_score_and_passes_over_nan() {
    let (d, c, rows) = (3, 300, 20);
    let ties = |columns: &[usize]| {
        let mut bias = vec![0.0f32; c];
        for &j in columns {
            bias[j] = 1.0;
        }
        bias
    };
    let with = |mut bias: Vec<f32>, changes: &[(usize, f32)]| {
        for &(j, value) in changes {
            bias[j] = value;
        }
        bias
    };
    let cases: Vec<(&str, Vec<f32>)> = vec![
        ("ties within a subgroup", ties(&[18, 17, 21])),
        ("ties across invocations", ties(&[30, 140, 270])),
        ("ties at second columns", ties(&[299, 262])),
        ("ties with column 0", ties(&[256, 0])),
        ("NaN in column 0", with(ties(&[7]), &[(0, f32::NAN)])),
        (
            "NaN before its invocation's largest",
            with(
                ties(&[259]),
                &[(3, f32::NAN), (5, f32::NAN), (261, f32::NAN)],
            ),
        ),
        ("all minus infinity", vec![f32::NEG_INFINITY; c]),
    ];
    for reduction in [TiledLoss::Workgroup, TiledLoss::Subgroup] {
        let Some(gpu) = tiled_with(reduction) else {
            continue;
        };
        for (seed, (what, bias)) in cases.iter().enumerate() {
            let predicted = lintrain::cpu::reference::argmax(ndarray::ArrayView1::from(&bias[..]));
            let mut p = problem(70 + seed as u64, 40, d, c, rows, false);
            p.params = vec![0.0; d * c];
            p.params.extend(bias);
            // Every other dataset row labelled with the predicted class.
            for (i, label) in p.labels.iter_mut().enumerate() {
                *label = if i % 2 == 0 {
                    predicted as u32
                } else {
                    ((predicted + 1) % c) as u32
                };
            }
            let correct = p.indices[p.first..p.first + rows]
                .iter()
                .filter(|&&i| i % 2 == 0)
                .count();
            assert!(correct > 0, "{what}: no row to get right");
            let on = resident(&gpu, &p);
            let (stats, _) = step(&gpu, &on, &Loss::softmax(), &p, false, true, None).unwrap();
            assert_eq!(
                stats[3], correct as f32,
                "{reduction:?} {what}: predicted other than column {predicted}"
            );
        }
    }
}

/// A weight gradient summed from several splits of the batch equals one
/// product over the whole batch (the unfused composition's) within f32
/// rounding, for batches of one to five splits.
#[test]
fn tiled_step_splits_agree_with_one_product() {
    let (Some(tiled), Some(unfused)) = (
        forced(StepVariant::Tiled, None),
        forced(StepVariant::Unfused, None),
    ) else {
        return;
    };
    for (seed, rows) in [(41, 256), (42, 257), (43, 1000), (44, 1200)] {
        let p = problem(seed, 1300, 96, 33, rows, false);
        let loss = Loss::hinge();
        let a = step(&tiled, &resident(&tiled, &p), &loss, &p, false, true, None).unwrap();
        let b = step(
            &unfused,
            &resident(&unfused, &p),
            &loss,
            &p,
            false,
            true,
            None,
        )
        .unwrap();
        let what = format!("{rows} rows");
        let as_f64 = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
        assert_close_f64(
            &format!("{what} stats"),
            &a.0[2..4],
            &as_f64(&b.0[2..4]),
            1e-5,
            1e-6,
        );
        assert_close_f64(
            &format!("{what} [dW | db]"),
            &a.1,
            &as_f64(&b.1),
            1e-4,
            1e-6,
        );
    }
}

/// Bad input gives the CPU's typed errors, before anything runs.
#[test]
fn tiled_step_rejects_bad_input_like_the_cpu() {
    let Some(gpu) = forced(StepVariant::Tiled, None) else {
        return;
    };
    fn error<B: Backend>(backend: &B, p: &Problem, c: usize) -> String {
        let on = resident(backend, p);
        let mut stats = backend.zeros(2).unwrap();
        let mut grads = backend.zeros(p.x.ncols() * c + c).unwrap();
        let loss = Loss::softmax();
        let linear = LinearStep {
            loss: &loss,
            x: &on.x,
            targets: ResidentTargets::Classes {
                labels: &on.labels,
                class_weights: None,
            },
            indices: &on.indices,
            first: p.first,
            rows: p.rows,
            outputs: c,
        };
        backend
            .linear_step(linear, &on.params, Some(&mut grads), &mut stats, 0)
            .expect_err("bad input was accepted")
            .to_string()
    }
    // An index past the dataset.
    let mut p = problem(51, 40, 9, 30, 20, false);
    p.indices[p.first + 4] = 40;
    let cpu = error(&CpuBackend::new(), &p, 30);
    assert!(cpu.contains("40"), "{cpu}");
    assert_eq!(error(&gpu, &p, 30), cpu, "out-of-range index");
    // A label past the classes, in a row the step reads.
    let mut p = problem(52, 40, 9, 30, 20, false);
    let row = p.indices[p.first + 7] as usize;
    p.labels[row] = 30;
    let cpu = error(&CpuBackend::new(), &p, 30);
    assert_eq!(error(&gpu, &p, 30), cpu, "out-of-range label");
    assert_eq!(
        gpu.counters().tiled_steps,
        0,
        "a refused step recorded work"
    );
}

/// Once warm, a step creates no buffer: its scratch is pooled.
#[test]
fn tiled_steps_allocate_nothing_once_warm() {
    let Some(gpu) = forced(StepVariant::Tiled, None) else {
        return;
    };
    let p = problem(61, 300, 130, 70, 257, true);
    let on = resident(&gpu, &p);
    let loss = Loss::softmax();
    let mut grads = gpu.zeros(130 * 70 + 70).unwrap();
    let mut stats = gpu.zeros(2).unwrap();
    let mut run = || {
        let linear = LinearStep {
            loss: &loss,
            x: &on.x,
            targets: ResidentTargets::Classes {
                labels: &on.labels,
                class_weights: on.weights.as_ref(),
            },
            indices: &on.indices,
            first: p.first,
            rows: p.rows,
            outputs: p.c,
        };
        gpu.linear_step(linear, &on.params, Some(&mut grads), &mut stats, 0)
            .unwrap();
        gpu.flush().unwrap();
    };
    run();
    let warm = gpu.counters();
    for _ in 0..3 {
        run();
    }
    let after = gpu.counters();
    assert_eq!(after.buffer_allocations, warm.buffer_allocations);
    assert_eq!(after.bind_groups, warm.bind_groups);
    assert_eq!(after.readbacks, warm.readbacks);
    assert_eq!(after.tiled_steps, warm.tiled_steps + 3);
}
