//! The fused linear step (`Backend::linear_step`) on the GPU: copies of the
//! parameters into uniform windows and two dispatches, `fused_scores` and
//! `fused_weight_grad` (shaders/fused_step.wgsl). Scratch buffers and bind
//! groups are created on the first step and reused, so a steady-state step
//! allocates nothing and reads nothing back. The kernels share values
//! between lanes with subgroup broadcasts, so they run only where every
//! 8-invocation workgroup is one subgroup; elsewhere the unfused
//! composition runs.

use super::DeviceHandles;
use super::loss_codes::loss_code;
use crate::backend::{LinearStep, ResidentTargets};
use crate::gpu::device::{
    Access, BindGroupCache, Device, EntryPoint, GpuBuffer, GpuRows, Kernel, Source, params_entry,
    u32_of,
};
use crate::gpu::fused_source::{self, FusedShape, WEIGHT_WINDOWS, WINDOW_VEC4S, texels_per_window};
use crate::gpu::shader_modules;
use crate::{Error, Result};
use bytemuck::{Pod, Zeroable};

/// f32 values per 64 KiB uniform window; W's windows are followed by b.
const WINDOW: usize = WINDOW_VEC4S * 4;
const BIAS_OFFSET: u64 = (WINDOW * WEIGHT_WINDOWS * 4) as u64;
const BIAS_BYTES: u64 = (MAX_OUTPUTS * 4) as u64;
/// The most outputs C the kernels handle (`MAX_C` in the shader).
pub(crate) const MAX_OUTPUTS: usize = 16;
/// Invocations per workgroup of both kernels: one subgroup of 8 lanes (the
/// context checks that the adapter's subgroups are at least that wide).
pub(crate) const LANES: usize = 8;
/// Rows per lane of `fused_scores`.
const ROWS_PER_LANE: usize = 4;
/// Feature texels per lane of `fused_weight_grad`.
const TEXELS_PER_LANE: usize = 2;
/// Bind groups kept before the cache is cleared (each holds its buffers alive).
const MAX_CACHED_BIND_GROUPS: usize = 64;

/// Bits of `StepParams::flags` (the same names in fused_step.wgsl).
pub(crate) const HAS_CLASS_WEIGHTS: u32 = 1;
/// The targets are real-valued rows (a texture), not class labels.
pub(crate) const REAL_TARGETS: u32 = 2;
/// Write the gradients, not only the loss.
pub(crate) const WITH_GRADS: u32 = 8;

/// `StepParams` of shaders/fused_step.wgsl, shared by both kernels.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub(crate) struct StepParams {
    pub(crate) rows: u32,
    pub(crate) d: u32,
    pub(crate) layer_rows: u32,
    pub(crate) first: u32,
    pub(crate) flags: u32,
    pub(crate) slot: u32,
    pub(crate) margin: f32,
    pub(crate) smoothing: f32,
    pub(crate) inv_rows: f32,
    pub(crate) pad0: u32,
    pub(crate) pad1: u32,
    pub(crate) pad2: u32,
}

/// Scores, loss and dScores of the batch, one lane per row block.
pub(crate) const SCORES: EntryPoint = EntryPoint {
    module: shader_modules::FUSED_STEP,
    entry: "fused_scores",
    storage: &[
        (1, Access::Texture),
        (2, Access::Read),
        (3, Access::Read),
        (4, Access::Read),
        (5, Access::Texture),
        (6, Access::Uniform),
        (7, Access::Uniform),
        (8, Access::Uniform),
        (9, Access::Uniform),
        (10, Access::ReadWrite),
        (15, Access::Uniform),
    ],
};
/// dW = xᵀ·dS, db and the batch's stats, one lane per feature texels.
pub(crate) const WEIGHT_GRAD: EntryPoint = EntryPoint {
    module: shader_modules::FUSED_STEP,
    entry: "fused_weight_grad",
    storage: &[
        (1, Access::Texture),
        (11, Access::Uniform),
        (12, Access::ReadWrite),
        (13, Access::ReadWrite),
        (14, Access::ReadWrite),
    ],
};

/// The pipelines' generated source, for `outputs` columns.
pub(crate) fn shape(outputs: usize) -> FusedShape {
    FusedShape {
        outputs,
        rows_per_lane: ROWS_PER_LANE,
        texels_per_lane: TEXELS_PER_LANE,
    }
}

/// What a cached bind group binds, by identity.
#[derive(PartialEq, Eq, Hash)]
struct BindKey {
    kernel: &'static str,
    buffers: Vec<wgpu::Buffer>,
    textures: Vec<wgpu::Texture>,
}

