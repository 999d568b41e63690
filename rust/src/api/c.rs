//! The C API (header: `include/rjax.h`, generated from this file by
//! cbindgen; `rjax::api::c` tests regenerate it and diff). Opaque handles
//! ([`RjaxProgram`], [`RjaxOutputs`]), status codes ([`RjaxStatus`]) and the
//! calling thread's last error message ([`rjax_last_error`]). No call
//! unwinds into C: a panic becomes `RJAX_STATUS_RUNTIME_ERROR`.
//!
//! Ownership: a handle a function returns through an out-pointer belongs to
//! the caller, who frees it with its `_free` function (freeing NULL is a
//! no-op). Input data is only read, during the call.
// The items below are C's: their names and raw pointers are the ABI.
#![allow(clippy::missing_safety_doc)]
use super::{Error, Program};
use crate::base::buffer::Buffer;
use crate::base::dtype::DType;
use std::cell::RefCell;
use std::ffi::{c_char, c_void, CStr, CString};

/// What a call did.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RjaxStatus {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullArgument = 1,
    /// The file could not be read.
    IoError = 2,
    /// The bytes are not a readable export (not one, a newer version,
    /// truncated or corrupted).
    FormatError = 3,
    /// The inputs do not fit the program (count, dtype, shape).
    InputError = 4,
    /// Building or running the program failed (or an internal error).
    RuntimeError = 5,
    /// An allocation failed.
    OutOfMemory = 6,
}

/// An element type (NumPy's names).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RjaxDType {
    /// `bool` (one byte, 0 or 1).
    Bool = 0,
    /// `int8`.
    Int8 = 1,
    /// `int16`.
    Int16 = 2,
    /// `int32`.
    Int32 = 3,
    /// `int64`.
    Int64 = 4,
    /// `uint8`.
    Uint8 = 5,
    /// `uint16`.
    Uint16 = 6,
    /// `uint32`.
    Uint32 = 7,
    /// `uint64`.
    Uint64 = 8,
    /// `float16`.
    Float16 = 9,
    /// `bfloat16`.
    Bfloat16 = 10,
    /// `float32`.
    Float32 = 11,
    /// `float64`.
    Float64 = 12,
}

const DTYPES: [(RjaxDType, DType); 13] = [
    (RjaxDType::Bool, DType::Bool),
    (RjaxDType::Int8, DType::I8),
    (RjaxDType::Int16, DType::I16),
    (RjaxDType::Int32, DType::I32),
    (RjaxDType::Int64, DType::I64),
    (RjaxDType::Uint8, DType::U8),
    (RjaxDType::Uint16, DType::U16),
    (RjaxDType::Uint32, DType::U32),
    (RjaxDType::Uint64, DType::U64),
    (RjaxDType::Float16, DType::F16),
    (RjaxDType::Bfloat16, DType::BF16),
    (RjaxDType::Float32, DType::F32),
    (RjaxDType::Float64, DType::F64),
];

fn to_c(d: DType) -> RjaxDType {
    DTYPES
        .iter()
        .find(|(_, x)| *x == d)
        .map_or(RjaxDType::Float32, |(c, _)| *c)
}

/// An input: a dense row-major array the caller owns (read during the call).
#[repr(C)]
pub struct RjaxTensor {
    /// The element type.
    pub dtype: RjaxDType,
    /// The number of dimensions.
    pub ndim: usize,
    /// `ndim` extents (may be NULL when `ndim` is 0).
    pub shape: *const usize,
    /// `itemsize * product(shape)` bytes (may be NULL when that is 0).
    pub data: *const c_void,
}

/// A loaded program (opaque).
pub struct RjaxProgram {
    inner: Program,
}

