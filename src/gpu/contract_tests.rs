//! The contract between the host and the WGSL, read back from the shaders
//! with naga and checked against the Rust side, with no GPU needed: a
//! mismatch otherwise shows only on a device, and only where a parity test
//! happens to exercise it.
//!
//! - Every parameter struct the host writes at binding 0 has the WGSL
//!   struct's members in order, at the same offsets, of the same sizes and
//!   scalar kinds, and the same total size.
//! - Every binding an entry point uses is in the host's table for it, and
//!   every binding in that table is declared in group 0 with the kind the
//!   host lays out (read-only or read-write storage, uniform, sampled or
//!   storage texture); every entry point of every module is in some table.
//! - Workgroup sizes that the host's dispatch counts assume are the
//!   shader's, or the override the host sets.
//! - Flag bits and codes shared by both sides have the same value.

use super::device::{Access, EntryPoint};
use super::fused_source;
use super::ops::matmul::{self, packed};
use super::ops::{fused_step, gather, loss, loss_codes, optim, reduce, vector};
use super::shader_modules::ALL_MODULES;
use naga::{AddressSpace, ImageClass, ImageDimension, ScalarKind, StorageAccess, TypeInner};

/// One field of a host struct: name, byte offset, byte size, scalar kind.
#[derive(Debug, PartialEq)]
struct Field {
    name: String,
    offset: u32,
    size: u32,
    kind: ScalarKind,
}

/// A struct's layout, as the host declares it or as the WGSL has it.
#[derive(Debug, PartialEq)]
struct Layout {
    size: u32,
    fields: Vec<Field>,
}

/// The WGSL scalar kind of a host field's type.
trait Scalar {
    const KIND: ScalarKind;
}
impl Scalar for u32 {
    const KIND: ScalarKind = ScalarKind::Uint;
}
impl Scalar for f32 {
    const KIND: ScalarKind = ScalarKind::Float;
}
fn kind_of<T: Scalar>(_: &T) -> ScalarKind {
    T::KIND
}

/// The layout of `$ty` from its listed fields. The fields of a `Pod` struct
/// cover every byte, so a field left out of the list shows as a size
/// mismatch (checked in `host_layout_is_complete`).
macro_rules! layout {
    ($ty:ty { $($field:ident),* $(,)? }) => {{
        let value: $ty = bytemuck::Zeroable::zeroed();
        Layout {
            size: std::mem::size_of::<$ty>() as u32,
            fields: vec![$(Field {
                name: stringify!($field).to_string(),
                offset: std::mem::offset_of!($ty, $field) as u32,
                size: std::mem::size_of_val(&value.$field) as u32,
                kind: kind_of(&value.$field),
            }),*],
        }
    }};
}

// The tiled step's entries and constants; declared after `layout!`, which
// it uses.
mod tiled;

fn matmul_params() -> Layout {
    layout!(matmul::MatmulParams {
        m,
        k,
        n,
        a_offset,
        b_offset,
        c_offset,
        bias_offset,
        has_bias
    })
}
fn pack_params() -> Layout {
    layout!(packed::PackParams {
        rows,
        cols,
        offset,
        transposed,
        texels,
        height,
        pad0,
        pad1
    })
}
fn loss_params() -> Layout {
    layout!(loss::LossParams {
        rows,
        cols,
        slot,
        flags,
        margin,
        smoothing,
        inv_rows,
        pad
    })
}
fn reduce_params() -> Layout {
    layout!(reduce::ReduceParams {
        len,
        cols,
        slot,
        pad,
        scale,
        pad1,
        pad2,
        pad3
    })
}
fn gather_params() -> Layout {
    layout!(gather::GatherParams {
        count,
        cols,
        first,
        chunk_rows,
        group_start,
        group_end,
        copy_labels,
        out_row_offset
    })
}
fn update_params() -> Layout {
    layout!(optim::UpdateParams {
        len,
        weight_len,
        first_step,
        flags,
        lr,
        step_size,
        bias_correction2_sqrt,
        decay_factor,
        momentum,
        dampening,
        alpha,
        eps,
        beta1,
        beta2,
        l1,
        l2
    })
}
fn axpby_params() -> Layout {
    layout!(vector::AxpbyParams {
        len,
        pad,
        alpha,
        beta
    })
}
fn step_params() -> Layout {
    layout!(fused_step::StepParams {
        rows,
        d,
        layer_rows,
        first,
        flags,
        slot,
        margin,
        smoothing,
        inv_rows,
        pad0,
        pad1,
        pad2
    })
}
/// One dimension of a workgroup size: a number, or an override's name.
#[derive(Debug, PartialEq)]
enum Size {
    Fixed(u32),
    Override(String),
}

