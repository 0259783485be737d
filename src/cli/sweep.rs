//! `lintrain sweep`: load the data as `train` does, train every setting of
//! the grid in one sweep (the library splits, standardizes each training
//! part, selects and refits), then score the best on `--test`, save and
//! plot it, and print the table or the JSON object.

use super::class_weights::class_weights;
use super::log::Log;
use super::progress::Progress;
use super::run_description::{describe_regularizer, method_name, name_list};
use super::sweep_args::SweepArgs;
use super::sweep_report::{best_line, json_report, table};
use super::train::check_before_loading;
use super::training_data::{load_resident_training_data, load_test, score, validation_split};
use super::{CliError, CliResult, sweep_plot};
use lintrain::model_file::SavedModel;
use lintrain::sweep::{Grid, Selection, SweepConfig, SweepOutcome, Sweeper, SweptParameter};
use lintrain::{EpochRecord, Error, Model, Solver, TrainConfig};
use ndarray::ArrayView1;
use std::io::Write;

pub fn run(args: &SweepArgs, quiet: bool) -> CliResult {
    let log = Log { quiet };
    let train = &args.train;
    let grid = args.grid();
    let selection = check_sweep(args, &grid)?;
    let data = load_resident_training_data(train, &log)?;
    let test = load_test(train, &data.classes, data.x.ncols())?;
    let class_count = data.classes.len();
    let n = data.labels.len();
    // With a validation split, the rows that train (as `train` counts them
    // for --class-weight balanced and the log); with folds, every row: the
    // balance of the whole data, as scikit-learn's LogisticRegressionCV.
    let training_labels: Vec<u32> = match selection {
        Selection::Holdout => {
            let split = validation_split(train, &data)?;
            split.train.iter().map(|&r| data.labels[r]).collect()
        }
        Selection::Folds(_) => data.labels.clone(),
    };
    let class_weights = train
        .class_weight
        .as_ref()
        .map(|source| class_weights(source, &data.classes, Some(&training_labels)))
        .transpose()?;
    let base = TrainConfig {
        classes: Some(class_count),
        class_weights,
        ..train.config()
    };
    log.line(format_args!(
        "sweeping {} setting{} ({}) of {} with {} on {} ({n} rows, {}; {} features; {class_count} classes: {})",
        grid.len(),
        if grid.len() == 1 { "" } else { "s" },
        describe_grid(&grid),
        base.loss.name(),
        method_name(&base),
        data.source,
        match selection {
            Selection::Holdout =>
                format!("{} train, {} validation", training_labels.len(), n - training_labels.len()),
            Selection::Folds(k) => format!("{k}-fold cross-validation"),
        },
        data.x.ncols(),
        name_list(data.classes.names())
    ));
    let progress = progress(&base, selection, quiet);
    let reporter = progress.clone();
    let epochs_per_part = units(&base);
    let mut reached = 0usize;
    let mut sweeper = Sweeper::new(SweepConfig {
        base: base.clone(),
        grid: grid.clone(),
        selection,
        metric: args.metric(),
        standardize: !train.no_standardize,
        warm_start: !args.cold_path,
    })
    // One bar over every part (the split, or each fold and the refit):
    // the furthest any member has come.
    .on_epoch(move |_, part, record| {
        // Saturated: --max-iter may be as large as a usize.
        let position = part
            .saturating_mul(epochs_per_part)
            .saturating_add(record.epoch);
        if position > reached {
            reached = position;
            reporter.epoch(&EpochRecord {
                epoch: position,
                ..record.clone()
            });
        }
    });
    let labels = ndarray::Array1::from(data.labels.clone());
    let result = sweeper.fit(data.x.view(), labels.view());
    progress.finish();
    let outcome = result.map_err(|error| match error {
        error @ Error::BufferTooLarge { .. } => CliError::new(format!(
            "{error}; sweep on the CPU (--backend cpu), with a smaller --batch-size or fewer settings"
        )),
        other => other.into(),
    })?;

    let best_model = outcome.best_model.as_ref().map(|model| Model {
        classes: class_count,
        ..model.clone()
    });
    let test_scores = match (&best_model, test) {
        (Some(model), Some((mut x, labels))) => {
            if let Some(standardizer) = &outcome.standardizer {
                standardizer.apply_in_place(&mut x)?;
            }
            Some(
                score(model, x.view(), ArrayView1::from(&labels)).map_err(|e| {
                    CliError::new(format!("scoring the best model on the --test rows: {e}"))
                })?,
            )
        }
        _ => None,
    };
    if let (Some(path), Some(model), Some(config)) =
        (&train.save, &best_model, best_config(&outcome))
    {
        SavedModel::new(
            model.clone(),
            outcome.standardizer.clone(),
            data.classes.names().to_vec(),
            data.feature_names.clone(),
        )
        .with_regularizer(config.regularizer)
        .save(path)?;
    }
    if let Some(path) = &train.plot {
        let title = format!(
            "{} with {} on {}",
            base.loss.name(),
            method_name(&base),
            data.source
        );
        sweep_plot::write(path, &grid, &outcome, &title)?;
    }

    if train.json {
        println!("{}", json_report(&outcome, test_scores));
    } else {
        print!("{}", table(&outcome, selection));
        if let Some(line) = best_line(&outcome, selection, n) {
            println!("{line}");
        }
        if let Some((loss, accuracy)) = test_scores {
            println!(
                "test loss {loss:.4}, test accuracy: {:.2}%",
                100.0 * accuracy
            );
        }
    }
    let _ = std::io::stdout().flush();
    let Some(best) = outcome.best else {
        return Err(CliError::new(
            "every setting diverged: nothing was selected or saved (lower --lr, or standardize the features)",
        ));
    };
    if best_model.is_none() {
        return Err(CliError::new(format!(
            "the refit of the best setting ({}) on every training row diverged: nothing was saved",
            outcome.members[best].setting
        )));
    }
    if let Some(config) = best_config(&outcome) {
        log.line(format_args!(
            "the best setting trained with {}",
            describe_regularizer(&config.regularizer)
        ));
    }
    if let Some(path) = &train.save {
        log.line(format_args!("saved the best model to {}", path.display()));
    }
    if let Some(path) = &train.plot {
        log.line(format_args!("wrote plot to {}", path.display()));
    }
    log.line(format_args!("trained in {:.2} s", outcome.seconds));
    Ok(())
}

