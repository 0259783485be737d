// Copies a matrix operand into an rgba32float texture, four consecutive
// columns per texel, zero-padded to whole texels and to `height` rows, so
// that `matmul_texture` reads whole texels with textureLoad (a gather on
// CPU-type adapters, where each storage-buffer load is a per-lane loop).

struct PackParams {
    // Rows and columns of the matrix as packed (op(A) for a transposed A).
    rows: u32,
    cols: u32,
    offset: u32,
    // The source is stored cols × rows.
    transposed: u32,
    texels: u32,
    height: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> p: PackParams;
@group(0) @binding(1) var<storage, read> source: array<f32>;
@group(0) @binding(2) var packed: texture_storage_2d<rgba32float, write>;

const WG: u32 = 64u;

@compute @workgroup_size(WG, 1, 1)
fn pack(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let texel = gid.x + gid.y * groups.x * WG;
    if texel >= p.texels * p.height {
        return;
    }
    let x = texel % p.texels;
    let y = texel / p.texels;
    var v = vec4<f32>(0.0);
    if y < p.rows {
        for (var i = 0u; i < 4u; i++) {
            let col = x * 4u + i;
            if col < p.cols {
                if p.transposed != 0u {
                    v[i] = source[p.offset + col * p.rows + y];
                } else {
                    v[i] = source[p.offset + y * p.cols + col];
                }
            }
        }
    }
    textureStore(packed, vec2<u32>(x, y), v);
}
