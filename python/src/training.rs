//! `fit`: one training run, on a worker thread, with the interpreter lock
//! released.
//!
//! The calling thread waits for the worker in slices of
//! [`POLL_INTERVAL`], the lock released; between slices it takes the lock
//! back to report finished epochs and to run Python's signal handlers
//! (`PyErr_CheckSignals`). A `KeyboardInterrupt` there sets the run's
//! [`Interrupt`], which the worker checks before every step (every L-BFGS
//! evaluation), waits for it to stop, and re-raises: Ctrl-C ends a fit
//! within one step, leaving the estimator as it was.

use crate::arrays::host_rows;
use crate::errors::{invalid, to_py};
use crate::settings::{ClassWeight, Settings, SolverName};
use lintrain::train::{Checkpoint, Interrupt};
use lintrain::{EpochRecord, Examples, Model, Outcome, RowSplit, TrainData, Trainer};
use ndarray::{Array1, Array2};
use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

/// How long the waiting thread releases the lock between checks of the
/// worker, the reports and the signals: short enough that Ctrl-C feels
/// immediate, long enough to cost nothing.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Where a run starts when not afresh: the weights (D × outputs) and
/// bias, and for `partial_fit` the optimizer's state and position.
#[derive(FromPyObject)]
pub struct Start<'py> {
    #[pyo3(item)]
    weights: PyReadonlyArray2<'py, f32>,
    #[pyo3(item)]
    bias: PyReadonlyArray1<'py, f32>,
    #[pyo3(item)]
    optimizer_state: Option<PyReadonlyArray1<'py, f32>>,
    #[pyo3(item)]
    steps_taken: u64,
    #[pyo3(item)]
    epochs_done: usize,
}

/// Trains on `x` (N × D float32, C-contiguous: read in place) and `y`
/// (class ids below `len(class_names)`) with the estimator's `params`
/// (see `settings.rs`). `start` continues from earlier weights
/// (`warm_start`) or an earlier run (`partial_fit`, with `epochs=1`).
/// `progress`, when given, is called with a dict per finished epoch
/// (L-BFGS iteration). Returns a dict of the weights, bias, history and
/// the state to continue from.
#[pyfunction]
#[pyo3(signature = (x, y, class_names, params, start=None, epochs=None, progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn fit<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    y: PyReadonlyArray1<'py, u32>,
    class_names: Vec<String>,
    params: &Bound<'py, PyDict>,
    start: Option<Start<'py>>,
    epochs: Option<usize>,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let settings = Settings::from_dict(params)?;
    let classes = class_names.len();
    let labels = y.as_slice().map_err(|_| invalid("y must be contiguous"))?;
    let split = if settings.early_stopping {
        Some(validation_split(&settings, labels, &class_names)?)
    } else {
        None
    };
    let train_labels: Vec<u32> = match &split {
        Some(split) => split.train.iter().map(|&r| labels[r]).collect(),
        None => labels.to_vec(),
    };
    let regularizer = settings
        .regularizer(train_labels.len(), classes)
        .map_err(|e| invalid(format!("{}: {e}", strength_name(&settings))))?;
    let class_weights = match &settings.class_weight {
        None => None,
        Some(ClassWeight::PerClass(weights)) => Some(weights.clone()),
        Some(ClassWeight::Balanced) => Some(
            lintrain::config::balanced_class_weights(&train_labels, classes).map_err(|class| {
                invalid(format!(
                    "class_weight=\"balanced\": class {:?} has no training rows",
                    class_names[class]
                ))
            })?,
        ),
    };
    let config = settings.config(classes, regularizer, class_weights, epochs);
    let checkpoint = start.map(|s| s.checkpoint(&config)).transpose()?;

    let rows = host_rows(&x)?;
    let interrupt = Interrupt::new();
    let (sender, mut receiver) = channel::<Event>();
    let epoch_sender = sender.clone();
    let mut trainer = Trainer::new(config)
        .interrupt_on(interrupt.clone())
        .on_epoch(move |record| {
            // The waiting thread may have given up (an exception in
            // `progress`): the run is being interrupted then.
            let _ = epoch_sender.send(Event::Epoch(record.clone()));
        });
    if let Some(checkpoint) = checkpoint {
        trainer = trainer.continue_from(checkpoint);
    }
    let y_view = y.as_array();
    let outcome = std::thread::scope(|scope| -> PyResult<Outcome> {
        let worker = std::thread::Builder::new()
            .name("lintrain-fit".into())
            // `move`: should training panic, unwinding drops the trainer
            // and both senders, which the waiting loop sees as done.
            .spawn_scoped(scope, move || {
                let examples = Examples::shared_classes(&rows, y_view);
                let data = match &split {
                    Some(split) => TrainData::split(examples, split),
                    None => TrainData::new(examples),
                };
                let result = trainer.fit_data(data);
                let _ = sender.send(Event::Done);
                result
            })
            .map_err(|e| PyRuntimeError::new_err(format!("could not start training: {e}")))?;
        loop {
            let (records, done, back) = py.detach(move || wait_for(receiver));
            receiver = back;
            let reported = report(py, progress.as_ref(), &records);
            let signals = py.check_signals();
            if let Err(error) = reported.and(signals) {
                interrupt.interrupt();
                // Joined to stop borrowing the arrays; its result is moot.
                let _ = py.detach(|| worker.join());
                return Err(error);
            }
            if done {
                return match py.detach(|| worker.join()) {
                    Ok(outcome) => outcome.map_err(to_py),
                    Err(_) => Err(PyRuntimeError::new_err(
                        "training panicked; this is a bug in lintrain",
                    )),
                };
            }
        }
    })?;
    outcome_dict(py, &settings, regularizer, outcome)
}

