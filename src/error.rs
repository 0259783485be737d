//! The one error type of the public API.

use std::path::PathBuf;

/// Everything lintrain can report instead of panicking.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(
        "no GPU adapter found{detail}. Install a Vulkan driver (on Debian: `apt-get install mesa-vulkan-drivers libvulkan1` gives the software adapter lavapipe), or use the CPU backend, which needs no GPU"
    )]
    NoAdapter { detail: String },

    #[error("WGPU_ADAPTER_NAME={requested:?} matches no adapter; available: {available}")]
    AdapterNotFound {
        requested: String,
        available: String,
    },

    #[error("could not open the GPU device on {adapter}: {reason}")]
    DeviceRequest { adapter: String, reason: String },

    #[error("GPU operation failed: {0}")]
    Gpu(String),

    #[error(
        "{what} needs {requested} bytes in one storage binding, but the adapter allows at most {limit} bytes (max_storage_buffer_binding_size)"
    )]
    BufferTooLarge {
        what: &'static str,
        requested: u64,
        limit: u64,
    },

    #[error("shape mismatch in {op}: {detail}")]
    ShapeMismatch { op: &'static str, detail: String },

    #[error("empty data: {0}")]
    EmptyData(String),

    #[error("non-finite value {value} in {what} at row {row}, column {column}")]
    NonFinite {
        what: &'static str,
        row: usize,
        column: usize,
        value: f32,
    },

    #[error("label {label} at row {row} is out of range: the model has {classes} classes")]
    LabelOutOfRange {
        row: usize,
        label: usize,
        classes: usize,
    },

    #[error("index {index} at position {position} is out of range for {rows} rows")]
    IndexOutOfRange {
        position: usize,
        index: usize,
        rows: usize,
    },

    #[error("invalid configuration: {0}")]
    InvalidConfig(String),

    /// A sweep grid that cannot be run: a bad value list for one of the
    /// swept flags, a flag that cannot be swept, or two flags that set the
    /// same thing. `flag` is the flag as typed (`--reg-strength`), `reason`
    /// the problem with the text that caused it.
    #[error("{flag}: {reason}")]
    InvalidGrid { flag: String, reason: String },

    /// The loss or a weight became non-finite. The model at the end of the
    /// last finite epoch (the initial weights for epoch 1) is
    /// [`Trainer::last_finite_model`](crate::Trainer::last_finite_model).
    #[error("training diverged at epoch {epoch}, step {step}: the loss became {loss}")]
    Diverged {
        epoch: usize,
        step: usize,
        loss: f32,
    },

    /// The run's [`Interrupt`](crate::train::Interrupt) was set: it ended
    /// before its next optimizer step or objective evaluation. The model
    /// after the last finished epoch (or L-BFGS iteration; the initial
    /// weights before the first) is
    /// [`Trainer::last_finite_model`](crate::Trainer::last_finite_model).
    #[error("training was interrupted")]
    Interrupted,

    /// A data-parallel run that cannot go on: the ranks disagree (a
    /// different number of features or parameters), a rank has no rows,
    /// or a size is beyond the transport's limits.
    #[error("distributed run: {0}")]
    Distributed(String),

    /// A file that could not be read or written. `source` is the operating
    /// system's error where there is one, so callers can match its kind
    /// ([`Error::io_kind`]); `reason` says it in words.
    #[error("{path}: {reason}")]
    File {
        path: PathBuf,
        reason: String,
        #[source]
        source: Option<std::io::Error>,
    },

    /// The allocator refused memory that the inputs' sizes asked for.
    #[error("out of memory: {what} need {bytes} bytes")]
    OutOfMemory { what: &'static str, bytes: u64 },

    /// A size from a flag, a file header or a model file beyond one of the
    /// stated limits in [`crate::limits`], refused before allocating.
    #[error("{what} is {size}, more than the limit of {limit}")]
    TooLarge { what: String, size: u64, limit: u64 },

    /// A file that opened but whose content is not what was expected: an
    /// unknown or unsupported format, a bad magic number, a truncated body,
    /// inconsistent shapes, an invalid model file.
    #[error("{path}: {reason}")]
    Format { path: PathBuf, reason: String },

    /// A label that is not one of the known classes; `row` counts data rows
    /// from 1 (a header is not counted).
    #[error("unknown label {label:?} at data row {row}; known classes: {known}")]
    UnknownLabel {
        row: usize,
        label: String,
        known: String,
    },

    #[error("{path}, line {line}, column {column}: {reason}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        reason: String,
    },
}

impl Error {
    /// A [`Error::File`] from the operating system's error.
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Error {
        Error::File {
            path: path.into(),
            reason: error.to_string(),
            source: Some(error),
        }
    }

    /// A [`Error::File`] with a reason of lintrain's own (no OS error).
    pub fn file(path: impl Into<PathBuf>, reason: impl Into<String>) -> Error {
        Error::File {
            path: path.into(),
            reason: reason.into(),
            source: None,
        }
    }

    /// The kind of the operating system's error behind an [`Error::File`]
    /// (`NotFound`, `PermissionDenied`, …), when there is one.
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            Error::File {
                source: Some(error),
                ..
            } => Some(error.kind()),
            _ => None,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
