//! [`Device`]: what the ops record through.

use super::buffers::{STORAGE_USAGE, byte_size};
use super::context::GpuContext;
use super::counted::GpuCounters;
use super::pipelines::{EntryPoint, Kernel, PipelineCache, Source};
use super::recorder::{Binding, Recorder};
use crate::{Error, Result};
use bytemuck::Pod;
use std::sync::{Arc, Mutex, MutexGuard};

/// The device layer of one [`crate::GpuBackend`]: a context, its pipelines,
/// the pending encoder, and the buffers bound where an input or output is
/// absent. Shared between threads; each operation takes the recorder's lock
/// for as long as it records.
pub(crate) struct Device {
    context: Arc<GpuContext>,
    pipelines: PipelineCache,
    recorder: Mutex<Recorder>,
    /// Bound where a kernel's optional read-only input is absent.
    unused_input: wgpu::Buffer,
    /// Bound where a kernel's optional output is absent.
    unused_output: wgpu::Buffer,
}

/// Locks `mutex`, also after a panic elsewhere: what it guards (caches,
/// the pending encoder) stays usable, and a device error that follows is
/// reported by the next flush.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Device {
    pub(crate) fn new(context: Arc<GpuContext>) -> Self {
        let mut recorder = Recorder::new(&context);
        let mut unused = |label| {
            recorder.create_buffer(
                &context,
                &wgpu::BufferDescriptor {
                    label: Some(label),
                    size: 16,
                    usage: STORAGE_USAGE,
                    mapped_at_creation: false,
                },
            )
        };
        let unused_input = unused("unused input");
        let unused_output = unused("unused output");
        Self {
            pipelines: PipelineCache::default(),
            recorder: Mutex::new(recorder),
            unused_input,
            unused_output,
            context,
        }
    }

    pub(crate) fn context(&self) -> &Arc<GpuContext> {
        &self.context
    }

    pub(crate) fn limits(&self) -> &wgpu::Limits {
        &self.context.limits
    }

    /// Dispatches, submissions, readbacks and buffer allocations so far.
    pub(crate) fn counters(&self) -> GpuCounters {
        self.recorder().counters
    }

    /// The recorder, locked. Held only while recording: nothing that takes
    /// it again (any other method of `Device`) may be called meanwhile.
    pub(crate) fn recorder(&self) -> MutexGuard<'_, Recorder> {
        lock(&self.recorder)
    }

    /// The pipeline of a fixed module's `entry` with `overrides`.
    pub(crate) fn kernel(
        &self,
        entry: &EntryPoint,
        overrides: &[(&'static str, u32)],
    ) -> Arc<Kernel> {
        self.pipelines
            .get(&self.context, entry, &Source::Fixed, overrides)
    }

    /// The pipeline for `entry` compiled from `source`, with `overrides`.
    pub(crate) fn kernel_from(
        &self,
        entry: &EntryPoint,
        source: &Source<'_>,
        overrides: &[(&'static str, u32)],
    ) -> Arc<Kernel> {
        self.pipelines.get(&self.context, entry, source, overrides)
    }

    pub(crate) fn unused_input(&self) -> &wgpu::Buffer {
        &self.unused_input
    }

    pub(crate) fn unused_output(&self) -> &wgpu::Buffer {
        &self.unused_output
    }

    /// Records one dispatch of `entry` with `params` at binding 0 and
    /// `bindings` at the entry's storage bindings, in order.
    pub(crate) fn dispatch(
        &self,
        entry: &EntryPoint,
        overrides: &[(&'static str, u32)],
        params: &impl Pod,
        bindings: &[&wgpu::Buffer],
        workgroups: [u32; 3],
    ) -> Result<()> {
        let kernel = self.kernel(entry, overrides);
        let bindings: Vec<Binding<'_>> =
            bindings.iter().map(|&buffer| Binding { buffer }).collect();
        self.recorder().dispatch(
            &self.context,
            &kernel,
            bytemuck::bytes_of(params),
            &bindings,
            workgroups,
        )
    }

    /// Creates a buffer, counted.
    pub(crate) fn create_buffer(&self, descriptor: &wgpu::BufferDescriptor<'_>) -> wgpu::Buffer {
        self.recorder().create_buffer(&self.context, descriptor)
    }

    /// Creates a texture, counted.
    pub(crate) fn create_texture(&self, descriptor: &wgpu::TextureDescriptor<'_>) -> wgpu::Texture {
        self.recorder().create_texture(&self.context, descriptor)
    }

    /// Creates a bind group for `kernel`, counted.
    pub(crate) fn create_bind_group(
        &self,
        kernel: &Kernel,
        entries: &[wgpu::BindGroupEntry<'_>],
    ) -> wgpu::BindGroup {
        self.recorder().bind_group(&self.context, kernel, entries)
    }

    /// A zeroed storage buffer of `len` 4-byte elements (new wgpu buffers
    /// are zero-initialized).
    pub(crate) fn create_storage(&self, what: &'static str, len: usize) -> Result<wgpu::Buffer> {
        let size = byte_size(len);
        self.check_binding(what, size)?;
        Ok(self.create_buffer(&wgpu::BufferDescriptor {
            label: Some(what),
            size,
            usage: STORAGE_USAGE,
            mapped_at_creation: false,
        }))
    }

    /// A storage buffer holding `bytes` (whole 4-byte elements), written
    /// while mapped at creation as `wgpu::util::DeviceExt::create_buffer_init`
    /// does.
    pub(crate) fn create_storage_init(
        &self,
        what: &'static str,
        bytes: &[u8],
    ) -> Result<wgpu::Buffer> {
        if bytes.is_empty() {
            return self.create_storage(what, 0);
        }
        debug_assert_eq!(bytes.len() % 4, 0, "whole 4-byte elements");
        let size = bytes.len() as u64;
        self.check_binding(what, size)?;
        let buffer = self.create_buffer(&wgpu::BufferDescriptor {
            label: Some(what),
            size,
            usage: STORAGE_USAGE,
            mapped_at_creation: true,
        });
        buffer
            .get_mapped_range_mut(..)
            .map_err(|e| Error::Gpu(format!("writing the new buffer {what}: {e}")))?
            .copy_from_slice(bytes);
        buffer.unmap();
        Ok(buffer)
    }

    fn check_binding(&self, what: &'static str, size: u64) -> Result<()> {
        let limit = self.context.max_binding_bytes;
        if size > limit {
            return Err(Error::BufferTooLarge {
                what,
                requested: size,
                limit,
            });
        }
        Ok(())
    }

    /// Writes `bytes` at the start of `buffer`. Submits the recorded work
    /// first: a write must not overtake work that still reads the old data.
    pub(crate) fn write_bytes(&self, buffer: &wgpu::Buffer, bytes: &[u8]) -> Result<()> {
        self.flush()?;
        if !bytes.is_empty() {
            self.context.queue.write_buffer(buffer, 0, bytes);
        }
        Ok(())
    }

    /// The first `len` 4-byte elements of `buffer`, after all recorded work.
    pub(crate) fn read_bytes(&self, buffer: &wgpu::Buffer, len: usize) -> Result<Vec<u8>> {
        self.recorder()
            .read_bytes(&self.context, buffer, (len * 4) as u64)
    }

    /// Submits everything recorded so far.
    pub(crate) fn flush(&self) -> Result<()> {
        self.recorder().flush(&self.context)
    }

    /// Submits everything recorded so far and waits until at most
    /// `in_flight` submissions are still running.
    pub(crate) fn settle(&self, in_flight: usize) -> Result<()> {
        self.recorder().settle(&self.context, in_flight)
    }
}
