//! What the engine counts, and the functions through which it creates every
//! buffer, texture and bind group, so that each creation is counted once
//! and in one place.

use super::context::GpuContext;
use super::pipelines::Kernel;

/// What the engine itself counts, for the benchmark's step report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GpuCounters {
    pub dispatches: u64,
    pub submissions: u64,
    pub readbacks: u64,
    /// Buffers and textures created.
    pub buffer_allocations: u64,
    pub bind_groups: u64,
    /// Linear steps that ran the fused kernels.
    pub fused_steps: u64,
    /// Linear steps that ran the tiled kernels.
    pub tiled_steps: u64,
}

/// Creates a buffer, counted.
pub(crate) fn create_buffer(
    counters: &mut GpuCounters,
    context: &GpuContext,
    descriptor: &wgpu::BufferDescriptor<'_>,
) -> wgpu::Buffer {
    counters.buffer_allocations += 1;
    context.device.create_buffer(descriptor)
}

/// Creates a texture, counted with the buffers.
pub(crate) fn create_texture(
    counters: &mut GpuCounters,
    context: &GpuContext,
    descriptor: &wgpu::TextureDescriptor<'_>,
) -> wgpu::Texture {
    counters.buffer_allocations += 1;
    context.device.create_texture(descriptor)
}

/// Creates a bind group for `kernel`, counted.
pub(crate) fn create_bind_group(
    counters: &mut GpuCounters,
    context: &GpuContext,
    kernel: &Kernel,
    entries: &[wgpu::BindGroupEntry<'_>],
) -> wgpu::BindGroup {
    counters.bind_groups += 1;
    context
        .device
        .create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(kernel.name),
            layout: &kernel.layout,
            entries,
        })
}
