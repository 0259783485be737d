//! lintrain: linear classifiers (`scores = X·W + b`, W stored D×C) trained
//! on the GPU with wgpu, with an ndarray CPU backend that computes every
//! operation plainly and serves as reference and fallback.

pub mod backend;
pub mod cpu;
mod error;
pub mod gpu;
pub mod loss;
pub mod optimizer;
pub mod regularizer;

pub use backend::{Backend, BackendInfo, BackendKind, LossOutputs, MatmulSpec, Targets};
pub use cpu::CpuBackend;
pub use error::{Error, Result};
pub use gpu::{AdapterChoice, GpuBackend, GpuContext};
pub use loss::Loss;
pub use optimizer::{Optimizer, UpdateStep};
pub use regularizer::Regularizer;
