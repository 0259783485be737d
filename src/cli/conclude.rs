//! The end of a `train` run, whether its data was held in memory or
//! streamed: its errors, the final metrics, the model, checkpoint and
//! plot files, and the summary or the JSON report.

use super::args::TrainArgs;
use super::json::{FinalMetrics, backend_name, train_report};
use super::log::Log;
use super::run_description::method_name;
use super::{CliError, CliResult, plot};
use lintrain::checkpoint_file::SavedCheckpoint;
use lintrain::data::{ClassMap, Standardizer};
use lintrain::model_file::SavedModel;
use lintrain::solver::SolverReport;
use lintrain::{Checkpoint, Error, Model, Outcome, Solver, TrainConfig};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A finished training run and what its model file records.
pub(super) struct Trained<'a> {
    pub config: TrainConfig,
    pub class_count: usize,
    pub result: lintrain::Result<Outcome>,
    /// The model of the last epoch whose losses were finite.
    pub last_finite: Option<Model>,
    pub standardizer: Option<Standardizer>,
    pub classes: &'a ClassMap,
    pub feature_names: &'a [String],
    pub source: &'a str,
}

/// Reports a finished run: its errors, the final metrics `score_final`
/// finds, the model, checkpoint and plot files, and the summary (or the
/// JSON report).
pub(super) fn conclude(
    args: &TrainArgs,
    log: &Log,
    started: Instant,
    trained: Trained<'_>,
    score_final: &dyn Fn(&Model) -> CliResult<FinalMetrics>,
) -> CliResult {
    let Trained {
        config,
        class_count,
        result,
        last_finite,
        standardizer,
        classes,
        feature_names,
        source,
    } = trained;
    let saved_model = |model: Model| {
        SavedModel::new(
            Model {
                classes: class_count,
                ..model
            },
            standardizer.clone(),
            classes.names().to_vec(),
            feature_names.to_vec(),
        )
        .with_regularizer(config.regularizer)
    };
    let Outcome {
        mut model,
        history,
        checkpoint,
        solver_report,
    } = match result {
        Ok(outcome) => outcome,
        // L-BFGS shrinks a step whose objective is not finite, so it only
        // fails this way where it starts: there is no learning rate to
        // lower and no epoch to name.
        Err(Error::Diverged { loss, .. }) if matches!(config.solver, Solver::Lbfgs(_)) => {
            return Err(CliError::new(format!(
                "L-BFGS cannot start: the objective at the initial weights is {loss}; standardize the features (drop --no-standardize) or strengthen the regularization; no model was saved"
            )));
        }
        Err(error @ Error::Diverged { .. }) => {
            let last = last_finite.map(saved_model);
            let mut error = diverged(error, args.save.as_deref(), last);
            if let Some(path) = &args.resume {
                error = CliError::new(format!(
                    "{error}; the run resumed from --resume {}, whose weights or optimizer state may be out of range",
                    path.display()
                ));
            }
            return Err(error);
        }
        // The checks of a checkpoint against this run's data and batch size
        // happen as training starts: name the checkpoint and what to keep.
        Err(Error::InvalidConfig(reason))
            if args.resume.is_some() && reason.starts_with("the checkpoint") =>
        {
            let error = Error::InvalidConfig(reason);
            return Err(CliError::new(format!(
                "--resume {}: {error}; resume with the data, --val-fraction, --seed and --batch-size of the run that wrote it",
                args.resume.as_deref().unwrap_or(Path::new("")).display()
            )));
        }
        Err(error @ Error::BufferTooLarge { .. }) => {
            return Err(CliError::new(format!(
                "{error}; train on the CPU (--backend cpu) or with a smaller --batch-size"
            )));
        }
        Err(error) => return Err(error.into()),
    };
    model.classes = class_count;
    if let Some(report) = solver_report.as_ref().filter(|r| !r.converged) {
        // Like scikit-learn's ConvergenceWarning: printed even with --quiet,
        // since it is about the result, not the progress.
        let _ = writeln!(std::io::stderr(), "{}", convergence_warning(report));
    }

    let metrics = score_final(&model)?;
    if let Some(path) = &args.save {
        saved_model(model.clone()).save(path)?;
    }
    if let Some(path) = &args.save_checkpoint {
        let checkpoint = Checkpoint {
            model: Model {
                classes: class_count,
                ..checkpoint.model
            },
            ..checkpoint
        };
        SavedCheckpoint::new(
            checkpoint,
            config.optimizer,
            standardizer.clone(),
            classes.names().to_vec(),
            feature_names.to_vec(),
        )
        .save(path)?;
    }
    if let Some(path) = &args.plot {
        let title = format!(
            "{} with {} on {}",
            config.loss.name(),
            method_name(&config),
            source
        );
        plot::write(path, &history.epochs, &title)?;
    }

    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        let mut report = train_report(
            &history.backend,
            &history.epochs,
            &metrics,
            solver_report.as_ref(),
            seconds,
        );
        // With --tol, whether its rule ended the run before --epochs.
        if config.tolerance.is_some()
            && let Some(last) = report["final"].as_object_mut()
        {
            last.insert(
                "stopped_by_tolerance".into(),
                serde_json::json!(history.stopped_by_tolerance),
            );
        }
        println!("{report}");
        return Ok(());
    }
    let backend = &history.backend;
    log.line(format_args!(
        "backend: {} ({}, {}, {})",
        backend_name(backend),
        backend.adapter,
        backend.api,
        backend.device_type
    ));
    if let Some(best) = history.best_epoch {
        println!(
            "early stopping: kept epoch {best} of {}{}",
            // Epochs are numbered over the whole run, a resumed one too.
            history.epochs.last().map_or(best, |r| r.epoch),
            if history.stopped_early {
                " (stopped early)"
            } else {
                ""
            }
        );
    }
    if history.stopped_by_tolerance
        && let Some(last) = history.epochs.last()
    {
        println!(
            "converged: stopped after epoch {} of {} (--tol {}, --n-iter-no-change {})",
            last.epoch,
            config.epochs,
            config.tolerance.unwrap_or_default(),
            config.n_iter_no_change
        );
    }
    if let Some(report) = &solver_report {
        println!(
            "L-BFGS {} after {} iterations ({} objective evaluations): objective {:.6e}, ‖g‖∞ {:.3e}",
            if report.converged {
                "converged"
            } else {
                "did not converge"
            },
            report.iterations,
            report.function_evaluations,
            report.objective,
            report.gradient_max
        );
    }
    for (name, m) in [("validation", metrics.val), ("test", metrics.test)] {
        if let Some((loss, accuracy)) = m {
            println!(
                "{name} loss {loss:.4}, {name} accuracy: {:.2}%",
                100.0 * accuracy
            );
        }
    }
    if let Some((loss, accuracy)) = metrics.train {
        println!("training loss {loss:.4}");
        println!("final training accuracy: {:.2}%", 100.0 * accuracy);
    }
    if let Some(path) = &args.save {
        log.line(format_args!("saved model to {}", path.display()));
    }
    if let Some(path) = &args.plot {
        log.line(format_args!("wrote plot to {}", path.display()));
    }
    log.line(format_args!("done in {seconds:.2} s"));
    Ok(())
}

