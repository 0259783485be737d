// The step's reductions over the batch, each in a fixed order.
// tiled_stats: the batch's mean loss and correct count from the rows'
// (tiled_loss.wgsl), summed by one workgroup in the fixed tree of
// tiled_loss_workgroup.wgsl's row_sum. tiled_reduce_grads: dW as the sum
// of the splits' partials in split order, and db as the column sums of dS
// in row order, one invocation per gradient value: the same sums in the
// same order on every device. With one split tiled_weight_grad writes dW
// itself and this kernel starts at `reduce_from` = D·C, writing db only.

@group(0) @binding(13) var<storage, read> row_stats: array<f32>;
@group(0) @binding(14) var<storage, read_write> stats: array<f32>;
@group(0) @binding(15) var<storage, read> dscores: array<f32>;
@group(0) @binding(17) var<storage, read> partials: array<f32>;
@group(0) @binding(18) var<storage, read_write> grads: array<f32>;

const REDUCE_WG: u32 = 256u;

@compute @workgroup_size(256, 1, 1)
fn tiled_reduce_grads(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let weight_values = p.d * p.c;
    let total = weight_values + p.c;
    for (var i = p.reduce_from + gid.x; i < total; i += groups.x * REDUCE_WG) {
        var sum = 0.0;
        if i < weight_values {
            for (var s = 0u; s < p.splits; s++) {
                sum += partials[s * weight_values + i];
            }
        } else {
            let j = i - weight_values;
            for (var r = 0u; r < p.rows; r++) {
                sum += dscores[r * p.c + j];
            }
        }
        grads[i] = sum;
    }
}

@compute @workgroup_size(WG, 1, 1)
fn tiled_stats(@builtin(local_invocation_id) lid: vec3<u32>) {
    let lanes = Lanes(lid.x);
    var loss = 0.0;
    var correct = 0.0;
    for (var i = lanes.lane; i < p.rows; i += WG) {
        loss += row_stats[2u * i];
        correct += row_stats[2u * i + 1u];
    }
    let loss_sum = row_sum(lanes, loss);
    let correct_sum = row_sum(lanes, correct);
    if lanes.lane == 0u {
        stats[2u * p.slot] = loss_sum * p.inv_rows;
        stats[2u * p.slot + 1u] = correct_sum;
    }
}
