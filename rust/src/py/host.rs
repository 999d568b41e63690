//! Calling Python from the core: the one helper every host callback goes
//! through (`pure_callback`, `debug_callback`; later MPI collectives).
//!
//! The core runs Programs with the GIL released (on a device's worker
//! thread, or on the calling thread inside `guard`), or, for small
//! synchronous runs, on a thread that already holds it. `call_host` attaches
//! to the interpreter only for the call itself, so it works in every case:
//! `Python::attach` is re-entrant on a thread that holds the GIL, and blocks
//! only until the GIL is free otherwise. Every place where the runtime waits
//! for a device (`PyBuffer::get`, `synchronize`, a full queue in
//! `PyExecutable::run`, `run_replicas`) releases the GIL first, so a worker
//! that needs the GIL for a callback can always get it.
use crate::base::buffer::Buffer;
use crate::base::dtype::DType;
use crate::base::error::{Error, HostError, Result};
use crate::ops::Aval;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use std::cell::Cell;
use std::sync::Arc;

thread_local! {
    static IN_HOST_CALL: Cell<usize> = const { Cell::new(0) };
}

/// Whether this thread is inside a host callback now. Programs that the
/// callback itself runs then run synchronously on this thread (never queued
/// behind the job that is waiting for the callback to return).
pub fn in_host_call() -> bool {
    IN_HOST_CALL.with(|c| c.get() > 0)
}

struct Depth;

impl Depth {
    fn enter() -> Depth {
        IN_HOST_CALL.with(|c| c.set(c.get() + 1));
        Depth
    }
}

impl Drop for Depth {
    fn drop(&mut self) {
        IN_HOST_CALL.with(|c| c.set(c.get().saturating_sub(1)));
    }
}

/// The error of a host call: the Python exception itself travels as the
/// payload, so that it is raised again, unchanged, where the run is read.
fn host_error(py: Python<'_>, what: &str, err: PyErr) -> Error {
    let msg = format!(
        "{what}: the callback raised {}",
        err.value(py)
            .repr()
            .map_or_else(|_| "an exception".to_string(), |r| r.to_string(),)
    );
    // Say where it came from (Python >= 3.11 shows notes under the message;
    // older versions have no `add_note`, and lose nothing else).
    let _ = err.value(py).call_method1(
        "add_note",
        (format!(
            "(raised inside a host callback of rjax's {what} op)"
        ),),
    );
    Error::Host(HostError {
        msg,
        payload: Arc::new(err),
    })
}

fn np_dtype<'py>(py: Python<'py>, dt: DType) -> PyResult<Bound<'py, PyAny>> {
    let np = py.import("numpy")?;
    match dt {
        DType::BF16 => np
            .getattr("dtype")?
            .call1((py.import("ml_dtypes")?.getattr("bfloat16")?,)),
        _ => np.getattr("dtype")?.call1((dt.name(),)),
    }
}

/// A read-only NumPy view of `b` (no copy; the view keeps the buffer alive).
fn to_numpy<'py>(py: Python<'py>, b: &Buffer) -> PyResult<Bound<'py, PyAny>> {
    let handle = Bound::new(py, super::buffer::PyBuffer::ready(b.clone()))?;
    let raw = handle.call_method0("as_bytes")?;
    raw.getattr("flags")?.setattr("writeable", false)?;
    let shape = PyTuple::new(py, &b.shape)?;
    raw.call_method1("view", (np_dtype(py, b.dtype)?,))?
        .call_method1("reshape", (shape,))
}

/// Convert one result to a buffer of aval `a`, or say how it differs.
fn from_numpy(py: Python<'_>, k: usize, v: &Bound<'_, PyAny>, a: &Aval) -> PyResult<Buffer> {
    let np = py.import("numpy")?;
    let arr = np.getattr("asarray")?.call1((v,))?;
    let shape: Vec<usize> = arr.getattr("shape")?.extract()?;
    if shape != a.shape {
        return Err(PyRuntimeError::new_err(format!(
            "Incorrect output shape for return value #{k}: Expected: {:?}, Actual: {:?}",
            a.shape, shape
        )));
    }
    let want = np_dtype(py, a.dtype)?;
    let got = arr.getattr("dtype")?;
    if !got.eq(&want)? {
        return Err(PyRuntimeError::new_err(format!(
            "Incorrect output dtype for return value #{k}: Expected: {}, Actual: {}",
            a.dtype.name(),
            got.str()?
        )));
    }
    let bytes = np
        .getattr("ascontiguousarray")?
        .call1((arr,))?
        .call_method0("tobytes")?;
    let bytes = bytes.cast::<PyBytes>()?;
    Buffer::from_bytes(a.dtype, a.shape.clone(), bytes.as_bytes()).map_err(PyErr::from)
}

/// Call the Python callable `f` with read-only NumPy views of `args` and
/// return its results as buffers of `out_avals`.
///
/// Contract:
/// - callable from any thread, whether or not it holds the GIL; the GIL is
///   held only during the call (and the conversions around it);
/// - `f(*arrays)` must return a sequence of `out_avals.len()` array-likes
///   (anything when `out_avals` is empty: the result is then ignored); each
///   must have exactly the declared shape and dtype, else the error is a
///   Python `RuntimeError` naming the result;
/// - the arrays `f` receives cannot be written (the core's buffers are
///   immutable) and stay valid as long as `f` keeps them;
/// - a Python exception raised by `f` comes back as `Error::Host`, carrying
///   that exception, which `From<Error> for PyErr` raises again unchanged;
///   `what` names the caller in the error's message;
/// - while `f` runs, `in_host_call()` is true on this thread.
pub fn call_host(
    f: &Arc<dyn std::any::Any + Send + Sync>,
    args: &[&Buffer],
    out_avals: &[Aval],
    what: &str,
) -> Result<Vec<Buffer>> {
    let f = f
        .downcast_ref::<Py<PyAny>>()
        .ok_or_else(|| Error::Internal(format!("{what}: the callback is not a Python object")))?;
    let _depth = Depth::enter();
    let res = Python::try_attach(|py| {
        let run = || -> PyResult<Vec<Buffer>> {
            let arrays = args
                .iter()
                .map(|b| to_numpy(py, b))
                .collect::<PyResult<Vec<_>>>()?;
            let out = f.bind(py).call1(PyTuple::new(py, arrays)?)?;
            if out_avals.is_empty() {
                return Ok(vec![]);
            }
            let items: Vec<Bound<'_, PyAny>> = if let Ok(l) = out.cast::<PyList>() {
                l.iter().collect()
            } else if let Ok(t) = out.cast::<PyTuple>() {
                t.iter().collect()
            } else {
                return Err(PyRuntimeError::new_err(format!(
                    "{what}: the callback must return a sequence of {} arrays, got {}",
                    out_avals.len(),
                    out.get_type().name()?
                )));
            };
            if items.len() != out_avals.len() {
                return Err(PyRuntimeError::new_err(format!(
                    "{what}: the callback returned {} values, expected {}",
                    items.len(),
                    out_avals.len()
                )));
            }
            items
                .iter()
                .zip(out_avals)
                .enumerate()
                .map(|(k, (v, a))| from_numpy(py, k, v, a))
                .collect()
        };
        run().map_err(|e| host_error(py, what, e))
    });
    res.unwrap_or_else(|| {
        Err(Error::Internal(format!(
            "{what}: the Python interpreter is not available (shutting down?)"
        )))
    })
}
