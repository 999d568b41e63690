//! `_rjax.Executable`: a compiled Program, built from plain Python data.
use super::buffer::{parse_dtype, PyBuffer};
use super::errors::{guard, guard_gil};
use crate::base::buffer::Buffer;
use crate::base::params::{HostObject, Param, Params};
use crate::exec::device::{Device, Input};
use crate::exec::executable::{Executable, InstrSpec};
use crate::ops::Aval;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use std::sync::atomic::{AtomicU8, Ordering};

/// Below this many input+output bytes a run keeps the GIL (releasing it costs more).
const DETACH_BYTES: usize = 1 << 16;

/// From this many input+output bytes on, a run is queued on the device and
/// returns at once (asynchronous dispatch); smaller work whose inputs are
/// ready runs on the calling thread, since handing it over costs more than
/// running it.
const ASYNC_BYTES: usize = 1 << 20;

/// 0: queue large work (default), 1: queue every run, 2: run everything on
/// the calling thread. Set by `RJAX_ASYNC=auto|always|never` or `set_async_mode`.
static ASYNC_MODE: AtomicU8 = AtomicU8::new(u8::MAX);

fn async_mode() -> u8 {
    let m = ASYNC_MODE.load(Ordering::Relaxed);
    if m != u8::MAX {
        return m;
    }
    let m = match std::env::var("RJAX_ASYNC").as_deref() {
        Ok("always") => 1,
        Ok("never") | Ok("0") => 2,
        _ => 0,
    };
    ASYNC_MODE.store(m, Ordering::Relaxed);
    m
}

/// `set_async_mode("auto" | "always" | "never")`; returns the previous mode.
#[pyfunction]
pub fn set_async_mode(mode: &str) -> PyResult<&'static str> {
    let names = ["auto", "always", "never"];
    let m = names
        .iter()
        .position(|&n| n == mode)
        .ok_or_else(|| PyValueError::new_err(format!("async mode must be one of {names:?}")))?;
    let prev = async_mode();
    ASYNC_MODE.store(m as u8, Ordering::Relaxed);
    Ok(names[prev as usize])
}

/// The tokens of queued runs that have an effect and no outputs: their
/// errors have nowhere else to go.
mod effect_tokens {
    use crate::base::error::Error;
    use crate::exec::device::Slot;
    use std::sync::{Arc, Mutex};

    static TOKENS: Mutex<Vec<Arc<Slot>>> = Mutex::new(Vec::new());

    pub fn push(slots: Vec<Arc<Slot>>) {
        let mut t = TOKENS.lock().unwrap_or_else(|e| e.into_inner());
        // Forget the runs that finished well.
        t.retain(|s| !matches!(s.try_get(), Some(Ok(_))));
        t.extend(slots);
    }

    /// The first error among the finished runs (all of them are forgotten).
    pub fn take_error() -> Option<Error> {
        let mut t = TOKENS.lock().unwrap_or_else(|e| e.into_inner());
        let mut first = None;
        t.retain(|s| match s.try_get() {
            None => true,
            Some(Ok(_)) => false,
            Some(Err(e)) => {
                first.get_or_insert(e);
                false
            }
        });
        first
    }
}

/// Block until every run queued on any device so far has finished; raise
/// the error of a queued run that had an effect and no outputs (an eager
/// debug callback), if one failed. Inside a host callback it returns at
/// once: the run that called back is one of those runs, and it cannot
/// finish before the callback returns.
#[pyfunction]
pub fn synchronize(py: Python<'_>) -> PyResult<()> {
    if super::host::in_host_call() {
        return Ok(());
    }
    py.detach(|| {
        crate::exec::device::devices()
            .iter()
            .for_each(|d| d.synchronize())
    });
    match effect_tokens::take_error() {
        Some(e) => Err(PyErr::from(e)),
        None => Ok(()),
    }
}

/// Create the CPU devices (`n` of them) if none exist yet; returns each
/// device's thread count. Errors if devices exist with another count.
#[pyfunction]
pub fn init_devices(n: usize) -> PyResult<Vec<usize>> {
    let d = crate::exec::device::init_devices(n).map_err(PyErr::from)?;
    Ok(d.iter().map(|d| d.num_threads()).collect())
}

/// Each existing CPU device's thread count (creating the devices from
/// `RJAX_NUM_CPU_DEVICES` if none exist yet).
#[pyfunction]
pub fn device_threads() -> Vec<usize> {
    crate::exec::device::devices()
        .iter()
        .map(|d| d.num_threads())
        .collect()
}

