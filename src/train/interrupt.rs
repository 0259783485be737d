//! Ending a run from outside it: a flag that another thread (a Ctrl-C
//! handler, a Python signal check, a service's cancel) sets, and that the
//! run reads before every optimizer step and every L-BFGS evaluation.

use crate::{Error, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A cheap, clonable handle that ends a run: every clone shares one flag.
/// Give a clone to [`Trainer::interrupt_on`](crate::Trainer::interrupt_on)
/// and call [`Interrupt::interrupt`] on another from any thread; the run
/// ends with [`Error::Interrupted`] before its next optimizer step (a
/// minibatch run) or its next objective evaluation (L-BFGS), and
/// [`Trainer::last_finite_model`](crate::Trainer::last_finite_model) keeps
/// the model after its last finished epoch or iteration.
///
/// On the GPU the steps of an epoch are recorded before they run, so the
/// flag is read while recording: an interrupt during an epoch's execution
/// ends the run while the next epoch is recorded.
///
/// The flag stays set until [`Interrupt::clear`]: a run started with a set
/// handle ends before its first step.
#[derive(Clone, Debug, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// A handle that is not set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every run holding a clone of this handle to stop.
    pub fn interrupt(&self) {
        // The flag guards no other data: relaxed ordering is enough, and
        // the run sees it at its next check.
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`Interrupt::interrupt`] was called (since the last clear).
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Unsets the flag, so that the handle can serve the next run.
    pub fn clear(&self) {
        self.0.store(false, Ordering::Relaxed);
    }

    /// [`Error::Interrupted`] when set.
    pub(crate) fn check(&self) -> Result<()> {
        if self.is_set() {
            Err(Error::Interrupted)
        } else {
            Ok(())
        }
    }
}

/// [`Interrupt::check`] of a run that may have no handle.
pub(super) fn check(handle: Option<&Interrupt>) -> Result<()> {
    handle.map_or(Ok(()), Interrupt::check)
}
