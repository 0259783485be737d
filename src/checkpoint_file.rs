//! The checkpoint file, written by `lintrain train --save-checkpoint` and
//! read by `--resume`: a [model file](crate::model_file) whose `format` is
//! `lintrain-checkpoint`, holding the weights after the last epoch with the
//! standardizer and the class and feature names, and beside them the
//! f32 tensor `optimizer_state` ([`STATE_SLOTS`] × (D·C + C) values: Adam's
//! moments, momentum buffers, …) and the metadata `optimizer` (the
//! optimizer with its hyperparameters; see [`optimizer_key`]),
//! `steps_taken` and `epochs_done`.
//!
//! A checkpoint is written atomically and reproducibly, as a model file is,
//! and loading checks it as a model file is checked, plus the state's size.

use crate::data::Standardizer;
use crate::limits::MAX_PARAMETERS;
use crate::model_file::{MAX_MODEL_FILE_BYTES, SavedModel, read_bounded};
use crate::optimizer::STATE_SLOTS;
use crate::{Checkpoint, Error, Optimizer, Result};
use std::path::Path;

/// The value of the `format` metadata key.
pub const CHECKPOINT_FORMAT: &str = "lintrain-checkpoint";

/// The largest checkpoint file: a model file's limit plus the optimizer
/// state of the largest model.
pub const MAX_CHECKPOINT_FILE_BYTES: u64 =
    MAX_MODEL_FILE_BYTES + 4 * STATE_SLOTS as u64 * MAX_PARAMETERS;

/// A run's state with what the command line needs to continue it.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedCheckpoint {
    /// The weights after `checkpoint.epochs_done` epochs, the standardizer
    /// fit on the training split, and the class and feature names.
    pub saved: SavedModel,
    /// The optimizer the state belongs to.
    pub optimizer: Optimizer,
    pub checkpoint: Checkpoint,
}

/// How the optimizer is recorded in the file: its variant and every
/// hyperparameter. A checkpoint continues only with the same optimizer and
/// hyperparameters, since its state means nothing to another; the key is
/// compared, never parsed back.
pub fn optimizer_key(optimizer: &Optimizer) -> String {
    format!("{optimizer:?}")
}

impl SavedCheckpoint {
    /// A checkpoint of a run of `optimizer`, with the standardizer and
    /// names of its model file.
    pub fn new(
        checkpoint: Checkpoint,
        optimizer: Optimizer,
        standardizer: Option<Standardizer>,
        class_names: Vec<String>,
        feature_names: Vec<String>,
    ) -> Self {
        let saved = SavedModel::new(
            checkpoint.model.clone(),
            standardizer,
            class_names,
            feature_names,
        );
        Self {
            saved,
            optimizer,
            checkpoint,
        }
    }

    /// Writes the checkpoint atomically; one that would not load is not
    /// written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let state_len = self.state_len();
        let bytes = self
            .saved
            .check()
            .and_then(|()| {
                if self.checkpoint.optimizer_state.len() != state_len {
                    return Err(format!(
                        "the optimizer state has {} values, the model needs {state_len}",
                        self.checkpoint.optimizer_state.len()
                    )
                    .into());
                }
                self.saved
                    .to_bytes_with(
                        CHECKPOINT_FORMAT,
                        &[(
                            "optimizer_state",
                            vec![state_len],
                            &self.checkpoint.optimizer_state,
                        )],
                        vec![
                            ("optimizer", optimizer_key(&self.optimizer)),
                            ("steps_taken", self.checkpoint.steps_taken.to_string()),
                            ("epochs_done", self.checkpoint.epochs_done.to_string()),
                        ],
                    )
                    .map_err(Into::into)
            })
            .map_err(|invalid| invalid.in_file(path, "checkpoint not saved: "))?;
        crate::atomic_file::write_atomically(path, &bytes)
    }

    /// Reads and checks a checkpoint file; errors name the file. The
    /// optimizer is not rebuilt from the file: the caller gives the one it
    /// trains with, and a different one is an [`Error::InvalidConfig`].
    pub fn load(path: impl AsRef<Path>, optimizer: Optimizer) -> Result<Self> {
        Self::load_at(path.as_ref(), optimizer)
    }

    fn load_at(path: &Path, optimizer: Optimizer) -> Result<Self> {
        let bytes = read_bounded(path, "checkpoint", MAX_CHECKPOINT_FILE_BYTES)?;
        let (saved, extras) = SavedModel::from_bytes_as(&bytes, CHECKPOINT_FORMAT, "checkpoint")
            .map_err(|invalid| invalid.in_file(path, ""))?;
        let format_error = |reason: String| Error::Format {
            path: path.to_path_buf(),
            reason,
        };
        let written_with = extras.metadata("optimizer").map_err(format_error)?;
        let expected = optimizer_key(&optimizer);
        if written_with != expected {
            return Err(Error::InvalidConfig(format!(
                "{}: the checkpoint's optimizer state belongs to {written_with}, but this run uses {expected}; resume with the same optimizer and hyperparameters",
                path.display()
            )));
        }
        let whole = |key: &str| -> Result<u64> {
            let text = extras.metadata(key).map_err(format_error)?;
            text.trim().parse().map_err(|_| {
                format_error(format!("metadata `{key}` is {text:?}, not a whole number"))
            })
        };
        let steps_taken = whole("steps_taken")?;
        let epochs_done = usize::try_from(whole("epochs_done")?)
            .map_err(|_| format_error("metadata `epochs_done` is too large".into()))?;
        let params = saved.model.weights.len() + saved.model.bias.len();
        let optimizer_state = extras
            .vector("optimizer_state", STATE_SLOTS * params)
            .map_err(format_error)?;
        optimizer
            .check_state(&optimizer_state)
            .map_err(|reason| format_error(format!("tensor `optimizer_state`: {reason}")))?;
        let checkpoint = Checkpoint {
            model: saved.model.clone(),
            optimizer_state,
            steps_taken,
            epochs_done,
        };
        Ok(Self {
            saved,
            optimizer,
            checkpoint,
        })
    }

    fn state_len(&self) -> usize {
        STATE_SLOTS * (self.saved.model.weights.len() + self.saved.model.bias.len())
    }
}
