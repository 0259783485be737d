//! A sweep: every setting of a grid trained on the same data (one pass for
//! all the minibatch members, a warm-started path for L-BFGS), each member
//! scored on held-out rows, and the best selected.

use super::folds::{stratified_folds, training_rows};
use super::grid::Grid;
use super::outcome::{MemberResult, MemberRun, MemberStatus, Scores, SweepOutcome};
use crate::backend::Backend;
use crate::backend::BackendInfo;
use crate::data::Standardizer;
use crate::dataset::{select_labels, select_rows};
use crate::history::EpochRecord;
use crate::train::{MemberFit, OpenedBackend, UntrainedClass, fit_members_on, members_fit};
use crate::{Error, Examples, Model, Result, RowSplit, Solver, TrainConfig, TrainData};
use ndarray::{ArrayView1, ArrayView2, CowArray, Ix1, Ix2};
use std::time::Instant;

/// How a sweep chooses among its members.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Selection {
    /// On the validation rows: the seeded, stratified split of
    /// `base.validation_fraction` that `train` holds out (or validation
    /// data given with [`Sweeper::fit_data_on`]).
    #[default]
    Holdout,
    /// Stratified, seeded k-fold cross-validation over the training rows
    /// ([`stratified_folds`] with `base.seed`): every member trains once
    /// per fold and is scored by its mean over the folds; the selected
    /// setting is then refit on every training row. scikit-learn's
    /// `GridSearchCV(cv=StratifiedKFold(k, shuffle=True))`.
    Folds(usize),
}

/// What a sweep selects on: the mean data loss (lower is better) or the
/// accuracy (higher is better) on the validation rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SelectionMetric {
    /// The highest validation accuracy; ties go to the lower validation
    /// loss, then to the earlier member.
    #[default]
    Accuracy,
    /// The lowest validation data loss (without the penalty); ties go to
    /// the earlier member.
    Loss,
}

/// Everything that defines a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepConfig {
    /// What every member shares, and the values of what the grid does not
    /// sweep.
    pub base: TrainConfig,
    /// The settings, one per member ([`crate::sweep::Setting::apply`] makes
    /// each member's configuration from `base`).
    pub grid: Grid,
    pub selection: Selection,
    pub metric: SelectionMetric,
    /// Standardize the features as `lintrain train` does: each training
    /// part (the split's training rows, or each fold's) fits the moments
    /// that standardize it and its validation rows; the selected model's
    /// are [`SweepOutcome::standardizer`].
    pub standardize: bool,
    /// With [`Solver::Lbfgs`], fit the members as a regularization path:
    /// from the strongest penalty to the weakest, each started from the
    /// previous solution (glmnet's and `LogisticRegressionCV`'s warm
    /// starts), which reaches the same optima, to the solver's tolerance,
    /// in fewer iterations. Where a warm start already meets the solver's
    /// gradient tolerance (the weakly regularized end of a path at a loose
    /// tolerance), the member stops after 0 iterations with the previous
    /// member's model. `false` fits each from the initial weights, as
    /// `train` does: each model is then exactly `train`'s. Minibatch
    /// members ignore it.
    pub warm_start: bool,
}

impl SweepConfig {
    /// A sweep of `grid` over `base`, selected on `base`'s validation split
    /// by accuracy.
    pub fn new(base: TrainConfig, grid: Grid) -> Self {
        Self {
            base,
            grid,
            selection: Selection::Holdout,
            metric: SelectionMetric::Accuracy,
            standardize: false,
            warm_start: true,
        }
    }
}

/// Trains every member of `config.grid` on the rows `x` with class labels
/// `labels`, on the backend `config.base.backend` names, and selects the
/// best.
pub fn sweep(
    x: ArrayView2<'_, f32>,
    labels: ArrayView1<'_, u32>,
    config: &SweepConfig,
) -> Result<SweepOutcome> {
    Sweeper::new(config.clone()).fit(x, labels)
}

/// Progress callback: the member's index in the grid, the fold (0 with a
/// validation split; the folds, then the refit as fold k, with k-fold
/// selection), and the member's finished epoch.
type SweepCallback = Box<dyn FnMut(usize, usize, &EpochRecord) + Send>;

/// Runs a sweep; [`sweep`] with a progress callback and a choice of backend.
pub struct Sweeper {
    config: SweepConfig,
    on_epoch: Option<SweepCallback>,
}

impl Sweeper {
    pub fn new(config: SweepConfig) -> Self {
        Self {
            config,
            on_epoch: None,
        }
    }

