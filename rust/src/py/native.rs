//! The native tier's bindings (`exec::native`): the Python runtime
//! (`rjax._src.runtime.codegen`) reads groups' IR, compiles it with
//! llvmlite, and installs the functions' addresses here.
use super::program::PyExecutable;
use crate::exec::native::{self, Slot};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::time::Duration;

/// One group to compile: `(id, description, ir or None, why not)`.
type Request = (u64, String, Option<String>, String);

fn request(s: &Slot) -> Request {
    let name = format!("rjax_group_{}", s.id);
    match s.render(&name) {
        Ok(ir) => (s.id, s.describe(), Some(ir), String::new()),
        Err(why) => {
            s.fail();
            (s.id, s.describe(), None, why)
        }
    }
}

/// `codegen_set_mode("off" | "auto" | "sync")`.
#[pyfunction]
pub fn codegen_set_mode(mode: &str) -> PyResult<()> {
    let m = match mode {
        "off" => native::OFF,
        "auto" => native::AUTO,
        "sync" => native::SYNC,
        _ => {
            return Err(PyValueError::new_err(format!(
                "RJAX_CODEGEN must be off, auto or sync, not {mode:?}"
            )))
        }
    };
    native::set_mode(m);
    Ok(())
}

/// `[(symbol, address)]` of the functions native code calls.
#[pyfunction]
pub fn native_symbols() -> Vec<(String, usize)> {
    native::symbols::table()
}

/// The groups queued for compilation (`auto` mode), waiting up to
/// `timeout` seconds for one, without the GIL; each as `(id, description,
/// ir or None, why not)`.
#[pyfunction]
pub fn native_wait(py: Python<'_>, timeout: f64) -> Vec<Request> {
    py.detach(|| {
        native::wait(Duration::from_secs_f64(timeout.clamp(0.0, 3600.0)))
            .into_iter()
            .filter_map(Slot::lookup)
            .map(|s| request(&s))
            .collect()
    })
}

/// Install compiled group `id`'s function. The address must be that of the
/// function compiled from the group's IR, kept alive by the caller for the
/// rest of the process. Returns false if the group no longer exists.
#[pyfunction]
pub fn native_install(id: u64, addr: usize) -> PyResult<bool> {
    if addr == 0 {
        return Err(PyValueError::new_err("native_install: a null function"));
    }
    Ok(match Slot::lookup(id) {
        Some(s) => {
            // SAFETY: the caller's contract above (rjax's codegen module).
            unsafe { s.install(addr) };
            true
        }
        None => false,
    })
}

/// Group `id` has no native code: it keeps the interpreter.
#[pyfunction]
pub fn native_fail(id: u64) {
    if let Some(s) = Slot::lookup(id) {
        s.fail();
    }
}

/// Requests for an executable's groups not yet compiled or queued, which
/// this call claims (`sync` mode compiles them before the first run).
pub fn requests(e: &PyExecutable, py: Python<'_>) -> Vec<Request> {
    let slots: Vec<std::sync::Arc<Slot>> = e.inner.native_slots().to_vec();
    py.detach(|| {
        slots
            .iter()
            .filter(|s| s.claim())
            .map(|s| request(s))
            .collect()
    })
}

/// `(groups, native)`: how many fused groups an executable has, and how
/// many run native code.
pub fn tiers(e: &PyExecutable) -> (usize, usize) {
    let s = e.inner.native_slots();
    (s.len(), s.iter().filter(|s| s.is_native()).count())
}
