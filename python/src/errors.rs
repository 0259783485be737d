//! lintrain's errors as Python exceptions, each carrying the one-line
//! message the command line prints for the same problem.
//!
//! | lintrain | Python |
//! |---|---|
//! | bad input, configuration, shapes, values, a diverged run | `ValueError` |
//! | no adapter, the device failing | `RuntimeError` |
//! | a file that could not be read or written | `OSError` (`FileNotFoundError`, `PermissionError`, … by the system's error) |
//! | an interrupted run | `KeyboardInterrupt` |
//! | memory the allocator refused | `MemoryError` |

use lintrain::Error;
use pyo3::PyErr;
use pyo3::exceptions::{
    PyKeyboardInterrupt, PyMemoryError, PyOSError, PyRuntimeError, PyValueError,
};

/// The Python exception for a lintrain error.
pub fn to_py(error: Error) -> PyErr {
    let message = error.to_string();
    match error {
        Error::NoAdapter { .. }
        | Error::AdapterNotFound { .. }
        | Error::DeviceRequest { .. }
        | Error::Gpu(_)
        | Error::BufferTooLarge { .. } => PyRuntimeError::new_err(message),
        Error::OutOfMemory { .. } => PyMemoryError::new_err(message),
        Error::Interrupted => PyKeyboardInterrupt::new_err(message),
        Error::File {
            source: Some(source),
            ..
        } => {
            // The OS error's kind picks the subclass; the message stays
            // lintrain's, which names the file.
            let kind = source.kind();
            PyErr::from(std::io::Error::new(kind, message))
        }
        // A file lintrain would not read or write (not a regular file, a
        // name too long): an OSError too, without an errno.
        Error::File { source: None, .. } => PyOSError::new_err(message),
        _ => PyValueError::new_err(message),
    }
}

/// `ValueError` with a message of the binding's own (a parameter's value).
pub fn invalid(message: impl Into<String>) -> PyErr {
    PyValueError::new_err(message.into())
}
