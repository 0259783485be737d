//! The `lintrain` command line: a thin layer over the library.

use clap::{Parser, Subcommand, ValueEnum};
use lintrain::dataset::{feature_moments, iris, standardize};
use lintrain::gpu::list_adapters;
use lintrain::{
    BackendChoice, BatchSize, EarlyStopping, Init, Loss, LrSchedule, Monitor, Optimizer,
    Regularizer, Sampling, Schedule, TrainConfig, Trainer,
};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "lintrain",
    version,
    about = "Train linear classifiers on the GPU (wgpu) or the CPU"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a classifier on the bundled Iris data (150 × 4, 3 classes).
    Train(TrainArgs),
    /// List every GPU adapter and say which backend `auto` picks.
    Info,
}

#[derive(Clone, Copy, ValueEnum)]
enum LossArg {
    Softmax,
    Svm,
    SquaredHinge,
    Logistic,
}

#[derive(Clone, Copy, ValueEnum)]
enum RegArg {
    None,
    L2,
    L1,
    Elastic,
}

#[derive(Clone, Copy, ValueEnum)]
enum OptimizerArg {
    Sgd,
    Momentum,
    Nesterov,
    Adagrad,
    Rmsprop,
    Adam,
    Adamw,
}

#[derive(Clone, Copy, ValueEnum)]
enum ScheduleArg {
    Constant,
    Step,
    Exponential,
    Cosine,
    Linear,
    InvSqrt,
}

#[derive(Clone, Copy, ValueEnum)]
enum InitArg {
    Zeros,
    Random,
}

#[derive(Clone, Copy, ValueEnum)]
enum BackendArg {
    Auto,
    Gpu,
    Cpu,
    Software,
}

#[derive(clap::Args)]
struct TrainArgs {
    /// Data loss.
    #[arg(long, value_enum, default_value = "softmax")]
    loss: LossArg,
    /// SVM margin Δ.
    #[arg(long, default_value_t = 1.0)]
    margin: f32,
    /// Regularizer on W (never on b).
    #[arg(long, value_enum, default_value = "l2")]
    reg: RegArg,
    /// Regularization strength λ.
    #[arg(long, default_value_t = 1e-4)]
    reg_strength: f32,
    /// Elastic-net share of L1, r in [0, 1].
    #[arg(long, default_value_t = 0.5)]
    l1_ratio: f32,
    /// Optimizer (PyTorch formulas and defaults).
    #[arg(long, value_enum, default_value = "sgd")]
    optimizer: OptimizerArg,
    /// Base learning rate.
    #[arg(long, default_value_t = 0.1)]
    lr: f32,
    /// Momentum μ (momentum, nesterov, rmsprop).
    #[arg(long)]
    momentum: Option<f32>,
    /// Adam β₁.
    #[arg(long, default_value_t = 0.9)]
    beta1: f32,
    /// Adam β₂.
    #[arg(long, default_value_t = 0.999)]
    beta2: f32,
    /// Epsilon of AdaGrad (default 1e-10), RMSProp and Adam (default 1e-8).
    #[arg(long)]
    eps: Option<f32>,
    /// AdamW decoupled weight decay.
    #[arg(long, default_value_t = 1e-2)]
    weight_decay: f32,
    /// Learning-rate schedule, advanced once per step.
    #[arg(long, value_enum, default_value = "constant")]
    schedule: ScheduleArg,
    /// Linear warmup steps from 0.
    #[arg(long, default_value_t = 0)]
    warmup_steps: u64,
    /// Step schedule: steps between decays.
    #[arg(long, default_value_t = 100)]
    step_size: u64,
    /// Step and exponential schedules: decay factor γ.
    #[arg(long, default_value_t = 0.5)]
    gamma: f32,
    /// Cosine and linear schedules: final learning rate.
    #[arg(long, default_value_t = 0.0)]
    min_lr: f32,
    /// Passes over the training data.
    #[arg(long, default_value_t = 100)]
    epochs: usize,
    /// Rows per step, or `full` for full-batch gradient descent.
    #[arg(long, default_value = "32")]
    batch_size: String,
    /// Visit rows in order instead of a seeded shuffle per epoch.
    #[arg(long)]
    no_shuffle: bool,
    /// Seed for initialization, shuffling and the validation split.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Initial weights.
    #[arg(long, value_enum, default_value = "random")]
    init: InitArg,
    /// Scale of the random initial weights.
    #[arg(long, default_value_t = 1e-3)]
    init_scale: f32,
    /// Share of rows held out for validation (stratified).
    #[arg(long, default_value_t = 0.0)]
    val_fraction: f32,
    /// Stop after this many epochs without validation-loss improvement.
    #[arg(long)]
    early_stopping: Option<usize>,
    /// Train on the raw features instead of standardized ones.
    #[arg(long)]
    no_standardize: bool,
    /// Which backend trains: auto picks a hardware GPU, else the CPU.
    #[arg(long, value_enum, default_value = "auto")]
    backend: BackendArg,
}