fn param_from_py(v: &Bound<'_, PyAny>) -> PyResult<Param> {
    if v.is_none() {
        Ok(Param::None)
    } else if v.is_instance_of::<PyBool>() {
        Ok(Param::Bool(v.extract()?))
    } else if v.is_instance_of::<PyInt>() {
        Ok(Param::Int(v.extract()?))
    } else if v.is_instance_of::<PyFloat>() {
        Ok(Param::Float(v.extract()?))
    } else if v.is_instance_of::<PyString>() {
        Ok(Param::Str(v.extract()?))
    } else if let Ok(e) = v.cast::<PyExecutable>() {
        // A compiled sub-program (a control-flow op's branch or body).
        Ok(crate::ops::control::program_param(e.get().inner.clone()))
    } else if v.is_instance_of::<PyTuple>() || v.is_instance_of::<PyList>() {
        let mut out = Vec::new();
        for item in v.try_iter()? {
            out.push(param_from_py(&item?)?);
        }
        Ok(Param::List(out))
    } else if v.is_callable() {
        // A host callback's Python callable (ops/callback.rs).
        Ok(Param::Object(HostObject(std::sync::Arc::new(
            v.clone().unbind(),
        ))))
    } else {
        Err(PyTypeError::new_err(format!(
            "op parameter of unsupported type: {}",
            v.repr()?
        )))
    }
}

fn aval_from_py(v: &Bound<'_, PyAny>) -> PyResult<Aval> {
    let (dt, shape): (String, Vec<usize>) = v.extract()?;
    Ok(Aval::new(parse_dtype(&dt)?, shape))
}

#[pyclass(name = "Executable", module = "rjax._rjax", frozen)]
pub struct PyExecutable {
    pub inner: std::sync::Arc<Executable>,
    out_bytes: usize,
}

impl PyExecutable {
    /// A compiled Program made elsewhere (an export's, `py::export`).
    pub fn from_arc(inner: std::sync::Arc<Executable>) -> PyExecutable {
        let out_bytes = inner
            .out_avals()
            .iter()
            .map(|a| a.numel() * a.dtype.itemsize())
            .sum();
        PyExecutable { inner, out_bytes }
    }
}

#[pymethods]
impl PyExecutable {
    /// `Executable(in_avals, consts, instrs, outputs)`: `in_avals` is a list of
    /// `(dtype_name, shape)`; `instrs` a list of `(op_name, params_dict,
    /// input_ids, out_avals)`; `outputs` a list of value ids.
    #[new]
    fn new(
        in_avals: Vec<Bound<'_, PyAny>>,
        consts: Vec<PyRef<'_, PyBuffer>>,
        instrs: Vec<Bound<'_, PyAny>>,
        outputs: Vec<usize>,
    ) -> PyResult<PyExecutable> {
        let in_avals = in_avals
            .iter()
            .map(aval_from_py)
            .collect::<PyResult<Vec<_>>>()?;
        let consts: Vec<Buffer> = consts
            .iter()
            .map(|c| c.get(c.py()))
            .collect::<PyResult<_>>()?;
        let mut specs = Vec::with_capacity(instrs.len());
        let mut out_avals_all = Vec::new();
        for ins in &instrs {
            let (name, params, ids, outs): (
                String,
                Bound<'_, PyDict>,
                Vec<usize>,
                Vec<Bound<'_, PyAny>>,
            ) = ins.extract()?;
            let mut p = Params::new(&name);
            for (k, v) in params.iter() {
                p.map.insert(k.extract()?, param_from_py(&v)?);
            }
            let outs = outs
                .iter()
                .map(aval_from_py)
                .collect::<PyResult<Vec<_>>>()?;
            out_avals_all.extend(outs.iter().cloned());
            specs.push(InstrSpec {
                params: p,
                ins: ids,
                outs,
            });
        }
        let n_in = in_avals.len() + consts.len();
        let out_bytes = outputs
            .iter()
            .filter(|&&o| o >= n_in)
            .filter_map(|&o| out_avals_all.get(o - n_in))
            .map(|a| a.numel() * a.dtype.itemsize())
            .sum();
        let inner = std::sync::Arc::new(guard_gil(|| {
            Executable::new(in_avals, consts, specs, outputs)
        })?);
        Ok(PyExecutable { inner, out_bytes })
    }

