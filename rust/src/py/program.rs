//! `_rjax.Executable`: a compiled Program, built from plain Python data.
use super::buffer::{parse_dtype, PyBuffer};
use super::errors::{guard, guard_gil};
use crate::buffer::Buffer;
use crate::exec::program::{Executable, InstrSpec};
use crate::ops::Aval;
use crate::params::{Param, Params, ProgramRef};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

/// Below this many input+output bytes a run keeps the GIL (releasing it costs more).
const DETACH_BYTES: usize = 1 << 16;

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
        Ok(Param::Program(ProgramRef(e.get().inner.clone())))
    } else if v.is_instance_of::<PyTuple>() || v.is_instance_of::<PyList>() {
        let mut out = Vec::new();
        for item in v.try_iter()? {
            out.push(param_from_py(&item?)?);
        }
        Ok(Param::List(out))
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
        let consts: Vec<Buffer> = consts.iter().map(|c| c.inner.clone()).collect();
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
    fn run(&self, py: Python<'_>, inputs: Vec<PyRef<'_, PyBuffer>>) -> PyResult<Vec<PyBuffer>> {
        let bufs: Vec<Buffer> = inputs.iter().map(|b| b.inner.clone()).collect();
        let in_bytes: usize = bufs.iter().map(|b| b.data.len()).sum();
        let outs = if in_bytes + self.out_bytes < DETACH_BYTES {
            guard_gil(|| self.inner.run(&bufs))?
        } else {
            guard(py, || self.inner.run(&bufs))?
        };
        Ok(outs.into_iter().map(|inner| PyBuffer { inner }).collect())
    }

    /// What the compiler's passes did: a dict of counters (`instrs_before`,
    /// `instrs_after`, `folded`, `cse`, `dce`, `consts_before`,
    /// `consts_after`, `consts_deduped`).
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
        Ok(d)
    }

    /// The passes' summary and the optimized Program, as text.
    fn plan(&self) -> String {
        self.inner.describe()
    }
}
