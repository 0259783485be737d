//! `lintrain train --distributed`: one rank's part of a data-parallel run
//! (see [`lintrain::distributed`]). Every rank runs this with the same
//! flags; each holds its own share of the rows:
//!
//! 1. load the share (`{rank}` files, or rows `⌊rN/K⌋..⌊(r+1)N/K⌋` of
//!    `--data`);
//! 2. agree on the class map (the union of every rank's, sorted as one
//!    process sorts them), gather every rank's class ids, and split them
//!    as one process would (the same seeded, stratified split);
//! 3. standardize with the moments of every rank's training rows, merged
//!    in rank order;
//! 4. train together ([`Trainer::fit_data_across`]) and score every
//!    rank's rows;
//! 5. rank 0 logs, reports and writes every output; the others say
//!    nothing unless they fail.
//!
//! The transport is any [`Collective`]: MPI's world under `mpirun`
//! (`super::mpi_launch`), or a single rank.

use super::args::TrainArgs;
use super::class_weights::class_weights;
use super::conclude::{Trained, conclude};
use super::json::FinalMetrics;
use super::log::Log;
use super::progress::reported_trainer;
use super::run_description::{describe_regularizer, method_name, name_list};
use super::train::{
    Part, Parts, check_before_loading, check_before_loading_with, check_resume, score,
    standardized_parts,
};
use super::training_data::{
    Labelled, TrainingData, load_test, load_training_data_with, load_training_share, split_labels,
};
use super::{CliError, CliResult};
use lintrain::checkpoint_file::SavedCheckpoint;
use lintrain::data::stream::Moments;
use lintrain::data::{ClassMap, Standardizer};
use lintrain::distributed::{Collective, Shares, gather_u32s, gather_u64, same_on_every_rank};
use lintrain::{
    BackendChoice, Error, Examples, Model, RowSplit, SharedRows, TrainConfig, TrainData,
};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// What `--data` and `--labels` contain to name one file per rank.
const RANK_PLACEHOLDER: &str = "{rank}";

/// How a rank's part ended, when it did not fail alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    Succeeded,
    /// The run failed on every rank alike (a flag, the data's classes or
    /// split, a divergence), or rank 0 failed reporting it; rank 0 has
    /// printed why. Every rank ends with a failure, none aborts.
    Failed,
}

/// A failure every rank meets alike: rank 0 reports it, the others stay
/// silent, and no rank aborts (none is waiting for another).
macro_rules! on_every_rank {
    ($leader:expr, $result:expr) => {
        match $result {
            Ok(value) => value,
            Err(error) => {
                if $leader {
                    report(&CliError::from(error));
                }
                return Ok(Ending::Failed);
            }
        }
    };
}

