//! Training, written once over [`Backend`]:
//! - `prepare`: the data and configuration checked, and the validation
//!   split ([`TrainData`], [`RowSplit`]);
//! - `open_backend`: the backend a [`BackendChoice`] names
//!   ([`BackendChoice::open`]);
//! - `session`: one run on one backend, epoch by epoch;
//! - `stopping`: early stopping and the tolerance rule;
//! - `start`: the weights and position a run starts from (fresh, a resumed
//!   or a continued [`Checkpoint`]);
//! - `interrupt`: the [`Interrupt`] that ends a run from another thread;
//! - `members`: many models trained together on the same data (a sweep).
//!
//! [`Trainer`] ties them together: prepare, open, then run the epochs.

mod across;
mod full_batch;
mod interrupt;
mod member_memory;
mod members;
mod open_backend;
mod prepare;
mod resident;
mod session;
mod split_rows;
mod start;
mod step_plan;
mod stopping;
mod streamed;
mod symmetric;

pub use interrupt::Interrupt;
pub use member_memory::{BYTES_PER_MEMBER_PARAMETER, members_fit};
pub use members::{MemberFit, fit_members_on};
pub use open_backend::OpenedBackend;
pub use prepare::{Examples, RowSplit, TargetKind, TrainData, TrainTargets, UntrainedClass};
pub(crate) use start::initial_model;
pub use streamed::{
    BLOCKS_HELD, DEFAULT_BLOCK_BYTES, DEFAULT_CHUNK_BYTES, StreamedData, StreamedSplit,
    VALIDATION_BLOCKS_HELD, chunk_rows_for, fit_streamed_standardizer,
};

use crate::backend::Backend;
use crate::distributed::Collective;
use crate::history::{EpochRecord, History};
#[cfg(doc)]
use crate::{BackendChoice, Error};
use crate::{Model, Result, TrainConfig};
use across::Across;
use ndarray::{ArrayView1, ArrayView2};
use prepare::{CheckedTargets, Prepared};
use session::Session;
use start::Start;
use stopping::{EarlyStopper, ToleranceWatch, Verdict};

/// Everything needed to continue a run exactly where it stopped: the
/// weights, the optimizer's state (Adam's moments, momentum buffers, …),
/// and the schedule's position. [`Trainer::resume_from`] finishes the run
/// that wrote it, on the same data; [`Trainer::continue_from`] trains more
/// epochs from it, on any data; [`Checkpoint::from_model`] makes one from
/// weights alone.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub model: Model,
    /// [`crate::optimizer::STATE_SLOTS`] × (D·C + C) values.
    pub optimizer_state: Vec<f32>,
    /// Optimizer steps taken, over every run it continues: the schedule's
    /// position and Adam's `t`.
    pub steps_taken: u64,
    /// Epochs finished, over every run it continues.
    pub epochs_done: usize,
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The trained model (with early stopping, the best epoch's weights).
    pub model: Model,
    pub history: History,
    /// The state after the last epoch, to resume from.
    pub checkpoint: Checkpoint,
    /// With [`crate::Solver::Lbfgs`]: whether it converged, why it stopped,
    /// its iterations and objective evaluations. `None` for minibatch runs.
    pub solver_report: Option<crate::SolverReport>,
}

/// Progress callback, called with each finished epoch. `Send`, so that a
/// trainer can be moved to the thread that trains.
type EpochCallback = Box<dyn FnMut(&EpochRecord) + Send>;

/// Trains a model; keeps the last finite model when training diverges.
pub struct Trainer {
    config: TrainConfig,
    start: Option<Start>,
    epoch_limit: Option<usize>,
    last_finite: Option<Model>,
    on_epoch: Option<EpochCallback>,
    interrupt: Option<Interrupt>,
}

// Training moves to a worker thread (a service's, or one that holds no
// interpreter lock): the trainer must be `Send`. It opens its backend
// inside `fit`, so it holds no device handle.
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Trainer>();
    assert_send::<Outcome>();
};

