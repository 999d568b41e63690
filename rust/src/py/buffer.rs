//! `_rjax.Buffer`: the Python handle of an immutable core buffer, which may
//! still be being computed by its device (asynchronous dispatch): reading its
//! bytes waits for it, with the GIL released.
use super::errors::guard_gil;
use crate::base::buffer::Buffer;
use crate::base::dtype::DType;
use crate::base::error::Error;
use crate::exec::device::{Input, Slot};
use numpy::ndarray::ArrayView1;
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use std::sync::Arc;

#[pyclass(name = "Buffer", module = "rjax._rjax", frozen)]
pub struct PyBuffer {
    /// Behind a lock only so that a donation can take the buffer out
    /// (`take_donated`); otherwise set once.
    state: std::sync::Mutex<State>,
    dtype: DType,
    shape: Vec<usize>,
}

enum State {
    Ready(Buffer),
    Pending(Arc<Slot>),
    /// Donated to a jitted call: the call took the buffer.
    Donated,
}

fn donated_err() -> PyErr {
    pyo3::exceptions::PyRuntimeError::new_err(
        "Array has been deleted (e.g. donated to a jitted function).",
    )
}

impl PyBuffer {
    pub fn ready(inner: Buffer) -> PyBuffer {
        PyBuffer {
            dtype: inner.dtype,
            shape: inner.shape.clone(),
            state: std::sync::Mutex::new(State::Ready(inner)),
        }
    }

    pub fn pending(slot: Arc<Slot>, dtype: DType, shape: Vec<usize>) -> PyBuffer {
        PyBuffer {
            state: std::sync::Mutex::new(State::Pending(slot)),
            dtype,
            shape,
        }
    }

