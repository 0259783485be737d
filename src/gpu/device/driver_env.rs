//! Keeping the Vulkan driver's noise away from the user.
//!
//! Mesa's drivers (lavapipe among them) link the Wayland client library,
//! which prints `error: XDG_RUNTIME_DIR is invalid or not set in the
//! environment.` on stderr, once per instance, on a headless machine where
//! that variable is unset (a container, a CI job, a service, `ssh` without
//! a login session). Nothing is wrong: compute needs no display. A newcomer
//! still reads it as lintrain failing, so the command line gives the
//! driver a private runtime directory before any instance is created.

use std::path::Path;

/// When `XDG_RUNTIME_DIR` is unset, empty or not a directory, creates a
/// private directory (mode 0700, as the XDG spec asks) and points the
/// variable at it. Returns the directory's guard, which removes it when
/// dropped; `None` when the variable was already fine or the directory
/// could not be made (then the driver may print its line, nothing worse).
///
/// # Safety
/// Sets a process environment variable, so no other thread may read or
/// write the environment while it runs: call it first thing in `main`,
/// before any thread is started.
pub unsafe fn give_driver_a_runtime_dir() -> Option<tempfile::TempDir> {
    let usable = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|dir| !dir.is_empty())
        .is_some_and(|dir| Path::new(&dir).is_dir());
    if usable {
        return None;
    }
    // `tempdir` creates the directory with mode 0700.
    let dir = tempfile::Builder::new()
        .prefix("lintrain-runtime-")
        .tempdir()
        .ok()?;
    // SAFETY: the caller guarantees that no other thread uses the
    // environment meanwhile.
    unsafe { std::env::set_var("XDG_RUNTIME_DIR", dir.path()) };
    Some(dir)
}
