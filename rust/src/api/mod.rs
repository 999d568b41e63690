//! The public Rust API: load a program exported from Python
//! (`rjax.export`, format in [`format`]) and run it on `ndarray` arrays,
//! without Python. It uses the same executor, passes, fusion and threads
//! as Python (the native-code tier needs Python's LLVM and is not used
//! here; the tile interpreter always is).
//!
//! ```
//! use ndarray::{ArrayD, IxDyn};
//! // `add_one.rjax` would come from Python:
//! //   rjax.export.export(rjax.jit(lambda x: x + 1.0))(x).serialize()
//! // here, the same bytes built in Rust by the test helper:
//! let bytes = rjax::api::example_program_bytes();
//! let prog = rjax::Program::from_bytes(&bytes)?;
//! let x = ArrayD::<f32>::from_shape_vec(IxDyn(&[2, 3]), vec![1., 2., 3., 4., 5., 6.]).unwrap();
//! let out: Vec<ArrayD<f32>> = prog.run(&[x.view()])?;
//! assert_eq!(out[0].as_slice().unwrap(), &[2., 3., 4., 5., 6., 7.]);
//! # Ok::<(), rjax::Error>(())
//! ```
#![deny(missing_docs)]
pub mod c;
pub mod format;

use crate::base::buffer::Buffer;
use crate::exec::executable::Executable;
use format::{ExportData, FormatError, SymAval, SymProgram};
use ndarray::{ArrayD, ArrayViewD, IxDyn};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

pub use crate::base::dtype::DType;

/// What can go wrong loading or running a program.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a readable export (not one, a newer version,
    /// truncated, corrupted).
    #[error(transparent)]
    Format(#[from] FormatError),
    /// The inputs do not fit the program (count, dtype or shape).
    #[error("{0}")]
    Input(String),
    /// Building or running the program failed.
    #[error("{0}")]
    Runtime(String),
    /// An allocation failed.
    #[error("{0}")]
    OutOfMemory(String),
}

/// A `Result` with this API's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl From<crate::base::error::Error> for Error {
    fn from(e: crate::base::error::Error) -> Error {
        match e {
            crate::base::error::Error::OutOfMemory(m) => Error::OutOfMemory(m),
            e => Error::Runtime(e.to_string()),
        }
    }
}

/// Runs `f`, turning a panic into an error (no input may abort the caller).
fn guarded<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            if msg.contains("RESOURCE_EXHAUSTED") {
                Err(Error::OutOfMemory(msg))
            } else {
                Err(Error::Runtime(format!(
                    "internal error (please report it): {msg}"
                )))
            }
        }
    }
}

/// One extent of a [`TensorSpec`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dim {
    /// A fixed extent.
    Fixed(usize),
    /// An extent that depends on the symbolic dimensions, e.g. `b` or `2*b + 1`.
    Symbolic(String),
}

/// The dtype and shape of an input or output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSpec {
    /// The element type.
    pub dtype: DType,
    /// The extents.
    pub shape: Vec<Dim>,
}

/// An element type of [`Tensor`]s and of [`Program::run`]: `bool`, the
/// integers of 8 to 64 bits, `half::f16`, `half::bf16`, `f32` and `f64`.
pub trait TensorElement: crate::base::dtype::Element + Clone + Send + Sync + 'static {
    /// The tensor holding an array of this type.
    fn into_tensor(a: ArrayD<Self>) -> Tensor;
    /// The array a tensor holds, if it has this type.
    fn from_tensor(t: Tensor) -> std::result::Result<ArrayD<Self>, Tensor>;
}

macro_rules! tensor_types {
    ($($v:ident($t:ty)),* $(,)?) => {
        /// An array of any element type the programs use (inputs and outputs
        /// of mixed dtypes: [`Program::run_tensors`]).
        #[derive(Clone, Debug, PartialEq)]
        pub enum Tensor {
            $(
                #[doc = concat!("An array of `", stringify!($t), "`.")]
                $v(ArrayD<$t>),
            )*
        }

        impl Tensor {
            /// Its element type.
            pub fn dtype(&self) -> DType {
                match self {
                    $(Tensor::$v(_) => <$t as crate::base::dtype::Element>::DTYPE,)*
                }
            }
            /// Its shape.
            pub fn shape(&self) -> &[usize] {
                match self {
                    $(Tensor::$v(a) => a.shape(),)*
                }
            }
            fn to_buffer(&self) -> Result<Buffer> {
                match self {
                    $(Tensor::$v(a) => to_buffer(&a.view()),)*
                }
            }
            fn from_buffer(b: &Buffer) -> Result<Tensor> {
                $(
                    if b.dtype == <$t as crate::base::dtype::Element>::DTYPE {
                        return Ok(Tensor::$v(from_buffer::<$t>(b)?));
                    }
                )*
                Err(Error::Runtime(format!("no tensor type for dtype {}", b.dtype)))
            }
        }

        $(
            impl TensorElement for $t {
                fn into_tensor(a: ArrayD<Self>) -> Tensor {
                    Tensor::$v(a)
                }
                fn from_tensor(t: Tensor) -> std::result::Result<ArrayD<Self>, Tensor> {
                    match t {
                        Tensor::$v(a) => Ok(a),
                        t => Err(t),
                    }
                }
            }

            impl From<ArrayD<$t>> for Tensor {
                fn from(a: ArrayD<$t>) -> Tensor {
                    Tensor::$v(a)
                }
            }
        )*
    };
}

