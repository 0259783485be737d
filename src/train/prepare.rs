//! What a run trains on, checked before anything reaches a backend, and the
//! seeded split that holds rows out for validation.

use crate::backend::SharedRows;
use crate::config::{BatchSize, TrainConfig};
use crate::dataset::{
    check_features, check_label_range, check_labels, random_split, stratified_split,
};
use crate::{Error, Result};
use ndarray::{ArrayView1, ArrayView2, CowArray, Ix1, Ix2};

/// Largest model trained: (D + 1)·C parameters.
const MAX_PARAMETERS: usize = crate::limits::MAX_PARAMETERS as usize;

/// What a loss is trained against, one entry (or row) per feature row.
#[derive(Clone, Copy, Debug)]
pub enum TrainTargets<'a> {
    /// Class indices, for every loss.
    Classes(ArrayView1<'a, u32>),
    /// Real-valued targets (rows × outputs), for the MSE and logistic losses.
    Values(ArrayView2<'a, f32>),
}

/// Which kind of targets a run has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    Classes,
    Values,
}

impl TrainTargets<'_> {
    pub fn kind(&self) -> TargetKind {
        match self {
            TrainTargets::Classes(_) => TargetKind::Classes,
            TrainTargets::Values(_) => TargetKind::Values,
        }
    }
}

/// Feature rows and their targets.
#[derive(Clone, Copy, Debug)]
pub struct Examples<'a> {
    pub x: ArrayView2<'a, f32>,
    pub targets: TrainTargets<'a>,
    /// `x`'s matrix, shared: a backend that reads host memory (the CPU)
    /// trains on it in place instead of copying it
    /// ([`crate::Backend::share_rows`]). `None` for a borrowed view.
    pub shared: Option<&'a SharedRows>,
}

impl<'a> Examples<'a> {
    /// Rows with a class index each.
    pub fn classes(x: ArrayView2<'a, f32>, labels: ArrayView1<'a, u32>) -> Self {
        Self {
            x,
            targets: TrainTargets::Classes(labels),
            shared: None,
        }
    }

    /// Rows with a row of real-valued targets each.
    pub fn values(x: ArrayView2<'a, f32>, targets: ArrayView2<'a, f32>) -> Self {
        Self {
            x,
            targets: TrainTargets::Values(targets),
            shared: None,
        }
    }

    /// Shared rows with a class index each: trained in place on the CPU,
    /// without a copy of the matrix (a validation split of them too, as
    /// row subsets). The backend holds a clone of `x` while it trains.
    pub fn shared_classes(x: &'a SharedRows, labels: ArrayView1<'a, u32>) -> Self {
        Self {
            x: x.view(),
            targets: TrainTargets::Classes(labels),
            shared: Some(x),
        }
    }

    /// Shared rows with a row of real-valued targets each, trained in
    /// place as [`Examples::shared_classes`] are.
    pub fn shared_values(x: &'a SharedRows, targets: ArrayView2<'a, f32>) -> Self {
        Self {
            x: x.view(),
            targets: TrainTargets::Values(targets),
            shared: Some(x),
        }
    }
}

/// Everything [`crate::Trainer::fit_data`] trains on: the training rows and,
/// optionally, validation rows scored after every epoch. Without them, a
/// `config.validation_fraction > 0` holds out a seeded split of the
/// training rows (stratified by class for class targets).
#[derive(Clone, Copy, Debug)]
pub struct TrainData<'a> {
    pub train: Examples<'a>,
    /// Targets of the training targets' kind.
    pub validation: Option<Examples<'a>>,
    /// Which rows of `train` train and which validate, when the caller
    /// chose them (instead of `validation` or a validation fraction): the
    /// rows are read in place, never copied apart.
    pub split: Option<&'a RowSplit>,
}

impl<'a> TrainData<'a> {
    /// Training rows only.
    pub fn new(train: Examples<'a>) -> Self {
        Self {
            train,
            validation: None,
            split: None,
        }
    }

    /// `examples`, of which the rows `split.train` train and the rows
    /// `split.validation` are scored after every epoch (none when empty),
    /// read in place.
    pub fn split(examples: Examples<'a>, split: &'a RowSplit) -> Self {
        Self {
            train: examples,
            validation: None,
            split: Some(split),
        }
    }

    /// The same data, with `validation` scored after every epoch.
    pub fn with_validation(self, validation: Examples<'a>) -> Self {
        Self {
            validation: Some(validation),
            split: None,
            ..self
        }
    }
}