    /// The buffer, waiting (without the GIL) while its device computes it; a
    /// failure of the work that computes it is raised here.
    pub fn get(&self, py: Python<'_>) -> PyResult<Buffer> {
        let slot = match &*self.lock() {
            State::Ready(b) => return Ok(b.clone()),
            State::Donated => return Err(donated_err()),
            State::Pending(s) => match s.try_get() {
                Some(r) => return r.map_err(PyErr::from),
                None => Arc::clone(s),
            },
        };
        py.detach(move || slot.wait()).map_err(PyErr::from)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take the buffer out for a call it is donated to (the caller has
    /// checked that no other Python object holds this handle): the handle
    /// then holds nothing (using it raises), and the run holds the only
    /// reference to the memory unless another buffer shares it (a view, a
    /// NumPy array made by `as_bytes`, an output that aliases it), which
    /// the executor checks (`Arc::get_mut`) before writing.
    pub fn take_donated(&self) -> Option<Input> {
        let old = std::mem::replace(&mut *self.lock(), State::Donated);
        match old {
            State::Ready(b) => Some(Input::Ready(b)),
            // (a computed slot is dropped here: its value is then ours)
            State::Pending(s) => match s.try_get() {
                Some(Ok(b)) => Some(Input::Ready(b)),
                _ => Some(Input::Pending(s)),
            },
            State::Donated => None,
        }
    }

    /// The buffer if it is ready (Ok(None) while pending); a failed
    /// computation is an error.
    pub fn try_get(&self) -> PyResult<Option<Buffer>> {
        match &*self.lock() {
            State::Ready(b) => Ok(Some(b.clone())),
            State::Pending(s) => s.try_get().transpose().map_err(PyErr::from),
            State::Donated => Err(donated_err()),
        }
    }

    /// As an input of queued work (never blocks).
    pub fn input(&self) -> PyResult<Input> {
        Ok(match &*self.lock() {
            State::Ready(b) => Input::Ready(b.clone()),
            State::Pending(s) => match s.try_get() {
                Some(Ok(b)) => Input::Ready(b),
                _ => Input::Pending(Arc::clone(s)),
            },
            State::Donated => return Err(donated_err()),
        })
    }

    pub fn dtype_of(&self) -> DType {
        self.dtype
    }

    pub fn shape_of(&self) -> Vec<usize> {
        self.shape.clone()
    }

    pub fn nbytes_hint(&self) -> usize {
        self.shape.iter().product::<usize>() * self.dtype.itemsize()
    }
}

pub fn parse_dtype(name: &str) -> PyResult<DType> {
    DType::from_name(name)
        .ok_or_else(|| PyTypeError::new_err(format!("rjax does not support dtype {name}")))
}

#[pymethods]
impl PyBuffer {
    /// Copy a C-contiguous array, given as its raw bytes (a 1-d uint8 view), into a new buffer.
    #[staticmethod]
    fn from_bytes(
        py: Python<'_>,
        data: PyReadonlyArray1<'_, u8>,
        dtype: &str,
        shape: Vec<usize>,
    ) -> PyResult<PyBuffer> {
        let dt = parse_dtype(dtype)?;
        let bytes = data
            .as_slice()
            .map_err(|e| PyTypeError::new_err(e.to_string()))?;
        // The copy keeps the GIL: the array may be writable (or a view of a
        // writable one), so another Python thread could change it while it
        // is read. Holding the GIL, nothing but the copy can touch it.
        let _ = py;
        let inner = guard_gil(|| Buffer::from_bytes(dt, shape, bytes))?;
        Ok(PyBuffer::ready(inner))
    }

    /// Borrow the memory of a C-contiguous, aligned, read-only array (given as
    /// its 1-d uint8 view) without copying. The caller (Python) guarantees that
    /// nothing can write to that memory while the array object lives.
    #[staticmethod]
    fn borrow(
        data: PyReadonlyArray1<'_, u8>,
        dtype: &str,
        shape: Vec<usize>,
    ) -> PyResult<PyBuffer> {
        let dt = parse_dtype(dtype)?;
        let bytes = data
            .as_slice()
            .map_err(|e| PyTypeError::new_err(e.to_string()))?;
        let (ptr, len) = (bytes.as_ptr(), bytes.len());
        if !(ptr as usize).is_multiple_of(dt.itemsize()) {
            return Err(PyTypeError::new_err(
                "borrow: memory is not aligned for its dtype",
            ));
        }
        let owner: Py<PyAny> = data.as_any().clone().unbind();
        // SAFETY: see the doc comment; `owner` keeps the memory alive.
        let raw = unsafe { crate::base::buffer::RawBuf::borrowed(ptr, len, Box::new(owner)) };
        let inner = guard_gil(|| Buffer::new(dt, shape, raw))?;
        Ok(PyBuffer::ready(inner))
    }

    /// The same memory read as another dtype/shape of equal byte size (no copy).
    fn view(&self, py: Python<'_>, dtype: &str, shape: Vec<usize>) -> PyResult<PyBuffer> {
        let dt = parse_dtype(dtype)?;
        let b = self.get(py)?;
        Ok(PyBuffer::ready(guard_gil(|| b.reinterpret(dt, shape))?))
    }

    /// Whether this buffer borrows a foreign (NumPy) array's memory.
    #[getter]
    fn borrowed(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.get(py)?.data.is_borrowed())
    }

    /// Wait until the buffer is computed; raises the error of the work that
    /// computes it if that failed.
    fn wait(&self, py: Python<'_>) -> PyResult<()> {
        self.get(py).map(|_| ())
    }

    /// Whether the buffer is computed (or its computation failed).
    fn is_ready(&self) -> bool {
        match &*self.lock() {
            State::Ready(_) | State::Donated => true,
            State::Pending(s) => s.is_done(),
        }
    }

    /// A 0-d buffer holding a Python scalar converted to `dtype`.
    #[staticmethod]
    fn scalar(value: &Bound<'_, PyAny>, dtype: &str) -> PyResult<PyBuffer> {
        let dt = parse_dtype(dtype)?;
        let inner = if let Ok(b) = value.extract::<bool>() {
            guard_gil(|| scalar_buffer(dt, b as u8 as f64, b as i128))?
        } else if let Ok(i) = value.extract::<i128>() {
            guard_gil(|| scalar_buffer(dt, i as f64, i))?
        } else {
            let f: f64 = value.extract()?;
            guard_gil(|| scalar_buffer(dt, f, f as i128))?
        };
        Ok(PyBuffer::ready(inner))
    }

    /// The bytes as a read-only 1-d uint8 NumPy array that shares this buffer's memory.
    fn as_bytes<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyArray1<u8>>> {
        let py = slf.py();
        let b = slf.get().get(py)?;
        let bytes: &[u8] = b.data.bytes();
        let (ptr, len) = (bytes.as_ptr(), bytes.len());
        // The view's base is a handle of its own on the memory (not `slf`):
        // a call this handle is later donated to sees the memory shared and
        // never writes into it. (Python finds rjax's buffers at the end of
        // a view's base chain: `array.py` `_immutable_root`.)
        let owner = Bound::new(py, PyBuffer::ready(b))?;
        // SAFETY: the memory is never written while it is shared (every
        // in-place write checks that its Arc is unique), and `owner` keeps
        // it alive as the new array's base.
        let view = unsafe { ArrayView1::from_shape_ptr(len, ptr) };
        // SAFETY: `view` points into that buffer, which `owner` keeps
        // alive as the new array's base; the array is created read-only
        // (`borrow_from_array` of a view).
        let arr = unsafe { PyArray1::borrow_from_array(&view, owner.into_any()) };
        Ok(arr)
    }

    #[getter]
    fn shape(&self) -> Vec<usize> {
        self.shape.clone()
    }
    #[getter]
    fn dtype(&self) -> &'static str {
        self.dtype.name()
    }
    #[getter]
    fn nbytes(&self) -> usize {
        self.nbytes_hint()
    }
    fn __repr__(&self) -> String {
        let state = if self.is_ready() { "" } else { ", pending" };
        format!("Buffer({}{:?}{state})", self.dtype, self.shape)
    }
}

fn scalar_buffer(dt: DType, f: f64, i: i128) -> crate::base::error::Result<Buffer> {
    use crate::base::dtype::Element;
    macro_rules! mk {
        ($t:ty, $v:expr) => {
            Buffer::from_vec::<$t>(vec![], &[$v])
        };
    }
    match dt {
        DType::Bool => mk!(bool, f != 0.0),
        DType::I8 => mk!(i8, i as i8),
        DType::I16 => mk!(i16, i as i16),
        DType::I32 => mk!(i32, i as i32),
        DType::I64 => mk!(i64, i as i64),
        DType::U8 => mk!(u8, i as u8),
        DType::U16 => mk!(u16, i as u16),
        DType::U32 => mk!(u32, i as u32),
        DType::U64 => mk!(u64, i as u64),
        DType::F16 => mk!(half::f16, half::f16::from_f64(f)),
        DType::BF16 => mk!(half::bf16, half::bf16::from_f64(f)),
        DType::F32 => mk!(f32, f32::from_f64(f)),
        DType::F64 => mk!(f64, f),
        DType::C64 => mk!(
            crate::base::dtype::C64,
            crate::base::dtype::C64::from_f64(f)
        ),
        DType::C128 => mk!(
            crate::base::dtype::C128,
            crate::base::dtype::C128::from_f64(f)
        ),
    }
    .map_err(|e: Error| e)
}
