//! The `lintrain` command line: a thin layer over the library.

mod cli;

use clap::error::ErrorKind;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set when stdout was closed early (`lintrain predict … | head`): not a bug.
static BROKEN_PIPE: AtomicBool = AtomicBool::new(false);
/// Why printing to stdout failed otherwise (a full disk behind `>`): a
/// user's error, reported as one line, not a bug.
static STDOUT_FAILED: Mutex<Option<String>> = Mutex::new(None);
/// Set when stderr itself cannot be written: nothing more can be said.
static STDERR_FAILED: AtomicBool = AtomicBool::new(false);

/// One line on stderr; a stderr that cannot be written is not a panic
/// (which would abort inside the panic hook).
fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn main() -> ExitCode {
    // SAFETY: the first statement of `main`, before any thread exists.
    let _runtime_dir = unsafe { lintrain::gpu::give_driver_a_runtime_dir() };
    // Last resort: a bug must still end in one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let message = message.lines().next().unwrap_or_default().to_string();
        if let Some(reason) = message.strip_prefix("failed printing to stdout: ") {
            if reason.contains("Broken pipe") {
                BROKEN_PIPE.store(true, Ordering::Relaxed);
            } else {
                *STDOUT_FAILED.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason.to_string());
            }
            return;
        }
        if message.starts_with("failed printing to stderr") {
            STDERR_FAILED.store(true, Ordering::Relaxed);
            return;
        }
        report(&format!(
            "lintrain: error: internal error{place}: {message} (please report this bug)"
        ));
    }));
    let parsed = match cli::command::Cli::parse_arguments() {
        Ok(parsed) => parsed,
        Err(error) => return usage_error(error),
    };
    let quiet = parsed.quiet;
    match std::panic::catch_unwind(|| cli::run(parsed.command, quiet)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(error)) => {
            report(&format!("lintrain: error: {error}"));
            ExitCode::FAILURE
        }
        // A closed stdout ends quietly, as for any Unix filter.
        Err(_) if BROKEN_PIPE.load(Ordering::Relaxed) => ExitCode::from(141),
        Err(_) if STDERR_FAILED.load(Ordering::Relaxed) => ExitCode::FAILURE,
        Err(_)
            if let Some(reason) = STDOUT_FAILED
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take() =>
        {
            report(&format!("lintrain: error: writing to stdout: {reason}"));
            ExitCode::FAILURE
        }
        // The hook has printed the message.
        Err(_) => ExitCode::from(101),
    }
}

/// Help and version print as clap renders them; a usage error becomes one
/// `lintrain: error: …` line.
fn usage_error(error: clap::Error) -> ExitCode {
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = error.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = error.print();
            ExitCode::from(2)
        }
        _ => {
            let rendered = error.render().to_string();
            let parts: Vec<&str> = rendered
                .lines()
                .map(str::trim)
                .filter(|l| {
                    !l.is_empty()
                        && !l.starts_with("Usage:")
                        && !l.starts_with("For more information")
                })
                .collect();
            let message = parts.join(" ");
            let message = message.strip_prefix("error: ").unwrap_or(&message);
            report(&format!("lintrain: error: {message} (see --help)"));
            ExitCode::from(2)
        }
    }
}
