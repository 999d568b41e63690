//! The one place where core errors become Python exceptions, and where panics
//! are caught before they can cross into Python.
use crate::base::error::{panic_error, Error};
use pyo3::exceptions::{
    PyMemoryError, PyNotImplementedError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use std::panic::{catch_unwind, AssertUnwindSafe};

pyo3::create_exception!(
    _rjax,
    JaxRuntimeError,
    PyRuntimeError,
    "An error while running a computation (JAX's `jax.errors.JaxRuntimeError`)."
);
pyo3::create_exception!(
    _rjax,
    RjaxError,
    JaxRuntimeError,
    "Base class of rjax's own runtime errors."
);
pyo3::create_exception!(
    _rjax,
    InternalError,
    RjaxError,
    "A bug inside rjax's core. Please report it with the code that triggered it."
);

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        match e {
            Error::ShapeMismatch { .. } | Error::BadParam { .. } => {
                PyValueError::new_err(e.to_string())
            }
            Error::UnsupportedDType { .. } => PyTypeError::new_err(e.to_string()),
            Error::UnknownOp(_) => PyNotImplementedError::new_err(e.to_string()),
            Error::OutOfMemory(m) => Python::attach(|py| match out_of_memory_type(py) {
                Ok(t) => PyErr::from_type(t, m),
                Err(e) => e,
            }),
            Error::Internal(m) => InternalError::new_err(format!(
                "{m} (this is a bug in rjax; please report it with the code that triggered it)"
            )),
            // A host callback's own exception is raised again as it was.
            Error::Host(h) => match h.payload.downcast_ref::<PyErr>() {
                Some(err) => Python::attach(|py| err.clone_ref(py)),
                None => RjaxError::new_err(h.msg),
            },
        }
    }
}

static OUT_OF_MEMORY: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `OutOfMemoryError(MemoryError, JaxRuntimeError)`: what a failed
/// allocation raises. It has two bases, so it is made by calling `type`.
pub fn out_of_memory_type(py: Python<'_>) -> PyResult<Bound<'_, PyType>> {
    OUT_OF_MEMORY
        .get_or_try_init(py, || {
            let bases = PyTuple::new(
                py,
                [
                    py.get_type::<PyMemoryError>(),
                    py.get_type::<JaxRuntimeError>(),
                ],
            )?;
            let ns = PyDict::new(py);
            ns.set_item("__module__", "rjax.errors")?;
            ns.set_item(
                "__doc__",
                "An allocation failed (RESOURCE_EXHAUSTED): a MemoryError and a JaxRuntimeError.",
            )?;
            let t = py
                .get_type::<PyType>()
                .call1(("OutOfMemoryError", bases, ns))?
                .cast_into::<PyType>()?;
            Ok::<_, PyErr>(t.unbind())
        })
        .map(|t| t.bind(py).clone())
}

/// Run `f` with the GIL released and any panic turned into `InternalError`
/// (`MemoryError` for a failed allocation).
pub fn guard<T: Send>(
    py: Python<'_>,
    f: impl FnOnce() -> crate::base::error::Result<T> + Send,
) -> PyResult<T> {
    py.detach(|| match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(PyErr::from),
        Err(p) => Err(PyErr::from(panic_error(p))),
    })
}

/// Like `guard`, but keeps the GIL (for work too small to be worth releasing it).
pub fn guard_gil<T>(f: impl FnOnce() -> crate::base::error::Result<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(PyErr::from),
        Err(p) => Err(PyErr::from(panic_error(p))),
    }
}
