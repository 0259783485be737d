//! The data `train` and `sweep` read: the training table (or the bundled
//! Iris data) with its class map and feature names, the `--test` rows in
//! the training classes, the validation split, and the scores of a model.

use super::args::TrainArgs;
use super::log::Log;
use super::memory_args::format_bytes;
use super::paths::{Named, check_outputs, check_outputs_spare_inputs};
use super::{CliError, CliResult, inputs};
use lintrain::data::stream::{ShardSet, read_label_shards, spec_files};
use lintrain::data::{ClassMap, RawLabels};
use lintrain::dataset::iris;
use lintrain::train::UntrainedClass;
use lintrain::{Model, RowSplit};
use ndarray::{Array2, ArrayView1, ArrayView2};
use std::path::Path;
use std::sync::Arc;

/// Features with class ids, and what names them.
pub struct Labelled {
    pub x: Array2<f32>,
    pub labels: Vec<u32>,
    pub classes: ClassMap,
    pub feature_names: Vec<String>,
    pub source: String,
    /// Whether the labels were read as integers (their class names are
    /// then the integers written plainly), not as text: what the ranks of
    /// a distributed run compare.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub integer_labels: bool,
}

/// Training rows on disk, too large for the memory budget: read in
/// chunks every epoch.
pub struct StreamedInput {
    pub shards: Arc<ShardSet>,
    /// The class id of every row.
    pub labels: Vec<u32>,
    pub classes: ClassMap,
    pub feature_names: Vec<String>,
    pub source: String,
}

/// The training data as a run reads it.
pub enum TrainingData {
    Resident(Labelled),
    Streamed(StreamedInput),
}

/// `--data` (with `--label` or `--labels`), or the bundled Iris data
/// without it, held in memory or, for `.npy` shards larger than the
/// memory budget, streamed; the log says which and why. The classes are
/// those of the labels, in sorted order.
pub fn load_training_data(args: &TrainArgs, log: &Log) -> CliResult<TrainingData> {
    load_training_data_with(args, log, true)
}

/// [`load_training_data`]; with `probe_outputs` false, the outputs are
/// only compared with the shards, and nothing is created (a distributed
/// run's ranks other than 0, which write nothing).
pub fn load_training_data_with(
    args: &TrainArgs,
    log: &Log,
    probe_outputs: bool,
) -> CliResult<TrainingData> {
    let Some(path) = &args.data.data else {
        return Ok(TrainingData::Resident(load_resident_data(args)?));
    };
    let Some(shards) = open_shards(path, args, log)? else {
        return Ok(TrainingData::Resident(load_resident_data(args)?));
    };
    check_outputs_spare_shards(args, &shards, probe_outputs)?;
    let (classes, labels, integer_labels) = shard_labels(args, &shards)?;
    let feature_names = (0..shards.features()).map(|j| format!("x{j}")).collect();
    let source = display_name(path);
    let size = format_bytes(shards.f32_bytes());
    let Some(why) = streaming_reason(&shards, args) else {
        log.line(format_args!(
            "data: {} ({size} as f32) held in memory, within {}",
            shards.describe(),
            args.memory.describe_budget()
        ));
        let x = shards.load_resident()?;
        return Ok(TrainingData::Resident(Labelled {
            x,
            labels,
            classes,
            feature_names,
            source,
            integer_labels,
        }));
    };
    log.line(format_args!(
        "data: {} ({size} as f32) streamed from disk in chunks, {why}",
        shards.describe(),
    ));
    Ok(TrainingData::Streamed(StreamedInput {
        shards: Arc::new(shards),
        labels,
        classes,
        feature_names,
        source,
    }))
}

/// Why `shards` are streamed rather than held in memory, `None` when they
/// are held: the table as f32, its labels and their codes are larger than
/// the budget, or it has more values than a table held in memory may have
/// ([`lintrain::limits::MAX_TABLE_VALUES`], however large the budget).
fn streaming_reason(shards: &ShardSet, args: &TrainArgs) -> Option<String> {
    let resident_bytes = shards.f32_bytes().saturating_add(8 * shards.rows() as u64);
    let values = (shards.rows() as u64).saturating_mul(shards.features() as u64);
    let table_limit = lintrain::limits::MAX_TABLE_VALUES;
    if resident_bytes > args.memory.budget() {
        Some(format!("larger than {}", args.memory.describe_budget()))
    } else if values > table_limit {
        Some(format!(
            "more than the {table_limit} values (rows × features) a table held in memory may have"
        ))
    } else {
        None
    }
}