    /// Called after every member's epoch (or L-BFGS iteration).
    pub fn on_epoch(
        mut self,
        callback: impl FnMut(usize, usize, &EpochRecord) + Send + 'static,
    ) -> Self {
        self.on_epoch = Some(Box::new(callback));
        self
    }

    /// [`sweep`] on the backend `config.base.backend` names.
    pub fn fit(
        &mut self,
        x: ArrayView2<'_, f32>,
        labels: ArrayView1<'_, u32>,
    ) -> Result<SweepOutcome> {
        let data = TrainData::new(Examples::classes(x, labels));
        match self.config.base.backend.open()? {
            OpenedBackend::Cpu(cpu) => self.fit_data_on(&cpu, data),
            OpenedBackend::Gpu(gpu) => self.fit_data_on(&*gpu, data),
        }
    }

    /// The sweep on a backend the caller opened, on class-labelled data.
    /// With [`Selection::Holdout`], `data.validation` (when given) is the
    /// validation set; otherwise `base.validation_fraction` holds rows out.
    pub fn fit_data_on<B: Backend>(
        &mut self,
        backend: &B,
        data: TrainData<'_>,
    ) -> Result<SweepOutcome> {
        let crate::TrainTargets::Classes(labels) = data.train.targets else {
            return Err(Error::InvalidConfig(
                "a sweep selects on accuracy or loss over class labels; real-valued targets are not supported".into(),
            ));
        };
        let x = data.train.x;
        let base = &self.config.base;
        base.validate()?;
        crate::dataset::check_features(&x, "features")?;
        let classes = crate::dataset::check_labels(&labels, x.nrows(), base.classes)?;
        check_members_fit(&self.config.grid, base, x.ncols(), classes)?;
        let standardize = self.config.standardize;
        let mut training_seconds = 0.0;
        let mut on_epoch = self.on_epoch.take();
        let mut report = |member: usize, fold: usize, record: &EpochRecord| {
            if let Some(callback) = on_epoch.as_mut() {
                callback(member, fold, record);
            }
        };
        let outcome = match self.config.selection {
            Selection::Holdout => {
                let (train, validation, standardizer) = match data.validation {
                    Some(validation) => {
                        let crate::TrainTargets::Classes(validation_labels) = validation.targets
                        else {
                            return Err(Error::InvalidConfig(
                                "the validation rows of a sweep need class labels".into(),
                            ));
                        };
                        let standardizer = standardize.then(|| Standardizer::fit(x));
                        (
                            Part::of(x, labels, None, standardizer.as_ref())?,
                            Part::of(validation.x, validation_labels, None, standardizer.as_ref())?,
                            standardizer,
                        )
                    }
                    None => {
                        let split = holdout_split(base, labels, classes)?;
                        let standardizer = standardize
                            .then(|| Standardizer::fit_rows(x, &split.train))
                            .transpose()?;
                        (
                            Part::of(x, labels, Some(&split.train), standardizer.as_ref())?,
                            Part::of(x, labels, Some(&split.validation), standardizer.as_ref())?,
                            standardizer,
                        )
                    }
                };
                let runs = self.fit_fold(
                    backend,
                    train.examples(),
                    validation.examples(),
                    classes,
                    &mut training_seconds,
                    &mut |k, r| report(k, 0, r),
                )?;
                let mut outcome = self.finish(vec![runs], training_seconds);
                outcome.standardizer = standardizer;
                outcome
            }
            Selection::Folds(k) => {
                if data.validation.is_some() || base.validation_fraction > 0.0 {
                    return Err(Error::InvalidConfig(
                        "k-fold selection validates on each fold in turn: give no validation rows and no validation fraction".into(),
                    ));
                }
                if base.early_stopping.is_some() {
                    return Err(Error::InvalidConfig(
                        "k-fold selection refits the chosen setting on every training row, where early stopping has no validation rows; select with a validation fraction instead".into(),
                    ));
                }
                let folds = stratified_folds(&labels.to_vec(), k, base.seed)?;
                let mut per_fold = Vec::with_capacity(k);
                for (f, fold) in folds.iter().enumerate() {
                    let rows = training_rows(&folds, f);
                    check_fold_trains_two_classes(labels, &rows, f, k)?;
                    // Each fold standardizes on its own training rows, as a
                    // scikit-learn Pipeline refits its scaler per fold.
                    let standardizer = standardize
                        .then(|| Standardizer::fit_rows(x, &rows))
                        .transpose()?;
                    let train = Part::of(x, labels, Some(&rows), standardizer.as_ref())?;
                    let validation = Part::of(x, labels, Some(fold), standardizer.as_ref())?;
                    per_fold.push(self.fit_fold(
                        backend,
                        train.examples(),
                        validation.examples(),
                        classes,
                        &mut training_seconds,
                        &mut |member, r| report(member, f, r),
                    )?);
                }
                let mut outcome = self.finish(per_fold, 0.0);
                if let Some(best) = outcome.best {
                    let standardizer = standardize.then(|| Standardizer::fit(x));
                    let all = Part::of(x, labels, None, standardizer.as_ref())?;
                    let timer = Instant::now();
                    let setting = &outcome.members[best].setting;
                    let config = TrainConfig {
                        classes: Some(classes),
                        ..setting.apply(base, x.nrows(), classes)?
                    };
                    let fit = fit_members_on(
                        backend,
                        TrainData::new(all.examples()),
                        std::slice::from_ref(&config),
                        false,
                        &mut |_, record| report(best, k, record),
                    )?
                    .pop()
                    .ok_or_else(|| Error::InvalidConfig("the refit returned no model".into()))?;
                    training_seconds += timer.elapsed().as_secs_f64();
                    let run = run_of(config, fit, all.examples(), None, backend.info())?;
                    outcome.best_model = match run.status {
                        MemberStatus::Trained => Some(run.model.clone()),
                        MemberStatus::Diverged { .. } => None,
                    };
                    outcome.refit = Some(run);
                    outcome.standardizer = standardizer;
                }
                outcome.seconds = training_seconds;
                outcome
            }
        };
        self.on_epoch = on_epoch;
        Ok(outcome)
    }

