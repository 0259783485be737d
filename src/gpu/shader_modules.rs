//! The WGSL modules: each one's source and whether the host checks every
//! index its kernels use. Compiled by the pipeline cache in `gpu::device`.

/// A WGSL module: its source and whether the host validates every index
/// its kernels use (then it is compiled without runtime bounds checks).
/// A source is its files under shaders/ joined in order, shared parts
/// first: the loss kernels and the fused step all start with
/// loss_math.wgsl, the one copy of the per-row loss formulas.
#[derive(Clone, Copy)]
pub(crate) struct Module {
    pub name: &'static str,
    pub source: &'static str,
    pub trusted: bool,
}

pub(crate) const MATMUL_REGISTER: Module = Module {
    name: "matmul_register",
    source: concat!(
        include_str!("../../shaders/matmul_common.wgsl"),
        include_str!("../../shaders/matmul_register.wgsl")
    ),
    trusted: true,
};
pub(crate) const MATMUL_PACK: Module = Module {
    name: "matmul_pack",
    source: include_str!("../../shaders/matmul_pack.wgsl"),
    trusted: true,
};
pub(crate) const MATMUL_TEXTURE: Module = Module {
    name: "matmul_texture",
    source: concat!(
        include_str!("../../shaders/matmul_common.wgsl"),
        include_str!("../../shaders/matmul_texture.wgsl")
    ),
    trusted: true,
};
pub(crate) const MATMUL_TILED: Module = Module {
    name: "matmul_tiled",
    source: concat!(
        include_str!("../../shaders/matmul_common.wgsl"),
        include_str!("../../shaders/matmul_tiled.wgsl")
    ),
    trusted: true,
};
pub(crate) const SOFTMAX_XENT: Module = Module {
    name: "softmax_xent",
    source: concat!(
        include_str!("../../shaders/loss_math.wgsl"),
        include_str!("../../shaders/loss_common.wgsl"),
        include_str!("../../shaders/softmax_xent.wgsl")
    ),
    trusted: true,
};
pub(crate) const HINGE: Module = Module {
    name: "hinge",
    source: concat!(
        include_str!("../../shaders/loss_math.wgsl"),
        include_str!("../../shaders/loss_common.wgsl"),
        include_str!("../../shaders/hinge.wgsl")
    ),
    trusted: true,
};
pub(crate) const REGRESSION: Module = Module {
    name: "regression",
    source: concat!(
        include_str!("../../shaders/loss_math.wgsl"),
        include_str!("../../shaders/loss_common.wgsl"),
        include_str!("../../shaders/regression.wgsl")
    ),
    trusted: true,
};
pub(crate) const REDUCE: Module = Module {
    name: "reduce",
    source: include_str!("../../shaders/reduce.wgsl"),
    trusted: true,
};
pub(crate) const OPTIM: Module = Module {
    name: "optim",
    source: include_str!("../../shaders/optim.wgsl"),
    trusted: true,
};
pub(crate) const VECTOR: Module = Module {
    name: "vector",
    source: include_str!("../../shaders/vector.wgsl"),
    trusted: true,
};
// Generated per shape (src/gpu/fused_source.rs): `source` is only the
// template (loss_math.wgsl and fused_step.wgsl) that the generated kernels
// are appended to. Reads rows named by device data, so it keeps wgpu's
// bounds checks.
pub(crate) const FUSED_STEP: Module = Module {
    name: "fused_step",
    source: crate::gpu::fused_source::TEMPLATE,
    trusted: false,
};
// The tiled linear step's GEMMs, with scalar loads (any shape) or vec4
// loads (D and C multiples of 4), and its loss and reductions. They read
// rows named by device data, so they keep wgpu's bounds checks.
pub(crate) const TILED_GEMM: Module = Module {
    name: "tiled_gemm",
    source: concat!(
        include_str!("../../shaders/tiled_common.wgsl"),
        include_str!("../../shaders/tiled_loads_scalar.wgsl"),
        include_str!("../../shaders/tiled_gemm.wgsl")
    ),
    trusted: false,
};
pub(crate) const TILED_GEMM_VEC4: Module = Module {
    name: "tiled_gemm_vec4",
    source: concat!(
        include_str!("../../shaders/tiled_common.wgsl"),
        include_str!("../../shaders/tiled_loads_vec4.wgsl"),
        include_str!("../../shaders/tiled_gemm.wgsl")
    ),
    trusted: false,
};
// The loss rows reduced in workgroup memory (any adapter), with the
// step's batch reductions, which sum the same way.
pub(crate) const TILED_LOSS: Module = Module {
    name: "tiled_loss",
    source: concat!(
        include_str!("../../shaders/loss_math.wgsl"),
        include_str!("../../shaders/tiled_common.wgsl"),
        include_str!("../../shaders/tiled_loss.wgsl"),
        include_str!("../../shaders/tiled_loss_workgroup.wgsl"),
        include_str!("../../shaders/tiled_reduce.wgsl")
    ),
    trusted: false,
};
// The loss rows reduced with subgroup operations: compiled only on devices
// opened with the subgroup feature.
pub(crate) const TILED_LOSS_SUBGROUP: Module = Module {
    name: "tiled_loss_subgroup",
    source: concat!(
        include_str!("../../shaders/loss_math.wgsl"),
        include_str!("../../shaders/tiled_common.wgsl"),
        include_str!("../../shaders/tiled_loss.wgsl"),
        include_str!("../../shaders/tiled_loss_subgroup.wgsl")
    ),
    trusted: false,
};
// Reads rows named by device data, so it keeps wgpu's bounds checks.
pub(crate) const GATHER: Module = Module {
    name: "gather",
    source: include_str!("../../shaders/gather.wgsl"),
    trusted: false,
};

/// Every fixed module, for the compile-everything test (the generated
/// fused-step modules have their own).
pub const ALL_MODULES: [(&str, &str); 15] = [
    (MATMUL_REGISTER.name, MATMUL_REGISTER.source),
    (MATMUL_PACK.name, MATMUL_PACK.source),
    (MATMUL_TEXTURE.name, MATMUL_TEXTURE.source),
    (MATMUL_TILED.name, MATMUL_TILED.source),
    (SOFTMAX_XENT.name, SOFTMAX_XENT.source),
    (HINGE.name, HINGE.source),
    (REGRESSION.name, REGRESSION.source),
    (REDUCE.name, REDUCE.source),
    (OPTIM.name, OPTIM.source),
    (VECTOR.name, VECTOR.source),
    (GATHER.name, GATHER.source),
    (TILED_GEMM.name, TILED_GEMM.source),
    (TILED_GEMM_VEC4.name, TILED_GEMM_VEC4.source),
    (TILED_LOSS.name, TILED_LOSS.source),
    (TILED_LOSS_SUBGROUP.name, TILED_LOSS_SUBGROUP.source),
];