/// Trains with `config` and returns the model and its history.
pub fn fit(
    x: ArrayView2<'_, f32>,
    labels: ArrayView1<'_, u32>,
    config: &TrainConfig,
) -> Result<(Model, History)> {
    let outcome = Trainer::new(config.clone()).fit(x, labels)?;
    Ok((outcome.model, outcome.history))
}

impl Trainer {
    pub fn new(config: TrainConfig) -> Self {
        Self {
            config,
            start: None,
            epoch_limit: None,
            last_finite: None,
            on_epoch: None,
            interrupt: None,
        }
    }

    /// Continues from a checkpoint: its weights, optimizer state and schedule
    /// position. `config.epochs` stays the total length of the run, and the
    /// data must be the run's: its step count must be the checkpoint's
    /// epochs times this data's steps per epoch (else
    /// [`Error::InvalidConfig`]). To train on other data, see
    /// [`Trainer::continue_from`]. With [`crate::Solver::Lbfgs`], a warm
    /// start from the checkpoint's model.
    pub fn resume_from(mut self, checkpoint: Checkpoint) -> Self {
        self.start = Some(Start::Resume(checkpoint));
        self
    }

    /// Trains `config.epochs` more epochs from a checkpoint, on this data
    /// or any other with the model's features and outputs: the weights,
    /// the optimizer state and the step count carry on.
    ///
    /// - The epochs are numbered on from the checkpoint's:
    ///   `epochs_done + 1 ..= epochs_done + config.epochs`, in the
    ///   history's records too; each epoch's order is seeded by its number,
    ///   so consecutive calls shuffle differently.
    /// - Step `k` (from 1) of this run is global step
    ///   `t = steps_taken + k`: Adam's bias corrections use `t`, and the
    ///   schedule sees step `t − 1` of a run of `steps_taken` + this run's
    ///   steps.
    /// - Early stopping and the tolerance rule watch this run's epochs only.
    /// - The returned [`Outcome::checkpoint`] has the new totals, for the
    ///   next call.
    /// - The model's shape and the optimizer state's length must match, as
    ///   for [`Trainer::resume_from`] ([`Error::ShapeMismatch`]); the step
    ///   count need not match the data.
    ///
    /// Continued one epoch at a time (`config.epochs = 1`), this is
    /// scikit-learn's `partial_fit`: one more epoch over the given rows,
    /// continuing the weights and `t_`. Two calls of one epoch on the same
    /// data are one two-epoch run bit for bit (the epochs' orders too, since
    /// they are seeded by the epoch's number) when the schedule depends on
    /// the step alone (constant, step, exponential, inverse square root;
    /// cosine and linear decay over the run's length, which each call
    /// extends). From [`Checkpoint::from_model`] it is `warm_start=True`: a
    /// fresh run from the given weights.
    ///
    /// With [`crate::Solver::Lbfgs`] it is a warm start from the
    /// checkpoint's model, as [`Trainer::resume_from`] is: L-BFGS keeps no
    /// state between runs, so the optimizer state and the counts are not
    /// used.
    pub fn continue_from(mut self, checkpoint: Checkpoint) -> Self {
        self.start = Some(Start::Continue(checkpoint));
        self
    }

    /// Ends the run with [`Error::Interrupted`] once `handle` is set (from
    /// any thread): before the next optimizer step of a minibatch run, or
    /// the next objective evaluation of L-BFGS, resident or streamed.
    /// [`Trainer::last_finite_model`] then holds the model after the last
    /// finished epoch (iteration).
    pub fn interrupt_on(mut self, handle: Interrupt) -> Self {
        self.interrupt = Some(handle);
        self
    }

    /// Stops after this epoch (1-based, numbered as the history numbers
    /// them: of `config.epochs`, or on from the checkpoint's after
    /// [`Trainer::continue_from`]), e.g. to checkpoint a run part-way with
    /// its schedule unchanged.
    pub fn stop_after_epoch(mut self, epoch: usize) -> Self {
        self.epoch_limit = Some(epoch);
        self
    }

    /// Called after every epoch (progress display).
    pub fn on_epoch(mut self, callback: impl FnMut(&EpochRecord) + Send + 'static) -> Self {
        self.on_epoch = Some(Box::new(callback));
        self
    }

