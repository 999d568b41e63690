//! The one place where core errors become Python exceptions, and where panics
//! are caught before they can cross into Python.
use crate::base::error::{panic_error, Error};
use pyo3::exceptions::{
    PyException, PyMemoryError, PyNotImplementedError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

pyo3::create_exception!(
    _rjax,
    RjaxError,
    PyException,
    "Base class of rjax's runtime errors."
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
            Error::OutOfMemory(m) => PyMemoryError::new_err(m),
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
