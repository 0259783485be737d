//! The benchmark's flags and printing, shared by `lintrain bench` and the
//! bench target `benches/cpu_vs_gpu.rs` (which includes this file by path):
//! the measuring is [`lintrain::bench`]. It uses nothing else of the CLI,
//! so that both programs compile it alone.

use clap::ValueEnum;
use lintrain::AdapterChoice;
use lintrain::bench::{BATCH, BenchBackends, BenchOptions, CaseName, MAX_EPOCHS, MAX_ROWS};
use lintrain::gpu::{MatmulVariant, StepVariant};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendsArg {
    Both,
    Cpu,
    Gpu,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AdapterArg {
    /// A hardware GPU if there is one, else the software adapter.
    Auto,
    /// The software adapter (lavapipe).
    Software,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MatmulArg {
    Register,
    /// Register tiles read from storage buffers (no texture packing).
    RegisterBuffers,
    Shared,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StepKernelArg {
    /// The fused kernels (C ≤ 16 on 8-lane subgroups; unfused elsewhere).
    Fused8,
    /// Register-tiled shared-memory GEMMs and a workgroup per loss row.
    Tiled,
    /// Separate gather, matmul, loss and column-sum operations.
    Unfused,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CaseArg {
    Matmul,
    SoftmaxXent,
    Hinge,
    AdamStep,
    Step,
    TrainSoftmax,
    TrainSvm,
    /// Full-batch L-BFGS to convergence against scikit-learn's problem.
    Lbfgs,
    /// train_probe: the Adam step of a softmax linear probe on 50000 × 768
    /// L2-normalized rows, 100 and 1000 classes, batch 256 (quick 5000 × 64,
    /// 10 and 100), and its products as matmul records (256×768×1000 and
    /// 768×256×1000 Aᵀ·B), against peers/probe_step.py.
    Probe,
    /// sweep_step: one step of K = 1, 8 and 32 models differing in their L2
    /// strength over the same minibatch (the CS231n shape with SGD and the
    /// 768 × 100 probe with Adam): K = 1's rate over K's is what a sweep of
    /// K settings costs per step; sweep_train: the same K members trained
    /// together (as lintrain sweep trains them), median epoch.
    Sweep,
}

/// Options of the benchmark.
#[derive(clap::Args, Clone, Debug)]
pub struct BenchArgs {
    /// Small sizes that finish in seconds (CI runs this to keep the binary
    /// working; its figures mean little) [default: off].
    #[arg(long)]
    pub quick: bool,
    /// Also write every figure as a JSON array of records to FILE
    /// [default: not written].
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Backends to measure.
    #[arg(long, value_enum, default_value = "both")]
    pub backend: BackendsArg,
    /// GPU adapter (WGPU_ADAPTER_NAME, when set, picks by name).
    #[arg(long, value_enum, default_value = "auto")]
    pub adapter: AdapterArg,
    /// GPU matmul kernel [default: by device type: register tiles on
    /// CPU-type adapters, shared-memory tiles on GPUs].
    #[arg(long, value_enum)]
    pub matmul: Option<MatmulArg>,
    /// GPU linear-step kernels [default: the fused kernels where they fit;
    /// elsewhere the tiled ones on GPUs, unfused on CPU-type adapters].
    #[arg(long, value_enum)]
    pub step_kernel: Option<StepKernelArg>,
    /// Only these cases, comma-separated [default: all].
    #[arg(long, value_enum, value_delimiter = ',')]
    pub cases: Vec<CaseArg>,
    /// Epochs of the end-to-end cases, 1 to 1000; the first is not timed
    /// (it may compile pipelines) [default: 4, quick: 2].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_EPOCHS))]
    pub epochs: Option<u64>,
    /// Training rows of the step and end-to-end cases, from one batch (200)
    /// to the rows of 2³² values [default: 49000, quick: 2000].
    #[arg(long, value_parser = clap::value_parser!(u64).range(BATCH as u64..=MAX_ROWS))]
    pub rows: Option<u64>,
    /// The lbfgs case's rows: DIR/x.npy and DIR/y.npy, as
    /// peers/sklearn_lbfgs.py --out DIR writes them [default: generated with
    /// the peer's recipe, 20000 × 256, 20 classes; quick 2000 × 32, 5].
    #[arg(long, value_name = "DIR")]
    pub lbfgs_data: Option<PathBuf>,
    /// The objective the lbfgs case reports the time to reach
    /// (scikit-learn's final objective on the same rows) [default: none].
    #[arg(long, value_name = "F")]
    pub lbfgs_target: Option<f64>,
}

impl BenchArgs {
    /// What the library measures, from the flags.
    pub fn options(&self) -> BenchOptions {
        BenchOptions {
            quick: self.quick,
            backend: match self.backend {
                BackendsArg::Both => BenchBackends::Both,
                BackendsArg::Cpu => BenchBackends::Cpu,
                BackendsArg::Gpu => BenchBackends::Gpu,
            },
            adapter: match self.adapter {
                AdapterArg::Auto => AdapterChoice::PreferHardware,
                AdapterArg::Software => AdapterChoice::Software,
            },
            matmul: self.matmul.map(|m| match m {
                MatmulArg::Register => MatmulVariant::RegisterTiled,
                MatmulArg::RegisterBuffers => MatmulVariant::RegisterTiledBuffers,
                MatmulArg::Shared => MatmulVariant::SharedTiled,
            }),
            step: self.step_kernel.map(|s| match s {
                StepKernelArg::Fused8 => StepVariant::Fused8,
                StepKernelArg::Tiled => StepVariant::Tiled,
                StepKernelArg::Unfused => StepVariant::Unfused,
            }),
            cases: self
                .cases
                .iter()
                .map(|case| match case {
                    CaseArg::Matmul => CaseName::Matmul,
                    CaseArg::SoftmaxXent => CaseName::SoftmaxXent,
                    CaseArg::Hinge => CaseName::Hinge,
                    CaseArg::AdamStep => CaseName::AdamStep,
                    CaseArg::Step => CaseName::Step,
                    CaseArg::TrainSoftmax => CaseName::TrainSoftmax,
                    CaseArg::TrainSvm => CaseName::TrainSvm,
                    CaseArg::Lbfgs => CaseName::Lbfgs,
                    CaseArg::Probe => CaseName::Probe,
                    CaseArg::Sweep => CaseName::Sweep,
                })
                .collect(),
            epochs: self.epochs,
            rows: self.rows,
            lbfgs_data: self.lbfgs_data.clone(),
            lbfgs_target: self.lbfgs_target,
        }
    }
}

/// Runs the benchmark, prints the table on stdout and writes the JSON
/// file; `quiet` keeps stderr free of progress lines.
pub fn run_and_print(args: &BenchArgs, quiet: bool) -> lintrain::Result<()> {
    let say = |line: &str| {
        if !quiet {
            eprintln!("lintrain bench: {line}");
        }
    };
    let report = lintrain::bench::run(&args.options(), say)?;
    println!("{}", report.markdown());
    if let Some(path) = &args.json {
        report.write_json(path)?;
        say(&format!("wrote {}", path.display()));
    }
    Ok(())
}
