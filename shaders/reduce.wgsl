// Deterministic reductions (fixed order, no float atomics): sum or mean,
// column sums (the bias gradient), argmax per row, and accuracy.

struct ReduceParams {
    len: u32,
    cols: u32,
    slot: u32,
    pad: u32,
    scale: f32,
    pad1: u32,
    pad2: u32,
    pad3: u32,
}

const LANES: u32 = 256u;

@group(0) @binding(0) var<uniform> p: ReduceParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> out_index: array<u32>;
@group(0) @binding(4) var<storage, read> predicted: array<u32>;
@group(0) @binding(5) var<storage, read> labels: array<u32>;

var<workgroup> partial: array<f32, LANES>;

fn tree_reduce(lane: u32, value: f32) -> f32 {
    partial[lane] = value;
    workgroupBarrier();
    for (var width = LANES / 2u; width > 0u; width = width / 2u) {
        if lane < width {
            partial[lane] += partial[lane + width];
        }
        workgroupBarrier();
    }
    return partial[0];
}

// out[slot] = scale · Σ x[..len]; one workgroup, lane t sums t, t + LANES, …
@compute @workgroup_size(256, 1, 1)
fn sum(@builtin(local_invocation_id) lid: vec3<u32>) {
    var acc = 0.0;
    for (var i = lid.x; i < p.len; i += LANES) {
        acc += x[i];
    }
    let total = tree_reduce(lid.x, acc);
    if lid.x == 0u {
        out[p.slot] = total * p.scale;
    }
}

// out[slot + j] = Σ_i x[i·cols + j], rows summed in order. len = rows.
@compute @workgroup_size(64, 1, 1)
fn column_sums(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    if j >= p.cols {
        return;
    }
    var acc = 0.0;
    for (var i = 0u; i < p.len; i++) {
        acc += x[i * p.cols + j];
    }
    out[p.slot + j] = acc;
}

// out_index[i] = first index of the maximum of row i. len = rows.
@compute @workgroup_size(64, 1, 1)
fn argmax_rows(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= p.len {
        return;
    }
    let base = i * p.cols;
    var best = 0u;
    var best_value = x[base];
    for (var j = 1u; j < p.cols; j++) {
        let v = x[base + j];
        if v > best_value {
            best = j;
            best_value = v;
        }
    }
    out_index[i] = best;
}

// out[slot] = scale · #{i < len : predicted[i] = labels[i]}.
@compute @workgroup_size(256, 1, 1)
fn accuracy(@builtin(local_invocation_id) lid: vec3<u32>) {
    var hits = 0.0;
    for (var i = lid.x; i < p.len; i += LANES) {
        hits += select(0.0, 1.0, predicted[i] == labels[i]);
    }
    let total = tree_reduce(lid.x, hits);
    if lid.x == 0u {
        out[p.slot] = total * p.scale;
    }
}