    /// The model at the end of the last epoch whose losses were all finite
    /// (after a [`Error::Diverged`] or an [`Error::Interrupted`], the model
    /// to keep).
    pub fn last_finite_model(&self) -> Option<&Model> {
        self.last_finite.as_ref()
    }

    /// Trains on `data` with the backend `config.backend` names
    /// ([`BackendChoice::open`]), opened once the data has been checked.
    /// Class targets train every loss, real-valued ones the MSE and logistic
    /// losses; validation rows are `data.validation`, or else a seeded split
    /// of `config.validation_fraction` of the training rows.
    pub fn fit_data(&mut self, data: TrainData<'_>) -> Result<Outcome> {
        let prepared = prepare::prepare(&self.config, data)?;
        match self.config.backend.open()? {
            OpenedBackend::Cpu(cpu) => self.run_on(&cpu, &prepared, None),
            OpenedBackend::Gpu(gpu) => self.run_on(&*gpu, &prepared, None),
        }
    }

    /// Trains one rank's share of a data-parallel run ([`crate::distributed`]):
    /// every rank of `collective` calls this at the same time with its own
    /// rows, the same configuration and the same start, and every rank
    /// returns the same model.
    ///
    /// - L-BFGS, and minibatch training whose batch is every row
    ///   ([`crate::BatchSize::Full`]), minimize the objective over all the
    ///   ranks' rows: each evaluation or step adds the ranks' shares in
    ///   rank order, so the iterates are one process's up to the rounding
    ///   of the ranks' own f32 passes.
    /// - Minibatch training is synchronous data-parallel SGD: each step
    ///   every rank takes a batch of its own rows (sampled with a seed
    ///   derived from `config.seed` and its rank; rank 0's is the seed
    ///   itself) and every rank updates with the mean gradient over the
    ///   global batch, about K × `batch_size` rows. An epoch is one pass
    ///   over every rank's share.
    ///
    /// The ranks' classes must agree (`config.classes` states the global
    /// count), and a validation split is the caller's to make globally
    /// (pass each rank its rows of one split with [`TrainData::split`]):
    /// a `validation_fraction` alone splits each rank's share by itself.
    /// Every rank needs at least one row of each part. Losses, accuracies
    /// and the history are of all the ranks' rows. An [`Interrupt`] must be
    /// set on every rank (a rank that stops alone leaves the others
    /// waiting in their next collective).
    pub fn fit_data_across(
        &mut self,
        data: TrainData<'_>,
        collective: &dyn Collective,
    ) -> Result<Outcome> {
        let prepared = prepare::prepare(&self.config, data)?;
        match self.config.backend.open()? {
            OpenedBackend::Cpu(cpu) => self.run_on(&cpu, &prepared, Some(collective)),
            OpenedBackend::Gpu(gpu) => self.run_on(&*gpu, &prepared, Some(collective)),
        }
    }

    /// [`Trainer::fit_data_across`] on a backend the caller opened.
    pub fn fit_data_across_on<B: Backend>(
        &mut self,
        backend: &B,
        data: TrainData<'_>,
        collective: &dyn Collective,
    ) -> Result<Outcome> {
        let prepared = prepare::prepare(&self.config, data)?;
        self.run_on(backend, &prepared, Some(collective))
    }

    /// [`Trainer::fit_data`] on a backend the caller opened (so that tests
    /// and benchmarks can choose the adapter and kernel variant);
    /// `config.backend` is not used.
    pub fn fit_data_on<B: Backend>(&mut self, backend: &B, data: TrainData<'_>) -> Result<Outcome> {
        let prepared = prepare::prepare(&self.config, data)?;
        self.run_on(backend, &prepared, None)
    }

    /// Trains a classifier on class-index labels; a validation set is held
    /// out when `config.validation_fraction > 0`.
    pub fn fit(&mut self, x: ArrayView2<'_, f32>, labels: ArrayView1<'_, u32>) -> Result<Outcome> {
        self.fit_data(TrainData::new(Examples::classes(x, labels)))
    }

