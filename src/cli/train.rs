//! `lintrain train`: load, split, standardize on the training split, train,
//! score every split with the returned model, then save, plot and report.

use super::args::TrainArgs;
use super::json::{FinalMetrics, backend_name, train_report};
use super::progress::Progress;
use super::{CliError, CliResult, inputs, plot};
use lintrain::data::{ClassMap, RawLabels, Standardizer};
use lintrain::dataset::{iris, select_rows, stratified_split};
use lintrain::model_file::SavedModel;
use lintrain::{Model, Outcome, Trainer};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use std::path::Path;
use std::time::Instant;

/// Features with class ids, and what names them.
struct Labelled {
    x: Array2<f32>,
    labels: Vec<u32>,
    classes: ClassMap,
    feature_names: Vec<String>,
    source: String,
}

/// Standardized split data: rows, class ids.
struct Part {
    x: Array2<f32>,
    labels: Array1<u32>,
}

pub fn run(args: &TrainArgs) -> CliResult {
    let started = Instant::now();
    check_before_loading(args)?;
    let config = args.config();
    let data = load_training_data(args)?;
    let features = data.x.ncols();
    let test = match &args.test {
        Some(path) => {
            let table = inputs::labelled(
                path,
                args.data.label.as_ref(),
                args.test_labels.as_ref(),
                Some(features),
            )?;
            let raw = table.labels.ok_or_else(|| {
                CliError::new(format!("--test {}: the file has no labels", path.display()))
            })?;
            let labels = data
                .classes
                .encode(&raw)
                .map_err(|e| CliError::new(format!("--test {}: {e}", path.display())))?;
            Some((table.features, labels))
        }
        None => None,
    };

    let n = data.x.nrows();
    let (train_rows, val_rows) = if args.val_fraction > 0.0 {
        let (train, val) = stratified_split(&data.labels, args.val_fraction, args.seed);
        if train.is_empty() || val.is_empty() {
            return Err(CliError::new(format!(
                "--val-fraction {}: leaves {} training and {} validation rows of {n}",
                args.val_fraction,
                train.len(),
                val.len()
            )));
        }
        (train, val)
    } else {
        ((0..n).collect(), Vec::new())
    };
    let standardizer = (!args.no_standardize)
        .then(|| Standardizer::fit(select_rows(&data.x.view(), &train_rows).view()));
    let prepare = |x: ArrayView2<'_, f32>| -> CliResult<Array2<f32>> {
        Ok(match &standardizer {
            Some(s) => s.apply(x)?,
            None => x.to_owned(),
        })
    };
    let all = prepare(data.x.view())?;
    let labels = Array1::from(data.labels.clone());
    let part = |rows: &[usize]| Part {
        x: all.select(Axis(0), rows),
        labels: labels.select(Axis(0), rows),
    };
    let train = part(&train_rows);
    let val = (!val_rows.is_empty()).then(|| part(&val_rows));
    let test = match test {
        Some((x, labels)) => Some(Part {
            x: prepare(x.view())?,
            labels: Array1::from(labels),
        }),
        None => None,
    };

    let class_count = data.classes.len();
    if !args.json {
        println!(
            "training {} with {} on {} ({} rows: {} train, {} validation; {} features; {} classes: {})",
            config.loss.name(),
            config.optimizer.name(),
            data.source,
            n,
            train_rows.len(),
            val_rows.len(),
            features,
            class_count,
            data.classes.names().join(", ")
        );
    }
    let progress = Progress::new(config.epochs, args.json);
    let reporter = progress.clone();
    let mut trainer = Trainer::new(lintrain::TrainConfig {
        classes: Some(class_count),
        ..config.clone()
    })
    .on_epoch(move |record| reporter.epoch(record));
    let result = match &val {
        Some(v) => trainer.fit_with_validation(
            train.x.view(),
            train.labels.view(),
            Some((v.x.view(), v.labels.view())),
        ),
        None => trainer.fit(train.x.view(), train.labels.view()),
    };
    progress.finish();
    let Outcome {
        mut model, history, ..
    } = result?;
    model.classes = class_count;

    let metrics = FinalMetrics {
        train: Some(score(&model, &train)?),
        val: val.as_ref().map(|v| score(&model, v)).transpose()?,
        test: test.as_ref().map(|t| score(&model, t)).transpose()?,
    };
    if let Some(path) = &args.save {
        let saved = SavedModel::new(
            model.clone(),
            standardizer.clone(),
            data.classes.names().to_vec(),
            data.feature_names.clone(),
        );
        saved.save(path)?;
    }
    if let Some(path) = &args.plot {
        let title = format!(
            "{} with {} on {}",
            config.loss.name(),
            config.optimizer.name(),
            data.source
        );
        plot::write(path, &history.epochs, &title)?;
    }

    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        let report = train_report(&history.backend, &history.epochs, &metrics, seconds);
        println!("{report}");
        return Ok(());
    }
    let backend = &history.backend;
    println!(
        "backend: {} ({}, {}, {})",
        backend_name(backend),
        backend.adapter,
        backend.api,
        backend.device_type
    );
    if let Some(best) = history.best_epoch {
        println!(
            "early stopping: kept epoch {best} of {}{}",
            history.epochs.len(),
            if history.stopped_early {
                " (stopped early)"
            } else {
                ""
            }
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
        println!("saved model to {}", path.display());
    }
    if let Some(path) = &args.plot {
        println!("wrote plot to {}", path.display());
    }
    println!("done in {seconds:.2} s");
    Ok(())
}

/// Flag combinations and output paths, checked before any data is read.
fn check_before_loading(args: &TrainArgs) -> CliResult {
    args.config().validate()?;
    if args.early_stopping.is_some() && args.val_fraction == 0.0 {
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
        inputs::check_writable(path, "--plot")?;
    }
    if let Some(path) = &args.save {
        inputs::check_writable(path, "--save")?;
    }
    Ok(())
}

fn load_training_data(args: &TrainArgs) -> CliResult<Labelled> {
    let Some(path) = &args.data.data else {
        let (x, labels, names) = iris();
        return Ok(Labelled {
            x,
            labels: labels.to_vec(),
            classes: ClassMap::from_names(names),
            feature_names: ["sepal_length", "sepal_width", "petal_length", "petal_width"]
                .map(String::from)
                .to_vec(),
            source: "the bundled Iris data".into(),
        });
    };
    let table = inputs::labelled(
        path,
        args.data.label.as_ref(),
        args.data.labels.as_ref(),
        None,
    )?;
    let raw: RawLabels = table
        .labels
        .ok_or_else(|| CliError::new(format!("{}: the file has no labels", path.display())))?;
    let classes = ClassMap::fit(&raw);
    let labels = classes.encode(&raw)?;
    Ok(Labelled {
        x: table.features,
        labels,
        classes,
        feature_names: table.feature_names,
        source: display_name(path),
    })
}

fn display_name(path: &Path) -> String {
    path.display().to_string()
}

/// Mean data loss and accuracy of `model` on `part`.
fn score(model: &Model, part: &Part) -> CliResult<(f64, f64)> {
    let loss = model.data_loss(part.x.view(), part.labels.view())?;
    // Counted in f64 so that `eval` on the same rows reports the same number.
    let predicted = model.predict(part.x.view())?;
    let hits = predicted
        .iter()
        .zip(&part.labels)
        .filter(|(p, l)| p == l)
        .count();
    Ok((loss, hits as f64 / part.labels.len().max(1) as f64))
}