    /// Number of kernels one run launches.
    #[getter]
    fn n_kernels(&self) -> usize {
        self.inner.n_kernels()
    }

    /// Run on input buffers; returns the output buffers.
    /// Large work (or work reading pending buffers) is queued on the device
    /// and its outputs come back pending; reading them waits.
    ///
    /// `donated[k]` marks input `k` donated (a jitted call's
    /// `donate_argnums`): if nothing but the caller's list holds its handle,
    /// the run takes the buffer out of it (the handle then holds nothing)
    /// and owns it (`Executable::run_donated`), so the ops that read it last
    /// may update it in place. A handle held elsewhere (the same Array
    /// passed twice, a NumPy view of it) is only read, as is every input
    /// not donated.
    #[pyo3(signature = (inputs, donated=None))]
    fn run(
        &self,
        py: Python<'_>,
        inputs: Vec<Bound<'_, PyBuffer>>,
        donated: Option<Vec<bool>>,
    ) -> PyResult<Vec<PyBuffer>> {
        // Inside a host callback (maybe on a device's worker thread, which
        // is waiting for the callback) everything runs right here.
        let mode = if super::host::in_host_call() {
            2
        } else {
            async_mode()
        };
        let device = Device::default_device();
        // A run that calls back into Python waits its turn behind the work
        // already queued, so that callbacks run in the order of the calls.
        let behind = mode != 2 && self.inner.has_host_calls() && device.pending() > 0;
        if let Some(d) = &donated {
            if d.len() != inputs.len() {
                return Err(PyValueError::new_err(format!(
                    "run: {} donation flags for {} inputs",
                    d.len(),
                    inputs.len()
                )));
            }
        }
        let mut own = vec![false; inputs.len()];
        let mut ins: Vec<Input> = Vec::with_capacity(inputs.len());
        for (k, b) in inputs.iter().enumerate() {
            // The caller's list and `inputs` hold one reference each: any
            // other holder can still read the buffer.
            // SAFETY: `b` is a live object (we hold a reference to it) and
            // we hold the GIL.
            let sole = unsafe { pyo3::ffi::Py_REFCNT(b.as_ptr()) } <= 2;
            if sole && donated.as_ref().is_some_and(|d| d[k]) {
                if let Some(i) = b.get().take_donated() {
                    own[k] = true;
                    ins.push(i);
                    continue;
                }
            }
            ins.push(b.get().input()?);
        }
        let any_own = own.iter().any(|&o| o);
        let in_bytes: usize = inputs.iter().map(|b| b.get().nbytes_hint()).sum();
        drop(inputs);
        let bytes = in_bytes + self.out_bytes;
        let ready = ins.iter().all(|i| matches!(i, Input::Ready(_)));
        if (ready || mode == 2) && !behind && (mode == 2 || (mode == 0 && bytes < ASYNC_BYTES)) {
            let mut bufs: Vec<Buffer> = Vec::with_capacity(ins.len());
            for i in ins {
                bufs.push(match i {
                    Input::Ready(b) => b,
                    // (the slot is dropped after the wait: a donated
                    // input's buffer is then held by `bufs` alone)
                    Input::Pending(s) => py.detach(move || s.wait())?,
                });
            }
            let exe = &self.inner;
            let run = move || {
                if any_own {
                    exe.run_donated(bufs, &own)
                } else {
                    exe.run(&bufs)
                }
            };
            let outs = if bytes < DETACH_BYTES {
                guard_gil(run)?
            } else {
                guard(py, run)?
            };
            return Ok(outs.into_iter().map(PyBuffer::ready).collect());
        }
        let exe = std::sync::Arc::clone(&self.inner);
        let n_out = exe.out_avals().len();
        // A run with no outputs that has an effect (an eager debug callback)
        // gets one hidden output, a token, so that its error is not lost:
        // `synchronize` (`rjax.effects_barrier()`) raises it.
        let token = n_out == 0 && exe.has_effects();
        let work = move |bufs: Vec<Buffer>| {
            let outs = if any_own {
                exe.run_donated(bufs, &own)?
            } else {
                exe.run(&bufs)?
            };
            if token {
                return Ok(vec![Buffer::from_vec::<bool>(vec![], &[true])?]);
            }
            Ok(outs)
        };
        let n_slots = n_out + token as usize;
        let slots = if device.would_block() {
            // Waiting for room in the queue: without the GIL, which the
            // running job may need for a callback.
            py.detach(|| device.enqueue(ins, n_slots, work))
        } else {
            device.enqueue(ins, n_slots, work)
        };
        if token {
            effect_tokens::push(slots.into_iter().collect());
            return Ok(vec![]);
        }
        Ok(slots
            .into_iter()
            .zip(self.inner.out_avals())
            .map(|(s, a)| PyBuffer::pending(s, a.dtype, a.shape.clone()))
            .collect())
    }

