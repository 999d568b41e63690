//! rjax's core: buffers, kernels, the program executor. This file only declares
//! modules and exports the Python module; see DESIGN.md for the data flow.
pub mod buffer;
pub mod dtype;
pub mod error;
pub mod exec;
pub mod ops;
pub mod params;
pub mod py;

use pyo3::prelude::*;

#[pymodule]
fn _rjax(m: &Bound<'_, PyModule>) -> PyResult<()> {
    py::register(m)
}
