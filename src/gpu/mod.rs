//! The wgpu host layer: device, buffers, pipelines and dispatch.

mod backend;
mod device;
mod fused;
mod fused_source;
mod kernels;
mod packed_matmul;

pub use backend::GpuBackend;
pub use device::{
    AdapterChoice, AdapterSummary, GpuBuffer, GpuContext, GpuCounters, GpuLabels, GpuOptions,
    GpuRows, MatmulVariant, give_driver_a_runtime_dir, hardware_adapter_available, list_adapters,
};
pub use kernels::ALL_MODULES;
