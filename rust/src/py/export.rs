//! `_rjax.export_program` and `_rjax.ExportedProgram`: the export format
//! (`api::format`, the one reader and writer) seen from Python.
use super::errors::guard_gil;
use super::program::PyExecutable;
use crate::api::format::{self, Probe};
use crate::api::{Dim, Program};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::sync::Arc;

/// `export_program(dim_names, probes, meta) -> bytes`: `probes` is a list
/// of `(dim_values, Executable)`, the same function compiled at the base
/// point, then with each dimension changed alone, then checks
/// (`api::format::from_probes`). A ValueError says what is not exportable.
#[pyfunction]
pub fn export_program<'py>(
    py: Python<'py>,
    dim_names: Vec<String>,
    probes: Vec<(Vec<i64>, PyRef<'py, PyExecutable>)>,
    meta: String,
) -> PyResult<Bound<'py, PyBytes>> {
    let specs: Vec<_> = probes
        .iter()
        .map(|(d, e)| (d.clone(), e.inner.source().clone()))
        .collect();
    let ps: Vec<Probe<'_>> = specs
        .iter()
        .map(|(d, s)| Probe {
            dims: d.clone(),
            spec: s,
        })
        .collect();
    let program = format::from_probes(&dim_names, &ps).map_err(PyValueError::new_err)?;
    let bytes = format::encode(&format::ExportData {
        meta,
        dims: dim_names,
        program,
    });
    Ok(PyBytes::new(py, &bytes))
}

/// A deserialized export: its metadata and avals, and its Program compiled
/// per set of symbolic dimension values (cached).
#[pyclass(name = "ExportedProgram", module = "rjax._rjax", frozen)]
pub struct PyExportedProgram {
    inner: Program,
}

fn dim_py(d: &Dim, py: Python<'_>) -> PyResult<Py<PyAny>> {
    Ok(match d {
        Dim::Fixed(n) => n.into_pyobject(py)?.into_any().unbind(),
        Dim::Symbolic(s) => s.into_pyobject(py)?.into_any().unbind(),
    })
}

type AvalsPy = Vec<(String, Vec<Py<PyAny>>)>;

fn specs_py(specs: &[crate::api::TensorSpec], py: Python<'_>) -> PyResult<AvalsPy> {
    specs
        .iter()
        .map(|s| {
            Ok((
                s.dtype.name().to_string(),
                s.shape
                    .iter()
                    .map(|d| dim_py(d, py))
                    .collect::<PyResult<_>>()?,
            ))
        })
        .collect()
}

#[pymethods]
impl PyExportedProgram {
    /// Reads export bytes; a ValueError says why they are not readable.
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<PyExportedProgram> {
        let inner = Program::from_bytes(data).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(PyExportedProgram { inner })
    }

    /// The exporter's JSON metadata.
    #[getter]
    fn meta(&self) -> &str {
        self.inner.metadata()
    }

    /// The symbolic dimensions' names.
    #[getter]
    fn dims(&self) -> Vec<String> {
        self.inner.symbolic_dims().to_vec()
    }

    /// `[(dtype name, [extent: int or expression str])]` of the inputs.
    fn in_avals(&self, py: Python<'_>) -> PyResult<AvalsPy> {
        specs_py(&self.inner.inputs(), py)
    }

    /// The same for the outputs.
    fn out_avals(&self, py: Python<'_>) -> PyResult<AvalsPy> {
        specs_py(&self.inner.outputs(), py)
    }

    /// The dimensions' values for inputs of these shapes (ValueError if
    /// they do not fit).
    fn bind(&self, shapes: Vec<Vec<usize>>) -> PyResult<Vec<i64>> {
        let s: Vec<&[usize]> = shapes.iter().map(|v| &v[..]).collect();
        self.inner
            .bind_dims(&s)
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// The outputs' shapes for the dimensions' values.
    fn out_shapes(&self, dims: Vec<i64>) -> PyResult<Vec<Vec<usize>>> {
        self.inner
            .output_shapes(&dims)
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// The Program compiled for the dimensions' values (cached).
    fn executable(&self, dims: Vec<i64>) -> PyResult<PyExecutable> {
        let exe = guard_gil(|| {
            self.inner
                .executable(&dims)
                .map_err(|e| crate::base::error::Error::Internal(e.to_string()))
        })?;
        Ok(PyExecutable::from_arc(Arc::clone(&exe)))
    }

    /// The export's bytes with metadata `meta`.
    fn with_meta<'py>(&self, py: Python<'py>, meta: &str) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.to_bytes_with_metadata(meta))
    }

    /// The export's bytes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.to_bytes())
    }
}