/// The outputs of one run (opaque): read them with the `rjax_outputs_*`
/// functions, free them with [`rjax_outputs_free`].
pub struct RjaxOutputs {
    bufs: Vec<Buffer>,
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_error(msg: &str) {
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

fn status_of(e: &Error) -> RjaxStatus {
    match e {
        Error::Io { .. } => RjaxStatus::IoError,
        Error::Format(_) => RjaxStatus::FormatError,
        Error::Input(_) => RjaxStatus::InputError,
        Error::OutOfMemory(_) => RjaxStatus::OutOfMemory,
        _ => RjaxStatus::RuntimeError,
    }
}

/// Runs `f`, recording its error (or panic) as the thread's last error.
fn entry(f: impl FnOnce() -> Result<(), (RjaxStatus, String)>) -> RjaxStatus {
    match super::guarded(|| Ok(f())) {
        Ok(Ok(())) => {
            set_error("");
            RjaxStatus::Ok
        }
        Ok(Err((s, m))) => {
            set_error(&m);
            s
        }
        Err(e) => {
            set_error(&e.to_string());
            status_of(&e)
        }
    }
}

fn err(e: Error) -> (RjaxStatus, String) {
    (status_of(&e), e.to_string())
}

fn null(what: &str) -> (RjaxStatus, String) {
    (RjaxStatus::NullArgument, format!("{what} is NULL"))
}

/// The message of the calling thread's last failed call ("" after a
/// success). The pointer stays valid until the thread's next rjax call.
#[no_mangle]
pub extern "C" fn rjax_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// The format version this library writes and the newest it reads.
#[no_mangle]
pub extern "C" fn rjax_format_version() -> u32 {
    super::format::VERSION
}

/// Loads the export file at `path` (a NUL-terminated UTF-8 path) into
/// `*out`.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rjax_program_load(
    path: *const c_char,
    out: *mut *mut RjaxProgram,
) -> RjaxStatus {
    entry(|| {
        if path.is_null() {
            return Err(null("path"));
        }
        if out.is_null() {
            return Err(null("out"));
        }
        // SAFETY: non-null and NUL-terminated (the caller's contract).
        let p = unsafe { CStr::from_ptr(path) };
        let p = p
            .to_str()
            .map_err(|_| (RjaxStatus::IoError, "path is not UTF-8".to_string()))?;
        let prog = Program::load(p).map_err(err)?;
        // SAFETY: `out` is non-null and writable (the caller's contract).
        unsafe { *out = Box::into_raw(Box::new(RjaxProgram { inner: prog })) };
        Ok(())
    })
}

/// Loads export bytes (`len` bytes at `data`) into `*out`.
///
/// # Safety
/// `data` points to `len` readable bytes (or is NULL with `len` 0); `out`
/// is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rjax_program_from_bytes(
    data: *const u8,
    len: usize,
    out: *mut *mut RjaxProgram,
) -> RjaxStatus {
    entry(|| {
        if out.is_null() {
            return Err(null("out"));
        }
        if data.is_null() && len > 0 {
            return Err(null("data"));
        }
        let bytes: &[u8] = if len == 0 {
            &[]
        } else {
            // SAFETY: `len` readable bytes at non-null `data` (the caller's contract).
            unsafe { std::slice::from_raw_parts(data, len) }
        };
        let prog = Program::from_bytes(bytes).map_err(err)?;
        // SAFETY: `out` is non-null and writable (the caller's contract).
        unsafe { *out = Box::into_raw(Box::new(RjaxProgram { inner: prog })) };
        Ok(())
    })
}

/// Frees a program (NULL: nothing).
///
/// # Safety
/// `p` is NULL or a program from `rjax_program_load`/`_from_bytes`, not
/// freed before.
#[no_mangle]
pub unsafe extern "C" fn rjax_program_free(p: *mut RjaxProgram) {
    if !p.is_null() {
        // SAFETY: made by Box::into_raw and not freed before (the caller's contract).
        drop(unsafe { Box::from_raw(p) });
    }
}

/// The number of inputs (0 for NULL).
///
/// # Safety
/// `p` is NULL or a live program.
#[no_mangle]
pub unsafe extern "C" fn rjax_program_num_inputs(p: *const RjaxProgram) -> usize {
    // SAFETY: NULL or a live program (the caller's contract).
    unsafe { p.as_ref() }.map_or(0, |p| p.inner.inputs().len())
}

/// The number of outputs (0 for NULL).
///
/// # Safety
/// `p` is NULL or a live program.
#[no_mangle]
pub unsafe extern "C" fn rjax_program_num_outputs(p: *const RjaxProgram) -> usize {
    // SAFETY: NULL or a live program (the caller's contract).
    unsafe { p.as_ref() }.map_or(0, |p| p.inner.outputs().len())
}

/// Runs `p` on `n_inputs` tensors; on success `*out` holds the outputs.
/// Symbolic dimensions take their values from the inputs' shapes.
///
/// # Safety
/// `p` is a live program; `inputs` points to `n_inputs` tensors whose
/// `shape` and `data` pointers satisfy [`RjaxTensor`]'s contract; `out` is
/// writable.
#[no_mangle]
pub unsafe extern "C" fn rjax_program_run(
    p: *const RjaxProgram,
    inputs: *const RjaxTensor,
    n_inputs: usize,
    out: *mut *mut RjaxOutputs,
) -> RjaxStatus {
    entry(|| {
        // SAFETY: NULL or a live program (the caller's contract).
        let p = unsafe { p.as_ref() }.ok_or_else(|| null("program"))?;
        if out.is_null() {
            return Err(null("out"));
        }
        if inputs.is_null() && n_inputs > 0 {
            return Err(null("inputs"));
        }
        let ts: &[RjaxTensor] = if n_inputs == 0 {
            &[]
        } else {
            // SAFETY: `n_inputs` tensors at non-null `inputs` (the caller's contract).
            unsafe { std::slice::from_raw_parts(inputs, n_inputs) }
        };
        let mut dtypes = Vec::with_capacity(ts.len());
        let mut bufs = Vec::with_capacity(ts.len());
        for (k, t) in ts.iter().enumerate() {
            let bad = |m: String| (RjaxStatus::InputError, format!("input {k}: {m}"));
            // A C enum may hold any int: read it as one before matching.
            // SAFETY: `t.dtype` is 4 readable bytes (the field itself).
            let code = unsafe { std::ptr::addr_of!(t.dtype).cast::<u32>().read() };
            let dtype = DTYPES
                .get(code as usize)
                .map(|(_, d)| *d)
                .ok_or_else(|| bad(format!("unknown dtype code {code}")))?;
            if t.shape.is_null() && t.ndim > 0 {
                return Err(bad("shape is NULL".into()));
            }
            let shape: Vec<usize> = if t.ndim == 0 {
                vec![]
            } else {
                // SAFETY: `ndim` extents at non-null `shape` (the caller's contract).
                unsafe { std::slice::from_raw_parts(t.shape, t.ndim) }.to_vec()
            };
            let n = crate::base::buffer::byte_size(dtype, &shape)
                .ok_or_else(|| bad(format!("shape {shape:?} is too large")))?;
            if t.data.is_null() && n > 0 {
                return Err(bad("data is NULL".into()));
            }
            let bytes: &[u8] = if n == 0 {
                &[]
            } else {
                // SAFETY: `n` readable bytes at non-null `data` (the caller's contract).
                unsafe { std::slice::from_raw_parts(t.data.cast::<u8>(), n) }
            };
            dtypes.push(dtype);
            bufs.push(Buffer::from_bytes(dtype, shape, bytes).map_err(|e| err(e.into()))?);
        }
        p.inner.check_dtypes(&dtypes).map_err(err)?;
        let outs = p.inner.run_buffers(&bufs).map_err(err)?;
        // SAFETY: `out` is non-null and writable (the caller's contract).
        unsafe { *out = Box::into_raw(Box::new(RjaxOutputs { bufs: outs })) };
        Ok(())
    })
}