    /// Every member trained on `train`, scored on it and on `validation`;
    /// the training's wall time (not the scoring's) is added to `seconds`.
    #[allow(clippy::too_many_arguments)]
    fn fit_fold<'a, B: Backend>(
        &self,
        backend: &B,
        train: Examples<'a>,
        validation: Examples<'a>,
        classes: usize,
        seconds: &mut f64,
        on_epoch: &mut dyn FnMut(usize, &EpochRecord),
    ) -> Result<Vec<MemberRun>> {
        let base = &self.config.base;
        let rows = train.x.nrows();
        let configs = self
            .config
            .grid
            .settings()
            .map(|s| {
                Ok(TrainConfig {
                    classes: Some(classes),
                    ..s.apply(base, rows, classes)?
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let order = training_order(&configs);
        let ordered: Vec<TrainConfig> = order.iter().map(|&k| configs[k].clone()).collect();
        let data = TrainData::new(train).with_validation(validation);
        let timer = Instant::now();
        let fits = fit_members_on(
            backend,
            data,
            &ordered,
            self.config.warm_start,
            &mut |i, record| on_epoch(order[i], record),
        )?;
        *seconds += timer.elapsed().as_secs_f64();
        let mut runs: Vec<Option<MemberRun>> = (0..configs.len()).map(|_| None).collect();
        for ((fit, config), &k) in fits.into_iter().zip(ordered).zip(&order) {
            runs[k] = Some(run_of(
                config,
                fit,
                train,
                Some(validation),
                backend.info(),
            )?);
        }
        Ok(runs.into_iter().flatten().collect())
    }

    /// The members' results from each fold's runs (`per_fold[f][member]`),
    /// and the selected member.
    fn finish(&self, per_fold: Vec<Vec<MemberRun>>, seconds: f64) -> SweepOutcome {
        let members = self.config.grid.len();
        let mut runs: Vec<Vec<MemberRun>> = (0..members).map(|_| Vec::new()).collect();
        for fold in per_fold {
            for (k, run) in fold.into_iter().enumerate() {
                runs[k].push(run);
            }
        }
        let results: Vec<MemberResult> = runs
            .into_iter()
            .enumerate()
            .map(|(k, runs)| MemberResult {
                setting: self.config.grid.setting(k),
                scores: mean_scores(&runs),
                runs,
            })
            .collect();
        let best = select(&results, self.config.metric);
        let best_model = match self.config.selection {
            Selection::Holdout => best.map(|b| results[b].runs[0].model.clone()),
            Selection::Folds(_) => None,
        };
        SweepOutcome {
            members: results,
            best,
            best_model,
            refit: None,
            standardizer: None,
            seconds,
        }
    }
}

/// Rows of a sweep's data, standardized when asked: a view of the caller's
/// rows where nothing changes them, a copy otherwise.
struct Part<'a> {
    x: CowArray<'a, f32, Ix2>,
    labels: CowArray<'a, u32, Ix1>,
}

impl<'a> Part<'a> {
    /// Rows `rows` (every row when `None`) of `x` and `labels`,
    /// standardized by `standardizer`.
    fn of(
        x: ArrayView2<'a, f32>,
        labels: ArrayView1<'a, u32>,
        rows: Option<&[usize]>,
        standardizer: Option<&Standardizer>,
    ) -> Result<Self> {
        let (mut x, labels): (CowArray<'a, f32, Ix2>, CowArray<'a, u32, Ix1>) = match rows {
            Some(rows) => (
                select_rows(&x, rows).into(),
                select_labels(&labels, rows).into(),
            ),
            None => (x.into(), labels.into()),
        };
        if let Some(standardizer) = standardizer {
            let mut owned = x.into_owned();
            standardizer.apply_in_place(&mut owned)?;
            x = owned.into();
        }
        Ok(Self { x, labels })
    }

    fn examples(&self) -> Examples<'_> {
        Examples::classes(self.x.view(), self.labels.view())
    }
}

/// The order members train in: as given for minibatch members; for L-BFGS
/// a regularization path, from the strongest penalty to the weakest
/// (stable), so that each fit starts from the solution nearest to its own.
fn training_order(configs: &[TrainConfig]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..configs.len()).collect();
    if let Some(Solver::Lbfgs(_)) = configs.first().map(|c| c.solver) {
        let strength = |c: &TrainConfig| {
            let (l1, l2) = c.regularizer.coefficients();
            l1 as f64 + l2 as f64
        };
        order.sort_by(|&a, &b| strength(&configs[b]).total_cmp(&strength(&configs[a])));
    }
    order
}