    /// Run as a pmap: replica `r` runs on device `devices[r]` with the
    /// buffers `inputs[r]`, all replicas concurrently, meeting in the
    /// collectives. Returns each replica's (pending) outputs. With
    /// `spanning`, the replicas are this process's part of a pmap over every process's devices (collectives
    /// meet the other processes through the transport of `set_transport`).
    #[pyo3(signature = (inputs, devices, spanning=false))]
    fn run_replicas(
        &self,
        py: Python<'_>,
        inputs: Vec<Vec<PyRef<'_, PyBuffer>>>,
        devices: Vec<usize>,
        spanning: bool,
    ) -> PyResult<Vec<Vec<PyBuffer>>> {
        use crate::exec::comm::{abandon, as_replica, Comm};
        use crate::exec::device::{devices as all_devices, enqueue_replicas, Replica};
        let devs = all_devices();
        if inputs.len() != devices.len() {
            return Err(PyValueError::new_err(
                "run_replicas: one input list per device",
            ));
        }
        let comm = if spanning {
            let t = crate::exec::comm::transport().ok_or_else(|| {
                PyValueError::new_err("run_replicas: no cross-process transport is set up")
            })?;
            Comm::spanning(devices.len(), t)
        } else {
            Comm::new(devices.len())
        };
        let mut replicas = Vec::with_capacity(devices.len());
        for (rank, (ins, &d)) in inputs.iter().zip(&devices).enumerate() {
            let device = devs
                .get(d)
                .cloned()
                .ok_or_else(|| PyValueError::new_err(format!("run_replicas: no device {d}")))?;
            let exe = std::sync::Arc::clone(&self.inner);
            let (comm, comm2) = (std::sync::Arc::clone(&comm), std::sync::Arc::clone(&comm));
            replicas.push(Replica {
                device,
                inputs: ins.iter().map(|b| b.input()).collect::<PyResult<_>>()?,
                work: Box::new(move |bufs: &[Buffer]| as_replica(&comm, rank, || exe.run(bufs))),
                on_input_error: Box::new(move |e| abandon(&comm2, e)),
            });
        }
        let n_out = self.inner.out_avals().len();
        // Queueing may wait (a full queue, the global order lock): without
        // the GIL, which a running replica may need for a host callback.
        let slots = py.detach(|| enqueue_replicas(replicas, n_out));
        Ok(slots
            .into_iter()
            .map(|outs| {
                outs.into_iter()
                    .zip(self.inner.out_avals())
                    .map(|(s, a)| PyBuffer::pending(s, a.dtype, a.shape.clone()))
                    .collect()
            })
            .collect())
    }

    /// What the compiler's passes did: a dict of counters (`instrs_before`,
    /// `instrs_after`, `folded`, `cse`, `dce`, `consts_before`,
    /// `consts_after`, `consts_deduped`, `added`: made by XLA's rewrites).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.stats();
        let d = PyDict::new(py);
        d.set_item("instrs_before", s.instrs_before)?;
        d.set_item("instrs_after", s.instrs_after)?;
        d.set_item("folded", s.folded)?;
        d.set_item("cse", s.cse)?;
        d.set_item("dce", s.dce)?;
        d.set_item("consts_before", s.consts_before)?;
        d.set_item("consts_after", s.consts_after)?;
        d.set_item("consts_deduped", s.consts_deduped)?;
        d.set_item("added", s.added)?;
        Ok(d)
    }

    /// The passes' summary and the optimized Program, as text.
    fn plan(&self) -> String {
        self.inner.describe()
    }

    /// The fused groups not yet compiled to native code, claimed for
    /// compilation: `[(id, description, ir or None, why not)]`.
    fn native_requests(&self, py: Python<'_>) -> Vec<(u64, String, Option<String>, String)> {
        super::native::requests(self, py)
    }

    /// `(fused groups, groups running native code)`.
    fn native_tiers(&self) -> (usize, usize) {
        super::native::tiers(self)
    }
}
