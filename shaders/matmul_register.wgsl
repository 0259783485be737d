// C[M×N] = op(A)·B (+ bias), register-tiled: each invocation accumulates a
// TILE_M × TILE_N block in registers with no barriers. This is the variant for
// CPU-type adapters (lavapipe), where x is packed into SIMD lanes and a
// barrier costs a coroutine switch. Indices are clamped, writes guarded, so
// any shape is correct.
// `p` (MatmulParams, binding 0) is declared in matmul_common.wgsl.

@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

override TRANSPOSE_A: bool = false;
override WG_X: u32 = 8u;
override WG_Y: u32 = 4u;
// At most MAX_TILE each.
override TILE_M: u32 = 4u;
override TILE_N: u32 = 4u;
const MAX_TILE: u32 = 8u;

fn a_at(row: u32, kk: u32) -> f32 {
    if TRANSPOSE_A {
        return a[p.a_offset + kk * p.m + row];
    }
    return a[p.a_offset + row * p.k + kk];
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn matmul(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row0 = gid.y * TILE_M;
    let col0 = gid.x * TILE_N;
    if row0 >= p.m || col0 >= p.n {
        return;
    }
    var rows: array<u32, MAX_TILE>;
    var cols: array<u32, MAX_TILE>;
    for (var i = 0u; i < TILE_M; i++) {
        rows[i] = min(row0 + i, p.m - 1u);
    }
    for (var j = 0u; j < TILE_N; j++) {
        cols[j] = min(col0 + j, p.n - 1u);
    }
    var acc: array<array<f32, MAX_TILE>, MAX_TILE>;
    for (var kk = 0u; kk < p.k; kk++) {
        var bv: array<f32, MAX_TILE>;
        let b_row = p.b_offset + kk * p.n;
        for (var j = 0u; j < TILE_N; j++) {
            bv[j] = b[b_row + cols[j]];
        }
        for (var i = 0u; i < TILE_M; i++) {
            let av = a_at(rows[i], kk);
            for (var j = 0u; j < TILE_N; j++) {
                acc[i][j] = fma(av, bv[j], acc[i][j]);
            }
        }
    }
    for (var i = 0u; i < TILE_M; i++) {
        let row = row0 + i;
        for (var j = 0u; j < TILE_N; j++) {
            let col = col0 + j;
            if row < p.m && col < p.n {
                var v = acc[i][j];
                if p.has_bias != 0u {
                    v += b[p.bias_offset + col];
                }
                c[p.c_offset + row * p.n + col] = v;
            }
        }
    }
}
