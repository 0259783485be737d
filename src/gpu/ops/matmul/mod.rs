//! The matrix multiply `out = op(A)·B (+ bias)` of [`MatmulSpec`]
//! (shaders/matmul_*.wgsl), in the variant the context chose: register
//! tiles from packed operand textures ([`packed`]), register tiles read from
//! the storage buffers, or workgroup shared-memory tiles.

pub(crate) mod packed;

pub(crate) use packed::PackedScratch;

use crate::Result;
use crate::backend::{MatmulSpec, checks};
use crate::gpu::device::{Access, Device, EntryPoint, GpuBuffer, MatmulVariant, u32_of};
use crate::gpu::shader_modules;
use bytemuck::{Pod, Zeroable};

/// Register tile and workgroup shape of the register-tiled matmul.
pub(crate) const REGISTER_TILE: (u32, u32) = (4, 4);
pub(crate) const REGISTER_WORKGROUP: (u32, u32) = (8, 4);
/// Output tile of the shared-memory kernel, one invocation per element.
pub(crate) const SHARED_TILE: u32 = 16;

/// `MatmulParams` of shaders/matmul_common.wgsl, shared by every variant.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub(crate) struct MatmulParams {
    pub(crate) m: u32,
    pub(crate) k: u32,
    pub(crate) n: u32,
    pub(crate) a_offset: u32,
    pub(crate) b_offset: u32,
    pub(crate) c_offset: u32,
    pub(crate) bias_offset: u32,
    pub(crate) has_bias: u32,
}

const BINDINGS: &[(u32, Access)] = &[(1, Access::Read), (2, Access::Read), (3, Access::ReadWrite)];

pub(crate) const REGISTER_TILED: EntryPoint = EntryPoint {
    module: shader_modules::MATMUL_REGISTER,
    entry: "matmul",
    storage: BINDINGS,
};
pub(crate) const SHARED_TILED: EntryPoint = EntryPoint {
    module: shader_modules::MATMUL_TILED,
    entry: "matmul",
    storage: BINDINGS,
};

/// Records `out = op(a)·b (+ bias)` as `spec` describes, after checking
/// `spec` against the buffers' lengths.
pub(crate) fn call_matmul(
    device: &Device,
    packed: &mut PackedScratch,
    (a, b, out): (&GpuBuffer, &GpuBuffer, &GpuBuffer),
    spec: &MatmulSpec,
) -> Result<()> {
    checks::matmul(spec, a.len, b.len, out.len)?;
    let op = "matmul";
    let params = MatmulParams {
        m: u32_of(op, "M", spec.m)?,
        k: u32_of(op, "K", spec.k)?,
        n: u32_of(op, "N", spec.n)?,
        a_offset: u32_of(op, "A offset", spec.a_offset)?,
        b_offset: u32_of(op, "B offset", spec.b_offset)?,
        c_offset: u32_of(op, "output offset", spec.out_offset)?,
        bias_offset: u32_of(op, "bias offset", spec.bias_offset.unwrap_or(0))?,
        has_bias: spec.bias_offset.is_some() as u32,
    };
    let transpose = ("TRANSPOSE_A", spec.transpose_a as u32);
    let (m, n) = (spec.m as u32, spec.n as u32);
    let bindings = [&a.buffer, &b.buffer, &out.buffer];
    match device.context().matmul {
        variant @ (MatmulVariant::RegisterTiled | MatmulVariant::RegisterTiledBuffers) => {
            if variant == MatmulVariant::RegisterTiled
                && packed.matmul(device, (a, b, out), spec, &params)?
            {
                return Ok(());
            }
            let (tile_m, tile_n) = REGISTER_TILE;
            let (wg_x, wg_y) = REGISTER_WORKGROUP;
            let overrides = [
                transpose,
                ("TILE_M", tile_m),
                ("TILE_N", tile_n),
                ("WG_X", wg_x),
                ("WG_Y", wg_y),
            ];
            let groups = [
                n.div_ceil(tile_n).div_ceil(wg_x),
                m.div_ceil(tile_m).div_ceil(wg_y),
                1,
            ];
            device.dispatch(&REGISTER_TILED, &overrides, &params, &bindings, groups)
        }
        MatmulVariant::SharedTiled => {
            let groups = [n.div_ceil(SHARED_TILE), m.div_ceil(SHARED_TILE), 1];
            device.dispatch(&SHARED_TILED, &[transpose], &params, &bindings, groups)
        }
    }
}
