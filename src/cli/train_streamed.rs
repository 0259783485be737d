//! `lintrain train` on `.npy` shards larger than the memory budget: the
//! rows are streamed from disk every epoch ([`lintrain::train::StreamedData`]),
//! standardized on the fly with moments from one streamed pass, and the
//! validation rows are chosen per row by a seeded hash of the row's index.
//! The final metrics come from one more streamed pass over each part.

use super::args::TrainArgs;
use super::class_weights::class_weights;
use super::conclude::{Trained, conclude};
use super::json::FinalMetrics;
use super::log::Log;
use super::memory_args::format_bytes;
use super::progress::reported_trainer;
use super::run_description::{describe_regularizer, method_name, name_list};
use super::training_data::{self, StreamedInput, load_test};
use super::{CliError, CliResult};
use lintrain::checkpoint_file::SavedCheckpoint;
use lintrain::data::stream::{BlockStream, RowFilter, StreamOptions, is_validation_row};
use lintrain::train::{
    BLOCKS_HELD, DEFAULT_BLOCK_BYTES, DEFAULT_CHUNK_BYTES, StreamedData, VALIDATION_BLOCKS_HELD,
    chunk_rows_for, fit_streamed_standardizer,
};
use lintrain::{BatchSize, Model, Solver, TrainConfig};
use ndarray::{Array1, s};
use std::sync::Arc;
use std::time::Instant;

/// Host memory a streamed run holds besides its shuffle window and its
/// blocks: the reader's scratch, the model, and slack.
const SLACK_BYTES: u64 = 256 << 10;