tensor_types!(
    Bool(bool),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    F16(half::f16),
    BF16(half::bf16),
    F32(f32),
    F64(f64),
);

fn to_buffer<T: TensorElement>(a: &ArrayViewD<'_, T>) -> Result<Buffer> {
    let shape = a.shape().to_vec();
    let b = match a.as_slice() {
        Some(s) => Buffer::from_vec::<T>(shape, s),
        None => {
            let v: Vec<T> = a.iter().cloned().collect();
            Buffer::from_vec::<T>(shape, &v)
        }
    };
    b.map_err(Error::from)
}

fn from_buffer<T: TensorElement>(b: &Buffer) -> Result<ArrayD<T>> {
    let v = b.slice::<T>()?.to_vec();
    ArrayD::from_shape_vec(IxDyn(&b.shape), v).map_err(|e| Error::Runtime(e.to_string()))
}

/// A program exported from Python (`rjax.export`), ready to run. It is
/// compiled (passes, fusion) once per set of symbolic dimension values,
/// on first use, and the compiled form is cached. `Program` is `Send` and
/// `Sync`: threads may run it at once.
pub struct Program {
    data: ExportData,
    cache: Mutex<HashMap<Vec<i64>, Arc<Executable>>>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("inputs", &self.inputs())
            .field("outputs", &self.outputs())
            .finish()
    }
}

fn spec_of(a: &SymAval, names: &[String]) -> TensorSpec {
    TensorSpec {
        dtype: a.dtype,
        shape: a
            .shape
            .iter()
            .map(|s| match (s.is_constant(), usize::try_from(s.c)) {
                (true, Ok(n)) => Dim::Fixed(n),
                _ => Dim::Symbolic(s.render(names)),
            })
            .collect(),
    }
}

/// The avals of a Program's outputs.
pub(crate) fn output_avals(p: &SymProgram) -> Vec<SymAval> {
    let mut avals: Vec<SymAval> = p.in_avals.clone();
    avals.extend(p.consts.iter().map(|c| {
        SymAval {
            dtype: c.dtype,
            shape: c
                .shape
                .iter()
                .map(|&d| format::SymInt::constant(d as i64))
                .collect(),
        }
    }));
    for i in &p.instrs {
        avals.extend(i.outs.iter().cloned());
    }
    p.outputs
        .iter()
        .filter_map(|&o| avals.get(o).cloned())
        .collect()
}