/// Which rows train and which validate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowSplit {
    /// Ascending row indices.
    pub train: Vec<usize>,
    /// Ascending row indices; empty when nothing is held out.
    pub validation: Vec<usize>,
}

/// A class with rows, none of which train.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UntrainedClass {
    pub class: usize,
    /// The class's rows, all held out.
    pub rows: usize,
}

impl RowSplit {
    /// Holds out `fraction` of each class's rows (rounded, and at least one
    /// row of a class with two or more), chosen by `seed`. The split a run
    /// with `validation_fraction = fraction` makes; with 0 every row trains.
    pub fn stratified(labels: &[u32], fraction: f32, seed: u64) -> Self {
        if fraction <= 0.0 {
            return Self::every_row_trains(labels.len());
        }
        let (train, validation) = stratified_split(labels, fraction, seed);
        Self { train, validation }
    }

    /// The same for real-valued targets, which have no classes to stratify by.
    pub fn random(rows: usize, fraction: f32, seed: u64) -> Self {
        if fraction <= 0.0 {
            return Self::every_row_trains(rows);
        }
        let (train, validation) = random_split(rows, fraction, seed);
        Self { train, validation }
    }

    /// What the splits above give for a fraction of 0, without shuffling.
    fn every_row_trains(rows: usize) -> Self {
        Self {
            train: (0..rows).collect(),
            validation: Vec::new(),
        }
    }

    /// Whether one part has no rows (so a run cannot both train and validate).
    pub fn has_empty_part(&self) -> bool {
        self.train.is_empty() || self.validation.is_empty()
    }

    /// The first of `classes` classes that no training row has, with its
    /// number of rows: a class whose rows were all held out cannot be
    /// learned.
    pub fn untrained_class(&self, labels: &[u32], classes: usize) -> Option<UntrainedClass> {
        let mut trained = vec![false; classes];
        for &row in &self.train {
            trained[labels[row] as usize] = true;
        }
        let class = trained.iter().position(|&present| !present)?;
        let rows = labels.iter().filter(|&&l| l as usize == class).count();
        Some(UntrainedClass { class, rows })
    }
}

/// Checked targets, borrowed or (for a split) selected.
pub(super) enum CheckedTargets<'a> {
    Classes {
        labels: CowArray<'a, u32, Ix1>,
        classes: usize,
    },
    Values(CowArray<'a, f32, Ix2>),
}

/// Checked rows and their targets: the rows `rows` of `x` (all of them
/// when `None`), read in place.
pub(super) struct CheckedExamples<'a> {
    pub x: CowArray<'a, f32, Ix2>,
    pub targets: CheckedTargets<'a>,
    /// Ascending indices into `x` and the targets.
    pub rows: Option<Vec<u32>>,
    /// `x`'s matrix, shared, when the caller shared it.
    pub shared: Option<&'a SharedRows>,
}

impl CheckedExamples<'_> {
    /// Rows in the split.
    pub fn len(&self) -> usize {
        self.rows.as_ref().map_or(self.x.nrows(), Vec::len)
    }

    /// The split's rows as indices into `x`.
    pub fn row_indices(&self) -> Vec<u32> {
        match &self.rows {
            Some(rows) => rows.clone(),
            None => (0..self.x.nrows() as u32).collect(),
        }
    }

    /// Whether `other` reads the same matrix and targets (the other part
    /// of one split), so that one upload serves both.
    pub fn same_data(&self, other: &CheckedExamples<'_>) -> bool {
        let same_x = self.x.as_ptr() == other.x.as_ptr() && self.x.dim() == other.x.dim();
        let same_targets = match (&self.targets, &other.targets) {
            (
                CheckedTargets::Classes { labels: a, .. },
                CheckedTargets::Classes { labels: b, .. },
            ) => a.as_ptr() == b.as_ptr() && a.len() == b.len(),
            (CheckedTargets::Values(a), CheckedTargets::Values(b)) => {
                a.as_ptr() == b.as_ptr() && a.dim() == b.dim()
            }
            _ => false,
        };
        same_x && same_targets
    }
}

/// A run's checked training and validation rows.
pub(super) struct Prepared<'a> {
    pub train: CheckedExamples<'a>,
    pub validation: Option<CheckedExamples<'a>>,
}

