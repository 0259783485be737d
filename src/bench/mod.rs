//! The CPU-against-GPU benchmark behind `cargo bench --bench cpu_vs_gpu`
//! and `lintrain bench`: kernels (matmul, fused losses, the Adam update),
//! one minibatch step fused and unfused, end-to-end training on
//! CIFAR-10-shaped synthetic data, full-batch L-BFGS to convergence on
//! the scikit-learn peer's problem ([`lbfgs`]), and the Adam step of a wide
//! linear probe on L2-normalized embeddings (`probe`, against
//! `peers/probe_step.py`), each on both backends, reported as a markdown
//! table and optionally as JSON records.
//!
//! This module measures and returns a [`Report`]; the command line's
//! `src/cli/bench.rs` turns flags into [`BenchOptions`], shows progress and
//! prints the report, so the library needs no argument parser.

mod cases;
mod data;
pub mod lbfgs;
mod probe_data;
mod report;
pub mod sweep;
mod timing;

pub use data::synthetic;
pub use lbfgs::LbfgsRun;
pub use report::{Record, Report, StepCounts};
pub use timing::{Budget, Timing};

use crate::gpu::{GpuOptions, MatmulVariant, StepVariant};
use crate::{AdapterChoice, Backend, CpuBackend, Error, GpuBackend, GpuContext, Loss, Result};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Rows per training step in the step and end-to-end cases (CS231n's 200).
pub const BATCH: usize = 200;
/// Features of the CIFAR-10 shape: 32·32·3 pixels + the bias column of ones
/// the peers append (lintrain keeps a separate bias as well).
pub const FEATURES: usize = 3073;
pub const CLASSES: usize = 10;

/// Which backends a run measures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BenchBackends {
    #[default]
    Both,
    Cpu,
    Gpu,
}

/// The benchmark's cases, each measured on every selected backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaseName {
    Matmul,
    SoftmaxXent,
    Hinge,
    AdamStep,
    Step,
    TrainSoftmax,
    TrainSvm,
    /// Full-batch L-BFGS to convergence ([`lbfgs`]).
    Lbfgs,
    /// `train_probe`: the Adam step of a wide softmax probe on
    /// L2-normalized rows ([`PROBE_SHAPES`]), and its two products as
    /// `matmul` records.
    Probe,
    /// `sweep_step`: one step of K = 1, 8 and 32 models differing in their
    /// L2 strength over the same minibatch ([`sweep`]); `sweep_train`: the
    /// same members trained together, epoch by epoch.
    Sweep,
}

/// Rows per step of the `probe` case (`peers/probe_step.py`'s default).
pub const PROBE_BATCH: usize = 256;
/// The `probe` case's tables, rows × features, and its class counts.
pub const PROBE_SHAPES: ((usize, usize), [usize; 2]) = ((50_000, 768), [100, 1000]);
/// The same with `quick`.
pub const PROBE_QUICK_SHAPES: ((usize, usize), [usize; 2]) = ((5000, 64), [10, 100]);
/// Seed of the `probe` case's tables (the peer's `default_rng(768)`; a
/// different generator, so the same distribution, not the same numbers).
const PROBE_SEED: u64 = 768;

/// What one benchmark run measures, and at which sizes. The command line
/// (`lintrain bench`, `cargo bench --bench cpu_vs_gpu`) builds it from its
/// flags; the default is the full run of every case on both backends.
#[derive(Clone, Debug, Default)]
pub struct BenchOptions {
    /// Small sizes that finish in seconds; the figures mean little.
    pub quick: bool,
    /// Backends to measure.
    pub backend: BenchBackends,
    /// GPU adapter (`WGPU_ADAPTER_NAME`, when set, picks by name).
    pub adapter: AdapterChoice,
    /// GPU matmul kernel; `None` picks by device type (register tiles on
    /// CPU-type adapters, shared-memory tiles on GPUs).
    pub matmul: Option<MatmulVariant>,
    /// GPU linear-step kernels; `None` picks per step (see
    /// [`crate::GpuContext::step_variant`]).
    pub step: Option<StepVariant>,
    /// Only these cases; empty for all.
    pub cases: Vec<CaseName>,
    /// Epochs of the end-to-end cases, 1 to [`MAX_EPOCHS`]; the first is
    /// not timed (it may compile pipelines). `None`: 4, quick 2.
    pub epochs: Option<u64>,
    /// Training rows of the step and end-to-end cases, [`BATCH`] to
    /// [`MAX_ROWS`]. `None`: 49000, quick 2000.
    pub rows: Option<u64>,
    /// The `lbfgs` case's rows: a directory holding the `x.npy` and `y.npy`
    /// that `peers/sklearn_lbfgs.py --out DIR` wrote. `None`: generated
    /// with the peer's recipe ([`lbfgs::FULL_SHAPE`], quick
    /// [`lbfgs::QUICK_SHAPE`]).
    pub lbfgs_data: Option<PathBuf>,
    /// The objective the `lbfgs` case reports the time to (scikit-learn's
    /// final objective on the same rows). `None`: no such time.
    pub lbfgs_target: Option<f64>,
}