/// What the worker sends the waiting thread.
enum Event {
    Epoch(EpochRecord),
    /// Training returned (after its last epoch's record).
    Done,
}

/// The records sent within one [`POLL_INTERVAL`] (more if they keep
/// coming), whether training has returned, and the receiver back (it is
/// moved across the released lock, which needs what it takes to be `Send`).
fn wait_for(receiver: Receiver<Event>) -> (Vec<EpochRecord>, bool, Receiver<Event>) {
    let mut records = Vec::new();
    let mut done = false;
    let mut next = receiver.recv_timeout(POLL_INTERVAL);
    loop {
        match next {
            Ok(Event::Epoch(record)) => records.push(record),
            Ok(Event::Done) | Err(RecvTimeoutError::Disconnected) => done = true,
            Err(RecvTimeoutError::Timeout) => break,
        }
        if done {
            break;
        }
        next = receiver.try_recv().map_err(|e| match e {
            std::sync::mpsc::TryRecvError::Empty => RecvTimeoutError::Timeout,
            std::sync::mpsc::TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
        });
    }
    (records, done, receiver)
}

/// Calls `progress` with each record as a dict.
fn report(
    py: Python<'_>,
    progress: Option<&Bound<'_, PyAny>>,
    records: &[EpochRecord],
) -> PyResult<()> {
    let Some(progress) = progress else {
        return Ok(());
    };
    for record in records {
        let entry = PyDict::new(py);
        entry.set_item("epoch", record.epoch)?;
        entry.set_item("train_loss", record.train_loss)?;
        entry.set_item("train_accuracy", record.train_accuracy)?;
        entry.set_item("val_loss", record.val_loss)?;
        entry.set_item("val_accuracy", record.val_accuracy)?;
        entry.set_item("learning_rate", record.learning_rate)?;
        entry.set_item("seconds", record.seconds)?;
        entry.set_item("samples_per_second", record.samples_per_second)?;
        entry.set_item("gradient_max", record.gradient_max)?;
        progress.call1((entry,))?;
    }
    Ok(())
}