impl Prepared<'_> {
    /// Rows uploaded when both parts are resident: the training matrix,
    /// and the validation matrix unless it is the same one.
    pub fn uploaded_rows(&self) -> usize {
        let validation = match &self.validation {
            Some(v) if !v.same_data(&self.train) => v.x.nrows(),
            _ => 0,
        };
        self.train.x.nrows() + validation
    }

    /// (features, score columns) of the model `config` trains on this data.
    pub fn shape(&self, config: &TrainConfig) -> (usize, usize) {
        let outputs = match &self.train.targets {
            CheckedTargets::Classes { classes, .. } => config.loss.outputs_for_classes(*classes),
            CheckedTargets::Values(values) => values.ncols(),
        };
        (self.train.x.ncols(), outputs)
    }
}

/// Checks the configuration and the data, splits off the validation rows
/// when `config.validation_fraction` asks for them, and checks that the run
/// fits the limits. The first problem is the error.
pub(super) fn prepare<'a>(config: &TrainConfig, data: TrainData<'a>) -> Result<Prepared<'a>> {
    let TrainData {
        train,
        validation,
        split,
    } = data;
    if split.is_some() && validation.is_some() {
        return Err(Error::InvalidConfig(
            "give validation rows or a split of the training rows, not both".into(),
        ));
    }
    let given = split
        .map(|split| check_split(split, train.x.nrows()))
        .transpose()?;
    match train.targets {
        TrainTargets::Classes(labels) => prepare_classes(config, train, labels, validation, given),
        TrainTargets::Values(targets) => prepare_values(config, train, targets, validation, given),
    }
}

/// A caller's split as row subsets, its indices checked against `rows`;
/// an empty validation part means no validation rows.
fn check_split(split: &RowSplit, rows: usize) -> Result<(Vec<u32>, Option<Vec<u32>>)> {
    for part in [&split.train, &split.validation] {
        if let Some((position, &index)) = part.iter().enumerate().find(|(_, r)| **r >= rows) {
            return Err(Error::IndexOutOfRange {
                position,
                index,
                rows,
            });
        }
    }
    if split.train.is_empty() {
        return Err(Error::EmptyData("the split leaves no training rows".into()));
    }
    let to_u32 = |part: &[usize]| part.iter().map(|&r| r as u32).collect::<Vec<_>>();
    let validation = (!split.validation.is_empty()).then(|| to_u32(&split.validation));
    Ok((to_u32(&split.train), validation))
}

/// A split's rows as subsets: (train, validation).
type Subsets = (Vec<u32>, Option<Vec<u32>>);

fn subsets_of(split: RowSplit) -> Subsets {
    let to_u32 = |part: Vec<usize>| part.into_iter().map(|r| r as u32).collect::<Vec<_>>();
    (to_u32(split.train), Some(to_u32(split.validation)))
}

/// The labels of `rows` rows checked ([`check_labels`]) and their number
/// of classes within the limit and matching the class weights; returns
/// the number of classes.
pub(super) fn check_classes(
    config: &TrainConfig,
    labels: &ArrayView1<'_, u32>,
    rows: usize,
) -> Result<usize> {
    let classes = check_labels(labels, rows, config.classes)?;
    // Refused before training, not when the trained model is saved.
    crate::limits::check(
        "the number of classes",
        classes as u64,
        crate::limits::MAX_CLASSES,
    )?;
    if let Some(weights) = &config.class_weights
        && weights.len() != classes
    {
        return Err(Error::InvalidConfig(format!(
            "{} class weights for {classes} classes",
            weights.len()
        )));
    }
    Ok(classes)
}

