//! Opening the backend a [`BackendChoice`] names.

use crate::backend::{Backend, BackendInfo};
use crate::config::BackendChoice;
use crate::{AdapterChoice, CpuBackend, GpuBackend, GpuContext, Result};
use std::sync::Arc;

/// A backend opened from a [`BackendChoice`], ready to train on.
pub enum OpenedBackend {
    Cpu(CpuBackend),
    /// Boxed: a GPU backend is several times the CPU's size.
    Gpu(Box<GpuBackend>),
}

impl BackendChoice {
    /// Opens the backend this choice names:
    /// - `Cpu`: the CPU backend;
    /// - `Gpu`: a GPU adapter, a hardware one when there is one (an error
    ///   when no adapter opens);
    /// - `Software`: the software adapter (an error without one);
    /// - `GpuNumber(n)`: hardware GPU number `n` modulo their number, or
    ///   else what `Gpu` picks;
    /// - `Auto`: the hardware GPU when one is listed, otherwise the CPU. The
    ///   software adapter is never chosen, and a listed hardware adapter that
    ///   fails to open is an error, not a quiet fall back to the CPU.
    pub fn open(self) -> Result<OpenedBackend> {
        let adapter = match self {
            BackendChoice::Cpu => return Ok(OpenedBackend::Cpu(CpuBackend::new())),
            BackendChoice::Auto if !crate::gpu::hardware_adapter_available() => {
                return Ok(OpenedBackend::Cpu(CpuBackend::new()));
            }
            BackendChoice::Auto | BackendChoice::Gpu => AdapterChoice::PreferHardware,
            BackendChoice::Software => AdapterChoice::Software,
            BackendChoice::GpuNumber(n) => AdapterChoice::HardwareNumber(n),
        };
        let context = GpuContext::new(adapter)?;
        Ok(OpenedBackend::Gpu(Box::new(GpuBackend::new(Arc::new(
            context,
        )))))
    }
}

impl OpenedBackend {
    /// What runs.
    pub fn info(&self) -> BackendInfo {
        match self {
            OpenedBackend::Cpu(cpu) => cpu.info(),
            OpenedBackend::Gpu(gpu) => gpu.info(),
        }
    }
}
