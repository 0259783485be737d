//! The copies of a sweep's step on the CPU ([`Backend::linear_step_members`]):
//! the members' biases laid side by side for the tile step (which packs W's
//! panels straight from the members), and each member's block of the wide
//! gradient copied back out to its own buffer.
//!
//! [`Backend::linear_step_members`]: crate::backend::Backend::linear_step_members

use super::spin_pool;
use super::step_input::grown;
use crate::Result;

/// The members' biases side by side (K·C values) in `scratch`: the tile
/// step packs W's panels straight from the members' buffers
/// ([`StepParams::Members`](super::step_input::StepParams)), so only the
/// bias is laid out wide. Each of `params` holds at least D·C + C values.
pub(super) fn biases_side_by_side<'s>(
    params: &[Vec<f32>],
    d: usize,
    c: usize,
    scratch: &'s mut Vec<f32>,
) -> Result<&'s [f32]> {
    let bias = grown(scratch, params.len() * c, "the members' biases")?;
    for (k, params) in params.iter().enumerate() {
        bias[k * c..(k + 1) * c].copy_from_slice(&params[d * c..d * c + c]);
    }
    Ok(bias)
}

/// Member k's `[dW | db]` (D·C + C values of `grads[k]`) from its columns of
/// the wide gradient `[dW (D × K·C) | db (K·C)]`; a task per member.
pub(super) fn gradients_out(grads: &mut [Vec<f32>], wide_grads: &[f32], d: usize, c: usize) {
    let members = grads.len();
    let wide = members * c;
    assert!(
        wide_grads.len() >= d * wide + wide && grads.iter().all(|g| g.len() >= d * c + c),
        "a wide gradient and every member's buffer of the step's shape"
    );
    let outputs = MemberGrads(grads.as_mut_ptr());
    spin_pool::pool().run(members, &|k| {
        // SAFETY: `grads` has `members` buffers, each holding D·C + C
        // values (asserted above), and task k is the only one to touch the
        // k-th of them while the run lasts.
        let grads = unsafe { &mut outputs.member(k)[..d * c + c] };
        for (f, row) in grads[..d * c].chunks_exact_mut(c).enumerate() {
            row.copy_from_slice(&wide_grads[f * wide + k * c..f * wide + (k + 1) * c]);
        }
        grads[d * c..].copy_from_slice(&wide_grads[d * wide + k * c..d * wide + (k + 1) * c]);
    });
}

/// The members' gradient buffers, shared by the tasks that each fill one.
struct MemberGrads(*mut Vec<f32>);

// SAFETY: each task dereferences only its own member's buffer.
unsafe impl Sync for MemberGrads {}

impl MemberGrads {
    /// # Safety
    /// `k` is within the buffers, and no one else uses the k-th meanwhile.
    #[allow(clippy::mut_from_ref)]
    unsafe fn member(&self, k: usize) -> &mut Vec<f32> {
        // SAFETY: per the contract.
        unsafe { &mut *self.0.add(k) }
    }
}