    /// Trains a classifier, scoring the given validation data each epoch.
    pub fn fit_with_validation(
        &mut self,
        x: ArrayView2<'_, f32>,
        labels: ArrayView1<'_, u32>,
        validation: Option<(ArrayView2<'_, f32>, ArrayView1<'_, u32>)>,
    ) -> Result<Outcome> {
        let data = TrainData {
            train: Examples::classes(x, labels),
            validation: validation.map(|(vx, vy)| Examples::classes(vx, vy)),
            split: None,
        };
        self.fit_data(data)
    }

    /// Trains on real-valued targets (N × outputs), with the MSE or logistic loss.
    pub fn fit_regression(
        &mut self,
        x: ArrayView2<'_, f32>,
        targets: ArrayView2<'_, f32>,
    ) -> Result<Outcome> {
        self.fit_data(TrainData::new(Examples::values(x, targets)))
    }

    /// Trains a classifier on a backend the caller opened.
    pub fn fit_on<B: Backend>(
        &mut self,
        backend: &B,
        x: ArrayView2<'_, f32>,
        labels: ArrayView1<'_, u32>,
    ) -> Result<Outcome> {
        self.fit_data_on(backend, TrainData::new(Examples::classes(x, labels)))
    }

    /// A full-batch L-BFGS run ([`full_batch`]): the checkpoint, when
    /// resuming, is its warm start.
    fn run_full_batch<B: Backend>(
        &mut self,
        backend: &B,
        prepared: &Prepared<'_>,
        across: Option<&Across<'_>>,
    ) -> Result<Outcome> {
        let mut on_epoch = self.on_epoch.take();
        let outcome = self.run_full_batch_with(backend, prepared, across, &mut |record| {
            if let Some(callback) = on_epoch.as_mut() {
                callback(record);
            }
        });
        self.on_epoch = on_epoch;
        outcome
    }

    /// [`Trainer::run_full_batch`] reporting each iteration to `on_epoch`.
    fn run_full_batch_with<B: Backend>(
        &mut self,
        backend: &B,
        prepared: &Prepared<'_>,
        across: Option<&Across<'_>>,
        on_epoch: &mut dyn FnMut(&EpochRecord),
    ) -> Result<Outcome> {
        let crate::Solver::Lbfgs(options) = self.config.solver else {
            return Err(crate::Error::InvalidConfig(
                "a full-batch run needs the L-BFGS solver".into(),
            ));
        };
        let last_finite = &mut self.last_finite;
        full_batch::run(
            backend,
            &self.config,
            &options,
            prepared,
            across,
            self.start.as_ref().map(Start::checkpoint),
            self.interrupt.as_ref(),
            on_epoch,
            &mut |model| *last_finite = Some(model),
        )
    }

    /// Trains on data streamed from disk ([`StreamedData`]) with the
    /// backend `config.backend` names: the same run as on the rows held in
    /// memory, each epoch (each L-BFGS evaluation) one streamed pass; the
    /// validation rows are `config.validation_fraction` of the rows,
    /// chosen per row by a seeded hash of its index.
    pub fn fit_streamed(&mut self, data: &StreamedData) -> Result<Outcome> {
        let checked = streamed::check_streamed(&self.config, data)?;
        match self.config.backend.open()? {
            OpenedBackend::Cpu(cpu) => self.run_streamed(&cpu, data, checked),
            OpenedBackend::Gpu(gpu) => self.run_streamed(&*gpu, data, checked),
        }
    }

    /// [`Trainer::fit_streamed`] on a backend the caller opened.
    pub fn fit_streamed_on<B: Backend>(
        &mut self,
        backend: &B,
        data: &StreamedData,
    ) -> Result<Outcome> {
        let checked = streamed::check_streamed(&self.config, data)?;
        self.run_streamed(backend, data, checked)
    }

