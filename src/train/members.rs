//! Many models on the same data at once: the members of a sweep, each with
//! its own [`TrainConfig`] (learning rate, regularization, optimizer
//! hyperparameters), sharing the data, the split and the minibatch order.
//!
//! Minibatch members train in one session: every step reads its rows once
//! for all of them ([`Backend::linear_step_members`]), then each member takes
//! its own update. A member that diverges is dropped there, and one that
//! early stopping or the tolerance rule ends stops training, without
//! touching the others. Full-batch L-BFGS members are fitted one after
//! another, each warm-started from the previous solution when
//! [`MemberPlan::warm_start`] says so (a regularization path).

use super::prepare::{self, Prepared, TargetKind};
use super::session::Session;
use super::stopping::{EarlyStopper, ToleranceWatch, Verdict};
use super::{Checkpoint, Outcome, Trainer};
use crate::backend::Backend;
use crate::history::{EpochRecord, History};
use crate::{Error, Model, Result, Solver, TrainConfig, TrainData};

/// How one member's training ended.
#[derive(Debug)]
pub struct MemberFit {
    /// The run, or the error that ended it ([`Error::Diverged`] only: any
    /// other error ends the whole sweep).
    pub result: Result<Outcome>,
    /// The model at the end of its last finite epoch (what to keep after a
    /// divergence).
    pub last_finite: Option<Model>,
    /// After a divergence, the records of the epochs before it (minibatch
    /// members; empty for L-BFGS, which only diverges where it starts).
    pub epochs_before_divergence: Vec<EpochRecord>,
}

/// Trains one model per configuration on `data`, on `backend`.
///
/// The configurations must agree on everything the members share: the
/// loss, the epochs, the batch size, the sampling, the seed, the
/// initialization, the validation split, the classes and class weights,
/// and the solver. They may differ in the learning rate, the schedule's
/// base, the regularizer and the optimizer's hyperparameters. A member is
/// the model [`Trainer::fit_data_on`] would train with its configuration
/// (to f32 rounding: the shared step sums its products in another order).
///
/// With `warm_start`, L-BFGS members after the first start from the
/// previous member's solution. `on_epoch(member, record)` is called after
/// each member's epoch.
pub fn fit_members_on<B: Backend>(
    backend: &B,
    data: TrainData<'_>,
    configs: &[TrainConfig],
    warm_start: bool,
    on_epoch: &mut dyn FnMut(usize, &EpochRecord),
) -> Result<Vec<MemberFit>> {
    let Some(first) = configs.first() else {
        return Err(Error::InvalidConfig(
            "a sweep needs at least one member".into(),
        ));
    };
    for config in configs {
        check_shared(first, config)?;
    }
    let prepared = prepare::prepare(first, data)?;
    // Minibatch members train side by side; L-BFGS members one at a time,
    // each within the single model's limits that `prepare` checked.
    if !matches!(first.solver, Solver::Lbfgs(_)) {
        let (features, outputs) = prepared.shape(first);
        super::members_fit(configs.len(), features, outputs).map_err(Error::InvalidConfig)?;
    }
    // What `prepare` checks of the first configuration's own settings,
    // before anything trains.
    let targets = match prepared.train.targets {
        prepare::CheckedTargets::Classes { .. } => TargetKind::Classes,
        prepare::CheckedTargets::Values(_) => TargetKind::Values,
    };
    for config in &configs[1..] {
        config.validate()?;
        if let Some(stopping) = config.early_stopping {
            stopping.check_watchable(prepared.validation.as_ref().map(|_| targets))?;
        }
    }
    if let Solver::Lbfgs(_) = first.solver {
        return fit_one_after_another(backend, &prepared, configs, warm_start, on_epoch);
    }
    fit_together(backend, &prepared, configs, on_epoch)
}

/// Full-batch members, one after another, in the order given: with
/// `warm_start`, each starts from the previous member's solution when that
/// member trained to a finite model (the caller orders a regularization
/// path from the strongest penalty to the weakest).
fn fit_one_after_another<B: Backend>(
    backend: &B,
    prepared: &Prepared<'_>,
    configs: &[TrainConfig],
    warm_start: bool,
    on_epoch: &mut dyn FnMut(usize, &EpochRecord),
) -> Result<Vec<MemberFit>> {
    let mut fits: Vec<MemberFit> = Vec::with_capacity(configs.len());
    for (k, config) in configs.iter().enumerate() {
        let warm = fits
            .last()
            .filter(|_| warm_start)
            .and_then(|fit| fit.result.as_ref().ok())
            .map(|o| Checkpoint {
                model: o.model.clone(),
                optimizer_state: Vec::new(),
                steps_taken: 0,
                epochs_done: 0,
            });
        let mut trainer = Trainer::new(config.clone());
        if let Some(warm) = warm {
            trainer = trainer.resume_from(warm);
        }
        let mut forward = |record: &EpochRecord| on_epoch(k, record);
        let result = match trainer.run_full_batch_with(backend, prepared, None, &mut forward) {
            // Only a divergence is the member's own; anything else (the
            // device, the data) ends every member.
            Err(error) if !matches!(error, Error::Diverged { .. }) => return Err(error),
            result => result,
        };
        fits.push(MemberFit {
            last_finite: trainer.last_finite_model().cloned(),
            result,
            epochs_before_divergence: Vec::new(),
        });
    }
    Ok(fits)
}

