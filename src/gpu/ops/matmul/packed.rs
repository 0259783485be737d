//! The register-tiled matmul for CPU-type adapters, from packed operands:
//! op(A) and B are first copied into rgba32float textures (`matmul_pack`),
//! then `matmul_texture` reads whole texels. On lavapipe a texture load is a
//! gather while a storage-buffer load is a loop over the SIMD lanes, so the
//! copy pays for itself many times over. Textures are cached by role and
//! size; shapes beyond the texture limits use the storage-buffer kernel.

use crate::Result;
use crate::backend::MatmulSpec;
use crate::gpu::device::{
    Access, BindGroupCache, Device, EntryPoint, GpuBuffer, Kernel, params_entry,
};
use crate::gpu::shader_modules;
use bytemuck::{Pod, Zeroable};
use std::collections::HashMap;

/// Invocations per workgroup of both kernels (`WG` in the shaders).
pub(crate) const WORKGROUP: u32 = 64;
/// Rows of C per invocation (TILE_M in the shader): the most, unless that
/// leaves fewer than `MIN_TILES` invocations.
const TILE_M: u32 = 16;
const SMALL_TILE_M: u32 = 4;
const MIN_TILES: u32 = 256;
const MAX_CACHED: usize = 32;

/// `PackParams` of shaders/matmul_pack.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub(crate) struct PackParams {
    pub(crate) rows: u32,
    pub(crate) cols: u32,
    pub(crate) offset: u32,
    pub(crate) transposed: u32,
    pub(crate) texels: u32,
    pub(crate) height: u32,
    pub(crate) pad0: u32,
    pub(crate) pad1: u32,
}

/// Copies one operand into a texture, whole texels per row.
pub(crate) const PACK: EntryPoint = EntryPoint {
    module: shader_modules::MATMUL_PACK,
    entry: "pack",
    storage: &[(1, Access::Read), (2, Access::StorageTexture2d)],
};
/// The register-tiled matmul over the packed operands (B's buffer is bound
/// too, for the bias row).
pub(crate) const TEXTURE_TILED: EntryPoint = EntryPoint {
    module: shader_modules::MATMUL_TEXTURE,
    entry: "matmul",
    storage: &[
        (1, Access::Texture2d),
        (2, Access::Texture2d),
        (3, Access::Read),
        (4, Access::ReadWrite),
    ],
};

/// Which operand a packed texture holds (both are needed at once).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Role {
    A,
    B,
}

#[derive(Default)]
pub(crate) struct PackedScratch {
    textures: HashMap<(Role, u32, u32), (wgpu::Texture, wgpu::TextureView)>,
    bind_groups: BindGroupCache<(&'static str, Vec<wgpu::Buffer>, Vec<wgpu::Texture>), MAX_CACHED>,
}

/// Workgroups covering `items` invocations, split over x and y so that
/// neither exceeds the per-dimension limit.
fn workgroups(items: u32, max: u32) -> [u32; 3] {
    let groups = items.div_ceil(WORKGROUP);
    if groups <= max {
        [groups, 1, 1]
    } else {
        [max, groups.div_ceil(max), 1]
    }
}

impl PackedScratch {
    fn texture(
        &mut self,
        device: &Device,
        role: Role,
        width: u32,
        height: u32,
    ) -> wgpu::TextureView {
        let (_, view) = self
            .textures
            .entry((role, width, height))
            .or_insert_with(|| {
                let texture = device.create_texture(&wgpu::TextureDescriptor {
                    label: Some("packed matmul operand"),
                    size: wgpu::Extent3d {
                        width,
                        height,
                        depth_or_array_layers: 1,
                    },
                    mip_level_count: 1,
                    sample_count: 1,
                    dimension: wgpu::TextureDimension::D2,
                    format: wgpu::TextureFormat::Rgba32Float,
                    usage: wgpu::TextureUsages::TEXTURE_BINDING
                        | wgpu::TextureUsages::STORAGE_BINDING
                        | wgpu::TextureUsages::COPY_DST,
                    view_formats: &[],
                });
                let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
                (texture, view)
            });
        view.clone()
    }