/// The validation split `train` makes: `base.validation_fraction` of the
/// rows, stratified and seeded; an error without one (a sweep needs rows
/// to select on), when it leaves a part empty, or when it holds out every
/// row of one of the `classes` classes (which `train` refuses too).
fn holdout_split(
    base: &TrainConfig,
    labels: ArrayView1<'_, u32>,
    classes: usize,
) -> Result<RowSplit> {
    if base.validation_fraction <= 0.0 {
        return Err(Error::InvalidConfig(
            "a sweep selects its best member on held-out rows: set a validation fraction or k-fold selection".into(),
        ));
    }
    let labels = labels.to_vec();
    let split = RowSplit::stratified(&labels, base.validation_fraction, base.seed);
    if split.has_empty_part() {
        return Err(Error::EmptyData(format!(
            "a validation fraction of {} leaves {} training and {} validation rows",
            base.validation_fraction,
            split.train.len(),
            split.validation.len()
        )));
    }
    // The members train on the split as given, where `prepare` no longer
    // sees it: the check it makes of a fraction, made here.
    if let Some(UntrainedClass { class, rows }) = split.untrained_class(&labels, classes)
        && rows > 0
    {
        return Err(Error::EmptyData(format!(
            "a validation fraction of {} holds out every row of class {class} ({rows} row{}), leaving none to train it",
            base.validation_fraction,
            if rows == 1 { "" } else { "s" }
        )));
    }
    Ok(split)
}

/// Fold `fold`'s training rows must hold two classes at least: a class
/// with fewer rows than folds leaves some folds without it, which is
/// allowed, but with two classes the fold that validates all of one would
/// train on the other alone.
fn check_fold_trains_two_classes(
    labels: ArrayView1<'_, u32>,
    rows: &[usize],
    fold: usize,
    k: usize,
) -> Result<()> {
    let Some(&first) = rows.first() else {
        return Ok(());
    };
    let class = labels[first];
    if rows.iter().all(|&row| labels[row] == class) {
        return Err(Error::InvalidConfig(format!(
            "{k}-fold cross-validation: fold {} of {k} would train on class {class} alone, every row of the other classes being in its validation part; use fewer folds, or more rows of the rare class",
            fold + 1
        )));
    }
    Ok(())
}

/// A member's fit as a run, its model scored on `train` and `validation`.
fn run_of(
    config: TrainConfig,
    fit: MemberFit,
    train: Examples<'_>,
    validation: Option<Examples<'_>>,
    backend: BackendInfo,
) -> Result<MemberRun> {
    match fit.result {
        Ok(outcome) => {
            let model = Model {
                classes: config.classes.unwrap_or(outcome.model.classes),
                ..outcome.model
            };
            let scores = score(&model, train, validation)?;
            Ok(MemberRun {
                config,
                status: MemberStatus::Trained,
                model,
                history: outcome.history,
                solver_report: outcome.solver_report,
                scores,
            })
        }
        Err(Error::Diverged { epoch, step, loss }) => {
            let model = fit.last_finite.ok_or_else(|| {
                Error::InvalidConfig("a diverged member has no model to keep".into())
            })?;
            Ok(MemberRun {
                config,
                status: MemberStatus::Diverged { epoch, step, loss },
                model,
                history: crate::History {
                    epochs: fit.epochs_before_divergence,
                    backend,
                    best_epoch: None,
                    stopped_early: false,
                    stopped_by_tolerance: false,
                },
                solver_report: None,
                scores: None,
            })
        }
        Err(other) => Err(other),
    }
}

