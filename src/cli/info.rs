//! `lintrain info`: every GPU adapter and the backend `auto` picks.

use super::CliResult;
use lintrain::gpu::{hardware_adapter_available, list_adapters};

pub fn run() -> CliResult {
    let adapters = list_adapters();
    if adapters.is_empty() {
        println!("no GPU adapters (install mesa-vulkan-drivers for the software adapter lavapipe)");
    }
    for a in &adapters {
        println!(
            "{}\n  backend {}  type {}  driver {}\n  max storage binding {} MiB  max buffer {} MiB  workgroup memory {} KiB  invocations/workgroup {}",
            a.name,
            a.backend,
            a.device_type,
            a.driver,
            a.max_storage_binding_bytes >> 20,
            a.max_buffer_bytes >> 20,
            a.max_workgroup_storage_bytes >> 10,
            a.max_invocations_per_workgroup
        );
    }
    let auto = if hardware_adapter_available() {
        "gpu (a hardware adapter is present)"
    } else {
        "cpu (no hardware adapter; --backend software uses the software adapter)"
    };
    println!("backend auto picks: {auto}");
    Ok(())
}