/// Everything the host assumes about one entry point.
struct HostEntry {
    entry: EntryPoint,
    params: Layout,
    /// What the host's dispatch counts rely on; None for kernels that run
    /// one workgroup whatever its size.
    workgroup: Option<[Size; 3]>,
}

fn host_entries() -> Vec<HostEntry> {
    use Size::Fixed;
    let by_override = |name: &str| Size::Override(name.to_string());
    let entry = |entry, params, workgroup| HostEntry {
        entry,
        params,
        workgroup,
    };
    let per_item = Some([Fixed(reduce::PER_ITEM_WORKGROUP), Fixed(1), Fixed(1)]);
    let packed = || Some([Fixed(packed::WORKGROUP), Fixed(1), Fixed(1)]);
    let lanes = fused_step::LANES as u32;
    let mut entries = vec![
        entry(
            matmul::REGISTER_TILED,
            matmul_params(),
            Some([by_override("WG_X"), by_override("WG_Y"), Fixed(1)]),
        ),
        entry(
            matmul::SHARED_TILED,
            matmul_params(),
            Some([
                Fixed(matmul::SHARED_TILE),
                Fixed(matmul::SHARED_TILE),
                Fixed(1),
            ]),
        ),
        entry(packed::PACK, pack_params(), packed()),
        entry(packed::TEXTURE_TILED, matmul_params(), packed()),
        entry(loss::SOFTMAX_CROSS_ENTROPY, loss_params(), None),
        entry(loss::HINGE, loss_params(), None),
        entry(loss::MEAN_SQUARED_ERROR, loss_params(), None),
        entry(loss::LOGISTIC, loss_params(), None),
        entry(reduce::SUM, reduce_params(), None),
        entry(reduce::COLUMN_SUMS, reduce_params(), per_item),
        entry(
            reduce::ARGMAX_ROWS,
            reduce_params(),
            Some([Fixed(reduce::PER_ITEM_WORKGROUP), Fixed(1), Fixed(1)]),
        ),
        entry(reduce::ACCURACY, reduce_params(), None),
        entry(
            gather::GATHER,
            gather_params(),
            Some([Fixed(gather::WORKGROUP), Fixed(1), Fixed(1)]),
        ),
        entry(
            optim::UPDATE,
            update_params(),
            Some([by_override("WG"), Fixed(1), Fixed(1)]),
        ),
        entry(
            vector::AXPBY,
            axpby_params(),
            Some([by_override("WG"), Fixed(1), Fixed(1)]),
        ),
        entry(
            fused_step::SCORES,
            step_params(),
            Some([Fixed(lanes), Fixed(1), Fixed(1)]),
        ),
        entry(
            fused_step::WEIGHT_GRAD,
            step_params(),
            Some([Fixed(lanes), Fixed(1), Fixed(1)]),
        ),
    ];
    entries.extend(tiled::host_entries());
    entries
}

/// A module parsed and validated, as `name` for messages.
struct Parsed {
    name: String,
    module: naga::Module,
    info: naga::valid::ModuleInfo,
}

fn parse(name: &str, source: &str) -> Parsed {
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|e| panic!("{name} does not parse:\n{}", e.emit_to_string(source)));
    let info = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::all(),
    )
    .validate(&module)
    .unwrap_or_else(|e| panic!("{name} does not validate: {e:?}"));
    Parsed {
        name: name.to_string(),
        module,
        info,
    }
}

/// Output columns of the generated fused-step modules checked here: the
/// smallest, a middling and the largest.
const FUSED_OUTPUTS: [usize; 3] = [1, 10, fused_step::MAX_OUTPUTS];

