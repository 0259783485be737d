//! Reductions (shaders/reduce.wgsl), each summing in a fixed order so that
//! the CPU reproduces it: a sum or mean, column sums (the bias gradient),
//! the argmax of each row, and the accuracy of predictions.

use crate::backend::check_extent;
use crate::gpu::device::{Access, Device, EntryPoint, GpuBuffer, GpuIndices, u32_of};
use crate::gpu::shader_modules;
use crate::{Error, Result};
use bytemuck::{Pod, Zeroable};

/// `ReduceParams` of shaders/reduce.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub(crate) struct ReduceParams {
    pub(crate) len: u32,
    pub(crate) cols: u32,
    pub(crate) slot: u32,
    pub(crate) pad: u32,
    pub(crate) scale: f32,
    pub(crate) pad1: u32,
    pub(crate) pad2: u32,
    pub(crate) pad3: u32,
}

impl ReduceParams {
    fn new(len: u32, cols: u32, slot: u32, scale: f32) -> Self {
        Self {
            len,
            cols,
            slot,
            pad: 0,
            scale,
            pad1: 0,
            pad2: 0,
            pad3: 0,
        }
    }
}

/// Invocations per workgroup of the kernels that take one column or row
/// per invocation (`column_sums`, `argmax_rows`); `sum` and `accuracy` run
/// one workgroup.
pub(crate) const PER_ITEM_WORKGROUP: u32 = 64;

pub(crate) const SUM: EntryPoint = EntryPoint {
    module: shader_modules::REDUCE,
    entry: "sum",
    storage: &[(1, Access::Read), (2, Access::ReadWrite)],
};
pub(crate) const COLUMN_SUMS: EntryPoint = EntryPoint {
    module: shader_modules::REDUCE,
    entry: "column_sums",
    storage: &[(1, Access::Read), (2, Access::ReadWrite)],
};
pub(crate) const ARGMAX_ROWS: EntryPoint = EntryPoint {
    module: shader_modules::REDUCE,
    entry: "argmax_rows",
    storage: &[(1, Access::Read), (3, Access::ReadWrite)],
};
pub(crate) const ACCURACY: EntryPoint = EntryPoint {
    module: shader_modules::REDUCE,
    entry: "accuracy",
    storage: &[(4, Access::Read), (5, Access::Read), (2, Access::ReadWrite)],
};

/// Records `out[out_offset + j] = Σ_i a[i·cols + j]`, summed in row order.
pub(crate) fn call_column_sums(
    device: &Device,
    a: &GpuBuffer,
    (rows, cols): (usize, usize),
    out: &GpuBuffer,
    out_offset: usize,
) -> Result<()> {
    let op = "column_sums";
    check_extent(op, "input", 0, rows * cols, a.len)?;
    check_extent(op, "output", out_offset, cols, out.len)?;
    let params = ReduceParams::new(
        u32_of(op, "rows", rows)?,
        u32_of(op, "cols", cols)?,
        u32_of(op, "output offset", out_offset)?,
        1.0,
    );
    let groups = (cols as u32).div_ceil(PER_ITEM_WORKGROUP);
    device.dispatch(
        &COLUMN_SUMS,
        &[],
        &params,
        &[&a.buffer, &out.buffer],
        [groups, 1, 1],
    )
}

/// Records `out[slot] = Σ x[..len]`, or the mean when `mean`.
pub(crate) fn call_sum(
    device: &Device,
    x: &GpuBuffer,
    len: usize,
    mean: bool,
    out: &GpuBuffer,
    slot: usize,
) -> Result<()> {
    let op = "sum";
    check_extent(op, "input", 0, len, x.len)?;
    check_extent(op, "output", slot, 1, out.len)?;
    let scale = if mean && len > 0 {
        1.0 / len as f32
    } else {
        1.0
    };
    let params = ReduceParams::new(u32_of(op, "len", len)?, 1, u32_of(op, "slot", slot)?, scale);
    device.dispatch(&SUM, &[], &params, &[&x.buffer, &out.buffer], [1, 1, 1])
}

/// Records `out[i] = argmax_j x[i·cols + j]` (the first index of the
/// maximum) and updates `out`'s host-side maximum.
pub(crate) fn call_argmax_rows(
    device: &Device,
    x: &GpuBuffer,
    (rows, cols): (usize, usize),
    out: &mut GpuIndices,
) -> Result<()> {
    let op = "argmax";
    if cols == 0 {
        return Err(Error::ShapeMismatch {
            op,
            detail: "zero columns".into(),
        });
    }
    check_extent(op, "input", 0, rows * cols, x.len)?;
    check_extent(op, "output", 0, rows, out.len)?;
    let params = ReduceParams::new(u32_of(op, "rows", rows)?, u32_of(op, "cols", cols)?, 0, 1.0);
    let groups = (rows as u32).div_ceil(PER_ITEM_WORKGROUP);
    device.dispatch(
        &ARGMAX_ROWS,
        &[],
        &params,
        &[&x.buffer, &out.buffer],
        [groups, 1, 1],
    )?;
    out.max = Some((cols - 1) as u32).max(if rows < out.len { out.max } else { None });
    Ok(())
}

/// Records `out[slot] = (1/n)·#{i < n : predicted[i] = labels[i]}`.
pub(crate) fn call_accuracy(
    device: &Device,
    predicted: &GpuIndices,
    labels: &GpuIndices,
    n: usize,
    out: &GpuBuffer,
    slot: usize,
) -> Result<()> {
    let op = "accuracy";
    check_extent(op, "predictions", 0, n, predicted.len)?;
    check_extent(op, "labels", 0, n, labels.len)?;
    check_extent(op, "output", slot, 1, out.len)?;
    let scale = if n == 0 { 0.0 } else { 1.0 / n as f32 };
    let params = ReduceParams::new(u32_of(op, "n", n)?, 1, u32_of(op, "slot", slot)?, scale);
    device.dispatch(
        &ACCURACY,
        &[],
        &params,
        &[&predicted.buffer, &labels.buffer, &out.buffer],
        [1, 1, 1],
    )
}