/// `--data` as `.npy` shards when it names them: a glob, a directory, a
/// `.npy` file, or a stored `.npz` (a compressed `.npz`, a gzip-compressed
/// `.npy` and the other formats are loaded whole).
fn open_shards(path: &Path, args: &TrainArgs, log: &Log) -> CliResult<Option<ShardSet>> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let pattern = name.contains(['*', '?', '[']);
    if pattern || path.is_dir() {
        return Ok(Some(ShardSet::open(path, args.data.read.x_key.as_deref())?));
    }
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if !matches!(extension.as_deref(), Some("npy" | "npz")) || args.data.label.is_some() {
        return Ok(None);
    }
    // A single file the shard reader refuses (compressed, or damaged) goes
    // to the whole-file loader, which reads every variant and names what
    // is wrong; the run says why the budget does not apply.
    match ShardSet::open(path, args.data.read.x_key.as_deref()) {
        Ok(shards) => Ok(Some(shards)),
        Err(reason) => {
            log.line(format_args!(
                "data: {reason}; it is loaded whole, whatever the memory budget"
            ));
            Ok(None)
        }
    }
}

/// The class map of the shards' labels (`--labels`, or the `.npz`'s
/// key), every row's class id, and whether the labels are integers.
fn shard_labels(args: &TrainArgs, shards: &ShardSet) -> CliResult<(ClassMap, Vec<u32>, bool)> {
    let raw = read_label_shards(
        args.data.labels.as_deref(),
        args.data.read.y_key.as_deref(),
        shards,
    )?;
    let classes = ClassMap::fit(&raw);
    let labels = classes.encode(&raw)?;
    Ok((classes, labels, raw.is_integers()))
}

/// Refuses an output (`--save`, `--save-checkpoint`, `--plot`) that is one
/// of the data or labels shards: a glob or a directory names its files only
/// once it is resolved, after the checks made before loading. A labels spec
/// that cannot be resolved is left for the labels reader to report. With
/// `probe_outputs` false the outputs are not probed for writing.
fn check_outputs_spare_shards(
    args: &TrainArgs,
    shards: &ShardSet,
    probe_outputs: bool,
) -> CliResult {
    let label_files = args
        .data
        .labels
        .as_deref()
        .and_then(|spec| spec_files(spec).ok())
        .unwrap_or_default();
    let inputs: Vec<Named<'_>> = shards
        .shards()
        .iter()
        .map(|shard| Named::new("--data", &shard.path))
        .chain(label_files.iter().map(|path| Named::new("--labels", path)))
        .collect();
    let outputs: Vec<Named<'_>> = [
        Named::given("--save", args.save.as_ref()),
        Named::given("--save-checkpoint", args.save_checkpoint.as_ref()),
        Named::given("--plot", args.plot.as_ref()),
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

/// [`load_training_data`] for a command that needs the rows in memory
/// (`sweep`): data beyond the memory budget is an error saying so.
pub fn load_resident_training_data(args: &TrainArgs, log: &Log) -> CliResult<Labelled> {
    match load_training_data(args, log)? {
        TrainingData::Resident(data) => Ok(data),
        TrainingData::Streamed(input) => Err(CliError::new(format!(
            "{}: {} as f32, {}; this command holds the data in memory (raise --memory-budget \
             if it fits), and `lintrain train` streams it",
            input.source,
            format_bytes(input.shards.f32_bytes()),
            streaming_reason(&input.shards, args).unwrap_or_default()
        ))),
    }
}

/// Rank `rank` of `size`'s share of `--data` (or of the bundled Iris
/// data): the rows `⌊rN/K⌋..⌊(r+1)N/K⌋`. `.npy` shards are read only
/// there (the share must fit the memory budget); other formats are parsed
/// whole and the share kept. The labels are those of the share, with the
/// class map of the whole file's labels.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub fn load_training_share(
    args: &TrainArgs,
    log: &Log,
    rank: usize,
    size: usize,
) -> CliResult<Labelled> {
    let share = |rows: usize| lintrain::distributed::share_of(rows, rank, size);
    if let Some(path) = &args.data.data
        && let Some(shards) = open_shards(path, args, log)?
    {
        check_outputs_spare_shards(args, &shards, rank == 0)?;
        let (classes, labels, integer_labels) = shard_labels(args, &shards)?;
        let range = share(shards.rows());
        let labels = labels[range.clone()].to_vec();
        let bytes = (range.len() as u64)
            .saturating_mul(4 * shards.features() as u64)
            .saturating_add(8 * range.len() as u64);
        if bytes > args.memory.budget() {
            return Err(CliError::new(format!(
                "{}: this rank's share of {} rows is {} as f32, larger than {}; a distributed \
                 run holds each share in memory: run more ranks or raise --memory-budget",
                display_name(path),
                range.len(),
                format_bytes(bytes),
                args.memory.describe_budget()
            )));
        }
        return Ok(Labelled {
            x: shards.load_rows(range)?,
            labels,
            classes,
            feature_names: (0..shards.features()).map(|j| format!("x{j}")).collect(),
            source: display_name(path),
            integer_labels,
        });
    }
    let whole = load_resident_data(args)?;
    let range = share(whole.x.nrows());
    Ok(Labelled {
        x: whole.x.slice(ndarray::s![range.clone(), ..]).to_owned(),
        labels: whole.labels[range].to_vec(),
        ..whole
    })
}

