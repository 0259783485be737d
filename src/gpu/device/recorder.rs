//! Records dispatches into one pending command encoder and submits them
//! together. Per-dispatch parameters go into a host-side arena that is
//! uploaded once per submission and bound with dynamic offsets, so a whole
//! epoch of steps needs no buffer allocation and no readback.

use super::bind_group_cache::BindGroupCache;
use super::context::GpuContext;
use super::counted::{self, GpuCounters};
use super::pipelines::Kernel;
use crate::{Error, Result};

/// Bytes reserved per dispatch in the parameter arena (≥ any params struct
/// and a multiple of every adapter's uniform offset alignment).
pub(crate) const PARAM_SLOT: u64 = 256;
const ARENA_SLOTS: u64 = 4096;

pub(crate) struct Recorder {
    encoder: Option<wgpu::CommandEncoder>,
    arena: Vec<u8>,
    pub(crate) arena_buffer: wgpu::Buffer,
    staging: Option<wgpu::Buffer>,
    /// Bind groups by layout and bound buffers, so that repeated operations
    /// (a training step's update) create none. Cleared when it grows past
    /// `MAX_CACHED_BIND_GROUPS`, since each entry keeps its buffers alive.
    bind_groups: BindGroupCache<(wgpu::BindGroupLayout, Vec<wgpu::Buffer>), MAX_CACHED_BIND_GROUPS>,
    pub(crate) counters: GpuCounters,
    /// The latest submissions, oldest first (at most [`KEPT_SUBMISSIONS`]),
    /// for [`Recorder::settle`].
    submitted: std::collections::VecDeque<wgpu::SubmissionIndex>,
}

/// Submissions remembered for [`Recorder::settle`]: more than any caller
/// keeps in flight.
const KEPT_SUBMISSIONS: usize = 16;

const MAX_CACHED_BIND_GROUPS: usize = 32;

/// One binding of a dispatch, after the parameters at binding 0.
pub(crate) struct Binding<'a> {
    pub buffer: &'a wgpu::Buffer,
}

impl Recorder {
    pub(crate) fn new(context: &GpuContext) -> Self {
        let slot = PARAM_SLOT.max(context.limits.min_uniform_buffer_offset_alignment as u64);
        let mut counters = GpuCounters::default();
        let arena_buffer = counted::create_buffer(
            &mut counters,
            context,
            &wgpu::BufferDescriptor {
                label: Some("lintrain params arena"),
                size: slot * ARENA_SLOTS,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            },
        );
        Self {
            encoder: None,
            arena: Vec::new(),
            arena_buffer,
            staging: None,
            bind_groups: BindGroupCache::default(),
            counters,
            submitted: Default::default(),
        }
    }

