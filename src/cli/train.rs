//! `lintrain train`: load, split, standardize on the training split, train,
//! score every split with the returned model, then save, plot and report.

use super::args::{ClassWeightArg, TrainArgs};
use super::class_weights::class_weights;
use super::conclude::{Trained, conclude};
use super::json::FinalMetrics;
use super::log::Log;
use super::paths::{Named, check_outputs, check_outputs_spare_inputs};
use super::progress::reported_trainer;
use super::run_description::{describe_regularizer, method_name, name_list};
use super::training_data::{
    self, Labelled, TrainingData, load_test, load_training_data, validation_split,
};
use super::{CliError, CliResult, plot};
use lintrain::checkpoint_file::SavedCheckpoint;
use lintrain::data::Standardizer;
use lintrain::model_file::format_loss;
use lintrain::train::TargetKind;
use lintrain::{Examples, Model, RowSplit, SharedRows, TrainConfig, TrainData};
use ndarray::{Array1, Array2, Axis};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Standardized data and its class ids, of which the rows `rows` (all
/// when `None`) form the part.
pub(super) struct Part {
    pub x: Arc<Array2<f32>>,
    pub labels: Array1<u32>,
    pub rows: Option<Vec<usize>>,
}

/// The table standardized in place and shared by its parts, never copied
/// (the CPU trains on it in place), with its class ids.
pub(super) struct Parts {
    pub all: Arc<Array2<f32>>,
    pub labels: Array1<u32>,
    pub train: Part,
    /// With a validation split.
    pub val: Option<Part>,
    /// The `--test` rows, standardized alike.
    pub test: Option<Part>,
}

/// Takes `data`'s table and class ids, standardizes them and the `--test`
/// rows with `standardizer` (when there is one), and makes the parts of
/// `split`: its training rows, its validation rows when `validation`, and
/// the test rows.
pub(super) fn standardized_parts(
    data: &mut Labelled,
    standardizer: Option<&Standardizer>,
    test: Option<(Array2<f32>, Vec<u32>)>,
    split: &RowSplit,
    validation: bool,
) -> CliResult<Parts> {
    let mut all = std::mem::take(&mut data.x);
    let (mut test_x, test_labels) = test.unzip();
    if let Some(s) = standardizer {
        s.apply_in_place(&mut all)?;
        if let Some(x) = test_x.as_mut() {
            s.apply_in_place(x)?;
        }
    }
    let labels = Array1::from(std::mem::take(&mut data.labels));
    let all = Arc::new(all);
    let n = all.nrows();
    let part = |rows: &[usize]| Part {
        x: Arc::clone(&all),
        labels: labels.clone(),
        rows: (rows.len() < n).then(|| rows.to_vec()),
    };
    let train = part(&split.train);
    let val = validation.then(|| part(&split.validation));
    let test = test_x.zip(test_labels).map(|(x, labels)| Part {
        x: Arc::new(x),
        labels: Array1::from(labels),
        rows: None,
    });
    Ok(Parts {
        all,
        labels,
        train,
        val,
        test,
    })
}

impl Part {
    /// The part's class ids.
    pub fn part_labels(&self) -> Vec<u32> {
        match &self.rows {
            Some(rows) => rows.iter().map(|&r| self.labels[r]).collect(),
            None => self.labels.to_vec(),
        }
    }
}

pub fn run(args: &TrainArgs, quiet: bool) -> CliResult {
    let started = Instant::now();
    let log = Log { quiet };
    check_before_loading(args)?;
    let config = args.config();
    let resume = args
        .resume
        .as_ref()
        .map(|path| {
            SavedCheckpoint::load(path, config.optimizer)
                .map_err(|e| CliError::new(format!("--resume: {e}")))
        })
        .transpose()?;
    let mut data = match load_training_data(args, &log)? {
        TrainingData::Resident(data) => data,
        TrainingData::Streamed(input) => {
            return super::train_streamed::run(args, &log, started, config, resume, input);
        }
    };
    let features = data.x.ncols();
    if let (Some(resume), Some(path)) = (&resume, &args.resume) {
        check_resume(resume, &config, &data, args.no_standardize)
            .map_err(|reason| CliError::new(format!("--resume {}: {reason}", path.display())))?;
    }
    let test = load_test(args, &data.classes, data.x.ncols())?;

    let n = data.x.nrows();
    let split = validation_split(args, &data)?;
    let (train_rows, val_rows) = (&split.train, &split.validation);
    // A resumed run keeps the standardizer its weights were trained under.
    // The table is standardized in place, shared with the trainer and
    // split by row index: it is never copied (the CPU trains on it in
    // place).
    let standardizer = match &resume {
        Some(resume) => resume.saved.standardizer.clone(),
        None if args.no_standardize => None,
        None => Some(Standardizer::fit_rows(data.x.view(), train_rows)?),
    };
    let Parts {
        all,
        labels,
        train,
        val,
        test,
    } = standardized_parts(
        &mut data,
        standardizer.as_ref(),
        test,
        &split,
        !val_rows.is_empty(),
    )?;

    // --C scales with the training rows, known only now.
    let class_count = data.classes.len();
    let regularizer = args.flagged_regularizer(train_rows.len(), class_count)?;
    let config = TrainConfig {
        regularizer,
        ..config
    };
    log.line(format_args!(
        "training {} with {} on {} ({} rows: {} train, {} validation; {} features; {} classes: {})",
        config.loss.name(),
        method_name(&config),
        data.source,
        n,
        train_rows.len(),
        val_rows.len(),
        features,
        class_count,
        name_list(data.classes.names())
    ));
    if let Some(given) = args.strength.describe(train_rows.len()) {
        log.line(format_args!(
            "regularizer {}, from {given}{}",
            describe_regularizer(&config.regularizer),
            if args.two_class_softmax(class_count) {
                " (two classes: scikit-learn's one weight vector is the difference of the softmax's two columns, so the l2 part is doubled)"
            } else {
                ""
            }
        ));
    }
    let class_weights = match &args.class_weight {
        Some(source) => Some(class_weights(
            source,
            &data.classes,
            Some(&train.part_labels()),
        )?),
        None => None,
    };
    let (mut trainer, progress) = reported_trainer(&config, class_count, class_weights, quiet);
    if let Some(resume) = &resume {
        trainer = trainer.resume_from(resume.checkpoint.clone());
    }
    // The split is made here, to standardize on the training rows only;
    // the library trains on it as given.
    let shared = SharedRows::from(Arc::clone(&all));
    let result = trainer.fit_data(TrainData::split(
        Examples::shared_classes(&shared, labels.view()),
        &split,
    ));
    progress.finish();
    let last_finite = trainer.last_finite_model().cloned();
    // A model whose scores overflow f32 on a split has no metrics there.
    let score_final = |model: &Model| -> CliResult<FinalMetrics> {
        let scored = |split: &str, part: &Part| {
            score(model, part).map_err(|e| {
                CliError::new(format!(
                    "scoring the trained model on the {split} rows: {e}"
                ))
            })
        };
        Ok(FinalMetrics {
            train: Some(scored("training", &train)?),
            val: val.as_ref().map(|v| scored("validation", v)).transpose()?,
            test: test.as_ref().map(|t| scored("--test", t)).transpose()?,
        })
    };
    conclude(
        args,
        &log,
        started,
        Trained {
            config,
            class_count,
            result,
            last_finite,
            standardizer,
            classes: &data.classes,
            feature_names: &data.feature_names,
            source: &data.source,
        },
        &score_final,
    )
}

/// Whether a checkpoint can continue on this data with this configuration:
/// the same classes, features, loss and standardization, and epochs left.
pub(super) fn check_resume(
    resume: &SavedCheckpoint,
    config: &lintrain::TrainConfig,
    data: &Labelled,
    no_standardize: bool,
) -> Result<(), String> {
    let saved = &resume.saved;
    if saved.class_names != data.classes.names() {
        return Err(format!(
            "the checkpoint's classes ({}) are not the data's ({})",
            saved.class_names.join(", "),
            data.classes.names().join(", ")
        ));
    }
    if saved.feature_names.len() != data.feature_names.len() {
        return Err(format!(
            "the checkpoint has {} features, the data {}",
            saved.feature_names.len(),
            data.feature_names.len()
        ));
    }
    if let Some((column, (ours, theirs))) = saved
        .feature_names
        .iter()
        .zip(&data.feature_names)
        .enumerate()
        .find(|(_, (a, b))| a != b)
    {
        return Err(format!(
            "the feature names differ: column {column} (0-based) is {ours:?} in the checkpoint and {theirs:?} in the data"
        ));
    }
    if saved.model.loss != config.loss {
        // With its parameters: the same loss may differ in its smoothing.
        return Err(format!(
            "the checkpoint was trained with the loss {}, this run uses {}",
            format_loss(&saved.model.loss),
            format_loss(&config.loss)
        ));
    }
    match (saved.standardizer.is_some(), no_standardize) {
        (true, true) => {
            return Err(
                "the checkpoint was trained on standardized features; drop --no-standardize".into(),
            );
        }
        (false, false) => {
            return Err("the checkpoint was trained on raw features; add --no-standardize".into());
        }
        _ => {}
    }
    let done = resume.checkpoint.epochs_done;
    if done >= config.epochs {
        return Err(format!(
            "the checkpoint has done {done} epochs and --epochs is the run's total ({}): give more",
            config.epochs
        ));
    }
    Ok(())
}

/// Flag combinations and output paths, checked before any data is read.
pub(super) fn check_before_loading(args: &TrainArgs) -> CliResult {
    check_before_loading_with(args, true)
}

/// [`check_before_loading`]; with `probe_outputs` false the outputs are
/// only compared with the inputs, and nothing is created (a distributed
/// run's other ranks, which write nothing).
pub(super) fn check_before_loading_with(args: &TrainArgs, probe_outputs: bool) -> CliResult {
    args.check_combinations().map_err(CliError::new)?;
    let config = args.config();
    config.validate()?;
    // Train holds out validation rows only through --val-fraction, and
    // trains on class labels.
    let validation = (config.validation_fraction > 0.0).then_some(TargetKind::Classes);
    if let Some(stopping) = config.early_stopping
        && stopping.check_watchable(validation).is_err()
    {
        return Err(CliError::new(
            "--early-stopping needs a validation set to watch: add --val-fraction (e.g. 0.2)",
        ));
    }
    if args.data.data.is_none() && (args.data.label.is_some() || args.data.labels.is_some()) {
        return Err(CliError::new(
            "--label and --labels describe --data, which is missing (without --data, train uses the bundled Iris data)",
        ));
    }
    if args.test_labels.is_some() && args.test.is_none() {
        return Err(CliError::new("--test-labels needs --test"));
    }
    if let Some(path) = &args.plot {
        plot::format_of(path)?;
    }
    let inputs: Vec<Named<'_>> = [
        Named::given("--data", args.data.data.as_ref()),
        Named::given("--labels", args.data.labels.as_ref()),
        Named::given("--test", args.test.as_ref()),
        Named::given("--test-labels", args.test_labels.as_ref()),
        Named::given("--resume", args.resume.as_ref()),
        class_weight_file(args).map(|p| Named::new("--class-weight", p)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let outputs: Vec<Named<'_>> = [
        Named::given("--save", args.save.as_ref()),
        Named::given("--plot", args.plot.as_ref()),
        Named::given("--save-checkpoint", args.save_checkpoint.as_ref()),
    ]
    .into_iter()
    .flatten()
    .collect();
    if probe_outputs {
        check_outputs(&inputs, &outputs)
    } else {
        check_outputs_spare_inputs(&inputs, &outputs)
    }
}

fn class_weight_file(args: &TrainArgs) -> Option<&PathBuf> {
    match &args.class_weight {
        Some(ClassWeightArg::File(path)) => Some(path),
        _ => None,
    }
}

/// Mean data loss and accuracy of `model` on `part`: its rows in place, or
/// copied out a bounded chunk at a time.
pub(super) fn score(model: &Model, part: &Part) -> CliResult<(f64, f64)> {
    let Some(rows) = &part.rows else {
        return training_data::score(model, part.x.view(), part.labels.view());
    };
    const CHUNK_ROWS: usize = 1 << 14;
    let (mut loss_sum, mut hits) = (0.0f64, 0.0f64);
    for chunk in rows.chunks(CHUNK_ROWS) {
        let x = part.x.select(Axis(0), chunk);
        let labels = part.labels.select(Axis(0), chunk);
        let (loss, accuracy) = training_data::score(model, x.view(), labels.view())?;
        loss_sum += loss * chunk.len() as f64;
        hits += (accuracy * chunk.len() as f64).round();
    }
    let n = rows.len().max(1) as f64;
    Ok((loss_sum / n, hits / n))
}