/// A minibatch member's own watch over its epochs.
struct MemberWatch {
    stopper: Option<EarlyStopper>,
    tolerance: Option<ToleranceWatch>,
    records: Vec<EpochRecord>,
    stopped_early: bool,
    stopped_by_tolerance: bool,
}

impl MemberWatch {
    fn new(config: &TrainConfig) -> Self {
        Self {
            stopper: config.early_stopping.map(EarlyStopper::new),
            tolerance: config
                .tolerance
                .map(|tol| ToleranceWatch::new(tol, config.n_iter_no_change)),
            records: Vec::new(),
            stopped_early: false,
            stopped_by_tolerance: false,
        }
    }

    /// Records an epoch whose weights are `params`; whether to go on.
    fn observe(&mut self, record: EpochRecord, params: &[f32]) -> Result<Verdict> {
        if let Some(stopper) = self.stopper.as_mut() {
            self.stopped_early = stopper.observe(&record, params)? == Verdict::Stop;
        }
        if let Some(watch) = self.tolerance.as_mut() {
            self.stopped_by_tolerance = watch.observe(&record) == Verdict::Stop;
        }
        self.records.push(record);
        Ok(if self.stopped_early || self.stopped_by_tolerance {
            Verdict::Stop
        } else {
            Verdict::Continue
        })
    }
}

/// Minibatch members in one session.
fn fit_together<B: Backend>(
    backend: &B,
    prepared: &Prepared<'_>,
    configs: &[TrainConfig],
    on_epoch: &mut dyn FnMut(usize, &EpochRecord),
) -> Result<Vec<MemberFit>> {
    let mut session = Session::with_members(backend, configs, prepared)?;
    let mut watches: Vec<MemberWatch> = configs.iter().map(MemberWatch::new).collect();
    let mut fits: Vec<Option<MemberFit>> = (0..configs.len()).map(|_| None).collect();
    let epochs = configs[0].epochs;
    for epoch in 1..=epochs {
        if session.active_members() == 0 {
            break;
        }
        for (k, report) in session.epoch_members(epoch)? {
            match report {
                Ok(record) => {
                    on_epoch(k, &record);
                    let verdict = watches[k].observe(record, session.member_params(k))?;
                    if verdict == Verdict::Stop {
                        session.retire(k);
                    }
                }
                Err(error) => {
                    session.retire(k);
                    // A diverged epoch leaves the member's latest model at
                    // its last finite epoch.
                    fits[k] = Some(MemberFit {
                        result: Err(error),
                        last_finite: Some(session.member_model(k).clone()),
                        epochs_before_divergence: std::mem::take(&mut watches[k].records),
                    });
                }
            }
        }
    }
    let info = backend.info();
    let mut out = Vec::with_capacity(configs.len());
    for (k, watch) in watches.into_iter().enumerate() {
        if let Some(fit) = fits[k].take() {
            out.push(fit);
            continue;
        }
        let checkpoint = session.member_checkpoint(k)?;
        let (model, best_epoch) = match watch.stopper.and_then(EarlyStopper::into_best) {
            Some(best) => (session.model_with(&best.params, k), Some(best.epoch)),
            None => (checkpoint.model.clone(), None),
        };
        out.push(MemberFit {
            last_finite: Some(session.member_model(k).clone()),
            epochs_before_divergence: Vec::new(),
            result: Ok(Outcome {
                model,
                history: History {
                    epochs: watch.records,
                    backend: info.clone(),
                    best_epoch,
                    stopped_early: watch.stopped_early,
                    stopped_by_tolerance: watch.stopped_by_tolerance,
                },
                checkpoint,
                solver_report: None,
            }),
        });
    }
    Ok(out)
}

/// The settings members must share (they read the same rows in the same
/// order with the same initial weights); the first difference is the error.
fn check_shared(first: &TrainConfig, other: &TrainConfig) -> Result<()> {
    let differs = |what: &str| {
        Err(Error::InvalidConfig(format!(
            "the members of a sweep share the {what}; only the learning rate, the regularizer and the optimizer's hyperparameters may differ"
        )))
    };
    if first.loss != other.loss {
        return differs("loss");
    }
    if first.epochs != other.epochs {
        return differs("number of epochs");
    }
    if first.batch_size != other.batch_size || first.sampling != other.sampling {
        return differs("batch size and sampling");
    }
    if first.seed != other.seed || first.init != other.init {
        return differs("seed and initial weights");
    }
    if first.validation_fraction != other.validation_fraction {
        return differs("validation split");
    }
    if first.classes != other.classes || first.class_weights != other.class_weights {
        return differs("classes and class weights");
    }
    if std::mem::discriminant(&first.solver) != std::mem::discriminant(&other.solver)
        || std::mem::discriminant(&first.optimizer) != std::mem::discriminant(&other.optimizer)
    {
        return differs("solver and optimizer");
    }
    if first.backend != other.backend {
        return differs("backend");
    }
    Ok(())
}