/// Device scratch of the fused step, created on first use.
#[derive(Default)]
pub(crate) struct FusedScratch {
    /// [W | b] copied from the parameters, bound as uniform windows.
    weights: Option<wgpu::Buffer>,
    /// dS, row losses, correct flags and row indices of the batch.
    batch: Option<wgpu::Buffer>,
    /// Bound as the targets texture when the targets are class labels.
    no_targets: Option<(wgpu::Texture, wgpu::TextureView)>,
    bind_groups: BindGroupCache<BindKey, MAX_CACHED_BIND_GROUPS>,
}

/// Whether the fused kernels handle this step (otherwise the unfused
/// composition runs): real-valued targets kept as a texture of C columns,
/// and a step of at most [`max_rows`] rows.
pub(crate) fn fits<B: DeviceHandles + ?Sized>(device: &Device, step: &LinearStep<'_, B>) -> bool {
    let targets_ok = match &step.targets {
        ResidentTargets::Classes { .. } => true,
        ResidentTargets::Values(values) => values.texture.is_some() && values.cols == step.outputs,
    };
    targets_ok
        && max_rows(device, step.x, step.outputs)
            .is_some_and(|most| (1..=most).contains(&step.rows))
}

/// The most rows a fused step over `x` with `outputs` columns can take, or
/// None when no fused step over it can run: it needs 8-lane subgroups, rows
/// kept as textures, 1 to 16 outputs and W within its uniform windows, and
/// its rows must keep the batch scratch (`rows·(C + 3)` values) and dS read
/// 8 rows at a time (`⌈rows/8⌉·8·C + 32`) within one window.
pub(crate) fn max_rows(device: &Device, x: &GpuRows, outputs: usize) -> Option<usize> {
    let (d, c) = (x.cols, outputs);
    let fused = device.context().subgroups_of_8
        && x.texture.is_some()
        && d > 0
        && (1..=MAX_OUTPUTS).contains(&c)
        && d.div_ceil(4) <= WEIGHT_WINDOWS * texels_per_window(c);
    if !fused {
        return None;
    }
    let by_batch = WINDOW / (c + 3);
    // fused_weight_grad reads dS 8 rows at a time, in 8-lane loads.
    let by_score_gradients = (WINDOW - 32) / c / LANES * LANES;
    Some(by_batch.min(by_score_gradients))
}

fn scratch_buffer(
    device: &Device,
    slot: &mut Option<wgpu::Buffer>,
    what: &'static str,
    bytes: u64,
    usage: wgpu::BufferUsages,
) -> wgpu::Buffer {
    slot.get_or_insert_with(|| {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(what),
            size: bytes,
            usage,
            mapped_at_creation: false,
        })
    })
    .clone()
}

fn window(buffer: &wgpu::Buffer, index: usize) -> wgpu::BindingResource<'_> {
    wgpu::BindingResource::Buffer(wgpu::BufferBinding {
        buffer,
        offset: (index * WINDOW * 4) as u64,
        size: wgpu::BufferSize::new((WINDOW * 4) as u64),
    })
}

fn view(texture: &wgpu::Texture) -> wgpu::TextureView {
    texture.create_view(&wgpu::TextureViewDescriptor {
        dimension: Some(wgpu::TextureViewDimension::D2Array),
        ..Default::default()
    })
}

/// Records the step. The caller has made sure that it [`fits`] and has
/// made the checks every backend makes
/// ([`crate::backend::checks::linear_step`]), which bound every index and
/// label the kernels read.
pub(crate) fn call_fused_step<B: DeviceHandles + ?Sized>(
    device: &Device,
    scratch: &mut FusedScratch,
    step: &LinearStep<'_, B>,
    params: &GpuBuffer,
    grads: Option<&mut GpuBuffer>,
    stats: &GpuBuffer,
    slot: usize,
) -> Result<()> {
    u32_of("linear_step", "first", step.first + step.rows)?;
    scratch.record(device, step, params, grads, stats, slot)
}