impl TrainArgs {
    fn config(&self) -> Result<TrainConfig, String> {
        let momentum = self.momentum.unwrap_or(0.9);
        let optimizer = match self.optimizer {
            OptimizerArg::Sgd => Optimizer::Sgd,
            OptimizerArg::Momentum => Optimizer::Momentum {
                momentum,
                dampening: 0.0,
            },
            OptimizerArg::Nesterov => Optimizer::Nesterov { momentum },
            OptimizerArg::Adagrad => Optimizer::Adagrad {
                lr_decay: 0.0,
                eps: self.eps.unwrap_or(1e-10),
            },
            OptimizerArg::Rmsprop => Optimizer::RmsProp {
                alpha: 0.99,
                eps: self.eps.unwrap_or(1e-8),
                momentum: self.momentum.unwrap_or(0.0),
                centered: false,
            },
            OptimizerArg::Adam => Optimizer::Adam {
                beta1: self.beta1,
                beta2: self.beta2,
                eps: self.eps.unwrap_or(1e-8),
                amsgrad: false,
            },
            OptimizerArg::Adamw => Optimizer::AdamW {
                beta1: self.beta1,
                beta2: self.beta2,
                eps: self.eps.unwrap_or(1e-8),
                weight_decay: self.weight_decay,
                amsgrad: false,
            },
        };
        let batch_size = if self.batch_size == "full" {
            BatchSize::Full
        } else {
            BatchSize::Rows(self.batch_size.parse().map_err(|_| {
                format!(
                    "--batch-size must be a number of rows or `full`, got {:?}",
                    self.batch_size
                )
            })?)
        };
        Ok(TrainConfig {
            loss: match self.loss {
                LossArg::Softmax => Loss::softmax(),
                LossArg::Svm => Loss::Hinge {
                    margin: self.margin,
                },
                LossArg::SquaredHinge => Loss::SquaredHinge {
                    margin: self.margin,
                },
                LossArg::Logistic => Loss::Logistic,
            },
            regularizer: match self.reg {
                RegArg::None => Regularizer::None,
                RegArg::L2 => Regularizer::L2 {
                    strength: self.reg_strength,
                },
                RegArg::L1 => Regularizer::L1 {
                    strength: self.reg_strength,
                },
                RegArg::Elastic => Regularizer::ElasticNet {
                    strength: self.reg_strength,
                    l1_ratio: self.l1_ratio,
                },
            },
            optimizer,
            learning_rate: self.lr,
            schedule: LrSchedule {
                schedule: match self.schedule {
                    ScheduleArg::Constant => Schedule::Constant,
                    ScheduleArg::Step => Schedule::Step {
                        step_size: self.step_size,
                        gamma: self.gamma,
                    },
                    ScheduleArg::Exponential => Schedule::Exponential { gamma: self.gamma },
                    ScheduleArg::Cosine => Schedule::Cosine {
                        min_lr: self.min_lr,
                    },
                    ScheduleArg::Linear => Schedule::Linear {
                        min_lr: self.min_lr,
                    },
                    ScheduleArg::InvSqrt => Schedule::InverseSqrt,
                },
                warmup_steps: self.warmup_steps,
            },
            epochs: self.epochs,
            batch_size,
            sampling: if self.no_shuffle {
                Sampling::Sequential
            } else {
                Sampling::Shuffle
            },
            seed: self.seed,
            init: match self.init {
                InitArg::Zeros => Init::Zeros,
                InitArg::Random => Init::Random {
                    scale: self.init_scale,
                },
            },
            backend: match self.backend {
                BackendArg::Auto => BackendChoice::Auto,
                BackendArg::Gpu => BackendChoice::Gpu,
                BackendArg::Cpu => BackendChoice::Cpu,
                BackendArg::Software => BackendChoice::Software,
            },
            validation_fraction: self.val_fraction,
            early_stopping: self.early_stopping.map(|patience| EarlyStopping {
                patience,
                monitor: Monitor::ValidationLoss,
            }),
            classes: None,
            class_weights: None,
        })
    }
}