/// `model` scored as `train` scores its final model: the mean data loss
/// and the accuracy on each split; `None` when its scores overflow.
fn score(
    model: &Model,
    train: Examples<'_>,
    validation: Option<Examples<'_>>,
) -> Result<Option<Scores>> {
    let on = |examples: Examples<'_>| -> Result<Option<(f64, f64)>> {
        let crate::TrainTargets::Classes(labels) = examples.targets else {
            return Ok(None);
        };
        // One pass over the scores for both numbers.
        let Ok(evaluation) = model.evaluate(examples.x, labels) else {
            return Ok(None);
        };
        let hits = evaluation
            .label_ranks
            .iter()
            .filter(|&&rank| rank == 0)
            .count();
        Ok(Some((
            evaluation.loss,
            hits as f64 / labels.len().max(1) as f64,
        )))
    };
    let Some((train_loss, train_accuracy)) = on(train)? else {
        return Ok(None);
    };
    let validation = match validation {
        Some(v) => match on(v)? {
            Some(scored) => Some(scored),
            None => return Ok(None),
        },
        None => None,
    };
    Ok(Some(Scores {
        train_loss,
        train_accuracy,
        val_loss: validation.map(|v| v.0),
        val_accuracy: validation.map(|v| v.1),
    }))
}

/// The mean of the runs' scores; `None` when any run has none.
fn mean_scores(runs: &[MemberRun]) -> Option<Scores> {
    let scores: Vec<Scores> = runs.iter().map(|r| r.scores).collect::<Option<_>>()?;
    let n = scores.len().max(1) as f64;
    let mean = |f: &dyn Fn(&Scores) -> f64| scores.iter().map(f).sum::<f64>() / n;
    let mean_of = |f: &dyn Fn(&Scores) -> Option<f64>| {
        scores
            .iter()
            .map(f)
            .collect::<Option<Vec<f64>>>()
            .map(|v| v.iter().sum::<f64>() / n)
    };
    Some(Scores {
        train_loss: mean(&|s| s.train_loss),
        train_accuracy: mean(&|s| s.train_accuracy),
        val_loss: mean_of(&|s| s.val_loss),
        val_accuracy: mean_of(&|s| s.val_accuracy),
    })
}

/// The best member by `metric`; `None` when no member has validation
/// scores (all diverged).
pub fn select(members: &[MemberResult], metric: SelectionMetric) -> Option<usize> {
    let key = |m: &MemberResult| {
        let s = m.scores?;
        let loss = s.val_loss?;
        let accuracy = s.val_accuracy?;
        (loss.is_finite()).then_some((accuracy, loss))
    };
    let mut best: Option<(usize, (f64, f64))> = None;
    for (k, member) in members.iter().enumerate() {
        let Some(candidate) = key(member) else {
            continue;
        };
        let better = match best {
            None => true,
            Some((_, incumbent)) => match metric {
                SelectionMetric::Accuracy => {
                    candidate.0 > incumbent.0
                        || (candidate.0 == incumbent.0 && candidate.1 < incumbent.1)
                }
                SelectionMetric::Loss => candidate.1 < incumbent.1,
            },
        };
        if better {
            best = Some((k, candidate));
        }
    }
    best.map(|(k, _)| k)
}

/// Minibatch members must fit beside each other ([`members_fit`]; L-BFGS
/// members fit one at a time); the reason as an [`Error::InvalidGrid`]
/// naming the grid. Only host memory is checked: wgpu does not say how
/// much memory a device has, so a grid too large for a GPU fails when its
/// buffers are allocated.
fn check_members_fit(
    grid: &Grid,
    base: &TrainConfig,
    features: usize,
    classes: usize,
) -> Result<()> {
    // L-BFGS members fit one at a time, each a single model's size.
    if matches!(base.solver, Solver::Lbfgs(_)) {
        return Ok(());
    }
    let outputs = base.loss.outputs_for_classes(classes);
    members_fit(grid.len(), features, outputs).map_err(|reason| Error::InvalidGrid {
        flag: "the grid".into(),
        reason,
    })
}
