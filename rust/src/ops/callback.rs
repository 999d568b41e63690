//! Host callbacks: ops that call a host (Python) function with their inputs
//! (`pure_callback`: returns arrays of declared shapes and dtypes;
//! `debug_callback`: returns nothing and is run for its effect).
//!
//! The call itself goes through a hook that the Python bindings install when
//! the module loads (`install_host_hook`; it re-acquires the GIL only for the
//! call): this layer never depends on the bindings. Without a hook (plain
//! Rust use), a host callback is an error.
use super::{Aval, Kernel, OpSpec};
use crate::base::buffer::Buffer;
use crate::base::error::{Error, Result};
use crate::base::params::Opaque;
use std::sync::OnceLock;

/// Calls host object `f` (the callback) with `args`, expecting outputs of
/// `out_avals`; `what` names the op for error messages.
pub type HostHook =
    fn(f: &Opaque, args: &[&Buffer], out_avals: &[Aval], what: &str) -> Result<Vec<Buffer>>;

static HOST_HOOK: OnceLock<HostHook> = OnceLock::new();

/// Install the function that calls into the host (once; later calls keep
/// the first hook).
pub fn install_host_hook(hook: HostHook) {
    let _ = HOST_HOOK.set(hook);
}

pub fn build(spec: &OpSpec) -> Result<Kernel> {
    let f = spec.params.object("callback")?;
    let outs = spec.outs.to_vec();
    if spec.name() == "debug_callback" {
        spec.arity(spec.ins.len(), 0)?;
    }
    let what = spec.name().to_string();
    Ok(Box::new(move |ins| match HOST_HOOK.get() {
        Some(call) => call(&f, ins, &outs, &what),
        None => Err(Error::Internal(format!(
            "{what}: no host is attached to call the callback"
        ))),
    }))
}
