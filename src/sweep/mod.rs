//! Hyperparameter sweeps (issue 15): the grid of settings the members of a
//! sweep take, each member's configuration, the k-fold splits that select
//! among them, and the sweep itself: every member trained on the same data
//! (sharing each read of the minibatch), scored on held-out rows, the best
//! selected.

pub mod folds;
pub mod grid;
mod member_config;
pub mod outcome;
pub mod run;

pub use folds::{random_folds, stratified_folds, training_rows};
pub use grid::{
    Grid, MAX_MEMBERS, Setting, SweptParameter, display_value, format_value, parse_values,
};
pub use outcome::{MemberResult, MemberRun, MemberStatus, Scores, SweepOutcome};
pub use run::{Selection, SelectionMetric, SweepConfig, Sweeper, select, sweep};
