//! The cross-process transport of `rjax.distributed`: a Python callable
//! (mpi4py's `Allgather`, set up in `rjax/_src/distributed.py`) that the
//! runtime calls from a device thread, taking the GIL only for that call.
use crate::error::{Error, Result};
use crate::exec::comm::{set_transport as install, Transport};
use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use std::sync::Arc;

struct PyTransport {
    index: usize,
    count: usize,
    /// `allgather(block: np.ndarray[uint8]) -> np.ndarray[uint8]` of
    /// `count * len(block)` bytes, in process order.
    allgather: Py<PyAny>,
}

impl Transport for PyTransport {
    fn process_index(&self) -> usize {
        self.index
    }
    fn process_count(&self) -> usize {
        self.count
    }
    fn allgather(&self, block: &[u8]) -> Result<Vec<u8>> {
        Python::attach(|py| -> PyResult<Vec<u8>> {
            let send = PyArray1::from_slice(py, block);
            let out = self.allgather.call1(py, (send,))?;
            let arr = out.bind(py).cast::<PyArray1<u8>>()?.readonly();
            Ok(arr.as_slice()?.to_vec())
        })
        .map_err(|e| Error::Internal(format!("cross-process exchange failed: {e}")))
    }
}

/// `set_transport(index, count, allgather)` makes pmaps that span processes
/// exchange data through `allgather`; `set_transport(None)` removes it.
#[pyfunction]
#[pyo3(signature = (index=None, count=1, allgather=None))]
pub fn set_transport(
    index: Option<usize>,
    count: usize,
    allgather: Option<Py<PyAny>>,
) -> PyResult<()> {
    match (index, allgather) {
        (Some(index), Some(allgather)) => {
            if index >= count {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "set_transport: process index {index} out of range for {count} processes"
                )));
            }
            install(Some(Arc::new(PyTransport {
                index,
                count,
                allgather,
            })));
        }
        _ => install(None),
    }
    Ok(())
}
