// The step's gradient from the weight-gradient partials: dW as the sum of
// the splits' partials in split order, and db as the column sums of dS in
// row order, one invocation per gradient value: the same sums in the same
// order on every device. With one split tiled_weight_grad writes dW itself
// and this kernel starts at `reduce_from` = D·C, writing db only.

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