/// Most epochs of the end-to-end cases: a benchmark, not a training run.
pub const MAX_EPOCHS: u64 = 1000;
/// Most training rows: the synthetic table stays within
/// [`MAX_TABLE_VALUES`](crate::limits::MAX_TABLE_VALUES).
pub const MAX_ROWS: u64 = crate::limits::MAX_TABLE_VALUES / FEATURES as u64;

impl BenchOptions {
    /// The epochs and rows within their ranges (the command line refuses
    /// others while parsing; a program may pass anything).
    fn check(&self) -> Result<()> {
        let in_range = |what: &str, value: Option<u64>, min: u64, max: u64| match value {
            Some(v) if !(min..=max).contains(&v) => Err(Error::InvalidConfig(format!(
                "benchmark {what} {v} is out of range {min}..={max}"
            ))),
            _ => Ok(()),
        };
        in_range("epochs", self.epochs, 1, MAX_EPOCHS)?;
        in_range("rows", self.rows, BATCH as u64, MAX_ROWS)?;
        if let Some(target) = self.lbfgs_target
            && !target.is_finite()
        {
            return Err(Error::InvalidConfig(format!(
                "the lbfgs case's target objective must be a finite number, got {target}"
            )));
        }
        if !wants(self, CaseName::Lbfgs)
            && (self.lbfgs_data.is_some() || self.lbfgs_target.is_some())
        {
            return Err(Error::InvalidConfig(
                "the lbfgs case's data or target (--lbfgs-data, --lbfgs-target) is given, but \
                 the lbfgs case is not selected"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// The sizes one run uses.
struct Plan {
    matmuls: Vec<((usize, usize, usize), bool)>,
    loss_rows: Vec<usize>,
    adam_params: Vec<usize>,
    train_rows: usize,
    epochs: usize,
    kernel_budget: Budget,
    step_budget: Budget,
    /// The `probe` case: table, class counts and the two products of its
    /// widest step (forward, and the weight gradient as Aᵀ·B).
    probe: ((usize, usize), [usize; 2]),
    probe_matmuls: Vec<((usize, usize, usize), bool)>,
    /// The `sweep` case's shapes.
    sweep: Vec<sweep::SweepShape>,
}

impl Plan {
    fn new(options: &BenchOptions) -> Self {
        let quick = options.quick;
        let (matmuls, loss_rows, adam_params) = if quick {
            (vec![64, 128], vec![200, 4900], vec![30_730, 65_536])
        } else {
            (vec![256, 1024], vec![200, 49_000], vec![30_730, 1_000_000])
        };
        let mut shapes: Vec<((usize, usize, usize), bool)> =
            matmuls.into_iter().map(|s| ((s, s, s), false)).collect();
        // The training step's two products: forward and weight gradient.
        shapes.push(((BATCH, FEATURES, CLASSES), false));
        shapes.push(((FEATURES, BATCH, CLASSES), true));
        let budget = |warmup, min, max, secs: f64, sample_ms: u64| Budget {
            warmup,
            min_samples: min,
            max_samples: max,
            time: Duration::from_secs_f64(secs),
            sample_time: Duration::from_millis(sample_ms),
        };
        let probe = if quick {
            PROBE_QUICK_SHAPES
        } else {
            PROBE_SHAPES
        };
        let ((_, d), classes) = probe;
        let widest = classes[1];
        Self {
            matmuls: shapes,
            probe,
            probe_matmuls: vec![
                ((PROBE_BATCH, d, widest), false),
                ((d, PROBE_BATCH, widest), true),
            ],
            sweep: sweep_shapes(quick),
            loss_rows,
            adam_params,
            train_rows: options
                .rows
                .map_or(if quick { 2000 } else { 49_000 }, |r| r as usize),
            epochs: options
                .epochs
                .map_or(if quick { 2 } else { 4 }, |e| e as usize),
            kernel_budget: if quick {
                budget(1, 3, 15, 0.1, 5)
            } else {
                budget(3, 7, 101, 1.5, 25)
            },
            step_budget: if quick {
                budget(2, 3, 15, 0.2, 10)
            } else {
                budget(5, 9, 101, 3.0, 50)
            },
        }
    }
}

fn wants(options: &BenchOptions, case: CaseName) -> bool {
    options.cases.is_empty() || options.cases.contains(&case)
}

fn open_gpu(options: &BenchOptions) -> Result<GpuBackend> {
    let context = GpuContext::with_options(GpuOptions {
        adapter: options.adapter,
        matmul: options.matmul,
        step: options.step,
        ..GpuOptions::default()
    })?;
    Ok(GpuBackend::new(Arc::new(context)))
}

/// Runs every selected case on the selected backends. `progress` hears what
/// is being measured next (and why a GPU column is missing), one short line
/// at a time, for a caller that shows it.
pub fn run(options: &BenchOptions, mut progress: impl FnMut(&str)) -> Result<Report> {
    options.check()?;
    // Read before anything is measured: a missing or malformed file fails
    // the run at once, not after the other cases.
    let lbfgs_problem = match (&options.lbfgs_data, wants(options, CaseName::Lbfgs)) {
        (Some(dir), true) => Some(lbfgs::Problem::load(dir)?),
        _ => None,
    };
    let plan = Plan::new(options);
    let cpu = (options.backend != BenchBackends::Gpu).then(CpuBackend::new);
    let gpu = if options.backend == BenchBackends::Cpu {
        None
    } else {
        match open_gpu(options) {
            Ok(gpu) => Some(gpu),
            Err(e) if options.backend == BenchBackends::Gpu || in_ci() => return Err(e),
            Err(e) => {
                progress(&format!("no GPU column: {e}"));
                None
            }
        }
    };
    let mut report = Report::new(options.quick, gpu.as_ref().map(|g| g.info()));

    if wants(options, CaseName::Matmul) {
        matmuls(&mut report, &cpu, &gpu, &plan.matmuls, &plan, &mut progress)?;
    }
    for (case, name, loss) in [
        (CaseName::SoftmaxXent, "softmax_xent", Loss::softmax()),
        (CaseName::Hinge, "hinge", Loss::hinge()),
    ] {
        if !wants(options, case) {
            continue;
        }
        for &rows in &plan.loss_rows {
            progress(&format!("{name} {rows}x{CLASSES}"));
            let time = |b: &dyn Fn() -> Result<Timing>| b().map(|t| t.rate(rows as f64));
            report.pair(
                name,
                &format!("{rows}x{CLASSES}"),
                "rows/s",
                cpu.as_ref()
                    .map(|c| time(&|| cases::loss(c, &loss, rows, CLASSES, &plan.kernel_budget)))
                    .transpose()?,
                gpu.as_ref()
                    .map(|g| time(&|| cases::loss(g, &loss, rows, CLASSES, &plan.kernel_budget)))
                    .transpose()?,
            );
        }
    }
    if wants(options, CaseName::AdamStep) {
        for &len in &plan.adam_params {
            let shape = if len == FEATURES * CLASSES {
                format!("{FEATURES}x{CLASSES}")
            } else {
                format!("{len}")
            };
            progress(&format!("adam_step {shape}"));
            let time = |b: &dyn Fn() -> Result<Timing>| b().map(|t| t.rate(len as f64));
            report.pair(
                "adam_step",
                &shape,
                "params/s",
                cpu.as_ref()
                    .map(|c| time(&|| cases::adam_step(c, len, &plan.kernel_budget)))
                    .transpose()?,
                gpu.as_ref()
                    .map(|g| time(&|| cases::adam_step(g, len, &plan.kernel_budget)))
                    .transpose()?,
            );
        }
    }

    let needs_data = [CaseName::Step, CaseName::TrainSoftmax, CaseName::TrainSvm]
        .iter()
        .any(|&c| wants(options, c));
    if gpu.is_some() && wants(options, CaseName::TrainSoftmax) {
        progress("GPU warm-up on a fresh device");
        report.warmup_seconds = Some(warmup(options)?);
    }
    if wants(options, CaseName::Lbfgs) {
        let problem = match lbfgs_problem {
            Some(problem) => problem,
            None => lbfgs::Problem::generated(if options.quick {
                lbfgs::QUICK_SHAPE
            } else {
                lbfgs::FULL_SHAPE
            }),
        };
        let target = options.lbfgs_target;
        if let Some(c) = &cpu {
            progress(&format!("lbfgs {} on the CPU backend", problem.shape()));
            report.lbfgs.push(lbfgs::run(c, "cpu", &problem, target)?);
        }
        if let Some(g) = &gpu {
            progress(&format!("lbfgs {} on the GPU backend", problem.shape()));
            report.lbfgs.push(lbfgs::run(g, "gpu", &problem, target)?);
        }
    }
    if wants(options, CaseName::Probe) {
        probe(&mut report, &cpu, &gpu, &plan, &mut progress)?;
    }
    if wants(options, CaseName::Sweep) {
        sweep_case(&mut report, &cpu, &gpu, &plan, &mut progress)?;
    }
    if !needs_data {
        return Ok(report);
    }
    progress(&format!(
        "generating {} × {FEATURES} synthetic data",
        plan.train_rows
    ));
    let (x, labels) = synthetic(plan.train_rows, FEATURES, CLASSES, 2024);
    let steps = plan.train_rows.div_ceil(BATCH);
    let step_shape = format!("{BATCH}x{FEATURES}x{CLASSES}");

    if wants(options, CaseName::Step) {
        for (name, loss, fused) in [
            ("step_fused_softmax", Loss::softmax(), true),
            ("step_unfused_softmax", Loss::softmax(), false),
            ("step_fused_svm", Loss::hinge(), true),
        ] {
            progress(&format!("{name} {step_shape}"));
            let time = |t: Timing| t.rate(BATCH as f64);
            let cpu_rate = match &cpu {
                Some(c) => Some(time(
                    cases::StepBench::new(c, &x, &labels, CLASSES, BATCH, steps)?.time(
                        &loss,
                        fused,
                        &plan.step_budget,
                    )?,
                )),
                None => None,
            };
            let gpu_rate = match &gpu {
                Some(g) => Some(time(
                    cases::StepBench::new(g, &x, &labels, CLASSES, BATCH, steps)?.time(
                        &loss,
                        fused,
                        &plan.step_budget,
                    )?,
                )),
                None => None,
            };
            report.pair(name, &step_shape, "samples/s", cpu_rate, gpu_rate);
        }
        if let Some(g) = &gpu {
            report.counts = Some(count_steps(g, &x, &labels, steps, plan.epochs)?);
        }
    }

    for (case, name, loss) in [
        (CaseName::TrainSoftmax, "train_softmax", Loss::softmax()),
        (CaseName::TrainSvm, "train_svm", Loss::hinge()),
    ] {
        if !wants(options, case) {
            continue;
        }
        let shape = format!("{}x{FEATURES}x{CLASSES}", plan.train_rows);
        progress(&format!("{name} {shape}, {} epochs", plan.epochs));
        let mut rates = [None, None];
        for (i, backend) in [
            cpu.as_ref().map(|c| c as &dyn TrainOn),
            gpu.as_ref().map(|g| g as &dyn TrainOn),
        ]
        .into_iter()
        .enumerate()
        {
            let Some(backend) = backend else { continue };
            let timing =
                backend.train(&x, &labels, cases::train_config(loss, plan.epochs, BATCH))?;
            rates[i] = Some(timing.epochs.rate(timing.samples_per_epoch as f64));
            report
                .final_losses
                .push((name.to_string(), i == 1, timing.final_loss));
        }
        report.pair(name, &shape, "samples/s", rates[0], rates[1]);
    }
    Ok(report)
}

/// `matmul` records at `shapes` (A transposed where marked), in GFLOP/s.
fn matmuls(
    report: &mut Report,
    cpu: &Option<CpuBackend>,
    gpu: &Option<GpuBackend>,
    shapes: &[((usize, usize, usize), bool)],
    plan: &Plan,
    progress: &mut impl FnMut(&str),
) -> Result<()> {
    for &((m, k, n), transpose) in shapes {
        let flops = 2.0 * (m * k * n) as f64;
        let shape = format!("{m}x{k}x{n}");
        progress(&format!("matmul {shape}"));
        let run = |b: &dyn Fn() -> Result<Timing>| b().map(|t| t.rate(flops / 1e9));
        report.pair(
            "matmul",
            &shape,
            "GFLOP/s",
            cpu.as_ref()
                .map(|c| run(&|| cases::matmul(c, (m, k, n), transpose, &plan.kernel_budget)))
                .transpose()?,
            gpu.as_ref()
                .map(|g| run(&|| cases::matmul(g, (m, k, n), transpose, &plan.kernel_budget)))
                .transpose()?,
        );
        if transpose && let Some(row) = report.rows.last_mut() {
            row.note = " (Aᵀ·B)";
        }
    }
    Ok(())
}

/// The `sweep` case's shapes: the CS231n step (3073 × 10, SGD, batch 200)
/// and the probe step (768 × 100, Adam, batch 256), on 10000 rows; quick:
/// 2000 rows of 64 features.
fn sweep_shapes(quick: bool) -> Vec<sweep::SweepShape> {
    let (rows, wide) = if quick { (2000, 64) } else { (10_000, 0) };
    let shape = |features: usize, classes: usize, batch: usize, optimizer| sweep::SweepShape {
        rows,
        features: if quick { wide } else { features },
        classes,
        batch,
        optimizer,
    };
    vec![
        shape(3073, 10, 200, crate::Optimizer::Sgd),
        shape(768, 100, PROBE_BATCH, crate::Optimizer::adam()),
    ]
}

/// The `sweep` case: per shape and member count, the median step of every
/// member (one shared step, then each member's update), in samples/s of
/// the minibatch: K = 1's rate over K's is what K settings cost per step;
/// then the median epoch of the members trained together, in training
/// rows per second.
fn sweep_case(
    report: &mut Report,
    cpu: &Option<CpuBackend>,
    gpu: &Option<GpuBackend>,
    plan: &Plan,
    progress: &mut impl FnMut(&str),
) -> Result<()> {
    for shape in &plan.sweep {
        progress(&format!(
            "generating {} × {} L2-normalized rows, {} classes",
            shape.rows, shape.features, shape.classes
        ));
        let table = sweep::table(shape);
        let step_rate = |t: Timing| t.rate(shape.batch as f64);
        for members in sweep::MEMBERS {
            let label = shape.label(members);
            progress(&format!("sweep_step {label}"));
            let budget = &plan.step_budget;
            report.pair(
                "sweep_step",
                &label,
                "samples/s",
                cpu.as_ref()
                    .map(|c| sweep::time(c, &table, shape, members, budget).map(step_rate))
                    .transpose()?,
                gpu.as_ref()
                    .map(|g| sweep::time(g, &table, shape, members, budget).map(step_rate))
                    .transpose()?,
            );
        }
        // Training rows per epoch: the table less its validation fifth.
        let train_rows = shape.rows - shape.rows / 5;
        let epoch_rate = |t: Timing| t.rate(train_rows as f64);
        for members in sweep::MEMBERS {
            let label = shape.label(members);
            progress(&format!("sweep_train {label}, {} epochs", plan.epochs));
            let epochs = plan.epochs;
            report.pair(
                "sweep_train",
                &label,
                "samples/s",
                cpu.as_ref()
                    .map(|c| {
                        sweep::time_training(c, &table, shape, members, epochs).map(epoch_rate)
                    })
                    .transpose()?,
                gpu.as_ref()
                    .map(|g| {
                        sweep::time_training(g, &table, shape, members, epochs).map(epoch_rate)
                    })
                    .transpose()?,
            );
        }
    }
    Ok(())
}

/// The `probe` case: per class count, the median Adam step (softmax, lr
/// 1e-3, L2 1e-4, [`PROBE_BATCH`] rows drawn with replacement, fused as
/// training runs it) on a seeded L2-normalized table, in samples/s as
/// `peers/probe_step.py` reports it; then its widest step's two products.
fn probe(
    report: &mut Report,
    cpu: &Option<CpuBackend>,
    gpu: &Option<GpuBackend>,
    plan: &Plan,
    progress: &mut impl FnMut(&str),
) -> Result<()> {
    let ((rows, features), classes) = plan.probe;
    let loss = Loss::softmax();
    let steps = rows.div_ceil(PROBE_BATCH);
    for classes in classes {
        let shape = format!("{rows}x{features}x{classes}");
        progress(&format!(
            "generating {rows} × {features} L2-normalized rows, {classes} classes"
        ));
        let (x, labels) = probe_data::l2_normalized(rows, features, classes, PROBE_SEED);
        progress(&format!("train_probe {shape}, batch {PROBE_BATCH}, Adam"));
        let time = |t: Timing| t.rate(PROBE_BATCH as f64);
        let cpu_rate = match cpu {
            Some(c) => Some(time(
                cases::StepBench::new(c, &x, &labels, classes, PROBE_BATCH, steps)?
                    .with_optimizer(crate::Optimizer::adam())
                    .time(&loss, true, &plan.step_budget)?,
            )),
            None => None,
        };
        let gpu_rate = match gpu {
            Some(g) => Some(time(
                cases::StepBench::new(g, &x, &labels, classes, PROBE_BATCH, steps)?
                    .with_optimizer(crate::Optimizer::adam())
                    .time(&loss, true, &plan.step_budget)?,
            )),
            None => None,
        };
        report.pair("train_probe", &shape, "samples/s", cpu_rate, gpu_rate);
    }
    matmuls(report, cpu, gpu, &plan.probe_matmuls, plan, progress)
}

/// Seconds a fresh GPU device spends compiling pipelines: its first short
/// softmax training run minus its second.
fn warmup(options: &BenchOptions) -> Result<f64> {
    let gpu = open_gpu(options)?;
    let (x, labels) = synthetic(4 * BATCH, FEATURES, CLASSES, 99);
    let mut seconds = [0.0; 2];
    for s in &mut seconds {
        let started = std::time::Instant::now();
        cases::train(
            &gpu,
            &x,
            &labels,
            cases::train_config(Loss::softmax(), 1, BATCH),
        )?;
        *s = started.elapsed().as_secs_f64();
    }
    Ok((seconds[0] - seconds[1]).max(0.0))
}

/// Object-safe training entry, so the two backends share one loop above.
trait TrainOn {
    fn train(
        &self,
        x: &ndarray::Array2<f32>,
        labels: &ndarray::Array1<u32>,
        config: crate::TrainConfig,
    ) -> Result<cases::TrainTiming>;
}

impl<B: Backend> TrainOn for B {
    fn train(
        &self,
        x: &ndarray::Array2<f32>,
        labels: &ndarray::Array1<u32>,
        config: crate::TrainConfig,
    ) -> Result<cases::TrainTiming> {
        cases::train(self, x, labels, config)
    }
}

/// The GPU engine's own counters over recorded steps (after warm-up) and
/// over whole training epochs.
fn count_steps(
    gpu: &GpuBackend,
    x: &ndarray::Array2<f32>,
    labels: &ndarray::Array1<u32>,
    steps: usize,
    epochs: usize,
) -> Result<StepCounts> {
    let loss = Loss::softmax();
    let mut bench = cases::StepBench::new(gpu, x, labels, CLASSES, BATCH, steps)?;
    // Warm: the first steps may size the backend's scratch buffers.
    for i in 0..3 {
        bench.record_fused(&loss, i)?;
    }
    gpu.flush()?;
    let before = gpu.counters();
    let recorded = 16;
    for i in 0..recorded {
        bench.record_fused(&loss, i)?;
    }
    let after = gpu.counters();
    gpu.flush()?;
    let per_step = |a: u64, b: u64| (a - b) as f64 / recorded as f64;
    // Submissions per epoch: two trainings of 1 and 1 + `extra` epochs on a
    // subset with the same number of steps per epoch as the timed runs.
    let extra = epochs.max(2) - 1;
    let mut submissions = [0u64; 2];
    for (i, e) in [1, 1 + extra].into_iter().enumerate() {
        let before = gpu.counters();
        cases::train(gpu, x, labels, cases::train_config(loss, e, BATCH))?;
        submissions[i] = gpu.counters().submissions - before.submissions;
    }
    Ok(StepCounts {
        dispatches_per_step: per_step(after.dispatches, before.dispatches),
        submissions_per_epoch: (submissions[1] - submissions[0]) as f64 / extra as f64,
        readbacks_per_step: per_step(after.readbacks, before.readbacks),
        allocations_per_step: per_step(after.buffer_allocations, before.buffer_allocations),
    })
}

/// Under CI a GPU that cannot be opened fails the run instead of leaving
/// the GPU column out, as it fails the GPU tests.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command line refuses these while parsing; a program calling the
    /// library gets a typed error before anything is measured.
    #[test]
    fn epochs_and_rows_out_of_range_are_refused_before_measuring() {
        for options in [
            BenchOptions {
                epochs: Some(0),
                ..BenchOptions::default()
            },
            BenchOptions {
                epochs: Some(MAX_EPOCHS + 1),
                ..BenchOptions::default()
            },
            BenchOptions {
                rows: Some(BATCH as u64 - 1),
                ..BenchOptions::default()
            },
            BenchOptions {
                rows: Some(MAX_ROWS + 1),
                ..BenchOptions::default()
            },
        ] {
            let mut heard = Vec::new();
            let outcome = run(&options, |line| heard.push(line.to_string()));
            assert!(
                matches!(outcome, Err(Error::InvalidConfig(_))),
                "{options:?} was not refused"
            );
            assert!(heard.is_empty(), "measured before refusing: {heard:?}");
        }
    }

    fn lbfgs_options(dir: &std::path::Path) -> BenchOptions {
        BenchOptions {
            quick: true,
            backend: BenchBackends::Cpu,
            cases: vec![CaseName::Lbfgs],
            lbfgs_data: Some(dir.to_path_buf()),
            ..BenchOptions::default()
        }
    }

    /// A missing or malformed `--lbfgs-data` file is an error naming it,
    /// before anything is measured.
    #[test]
    fn bad_lbfgs_data_is_an_error_naming_the_file_before_measuring() {
        let dir = tempfile::tempdir().unwrap();
        let missing_dir = dir.path().join("absent");
        let x = dir.path().join("x.npy");
        let y = dir.path().join("y.npy");
        let mut cases: Vec<(BenchOptions, std::path::PathBuf)> =
            vec![(lbfgs_options(&missing_dir), missing_dir.clone())];
        // The directory exists, x.npy does not.
        cases.push((lbfgs_options(dir.path()), x.clone()));
        for (options, named) in cases {
            let mut heard = Vec::new();
            let outcome = run(&options, |line| heard.push(line.to_string()));
            let message = outcome.err().expect("refused").to_string();
            assert!(
                message.contains(&named.display().to_string()),
                "{message} does not name {}",
                named.display()
            );
            assert!(heard.is_empty(), "measured before refusing: {heard:?}");
        }
        // Not an .npy file; then a good x.npy without y.npy.
        std::fs::write(&x, b"not numpy").unwrap();
        let mut heard = Vec::new();
        let message = run(&lbfgs_options(dir.path()), |l| heard.push(l.to_string()))
            .err()
            .expect("refused")
            .to_string();
        assert!(message.contains("x.npy"), "{message}");
        let mut npy = b"\x93NUMPY\x01\x00".to_vec();
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }";
        let padded = format!("{header:<width$}\n", width = 64 - 10 - 1);
        npy.extend((padded.len() as u16).to_le_bytes());
        npy.extend(padded.as_bytes());
        npy.extend(1.0f32.to_le_bytes());
        std::fs::write(&x, npy).unwrap();
        let message = run(&lbfgs_options(dir.path()), |l| heard.push(l.to_string()))
            .err()
            .expect("refused")
            .to_string();
        assert!(message.contains(&y.display().to_string()), "{message}");
        assert!(heard.is_empty(), "measured before refusing: {heard:?}");
    }

    #[test]
    fn lbfgs_flags_without_the_case_or_a_finite_target_are_refused() {
        for options in [
            BenchOptions {
                cases: vec![CaseName::Matmul],
                lbfgs_target: Some(1.0),
                ..BenchOptions::default()
            },
            BenchOptions {
                cases: vec![CaseName::Matmul],
                lbfgs_data: Some("/nonexistent".into()),
                ..BenchOptions::default()
            },
            BenchOptions {
                lbfgs_target: Some(f64::NAN),
                ..BenchOptions::default()
            },
        ] {
            let outcome = run(&options, |_| panic!("measured before refusing"));
            assert!(
                matches!(outcome, Err(Error::InvalidConfig(_))),
                "{options:?} was not refused"
            );
        }
    }
}
