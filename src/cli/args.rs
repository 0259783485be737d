//! Command-line flags. Every flag's help shows its default; values out of
//! range are rejected while parsing, naming the flag.

use super::memory_args::MemoryArgs;
use super::solver_args::SolverArgs;
use super::strength_args::StrengthArgs;
use super::value_parsers::{
    at_least_one, decay_factor, fraction_below_one, non_negative, non_negative_f64,
    parse_batch_size, parse_delimiter, parse_label_column, positive, unit_closed,
};
use clap::ValueEnum;
use lintrain::data::{Delimiter, HeaderMode, LabelColumn, LoadOptions};
use lintrain::regularizer::SklearnPenalty;
use lintrain::{
    BackendChoice, BatchSize, EarlyStopping, Init, Loss, LrSchedule, Monitor, Optimizer,
    Regularizer, Sampling, Schedule, TrainConfig,
};
use std::collections::BTreeSet;
use std::path::PathBuf;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LossArg {
    Softmax,
    Svm,
    SquaredHinge,
    Mse,
    Logistic,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RegArg {
    None,
    L2,
    L1,
    Elastic,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum OptimizerArg {
    Sgd,
    Momentum,
    Nesterov,
    Adagrad,
    Rmsprop,
    Adam,
    Adamw,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ScheduleArg {
    Constant,
    Step,
    Exponential,
    Cosine,
    Linear,
    InvSqrt,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MetricArg {
    /// Validation loss (lower is better).
    Loss,
    /// Validation accuracy (higher is better).
    Accuracy,
}

/// Where softmax class weights come from.
#[derive(Clone, Debug, PartialEq)]
pub enum ClassWeightArg {
    Balanced,
    File(PathBuf),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum InitArg {
    Zeros,
    Random,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    Auto,
    Gpu,
    Cpu,
    Software,
}

impl BackendArg {
    pub fn choice(self) -> BackendChoice {
        match self {
            BackendArg::Auto => BackendChoice::Auto,
            BackendArg::Gpu => BackendChoice::Gpu,
            BackendArg::Cpu => BackendChoice::Cpu,
            BackendArg::Software => BackendChoice::Software,
        }
    }
}

/// Where the features and labels come from.
#[derive(clap::Args, Clone)]
pub struct DataArgs {
    /// Data file: CSV/TSV/whitespace-separated text (header optional), .npy (with --labels), .npz, MNIST IDX, or CIFAR-10 .bin; each may be gzip-compressed (.gz). For train, also a glob ('emb/x_*.npy') or a directory of .npy shards; .npy data larger than --memory-budget is streamed from disk.
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// CSV label column: a 0-based index or a header name (one the header holds once) [default: the last column].
    #[arg(long, value_name = "NAME|INDEX", value_parser = parse_label_column)]
    pub label: Option<LabelColumn>,
    /// Labels in a separate file (.npy integers, IDX labels, or one label per line; a first line that is not a number above integer labels is a header, as pandas' to_csv writes it, and skipped); required with .npy features; with .npy shards also a glob or directory of label shards, one per data shard in sorted order [default: none].
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    #[command(flatten)]
    pub read: ReadArgs,
}

/// How a data file is read: its header and delimiter when it is text, its
/// arrays when it is an .npz archive.
#[derive(clap::Args, Clone)]
pub struct ReadArgs {
    /// Whether the first row of a text file is a header; auto decides from the first rows (a pandas header such as 0,1,…,29,label included).
    #[arg(long, value_enum, default_value = "auto")]
    pub header: HeaderArg,
    /// Field separator of a text file: one character such as , ; |, or tab, or space for runs of whitespace (numpy.savetxt's default) [default: sniffed from the first line].
    #[arg(long, value_name = "SEP", value_parser = parse_delimiter)]
    pub delimiter: Option<Delimiter>,
    /// The .npz array holding the features; an error for a file that is not .npz [default: the only array, or of two the 2-D one].
    #[arg(long, value_name = "KEY")]
    pub x_key: Option<String>,
    /// The .npz array holding the labels; an error for a file that is not .npz [default: of two arrays the 1-D one].
    #[arg(long, value_name = "KEY")]
    pub y_key: Option<String>,
}

impl ReadArgs {
    /// `options` with these flags' reading choices.
    pub fn apply(&self, options: LoadOptions) -> LoadOptions {
        LoadOptions {
            header: self.header.mode(),
            delimiter: self.delimiter,
            x_key: self.x_key.clone(),
            y_key: self.y_key.clone(),
            ..options
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HeaderArg {
    Auto,
    Yes,
    No,
}

impl HeaderArg {
    pub fn mode(self) -> HeaderMode {
        match self {
            HeaderArg::Auto => HeaderMode::Auto,
            HeaderArg::Yes => HeaderMode::Yes,
            HeaderArg::No => HeaderMode::No,
        }
    }
}

/// The hyperparameters a loss and regularizer need.
#[derive(clap::Args, Clone)]
pub struct ObjectiveArgs {
    /// Data loss (mse regresses one-hot targets of the class labels).
    #[arg(long, value_enum, default_value = "softmax")]
    pub loss: LossArg,
    /// SVM and squared-hinge margin Δ (≥ 0).
    #[arg(long, default_value_t = 1.0, value_parser = non_negative, allow_negative_numbers = true)]
    pub margin: f32,
    /// Regularizer on W (never on b).
    #[arg(long, value_enum, default_value = "l2")]
    pub reg: RegArg,
    /// Regularization strength λ (≥ 0) of l2 = λ·ΣW², l1 = λ·Σ|W|, elastic = λ·(r·Σ|W| + (1−r)·ΣW²); train also takes scikit-learn's --C or --alpha instead.
    #[arg(long, default_value_t = 1e-4, value_parser = non_negative, allow_negative_numbers = true)]
    pub reg_strength: f32,
    /// Elastic-net share of L1, r in [0, 1] (with --C or --alpha, scikit-learn's l1_ratio, converted).
    #[arg(long, default_value_t = 0.5, value_parser = unit_closed, allow_negative_numbers = true)]
    pub l1_ratio: f32,
}

impl ObjectiveArgs {
    pub fn loss(&self) -> Loss {
        match self.loss {
            LossArg::Softmax => Loss::softmax(),
            LossArg::Svm => Loss::Hinge {
                margin: self.margin,
            },
            LossArg::SquaredHinge => Loss::SquaredHinge {
                margin: self.margin,
            },
            LossArg::Mse => Loss::MeanSquaredError,
            LossArg::Logistic => Loss::Logistic,
        }
    }

    /// scikit-learn's `penalty` of the same shape as `--reg`.
    pub fn sklearn_penalty(&self) -> SklearnPenalty {
        match self.reg {
            RegArg::None => SklearnPenalty::None,
            RegArg::L2 => SklearnPenalty::L2,
            RegArg::L1 => SklearnPenalty::L1,
            RegArg::Elastic => SklearnPenalty::ElasticNet {
                l1_ratio: self.l1_ratio as f64,
            },
        }
    }

    /// The regularizer of `--reg` with `--reg-strength`.
    pub fn regularizer(&self) -> Regularizer {
        match self.reg {
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
        }
    }
}

#[derive(clap::Args, Clone)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Test data (same --label column), scored after training with the training classes and standardizer [default: none].
    #[arg(long, value_name = "FILE")]
    pub test: Option<PathBuf>,
    /// Labels file for --test (as --labels) [default: none].
    #[arg(long, value_name = "FILE")]
    pub test_labels: Option<PathBuf>,
    /// Share of rows held out for validation, in [0, 1): seeded and stratified by class (streamed data: chosen per row by a seeded hash of its index).
    #[arg(long, default_value_t = 0.0, value_parser = fraction_below_one, allow_negative_numbers = true)]
    pub val_fraction: f32,
    #[command(flatten)]
    pub memory: MemoryArgs,
    #[command(flatten)]
    pub objective: ObjectiveArgs,
    #[command(flatten)]
    pub strength: StrengthArgs,
    #[command(flatten)]
    pub solver: SolverArgs,
    /// Optimizer (PyTorch formulas and defaults).
    #[arg(long, value_enum, default_value = "sgd")]
    pub optimizer: OptimizerArg,
    /// Base learning rate (> 0).
    #[arg(long, default_value_t = 0.1, value_parser = positive, allow_negative_numbers = true)]
    pub lr: f32,
    /// Momentum μ in [0, 1) for momentum and nesterov [default: 0.9], rmsprop [default: 0].
    #[arg(long, value_parser = fraction_below_one, allow_negative_numbers = true)]
    pub momentum: Option<f32>,
    /// Adam and AdamW β₁ in [0, 1).
    #[arg(long, default_value_t = 0.9, value_parser = fraction_below_one, allow_negative_numbers = true)]
    pub beta1: f32,
    /// Adam and AdamW β₂ in [0, 1).
    #[arg(long, default_value_t = 0.999, value_parser = fraction_below_one, allow_negative_numbers = true)]
    pub beta2: f32,
    /// Epsilon (> 0) of AdaGrad [default: 1e-10], RMSProp and Adam/AdamW [default: 1e-8].
    #[arg(long, value_parser = positive, allow_negative_numbers = true)]
    pub eps: Option<f32>,
    /// AdamW decoupled weight decay (≥ 0).
    #[arg(long, default_value_t = 1e-2, value_parser = non_negative, allow_negative_numbers = true)]
    pub weight_decay: f32,
    /// Learning-rate schedule, advanced once per step.
    #[arg(long, value_enum, default_value = "constant")]
    pub schedule: ScheduleArg,
    /// Linear warmup steps from 0.
    #[arg(long, default_value_t = 0)]
    pub warmup_steps: u64,
    /// Step schedule: steps between decays (≥ 1).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub step_size: u64,
    /// Step and exponential schedules: decay factor γ in (0, 1].
    #[arg(long, default_value_t = 0.5, value_parser = decay_factor, allow_negative_numbers = true)]
    pub gamma: f32,
    /// Cosine and linear schedules: final learning rate (≥ 0).
    #[arg(long, default_value_t = 0.0, value_parser = non_negative, allow_negative_numbers = true)]
    pub min_lr: f32,
    /// Passes over the training data (≥ 1); with --tol, the most.
    #[arg(long, default_value_t = 100, value_parser = at_least_one)]
    pub epochs: usize,
    /// Rows per step (≥ 1), or `full` for full-batch gradient descent.
    #[arg(long, default_value = "32", value_parser = parse_batch_size)]
    pub batch_size: BatchSize,
    /// Visit rows in their stored order instead of a seeded shuffle per epoch.
    #[arg(long)]
    pub no_shuffle: bool,
    /// Seed for initialization, shuffling and the validation split.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Initial weights.
    #[arg(long, value_enum, default_value = "random")]
    pub init: InitArg,
    /// Scale of the random initial weights (≥ 0).
    #[arg(long, default_value_t = 1e-3, value_parser = non_negative, allow_negative_numbers = true)]
    pub init_scale: f32,
    /// Train on the raw features instead of standardized ones (mean and std fit on the training split).
    #[arg(long)]
    pub no_standardize: bool,
    /// Stop after this many epochs (≥ 1) without improvement of --early-stopping-metric on the validation set and keep the best epoch's weights; needs --val-fraction [default: off].
    #[arg(long, value_name = "PATIENCE", value_parser = at_least_one)]
    pub early_stopping: Option<usize>,
    /// What early stopping watches on the validation set.
    #[arg(long, value_enum, default_value = "loss", requires = "early_stopping")]
    pub early_stopping_metric: MetricArg,
    /// Softmax class weights: `balanced` (n_samples / (n_classes · count), as scikit-learn's class_weight="balanced", counted on the training split) or a FILE of `class,weight` lines naming every class [default: all 1].
    #[arg(long, value_name = "balanced|FILE", value_parser = parse_class_weight)]
    pub class_weight: Option<ClassWeightArg>,
    /// Softmax label smoothing ε in [0, 1): the target is (1 − ε)·one-hot + ε/C, as PyTorch's CrossEntropyLoss(label_smoothing=ε).
    #[arg(long, default_value_t = 0.0, value_parser = fraction_below_one, allow_negative_numbers = true)]
    pub label_smoothing: f32,
    /// Adam and AdamW: the AMSGrad variant (PyTorch's amsgrad=True).
    #[arg(long)]
    pub amsgrad: bool,
    /// RMSProp: the centered variant (PyTorch's centered=True).
    #[arg(long)]
    pub centered: bool,
    /// Continue a run from a checkpoint written by --save-checkpoint: its weights, optimizer state, schedule position and standardizer; --epochs stays the run's total [default: start afresh].
    #[arg(long, value_name = "CHECKPOINT")]
    pub resume: Option<PathBuf>,
    /// Write a checkpoint after training (weights, optimizer state, schedule position, standardizer), for --resume, atomically [default: none].
    #[arg(long, value_name = "FILE")]
    pub save_checkpoint: Option<PathBuf>,
    /// Which backend trains: auto picks a hardware GPU, else the CPU; software is the lavapipe adapter.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendArg,
    /// Save the trained model (weights, bias, standardizer, class and feature names) here, atomically [default: not saved].
    #[arg(long, value_name = "MODEL")]
    pub save: Option<PathBuf>,
    /// Print one JSON object (history and final metrics) on stdout and nothing else.
    #[arg(long)]
    pub json: bool,
    /// Plot loss and accuracy per epoch to this .svg or .png file [default: no plot].
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Data-parallel training under mpirun (`mpirun -n K lintrain train --distributed …`; needs a build with the `mpi` feature): rank r of K holds rows ⌊rN/K⌋..⌊(r+1)N/K⌋ of --data, or its own file where --data and --labels contain `{rank}`; rank 0 logs and writes the outputs.
    #[arg(long)]
    pub distributed: bool,
    /// The clap ids of the flags the command line gave
    /// ([`super::command::Cli::parse_arguments`]); empty when parsed otherwise.
    #[arg(skip)]
    pub given: BTreeSet<String>,
}

impl TrainArgs {
    /// Flags that only apply to some losses or optimizers, given with
    /// another: an error rather than a silent no-op.
    pub fn check_combinations(&self) -> Result<(), String> {
        let softmax = self.objective.loss == LossArg::Softmax;
        if self.label_smoothing != 0.0 && !softmax {
            return Err("--label-smoothing applies to --loss softmax only".into());
        }
        if self.class_weight.is_some() && !softmax {
            return Err("--class-weight applies to --loss softmax only".into());
        }
        if self.amsgrad && !matches!(self.optimizer, OptimizerArg::Adam | OptimizerArg::Adamw) {
            return Err("--amsgrad applies to --optimizer adam or adamw only".into());
        }
        if self.centered && !matches!(self.optimizer, OptimizerArg::Rmsprop) {
            return Err("--centered applies to --optimizer rmsprop only".into());
        }
        if self.strength.given() && self.objective.reg == RegArg::None {
            return Err(
                "--C and --alpha set the strength of --reg l2, l1 or elastic; --reg none has none"
                    .into(),
            );
        }
        self.solver.check(&self.given)
    }

    /// The regularizer to train with on `train_rows` training rows (after
    /// the validation split) of `classes` classes: `--reg` with
    /// `--reg-strength`, or with the strength `--C` (which depends on the
    /// rows) or `--alpha` gives. scikit-learn fits one weight vector for
    /// two classes, so with the softmax loss and two classes their penalty
    /// is the one for two columns
    /// ([`Regularizer::for_two_class_softmax`]).
    /// [`TrainArgs::regularizer`], its error naming the flag that gave the
    /// strength (`--C` or `--alpha`).
    pub fn flagged_regularizer(
        &self,
        train_rows: usize,
        classes: usize,
    ) -> Result<Regularizer, super::CliError> {
        self.regularizer(train_rows, classes).map_err(|e| {
            let flag = if self.strength.c.is_some() {
                "--C"
            } else {
                "--alpha"
            };
            super::CliError::new(format!("{flag}: {e}"))
        })
    }

    pub fn regularizer(&self, train_rows: usize, classes: usize) -> lintrain::Result<Regularizer> {
        let Some(converted) = self
            .strength
            .regularizer(self.objective.sklearn_penalty(), train_rows)
        else {
            return Ok(self.objective.regularizer());
        };
        if self.two_class_softmax(classes) {
            converted?.for_two_class_softmax()
        } else {
            converted
        }
    }

    /// Whether `--C` or `--alpha` meets the two-column softmax of two classes.
    pub fn two_class_softmax(&self, classes: usize) -> bool {
        self.strength.given() && self.objective.loss == LossArg::Softmax && classes == 2
    }

    /// The library configuration. The validation split is made by the CLI,
    /// so the configuration carries the fraction only for its checks. Its
    /// regularizer is `--reg` with `--reg-strength`: with `--C` or
    /// `--alpha`, [`TrainArgs::regularizer`] gives the one to train with
    /// once the training rows are known.
    pub fn config(&self) -> TrainConfig {
        let momentum = self.momentum.unwrap_or(0.9);
        let (tolerance, n_iter_no_change) = self.solver.minibatch_tolerance();
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
                centered: self.centered,
            },
            OptimizerArg::Adam => Optimizer::Adam {
                beta1: self.beta1,
                beta2: self.beta2,
                eps: self.eps.unwrap_or(1e-8),
                amsgrad: self.amsgrad,
            },
            OptimizerArg::Adamw => Optimizer::AdamW {
                beta1: self.beta1,
                beta2: self.beta2,
                eps: self.eps.unwrap_or(1e-8),
                weight_decay: self.weight_decay,
                amsgrad: self.amsgrad,
            },
        };
        let loss = match self.objective.loss() {
            Loss::SoftmaxCrossEntropy { .. } => Loss::SoftmaxCrossEntropy {
                label_smoothing: self.label_smoothing,
            },
            other => other,
        };
        TrainConfig {
            loss,
            regularizer: self.objective.regularizer(),
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
            batch_size: self.batch_size,
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
            backend: self.backend.choice(),
            validation_fraction: self.val_fraction,
            device_budget: self.memory.device_budget,
            early_stopping: self.early_stopping.map(|patience| EarlyStopping {
                patience,
                monitor: match self.early_stopping_metric {
                    MetricArg::Loss => Monitor::ValidationLoss,
                    MetricArg::Accuracy => Monitor::ValidationAccuracy,
                },
            }),
            classes: None,
            class_weights: None,
            solver: self.solver.solver(),
            tolerance,
            n_iter_no_change: n_iter_no_change.unwrap_or(TrainConfig::default().n_iter_no_change),
        }
    }
}

#[derive(clap::Args)]
pub struct EvalArgs {
    /// Model file written by `lintrain train --save`.
    #[arg(long, value_name = "MODEL")]
    pub model: PathBuf,
    /// Labelled data file (formats as for train).
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// CSV label column: a 0-based index or a header name (one the header holds once) [default: the last column].
    #[arg(long, value_name = "NAME|INDEX", value_parser = parse_label_column)]
    pub label: Option<LabelColumn>,
    /// Labels in a separate file (.npy integers, IDX labels, or one label per line) [default: none].
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    #[command(flatten)]
    pub read: ReadArgs,
    /// Print one JSON object on stdout: "loss", "accuracy", "n", "classes", macro and weighted precision/recall/F1, "roc_auc" (two classes) and "top_k_accuracy" (with --top-k).
    #[arg(long)]
    pub json: bool,
    /// Also report the top-K accuracy: the share of rows whose class is among the K highest-scoring classes (1 ≤ K ≤ the model's classes) [default: not reported].
    #[arg(long, value_name = "K")]
    pub top_k: Option<usize>,
    /// Write the full confusion matrix (rows: true class, columns: predicted class) as CSV to FILE, atomically; never over an input file [default: printed only for at most 20 classes].
    #[arg(long, value_name = "FILE")]
    pub confusion: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct PredictArgs {
    /// Model file written by `lintrain train --save`.
    #[arg(long, value_name = "MODEL")]
    pub model: PathBuf,
    /// Data file, with or without its label column.
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// CSV label column, dropped when present: a 0-based index or a header name [default: the last column].
    #[arg(long, value_name = "NAME|INDEX", value_parser = parse_label_column)]
    pub label: Option<LabelColumn>,
    #[command(flatten)]
    pub read: ReadArgs,
    /// Write the CSV here, atomically, instead of to stdout [default: stdout].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write class probabilities (a header row of class names, one column per class) instead of class names.
    #[arg(long)]
    pub proba: bool,
}

#[derive(clap::Args)]
pub struct GradcheckArgs {
    #[command(flatten)]
    pub objective: ObjectiveArgs,
    #[command(flatten)]
    pub data: DataArgs,
    /// Rows used from --data, the first ones after standardizing (≥ 1).
    #[arg(long, default_value_t = 50, value_parser = at_least_one)]
    pub rows: usize,
    /// Classes of the random problem used without --data (≥ 2); --data brings its own.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(2..), conflicts_with = "data")]
    pub classes: u32,
    /// Parameters checked, a seeded sample of W and b (≥ 1); every one when there are fewer.
    #[arg(long, default_value_t = 200, value_parser = at_least_one)]
    pub coordinates: usize,
    /// Largest relative error |a − n| / (|a| + |n|) that passes (≥ 0). Centered differences in f64 with h = 1e-5 give about 1e-9 on smooth losses; kinks of the hinge and L1 can cost more.
    #[arg(long, default_value_t = 1e-6, value_parser = non_negative_f64, allow_negative_numbers = true)]
    pub threshold: f64,
    /// Seed of the random problem, the parameters and the coordinate sample.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also compare this backend's f32 data gradient (its kernels) with the f64 CPU reference: cpu, gpu or software; auto checks the GPU when a hardware one exists.
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: BackendArg,
    /// Largest backend error max|g − a| / max|a| that passes (≥ 0).
    #[arg(long, default_value_t = 1e-4, value_parser = non_negative_f64, allow_negative_numbers = true)]
    pub backend_threshold: f64,
}

fn parse_class_weight(text: &str) -> Result<ClassWeightArg, String> {
    match text.trim() {
        "" => Err("expected `balanced` or a file path".into()),
        "balanced" => Ok(ClassWeightArg::Balanced),
        _ => Ok(ClassWeightArg::File(PathBuf::from(text))),
    }
}
