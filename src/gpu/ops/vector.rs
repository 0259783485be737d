//! Elementwise vector operations (shaders/vector.wgsl): `axpby`, with which
//! a pass over a dataset in chunks adds each chunk's gradient into one
//! accumulator on the device.

use crate::Result;
use crate::backend::check_extent;
use crate::gpu::device::{Access, Device, EntryPoint, GpuBuffer, u32_of};
use crate::gpu::shader_modules;
use bytemuck::{Pod, Zeroable};

/// `AxpbyParams` of shaders/vector.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub(crate) struct AxpbyParams {
    pub(crate) len: u32,
    pub(crate) pad: u32,
    pub(crate) alpha: f32,
    pub(crate) beta: f32,
}

/// Invocations per workgroup (the `WG` override), one element each.
pub(crate) const WORKGROUP: u32 = 256;

pub(crate) const AXPBY: EntryPoint = EntryPoint {
    module: shader_modules::VECTOR,
    entry: "axpby",
    storage: &[(1, Access::Read), (2, Access::ReadWrite)],
};

/// Records `y[i] = α·x[i] + β·y[i]` for i < `len` (y only written when
/// β = 0); see [`crate::Backend::axpby`].
pub(crate) fn call_axpby(
    device: &Device,
    alpha: f32,
    x: &GpuBuffer,
    beta: f32,
    y: &GpuBuffer,
    len: usize,
) -> Result<()> {
    let op = "axpby";
    check_extent(op, "x", 0, len, x.len)?;
    check_extent(op, "y", 0, len, y.len)?;
    let params = AxpbyParams {
        len: u32_of(op, "len", len)?,
        pad: 0,
        alpha,
        beta,
    };
    let max = device.limits().max_compute_workgroups_per_dimension;
    let groups = params.len.div_ceil(WORKGROUP);
    let workgroups = if groups > max {
        [max, groups.div_ceil(max), 1]
    } else {
        [groups, 1, 1]
    };
    device.dispatch(
        &AXPBY,
        &[("WG", WORKGROUP)],
        &params,
        &[&x.buffer, &y.buffer],
        workgroups,
    )
}
