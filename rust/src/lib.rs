//! rjax's core. This file only declares the modules, one per layer, and
//! exports the Python module; see docs/ARCHITECTURE.md for the data flow.
//!
//! The layers, lowest first (a layer uses only the layers below it; the
//! test in `layers.rs` enforces it):
//! - `base`: buffers, dtypes, errors, params, avals (plain data);
//! - `loops`: parallel and strided loops;
//! - `ops`: the op table, the scalar layer, the kernels;
//! - `compiler`: programs, passes, fusion planning;
//! - `exec`: the executable, the fused tile runner, devices, communicators;
//! - `py`: the PyO3 bindings.
//!
//! Every `unsafe` block states its invariant in a `// SAFETY:` comment, and
//! an `unsafe fn` spells out each unsafe operation in its own block
//! (`cargo clippy --lib --all-targets -- -D warnings` checks both).
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
pub mod base;
pub mod compiler;
pub mod exec;
pub mod loops;
pub mod ops;
pub mod py;

#[cfg(test)]
mod layers;

use pyo3::prelude::*;

#[pymodule]
fn _rjax(m: &Bound<'_, PyModule>) -> PyResult<()> {
    py::register(m)
}
