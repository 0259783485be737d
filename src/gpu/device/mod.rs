//! The device layer, which knows no operation: the context (adapter choice,
//! limits), buffers and textures created through one counting function,
//! the pipeline cache with its typed keys, and the recorder (one encoder per
//! submission, the parameter arena, the bind-group cache). The kernel
//! families in `gpu::ops` take a [`Device`] and record into it.

mod bind_group_cache;
mod buffers;
mod context;
mod counted;
mod driver_env;
mod layer;
mod pipelines;
mod recorder;
mod rows;

pub(crate) use bind_group_cache::BindGroupCache;
pub(crate) use buffers::u32_of;
pub use buffers::{GpuBuffer, GpuIndices, GpuRows};
#[cfg(test)]
pub(crate) use context::MIN_SUBGROUP_SIZE;
pub use context::{
    AdapterChoice, AdapterSummary, GpuContext, GpuOptions, MatmulVariant, StepVariant, TiledLoss,
    hardware_adapter_available, list_adapters,
};
pub use counted::GpuCounters;
pub use driver_env::give_driver_a_runtime_dir;
pub(crate) use layer::{Device, lock};
pub(crate) use pipelines::{Access, EntryPoint, Kernel, Source};
pub(crate) use recorder::params_entry;
pub(crate) use rows::{upload_rows, write_rows};
