//! Every WGSL module parses and validates with naga, with no GPU needed.

#[test]
fn every_shader_module_validates() {
    for (name, source) in lintrain::gpu::ALL_MODULES {
        let module = naga::front::wgsl::parse_str(source).unwrap_or_else(|e| {
            panic!("{name}.wgsl does not parse:\n{}", e.emit_to_string(source))
        });
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::all(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}.wgsl does not validate: {e:?}"));
    }
}