impl Program {
    /// Reads an export file (`Exported.serialize()` written to disk).
    pub fn load(path: impl AsRef<Path>) -> Result<Program> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Program::from_bytes(&bytes)
    }

    /// Reads export bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Program> {
        crate::exec::init_threads();
        let data = format::decode(bytes)?;
        Ok(Program {
            data,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The export's bytes again.
    pub fn to_bytes(&self) -> Vec<u8> {
        format::encode(&self.data)
    }

    /// The export's bytes with other metadata (`rjax.export` adds its VJP's
    /// export there when serializing with `vjp_order`).
    pub fn to_bytes_with_metadata(&self, meta: &str) -> Vec<u8> {
        format::encode(&ExportData {
            meta: meta.to_string(),
            dims: self.data.dims.clone(),
            program: self.data.program.clone(),
        })
    }

    /// The exporter's metadata: a JSON object written by `rjax.export`
    /// (`fun_name`, the pytrees, ...).
    pub fn metadata(&self) -> &str {
        &self.data.meta
    }

    /// The names of the symbolic dimensions (`["b"]` for an export over
    /// `symbolic_shape("b, 784")`).
    pub fn symbolic_dims(&self) -> &[String] {
        &self.data.dims
    }

    /// The inputs' dtypes and shapes, in order.
    pub fn inputs(&self) -> Vec<TensorSpec> {
        let names = &self.data.dims;
        self.data
            .program
            .in_avals
            .iter()
            .map(|a| spec_of(a, names))
            .collect()
    }

    /// The outputs' dtypes and shapes, in order.
    pub fn outputs(&self) -> Vec<TensorSpec> {
        let names = &self.data.dims;
        output_avals(&self.data.program)
            .iter()
            .map(|a| spec_of(a, names))
            .collect()
    }

    /// The symbolic dimensions' values for inputs of these shapes (an
    /// [`Error::Input`] if they do not fit the program).
    pub fn bind_dims(&self, shapes: &[&[usize]]) -> Result<Vec<i64>> {
        format::bind_dims(&self.data.program, &self.data.dims, shapes).map_err(Error::Input)
    }

    /// The outputs' shapes for the symbolic dimensions' values `dims`.
    pub fn output_shapes(&self, dims: &[i64]) -> Result<Vec<Vec<usize>>> {
        output_avals(&self.data.program)
            .iter()
            .map(|a| {
                a.shape
                    .iter()
                    .map(|s| {
                        s.eval(dims)
                            .and_then(|v| usize::try_from(v).ok())
                            .ok_or_else(|| {
                                Error::Input(format!("no output extent {s:?} for {dims:?}"))
                            })
                    })
                    .collect()
            })
            .collect()
    }

    /// The program compiled for the dimensions' values `dims` (cached).
    pub(crate) fn executable(&self, dims: &[i64]) -> Result<Arc<Executable>> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = cache.get(dims) {
            return Ok(e.clone());
        }
        let exe = Arc::new(guarded(|| {
            format::compile(&self.data.program, dims).map_err(Error::from)
        })?);
        cache.insert(dims.to_vec(), exe.clone());
        Ok(exe)
    }

    fn check_dtypes(&self, dtypes: &[DType]) -> Result<()> {
        let ins = &self.data.program.in_avals;
        if dtypes.len() != ins.len() {
            return Err(Error::Input(format!(
                "the program takes {} inputs, got {}",
                ins.len(),
                dtypes.len()
            )));
        }
        for (k, (d, a)) in dtypes.iter().zip(ins).enumerate() {
            if *d != a.dtype {
                return Err(Error::Input(format!(
                    "input {k} must have dtype {}, got {}",
                    a.dtype, d
                )));
            }
        }
        Ok(())
    }

    /// Runs on buffers whose dtypes were checked.
    pub(crate) fn run_buffers(&self, bufs: &[Buffer]) -> Result<Vec<Buffer>> {
        let shapes: Vec<&[usize]> = bufs.iter().map(|b| &b.shape[..]).collect();
        let dims = self.bind_dims(&shapes)?;
        let exe = self.executable(&dims)?;
        guarded(|| exe.run(bufs).map_err(Error::from))
    }

    /// Runs the program on inputs that all have element type `T`; every
    /// output must have type `T` too (else [`Program::run_tensors`]).
    /// Symbolic dimensions take their values from the inputs' shapes.
    pub fn run<T: TensorElement>(&self, inputs: &[ArrayViewD<'_, T>]) -> Result<Vec<ArrayD<T>>> {
        self.check_dtypes(&vec![T::DTYPE; inputs.len()])?;
        let bufs = guarded(|| inputs.iter().map(to_buffer).collect::<Result<Vec<_>>>())?;
        let outs = self.run_buffers(&bufs)?;
        outs.iter()
            .enumerate()
            .map(|(k, b)| {
                if b.dtype != T::DTYPE {
                    return Err(Error::Input(format!(
                        "output {k} has dtype {}, not {} (use run_tensors)",
                        b.dtype,
                        T::DTYPE
                    )));
                }
                from_buffer::<T>(b)
            })
            .collect()
    }

    /// Runs the program on inputs of any element types.
    pub fn run_tensors(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        self.check_dtypes(&inputs.iter().map(Tensor::dtype).collect::<Vec<_>>())?;
        let bufs = guarded(|| {
            inputs
                .iter()
                .map(Tensor::to_buffer)
                .collect::<Result<Vec<_>>>()
        })?;
        let outs = self.run_buffers(&bufs)?;
        outs.iter().map(Tensor::from_buffer).collect()
    }
}

/// The bytes of a tiny export (`f(x) = x + 1` on `float32[b, 3]`, `b`
/// symbolic), as `rjax.export` would write them: for the examples in this
/// documentation and the C API's tests.
pub fn example_program_bytes() -> Vec<u8> {
    use format::{Const, SymInstr, SymInt, SymParam};
    let b_by_3 = || SymAval {
        dtype: DType::F32,
        shape: vec![
            SymInt {
                c: 0,
                terms: vec![(0, 1)],
            },
            SymInt::constant(3),
        ],
    };
    let mut bcast = std::collections::BTreeMap::new();
    bcast.insert(
        "shape".to_string(),
        SymParam::List(vec![
            SymParam::Int(SymInt {
                c: 0,
                terms: vec![(0, 1)],
            }),
            SymParam::Int(SymInt::constant(3)),
        ]),
    );
    bcast.insert("broadcast_dimensions".to_string(), SymParam::List(vec![]));
    let program = SymProgram {
        in_avals: vec![b_by_3()],
        consts: vec![Const {
            dtype: DType::F32,
            shape: vec![],
            bytes: 1f32.to_le_bytes().to_vec(),
        }],
        instrs: vec![
            SymInstr {
                op: "broadcast_in_dim".into(),
                params: bcast,
                ins: vec![1],
                outs: vec![b_by_3()],
            },
            SymInstr {
                op: "add".into(),
                params: Default::default(),
                ins: vec![0, 2],
                outs: vec![b_by_3()],
            },
        ],
        outputs: vec![3],
    };
    format::encode(&ExportData {
        meta: r#"{"fun_name": "add_one"}"#.into(),
        dims: vec!["b".into()],
        program,
    })
}

#[cfg(test)]
mod tests;
