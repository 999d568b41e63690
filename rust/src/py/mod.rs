//! PyO3 wrappers, one file per area. `register` is all that lib.rs calls.
pub mod buffer;
pub mod errors;
pub mod program;

use pyo3::prelude::*;

#[pyfunction]
fn supported_ops() -> Vec<&'static str> {
    crate::ops::supported_ops()
}

/// Panics inside the core on purpose, to test that panics become exceptions.
#[pyfunction]
fn _panic_for_test(py: Python<'_>) -> PyResult<()> {
    errors::guard(py, || -> crate::error::Result<()> {
        panic!("deliberate test panic")
    })
}

#[pyfunction]
fn num_threads() -> usize {
    rayon::current_num_threads()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<buffer::PyBuffer>()?;
    m.add_class::<program::PyExecutable>()?;
    m.add_function(wrap_pyfunction!(supported_ops, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_test, m)?)?;
    m.add_function(wrap_pyfunction!(num_threads, m)?)?;
    m.add("RjaxError", m.py().get_type::<errors::RjaxError>())?;
    m.add("InternalError", m.py().get_type::<errors::InternalError>())?;
    Ok(())
}