fn prepare_classes<'a>(
    config: &TrainConfig,
    train: Examples<'a>,
    labels: ArrayView1<'a, u32>,
    validation: Option<Examples<'a>>,
    given: Option<Subsets>,
) -> Result<Prepared<'a>> {
    let x = train.x;
    config.validate()?;
    check_features(&x, "features")?;
    let classes = check_classes(config, &labels, x.nrows())?;
    let examples = |x: ArrayView2<'a, f32>,
                    labels: ArrayView1<'a, u32>,
                    rows: Option<Vec<u32>>,
                    shared: Option<&'a SharedRows>| CheckedExamples {
        x: x.into(),
        targets: CheckedTargets::Classes {
            labels: labels.into(),
            classes,
        },
        rows,
        shared,
    };
    let prepared = match (validation, given) {
        (
            Some(Examples {
                x: vx,
                targets: validation_targets,
                shared: validation_shared,
            }),
            _,
        ) => {
            let TrainTargets::Classes(vy) = validation_targets else {
                return Err(mixed_kinds(TargetKind::Classes));
            };
            check_features(&vx, "validation features")?;
            check_same_width(&vx, &x)?;
            check_label_range(&vy, vx.nrows(), Some(classes))?;
            Prepared {
                train: examples(x, labels, None, train.shared),
                validation: Some(examples(vx, vy, None, validation_shared)),
            }
        }
        (None, Some((train_rows, validation_rows))) => {
            // A class with rows of which none trains cannot be learned.
            let mut trained = vec![false; classes];
            for &row in &train_rows {
                trained[labels[row as usize] as usize] = true;
            }
            if let Some(class) =
                (0..classes).find(|&c| !trained[c] && labels.iter().any(|&l| l as usize == c))
            {
                let rows = labels.iter().filter(|&&l| l as usize == class).count();
                return Err(Error::EmptyData(format!(
                    "the split holds out every row of class {class} ({rows} row{}), leaving none to train it",
                    if rows == 1 { "" } else { "s" }
                )));
            }
            Prepared {
                train: examples(x, labels, Some(train_rows), train.shared),
                validation: validation_rows
                    .map(|rows| examples(x, labels, Some(rows), train.shared)),
            }
        }
        (None, None) if config.validation_fraction > 0.0 => {
            let split =
                RowSplit::stratified(&labels.to_vec(), config.validation_fraction, config.seed);
            if split.has_empty_part() {
                return Err(Error::EmptyData(format!(
                    "a validation fraction of {} leaves {} training and {} validation rows",
                    config.validation_fraction,
                    split.train.len(),
                    split.validation.len()
                )));
            }
            // A class that has rows but none that train cannot be learned:
            // the run would report a model that never saw it.
            if let Some(UntrainedClass { class, rows }) =
                split.untrained_class(&labels.to_vec(), classes)
                && rows > 0
            {
                return Err(Error::EmptyData(format!(
                    "a validation fraction of {} holds out every row of class {class} ({rows} row{}), leaving none to train it",
                    config.validation_fraction,
                    if rows == 1 { "" } else { "s" }
                )));
            }
            let (train_rows, validation_rows) = subsets_of(split);
            Prepared {
                train: examples(x, labels, Some(train_rows), train.shared),
                validation: validation_rows
                    .map(|rows| examples(x, labels, Some(rows), train.shared)),
            }
        }
        (None, None) => Prepared {
            train: examples(x, labels, None, train.shared),
            validation: None,
        },
    };
    check_run(config, x.ncols(), classes, &prepared)?;
    Ok(prepared)
}

fn prepare_values<'a>(
    config: &TrainConfig,
    train: Examples<'a>,
    targets: ArrayView2<'a, f32>,
    validation: Option<Examples<'a>>,
    given: Option<Subsets>,
) -> Result<Prepared<'a>> {
    let x = train.x;
    config.validate()?;
    if !config.loss.takes_real_targets() {
        return Err(Error::InvalidConfig(format!(
            "the {} loss needs class labels; real-valued targets train with mse or logistic",
            config.loss.name()
        )));
    }
    check_features(&x, "features")?;
    check_features(&targets, "targets")?;
    check_same_rows(&x, &targets, "target")?;
    let examples = |x: ArrayView2<'a, f32>,
                    targets: ArrayView2<'a, f32>,
                    rows: Option<Vec<u32>>,
                    shared: Option<&'a SharedRows>| CheckedExamples {
        x: x.into(),
        targets: CheckedTargets::Values(targets.into()),
        rows,
        shared,
    };
    let prepared = match (validation, given) {
        (
            Some(Examples {
                x: vx,
                targets: validation_targets,
                shared: validation_shared,
            }),
            _,
        ) => {
            let TrainTargets::Values(vy) = validation_targets else {
                return Err(mixed_kinds(TargetKind::Values));
            };
            check_features(&vx, "validation features")?;
            check_same_width(&vx, &x)?;
            check_features(&vy, "validation targets")?;
            check_same_rows(&vx, &vy, "validation target")?;
            if vy.ncols() != targets.ncols() {
                return Err(Error::ShapeMismatch {
                    op: "fit",
                    detail: format!(
                        "validation has {} targets per row, training {}",
                        vy.ncols(),
                        targets.ncols()
                    ),
                });
            }
            Prepared {
                train: examples(x, targets, None, train.shared),
                validation: Some(examples(vx, vy, None, validation_shared)),
            }
        }
        (None, Some((train_rows, validation_rows))) => Prepared {
            train: examples(x, targets, Some(train_rows), train.shared),
            validation: validation_rows.map(|rows| examples(x, targets, Some(rows), train.shared)),
        },
        (None, None) if config.validation_fraction > 0.0 => {
            let split = RowSplit::random(x.nrows(), config.validation_fraction, config.seed);
            if split.has_empty_part() {
                return Err(Error::EmptyData(
                    "the validation split leaves an empty part".into(),
                ));
            }
            let (train_rows, validation_rows) = subsets_of(split);
            Prepared {
                train: examples(x, targets, Some(train_rows), train.shared),
                validation: validation_rows
                    .map(|rows| examples(x, targets, Some(rows), train.shared)),
            }
        }
        (None, None) => Prepared {
            train: examples(x, targets, None, train.shared),
            validation: None,
        },
    };
    check_run(config, x.ncols(), targets.ncols(), &prepared)?;
    Ok(prepared)
}

