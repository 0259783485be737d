// The parameters every matmul variant takes (src/gpu/ops/matmul/mod.rs mirrors
// them): C[M×N] = op(A)·B (+ the bias row at bias_offset of B's buffer).

struct MatmulParams {
    m: u32,
    k: u32,
    n: u32,
    a_offset: u32,
    b_offset: u32,
    c_offset: u32,
    bias_offset: u32,
    has_bias: u32,
}

@group(0) @binding(0) var<uniform> p: MatmulParams;
