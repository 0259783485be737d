//! `lintrain predict`: one class name, or one row of class probabilities,
//! per data row, as CSV.
//!
//! The rows are written as they are scored: the model scores the data in
//! chunks of rows ([`Model::for_each_score_chunk`]), and each chunk's CSV
//! rows go out before the next chunk is scored, so memory does not grow
//! with rows × classes. `--out` receives the CSV through a temporary file
//! renamed into place at the end, so a failure leaves no partial file; on
//! stdout, a failure part-way (a score that overflows f32) ends the output
//! with an error before the chunk that failed, dropping what is still
//! buffered (so a short output is printed whole or not at all), and never
//! prints a non-finite number.
//!
//! [`Model::for_each_score_chunk`]: lintrain::Model::for_each_score_chunk

use super::args::PredictArgs;
use super::paths::{Named, check_outputs};
use super::scoring::{Failure, check_columns, scoring_error, write_file};
use super::{CliError, CliResult};
use lintrain::data::{LoadOptions, load_table};
use lintrain::limits::{self, MAX_OUTPUT_CELLS};
use lintrain::model_file::SavedModel;
use ndarray::ArrayView2;
use std::io::{BufWriter, Write};

pub fn run(args: &PredictArgs) -> CliResult {
    if let Some(out) = &args.out {
        check_outputs(
            &[
                Named::new("--model", &args.model),
                Named::new("--data", &args.data),
            ],
            &[Named::new("--out", out)],
        )?;
    }
    let saved = SavedModel::load(&args.model)?;
    let options = args.read.apply(LoadOptions {
        label: args.label.clone().unwrap_or_default(),
        labels_file: None,
        labels_required: false,
        expected_features: Some(saved.model.features()),
        ..LoadOptions::default()
    });
    let table = load_table(&args.data, &options)?;
    check_columns(&args.data, &table, &args.model, &saved)?;
    if args.proba {
        // Refused before anything is computed or written.
        let (rows, classes) = (table.features.nrows(), saved.class_names.len());
        limits::check_product(
            format!(
                "--proba: the number of probabilities (rows × classes) to write for the {rows} rows of {} and the {classes} classes of {}",
                args.data.display(),
                args.model.display()
            ),
            rows as u64,
            classes as u64,
            MAX_OUTPUT_CELLS,
        )?;
    }
    let x = saved.prepare(table.features.view())?;
    let write = |out: &mut dyn Write| write_predictions(args, &saved, x.view(), out);
    match &args.out {
        Some(path) => write_file(path, write),
        None => {
            let mut out = BufWriter::new(std::io::stdout().lock());
            let written = write(&mut out).and_then(|()| out.flush().map_err(Failure::Io));
            if written.is_err() {
                // What is still buffered is not printed: output that fits the
                // buffer is printed whole or not at all.
                drop(out.into_parts());
            }
            match written {
                Ok(()) => Ok(()),
                // The reader stopped early (`| head`): nothing is wrong.
                Err(Failure::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                Err(Failure::Io(e)) => Err(CliError::new(format!("writing to stdout: {e}"))),
                Err(Failure::Scoring(e)) => Err(e.into()),
                Err(Failure::Cli(e)) => Err(e),
            }
        }
    }
}

/// Writes the CSV: a header of class names and one row of probabilities
/// per data row with `--proba`, else one class name per data row.
fn write_predictions(
    args: &PredictArgs,
    saved: &SavedModel,
    x: ArrayView2<'_, f32>,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    // The CSV writer flushes `out` when dropped; through `NoFlush` only
    // its own buffer moves into `out`, whose owner decides what is flushed.
    let mut writer = csv::Writer::from_writer(NoFlush(out));
    let written = if args.proba {
        writer
            .write_record(&saved.class_names)
            .map_err(csv_failure)?;
        // One buffer for every number, rather than a String per cell.
        let mut field: Vec<u8> = Vec::with_capacity(24);
        saved.model.for_each_proba_chunk(x, |_, proba| {
            for row in proba.outer_iter() {
                for p in row {
                    field.clear();
                    write!(field, "{p}").expect("writing to a Vec cannot fail");
                    writer.write_field(&field).map_err(csv_failure)?;
                }
                writer.write_record(None::<&[u8]>).map_err(csv_failure)?;
            }
            Ok(())
        })
    } else {
        saved.model.for_each_prediction_chunk(x, |_, classes| {
            for &class in classes {
                let name = saved.class_names.get(class as usize).ok_or_else(|| {
                    Failure::Cli(CliError::new(format!(
                        "{}: predicted class {class} has no name",
                        args.model.display()
                    )))
                })?;
                writer.write_record([name]).map_err(csv_failure)?;
            }
            Ok(())
        })
    };
    written
        .and_then(|()| writer.flush().map_err(Failure::Io))
        .map_err(|failure| match failure {
            Failure::Scoring(e) => Failure::Cli(scoring_error(&args.model, &args.data, e)),
            other => other,
        })
}

/// A writer whose `flush` does not reach the writer it wraps.
struct NoFlush<'a>(&'a mut dyn Write);

impl Write for NoFlush<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.write(bytes)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn csv_failure(error: csv::Error) -> Failure {
    if !error.is_io_error() {
        return Failure::Cli(CliError::new(format!("writing the predictions: {error}")));
    }
    match error.into_kind() {
        csv::ErrorKind::Io(e) => Failure::Io(e),
        other => Failure::Cli(CliError::new(format!("writing the predictions: {other:?}"))),
    }
}
