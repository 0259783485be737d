//! The tiled step's device scratch: buffers created on first use, grown
//! when a step needs more and otherwise reused, so that a steady-state step
//! allocates nothing.

use crate::Result;
use crate::gpu::device::{Device, GpuBuffer};

/// One reused buffer, at least as long as the largest step so far needed.
#[derive(Default)]
pub(crate) struct Pooled(Option<GpuBuffer>);

impl Pooled {
    /// The buffer, replaced by one of `len` values (rounded up to whole
    /// vec4s, as the GEMMs may read it) if it holds fewer.
    pub(crate) fn at_least(
        &mut self,
        device: &Device,
        what: &'static str,
        len: usize,
    ) -> Result<&GpuBuffer> {
        if self.0.as_ref().is_none_or(|b| b.len < len) {
            let len = len.next_multiple_of(4);
            self.0 = Some(GpuBuffer {
                buffer: device.create_storage(what, len)?,
                len,
            });
        }
        Ok(self.0.as_ref().expect("just ensured"))
    }
}

/// Scratch of the tiled step, kept by the backend between steps.
#[derive(Default)]
pub(crate) struct TiledScratch {
    /// Scores of the batch (rows × C).
    pub(crate) scores: Pooled,
    /// dScores of the batch (rows × C).
    pub(crate) dscores: Pooled,
    /// Each row's loss and correct flag (rows × 2).
    pub(crate) row_stats: Pooled,
    /// The splits' partial weight gradients (splits × D × C).
    pub(crate) partials: Pooled,
    /// The batch's real-valued targets, gathered (rows × C).
    pub(crate) targets: Pooled,
    /// The batch's rows, gathered when the dataset spans more chunk
    /// buffers than the kernels bind (rows × D).
    pub(crate) batch: Pooled,
}
