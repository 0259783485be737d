//! lintrain: linear classifiers (`scores = X·W + b`, W stored D×C) trained
//! on the GPU with wgpu, with an ndarray CPU backend that computes every
//! operation plainly and serves as reference and fallback.

pub mod atomic_file;
pub mod backend;
pub mod bench;
pub mod checkpoint_file;
pub mod config;
pub mod cpu;
pub mod data;
pub mod dataset;
pub mod distributed;
mod error;
pub mod gpu;
pub mod gradcheck;
pub mod history;
pub mod input_file;
pub mod limits;
pub mod loss;
pub mod metrics;
mod model;
pub mod model_file;
pub mod objective;
pub mod optimizer;
pub mod regularizer;
pub mod schedule;
pub mod solver;
pub mod sweep;
pub mod train;

pub use backend::{
    Backend, BackendInfo, BackendKind, LinearStep, LossOutputs, MatmulSpec, ResidentTargets,
    SharedRows, Targets,
};
pub use config::{BackendChoice, BatchSize, EarlyStopping, Init, Monitor, Sampling, TrainConfig};
pub use cpu::CpuBackend;
pub use error::{Error, Result};
pub use gpu::{AdapterChoice, GpuBackend, GpuContext};
pub use history::{EpochRecord, History};
pub use loss::Loss;
pub use model::{Evaluation, Model};
pub use model_file::SavedModel;
pub use objective::{FullBatch, FullBatchObjective, ObjectiveValue};
pub use optimizer::{Optimizer, UpdateStep};
pub use regularizer::Regularizer;
pub use schedule::{LrSchedule, Schedule};
pub use solver::{LbfgsOptions, Objective, Solver, SolverReport, StopReason};
pub use train::{
    Checkpoint, Examples, Interrupt, OpenedBackend, Outcome, RowSplit, TrainData, TrainTargets,
    Trainer, fit,
};

/// The README's code, compiled by `cargo test --doc` so that its library
/// example keeps up with the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