/// The validation rows early stopping watches: the command line's
/// stratified split, with its checks.
fn validation_split(
    settings: &Settings,
    labels: &[u32],
    class_names: &[String],
) -> PyResult<RowSplit> {
    let fraction = settings.validation_fraction;
    let split = RowSplit::stratified(labels, fraction, settings.seed);
    if split.has_empty_part() {
        return Err(invalid(format!(
            "validation_fraction={fraction} leaves {} training and {} validation rows of {}",
            split.train.len(),
            split.validation.len(),
            labels.len()
        )));
    }
    if let Some(untrained) = split.untrained_class(labels, class_names.len()) {
        return Err(invalid(format!(
            "validation_fraction={fraction}: class {:?} has {} row{} and none is left for training; lower validation_fraction or add rows of that class",
            class_names[untrained.class],
            untrained.rows,
            if untrained.rows == 1 { "" } else { "s" }
        )));
    }
    Ok(split)
}

fn strength_name(settings: &Settings) -> &'static str {
    match settings.strength {
        crate::settings::Strength::C(_) => "C",
        crate::settings::Strength::Alpha(_) => "alpha",
    }
}

impl Start<'_> {
    /// The checkpoint to continue from: the optimizer's state as given, or
    /// zeros (a warm start from the weights alone).
    fn checkpoint(&self, config: &lintrain::TrainConfig) -> PyResult<Checkpoint> {
        let weights: Array2<f32> = self.weights.as_array().to_owned();
        let bias: Array1<f32> = self.bias.as_array().to_owned();
        let classes = config.classes.unwrap_or(weights.ncols());
        let model = Model {
            weights,
            bias,
            loss: config.loss,
            classes,
        };
        let mut checkpoint = Checkpoint::from_model(model);
        if let Some(state) = &self.optimizer_state {
            checkpoint.optimizer_state = state.as_array().to_vec();
            checkpoint.steps_taken = self.steps_taken;
            checkpoint.epochs_done = self.epochs_done;
        }
        Ok(checkpoint)
    }
}

/// The result dict: `weights` (D × outputs), `bias`, `n_iter`,
/// `loss_curve`, `validation_loss_curve`, `best_epoch`, `converged`,
/// `stop_reason`, `backend`, and the state `partial_fit` continues from.
fn outcome_dict<'py>(
    py: Python<'py>,
    settings: &Settings,
    regularizer: lintrain::Regularizer,
    outcome: Outcome,
) -> PyResult<Bound<'py, PyDict>> {
    let Outcome {
        model,
        history,
        checkpoint,
        solver_report,
    } = outcome;
    let result = PyDict::new(py);
    let n_iter = match (&solver_report, settings.solver) {
        (Some(report), SolverName::Lbfgs) => report.iterations,
        _ => history.epochs.len(),
    };
    result.set_item("n_iter", n_iter)?;
    result.set_item(
        "loss_curve",
        history
            .epochs
            .iter()
            .map(|r| r.train_loss)
            .collect::<Vec<_>>(),
    )?;
    let validation: Vec<f64> = history.epochs.iter().filter_map(|r| r.val_loss).collect();
    result.set_item("validation_loss_curve", validation)?;
    result.set_item("best_epoch", history.best_epoch)?;
    result.set_item("converged", solver_report.as_ref().map(|r| r.converged))?;
    result.set_item(
        "stop_reason",
        solver_report.as_ref().map(|r| r.reason.description()),
    )?;
    result.set_item(
        "gradient_max",
        solver_report.as_ref().map(|r| r.gradient_max),
    )?;
    result.set_item("objective", solver_report.as_ref().map(|r| r.objective))?;
    result.set_item("stopped_by_tolerance", history.stopped_by_tolerance)?;
    result.set_item("backend", history.backend.adapter.clone())?;
    result.set_item(
        "regularizer",
        crate::model_file::regularizer_parts(&regularizer),
    )?;
    result.set_item("weights", model.weights.into_pyarray(py))?;
    result.set_item("bias", model.bias.into_pyarray(py))?;
    result.set_item(
        "optimizer_state",
        Array1::from(checkpoint.optimizer_state).into_pyarray(py),
    )?;
    result.set_item("steps_taken", checkpoint.steps_taken)?;
    result.set_item("epochs_done", checkpoint.epochs_done)?;
    Ok(result)
}
