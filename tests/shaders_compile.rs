//! Every WGSL module parses and validates with naga, with no GPU needed, and
//! the loss kernels take their formulas from the one shared source,
//! shaders/loss_math.wgsl. (The generated fused-step modules have the same
//! checks beside their generator, src/gpu/fused_source.rs.)

use std::collections::BTreeSet;

/// The shared per-row loss math, as the loss modules are composed from it.
const LOSS_MATH: &str = include_str!("../shaders/loss_math.wgsl");

fn validated(name: &str, source: &str) -> naga::Module {
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|e| panic!("{name}.wgsl does not parse:\n{}", e.emit_to_string(source)));
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::all(),
    )
    .validate(&module)
    .unwrap_or_else(|e| panic!("{name}.wgsl does not validate: {e:?}"));
    module
}

fn function_names(module: &naga::Module) -> BTreeSet<String> {
    module
        .functions
        .iter()
        .filter_map(|(_, function)| function.name.clone())
        .collect()
}

/// The functions that `entry` calls, directly or through others: naga's
/// compaction drops every function no remaining entry point reaches.
fn functions_reached(mut module: naga::Module, entry: &str) -> BTreeSet<String> {
    module.entry_points.retain(|e| e.name == entry);
    assert_eq!(module.entry_points.len(), 1, "no entry point {entry}");
    naga::compact::compact(&mut module, naga::compact::KeepUnused::No);
    function_names(&module)
}

fn fixed_module(name: &str) -> &'static str {
    lintrain::gpu::ALL_MODULES
        .iter()
        .find(|(module, _)| *module == name)
        .unwrap_or_else(|| panic!("no module {name} in ALL_MODULES"))
        .1
}

#[test]
fn every_shader_module_validates() {
    for (name, source) in lintrain::gpu::ALL_MODULES {
        validated(name, source);
    }
}

/// Each unfused loss kernel and the loss_math.wgsl functions it must call:
/// a kernel that wrote a formula out again instead would not.
const LOSS_KERNELS: [(&str, &str, &[&str]); 4] = [
    (
        "softmax_xent",
        "softmax_cross_entropy",
        &[
            "softmax_shifted_exp",
            "softmax_log_probability",
            "uniform_target",
            "smoothed_target",
            "softmax_term",
            "single_output_threshold",
            "classified_correctly",
        ],
    ),
    (
        "hinge",
        "hinge",
        &[
            "hinge_term",
            "single_output_threshold",
            "classified_correctly",
        ],
    ),
    (
        "regression",
        "mean_squared_error",
        &[
            "squared_error_term",
            "class_target",
            "single_output_threshold",
            "classified_correctly",
        ],
    ),
    (
        "regression",
        "logistic",
        &[
            "logistic_term",
            "sigmoid",
            "class_target",
            "single_output_threshold",
            "classified_correctly",
        ],
    ),
];

#[test]
fn loss_modules_include_the_shared_loss_math_once() {
    let shared = function_names(&validated("loss_math", LOSS_MATH));
    assert!(!shared.is_empty(), "loss_math.wgsl defines no functions");
    for name in ["softmax_xent", "hinge", "regression"] {
        let source = fixed_module(name);
        assert_eq!(
            source.matches(LOSS_MATH).count(),
            1,
            "{name} must contain loss_math.wgsl exactly once"
        );
        // The module's own parts: what it adds to the shared math.
        let own = source.replacen(LOSS_MATH, "", 1);
        for function in &shared {
            assert!(
                !own.contains(&format!("fn {function}(")),
                "{name} defines {function} again; it belongs to loss_math.wgsl only"
            );
        }
    }
}

#[test]
fn loss_kernels_call_the_shared_loss_math() {
    let shared = function_names(&validated("loss_math", LOSS_MATH));
    let mut used = BTreeSet::new();
    for (name, entry, expected) in LOSS_KERNELS {
        let reached = functions_reached(validated(name, fixed_module(name)), entry);
        for function in expected {
            assert!(
                shared.contains(*function),
                "{function} is not a loss_math.wgsl function"
            );
            assert!(
                reached.contains(*function),
                "{name}::{entry} does not call {function} (it reaches {reached:?})"
            );
        }
        used.extend(reached.intersection(&shared).cloned());
    }
    // Every shared formula has an unfused kernel that runs it, so the parity
    // tests compare each one against the CPU reference.
    assert_eq!(
        used, shared,
        "loss_math.wgsl functions no loss kernel calls"
    );
}
