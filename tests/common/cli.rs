//! Running the `lintrain` binary in tests, and its contract for bad input.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// What one run of the binary did.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// For failure messages; a long stdout (a 10,000-class table) is cut.
    pub fn describe(&self) -> String {
        let end = self
            .stdout
            .char_indices()
            .nth(4000)
            .map_or(self.stdout.len(), |(i, _)| i);
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code,
            &self.stdout[..end],
            self.stderr
        )
    }
}

/// Runs the binary with `args`; `env_remove` names variables to unset.
pub fn lintrain_with_env(args: &[&str], env_remove: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lintrain"));
    command.args(args).env_remove("RUST_BACKTRACE");
    for name in env_remove {
        command.env_remove(name);
    }
    let output = command.output().expect("the lintrain binary runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

pub fn lintrain(args: &[&str]) -> Run {
    lintrain_with_env(args, &[])
}

pub fn succeed(args: &[&str]) -> Run {
    let run = lintrain(args);
    assert!(run.ok(), "lintrain {args:?} failed: {}", run.describe());
    run
}

/// The contract for bad input: a non-zero exit (`code` when given), one
/// `lintrain: error:` line on stderr mentioning each fragment, and no
/// panic text. Runs with `--quiet`, so that stderr holds the error alone
/// and not the log lines of a run that failed part-way.
pub fn fail_with_code(args: &[&str], code: Option<i32>, fragments: &[&str]) -> Run {
    let quiet: Vec<&str> = std::iter::once("--quiet")
        .chain(args.iter().copied())
        .collect();
    let run = lintrain(&quiet);
    assert!(
        !run.ok() && run.code.is_some(),
        "lintrain {args:?} should fail: {}",
        run.describe()
    );
    if let Some(code) = code {
        assert_eq!(
            run.code,
            Some(code),
            "lintrain {args:?}: {}",
            run.describe()
        );
    }
    let stderr = run.stderr.trim_end();
    assert_eq!(
        stderr.lines().count(),
        1,
        "lintrain {args:?}: stderr is not one line: {}",
        run.describe()
    );
    assert!(
        stderr.starts_with("lintrain: error: "),
        "lintrain {args:?}: {}",
        run.describe()
    );
    for fragment in fragments {
        assert!(
            stderr.contains(fragment),
            "lintrain {args:?}: stderr lacks {fragment:?}: {stderr}"
        );
    }
    for forbidden in [
        "panicked",
        "internal error",
        "RUST_BACKTRACE",
        "stack backtrace",
    ] {
        assert!(!stderr.contains(forbidden), "{args:?}: {stderr}");
    }
    run
}

/// [`fail_with_code`] with any non-zero exit status.
pub fn fail_with(args: &[&str], fragments: &[&str]) -> Run {
    fail_with_code(args, None, fragments)
}

/// Stdout as one JSON value.
pub fn json(run: &Run) -> Value {
    serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {}", run.describe()))
}

pub fn number(value: &Value, what: &str) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {value}"))
}

/// A temporary path as an argument.
pub fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}
