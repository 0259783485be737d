//! Log lines: what a command is doing, on stderr, and none with `--quiet`
//! (results go to stdout).

use std::io::Write;

#[derive(Clone, Copy)]
pub struct Log {
    pub quiet: bool,
}

impl Log {
    pub fn line(self, text: impl std::fmt::Display) {
        if !self.quiet {
            // A log line that cannot be written is no reason to stop training.
            let _ = writeln!(std::io::stderr(), "{text}");
        }
    }
}
