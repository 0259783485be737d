//! `Backend::linear_step` on every backend against an independent f64
//! computation: gather by index, scores = x·W + b, the loss's row terms from
//! `cpu::reference::loss_rows`, dW = Xᵀ·dS and db = Σ dS written out here.
//! Covers every loss, odd shapes, repeated indices, class weights, real
//! targets, a dataset split over several device chunks, and `grads: None`.

mod common;

use common::*;
use lintrain::backend::unfused_linear_step;
use lintrain::cpu::reference::{RowTargets, loss_rows};
use lintrain::gpu::{GpuOptions, MatmulVariant};
use lintrain::{AdapterChoice, Backend, CpuBackend, LinearStep, Loss, ResidentTargets};
use ndarray::{Array1, Array2};
use rand::Rng;

/// A resident problem: `n` dataset rows of `d` features, `c` outputs, and
/// the step's index list.
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
    let classes = c.max(2);
    let labels = random_labels(&mut rng, n, classes);
    let values = Array2::from_shape_vec((n, c), random_vec(&mut rng, n * c, 2.0)).unwrap();
    let class_weights = weighted.then(|| (0..c).map(|_| rng.random_range(0.25..2.0)).collect());
    let params = random_vec(&mut rng, d * c + c, 0.5);
    // Offset into a longer index list, with repeats (drawn with replacement).
    let first = 3;
    let indices = (0..first + rows + 2)
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
    let d = p.x.ncols();
    let c = p.c;
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

/// Runs one fused step on `backend` and returns (stats, grads).
fn run<B: Backend>(
    backend: &B,
    loss: &Loss,
    p: &Problem,
    real_targets: bool,
    with_grads: bool,
    fused: bool,
) -> (Vec<f32>, Vec<f32>) {
    let x = backend.upload_rows(p.x.view()).unwrap();
    let labels = backend.upload_indices(&p.labels).unwrap();
    let values = backend.upload_rows(p.values.view()).unwrap();
    let weights = p.class_weights.as_ref().map(|w| backend.upload(w).unwrap());
    let indices = backend.upload_indices(&p.indices).unwrap();
    let params = backend.upload(&p.params).unwrap();
    let d = p.x.ncols();
    let mut grads = backend.upload(&nan_vec(d * p.c + p.c)).unwrap();
    // Slot 1 of 3: neighbouring slots must stay NaN.
    let mut stats = backend.upload(&nan_vec(6)).unwrap();
    let targets = if real_targets {
        ResidentTargets::Values(&values)
    } else {
        ResidentTargets::Classes {
            labels: &labels,
            class_weights: weights.as_ref(),
        }
    };
    let step = LinearStep {
        loss,
        x: &x,
        targets,
        indices: &indices,
        first: p.first,
        rows: p.rows,
        outputs: p.c,
    };
    let grads_out = with_grads.then_some(&mut grads);
    if fused {
        backend
            .linear_step(step, &params, grads_out, &mut stats, 1)
            .unwrap();
    } else {
        unfused_linear_step(backend, step, &params, grads_out, &mut stats, 1).unwrap();
    }
    (backend.read(&stats).unwrap(), backend.read(&grads).unwrap())
}