    fn encoder(&mut self, context: &GpuContext) -> &mut wgpu::CommandEncoder {
        self.encoder.get_or_insert_with(|| {
            context
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("lintrain"),
                })
        })
    }

    /// Records one dispatch of `kernel` with `params` at binding 0 and
    /// `bindings` at 1, 2, … in order.
    pub(crate) fn dispatch(
        &mut self,
        context: &GpuContext,
        kernel: &Kernel,
        params: &[u8],
        bindings: &[Binding<'_>],
        workgroups: [u32; 3],
    ) -> Result<()> {
        let max = context.limits.max_compute_workgroups_per_dimension;
        if workgroups.iter().any(|&w| w > max) {
            return Err(Error::ShapeMismatch {
                op: kernel.name,
                detail: format!(
                    "needs {workgroups:?} workgroups, the adapter allows {max} per dimension"
                ),
            });
        }
        if workgroups.contains(&0) {
            return Ok(());
        }
        let offset = self.push_params(context, params)?;
        let key = (
            kernel.layout.clone(),
            bindings
                .iter()
                .map(|b| b.buffer.clone())
                .collect::<Vec<_>>(),
        );
        let (arena, counters) = (&self.arena_buffer, &mut self.counters);
        let bind_group = self.bind_groups.get_or_create(key, || {
            let mut entries = Vec::with_capacity(bindings.len() + 1);
            entries.push(params_entry(arena));
            for (binding, b) in kernel.bindings.iter().zip(bindings) {
                entries.push(wgpu::BindGroupEntry {
                    binding: *binding,
                    resource: b.buffer.as_entire_binding(),
                });
            }
            counted::create_bind_group(counters, context, kernel, &entries)
        });
        self.record(context, kernel, offset, &bind_group, workgroups);
        Ok(())
    }

    pub(crate) fn bind_group(
        &mut self,
        context: &GpuContext,
        kernel: &Kernel,
        entries: &[wgpu::BindGroupEntry<'_>],
    ) -> wgpu::BindGroup {
        counted::create_bind_group(&mut self.counters, context, kernel, entries)
    }

    /// Creates a buffer, counted.
    pub(crate) fn create_buffer(
        &mut self,
        context: &GpuContext,
        descriptor: &wgpu::BufferDescriptor<'_>,
    ) -> wgpu::Buffer {
        counted::create_buffer(&mut self.counters, context, descriptor)
    }

    /// Creates a texture, counted.
    pub(crate) fn create_texture(
        &mut self,
        context: &GpuContext,
        descriptor: &wgpu::TextureDescriptor<'_>,
    ) -> wgpu::Texture {
        counted::create_texture(&mut self.counters, context, descriptor)
    }

    /// Appends `params` to the arena and returns their dynamic offset.
    pub(crate) fn push_params(&mut self, context: &GpuContext, params: &[u8]) -> Result<u32> {
        debug_assert!(params.len() as u64 <= PARAM_SLOT);
        let slot = PARAM_SLOT.max(context.limits.min_uniform_buffer_offset_alignment as u64);
        if self.arena.len() as u64 + slot > self.arena_buffer.size() {
            self.flush(context)?;
        }
        let offset = self.arena.len();
        self.arena.extend_from_slice(params);
        self.arena.resize(offset + slot as usize, 0);
        Ok(offset as u32)
    }

    /// Records a dispatch with a prepared bind group (parameters at `offset`).
    pub(crate) fn record(
        &mut self,
        context: &GpuContext,
        kernel: &Kernel,
        offset: u32,
        bind_group: &wgpu::BindGroup,
        workgroups: [u32; 3],
    ) {
        let encoder = self.encoder(context);
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(kernel.name),
                timestamp_writes: None,
            });
            pass.set_pipeline(&kernel.pipeline);
            pass.set_bind_group(0, bind_group, &[offset]);
            pass.dispatch_workgroups(workgroups[0], workgroups[1], workgroups[2]);
        }
        self.counters.dispatches += 1;
    }

    /// Records a copy of `bytes` from `source` at `from` to `destination`
    /// at `to`.
    pub(crate) fn copy_range(
        &mut self,
        context: &GpuContext,
        (source, from): (&wgpu::Buffer, u64),
        (destination, to): (&wgpu::Buffer, u64),
        bytes: u64,
    ) {
        self.encoder(context)
            .copy_buffer_to_buffer(source, from, destination, to, bytes);
    }

    /// Records zeroing `bytes` of `buffer` from `offset`.
    pub(crate) fn clear(
        &mut self,
        context: &GpuContext,
        buffer: &wgpu::Buffer,
        offset: u64,
        bytes: u64,
    ) {
        self.encoder(context)
            .clear_buffer(buffer, offset, Some(bytes));
    }

    /// Records a copy of `source` from byte `offset` into the whole of
    /// `texture` (an rgba32float texture whose rows are `bytes_per_row` apart).
    pub(crate) fn copy_to_texture(
        &mut self,
        context: &GpuContext,
        source: &wgpu::Buffer,
        offset: u64,
        bytes_per_row: u32,
        texture: &wgpu::Texture,
    ) {
        let size = texture.size();
        self.encoder(context).copy_buffer_to_texture(
            wgpu::TexelCopyBufferInfo {
                buffer: source,
                layout: wgpu::TexelCopyBufferLayout {
                    offset,
                    bytes_per_row: Some(bytes_per_row),
                    rows_per_image: Some(size.height),
                },
            },
            texture.as_image_copy(),
            size,
        );
    }

    /// Submits everything recorded since the last submission.
    pub(crate) fn flush(&mut self, context: &GpuContext) -> Result<()> {
        if let Some(encoder) = self.encoder.take() {
            if !self.arena.is_empty() {
                context
                    .queue
                    .write_buffer(&self.arena_buffer, 0, &self.arena);
                self.arena.clear();
            }
            let index = context.queue.submit([encoder.finish()]);
            self.counters.submissions += 1;
            if self.submitted.len() == KEPT_SUBMISSIONS {
                self.submitted.pop_front();
            }
            self.submitted.push_back(index);
        }
        context.take_device_error()
    }

    /// Submits the recorded work, then waits until at most `in_flight` of
    /// the latest submissions are still running. Submissions finish in
    /// order, so waiting for the newest of the older ones is enough.
    pub(crate) fn settle(&mut self, context: &GpuContext, in_flight: usize) -> Result<()> {
        self.flush(context)?;
        let mut wait_for = None;
        while self.submitted.len() > in_flight {
            wait_for = self.submitted.pop_front();
        }
        if let Some(index) = wait_for {
            context
                .device
                .poll(wgpu::PollType::Wait {
                    submission_index: Some(index),
                    timeout: None,
                })
                .map_err(|e| Error::Gpu(format!("waiting for the device: {e}")))?;
        }
        context.take_device_error()
    }

    /// Copies `bytes` bytes of `source` to the host, after all recorded work.
    pub(crate) fn read_bytes(
        &mut self,
        context: &GpuContext,
        source: &wgpu::Buffer,
        bytes: u64,
    ) -> Result<Vec<u8>> {
        if bytes == 0 {
            self.flush(context)?;
            return Ok(Vec::new());
        }
        let needs_new = self.staging.as_ref().is_none_or(|s| s.size() < bytes);
        if needs_new {
            self.staging = Some(self.create_buffer(
                context,
                &wgpu::BufferDescriptor {
                    label: Some("lintrain readback staging"),
                    size: bytes.next_power_of_two(),
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                },
            ));
        }
        let staging = self.staging.take().expect("just ensured");
        self.encoder(context)
            .copy_buffer_to_buffer(source, 0, &staging, 0, bytes);
        let result = self
            .flush(context)
            .and_then(|()| map_and_copy(context, &staging, bytes));
        self.staging = Some(staging);
        self.counters.readbacks += 1;
        result
    }
}

