//! PyO3 wrappers, one file per area. `register` is all that lib.rs calls.
pub mod buffer;
pub mod errors;
pub mod export;
pub mod host;
pub mod native;
pub mod program;
pub mod transport;

use pyo3::prelude::*;

#[pyfunction]
fn supported_ops() -> Vec<&'static str> {
    crate::ops::supported_ops()
}

/// Panics inside the core on purpose, to test that panics become exceptions.
#[pyfunction]
fn _panic_for_test(py: Python<'_>) -> PyResult<()> {
    errors::guard(py, || -> crate::base::error::Result<()> {
        panic!("deliberate test panic")
    })
}

/// Queue on the default device a job that fails (or panics) after its input
/// is ready, returning its pending output: tests use it to check that async
/// errors surface at the next wait and that the device keeps working.
#[pyfunction]
fn _queue_failure_for_test(
    input: PyRef<'_, buffer::PyBuffer>,
    message: String,
    panic: bool,
) -> PyResult<buffer::PyBuffer> {
    use crate::exec::device::Device;
    let dtype = input.dtype_of();
    let shape = input.shape_of();
    let slots = Device::default_device().enqueue(vec![input.input()?], 1, move |_| {
        if panic {
            panic!("{message}");
        }
        Err(crate::base::error::Error::Internal(message))
    });
    Ok(buffer::PyBuffer::pending(slots[0].clone(), dtype, shape))
}

/// Bytes that ops able to update their operand in place copied because
/// the operand was still in use (`base::buffer::copied_bytes`): tests
/// check in-place updates with it, not with timings.
#[pyfunction]
fn copied_bytes() -> u64 {
    crate::base::buffer::copied_bytes()
}

/// How many `while`/`scan` runs went through a loop frame
/// (`ops::control::framed_loops`): a small body's fast path, for tests.
#[pyfunction]
fn framed_loops() -> u64 {
    crate::ops::control::framed_loops()
}

/// `set_loop_frames(on)`: loop frames on (the default) or off (every loop
/// body through the executor); returns the previous setting.
#[pyfunction]
fn set_loop_frames(on: bool) -> bool {
    crate::ops::control::set_loop_frames(on)
}

#[pyfunction]
fn num_threads() -> usize {
    rayon::current_num_threads()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    crate::exec::init_threads();
    crate::ops::callback::install_host_hook(host::call_host);
    m.add_class::<buffer::PyBuffer>()?;
    m.add_class::<program::PyExecutable>()?;
    m.add_class::<export::PyExportedProgram>()?;
    m.add_function(wrap_pyfunction!(export::export_program, m)?)?;
    m.add_function(wrap_pyfunction!(supported_ops, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_test, m)?)?;
    m.add_function(wrap_pyfunction!(_queue_failure_for_test, m)?)?;
    m.add_function(wrap_pyfunction!(num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(copied_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(framed_loops, m)?)?;
    m.add_function(wrap_pyfunction!(set_loop_frames, m)?)?;
    m.add_function(wrap_pyfunction!(program::set_async_mode, m)?)?;
    m.add_function(wrap_pyfunction!(program::synchronize, m)?)?;
    m.add_function(wrap_pyfunction!(program::init_devices, m)?)?;
    m.add_function(wrap_pyfunction!(program::device_threads, m)?)?;
    m.add_function(wrap_pyfunction!(transport::set_transport, m)?)?;
    m.add_function(wrap_pyfunction!(native::codegen_set_mode, m)?)?;
    m.add_function(wrap_pyfunction!(native::native_symbols, m)?)?;
    m.add_function(wrap_pyfunction!(native::native_wait, m)?)?;
    m.add_function(wrap_pyfunction!(native::native_install, m)?)?;
    m.add_function(wrap_pyfunction!(native::native_fail, m)?)?;
    m.add(
        "JaxRuntimeError",
        m.py().get_type::<errors::JaxRuntimeError>(),
    )?;
    m.add("OutOfMemoryError", errors::out_of_memory_type(m.py())?)?;
    m.add("RjaxError", m.py().get_type::<errors::RjaxError>())?;
    m.add("InternalError", m.py().get_type::<errors::InternalError>())?;
    Ok(())
}
