//! Hyperparameter sweeps (issue 15): the grid of settings the members of a
//! sweep take, and the k-fold splits that select among them.

pub mod folds;
pub mod grid;

pub use folds::{random_folds, stratified_folds, training_rows};
pub use grid::{Grid, MAX_MEMBERS, Setting, SweptParameter, parse_values};