/// The stderr line for an L-BFGS run that stopped before converging, as
/// scikit-learn's ConvergenceWarning.
fn convergence_warning(report: &SolverReport) -> String {
    let reason = report.reason.description();
    format!(
        "lintrain: warning: L-BFGS did not converge in {} iterations ({reason}; ‖g‖∞ = {:.3e}, objective {:.6e}); raise --max-iter or --tol",
        report.iterations, report.gradient_max, report.objective
    )
}

/// The error line for a diverged run. With `--save P`, P is left as it was
/// and the last finite model goes to a new sibling file that the line
/// names; without it, no model is promised.
fn diverged(error: Error, save: Option<&Path>, last_finite: Option<SavedModel>) -> CliError {
    let Error::Diverged { epoch, .. } = &error else {
        return error.into();
    };
    let after = match epoch.saturating_sub(1) {
        0 => "the initial weights".to_string(),
        done => format!("the weights after epoch {done}"),
    };
    let (Some(save), Some(model)) = (save, last_finite) else {
        return CliError::new(format!(
            "{error}; no model was saved (lower --lr, or add --save to keep the last finite model)"
        ));
    };
    let kept = if save.exists() {
        format!("{} was left as it was", save.display())
    } else {
        format!("{} was not written", save.display())
    };
    let sibling = match free_sibling(save) {
        Some(sibling) => sibling,
        None => {
            return CliError::new(format!(
                "{error}; {kept}, and no free file name was found beside it for the last finite model"
            ));
        }
    };
    match model.save(&sibling) {
        Ok(()) => CliError::new(format!(
            "{error}; {kept}, and the last finite model ({after}) was written to {}",
            sibling.display()
        )),
        Err(write_error) => CliError::new(format!(
            "{error}; {kept}, and the last finite model could not be written: {write_error}"
        )),
    }
}

/// `dir/name.last-finite.ext`, or with `-2`, `-3`, … until the name is
/// free, so that no earlier file is replaced.
fn free_sibling(save: &Path) -> Option<PathBuf> {
    let stem = save.file_stem()?.to_string_lossy().into_owned();
    let extension = save
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    (1..1000)
        .map(|n| {
            let suffix = if n == 1 {
                String::new()
            } else {
                format!("-{n}")
            };
            save.with_file_name(format!("{stem}.last-finite{suffix}{extension}"))
        })
        .find(|candidate| std::fs::symlink_metadata(candidate).is_err())
}
