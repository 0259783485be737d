//! The wgpu host layer: device, buffers, pipelines and dispatch.

mod backend;
mod bind_group_cache;
mod buffer;
mod context;
mod driver_env;
mod fused;
mod fused_source;
mod kernels;
mod packed_matmul;
mod recorder;

pub use backend::GpuBackend;
pub use buffer::{GpuBuffer, GpuLabels, GpuRows};
pub use context::{
    AdapterChoice, AdapterSummary, GpuContext, GpuOptions, MatmulVariant,
    hardware_adapter_available, list_adapters,
};
pub use driver_env::give_driver_a_runtime_dir;
pub use kernels::ALL_MODULES;
pub use recorder::GpuCounters;