/// Trains on `input`, streamed; `config` is the command line's.
pub fn run(
    args: &TrainArgs,
    log: &Log,
    started: Instant,
    config: TrainConfig,
    resume: Option<SavedCheckpoint>,
    input: StreamedInput,
) -> CliResult {
    if resume.is_some() {
        return Err(CliError::new(
            "--resume: a run on streamed data cannot resume yet; raise --memory-budget to hold the data in memory",
        ));
    }
    let StreamedInput {
        shards,
        labels,
        classes,
        feature_names,
        source,
    } = input;
    let (rows, features) = (shards.rows(), shards.features());
    let test = load_test(args, &classes, features)?;
    let fraction = config.validation_fraction;
    let held = |row: usize| fraction > 0.0 && is_validation_row(config.seed, fraction, row as u64);
    let train_labels: Vec<u32> = (0..rows).filter(|&r| !held(r)).map(|r| labels[r]).collect();
    let train_rows = train_labels.len();
    let class_count = classes.len();
    // Checked here, before the streamed moments pass, and in the words of
    // the resident split: the class by its name, the flag to change.
    if fraction > 0.0 {
        let validation_rows = rows - train_rows;
        if train_rows == 0 || validation_rows == 0 {
            return Err(CliError::new(format!(
                "--val-fraction {}: leaves {train_rows} training and {validation_rows} validation rows of {rows} (each row held out by a seeded hash of its index)",
                args.val_fraction
            )));
        }
        let mut trained = vec![false; class_count];
        for &label in &train_labels {
            trained[label as usize] = true;
        }
        if let Some(class) = trained.iter().position(|&t| !t) {
            let class_rows = labels.iter().filter(|&&l| l as usize == class).count();
            return Err(training_data::untrained_class(
                args,
                &classes.names()[class],
                class_rows,
            ));
        }
    }
    let regularizer = args.flagged_regularizer(train_rows, class_count)?;
    let config = TrainConfig {
        regularizer,
        ..config
    };
    let budget = args.memory.budget();
    let row_bytes = (features * shards.item_size()) as u64;
    // A sixteenth of the budget per block (at most 32 MiB, at least a
    // few rows): the blocks held take three eighths of it, half with
    // validation rows.
    let block_bytes = (budget / 16).clamp(16 << 10, DEFAULT_BLOCK_BYTES);
    // A block holds whole steps, at least one however large (an L-BFGS
    // pass steps through any number of rows, at least one).
    let step_rows = match (config.solver, config.batch_size) {
        (Solver::Lbfgs(_), _) => 1,
        (_, BatchSize::Rows(batch)) => batch.min(train_rows),
        (_, BatchSize::Full) => train_rows,
    };
    let step_bytes = step_rows as u64 * 4 * features as u64;
    // Labels, their codes and the training rows' labels while counting.
    let labels_bytes = 12 * rows as u64 + SLACK_BYTES;
    let blocks_held = if fraction > 0.0 {
        BLOCKS_HELD + VALIDATION_BLOCKS_HELD
    } else {
        BLOCKS_HELD
    };
    if step_bytes > block_bytes && blocks_held * step_bytes + labels_bytes > budget {
        let batch = match config.batch_size {
            BatchSize::Full => {
                format!("--batch-size full: one step reads all {train_rows} training rows")
            }
            BatchSize::Rows(batch) => {
                format!("--batch-size {batch}: one step reads {step_rows} rows")
            }
        };
        return Err(CliError::new(format!(
            "{batch}, {}, and a streamed run holds {blocks_held} blocks of at least one step, more than {}; lower --batch-size, raise --memory-budget, or fit all rows at once with --solver lbfgs",
            format_bytes(step_bytes),
            args.memory.describe_budget()
        )));
    }
    let fixed = blocks_held * block_bytes.max(step_bytes) + labels_bytes;
    let chunk_rows = chunk_rows_for(&shards, DEFAULT_CHUNK_BYTES.min(budget / 16));
    let shuffle_buffer = match args.memory.shuffle_buffer {
        Some(rows) => rows as usize,
        None => {
            let window = budget.saturating_sub(fixed) / 2;
            ((window / (row_bytes + 12).max(1)) as usize).max(chunk_rows)
        }
    };
    let mut data = StreamedData::new(Arc::clone(&shards), labels, shuffle_buffer);
    data.chunk_rows = chunk_rows;
    data.block_bytes = block_bytes;
    // The stream's own count includes its blocks; one-row blocks leave
    // the window alone.
    let window_bytes = data.pass_memory(1);
    // The least a pass holds: a window of one chunk, and the rest.
    let least = StreamedData {
        shuffle_buffer: 1,
        ..data.clone()
    }
    .pass_memory(1)
    .saturating_add(fixed);
    if least > budget {
        return Err(CliError::new(format!(
            "{} is too small to stream {source}: a window of one chunk ({chunk_rows} rows) and the blocks, labels and reader take about {}; raise --memory-budget",
            args.memory.describe_budget(),
            format_bytes(least)
        )));
    }
    if window_bytes.saturating_add(fixed) > budget {
        return Err(CliError::new(format!(
            "--shuffle-buffer {shuffle_buffer}: a window of that many rows takes {} and the blocks, labels and reader about {}, more than {}; lower --shuffle-buffer or raise --memory-budget",
            format_bytes(window_bytes),
            format_bytes(fixed),
            args.memory.describe_budget()
        )));
    }
    log.line(format_args!(
        "training {} with {} on {source} ({rows} rows: {train_rows} train, {} validation by a seeded hash of each row; {features} features; {class_count} classes: {})",
        config.loss.name(),
        method_name(&config),
        rows - train_rows,
        name_list(classes.names())
    ));
    log.line(format_args!(
        "streaming: chunks of {chunk_rows} rows ({}), a shuffle buffer of {} rows ({})",
        format_bytes(chunk_rows as u64 * row_bytes),
        shuffle_buffer.min(rows),
        format_bytes(shuffle_buffer.min(rows) as u64 * row_bytes),
    ));
    if let Some(given) = args.strength.describe(train_rows) {
        log.line(format_args!(
            "regularizer {}, from {given}",
            describe_regularizer(&config.regularizer)
        ));
    }
    let standardizer = if args.no_standardize {
        None
    } else {
        let fitted = fit_streamed_standardizer(&data, fraction, config.seed)?;
        log.line(format_args!(
            "standardizing with the moments of one streamed pass over the {train_rows} training rows"
        ));
        Some(fitted)
    };
    data.standardizer = standardizer.clone().map(Arc::new);
    let (test_x, test_labels) = test.unzip();
    let test = match (test_x, &standardizer) {
        (Some(mut x), Some(s)) => {
            s.apply_in_place(&mut x)?;
            Some(x)
        }
        (x, _) => x,
    }
    .zip(test_labels);

    let class_weights = match &args.class_weight {
        Some(source) => Some(class_weights(source, &classes, Some(&train_labels))?),
        None => None,
    };
    drop(train_labels);
    let (mut trainer, progress) = reported_trainer(&config, class_count, class_weights, log.quiet);
    let result = trainer.fit_streamed(&data);
    progress.finish();
    let last_finite = trainer.last_finite_model().cloned();
    let seed = config.seed;
    let score_final = |model: &Model| -> CliResult<FinalMetrics> {
        let part = |filter: RowFilter, split: &str| {
            score_streamed(model, &data, filter).map_err(|e| {
                CliError::new(format!(
                    "scoring the trained model on the {split} rows: {e}"
                ))
            })
        };
        let train_filter = if fraction > 0.0 {
            RowFilter::Train { seed, fraction }
        } else {
            RowFilter::All
        };
        let validation = (fraction > 0.0).then_some(RowFilter::Validation { seed, fraction });
        Ok(FinalMetrics {
            train: Some(part(train_filter, "training")?),
            val: validation.map(|f| part(f, "validation")).transpose()?,
            test: test
                .as_ref()
                .map(|(x, labels)| {
                    training_data::score(model, x.view(), Array1::from(labels.clone()).view())
                        .map_err(|e| {
                            CliError::new(format!(
                                "scoring the trained model on the --test rows: {e}"
                            ))
                        })
                })
                .transpose()?,
        })
    };
    conclude(
        args,
        log,
        started,
        Trained {
            config,
            class_count,
            result,
            last_finite,
            standardizer: standardizer.clone(),
            classes: &classes,
            feature_names: &feature_names,
            source: &source,
        },
        &score_final,
    )
}

/// The mean data loss and the accuracy of `model` on the rows `filter`
/// selects, in one streamed pass in file order (standardized as trained).
fn score_streamed(model: &Model, data: &StreamedData, filter: RowFilter) -> CliResult<(f64, f64)> {
    let mut stream = BlockStream::start(
        Arc::clone(&data.shards),
        StreamOptions {
            chunk_rows: data.chunk_rows,
            shuffle: None,
            block_rows: data.chunk_rows,
            filter,
            standardizer: data.standardizer.clone(),
        },
    )?;
    let (mut loss_sum, mut hits, mut rows) = (0.0f64, 0.0f64, 0usize);
    while let Some(block) = stream.next_block() {
        let block = block?;
        let labels: Array1<u32> = block.row_ids[..block.rows]
            .iter()
            .map(|&r| data.labels[r as usize])
            .collect();
        let x = block.x.slice(s![..block.rows, ..]);
        let (loss, accuracy) = training_data::score(model, x, labels.view())?;
        loss_sum += loss * block.rows as f64;
        hits += (accuracy * block.rows as f64).round();
        rows += block.rows;
        stream.recycle(block);
    }
    let n = rows.max(1) as f64;
    Ok((loss_sum / n, hits / n))
}