/// Runs every loss over the shapes; returns the number of steps run.
fn check<B: Backend>(name: &str, backend: &B, fused: bool) -> u64 {
    let losses = [
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
    ];
    let shapes = [
        (1, 1, 2, 1),
        (9, 7, 3, 7),
        (70, 63, 10, 65),
        (300, 65, 1, 257),
        (40, 3073, 10, 63),
        // C = 9 and 16: W's texels span two 8-lane loads, partly and fully.
        (12, 5, 9, 8),
        (20, 257, 16, 33),
        // 1500 feature texels: all four of the GPU's uniform windows.
        (30, 6000, 10, 9),
    ];
    let mut seed = 0;
    let mut steps = 0;
    for (loss, real_targets) in losses {
        for &(n, d, c, rows) in &shapes {
            seed += 1;
            // One output column is the binary model of MSE and logistic;
            // class-index losses need at least two.
            let c = if matches!(loss, Loss::MeanSquaredError | Loss::Logistic) {
                c
            } else {
                c.max(2)
            };
            let weighted = !real_targets && seed % 2 == 0;
            let p = problem(seed, n, d, c, rows, weighted);
            let (loss_mean, correct, grads) = expected(&loss, &p, real_targets);
            let what = format!(
                "{name} {}{} n={n} d={d} c={c} rows={rows}{}",
                loss.name(),
                if real_targets { " (real targets)" } else { "" },
                if weighted { " weighted" } else { "" }
            );
            for with_grads in [true, false] {
                let (stats, got) = run(backend, &loss, &p, real_targets, with_grads, fused);
                steps += 1;
                assert!(
                    stats[0].is_nan() && stats[1].is_nan() && stats[4].is_nan(),
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
                    // f32 scores over thousands of features carry more
                    // rounding into dS than the small shapes do.
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
    }
    steps
}

#[test]
fn cpu_fused_step_matches_f64_reference() {
    check("cpu", &CpuBackend::new(), true);
}

#[test]
fn cpu_unfused_step_matches_f64_reference() {
    check("cpu unfused", &CpuBackend::new(), false);
}

#[test]
fn gpu_fused_step_matches_f64_reference_for_both_matmul_variants() {
    for (variant, gpu) in gpu_variants() {
        let steps = check(&format!("gpu {variant:?}"), &gpu, true);
        // Every shape fits the fused kernels: none may fall back unfused.
        assert_eq!(gpu.counters().fused_steps, steps, "gpu {variant:?}");
    }
}

/// W beyond the fused kernels' uniform windows: the unfused composition
/// runs instead, with the same results.
#[test]
fn gpu_fused_step_beyond_its_windows_runs_unfused() {
    let Some(gpu) = gpu() else {
        return;
    };
    // 1750 feature texels of 10 outputs: more than 4 windows of 409.
    let p = problem(103, 12, 7000, 10, 9, false);
    let loss = Loss::softmax();
    let (loss_mean, correct, grads) = expected(&loss, &p, false);
    let (stats, got) = run(&gpu, &loss, &p, false, true, true);
    assert_eq!(gpu.counters().fused_steps, 0);
    assert_close_f64("unfused mean loss", &stats[2..3], &[loss_mean], 1e-4, 1e-5);
    assert_eq!(stats[3] as f64, correct, "unfused correct count");
    assert_close_f64("unfused [dW | db]", &got, &grads, 2e-3, 1e-5);
}

#[test]
fn gpu_unfused_step_matches_f64_reference() {
    if let Some(gpu) = gpu() {
        check("gpu unfused", &gpu, false);
    }
}

/// A dataset split over several device buffers (as CIFAR-sized data is on
/// lavapipe) reads the right rows.
#[test]
fn gpu_fused_step_reads_rows_across_chunks() {
    let Some(gpu) = gpu_with_options(GpuOptions {
        adapter: AdapterChoice::PreferHardware,
        matmul: Some(MatmulVariant::RegisterTiled),
        max_binding_bytes: None,
        max_chunk_rows: Some(7),
        step: None,
        tiled_loss: None,
    }) else {
        return;
    };
    for (seed, loss) in [(101, Loss::softmax()), (102, Loss::hinge())] {
        let p = problem(seed, 60, 33, 4, 45, false);
        let (loss_mean, correct, grads) = expected(&loss, &p, false);
        let (stats, got) = run(&gpu, &loss, &p, false, true, true);
        assert_close_f64("chunked mean loss", &stats[2..3], &[loss_mean], 1e-4, 1e-5);
        assert_eq!(stats[3] as f64, correct, "chunked correct count");
        assert_close_f64("chunked [dW | db]", &got, &grads, 2e-3, 1e-5);
    }
}

/// An index past the dataset is a typed error, not a device fault.
#[test]
fn fused_step_rejects_bad_indices_and_params() {
    fn bad<B: Backend>(backend: &B) {
        let p = problem(7, 10, 5, 3, 4, false);
        let x = backend.upload_rows(p.x.view()).unwrap();
        let labels = backend.upload_indices(&p.labels).unwrap();
        let indices = backend.upload_indices(&[0, 1, 99, 2]).unwrap();
        let params = backend.upload(&p.params).unwrap();
        let short_params = backend.upload(&p.params[..5]).unwrap();
        let mut grads = backend.zeros(5 * 3 + 3).unwrap();
        let mut stats = backend.zeros(2).unwrap();
        let loss = Loss::softmax();
        let step = |indices, rows| LinearStep {
            loss: &loss,
            x: &x,
            targets: ResidentTargets::Classes {
                labels: &labels,
                class_weights: None,
            },
            indices,
            first: 0,
            rows,
            outputs: 3,
        };
        assert!(
            backend
                .linear_step(step(&indices, 4), &params, Some(&mut grads), &mut stats, 0)
                .is_err(),
            "index 99 of 10 rows"
        );
        let good = backend.upload_indices(&[0, 1, 2, 3]).unwrap();
        assert!(
            backend
                .linear_step(step(&good, 5), &params, Some(&mut grads), &mut stats, 0)
                .is_err(),
            "5 rows from 4 indices"
        );
        assert!(
            backend
                .linear_step(step(&good, 4), &short_params, None, &mut stats, 0)
                .is_err(),
            "params shorter than D·C + C"
        );
        assert!(
            backend
                .linear_step(step(&good, 4), &params, None, &mut stats, 1)
                .is_err(),
            "stats slot past the buffer"
        );
    }
    bad(&CpuBackend::new());
    if let Some(gpu) = gpu() {
        bad(&gpu);
    }
}

/// Softmax and the hinge losses need two score columns; with one, a label
/// of 1 would index past the row. Both the fused step and the plain loss
/// refuse the shape instead.
#[test]
fn class_losses_with_one_output_are_refused() {
    fn refuses<B: Backend>(name: &str, backend: &B) {
        let p = problem(9, 12, 5, 1, 6, false);
        for loss in [
            Loss::softmax(),
            Loss::hinge(),
            Loss::SquaredHinge { margin: 1.0 },
        ] {
            for fused in [true, false] {
                let x = backend.upload_rows(p.x.view()).unwrap();
                let labels = backend.upload_indices(&p.labels).unwrap();
                let indices = backend.upload_indices(&p.indices).unwrap();
                let params = backend.upload(&p.params).unwrap();
                let mut stats = backend.zeros(2).unwrap();
                let step = LinearStep {
                    loss: &loss,
                    x: &x,
                    targets: ResidentTargets::Classes {
                        labels: &labels,
                        class_weights: None,
                    },
                    indices: &indices,
                    first: p.first,
                    rows: p.rows,
                    outputs: 1,
                };
                let result = if fused {
                    backend.linear_step(step, &params, None, &mut stats, 0)
                } else {
                    unfused_linear_step(backend, step, &params, None, &mut stats, 0)
                };
                let error = result.expect_err(&format!("{name} {} with C = 1", loss.name()));
                assert!(
                    error.to_string().contains("at least 2 score columns"),
                    "{name}: {error}"
                );
            }
        }
    }
    refuses("cpu", &CpuBackend::new());
    if let Some(gpu) = gpu() {
        refuses("gpu", &gpu);
    }
}