/// Flags and outputs, checked before any data is read: `train`'s checks,
/// the selection, what a sweep cannot do, and every setting's
/// configuration (an l1 ratio without the elastic net, a momentum without
/// an optimizer that has one).
fn check_sweep(args: &SweepArgs, grid: &Grid) -> CliResult<Selection> {
    let train = &args.train;
    if train.distributed {
        return Err(CliError::new(
            "--distributed: a sweep runs in one process (its members share each pass over the data); run `lintrain train --distributed` for one setting",
        ));
    }
    for (flag, given) in [
        ("--resume", train.resume.is_some()),
        ("--save-checkpoint", train.save_checkpoint.is_some()),
    ] {
        if given {
            return Err(CliError::new(format!(
                "{flag}: a sweep trains every setting afresh and keeps no checkpoint; train the chosen setting with `lintrain train` for that"
            )));
        }
    }
    let selection = args.selection().ok_or_else(|| {
        CliError::new(
            "a sweep selects its best setting on held-out rows: add --val-fraction F (e.g. 0.2) or --folds K (e.g. 5)",
        )
    })?;
    if matches!(selection, Selection::Folds(_)) && train.early_stopping.is_some() {
        return Err(CliError::new(
            "--early-stopping needs --val-fraction: with --folds the best setting is refit on every row, where there is nothing to watch",
        ));
    }
    check_before_loading(train)?;
    // As train refuses a flag that does nothing with the others given.
    if args.cold_path && !matches!(train.config().solver, Solver::Lbfgs(_)) {
        return Err(CliError::new(
            "--cold-path applies to --solver lbfgs only: minibatch members all start from the initial weights",
        ));
    }
    if train.plot.is_some() {
        sweep_plot::x_parameter(grid)?;
    }
    let base = train.config();
    // Whether each setting applies at all. C's λ = 1/(2·C·n) depends on
    // the training rows, which are not read yet (a stand-in count refused
    // a small C that the real rows bring within f32): the sweep converts
    // it, with the rows, before training; `check_combinations` has
    // already refused --C without a penalty.
    let without_c = Grid::new(
        grid.axes()
            .iter()
            .filter(|(parameter, _)| *parameter != SweptParameter::C)
            .cloned()
            .collect(),
    )?;
    for setting in without_c.settings() {
        setting.apply(&base, 1, 3)?;
    }
    Ok(selection)
}

/// `3 values of --lr × 4 values of --C`, or `no swept flag`.
fn describe_grid(grid: &Grid) -> String {
    if grid.axes().is_empty() {
        return "no swept flag".into();
    }
    grid.axes()
        .iter()
        .map(|(p, values)| {
            format!(
                "{} value{} of {p}",
                values.len(),
                if values.len() == 1 { "" } else { "s" }
            )
        })
        .collect::<Vec<_>>()
        .join(" × ")
}

/// The progress display: one bar over the epochs (L-BFGS: iterations) of
/// every part the sweep trains, the split or each fold and the refit.
fn progress(base: &TrainConfig, selection: Selection, quiet: bool) -> Progress {
    let parts = match selection {
        Selection::Holdout => 1,
        Selection::Folds(k) => k.saturating_add(1),
    };
    let unit = match base.solver {
        Solver::Lbfgs(_) => "iteration",
        _ => "epoch",
    };
    Progress::new(parts.saturating_mul(units(base)), unit, quiet)
}

/// The most records one member makes in one part.
fn units(base: &TrainConfig) -> usize {
    match base.solver {
        Solver::Lbfgs(options) => options.max_iterations,
        _ => base.epochs,
    }
}

/// The configuration the best model trained with: its run's, or with
/// k-fold selection the refit's.
fn best_config(outcome: &SweepOutcome) -> Option<&TrainConfig> {
    match (&outcome.refit, outcome.best) {
        (Some(refit), _) => Some(&refit.config),
        (None, Some(best)) => outcome.members[best].runs.first().map(|r| &r.config),
        (None, None) => None,
    }
}