/// Frees outputs (NULL: nothing).
///
/// # Safety
/// `o` is NULL or outputs from `rjax_program_run`, not freed before.
#[no_mangle]
pub unsafe extern "C" fn rjax_outputs_free(o: *mut RjaxOutputs) {
    if !o.is_null() {
        // SAFETY: made by Box::into_raw and not freed before (the caller's contract).
        drop(unsafe { Box::from_raw(o) });
    }
}

/// Output `i` of `o`.
///
/// # Safety
/// `o` is NULL or live outputs, which outlive the reference.
unsafe fn output<'a>(o: *const RjaxOutputs, i: usize) -> Option<&'a Buffer> {
    // SAFETY: NULL or live outputs (the callers' contract).
    unsafe { o.as_ref() }.and_then(|o| o.bufs.get(i))
}

/// The number of outputs (0 for NULL).
///
/// # Safety
/// `o` is NULL or live outputs.
#[no_mangle]
pub unsafe extern "C" fn rjax_outputs_len(o: *const RjaxOutputs) -> usize {
    // SAFETY: NULL or live outputs (the caller's contract).
    unsafe { o.as_ref() }.map_or(0, |o| o.bufs.len())
}

/// Output `i`'s element type (`RJAX_D_TYPE_FLOAT32` if there is no output `i`).
///
/// # Safety
/// `o` is NULL or live outputs.
#[no_mangle]
pub unsafe extern "C" fn rjax_outputs_dtype(o: *const RjaxOutputs, i: usize) -> RjaxDType {
    // SAFETY: NULL or live outputs (the caller's contract).
    unsafe { output(o, i) }.map_or(RjaxDType::Float32, |b| to_c(b.dtype))
}

/// Output `i`'s number of dimensions (0 if there is no output `i`).
///
/// # Safety
/// `o` is NULL or live outputs.
#[no_mangle]
pub unsafe extern "C" fn rjax_outputs_ndim(o: *const RjaxOutputs, i: usize) -> usize {
    // SAFETY: NULL or live outputs (the caller's contract).
    unsafe { output(o, i) }.map_or(0, |b| b.shape.len())
}

/// Output `i`'s extents (`ndim` of them; NULL if there is no output `i`),
/// valid until the outputs are freed.
///
/// # Safety
/// `o` is NULL or live outputs.
#[no_mangle]
pub unsafe extern "C" fn rjax_outputs_shape(o: *const RjaxOutputs, i: usize) -> *const usize {
    // SAFETY: NULL or live outputs (the caller's contract).
    unsafe { output(o, i) }.map_or(std::ptr::null(), |b| b.shape.as_ptr())
}

/// Output `i`'s bytes (row-major; NULL if there is no output `i`), valid
/// until the outputs are freed.
///
/// # Safety
/// `o` is NULL or live outputs.
#[no_mangle]
pub unsafe extern "C" fn rjax_outputs_data(o: *const RjaxOutputs, i: usize) -> *const c_void {
    // SAFETY: NULL or live outputs (the caller's contract).
    unsafe { output(o, i) }.map_or(std::ptr::null(), |b| b.data.bytes().as_ptr().cast())
}

/// Output `i`'s size in bytes (0 if there is no output `i`).
///
/// # Safety
/// `o` is NULL or live outputs.
#[no_mangle]
pub unsafe extern "C" fn rjax_outputs_nbytes(o: *const RjaxOutputs, i: usize) -> usize {
    // SAFETY: NULL or live outputs (the caller's contract).
    unsafe { output(o, i) }.map_or(0, |b| b.data.bytes().len())
}

#[cfg(test)]
#[path = "c_tests.rs"]
mod c_tests;