    fn run_streamed<B: Backend>(
        &mut self,
        backend: &B,
        data: &StreamedData,
        (classes, split): (usize, StreamedSplit),
    ) -> Result<Outcome> {
        if let crate::Solver::Lbfgs(options) = self.config.solver {
            let mut on_epoch = self.on_epoch.take();
            let last_finite = &mut self.last_finite;
            let outcome = full_batch::run_streamed(
                backend,
                &self.config,
                &options,
                data,
                classes,
                split,
                self.start.as_ref().map(Start::checkpoint),
                self.interrupt.as_ref(),
                &mut |record| {
                    if let Some(callback) = on_epoch.as_mut() {
                        callback(record);
                    }
                },
                &mut |model| *last_finite = Some(model),
            );
            self.on_epoch = on_epoch;
            return outcome;
        }
        let config = self.config.clone();
        let session = Session::streamed(
            backend,
            std::slice::from_ref(&config),
            data,
            classes,
            split,
            self.start.as_ref(),
        )?;
        self.run_session(backend, session)
    }

    /// The epochs, from the checkpoint's (or the first) to the last or the
    /// epoch limit, unless early stopping or the tolerance rule ends them
    /// sooner.
    fn run_on<B: Backend>(
        &mut self,
        backend: &B,
        prepared: &Prepared<'_>,
        collective: Option<&dyn Collective>,
    ) -> Result<Outcome> {
        let across = match collective {
            Some(collective) => {
                let outputs = match &prepared.train.targets {
                    CheckedTargets::Classes { classes, .. } => {
                        self.config.loss.outputs_for_classes(*classes)
                    }
                    CheckedTargets::Values(values) => values.ncols(),
                };
                let kind = backend.info().kind;
                Some(Across::gather(
                    collective,
                    &self.config,
                    prepared,
                    outputs,
                    kind,
                )?)
            }
            None => None,
        };
        if let crate::Solver::Lbfgs(_) = self.config.solver {
            return self.run_full_batch(backend, prepared, across.as_ref());
        }
        let config = self.config.clone();
        let start = self.start.as_ref();
        let session = match &across {
            Some(across) => Session::across(backend, &config, prepared, start, across)?,
            None => Session::new(backend, &config, prepared, start)?,
        };
        self.run_session(backend, session)
    }

    /// Runs `session`'s epochs (see [`Trainer::run_on`]).
    fn run_session<B: Backend>(
        &mut self,
        backend: &B,
        mut session: Session<'_, B>,
    ) -> Result<Outcome> {
        session.interrupt_on(self.interrupt.clone());
        self.last_finite = Some(session.latest_model().clone());
        let total_epochs = start::final_epoch(self.start.as_ref(), &self.config);
        let last_epoch = self
            .epoch_limit
            .map_or(total_epochs, |l| l.min(total_epochs));
        let mut records = Vec::new();
        let mut stopper = self.config.early_stopping.map(EarlyStopper::new);
        let mut tolerance = self
            .config
            .tolerance
            .map(|tol| ToleranceWatch::new(tol, self.config.n_iter_no_change));
        let (mut stopped_early, mut stopped_by_tolerance) = (false, false);
        for epoch in session.epochs_done() + 1..=last_epoch {
            let record = session.epoch(epoch)?;
            self.last_finite = Some(session.latest_model().clone());
            if let Some(callback) = self.on_epoch.as_mut() {
                callback(&record);
            }
            if let Some(stopper) = stopper.as_mut() {
                stopped_early = stopper.observe(&record, session.latest_params())? == Verdict::Stop;
            }
            if let Some(watch) = tolerance.as_mut() {
                stopped_by_tolerance = watch.observe(&record) == Verdict::Stop;
            }
            records.push(record);
            if stopped_early || stopped_by_tolerance {
                break;
            }
        }
        let checkpoint = session.checkpoint()?;
        let (model, best_epoch) = match stopper.and_then(EarlyStopper::into_best) {
            Some(best) => (session.model_with(&best.params, 0), Some(best.epoch)),
            None => (checkpoint.model.clone(), None),
        };
        Ok(Outcome {
            model,
            history: History {
                epochs: records,
                backend: backend.info(),
                best_epoch,
                stopped_early,
                stopped_by_tolerance,
            },
            checkpoint,
            solver_report: None,
        })
    }
}
