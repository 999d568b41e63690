//! One error type for the core. Every fallible path returns `Result<T>`;
//! `py/errors.rs` maps it to Python exceptions in one place.
use crate::base::dtype::DType;

#[derive(thiserror::Error, Debug, Clone)]
pub enum Error {
    #[error("{op}: unsupported dtype {dtype}")]
    UnsupportedDType { op: String, dtype: DType },
    #[error("{op}: {msg}")]
    ShapeMismatch { op: String, msg: String },
    #[error("{op}: bad parameter '{param}': {msg}")]
    BadParam {
        op: String,
        param: String,
        msg: String,
    },
    #[error("unknown op '{0}'")]
    UnknownOp(String),
    #[error("{0}")]
    Internal(String),
    /// An allocation failed (raised as `rjax.errors.OutOfMemoryError`, a
    /// `MemoryError` and a `JaxRuntimeError`).
    #[error("{0}")]
    OutOfMemory(String),
    /// An error raised by host code the core called back into (a Python
    /// callback): its message, and the host's own error object, so that the
    /// Python side can raise the original exception again.
    #[error("{0}")]
    Host(HostError),
}

/// The error of a host callback. `payload` is opaque to the core (the
/// Python layer stores the original `PyErr` there and raises it again).
#[derive(Clone)]
pub struct HostError {
    pub msg: String,
    pub payload: std::sync::Arc<dyn std::any::Any + Send + Sync>,
}

impl std::fmt::Debug for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HostError({:?})", self.msg)
    }
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// The text of a caught panic's payload.
pub fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// How the message of a failed allocation starts (JAX's status code, then
/// the words that `MemoryError` handlers look for).
pub const OOM_PREFIX: &str = "RESOURCE_EXHAUSTED: out of memory";

/// The error for a caught panic: `OutOfMemory` for a failed allocation
/// (`base::buffer` panics with a message starting with `OOM_PREFIX`),
/// otherwise `Internal` (a bug).
pub fn panic_error(p: Box<dyn std::any::Any + Send>) -> Error {
    let msg = panic_message(p);
    if msg.starts_with(OOM_PREFIX) {
        Error::OutOfMemory(msg)
    } else {
        Error::Internal(format!("rjax core panicked: {msg}"))
    }
}

/// `bail!("msg {}", x)` returns an `Error::Internal`; `bail!(Error::X{..})` returns that error.
#[macro_export]
macro_rules! bail {
    ($e:expr) => {
        return Err($crate::base::error::IntoError::into_error($e))
    };
    ($fmt:literal, $($arg:tt)*) => {
        return Err($crate::base::error::Error::Internal(format!($fmt, $($arg)*)))
    };
}

/// `ensure!(cond, ...)` is `if !cond { bail!(...) }`.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($rest:tt)*) => {
        if !$cond {
            $crate::bail!($($rest)*);
        }
    };
}

pub trait IntoError {
    fn into_error(self) -> Error;
}
impl IntoError for Error {
    fn into_error(self) -> Error {
        self
    }
}
impl IntoError for &str {
    fn into_error(self) -> Error {
        Error::Internal(self.to_string())
    }
}
impl IntoError for String {
    fn into_error(self) -> Error {
        Error::Internal(self)
    }
}

/// Shorthand for a shape error of op `op`.
pub fn shape_err(op: &str, msg: impl Into<String>) -> Error {
    Error::ShapeMismatch {
        op: op.to_string(),
        msg: msg.into(),
    }
}

/// Shorthand for an unsupported-dtype error of op `op`.
pub fn dtype_err(op: &str, dtype: DType) -> Error {
    Error::UnsupportedDType {
        op: op.to_string(),
        dtype,
    }
}
