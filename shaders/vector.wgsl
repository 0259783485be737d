// Elementwise vector operations, one invocation per element (no reduction,
// so every element is computed alike whatever the dispatch).

struct AxpbyParams {
    len: u32,
    pad: u32,
    alpha: f32,
    beta: f32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: AxpbyParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

// y[i] = alpha·x[i] + beta·y[i]; with beta = 0, y is not read (NaN in y does
// not reach the result). Dispatched over (x, y) workgroups when len needs
// more than the adapter's workgroups per dimension.
@compute @workgroup_size(WG, 1, 1)
fn axpby(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let i = gid.x + gid.y * groups.x * WG;
    if i >= p.len {
        return;
    }
    var value = p.alpha * x[i];
    if p.beta != 0.0 {
        value += p.beta * y[i];
    }
    y[i] = value;
}
