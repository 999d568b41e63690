//! The cross-process transport of `rjax.distributed`: a Python callable
//! (mpi4py's `Allgather`, set up in `rjax/_src/distributed.py`) that the
//! runtime calls from a device thread through `host::call_host`, taking the
//! GIL only for that call.
use super::host::call_host;
use crate::base::buffer::Buffer;
use crate::base::dtype::DType;
use crate::base::error::Result;
use crate::exec::comm::{set_transport as install, Transport};
use crate::ops::Aval;
use pyo3::prelude::*;
use std::any::Any;
use std::sync::Arc;

struct PyTransport {
    index: usize,
    count: usize,
    /// `allgather(block: np.ndarray[uint8]) -> (np.ndarray[uint8],)` of
    /// `count * len(block)` bytes, in process order.
    allgather: Arc<dyn Any + Send + Sync>,
}

impl Transport for PyTransport {
    fn process_index(&self) -> usize {
        self.index
    }
    fn process_count(&self) -> usize {
        self.count
    }
    fn allgather(&self, block: &[u8]) -> Result<Vec<u8>> {
        let send = Buffer::from_bytes(DType::U8, vec![block.len()], block)?;
        let want = Aval::new(DType::U8, vec![block.len() * self.count]);
        let out = call_host(&self.allgather, &[&send], &[want], "cross-process exchange")?;
        Ok(out[0].data.bytes().to_vec())
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
                allgather: Arc::new(allgather),
            })));
        }
        _ => install(None),
    }
    Ok(())
}
