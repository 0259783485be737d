//! A checked split's rows and targets uploaded to a backend: what both a
//! minibatch session and a full-batch run train on.

use super::prepare::{CheckedExamples, CheckedTargets};
use crate::Result;
use crate::backend::{Backend, ResidentTargets};

/// The targets of a resident split.
pub(super) enum ResidentData<B: Backend> {
    Classes(B::Indices),
    Values(B::Rows),
}

/// A split's rows and targets on the backend.
pub(super) struct Uploaded<B: Backend> {
    pub x: B::Rows,
    pub targets: ResidentData<B>,
}

impl<B: Backend> Uploaded<B> {
    /// Uploads the whole matrix and targets the split reads (its rows
    /// are chosen by index); a matrix the caller shared is shared with the
    /// backend, without a copy where the backend reads host memory.
    pub fn new(backend: &B, examples: &CheckedExamples<'_>) -> Result<Self> {
        let x = match examples.shared {
            // `Examples`' fields are public: the shared matrix is used only
            // where it is the very matrix `x` views, in the same layout.
            Some(shared)
                if shared.as_ptr() == examples.x.as_ptr()
                    && shared.dim() == examples.x.dim()
                    && examples.x.is_standard_layout() =>
            {
                backend.share_rows(shared)?
            }
            _ => backend.upload_rows(examples.x.view())?,
        };
        let targets = match &examples.targets {
            CheckedTargets::Classes { labels, .. } => {
                ResidentData::Classes(backend.upload_indices(&labels.to_vec())?)
            }
            CheckedTargets::Values(values) => {
                ResidentData::Values(backend.upload_rows(values.view())?)
            }
        };
        Ok(Self { x, targets })
    }

    /// The targets as a step or an objective reads them, with the class
    /// weights (which only class targets use).
    pub fn targets<'a>(&'a self, class_weights: Option<&'a B::Buffer>) -> ResidentTargets<'a, B> {
        match &self.targets {
            ResidentData::Classes(labels) => ResidentTargets::Classes {
                labels,
                class_weights,
            },
            ResidentData::Values(values) => ResidentTargets::Values(values),
        }
    }

    /// The class indices or the real-valued targets, whichever the split has.
    pub fn targets_parts(&self) -> (Option<&B::Indices>, Option<&B::Rows>) {
        match &self.targets {
            ResidentData::Classes(labels) => (Some(labels), None),
            ResidentData::Values(values) => (None, Some(values)),
        }
    }

    pub fn has_classes(&self) -> bool {
        matches!(self.targets, ResidentData::Classes(_))
    }
}
