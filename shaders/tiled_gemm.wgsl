// The step's two products as register-tiled shared-memory GEMMs: a
// workgroup of SIDE × SIDE invocations computes a TILE × TILE block of the
// output, PER × PER values per invocation, staging DEPTH-deep slices of
// both operands in workgroup memory. Rows of X are gathered through the
// step's indices while the slices load; out-of-range elements load as 0,
// so any D and C work.
//
//   tiled_scores:      scores = X[idx]·W + b            (rows × C)
//   tiled_weight_grad: partial_s = X[idx_s]ᵀ·dS_s       (D × C per split s)
//
// The weight gradient is split along the batch into `splits` runs of
// `split_rows` rows (a number the host derives from the step's shape, not
// from the device); each split writes its own partial, which
// tiled_reduce_grads sums in split order: deterministic, with no atomics.

@group(0) @binding(7) var<storage, read> weights: array<f32>;
@group(0) @binding(8) var<storage, read_write> scores_out: array<f32>;
@group(0) @binding(15) var<storage, read> dscores: array<f32>;
@group(0) @binding(16) var<storage, read_write> weight_out: array<f32>;

const SIDE: u32 = 16u;
const PER: u32 = 4u;
const TILE: u32 = 64u;
const DEPTH: u32 = 16u;
// Invocations per workgroup, and elements each loads per operand slice.
const INVOCATIONS: u32 = 256u;
const LOADS: u32 = 4u;

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
    // This invocation loads rows t / DEPTH + (INVOCATIONS / DEPTH)·l of the
    // slice at depth t % DEPTH: DEPTH neighbouring features of each row.
    var starts: array<RowStart, LOADS>;
    for (var l = 0u; l < LOADS; l++) {
        let r = row0 + t / DEPTH + (INVOCATIONS / DEPTH) * l;
        if r < p.rows {
            starts[l] = row_start(r);
        }
    }
    var acc: array<f32, 16>;
    let slices = (p.d + DEPTH - 1u) / DEPTH;
    for (var s = 0u; s < slices; s++) {
        let k0 = s * DEPTH;
        for (var l = 0u; l < LOADS; l++) {
            let m = t / DEPTH + (INVOCATIONS / DEPTH) * l;
            let k = t % DEPTH;
            var value = 0.0;
            if row0 + m < p.rows && k0 + k < p.d {
                value = read_x(starts[l], k0 + k);
            }
            left_tile[k * TILE + m] = value;
        }
        for (var l = 0u; l < LOADS; l++) {
            let e = t + INVOCATIONS * l;
            let k = e / TILE;
            let n = e % TILE;
            var value = 0.0;
            if k0 + k < p.d && col0 + n < p.c {
                value = weights[(k0 + k) * p.c + col0 + n];
            }
            right_tile[k * TILE + n] = value;
        }
        workgroupBarrier();
        multiply_slices(lid.x, lid.y, &acc);
        workgroupBarrier();
    }
    let bias_at = p.d * p.c;
    for (var i = 0u; i < PER; i++) {
        let r = row0 + lid.y + SIDE * i;
        for (var j = 0u; j < PER; j++) {
            let col = col0 + lid.x + SIDE * j;
            if r < p.rows && col < p.c {
                scores_out[r * p.c + col] = acc[i * PER + j] + weights[bias_at + col];
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
    var acc: array<f32, 16>;
    let slices = (end - begin + DEPTH - 1u) / DEPTH;
    for (var s = 0u; s < slices; s++) {
        let r0 = begin + s * DEPTH;
        // Both slices load TILE neighbouring values of DEPTH batch rows:
        // features of X's rows, columns of dS's.
        for (var l = 0u; l < LOADS; l++) {
            let e = t + INVOCATIONS * l;
            let k = e / TILE;
            let m = e % TILE;
            var value = 0.0;
            if r0 + k < end && feature0 + m < p.d {
                value = read_x(row_start(r0 + k), feature0 + m);
            }
            left_tile[k * TILE + m] = value;
            var ds = 0.0;
            if r0 + k < end && col0 + m < p.c {
                ds = dscores[(r0 + k) * p.c + col0 + m];
            }
            right_tile[k * TILE + m] = ds;
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