/// Every module the host compiles: the fixed ones and generated fused-step
/// modules, each with the module name its entry points refer to.
fn all_modules() -> Vec<(&'static str, Parsed)> {
    let mut all: Vec<_> = ALL_MODULES
        .iter()
        .map(|&(name, source)| (name, parse(name, source)))
        .collect();
    for outputs in FUSED_OUTPUTS {
        let source = fused_source::source(fused_step::shape(outputs));
        let name = fused_step::SCORES.module.name;
        all.push((
            name,
            parse(&format!("{name} generated for C = {outputs}"), &source),
        ));
    }
    all
}

/// The WGSL struct's layout.
fn wgsl_layout(module: &naga::Module, ty: naga::Handle<naga::Type>) -> Layout {
    let TypeInner::Struct { members, span } = &module.types[ty].inner else {
        panic!("not a struct: {:?}", module.types[ty]);
    };
    let fields = members
        .iter()
        .map(|member| {
            let inner = &module.types[member.ty].inner;
            let TypeInner::Scalar(scalar) = inner else {
                panic!("member {:?} is not a scalar: {inner:?}", member.name);
            };
            Field {
                name: member.name.clone().unwrap_or_default(),
                offset: member.offset,
                size: inner.size(module.to_ctx()),
                kind: scalar.kind,
            }
        })
        .collect();
    Layout {
        size: *span,
        fields,
    }
}

/// How `host` differs from `wgsl`, member by member, as messages.
fn layout_differences(wgsl: &Layout, host: &Layout) -> Vec<String> {
    let mut differences = Vec::new();
    if wgsl.size != host.size {
        differences.push(format!(
            "{} bytes in the WGSL, {} on the host",
            wgsl.size, host.size
        ));
    }
    let count = wgsl.fields.len().max(host.fields.len());
    for i in 0..count {
        match (wgsl.fields.get(i), host.fields.get(i)) {
            (Some(w), Some(h)) if w == h => {}
            (w, h) => differences.push(format!("member {i}: WGSL {w:?}, host {h:?}")),
        }
    }
    differences
}

/// Whether the global `variable` is of the kind `access` declares.
fn matches_access(module: &naga::Module, variable: &naga::GlobalVariable, access: Access) -> bool {
    let image =
        |arrayed: bool, class: &dyn Fn(&ImageClass) -> bool| match &module.types[variable.ty].inner
        {
            TypeInner::Image {
                dim: ImageDimension::D2,
                arrayed: is_arrayed,
                class: image_class,
            } => *is_arrayed == arrayed && class(image_class),
            _ => false,
        };
    let sampled_float = |class: &ImageClass| {
        matches!(
            class,
            ImageClass::Sampled {
                kind: ScalarKind::Float,
                multi: false
            }
        )
    };
    match access {
        Access::Read => {
            variable.space
                == AddressSpace::Storage {
                    access: StorageAccess::LOAD,
                }
        }
        Access::ReadWrite => {
            variable.space
                == AddressSpace::Storage {
                    access: StorageAccess::LOAD | StorageAccess::STORE,
                }
        }
        Access::Uniform => variable.space == AddressSpace::Uniform,
        Access::Texture => variable.space == AddressSpace::Handle && image(true, &sampled_float),
        Access::Texture2d => variable.space == AddressSpace::Handle && image(false, &sampled_float),
        Access::StorageTexture2d => {
            variable.space == AddressSpace::Handle
                && image(false, &|class| {
                    matches!(
                        class,
                        ImageClass::Storage {
                            format: naga::StorageFormat::Rgba32Float,
                            access: StorageAccess::STORE,
                        }
                    )
                })
        }
    }
}

/// The workgroup size of `entry`, each dimension a number or the name of
/// the override that sets it.
fn workgroup_size(module: &naga::Module, entry: &naga::EntryPoint) -> [Size; 3] {
    std::array::from_fn(|i| {
        let by_override = entry
            .workgroup_size_overrides
            .as_ref()
            .and_then(|sizes| sizes[i]);
        match by_override.map(|expression| &module.global_expressions[expression]) {
            None => Size::Fixed(entry.workgroup_size[i]),
            Some(naga::Expression::Override(handle)) => {
                Size::Override(module.overrides[*handle].name.clone().unwrap_or_default())
            }
            Some(other) => panic!("workgroup size {i} of {} is {other:?}", entry.name),
        }
    })
}