impl FusedScratch {
    fn bind_group(
        &mut self,
        device: &Device,
        kernel: &Kernel,
        key: BindKey,
        entries: &[wgpu::BindGroupEntry<'_>],
    ) -> wgpu::BindGroup {
        self.bind_groups
            .get_or_create(key, || device.create_bind_group(kernel, entries))
    }

    /// Records the step: checked by the caller, fitting by [`fits`].
    fn record<B: DeviceHandles + ?Sized>(
        &mut self,
        device: &Device,
        step: &LinearStep<'_, B>,
        params: &GpuBuffer,
        grads: Option<&mut GpuBuffer>,
        stats: &GpuBuffer,
        slot: usize,
    ) -> Result<()> {
        let context = device.context().clone();
        let (d, c, rows) = (step.x.cols, step.outputs, step.rows);
        let x: &GpuRows = step.x;
        let x_texture = x.texture.as_ref().expect("checked by fits");
        let weights = scratch_buffer(
            device,
            &mut self.weights,
            "fused step weights",
            BIAS_OFFSET + BIAS_BYTES,
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        );
        let batch = scratch_buffer(
            device,
            &mut self.batch,
            "fused step batch",
            (WINDOW * 4) as u64,
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::STORAGE,
        );
        let no_targets = self
            .no_targets
            .get_or_insert_with(|| {
                let texture = device.create_texture(&wgpu::TextureDescriptor {
                    label: Some("no targets"),
                    size: wgpu::Extent3d {
                        width: 1,
                        height: 1,
                        depth_or_array_layers: 1,
                    },
                    mip_level_count: 1,
                    sample_count: 1,
                    dimension: wgpu::TextureDimension::D2,
                    format: wgpu::TextureFormat::Rgba32Float,
                    usage: wgpu::TextureUsages::TEXTURE_BINDING,
                    view_formats: &[],
                });
                let view = view(&texture);
                (texture, view)
            })
            .clone();

        let (loss_kind, margin, smoothing) = loss_code(step.loss);
        let mut flags = if grads.is_some() { WITH_GRADS } else { 0 };
        let (labels, class_weights, targets) = match &step.targets {
            ResidentTargets::Classes {
                labels,
                class_weights,
            } => {
                if class_weights.is_some() {
                    flags |= HAS_CLASS_WEIGHTS;
                }
                (
                    labels.buffer.clone(),
                    class_weights
                        .map_or_else(|| device.unused_input().clone(), |w| w.buffer.clone()),
                    no_targets.clone(),
                )
            }
            ResidentTargets::Values(values) => {
                flags |= REAL_TARGETS;
                let texture = values.texture.as_ref().expect("checked by fits");
                (
                    device.unused_input().clone(),
                    device.unused_input().clone(),
                    (texture.texture.clone(), texture.view.clone()),
                )
            }
        };
        let op = "linear_step";
        let uniform = StepParams {
            rows: u32_of(op, "rows", rows)?,
            d: u32_of(op, "features", d)?,
            layer_rows: u32_of(op, "layer rows", x_texture.layer_rows)?,
            first: u32_of(op, "first", step.first)?,
            flags,
            slot: u32_of(op, "slot", slot)?,
            margin,
            smoothing,
            inv_rows: 1.0 / rows as f32,
            pad0: 0,
            pad1: 0,
            pad2: 0,
        };
        let shape = shape(c);
        let source = Source::Generated {
            variant: [
                shape.outputs as u32,
                shape.rows_per_lane as u32,
                shape.texels_per_lane as u32,
            ],
            generate: &|| fused_source::source(shape),
        };
        let scores_kernel =
            device.kernel_from(&SCORES, &source, &[("C", c as u32), ("LOSS", loss_kind)]);
        let grad_kernel = device.kernel_from(&WEIGHT_GRAD, &source, &[("C", c as u32)]);
        copy_weights(device, &params.buffer, &weights, d, c);

        let arena = device.recorder().arena_buffer.clone();
        let x_view = &x_texture.view;
        let (targets, target_view) = targets;
        let scores_group = {
            let key = BindKey {
                kernel: scores_kernel.name,
                buffers: vec![
                    step.indices.buffer.clone(),
                    labels.clone(),
                    class_weights.clone(),
                ],
                textures: vec![x_texture.texture.clone(), targets.clone()],
            };
            let entries = [
                params_entry(&arena),
                texture_entry(1, x_view),
                buffer_entry(2, &step.indices.buffer),
                buffer_entry(3, &labels),
                buffer_entry(4, &class_weights),
                texture_entry(5, &target_view),
                wgpu::BindGroupEntry {
                    binding: 6,
                    resource: window(&weights, 0),
                },
                wgpu::BindGroupEntry {
                    binding: 7,
                    resource: window(&weights, 1),
                },
                wgpu::BindGroupEntry {
                    binding: 8,
                    resource: window(&weights, 2),
                },
                wgpu::BindGroupEntry {
                    binding: 9,
                    resource: window(&weights, 3),
                },
                buffer_entry(10, &batch),
                wgpu::BindGroupEntry {
                    binding: 15,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &weights,
                        offset: BIAS_OFFSET,
                        size: wgpu::BufferSize::new(BIAS_BYTES),
                    }),
                },
            ];
            self.bind_group(device, &scores_kernel, key, &entries)
        };
        let unused_output = device.unused_output().clone();
        let grads_buffer = grads.map(|g| (g.buffer.clone(), g.len));
        let (grads_all, grads4_size) = match &grads_buffer {
            Some((buffer, len)) if d >= 4 => (buffer.clone(), (len / 4 * 16) as u64),
            Some((buffer, _)) => (buffer.clone(), 0),
            None => (unused_output.clone(), 0),
        };
        let grads4 = if grads4_size > 0 {
            grads_all.clone()
        } else {
            unused_output.clone()
        };
        let grad_group = {
            let key = BindKey {
                kernel: grad_kernel.name,
                buffers: vec![grads4.clone(), grads_all.clone(), stats.buffer.clone()],
                textures: vec![x_texture.texture.clone()],
            };
            let entries = [
                params_entry(&arena),
                texture_entry(1, x_view),
                wgpu::BindGroupEntry {
                    binding: 11,
                    resource: window(&batch, 0),
                },
                wgpu::BindGroupEntry {
                    binding: 12,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &grads4,
                        offset: 0,
                        size: wgpu::BufferSize::new(grads4_size.max(16)),
                    }),
                },
                buffer_entry(13, &grads_all),
                buffer_entry(14, &stats.buffer),
            ];
            self.bind_group(device, &grad_kernel, key, &entries)
        };

        let score_groups = rows.div_ceil(LANES * ROWS_PER_LANE) as u32;
        let grad_groups = if flags & WITH_GRADS != 0 {
            d.div_ceil(4).div_ceil(LANES * TEXELS_PER_LANE) as u32
        } else {
            1
        };
        let max = context.limits.max_compute_workgroups_per_dimension;
        if score_groups.max(grad_groups) > max {
            return Err(Error::ShapeMismatch {
                op,
                detail: format!("needs {grad_groups} workgroups, the adapter allows {max}"),
            });
        }
        let mut recorder = device.recorder();
        recorder.counters.fused_steps += 1;
        let bytes = bytemuck::bytes_of(&uniform);
        let offset = recorder.push_params(&context, bytes)?;
        recorder.record(
            &context,
            &scores_kernel,
            offset,
            &scores_group,
            [score_groups, 1, 1],
        );
        recorder.record(
            &context,
            &grad_kernel,
            offset,
            &grad_group,
            [grad_groups, 1, 1],
        );
        Ok(())
    }
}

