// C[M×N] = op(A)·B (+ bias), shared-memory tiled: a workgroup stages
// TILE × TILE blocks of A and B in workgroup memory. The usual winner on
// discrete GPUs. Out-of-range tile elements load as zero.
// `p` (MatmulParams, binding 0) is declared in matmul_common.wgsl.

@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

override TRANSPOSE_A: bool = false;
const TILE: u32 = 16u;

var<workgroup> a_tile: array<f32, 256>;
var<workgroup> b_tile: array<f32, 256>;

fn a_at(row: u32, kk: u32) -> f32 {
    if TRANSPOSE_A {
        return a[p.a_offset + kk * p.m + row];
    }
    return a[p.a_offset + row * p.k + kk];
}

@compute @workgroup_size(16, 16, 1)
fn matmul(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let row = wid.y * TILE + lid.y;
    let col = wid.x * TILE + lid.x;
    let tiles = (p.k + TILE - 1u) / TILE;
    var acc = 0.0;
    for (var t = 0u; t < tiles; t++) {
        let ka = t * TILE + lid.x;
        let a_value = a_at(min(row, p.m - 1u), min(ka, p.k - 1u));
        a_tile[lid.y * TILE + lid.x] = select(0.0, a_value, row < p.m && ka < p.k);
        let kb = t * TILE + lid.y;
        let b_value = b[p.b_offset + min(kb, p.k - 1u) * p.n + min(col, p.n - 1u)];
        b_tile[lid.y * TILE + lid.x] = select(0.0, b_value, kb < p.k && col < p.n);
        workgroupBarrier();
        for (var kk = 0u; kk < TILE; kk++) {
            acc = fma(a_tile[lid.y * TILE + kk], b_tile[kk * TILE + lid.x], acc);
        }
        workgroupBarrier();
    }
    if row < p.m && col < p.n {
        if p.has_bias != 0u {
            acc += b[p.bias_offset + col];
        }
        c[p.c_offset + row * p.n + col] = acc;
    }
}
