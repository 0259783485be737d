// The step's two products as register-tiled shared-memory GEMMs: a
// workgroup of SIDE × SIDE invocations computes a TILE × TILE block of the
// output, PER × PER values per invocation, staging DEPTH-deep slices of
// both operands in workgroup memory, each invocation loading four
// neighbouring values of each (load_x4, load_w4, load_ds4: vec4 loads
// where the shape allows, see src/gpu/shader_modules.rs). Rows of X are
// gathered through the step's indices as the slices load; out-of-range
// values load as 0, so any D and C work.
//
//   tiled_scores:      scores = X[idx]·W + b            (rows × C)
//   tiled_weight_grad: partial_s = X[idx_s]ᵀ·dS_s       (D × C per split s)
//
// The weight gradient is split along the batch into `splits` runs of
// `split_rows` rows (a number the host derives from the step's shape, not
// from the device); each split writes its own partial, which
// tiled_reduce_grads sums in split order: deterministic, with no atomics.

@group(0) @binding(8) var<storage, read_write> scores_out: array<f32>;
@group(0) @binding(16) var<storage, read_write> weight_out: array<f32>;

const SIDE: u32 = 16u;
const PER: u32 = 4u;
const TILE: u32 = 64u;
const DEPTH: u32 = 16u;

// Slices [k][m] of the left operand and [k][n] of the right one.
var<workgroup> left_tile: array<f32, 1024>;
var<workgroup> right_tile: array<f32, 1024>;

// acc[i·PER + j] += Σ_k left[k][y + SIDE·i] · right[k][x + SIDE·j]: an
// invocation's outputs are SIDE apart, so neighbouring invocations read
// neighbouring words of workgroup memory.
fn multiply_slices(x: u32, y: u32, acc: ptr<function, array<f32, 16>>) {
    for (var k = 0u; k < DEPTH; k++) {
        var left: array<f32, PER>;
        var right: array<f32, PER>;
        for (var i = 0u; i < PER; i++) {
            left[i] = left_tile[k * TILE + y + SIDE * i];
            right[i] = right_tile[k * TILE + x + SIDE * i];
        }
        for (var i = 0u; i < PER; i++) {
            for (var j = 0u; j < PER; j++) {
                (*acc)[i * PER + j] = fma(left[i], right[j], (*acc)[i * PER + j]);
            }
        }
    }
}

@compute @workgroup_size(16, 16, 1)
fn tiled_scores(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let t = lid.y * SIDE + lid.x;
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    // Left slice: this invocation loads features k4..k4 + 3 of batch row m
    // (TILE rows × DEPTH features in all).
    let m = t / 4u;
    let k4 = (t % 4u) * 4u;
    let in_batch = row0 + m < p.rows;
    var start = RowStart(0u, 0u);
    if in_batch {
        start = row_start(row0 + m);
    }
    // Right slice: columns n4..n4 + 3 of W's row k (DEPTH rows × TILE columns).
    let k = t / 16u;
    let n4 = (t % 16u) * 4u;
    var acc: array<f32, 16>;
    let slices = (p.d + DEPTH - 1u) / DEPTH;
    for (var s = 0u; s < slices; s++) {
        let k0 = s * DEPTH;
        var x4 = vec4<f32>(0.0);
        if in_batch {
            x4 = load_x4(start, k0 + k4);
        }
        var w4 = vec4<f32>(0.0);
        if k0 + k < p.d {
            w4 = load_w4(k0 + k, col0 + n4);
        }
        for (var q = 0u; q < 4u; q++) {
            left_tile[(k4 + q) * TILE + m] = x4[q];
            right_tile[k * TILE + n4 + q] = w4[q];
        }
        workgroupBarrier();
        multiply_slices(lid.x, lid.y, &acc);
        workgroupBarrier();
    }
    for (var i = 0u; i < PER; i++) {
        let r = row0 + lid.y + SIDE * i;
        for (var j = 0u; j < PER; j++) {
            let col = col0 + lid.x + SIDE * j;
            if r < p.rows && col < p.c {
                scores_out[r * p.c + col] = acc[i * PER + j] + bias(col);
            }
        }
    }
}

@compute @workgroup_size(16, 16, 1)
fn tiled_weight_grad(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let t = lid.y * SIDE + lid.x;
    let feature0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    let split = wid.z;
    let begin = min(split * p.split_rows, p.rows);
    let end = min(begin + p.split_rows, p.rows);
    // Both slices: this invocation loads values m4..m4 + 3 of batch row k,
    // features of X's row and columns of dS's.
    let k = t / 16u;
    let m4 = (t % 16u) * 4u;
    var acc: array<f32, 16>;
    let slices = (end - begin + DEPTH - 1u) / DEPTH;
    for (var s = 0u; s < slices; s++) {
        let r = begin + s * DEPTH + k;
        var x4 = vec4<f32>(0.0);
        var ds4 = vec4<f32>(0.0);
        if r < end {
            x4 = load_x4(row_start(r), feature0 + m4);
            ds4 = load_ds4(r, col0 + m4);
        }
        for (var q = 0u; q < 4u; q++) {
            left_tile[k * TILE + m4 + q] = x4[q];
            right_tile[k * TILE + m4 + q] = ds4[q];
        }
        workgroupBarrier();
        multiply_slices(lid.x, lid.y, &acc);
        workgroupBarrier();
    }
    let base = split * p.d * p.c;
    for (var i = 0u; i < PER; i++) {
        let feature = feature0 + lid.y + SIDE * i;
        for (var j = 0u; j < PER; j++) {
            let col = col0 + lid.x + SIDE * j;
            if feature < p.d && col < p.c {
                weight_out[base + feature * p.c + col] = acc[i * PER + j];
            }
        }
    }
}