/// Validation data with the other kind of targets than the training data.
fn mixed_kinds(training: TargetKind) -> Error {
    let (train, validation) = match training {
        TargetKind::Classes => ("class labels", "real values"),
        TargetKind::Values => ("real values", "class labels"),
    };
    Error::InvalidConfig(format!(
        "the training targets are {train} but the validation targets are {validation}"
    ))
}

fn check_same_width(validation: &ArrayView2<'_, f32>, train: &ArrayView2<'_, f32>) -> Result<()> {
    if validation.ncols() == train.ncols() {
        return Ok(());
    }
    Err(Error::ShapeMismatch {
        op: "fit",
        detail: format!(
            "validation has {} features, training {}",
            validation.ncols(),
            train.ncols()
        ),
    })
}

/// One row of `targets` (named `what`) per feature row.
fn check_same_rows(
    x: &ArrayView2<'_, f32>,
    targets: &ArrayView2<'_, f32>,
    what: &str,
) -> Result<()> {
    if targets.nrows() == x.nrows() {
        return Ok(());
    }
    Err(Error::ShapeMismatch {
        op: "fit",
        detail: format!(
            "{} feature rows but {} {what} rows",
            x.nrows(),
            targets.nrows()
        ),
    })
}

/// Checks made before anything trains: early stopping has something to
/// watch, and the run's sizes fit in memory and in the step counter.
/// `outputs` is the number of classes for class targets.
fn check_run(
    config: &TrainConfig,
    features: usize,
    outputs: usize,
    prepared: &Prepared<'_>,
) -> Result<()> {
    let kind = match prepared.train.targets {
        CheckedTargets::Classes { .. } => TargetKind::Classes,
        CheckedTargets::Values(_) => TargetKind::Values,
    };
    let validation = prepared.validation.as_ref().map(|_| kind);
    check_run_of(config, features, outputs, prepared.train.len(), validation)
}

/// [`check_run`] of a run on `rows` training rows whose validation rows
/// have targets of `validation` kind (`None`: no validation rows); also
/// what a streamed run checks before reading anything.
pub(super) fn check_run_of(
    config: &TrainConfig,
    features: usize,
    outputs: usize,
    rows: usize,
    validation: Option<TargetKind>,
) -> Result<()> {
    // A step keeps the batch's scores and their gradient: refused here
    // rather than by the allocator in the middle of the first step.
    let batch = match config.batch_size {
        BatchSize::Rows(b) => b.min(rows),
        BatchSize::Full => rows,
    };
    crate::limits::check_product(
        "one step's scores (batch rows × outputs; lower the batch size)",
        batch as u64,
        outputs as u64,
        crate::limits::MAX_BATCH_SCORES,
    )?;
    if let Some(stopping) = config.early_stopping {
        stopping.check_watchable(validation)?;
    }
    let params = features
        .checked_add(1)
        .and_then(|rows| rows.checked_mul(outputs))
        .filter(|&p| p <= MAX_PARAMETERS);
    if params.is_none() {
        return Err(Error::InvalidConfig(format!(
            "{features} features × {outputs} outputs is more than {MAX_PARAMETERS} parameters"
        )));
    }
    if (config.epochs as u64)
        .checked_mul(u32::MAX as u64)
        .is_none()
    {
        return Err(Error::InvalidConfig(format!(
            "{} epochs overflow the step counter",
            config.epochs
        )));
    }
    Ok(())
}
