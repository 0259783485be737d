//! WGPU_ADAPTER_NAME handling. Its own test binary: it sets an environment
//! variable, which must not race other tests.

use lintrain::{AdapterChoice, Error, GpuContext};

#[test]
fn an_unmatched_adapter_name_is_a_clear_error_and_a_matching_one_opens() {
    // SAFETY: the only test in this binary, so no other thread reads the environment.
    unsafe { std::env::set_var("WGPU_ADAPTER_NAME", "no-such-adapter-xyz") };
    let result = GpuContext::new(AdapterChoice::PreferHardware);
    match result {
        Err(Error::AdapterNotFound { requested, .. }) => {
            assert_eq!(requested, "no-such-adapter-xyz")
        }
        Err(other) => panic!("expected AdapterNotFound, got {other}"),
        Ok(context) => panic!("opened {} for an unmatched name", context.adapter_name()),
    }
    let adapters = lintrain::gpu::list_adapters();
    let Some(first) = adapters.first() else {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(!ci, "CI=true but no GPU adapter is listed");
        eprintln!("NOT RUN ON GPU: no adapter to match by name");
        return;
    };
    // Case-insensitive substring of the real name.
    let needle = first.name.to_uppercase();
    unsafe { std::env::set_var("WGPU_ADAPTER_NAME", &needle) };
    let context = GpuContext::new(AdapterChoice::Software).expect("a matching adapter name opens");
    assert_eq!(context.adapter_name(), first.name);
    unsafe { std::env::remove_var("WGPU_ADAPTER_NAME") };
}