/// Copies W into the uniform windows by feature texel (zero past feature
/// d) and b after them, after the previous update.
fn copy_weights(
    device: &Device,
    params: &wgpu::Buffer,
    weights: &wgpu::Buffer,
    d: usize,
    c: usize,
) {
    let context = device.context();
    let mut recorder = device.recorder();
    let texel_floats = 4 * c;
    let per_window = texels_per_window(c);
    let (texels, weight_floats) = (d.div_ceil(4), d * c);
    for window in 0..texels.div_ceil(per_window) {
        let start = window * per_window * texel_floats;
        let end = (start + per_window * texel_floats).min(weight_floats);
        let to = (window * WINDOW * 4) as u64;
        if end > start {
            recorder.copy_range(
                context,
                (params, (start * 4) as u64),
                (weights, to),
                ((end - start) * 4) as u64,
            );
        }
        let padded = (start + per_window * texel_floats).min(texels * texel_floats);
        if padded > end {
            let from = to + ((end - start) * 4) as u64;
            recorder.clear(context, weights, from, ((padded - end) * 4) as u64);
        }
    }
    recorder.copy_range(
        context,
        (params, (weight_floats * 4) as u64),
        (weights, BIAS_OFFSET),
        (c * 4) as u64,
    );
}

fn buffer_entry(binding: u32, buffer: &wgpu::Buffer) -> wgpu::BindGroupEntry<'_> {
    wgpu::BindGroupEntry {
        binding,
        resource: buffer.as_entire_binding(),
    }
}

fn texture_entry(binding: u32, view: &wgpu::TextureView) -> wgpu::BindGroupEntry<'_> {
    wgpu::BindGroupEntry {
        binding,
        resource: wgpu::BindingResource::TextureView(view),
    }
}
