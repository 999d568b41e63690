//! Host callbacks: ops that call a Python function with their inputs
//! (`pure_callback`: returns arrays of declared shapes and dtypes;
//! `debug_callback`: returns nothing and is run for its effect). The call
//! itself, with the GIL re-acquired only for it, is `py::host::call_host`.
//!
//! The compiler's passes ask this module which ops are special:
//! - `is_host_op`: calls Python, so it is never evaluated at compile time;
//! - `has_effect`: must run exactly once per run, in program order, even
//!   though nothing reads its (absent) outputs: never removed as dead code,
//!   never merged with an equal instruction. A control-flow op whose
//!   sub-program has an effect has one too.
use super::{Kernel, OpSpec, Registry};
use crate::error::Result;
use crate::params::Params;
use crate::py::host::call_host;

/// Ops that call back into the host.
pub const HOST_OPS: [&str; 2] = ["pure_callback", "debug_callback"];
/// Ops run for their effect.
pub const EFFECT_OPS: [&str; 1] = ["debug_callback"];

pub fn register(r: &mut Registry) {
    r.add("pure_callback", build);
    r.add("debug_callback", build);
}

fn build(spec: &OpSpec) -> Result<Kernel> {
    let f = spec.params.object("callback")?;
    let outs = spec.outs.to_vec();
    if spec.name() == "debug_callback" {
        spec.arity(spec.ins.len(), 0)?;
    }
    let what = spec.name().to_string();
    Ok(Box::new(move |ins| call_host(&f, ins, &outs, &what)))
}

/// Whether the op (or a sub-program it carries) calls back into the host.
pub fn is_host_op(p: &Params) -> bool {
    HOST_OPS.contains(&p.op.as_str()) || p.sub_programs().iter().any(|e| e.has_host_calls())
}

/// Whether the op (or a sub-program it carries) has an effect.
pub fn has_effect(p: &Params) -> bool {
    EFFECT_OPS.contains(&p.op.as_str()) || p.sub_programs().iter().any(|e| e.has_effects())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effects_are_named() {
        assert!(has_effect(&Params::new("debug_callback")));
        assert!(!has_effect(&Params::new("pure_callback")));
        assert!(is_host_op(&Params::new("pure_callback")));
        assert!(!is_host_op(&Params::new("add")));
    }
}