    fn bind_group(
        &mut self,
        device: &Device,
        kernel: &Kernel,
        buffers: &[&wgpu::Buffer],
        views: &[&wgpu::TextureView],
        entries: &[wgpu::BindGroupEntry<'_>],
    ) -> wgpu::BindGroup {
        let key = (
            kernel.name,
            buffers.iter().map(|&b| b.clone()).collect(),
            views.iter().map(|v| v.texture().clone()).collect(),
        );
        self.bind_groups
            .get_or_create(key, || device.create_bind_group(kernel, entries))
    }

    /// Packs `rows × cols` (stored transposed when `transposed`) from
    /// `source` at `offset` into a `texels × height` texture.
    #[allow(clippy::too_many_arguments)]
    fn pack(
        &mut self,
        device: &Device,
        role: Role,
        source: &wgpu::Buffer,
        (rows, cols, offset, transposed): (u32, u32, u32, bool),
        height: u32,
    ) -> Result<wgpu::TextureView> {
        let texels = cols.div_ceil(4);
        let view = self.texture(device, role, texels, height);
        let context = device.context().clone();
        // Rows already laid out as whole texels at a copyable pitch: a plain copy.
        let copy_alignment = wgpu::COPY_BYTES_PER_ROW_ALIGNMENT / 4;
        if !transposed && cols % copy_alignment == 0 && offset % 4 == 0 && rows == height {
            device.recorder().copy_to_texture(
                &context,
                source,
                offset as u64 * 4,
                cols * 4,
                view.texture(),
            );
            return Ok(view);
        }
        let kernel = device.kernel(&PACK, &[]);
        let params = PackParams {
            rows,
            cols,
            offset,
            transposed: transposed as u32,
            texels,
            height,
            pad0: 0,
            pad1: 0,
        };
        let arena = device.recorder().arena_buffer.clone();
        let entries = [
            params_entry(&arena),
            wgpu::BindGroupEntry {
                binding: 1,
                resource: source.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 2,
                resource: wgpu::BindingResource::TextureView(&view),
            },
        ];
        let group = self.bind_group(device, &kernel, &[source], &[&view], &entries);
        let mut recorder = device.recorder();
        let offset = recorder.push_params(&context, bytemuck::bytes_of(&params))?;
        let max = context.limits.max_compute_workgroups_per_dimension;
        recorder.record(
            &context,
            &kernel,
            offset,
            &group,
            workgroups(texels * height, max),
        );
        Ok(view)
    }

    /// Records `out = op(a)·b (+ bias)` from packed operands, or returns
    /// false (recording nothing) where the packed textures would exceed the
    /// adapter's limits. `params` is the shader's MatmulParams, already
    /// checked against the buffers.
    pub(crate) fn matmul(
        &mut self,
        device: &Device,
        (a, b, out): (&GpuBuffer, &GpuBuffer, &GpuBuffer),
        spec: &MatmulSpec,
        params: &impl Pod,
    ) -> Result<bool> {
        let context = device.context().clone();
        let limits = &context.limits;
        let side = limits.max_texture_dimension_2d as usize;
        let (m, k, n) = (spec.m, spec.k, spec.n);
        let k_rows = k.div_ceil(4) * 4;
        let fits = m <= side && k_rows <= side && n.div_ceil(4) <= side;
        if !fits || m == 0 || n == 0 || k == 0 {
            return Ok(false);
        }
        let (m, k, n) = (m as u32, k as u32, n as u32);
        let a_view = self.pack(
            device,
            Role::A,
            &a.buffer,
            (m, k, spec.a_offset as u32, spec.transpose_a),
            m,
        )?;
        let b_view = self.pack(
            device,
            Role::B,
            &b.buffer,
            (k, n, spec.b_offset as u32, false),
            k_rows as u32,
        )?;
        // Narrow outputs take one texel per tile, so that lanes are not idle.
        let tile_n4: u32 = if n <= 4 { 1 } else { 2 };
        let tiles_n = n.div_ceil(4).div_ceil(tile_n4);
        let tile_m = if m.div_ceil(TILE_M) * tiles_n >= MIN_TILES {
            TILE_M
        } else {
            SMALL_TILE_M
        };
        let kernel = device.kernel(&TEXTURE_TILED, &[("TILE_M", tile_m), ("TILE_N4", tile_n4)]);
        let arena = device.recorder().arena_buffer.clone();
        let entries = [
            params_entry(&arena),
            wgpu::BindGroupEntry {
                binding: 1,
                resource: wgpu::BindingResource::TextureView(&a_view),
            },
            wgpu::BindGroupEntry {
                binding: 2,
                resource: wgpu::BindingResource::TextureView(&b_view),
            },
            wgpu::BindGroupEntry {
                binding: 3,
                resource: b.buffer.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 4,
                resource: out.buffer.as_entire_binding(),
            },
        ];
        let group = self.bind_group(
            device,
            &kernel,
            &[&b.buffer, &out.buffer],
            &[&a_view, &b_view],
            &entries,
        );
        let tiles = m.div_ceil(tile_m) * tiles_n;
        let mut recorder = device.recorder();
        let offset = recorder.push_params(&context, bytemuck::bytes_of(params))?;
        let max = limits.max_compute_workgroups_per_dimension;
        recorder.record(&context, &kernel, offset, &group, workgroups(tiles, max));
        Ok(true)
    }
}
