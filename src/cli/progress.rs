//! Per-epoch (or, for L-BFGS, per-iteration) progress on stderr (stdout is
//! for results): a bar on a terminal, plain lines otherwise, nothing with
//! `--quiet`.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lintrain::{EpochRecord, Solver, TrainConfig, Trainer};
use std::io::{IsTerminal, Write};

/// How progress is shown.
#[derive(Clone)]
pub enum Progress {
    /// One bar over the epochs on stderr, the last epoch's metrics as its message.
    Bar(ProgressBar),
    /// A line on stderr every `every` epochs (and the first and last).
    Lines {
        every: usize,
        epochs: usize,
        /// What a record counts: `epoch` or `iteration`.
        unit: &'static str,
    },
    Silent,
}

impl Progress {
    /// A bar when stderr is a terminal, else lines; nothing when `quiet`.
    /// `epochs` is the most records the run makes (L-BFGS may stop
    /// sooner), `unit` what one counts: `epoch` or `iteration`.
    pub fn new(epochs: usize, unit: &'static str, quiet: bool) -> Self {
        if quiet {
            Progress::Silent
        } else if std::io::stderr().is_terminal() {
            let bar =
                ProgressBar::with_draw_target(Some(epochs as u64), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                &format!(
                    "{{bar:30.cyan/blue}} {unit} {{pos}}/{{len}} {{msg}} [{{elapsed_precise}}, eta {{eta}}]"
                ),
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            Progress::Bar(bar)
        } else {
            Progress::Lines {
                every: (epochs / 10).max(1),
                epochs,
                unit,
            }
        }
    }

    pub fn epoch(&self, record: &EpochRecord) {
        match self {
            Progress::Bar(bar) => {
                bar.set_position(record.epoch as u64);
                bar.set_message(summary(record));
            }
            Progress::Lines {
                every,
                epochs,
                unit,
            } => {
                if record.epoch == 1
                    || record.epoch.is_multiple_of(*every)
                    || record.epoch == *epochs
                {
                    // Progress that cannot be written is no reason to stop.
                    let _ = writeln!(
                        std::io::stderr(),
                        "{unit} {:>4}  {}",
                        record.epoch,
                        summary(record)
                    );
                }
            }
            Progress::Silent => {}
        }
    }

    /// Leaves the bar showing its last state.
    pub fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.abandon();
        }
    }
}

/// "loss 0.1234  acc 97.0%  val loss …  lr 1.000e-1  12345 samples/s", or
/// for an L-BFGS iteration "objective 0.123456  ‖g‖∞ 1.234e-3  step 1.000e0
/// acc 97.0% …".
fn summary(r: &EpochRecord) -> String {
    if let Some(gradient_max) = r.gradient_max {
        let mut text = format!("objective {:.6}  ‖g‖∞ {gradient_max:.3e}", r.train_loss);
        if let Some(step) = r.step_length {
            text.push_str(&format!("  step {step:.3e}"));
        }
        return text + &metrics(r);
    }
    let mut text = format!("loss {:.4}", r.train_loss);
    text.push_str(&metrics(r));
    text.push_str(&format!(
        "  lr {:.3e}  {:.0} samples/s",
        r.learning_rate, r.samples_per_second
    ));
    text
}

/// "  acc 97.0%  val loss …  val acc …", each where the record has it.
fn metrics(r: &EpochRecord) -> String {
    let mut text = String::new();
    if let Some(a) = r.train_accuracy {
        text.push_str(&format!("  acc {:.1}%", 100.0 * a));
    }
    if let Some(l) = r.val_loss {
        text.push_str(&format!("  val loss {l:.4}"));
    }
    if let Some(a) = r.val_accuracy {
        text.push_str(&format!("  val acc {:.1}%", 100.0 * a));
    }
    text
}

/// A trainer for `config` on `classes` classes with `class_weights`, whose
/// epochs (or L-BFGS iterations) a [`Progress`] reports, and that progress
/// (silent when `quiet`), to finish when training returns.
pub fn reported_trainer(
    config: &TrainConfig,
    classes: usize,
    class_weights: Option<Vec<f32>>,
    quiet: bool,
) -> (Trainer, Progress) {
    let progress = match config.solver {
        Solver::Lbfgs(options) => Progress::new(options.max_iterations, "iteration", quiet),
        _ => Progress::new(config.epochs, "epoch", quiet),
    };
    let reporter = progress.clone();
    let trainer = Trainer::new(TrainConfig {
        classes: Some(classes),
        class_weights,
        ..config.clone()
    })
    .on_epoch(move |record| reporter.epoch(record));
    (trainer, progress)
}