/// The whole-file loader's reading of `--data`.
fn load_resident_data(args: &TrainArgs) -> CliResult<Labelled> {
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
            integer_labels: false,
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
        integer_labels: raw.is_integers(),
    })
}

/// The `--test` rows (raw features) with their labels in the training
/// classes; `None` without `--test`.
pub fn load_test(
    args: &TrainArgs,
    classes: &ClassMap,
    features: usize,
) -> CliResult<Option<(Array2<f32>, Vec<u32>)>> {
    let Some(path) = &args.test else {
        return Ok(None);
    };
    let table = inputs::labelled(
        path,
        args.data.label.as_ref(),
        args.test_labels.as_ref(),
        Some(features),
        &args.data.read,
    )?;
    let raw = table.labels.ok_or_else(|| {
        CliError::new(format!("--test {}: the file has no labels", path.display()))
    })?;
    let labels = classes
        .encode(&raw)
        .map_err(|e| CliError::new(format!("--test {}: {e}", path.display())))?;
    Ok(Some((table.features, labels)))
}

/// The seeded, stratified split of `--val-fraction` (every row trains
/// without one); an error when it leaves a part empty or a class with no
/// training row.
pub fn validation_split(args: &TrainArgs, data: &Labelled) -> CliResult<RowSplit> {
    split_labels(args, &data.labels, &data.classes)
}

/// [`validation_split`] of the rows with class ids `labels` (every rank's,
/// in a distributed run) in the classes `classes`.
pub fn split_labels(args: &TrainArgs, labels: &[u32], classes: &ClassMap) -> CliResult<RowSplit> {
    let config = args.config();
    let n = labels.len();
    let split = RowSplit::stratified(labels, config.validation_fraction, config.seed);
    if config.validation_fraction > 0.0 {
        if split.has_empty_part() {
            return Err(CliError::new(format!(
                "--val-fraction {}: leaves {} training and {} validation rows of {n}",
                args.val_fraction,
                split.train.len(),
                split.validation.len()
            )));
        }
        if let Some(UntrainedClass { class, rows }) = split.untrained_class(labels, classes.len()) {
            return Err(untrained_class(args, &classes.names()[class], rows));
        }
    }
    Ok(split)
}

/// The error for a `--val-fraction` that holds out every one of the `rows`
/// rows of the class `name`.
pub fn untrained_class(args: &TrainArgs, name: &str, rows: usize) -> CliError {
    CliError::new(format!(
        "--val-fraction {}: class {name:?} has {rows} row{} and none is left for training; lower --val-fraction or add rows of that class",
        args.val_fraction,
        if rows == 1 { "" } else { "s" }
    ))
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
