//! The CPU backend on ndarray: every operation computed plainly. It is the
//! reference the GPU kernels are checked against, and a real fallback on
//! machines with no GPU.

mod backend;
mod dot_step;
mod members_step;
mod members_update;
mod product_tile;
pub mod reference;
mod rows;
mod simd;
mod spin_pool;
mod step_input;
mod tile_step;
mod update;
mod wide_loss;

pub use backend::{CpuBackend, CpuIndices, StepKernels};
pub use rows::CpuRows;
pub use simd::Isa;

/// Threads per workgroup of the GPU's single-workgroup reductions; the CPU
/// sums in the same order so both backends round alike.
pub(crate) const REDUCTION_LANES: usize = 256;

/// Sum in the GPU's order: lane `t` adds elements t, t + 256, … in turn, then
/// the 256 partial sums are combined pairwise in a fixed tree.
pub(crate) fn lane_tree_sum(values: impl Iterator<Item = f32>) -> f32 {
    let mut lanes = [0.0f32; REDUCTION_LANES];
    for (i, v) in values.enumerate() {
        lanes[i % REDUCTION_LANES] += v;
    }
    let mut width = REDUCTION_LANES / 2;
    while width > 0 {
        for t in 0..width {
            lanes[t] += lanes[t + width];
        }
        width /= 2;
    }
    lanes[0]
}
