//! `lintrain._lintrain`: the Python extension module behind the
//! `lintrain` package (`python/lintrain/`), which wraps it in a
//! scikit-learn estimator.
//!
//! - `training`: `fit`, on a worker thread with the interpreter lock
//!   released, interruptible by Ctrl-C;
//! - `scoring`: decision scores, predictions and probabilities;
//! - `model_file`: the command line's safetensors model file;
//! - `settings`: the estimator's parameters as the library's
//!   configuration;
//! - `arrays`: numpy arrays shared with the library without a copy;
//! - `errors`: lintrain's errors as Python exceptions.

mod arrays;
mod errors;
mod model_file;
mod scoring;
mod settings;
mod training;

use pyo3::prelude::*;

#[pymodule]
fn _lintrain(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    module.add_function(wrap_pyfunction!(training::fit, module)?)?;
    module.add_function(wrap_pyfunction!(scoring::scores, module)?)?;
    module.add_function(wrap_pyfunction!(scoring::standardize, module)?)?;
    module.add_function(wrap_pyfunction!(model_file::save, module)?)?;
    module.add_function(wrap_pyfunction!(model_file::load, module)?)?;
    Ok(())
}