/// Runs this rank's part; `local_rank` (this process's rank on its
/// machine) picks its GPU. An `Err` is this rank's alone (a bad row in its
/// share, a file it cannot read, a device it cannot open): the caller ends
/// the job with it.
pub fn run(
    args: &TrainArgs,
    quiet: bool,
    collective: &dyn Collective,
    local_rank: Option<usize>,
) -> CliResult<Ending> {
    let started = Instant::now();
    let (rank, size) = (collective.rank(), collective.size());
    let leader = rank == 0;
    let log = Log {
        quiet: quiet || !leader,
    };
    // The flags are every rank's; the outputs are rank 0's to write, and
    // the others only check that no output is one of their inputs.
    on_every_rank!(leader, check_before_loading_with(args, false));
    if leader {
        check_before_loading(args)?;
    }
    let mut config = args.config();
    config.backend = rank_backend(config.backend, local_rank.unwrap_or(rank));
    let resume = args
        .resume
        .as_ref()
        .map(|path| {
            SavedCheckpoint::load(path, config.optimizer)
                .map_err(|e| CliError::new(format!("--resume: {e}")))
        })
        .transpose()?;

    let mut data = load_share(args, &log, rank, size)?;
    on_every_rank!(
        leader,
        same_on_every_rank(collective, "features", data.x.ncols() as u64)
    );
    on_every_rank!(leader, same_feature_names(collective, &data.feature_names));
    let classes = on_every_rank!(leader, agree_on_classes(collective, &mut data));
    let rows = Shares::gather(collective, data.x.nrows())?;
    on_every_rank!(leader, rows.require_rows("data"));
    let wants_labels = config.validation_fraction > 0.0 || args.class_weight.is_some();
    // Every rank's class ids: the split and balanced class weights are of
    // all the rows.
    let all_labels = if wants_labels {
        gather_u32s(collective, &data.labels)?
    } else {
        Vec::new()
    };
    let (split, local_split) = if config.validation_fraction > 0.0 {
        let split = on_every_rank!(leader, split_labels(args, &all_labels, &classes));
        let local = rows_of_rank(&split, rows.offset(), rows.local());
        (split, local)
    } else {
        let every = |n: usize| RowSplit {
            train: (0..n).collect(),
            validation: Vec::new(),
        };
        (every(rows.total()), every(rows.local()))
    };
    let train_rows = Shares::gather(collective, local_split.train.len())?;
    on_every_rank!(leader, train_rows.require_rows("training"));
    log.line(format_args!(
        "distributed: {size} rank{}, rows per rank: {}{}; {} CPU thread{} per rank",
        if size == 1 { "" } else { "s" },
        list(&rows.rows),
        if split.validation.is_empty() {
            String::new()
        } else {
            format!("; training rows per rank: {}", list(&train_rows.rows))
        },
        rayon::current_num_threads(),
        if rayon::current_num_threads() == 1 {
            ""
        } else {
            "s"
        }
    ));
    if let (Some(resume), Some(path)) = (&resume, &args.resume) {
        on_every_rank!(
            leader,
            check_resume(resume, &config, &data, args.no_standardize).map_err(|reason| {
                CliError::new(format!("--resume {}: {reason}", path.display()))
            })
        );
    }
    let test = if leader {
        load_test(args, &classes, data.x.ncols())?
    } else {
        None
    };

    let standardizer = match &resume {
        Some(resume) => resume.saved.standardizer.clone(),
        None if args.no_standardize => None,
        None => Some(global_standardizer(collective, &data, &local_split.train)?),
    };
    let validation = !split.validation.is_empty();
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
        &local_split,
        validation,
    )?;

    let class_count = classes.len();
    let regularizer = on_every_rank!(
        leader,
        args.flagged_regularizer(split.train.len(), class_count)
    );
    let config = TrainConfig {
        regularizer,
        ..config
    };
    log.line(format_args!(
        "training {} with {} on {} ({} rows: {} train, {} validation; {} features; {} classes: {})",
        config.loss.name(),
        method_name(&config),
        data.source,
        rows.total(),
        split.train.len(),
        split.validation.len(),
        all.ncols(),
        class_count,
        name_list(classes.names())
    ));
    if let Some(given) = args.strength.describe(split.train.len()) {
        log.line(format_args!(
            "regularizer {}, from {given}",
            describe_regularizer(&config.regularizer)
        ));
    }
    let class_weights = match &args.class_weight {
        Some(source) => {
            let train_labels: Vec<u32> = split.train.iter().map(|&r| all_labels[r]).collect();
            Some(on_every_rank!(
                leader,
                class_weights(source, &classes, Some(&train_labels))
            ))
        }
        None => None,
    };
    let (mut trainer, progress) = reported_trainer(&config, class_count, class_weights, log.quiet);
    if let Some(resume) = &resume {
        trainer = trainer.resume_from(resume.checkpoint.clone());
    }
    let shared = SharedRows::from(Arc::clone(&all));
    let result = trainer.fit_data_across(
        TrainData::split(
            Examples::shared_classes(&shared, labels.view()),
            &local_split,
        ),
        collective,
    );
    progress.finish();
    // A divergence (or a disagreement the ranks found together) is every
    // rank's; any other failure is this rank's alone.
    let result = match result {
        Err(error) if !matches!(error, Error::Diverged { .. } | Error::Distributed(_)) => {
            return Err(error.into());
        }
        result => result,
    };
    let last_finite = trainer.last_finite_model().cloned();
    // Every rank scores its rows, and the sums are every rank's (only rank
    // 0 holds the --test rows); then rank 0 alone reports and writes.
    let metrics = match &result {
        Ok(outcome) => Some(final_metrics(
            collective,
            &outcome.model,
            &train,
            val.as_ref(),
            test.as_ref(),
        )?),
        Err(_) => None,
    };
    let concluded = if leader {
        let score_final = |_: &Model| -> CliResult<FinalMetrics> {
            metrics.ok_or_else(|| CliError::new("no metrics: the run has no model"))
        };
        let concluded = conclude(
            args,
            &log,
            started,
            Trained {
                config,
                class_count,
                result,
                last_finite,
                standardizer,
                classes: &classes,
                feature_names: &data.feature_names,
                source: &data.source,
            },
            &score_final,
        );
        if let Err(error) = &concluded {
            report(error);
        }
        concluded.is_ok()
    } else {
        result.is_ok()
    };
    // The others wait for rank 0 to finish writing, and end as it did.
    let ended = gather_u64(collective, u64::from(concluded))?;
    Ok(if ended[0] == 1 {
        Ending::Succeeded
    } else {
        Ending::Failed
    })
}

