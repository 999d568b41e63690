//! rjax's core: JAX's programming model with a Rust core. This file only
//! declares the modules, re-exports the public Rust API (`api`) and exports
//! the Python module; see docs/ARCHITECTURE.md for the data flow and
//! docs/EXPORT.md for the Rust and C APIs.
//!
//! The layers, lowest first (a layer uses only the layers below it; the
//! test in `layers.rs` enforces it):
//! - `base`: buffers, dtypes, errors, params, avals (plain data);
//! - `loops`: parallel and strided loops;
//! - `ops`: the op table, the scalar layer, the kernels;
//! - `compiler`: programs, passes, fusion planning;
//! - `exec`: the executable, the fused tile runner, devices, communicators;
//! - `api`: the export format and the public Rust and C APIs (no Python);
//! - `py`: the PyO3 bindings (the default `python` feature).
//!
//! Every `unsafe` block states its invariant in a `// SAFETY:` comment, and
//! an `unsafe fn` spells out each unsafe operation in its own block
//! (`cargo clippy --lib --all-targets -- -D warnings` checks both).
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
pub mod api;
pub mod base;
pub mod compiler;
pub mod exec;
pub mod loops;
pub mod ops;
#[cfg(feature = "python")]
pub mod py;

#[cfg(test)]
mod layers;

pub use api::{Error, Program, Tensor, TensorSpec};

#[cfg(feature = "python")]
use pyo3::prelude::*;

#[cfg(feature = "python")]
#[pymodule(name = "_rjax")]
fn _rjax(m: &Bound<'_, PyModule>) -> PyResult<()> {
    py::register(m)
}