fn train(args: &TrainArgs) -> Result<(), String> {
    let config = args.config()?;
    let (raw, labels, names) = iris();
    let x = if args.no_standardize {
        raw
    } else {
        let (mean, std) = feature_moments(&raw.view());
        standardize(&raw.view(), &mean, &std)
    };
    println!(
        "training {} with {} on Iris ({} rows, {} features, {} classes: {})",
        config.loss.name(),
        config.optimizer.name(),
        x.nrows(),
        x.ncols(),
        names.len(),
        names.join(", ")
    );
    let epochs = config.epochs;
    let every = (epochs / 10).max(1);
    let mut trainer = Trainer::new(config).on_epoch(move |r| {
        if r.epoch % every == 0 || r.epoch == epochs || r.epoch == 1 {
            let val = match (r.val_loss, r.val_accuracy) {
                (Some(l), Some(a)) => format!("  val loss {l:.4} acc {:.1}%", 100.0 * a),
                _ => String::new(),
            };
            println!(
                "epoch {:>4}  loss {:.4}  acc {:.1}%{val}  lr {:.3e}  {:.0} samples/s",
                r.epoch,
                r.train_loss,
                100.0 * r.train_accuracy.unwrap_or(0.0),
                r.learning_rate,
                r.samples_per_second
            );
        }
    });
    let outcome = trainer
        .fit(x.view(), labels.view())
        .map_err(|e| e.to_string())?;
    let accuracy = outcome
        .model
        .accuracy(x.view(), labels.view())
        .map_err(|e| e.to_string())?;
    let backend = &outcome.history.backend;
    println!(
        "backend: {} ({}, {})",
        backend.adapter, backend.api, backend.device_type
    );
    println!("final training accuracy: {:.2}%", 100.0 * accuracy);
    Ok(())
}

fn info() -> Result<(), String> {
    let adapters = list_adapters();
    if adapters.is_empty() {
        println!("no GPU adapters (install mesa-vulkan-drivers for the software adapter lavapipe)");
    }
    for a in &adapters {
        println!(
            "{}\n  backend {}  type {}  driver {}\n  max storage binding {} MiB  max buffer {} MiB  workgroup memory {} KiB  invocations/workgroup {}",
            a.name,
            a.backend,
            a.device_type,
            a.driver,
            a.max_storage_binding_bytes >> 20,
            a.max_buffer_bytes >> 20,
            a.max_workgroup_storage_bytes >> 10,
            a.max_invocations_per_workgroup
        );
    }
    let auto = if lintrain::gpu::hardware_adapter_available() {
        "gpu (a hardware adapter is present)"
    } else {
        "cpu (no hardware adapter; --backend software uses the software adapter)"
    };
    println!("backend auto picks: {auto}");
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Train(args) => train(args),
        Command::Info => info(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("lintrain: error: {message}");
            ExitCode::FAILURE
        }
    }
}