/// Rank 0's line for a failure: the one-process form.
fn report(error: &CliError) {
    let line = format!("lintrain: error: {error}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// Mean loss and accuracy of `model` over every rank's training and
/// validation rows (the ranks' sums added in rank order), and on rank 0's
/// `--test` rows.
fn final_metrics(
    collective: &dyn Collective,
    model: &Model,
    train: &Part,
    val: Option<&Part>,
    test: Option<&Part>,
) -> CliResult<FinalMetrics> {
    let sums = |split: &str, part: &Part| -> CliResult<[f64; 3]> {
        let (loss, accuracy) = score(model, part).map_err(|e| {
            CliError::new(format!(
                "scoring the trained model on the {split} rows: {e}"
            ))
        })?;
        let rows = part.rows.as_ref().map_or(part.x.nrows(), Vec::len) as f64;
        Ok([loss * rows, (accuracy * rows).round(), rows])
    };
    let mut totals = sums("training", train)?.to_vec();
    if let Some(val) = val {
        totals.extend(sums("validation", val)?);
    }
    collective.ordered_sum(&mut totals)?;
    let mean = |at: usize| (totals[at] / totals[at + 2], totals[at + 1] / totals[at + 2]);
    Ok(FinalMetrics {
        train: Some(mean(0)),
        val: val.map(|_| mean(3)),
        test: test
            .map(|t| {
                score(model, t).map_err(|e| {
                    CliError::new(format!("scoring the trained model on the --test rows: {e}"))
                })
            })
            .transpose()?,
    })
}

/// The backend of rank `local_rank` on its machine: a GPU run (or an
/// automatic one on a machine with a hardware GPU) takes GPU number
/// `local_rank`, so that the ranks on one machine share its GPUs.
fn rank_backend(choice: BackendChoice, local_rank: usize) -> BackendChoice {
    match choice {
        BackendChoice::Gpu => BackendChoice::GpuNumber(local_rank),
        BackendChoice::Auto if lintrain::gpu::hardware_adapter_available() => {
            BackendChoice::GpuNumber(local_rank)
        }
        other => other,
    }
}

/// This rank's rows: its own files where `--data` or `--labels` name one
/// per rank, otherwise its share of the one table.
fn load_share(args: &TrainArgs, log: &Log, rank: usize, size: usize) -> CliResult<Labelled> {
    let per_rank = |path: &Option<PathBuf>| {
        path.as_ref()
            .is_some_and(|p| p.to_string_lossy().contains(RANK_PLACEHOLDER))
    };
    if !per_rank(&args.data.data) && !per_rank(&args.data.labels) {
        return load_training_share(args, log, rank, size);
    }
    let mut own = args.clone();
    for path in [&mut own.data.data, &mut own.data.labels]
        .into_iter()
        .flatten()
    {
        *path = PathBuf::from(
            path.to_string_lossy()
                .replace(RANK_PLACEHOLDER, &rank.to_string()),
        );
    }
    // This rank's own files may be what an output names (only rank 0
    // checks that the outputs can be written).
    check_before_loading_with(&own, rank == 0)?;
    match load_training_data_with(&own, log, rank == 0)? {
        TrainingData::Resident(data) => Ok(Labelled {
            // The log names the pattern, not rank 0's file.
            source: args
                .data
                .data
                .as_ref()
                .map_or(data.source.clone(), |p| p.display().to_string()),
            ..data
        }),
        TrainingData::Streamed(input) => Err(CliError::new(format!(
            "{}: larger than {}; a distributed run holds each rank's rows in memory: split \
             the data over more ranks or raise --memory-budget",
            input.source,
            args.memory.describe_budget()
        ))),
    }
}

/// The class map of every rank's labels, as one process would fit it on
/// all of them (integers in numeric order, text in lexicographic order);
/// `data`'s class ids are re-encoded in it. Integer labels on one rank and
/// text on another are an error: one process would have read every label
/// as text, keeping a spelling (`01`, `1.0`) the integers no longer have.
fn agree_on_classes(collective: &dyn Collective, data: &mut Labelled) -> CliResult<ClassMap> {
    let mine = serde_json::to_vec(&(data.integer_labels, data.classes.names()))
        .map_err(|e| CliError::new(format!("sending the class names: {e}")))?;
    let mut names: Vec<String> = Vec::new();
    let mut kinds = Vec::new();
    for (rank, bytes) in collective.all_gather_bytes(&mine)?.iter().enumerate() {
        let (integers, theirs): (bool, Vec<String>) = serde_json::from_slice(bytes)
            .map_err(|e| CliError::new(format!("rank {rank}'s class names: {e}")))?;
        kinds.push(integers);
        names.extend(theirs);
    }
    if let (Some(integers), Some(text)) = (
        kinds.iter().position(|&k| k),
        kinds.iter().position(|&k| !k),
    ) {
        return Err(CliError::new(format!(
            "the ranks' labels differ in kind: rank {integers}'s are integers and rank {text}'s \
             are text; one process would read them all as text, spelled as written, so write \
             the labels of every rank alike"
        )));
    }
    let names = if kinds.iter().all(|&k| k) {
        let mut values = names
            .iter()
            .map(|n| n.parse::<i64>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CliError::new(format!("an integer class name: {e}")))?;
        values.sort_unstable();
        values.dedup();
        values.iter().map(i64::to_string).collect()
    } else {
        names.sort_unstable();
        names.dedup();
        names
    };
    let classes = ClassMap::from_names(names);
    let to_global: Vec<u32> = data
        .classes
        .names()
        .iter()
        .map(|name| {
            classes
                .id_of(name)
                .expect("every rank's names are in the union")
        })
        .collect();
    for label in &mut data.labels {
        *label = to_global[*label as usize];
    }
    data.classes = classes.clone();
    Ok(classes)
}

/// An error unless every rank's columns have rank 0's names, in order:
/// rows whose columns mean other things cannot train one model.
fn same_feature_names(collective: &dyn Collective, names: &[String]) -> CliResult {
    let mine = serde_json::to_vec(names)
        .map_err(|e| CliError::new(format!("sending the feature names: {e}")))?;
    let all = collective.all_gather_bytes(&mine)?;
    let Some(rank) = all.iter().position(|theirs| *theirs != all[0]) else {
        return Ok(());
    };
    let decode = |bytes: &[u8]| serde_json::from_slice::<Vec<String>>(bytes).unwrap_or_default();
    let (first, theirs) = (decode(&all[0]), decode(&all[rank]));
    let column = first
        .iter()
        .zip(&theirs)
        .position(|(a, b)| a != b)
        .unwrap_or(first.len().min(theirs.len()));
    Err(CliError::new(format!(
        "the ranks' columns differ: column {column} (0-based) is {:?} on rank 0 and {:?} on \
         rank {rank}; every rank's file needs the same columns in the same order",
        first.get(column).map_or("", String::as_str),
        theirs.get(column).map_or("", String::as_str),
    )))
}

/// The rows of `split` (over every rank's rows) that rank's `rows` rows
/// from `offset` hold, as indices into them.
fn rows_of_rank(split: &RowSplit, offset: usize, rows: usize) -> RowSplit {
    let mine = |part: &[usize]| -> Vec<usize> {
        part.iter()
            .filter(|&&r| (offset..offset + rows).contains(&r))
            .map(|r| r - offset)
            .collect()
    };
    RowSplit {
        train: mine(&split.train),
        validation: mine(&split.validation),
    }
}

/// The standardizer of every rank's training rows: each rank's moments
/// (accumulated row by row, as one process does) merged in rank order.
fn global_standardizer(
    collective: &dyn Collective,
    data: &Labelled,
    train_rows: &[usize],
) -> CliResult<Standardizer> {
    let features = data.x.ncols();
    let values = Standardizer::moments_of_rows(data.x.view(), train_rows)?.to_values();
    let mut merged = Moments::new(features);
    for (rank, bytes) in collective
        .all_gather_bytes(bytemuck::cast_slice(&values))?
        .iter()
        .enumerate()
    {
        let theirs: Vec<f64> = bytes
            .chunks_exact(8)
            .map(|b| f64::from_ne_bytes(b.try_into().expect("8 bytes")))
            .collect();
        let moments = Moments::from_values(features, &theirs)
            .ok_or_else(|| CliError::new(format!("rank {rank} sent moments of another width")))?;
        merged.merge(&moments);
    }
    Ok(Standardizer::from_moments(&merged))
}

fn list(values: &[usize]) -> String {
    values
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