/// The entry of binding 0, the parameter arena (bound with a dynamic offset).
pub(crate) fn params_entry(arena: &wgpu::Buffer) -> wgpu::BindGroupEntry<'_> {
    wgpu::BindGroupEntry {
        binding: 0,
        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: arena,
            offset: 0,
            size: wgpu::BufferSize::new(PARAM_SLOT),
        }),
    }
}

fn map_and_copy(context: &GpuContext, staging: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>> {
    let slice = staging.slice(0..bytes);
    let (sender, receiver) = futures_intrusive::channel::shared::oneshot_channel();
    slice.map_async(wgpu::MapMode::Read, move |result| {
        let _ = sender.send(result);
    });
    context
        .device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| Error::Gpu(format!("waiting for the device: {e}")))?;
    match pollster::block_on(receiver.receive()) {
        Some(Ok(())) => {}
        Some(Err(e)) => return Err(Error::Gpu(format!("mapping the readback buffer: {e}"))),
        None => return Err(Error::Gpu("readback was cancelled".into())),
    }
    let data = {
        let view = slice
            .get_mapped_range()
            .map_err(|e| Error::Gpu(format!("reading the mapped buffer: {e}")))?;
        view.to_vec()
    };
    staging.unmap();
    context.take_device_error()?;
    Ok(data)
}
