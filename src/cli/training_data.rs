//! The data `train` and `sweep` read: the training table (or the bundled
//! Iris data) with its class map and feature names, the `--test` rows in
//! the training classes, the validation split, and the scores of a model.

use super::args::TrainArgs;
use super::{CliError, CliResult, inputs};
use lintrain::data::{ClassMap, RawLabels};
use lintrain::dataset::iris;
use lintrain::train::UntrainedClass;
use lintrain::{Model, RowSplit};
use ndarray::{Array2, ArrayView1, ArrayView2};
use std::path::Path;

/// Features with class ids, and what names them.
pub struct Labelled {
    pub x: Array2<f32>,
    pub labels: Vec<u32>,
    pub classes: ClassMap,
    pub feature_names: Vec<String>,
    pub source: String,
}

/// `--data` (with `--label` or `--labels`), or the bundled Iris data
/// without it; the classes are those of the labels, in sorted order.
pub fn load_training_data(args: &TrainArgs) -> CliResult<Labelled> {
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
        &args.data.read,
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

/// The `--test` rows (raw features) with their labels in the training
/// classes; `None` without `--test`.
pub fn load_test(args: &TrainArgs, data: &Labelled) -> CliResult<Option<(Array2<f32>, Vec<u32>)>> {
    let Some(path) = &args.test else {
        return Ok(None);
    };
    let table = inputs::labelled(
        path,
        args.data.label.as_ref(),
        args.test_labels.as_ref(),
        Some(data.x.ncols()),
        &args.data.read,
    )?;
    let raw = table.labels.ok_or_else(|| {
        CliError::new(format!("--test {}: the file has no labels", path.display()))
    })?;
    let labels = data
        .classes
        .encode(&raw)
        .map_err(|e| CliError::new(format!("--test {}: {e}", path.display())))?;
    Ok(Some((table.features, labels)))
}

/// The seeded, stratified split of `--val-fraction` (every row trains
/// without one); an error when it leaves a part empty or a class with no
/// training row.
pub fn validation_split(args: &TrainArgs, data: &Labelled) -> CliResult<RowSplit> {
    let config = args.config();
    let n = data.labels.len();
    let split = RowSplit::stratified(&data.labels, config.validation_fraction, config.seed);
    if config.validation_fraction > 0.0 {
        if split.has_empty_part() {
            return Err(CliError::new(format!(
                "--val-fraction {}: leaves {} training and {} validation rows of {n}",
                args.val_fraction,
                split.train.len(),
                split.validation.len()
            )));
        }
        if let Some(UntrainedClass { class, rows }) =
            split.untrained_class(&data.labels, data.classes.len())
        {
            return Err(CliError::new(format!(
                "--val-fraction {}: class {:?} has {rows} row{} and none is left for training; lower --val-fraction or add rows of that class",
                args.val_fraction,
                data.classes.names()[class],
                if rows == 1 { "" } else { "s" }
            )));
        }
    }
    Ok(split)
}

fn display_name(path: &Path) -> String {
    path.display().to_string()
}

/// Mean data loss and accuracy of `model` on the rows `x` with class ids
/// `labels`.
pub fn score(
    model: &Model,
    x: ArrayView2<'_, f32>,
    labels: ArrayView1<'_, u32>,
) -> CliResult<(f64, f64)> {
    let loss = model.data_loss(x, labels)?;
    // Counted in f64 so that `eval` on the same rows reports the same number.
    let predicted = model.predict(x)?;
    let hits = predicted
        .iter()
        .zip(&labels)
        .filter(|(p, l)| p == l)
        .count();
    Ok((loss, hits as f64 / labels.len().max(1) as f64))
}
