//! The tiled step's part of the host–WGSL contract: its parameters, the
//! entry points of its GEMM, loss (both row reductions) and reduction
//! modules, the constants both sides share, and which of its modules need
//! subgroup operations.

use super::{Field, HostEntry, Layout, Parsed, Size, kind_of, parse};
use crate::gpu::device::MIN_SUBGROUP_SIZE;
use crate::gpu::ops::loss_codes;
use crate::gpu::ops::tiled_step::{self, plan};
use crate::gpu::shader_modules::{TILED_GEMM, TILED_GEMM_VEC4, TILED_LOSS, TILED_LOSS_SUBGROUP};

fn tiled_params() -> Layout {
    layout!(tiled_step::TiledParams {
        rows,
        d,
        c,
        first,
        chunk_rows,
        flags,
        slot,
        splits,
        split_rows,
        reduce_from,
        margin,
        smoothing,
        inv_rows,
        pad0,
        pad1,
        pad2
    })
}

pub(super) fn host_entries() -> Vec<HostEntry> {
    use Size::Fixed;
    let entry = |entry, workgroup| HostEntry {
        entry,
        params: tiled_params(),
        workgroup,
    };
    let gemm = || {
        let side = plan::GEMM_SIDE;
        Some([Fixed(side), Fixed(side), Fixed(1)])
    };
    let by_override = || Some([Size::Override("WG".to_string()), Fixed(1), Fixed(1)]);
    vec![
        entry(tiled_step::SCORES, gemm()),
        entry(tiled_step::WEIGHT_GRAD, gemm()),
        entry(tiled_step::SCORES_VEC4, gemm()),
        entry(tiled_step::WEIGHT_GRAD_VEC4, gemm()),
        entry(tiled_step::LOSS, by_override()),
        entry(tiled_step::LOSS_SUBGROUP, by_override()),
        entry(tiled_step::STATS, by_override()),
        entry(
            tiled_step::REDUCE_GRADS,
            Some([Fixed(plan::REDUCE_WORKGROUP), Fixed(1), Fixed(1)]),
        ),
    ]
}

/// Each tiled module, parsed, with the constants it shares with the host.
pub(super) fn shared_constants() -> Vec<(Parsed, Vec<(&'static str, u32)>)> {
    let loss_constants = vec![
        ("HAS_CLASS_WEIGHTS", tiled_step::HAS_CLASS_WEIGHTS),
        ("REAL_TARGETS", tiled_step::REAL_TARGETS),
        ("GATHERED", tiled_step::GATHERED),
        ("SOFTMAX", loss_codes::SOFTMAX),
        ("HINGE", loss_codes::HINGE),
        ("SQUARED_HINGE", loss_codes::SQUARED_HINGE),
        ("MSE", loss_codes::MSE),
        ("LOGISTIC", loss_codes::LOGISTIC),
        ("MAX_WG", plan::MAX_LOSS_WORKGROUP),
    ];
    let mut workgroup_loss = loss_constants.clone();
    workgroup_loss.push(("REDUCE_WG", plan::REDUCE_WORKGROUP));
    let mut subgroup_loss = loss_constants;
    subgroup_loss.extend([
        ("MIN_SUBGROUP_SIZE", MIN_SUBGROUP_SIZE),
        (
            "MAX_SUBGROUPS",
            plan::MAX_LOSS_WORKGROUP / MIN_SUBGROUP_SIZE,
        ),
    ]);
    let parsed = |module: crate::gpu::shader_modules::Module| parse(module.name, module.source);
    vec![
        (
            parsed(TILED_GEMM),
            vec![
                ("GATHERED", tiled_step::GATHERED),
                ("SIDE", plan::GEMM_SIDE),
                ("TILE", plan::TILE as u32),
                ("PER", plan::PER as u32),
            ],
        ),
        (parsed(TILED_LOSS), workgroup_loss),
        (parsed(TILED_LOSS_SUBGROUP), subgroup_loss),
    ]
}

/// Whether `source` validates without the subgroup capability.
fn validates_without_subgroups(source: &str) -> bool {
    let module = naga::front::wgsl::parse_str(source).expect("parses");
    let capabilities = naga::valid::Capabilities::all()
        - naga::valid::Capabilities::SUBGROUP
        - naga::valid::Capabilities::SUBGROUP_BARRIER;
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), capabilities)
        .validate(&module)
        .is_ok()
}

/// The modules every adapter compiles use no subgroup operation: only the
/// subgroup loss, which the host selects where the device has them, does.
#[test]
fn only_the_subgroup_loss_needs_subgroups() {
    for module in [TILED_GEMM, TILED_GEMM_VEC4, TILED_LOSS] {
        assert!(
            validates_without_subgroups(module.source),
            "{} uses subgroup operations, but runs on adapters without them",
            module.name
        );
    }
    assert!(
        !validates_without_subgroups(TILED_LOSS_SUBGROUP.source),
        "{} validates without subgroups: it reduces nothing with them",
        TILED_LOSS_SUBGROUP.name
    );
}