/// Every mismatch between `host` and the entry point of the same name in
/// `parsed`, as messages.
fn entry_mismatches(host: &HostEntry, parsed: &Parsed) -> Vec<String> {
    let module = &parsed.module;
    let at = format!("{} entry point {}", parsed.name, host.entry.entry);
    let Some(index) = module
        .entry_points
        .iter()
        .position(|e| e.name == host.entry.entry)
    else {
        return vec![format!("{at}: not in the module")];
    };
    let entry = &module.entry_points[index];
    let uses = parsed.info.get_entry_point(index);
    let mut problems = Vec::new();
    // Declared in group 0 by binding number, and whether this entry uses it.
    let mut declared: Vec<(u32, &naga::GlobalVariable, bool)> = Vec::new();
    for (handle, variable) in module.global_variables.iter() {
        let Some(binding) = &variable.binding else {
            continue;
        };
        let used = !uses[handle].is_empty();
        if binding.group != 0 {
            if used {
                problems.push(format!(
                    "{at}: {:?} is in group {}, the host binds group 0 only",
                    variable.name, binding.group
                ));
            }
            continue;
        }
        declared.push((binding.binding, variable, used));
    }
    let host_binding = |binding: u32| {
        host.entry
            .storage
            .iter()
            .find(|&&(b, _)| b == binding)
            .map(|&(_, access)| access)
    };
    // Every binding the entry point uses is in the host's layout.
    for &(binding, variable, used) in &declared {
        if used && binding != 0 && host_binding(binding).is_none() {
            problems.push(format!(
                "{at}: uses binding {binding} ({:?}), which the host's layout lacks",
                variable.name
            ));
        }
    }
    // Every binding of the host's layout is declared, of the host's kind
    // (an entry point may leave one unused: the hinge ignores class weights).
    let params = (0, None);
    let storage = host
        .entry
        .storage
        .iter()
        .map(|&(b, access)| (b, Some(access)));
    for (binding, access) in std::iter::once(params).chain(storage) {
        let Some(&(_, variable, _)) = declared.iter().find(|&&(b, _, _)| b == binding) else {
            problems.push(format!(
                "{at}: the host binds {binding}, the module declares no such binding"
            ));
            continue;
        };
        match access {
            None if variable.space != AddressSpace::Uniform => {
                problems.push(format!("{at}: binding 0 is not a uniform"));
            }
            None => {
                let wgsl = wgsl_layout(module, variable.ty);
                problems.extend(
                    layout_differences(&wgsl, &host.params)
                        .into_iter()
                        .map(|difference| format!("{at}: parameters: {difference}")),
                );
            }
            Some(access) if !matches_access(module, variable, access) => {
                problems.push(format!(
                    "{at}: binding {binding} ({:?}) is {:?} of {:?}, the host declares {access:?}",
                    variable.name, variable.space, module.types[variable.ty].inner
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(expected) = &host.workgroup {
        let actual = workgroup_size(module, entry);
        if &actual != expected {
            problems.push(format!(
                "{at}: workgroup size {actual:?}, the host dispatches for {expected:?}"
            ));
        }
    }
    problems
}

#[test]
fn host_layout_is_complete() {
    for entry in host_entries() {
        let covered: u32 = entry.params.fields.iter().map(|f| f.size).sum();
        assert_eq!(
            covered, entry.params.size,
            "{}: the listed fields cover {covered} of {} bytes",
            entry.entry.entry, entry.params.size
        );
    }
}

#[test]
fn every_entry_point_matches_the_host() {
    let modules = all_modules();
    let hosts = host_entries();
    let mut problems = Vec::new();
    for host in &hosts {
        let mut checked = 0;
        for (name, parsed) in &modules {
            if *name == host.entry.module.name {
                problems.extend(entry_mismatches(host, parsed));
                checked += 1;
            }
        }
        if checked == 0 {
            problems.push(format!(
                "{}: the host's module {} is not among the modules checked",
                host.entry.entry, host.entry.module.name
            ));
        }
    }
    for (name, parsed) in &modules {
        for entry in &parsed.module.entry_points {
            let known = hosts
                .iter()
                .any(|h| h.entry.module.name == *name && h.entry.entry == entry.name);
            if !known {
                problems.push(format!(
                    "{}: entry point {} has no host table here",
                    parsed.name, entry.name
                ));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// The value of the WGSL `const` `name` (a u32).
fn wgsl_const(module: &naga::Module, name: &str) -> Option<u32> {
    let (_, constant) = module
        .constants
        .iter()
        .find(|(_, c)| c.name.as_deref() == Some(name))?;
    match module.global_expressions[constant.init] {
        naga::Expression::Literal(naga::Literal::U32(value)) => Some(value),
        ref other => panic!("const {name} is {other:?}, not a u32 literal"),
    }
}

#[test]
fn shared_constants_agree() {
    let fused_template = parse("fused_step.wgsl", fused_step::SCORES.module.source);
    let fused_generated = parse(
        "fused_step generated",
        &fused_source::source(fused_step::shape(fused_step::MAX_OUTPUTS)),
    );
    let loss_module = loss::SOFTMAX_CROSS_ENTROPY.module;
    let loss_common = parse(loss_module.name, loss_module.source);
    let optim_module = parse(optim::UPDATE.module.name, optim::UPDATE.module.source);
    let pack = parse(packed::PACK.module.name, packed::PACK.module.source);
    let texture = parse(
        packed::TEXTURE_TILED.module.name,
        packed::TEXTURE_TILED.module.source,
    );
    let fused_constants = [
        ("HAS_CLASS_WEIGHTS", fused_step::HAS_CLASS_WEIGHTS),
        ("REAL_TARGETS", fused_step::REAL_TARGETS),
        ("WITH_GRADS", fused_step::WITH_GRADS),
        ("SOFTMAX", loss_codes::SOFTMAX),
        ("HINGE", loss_codes::HINGE),
        ("SQUARED_HINGE", loss_codes::SQUARED_HINGE),
        ("MSE", loss_codes::MSE),
        ("LOGISTIC", loss_codes::LOGISTIC),
        ("MAX_C", fused_step::MAX_OUTPUTS as u32),
        ("WINDOW_VEC4S", fused_source::WINDOW_VEC4S as u32),
    ];
    let table: Vec<(&Parsed, &[(&str, u32)])> = vec![
        (&fused_template, &fused_constants),
        (&fused_generated, &fused_constants),
        (
            &loss_common,
            &[
                ("HAS_CLASS_WEIGHTS", loss::HAS_CLASS_WEIGHTS),
                ("REAL_TARGETS", loss::REAL_TARGETS),
                ("SQUARED", loss::SQUARED),
            ],
        ),
        (
            &optim_module,
            &[
                ("CENTERED", optim::CENTERED),
                ("AMSGRAD", optim::AMSGRAD),
                ("DECOUPLED_DECAY", optim::DECOUPLED_DECAY),
                ("SGD", optim::SGD),
                ("MOMENTUM", optim::MOMENTUM),
                ("NESTEROV", optim::NESTEROV),
                ("ADAGRAD", optim::ADAGRAD),
                ("RMSPROP", optim::RMSPROP),
                ("ADAM", optim::ADAM),
            ],
        ),
        (&pack, &[("WG", packed::WORKGROUP)]),
        (&texture, &[("WG", packed::WORKGROUP)]),
    ];
    let tiled = tiled::shared_constants();
    let tiled_table = tiled
        .iter()
        .map(|(parsed, constants)| (parsed, constants.as_slice()));
    let mut problems = Vec::new();
    for (parsed, constants) in table.into_iter().chain(tiled_table) {
        for &(name, host) in constants {
            match wgsl_const(&parsed.module, name) {
                Some(wgsl) if wgsl == host => {}
                Some(wgsl) => problems.push(format!(
                    "{}: const {name} is {wgsl}, the host's is {host}",
                    parsed.name
                )),
                None => problems.push(format!("{}: no const {name}", parsed.name)),
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
