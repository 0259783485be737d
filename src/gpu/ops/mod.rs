//! The kernel families, one module each beside its WGSL: the family's
//! parameter structs (checked against the WGSL by `gpu::contract_tests`),
//! its entry points with their binding tables, and one `call_<op>` per
//! operation, which checks its arguments and records into the
//! [`Device`](super::device::Device) it is given.

pub(crate) mod fused_step;
pub(crate) mod gather;
pub(crate) mod loss;
pub(crate) mod loss_codes;
pub(crate) mod matmul;
pub(crate) mod optim;
pub(crate) mod reduce;
pub(crate) mod tiled_step;
pub(crate) mod vector;

use super::device::{GpuBuffer, GpuIndices, GpuRows};
use crate::backend::Backend;

/// A backend whose handles are the device layer's buffers. The ops take the
/// seam's argument structs (`LinearStep`, `Targets`, `LossOutputs`) generic
/// over it, so that they never name `GpuBackend`, which sits above them.
pub(crate) trait DeviceHandles:
    Backend<Buffer = GpuBuffer, Indices = GpuIndices, Rows = GpuRows>
{
}

impl<B> DeviceHandles for B where
    B: Backend<Buffer = GpuBuffer, Indices = GpuIndices, Rows = GpuRows> + ?Sized
{
}
