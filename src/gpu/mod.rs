//! The wgpu host layer, bottom to top: `device` (context, buffers,
//! pipelines, recording; knows no operation), `ops` (one module per kernel
//! family, beside its WGSL), and `backend` (`GpuBackend`, which implements
//! [`crate::Backend`] by delegating to the ops). `shader_modules` lists the WGSL
//! modules and `fused_source` generates the fused step's.

mod backend;
mod device;
mod fused_source;
mod ops;
mod shader_modules;

pub use backend::GpuBackend;
pub use device::{
    AdapterChoice, AdapterSummary, GpuBuffer, GpuContext, GpuCounters, GpuIndices, GpuOptions,
    GpuRows, MatmulVariant, StepVariant, TiledLoss, give_driver_a_runtime_dir,
    hardware_adapter_available, list_adapters,
};
pub use shader_modules::ALL_MODULES;

#[cfg(test)]
mod contract_tests;
