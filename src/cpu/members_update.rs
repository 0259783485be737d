//! The optimizer update of a sweep's members: every member's chunks in one
//! run of the step's pool ([`Backend::update_members`] on the CPU), each
//! chunk by [`update_range`] with its member's own step.
//!
//! [`Backend::update_members`]: crate::backend::Backend::update_members

use super::spin_pool::{self, DisjointSlices};
use super::update::update_range;
use crate::Result;
use crate::backend::{check_extent, checks};
use crate::optimizer::{STATE_SLOTS, UpdateStep};

/// Parameters per task of a parallel optimizer update (L1-sized: each
/// touches five arrays).
const UPDATE_CHUNK: usize = 1 << 12;
/// Members whose updates share one run of the pool.
const MEMBERS_PER_UPDATE_RUN: usize = 16;

/// Member k's parameters, gradient and state updated by `steps[k]`, every
/// member's chunks in one run of the pool (one hand-off for a sweep's
/// update instead of one per member); a warm call allocates nothing.
pub(super) fn update_members(
    params: &mut [Vec<f32>],
    grads: &[Vec<f32>],
    states: &mut [Vec<f32>],
    steps: &[UpdateStep],
) -> Result<()> {
    checks::member_updates(params.len(), grads.len(), states.len(), steps.len())?;
    for ((params, grads), (state, step)) in params.iter().zip(grads).zip(states.iter().zip(steps)) {
        let len = params.len();
        check_extent("update", "gradients", 0, len, grads.len())?;
        check_extent(
            "update",
            "optimizer state",
            0,
            STATE_SLOTS * len,
            state.len(),
        )?;
        check_extent("update", "weights", 0, step.weight_len, len)?;
    }
    // Member k's work: its slices and constants, split in chunks.
    struct MemberUpdate<'a> {
        params: DisjointSlices,
        states: [DisjointSlices; STATE_SLOTS],
        grads: &'a [f32],
        step: &'a UpdateStep,
        scalars: crate::optimizer::StepScalars,
        coefficients: (f32, f32),
        /// Its parameters: the gradient and state buffers may be longer.
        len: usize,
        chunks: usize,
    }
    let mut members = params
        .iter_mut()
        .zip(grads)
        .zip(states.iter_mut().zip(steps))
        .map(|((params, grads), (state, step))| {
            let len = params.len();
            let (s0, rest) = state.split_at_mut(len);
            let (s1, rest) = rest.split_at_mut(len);
            MemberUpdate {
                params: DisjointSlices::new(params),
                states: [s0, s1, &mut rest[..len]].map(DisjointSlices::new),
                grads,
                step,
                scalars: step.scalars(),
                coefficients: step.regularizer.coefficients(),
                len,
                chunks: len.div_ceil(UPDATE_CHUNK),
            }
        })
        .peekable();
    // Groups of members on the stack, so that a warm step allocates
    // nothing: one run of the pool per group.
    while members.peek().is_some() {
        let group: [Option<MemberUpdate<'_>>; MEMBERS_PER_UPDATE_RUN] =
            std::array::from_fn(|_| members.next());
        let group = &group;
        let chunks = |m: &Option<MemberUpdate<'_>>| m.as_ref().map_or(0, |w| w.chunks);
        let tasks: usize = group.iter().map(chunks).sum();
        let run_chunk = |t: usize| {
            let (mut member, mut chunk) = (0, t);
            while chunk >= chunks(&group[member]) {
                chunk -= chunks(&group[member]);
                member += 1;
            }
            let Some(w) = &group[member] else {
                return;
            };
            let begin = chunk * UPDATE_CHUNK;
            let n = UPDATE_CHUNK.min(w.len - begin);
            // SAFETY: each task is its own chunk of its own member's
            // buffers, and a member's buffers are distinct from another's.
            let p = unsafe { w.params.range(begin, n) };
            let [s0, s1, s2] = [0, 1, 2].map(|i| unsafe { w.states[i].range(begin, n) });
            update_range(
                begin,
                p,
                &w.grads[begin..begin + n],
                [s0, s1, s2],
                w.step,
                &w.scalars,
                w.coefficients,
            );
        };
        // Elements are independent: chunks give the same bits on any
        // thread. The step's pool, not rayon: an update follows every
        // training step, and its helpers are already spinning.
        let values: usize = group.iter().flatten().map(|w| w.len).sum();
        if values < 2 * UPDATE_CHUNK {
            (0..tasks).for_each(run_chunk);
        } else {
            spin_pool::pool().run(tasks, &run_chunk);
        }
    }
    Ok(())
}
