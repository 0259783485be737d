// C[M×N] = op(A)·B (+ bias) from operands packed by `matmul_pack`: A as
// M rows of ⌈K/4⌉ texels, B as ⌈K/4⌉·4 rows of ⌈N/4⌉ texels, both
// zero-padded. Each invocation accumulates TILE_M rows × TILE_N4 texels of
// C in registers, loading TILE_M + 4·TILE_N4 texels per four k. The variant
// for CPU-type adapters: no barriers, and texture loads instead of
// storage-buffer loads.
// `p` (MatmulParams, binding 0) is declared in matmul_common.wgsl.

@group(0) @binding(1) var a_packed: texture_2d<f32>;
@group(0) @binding(2) var b_packed: texture_2d<f32>;
// The unpacked B buffer, read only for the bias.
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

const WG: u32 = 64u;
// Rows per tile, at most MAX_TILE_M: fewer where the output is small, so
// that more lanes share the work.
override TILE_M: u32 = 16u;
const MAX_TILE_M: u32 = 16u;
// Texels (4 columns each) per tile, at most MAX_TILE_N4.
override TILE_N4: u32 = 2u;
const MAX_TILE_N4: u32 = 2u;

@compute @workgroup_size(WG, 1, 1)
fn matmul(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let tile = gid.x + gid.y * groups.x * WG;
    let n_texels = (p.n + 3u) / 4u;
    let tiles_n = (n_texels + TILE_N4 - 1u) / TILE_N4;
    let row0 = (tile / tiles_n) * TILE_M;
    let texel0 = (tile % tiles_n) * TILE_N4;
    if row0 >= p.m {
        return;
    }
    var rows: array<u32, MAX_TILE_M>;
    for (var i = 0u; i < TILE_M; i++) {
        rows[i] = min(row0 + i, p.m - 1u);
    }
    var texels: array<u32, MAX_TILE_N4>;
    for (var j = 0u; j < TILE_N4; j++) {
        texels[j] = min(texel0 + j, n_texels - 1u);
    }
    var acc: array<array<vec4<f32>, MAX_TILE_N4>, MAX_TILE_M>;
    let k_texels = (p.k + 3u) / 4u;
    for (var kt = 0u; kt < k_texels; kt++) {
        var bv: array<array<vec4<f32>, MAX_TILE_N4>, 4>;
        for (var q = 0u; q < 4u; q++) {
            for (var j = 0u; j < TILE_N4; j++) {
                bv[q][j] = textureLoad(b_packed, vec2<u32>(texels[j], kt * 4u + q), 0);
            }
        }
        for (var i = 0u; i < TILE_M; i++) {
            let av = textureLoad(a_packed, vec2<u32>(kt, rows[i]), 0);
            for (var j = 0u; j < TILE_N4; j++) {
                var s = acc[i][j];
                s = fma(vec4<f32>(av.x), bv[0][j], s);
                s = fma(vec4<f32>(av.y), bv[1][j], s);
                s = fma(vec4<f32>(av.z), bv[2][j], s);
                s = fma(vec4<f32>(av.w), bv[3][j], s);
                acc[i][j] = s;
            }
        }
    }
    for (var i = 0u; i < TILE_M; i++) {
        let row = row0 + i;
        for (var j = 0u; j < TILE_N4; j++) {
            for (var e = 0u; e < 4u; e++) {
                let col = (texel0 + j) * 4u + e;
                if row < p.m && col < p.n {
                    var v = acc[i][j][e];
                    if p.has_bias != 0u {
                        v += b[p.bias_offset + col];
                    }
                    c[p.c_offset + row * p.n + col] = v;
                }
            }
        }
    }
}
