//! The export format (docs/EXPORT.md): a lowered Program (the op table's
//! names and plain params, the avals, the constants' bytes), possibly
//! polymorphic in named dimensions, plus the exporter's metadata (a JSON
//! string this module does not read).
//!
//! This is the one reader and writer of the format: Python (`rjax.export`)
//! reaches it through `_rjax`, the Rust API (`Program`) and the C API use it
//! directly. A file is
//!
//! ```text
//! magic "RJAXEXP\0" | version u32 | flags u32 | body length u64 | body | FNV-1a-64 of all before u64
//! ```
//!
//! (all little-endian), and every read is bounds-checked: a file that is not
//! an export, from a newer version, truncated or corrupted is a
//! [`FormatError`], never a panic.
use crate::base::aval::Aval;
use crate::base::buffer::Buffer;
use crate::base::dtype::DType;
use crate::base::params::{Param, Params};
use crate::compiler::program::{InstrSpec, ProgramSpec};
use crate::exec::executable::Executable;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The first eight bytes of every export.
pub const MAGIC: &[u8; 8] = b"RJAXEXP\0";
/// The format version this build writes (and the newest it reads).
pub const VERSION: u32 = 1;
/// Nesting deeper than this (sub-programs, lists) is refused.
const MAX_DEPTH: usize = 64;
const HEADER: usize = 8 + 4 + 4 + 8;

/// Why bytes are not a readable export.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The bytes do not start with the magic bytes.
    #[error("not an rjax export (the file does not start with the magic bytes \"RJAXEXP\\0\")")]
    NotAnExport,
    /// Written by a newer rjax (or an unknown version).
    #[error(
        "unsupported export format version {found}: this rjax reads versions 1 to {supported}"
    )]
    UnsupportedVersion {
        /// The file's version.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// The file ends before its declared length.
    #[error("truncated export: expected {expected} bytes, got {got}")]
    Truncated {
        /// The length the header declares.
        expected: u64,
        /// The bytes there are.
        got: u64,
    },
    /// The checksum does not match: some byte changed.
    #[error(
        "corrupted export: checksum mismatch (stored {stored:#018x}, computed {computed:#018x})"
    )]
    Corrupted {
        /// The checksum in the file.
        stored: u64,
        /// The checksum of the bytes read.
        computed: u64,
    },
    /// The checksum matches but the content is not a valid Program.
    #[error("malformed export: {0}")]
    Malformed(String),
}

fn bad<T>(msg: impl Into<String>) -> Result<T, FormatError> {
    Err(FormatError::Malformed(msg.into()))
}

/// An integer that may depend on the export's symbolic dimensions:
/// `c + Σ coeff·dim`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SymInt {
    /// The constant term.
    pub c: i64,
    /// `(dimension index, coefficient)`, coefficients nonzero, indices increasing.
    pub terms: Vec<(u32, i64)>,
}

impl SymInt {
    /// A constant.
    pub fn constant(c: i64) -> SymInt {
        SymInt { c, terms: vec![] }
    }
    /// Whether it depends on no dimension.
    pub fn is_constant(&self) -> bool {
        self.terms.is_empty()
    }
    /// Its value for the dimensions' values `dims` (None on overflow or an
    /// unknown dimension).
    pub fn eval(&self, dims: &[i64]) -> Option<i64> {
        let mut v = self.c;
        for &(d, k) in &self.terms {
            v = v.checked_add(k.checked_mul(*dims.get(d as usize)?)?)?;
        }
        Some(v)
    }
    /// `784`, `b`, `2*b + 1` (with the dimensions' names).
    pub fn render(&self, names: &[String]) -> String {
        let mut parts: Vec<String> = Vec::new();
        for &(d, k) in &self.terms {
            let n = names
                .get(d as usize)
                .cloned()
                .unwrap_or_else(|| format!("?{d}"));
            parts.push(match k {
                1 => n,
                -1 => format!("-{n}"),
                _ => format!("{k}*{n}"),
            });
        }
        if self.c != 0 || parts.is_empty() {
            parts.push(self.c.to_string());
        }
        parts.join(" + ").replace("+ -", "- ")
    }
}

/// A dtype and a shape whose extents may be symbolic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymAval {
    /// The element type.
    pub dtype: DType,
    /// The extents.
    pub shape: Vec<SymInt>,
}

/// An op parameter of an exported Program: `base::params::Param` without
/// the process-local objects, with integers that may be symbolic and
/// sub-programs as data.
#[derive(Clone, Debug, PartialEq)]
pub enum SymParam {
    /// `None`.
    None,
    /// A bool.
    Bool(bool),
    /// An integer (maybe symbolic).
    Int(SymInt),
    /// A float, kept bit for bit.
    Float(f64),
    /// A string (dtype names, modes).
    Str(String),
    /// A list.
    List(Vec<SymParam>),
    /// A control-flow op's sub-program.
    Program(Box<SymProgram>),
}

/// One instruction.
#[derive(Clone, Debug, PartialEq)]
pub struct SymInstr {
    /// The op table's name.
    pub op: String,
    /// The params, sorted by name.
    pub params: BTreeMap<String, SymParam>,
    /// Input value ids.
    pub ins: Vec<usize>,
    /// Output avals.
    pub outs: Vec<SymAval>,
}

/// A constant: its bytes, little-endian, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Const {
    /// The element type.
    pub dtype: DType,
    /// The shape.
    pub shape: Vec<usize>,
    /// `itemsize · numel` bytes.
    pub bytes: Vec<u8>,
}

/// A Program (value ids as in `compiler::program`), maybe symbolic.
#[derive(Clone, Debug, PartialEq)]
pub struct SymProgram {
    /// The inputs' avals.
    pub in_avals: Vec<SymAval>,
    /// The constants (ids right after the inputs).
    pub consts: Vec<Const>,
    /// The instructions.
    pub instrs: Vec<SymInstr>,
    /// The output value ids.
    pub outputs: Vec<usize>,
}

/// The content of an export file.
#[derive(Clone, Debug, PartialEq)]
pub struct ExportData {
    /// The exporter's metadata (JSON written by `rjax.export`; opaque here).
    pub meta: String,
    /// The symbolic dimensions' names.
    pub dims: Vec<String>,
    /// The Program.
    pub program: SymProgram,
}

// ---------------------------------------------------------------------------
// From compiled Programs (the exporter)

/// What the exporter's values were at one probe: `spec` traced with the
/// symbolic dimensions set to `dims`.
pub struct Probe<'a> {
    /// The dimensions' values.
    pub dims: Vec<i64>,
    /// The Program lowered for them.
    pub spec: &'a ProgramSpec,
}

/// The sub-program a `Param::Program` holds, as its source Program.
fn sub_spec(p: &crate::base::params::ProgramRef) -> Result<Arc<ProgramSpec>, String> {
    let sub = crate::ops::control::sub_program(&p.0).map_err(|e| e.to_string())?;
    let exe = sub
        .as_any()
        .downcast_ref::<Executable>()
        .ok_or("a sub-program that is not a compiled Program")?;
    Ok(Arc::new(exe.source().clone()))
}

/// Fits integer values seen at the probes as `c + Σ a_i d_i`. The probes
/// are: the base point, then one per dimension with only that dimension
/// changed, then any number of checks; every probe must agree.
struct Fitter<'a> {
    probes: &'a [Vec<i64>],
    names: &'a [String],
}

impl Fitter<'_> {
    fn int(&self, vals: &[i64], what: &dyn Fn() -> String) -> Result<SymInt, String> {
        let n = self.names.len();
        let base = &self.probes[0];
        let mut terms = Vec::new();
        let mut c = vals[0];
        for d in 0..n {
            let dv = self.probes[d + 1][d] - base[d];
            let dy = vals[d + 1] - vals[0];
            if dy % dv != 0 {
                return Err(self.not_affine(what));
            }
            let k = dy / dv;
            if k != 0 {
                terms.push((d as u32, k));
                c -= k * base[d];
            }
        }
        let s = SymInt { c, terms };
        for (p, &v) in self.probes.iter().zip(vals) {
            if s.eval(p) != Some(v) {
                return Err(self.not_affine(what));
            }
        }
        Ok(s)
    }

    fn not_affine(&self, what: &dyn Fn() -> String) -> String {
        format!(
            "{} is not an affine function of the symbolic dimensions ({}); rjax exports \
             integers of the form c + k1*d1 + k2*d2 + ... only",
            what(),
            self.names.join(", ")
        )
    }

    fn same<T: PartialEq>(&self, vals: &[T], what: &dyn Fn() -> String) -> Result<(), String> {
        if vals.iter().all(|v| *v == vals[0]) {
            Ok(())
        } else {
            Err(format!(
                "{} depends on the symbolic dimensions ({}) in a way rjax cannot export \
                 (only integers may depend on them)",
                what(),
                self.names.join(", ")
            ))
        }
    }

    fn aval(&self, avals: &[&Aval], what: &dyn Fn() -> String) -> Result<SymAval, String> {
        self.same(&avals.iter().map(|a| a.dtype).collect::<Vec<_>>(), what)?;
        self.same(
            &avals.iter().map(|a| a.shape.len()).collect::<Vec<_>>(),
            what,
        )?;
        let shape = (0..avals[0].shape.len())
            .map(|k| {
                let vals: Vec<i64> = avals.iter().map(|a| a.shape[k] as i64).collect();
                self.int(&vals, &|| format!("{} dimension {k}", what()))
            })
            .collect::<Result<_, _>>()?;
        Ok(SymAval {
            dtype: avals[0].dtype,
            shape,
        })
    }

    fn param(&self, ps: &[&Param], what: &dyn Fn() -> String) -> Result<SymParam, String> {
        let kind = |p: &Param| std::mem::discriminant(p);
        self.same(&ps.iter().map(|p| kind(p)).collect::<Vec<_>>(), what)?;
        Ok(match ps[0] {
            Param::None => SymParam::None,
            Param::Bool(_) => {
                self.same(ps, what)?;
                match ps[0] {
                    Param::Bool(b) => SymParam::Bool(*b),
                    _ => unreachable!("checked above"),
                }
            }
            Param::Int(_) => {
                let vals: Vec<i64> = ps
                    .iter()
                    .map(|p| if let Param::Int(i) = p { *i } else { 0 })
                    .collect();
                SymParam::Int(self.int(&vals, what)?)
            }
            Param::Float(f) => {
                self.same(ps, what)?;
                SymParam::Float(*f)
            }
            Param::Str(s) => {
                self.same(ps, what)?;
                SymParam::Str(s.clone())
            }
            Param::List(first) => {
                let lists: Vec<&Vec<Param>> = ps
                    .iter()
                    .map(|p| match p {
                        Param::List(v) => v,
                        _ => first,
                    })
                    .collect();
                self.same(&lists.iter().map(|l| l.len()).collect::<Vec<_>>(), what)?;
                (0..first.len())
                    .map(|k| {
                        let items: Vec<&Param> = lists.iter().map(|l| &l[k]).collect();
                        self.param(&items, &|| format!("{}[{k}]", what()))
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(SymParam::List)?
            }
            Param::Program(_) => {
                let specs = ps
                    .iter()
                    .map(|p| match p {
                        Param::Program(r) => sub_spec(r),
                        _ => Err("not a program".into()),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let refs: Vec<&ProgramSpec> = specs.iter().map(|s| &**s).collect();
                SymParam::Program(Box::new(self.program(&refs, what)?))
            }
            Param::Object(_) => {
                return Err(format!(
                    "{} is a host object (a Python callback): a program that calls back \
                     into Python cannot be exported",
                    what()
                ))
            }
        })
    }

    fn program(
        &self,
        ps: &[&ProgramSpec],
        what: &dyn Fn() -> String,
    ) -> Result<SymProgram, String> {
        let p0 = ps[0];
        let count = |f: &dyn Fn(&ProgramSpec) -> usize| ps.iter().map(|p| f(p)).collect::<Vec<_>>();
        self.same(&count(&|p| p.in_avals.len()), &|| {
            format!("{}: the number of inputs", what())
        })?;
        self.same(&count(&|p| p.consts.len()), &|| {
            format!("{}: the number of constants", what())
        })?;
        self.same(&count(&|p| p.instrs.len()), &|| {
            format!("{}: the number of instructions", what())
        })?;
        self.same(&ps.iter().map(|p| &p.outputs).collect::<Vec<_>>(), &|| {
            format!("{}: the outputs", what())
        })?;
        let in_avals = (0..p0.in_avals.len())
            .map(|k| {
                let a: Vec<&Aval> = ps.iter().map(|p| &p.in_avals[k]).collect();
                self.aval(&a, &|| format!("{}: input {k}", what()))
            })
            .collect::<Result<_, _>>()?;
        let mut consts = Vec::with_capacity(p0.consts.len());
        for k in 0..p0.consts.len() {
            let cs: Vec<(DType, &[usize], &[u8])> = ps
                .iter()
                .map(|p| {
                    let b = &p.consts[k];
                    (b.dtype, &b.shape[..], b.data.bytes())
                })
                .collect();
            self.same(&cs, &|| format!("{}: constant {k}", what()))?;
            consts.push(Const {
                dtype: cs[0].0,
                shape: cs[0].1.to_vec(),
                bytes: cs[0].2.to_vec(),
            });
        }
        let mut instrs = Vec::with_capacity(p0.instrs.len());
        for k in 0..p0.instrs.len() {
            let is: Vec<&InstrSpec> = ps.iter().map(|p| &p.instrs[k]).collect();
            let op = &is[0].params.op;
            let here = || format!("{}: instruction {k} ({op})", what());
            self.same(&is.iter().map(|i| &i.params.op).collect::<Vec<_>>(), &here)?;
            self.same(&is.iter().map(|i| &i.ins).collect::<Vec<_>>(), &here)?;
            self.same(&is.iter().map(|i| i.outs.len()).collect::<Vec<_>>(), &here)?;
            let mut keys: Vec<&String> = is[0].params.map.keys().collect();
            keys.sort();
            let mut params = BTreeMap::new();
            for key in keys {
                let vals = is
                    .iter()
                    .map(|i| i.params.map.get(key).ok_or_else(&here))
                    .collect::<Result<Vec<_>, _>>()?;
                let p = self.param(&vals, &|| format!("{}: param '{key}'", here()))?;
                params.insert(key.clone(), p);
            }
            self.same(
                &is.iter().map(|i| i.params.map.len()).collect::<Vec<_>>(),
                &here,
            )?;
            let outs = (0..is[0].outs.len())
                .map(|o| {
                    let a: Vec<&Aval> = is.iter().map(|i| &i.outs[o]).collect();
                    self.aval(&a, &|| format!("{}: output {o}", here()))
                })
                .collect::<Result<_, _>>()?;
            instrs.push(SymInstr {
                op: op.clone(),
                params,
                ins: is[0].ins.clone(),
                outs,
            });
        }
        Ok(SymProgram {
            in_avals,
            consts,
            instrs,
            outputs: p0.outputs.clone(),
        })
    }
}

/// The exported Program of `probes`: the same function lowered with the
/// symbolic dimensions `names` at the probes' values (the base point, one
/// probe per dimension changing only it, then checks). Each integer
/// becomes an affine function of the dimensions; anything else that
/// differs between probes is an error naming the op and param.
pub fn from_probes(names: &[String], probes: &[Probe<'_>]) -> Result<SymProgram, String> {
    if probes.len() < names.len() + 1 {
        return Err(format!(
            "export: {} probes for {} symbolic dimensions",
            probes.len(),
            names.len()
        ));
    }
    let dims: Vec<Vec<i64>> = probes.iter().map(|p| p.dims.clone()).collect();
    for (d, p) in dims.iter().enumerate().skip(1).take(names.len()) {
        let changed: Vec<usize> = (0..names.len()).filter(|&k| p[k] != dims[0][k]).collect();
        if changed != [d - 1] || p.len() != names.len() {
            return Err(format!(
                "export: probe {d} must change dimension {} only",
                d - 1
            ));
        }
    }
    let f = Fitter {
        probes: &dims,
        names,
    };
    let specs: Vec<&ProgramSpec> = probes.iter().map(|p| p.spec).collect();
    f.program(&specs, &|| "the program".to_string())
}

// ---------------------------------------------------------------------------
// To a concrete Program (the loader)

fn concrete(s: &SymInt, dims: &[i64], what: &dyn Fn() -> String) -> Result<i64, String> {
    s.eval(dims)
        .ok_or_else(|| format!("{}: integer overflow evaluating {:?}", what(), s))
}

fn concrete_aval(a: &SymAval, dims: &[i64], what: &dyn Fn() -> String) -> Result<Aval, String> {
    let shape = a
        .shape
        .iter()
        .map(|s| {
            let v = concrete(s, dims, what)?;
            usize::try_from(v).map_err(|_| format!("{}: negative extent {v}", what()))
        })
        .collect::<Result<_, _>>()?;
    Ok(Aval::new(a.dtype, shape))
}

fn concrete_param(
    p: &SymParam,
    dims: &[i64],
    depth: usize,
) -> Result<Param, crate::base::error::Error> {
    use crate::base::error::Error;
    Ok(match p {
        SymParam::None => Param::None,
        SymParam::Bool(b) => Param::Bool(*b),
        SymParam::Int(s) => {
            Param::Int(concrete(s, dims, &|| "param".into()).map_err(Error::Internal)?)
        }
        SymParam::Float(f) => Param::Float(*f),
        SymParam::Str(s) => Param::Str(s.clone()),
        SymParam::List(v) => Param::List(
            v.iter()
                .map(|q| concrete_param(q, dims, depth))
                .collect::<Result<_, _>>()?,
        ),
        SymParam::Program(sub) => {
            let exe = build(sub, dims, depth + 1)?;
            crate::ops::control::program_param(Arc::new(exe))
        }
    })
}

/// The concrete Program of `p` for the dimensions' values `dims`.
pub fn instantiate(p: &SymProgram, dims: &[i64]) -> Result<ProgramSpec, crate::base::error::Error> {
    instantiate_at(p, dims, 0)
}

fn instantiate_at(
    p: &SymProgram,
    dims: &[i64],
    depth: usize,
) -> Result<ProgramSpec, crate::base::error::Error> {
    use crate::base::error::Error;
    if depth > MAX_DEPTH {
        return Err(Error::Internal(
            "export: sub-programs nested too deeply".into(),
        ));
    }
    let in_avals = p
        .in_avals
        .iter()
        .enumerate()
        .map(|(k, a)| concrete_aval(a, dims, &|| format!("input {k}")))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Error::Internal)?;
    let consts = p
        .consts
        .iter()
        .map(|c| Buffer::from_bytes(c.dtype, c.shape.clone(), &c.bytes))
        .collect::<Result<Vec<_>, _>>()?;
    let mut instrs = Vec::with_capacity(p.instrs.len());
    for (k, ins) in p.instrs.iter().enumerate() {
        let mut params = Params::new(&ins.op);
        for (key, v) in &ins.params {
            params
                .map
                .insert(key.clone(), concrete_param(v, dims, depth)?);
        }
        let outs = ins
            .outs
            .iter()
            .map(|a| concrete_aval(a, dims, &|| format!("instruction {k} ({})", ins.op)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(Error::Internal)?;
        instrs.push(InstrSpec {
            params,
            ins: ins.ins.clone(),
            outs,
        });
    }
    Ok(ProgramSpec {
        in_avals,
        consts,
        instrs,
        outputs: p.outputs.clone(),
    })
}

fn build(
    p: &SymProgram,
    dims: &[i64],
    depth: usize,
) -> Result<Executable, crate::base::error::Error> {
    let s = instantiate_at(p, dims, depth)?;
    Executable::new(s.in_avals, s.consts, s.instrs, s.outputs)
}

/// The compiled Program of `p` for the dimensions' values `dims` (passes,
/// fusion planning: as for a Program from Python).
pub fn compile(p: &SymProgram, dims: &[i64]) -> Result<Executable, crate::base::error::Error> {
    build(p, dims, 0)
}

/// The dimensions' values that make `shapes` the inputs' shapes, or an
/// error naming the first input and dimension that do not fit. Each
/// symbolic dimension must appear alone (`b`) as some input's extent.
pub fn bind_dims(
    p: &SymProgram,
    names: &[String],
    shapes: &[&[usize]],
) -> Result<Vec<i64>, String> {
    if shapes.len() != p.in_avals.len() {
        return Err(format!(
            "the exported function takes {} arguments, got {}",
            p.in_avals.len(),
            shapes.len()
        ));
    }
    let mut dims: Vec<Option<i64>> = vec![None; names.len()];
    for (k, (a, s)) in p.in_avals.iter().zip(shapes).enumerate() {
        if a.shape.len() != s.len() {
            return Err(format!(
                "argument {k} must have rank {}, got shape {:?}",
                a.shape.len(),
                s
            ));
        }
        for (e, &v) in a.shape.iter().zip(s.iter()) {
            if let [(d, 1)] = e.terms[..] {
                if e.c == 0 {
                    let v = v as i64;
                    match dims[d as usize] {
                        None => dims[d as usize] = Some(v),
                        Some(w) if w != v => {
                            return Err(format!(
                                "argument {k}: dimension '{}' is {w} in an earlier argument and {v} here",
                                names[d as usize]
                            ))
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    let dims: Vec<i64> = dims
        .iter()
        .zip(names)
        .map(|(d, n)| d.ok_or_else(|| format!("dimension '{n}' is not the extent of any argument")))
        .collect::<Result<_, _>>()?;
    for (k, (a, s)) in p.in_avals.iter().zip(shapes).enumerate() {
        for (j, (e, &v)) in a.shape.iter().zip(s.iter()).enumerate() {
            if e.eval(&dims) != Some(v as i64) {
                let want = e.render(names);
                return Err(format!(
                    "argument {k} has shape {:?}, but the exported function expects dimension {j} to be {want}{}",
                    s,
                    if e.is_constant() { String::new() } else {
                        format!(" = {}", e.eval(&dims).map_or("overflow".into(), |x| x.to_string()))
                    }
                ));
            }
        }
    }
    if let Some((n, v)) = names.iter().zip(&dims).find(|(_, &v)| v < 1) {
        return Err(format!("dimension '{n}' must be at least 1, got {v}"));
    }
    Ok(dims)
}

// ---------------------------------------------------------------------------
// Bytes

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }
    fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.0.extend_from_slice(b);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn symint(&mut self, s: &SymInt) {
        self.i64(s.c);
        self.len(s.terms.len());
        for &(d, k) in &s.terms {
            self.u32(d);
            self.i64(k);
        }
    }
    fn aval(&mut self, a: &SymAval) {
        self.str(a.dtype.name());
        self.len(a.shape.len());
        a.shape.iter().for_each(|s| self.symint(s));
    }
    fn param(&mut self, p: &SymParam) {
        match p {
            SymParam::None => self.u8(0),
            SymParam::Bool(b) => {
                self.u8(1);
                self.u8(*b as u8)
            }
            SymParam::Int(s) => {
                self.u8(2);
                self.symint(s)
            }
            SymParam::Float(f) => {
                self.u8(3);
                self.u64(f.to_bits())
            }
            SymParam::Str(s) => {
                self.u8(4);
                self.str(s)
            }
            SymParam::List(v) => {
                self.u8(5);
                self.len(v.len());
                v.iter().for_each(|q| self.param(q));
            }
            SymParam::Program(p) => {
                self.u8(6);
                self.program(p)
            }
        }
    }
    fn program(&mut self, p: &SymProgram) {
        self.len(p.in_avals.len());
        p.in_avals.iter().for_each(|a| self.aval(a));
        self.len(p.consts.len());
        for c in &p.consts {
            self.str(c.dtype.name());
            self.len(c.shape.len());
            c.shape.iter().for_each(|&d| self.len(d));
            self.bytes(&c.bytes);
        }
        self.len(p.instrs.len());
        for i in &p.instrs {
            self.str(&i.op);
            self.len(i.params.len());
            for (k, v) in &i.params {
                self.str(k);
                self.param(v);
            }
            self.len(i.ins.len());
            i.ins.iter().for_each(|&v| self.len(v));
            self.len(i.outs.len());
            i.outs.iter().for_each(|a| self.aval(a));
        }
        self.len(p.outputs.len());
        p.outputs.iter().for_each(|&v| self.len(v));
    }
}

/// The bytes of an export.
pub fn encode(e: &ExportData) -> Vec<u8> {
    let mut body = Writer(Vec::new());
    body.str(&e.meta);
    body.len(e.dims.len());
    e.dims.iter().for_each(|d| body.str(d));
    body.program(&e.program);
    let mut w = Writer(Vec::with_capacity(body.0.len() + HEADER + 8));
    w.0.extend_from_slice(MAGIC);
    w.u32(VERSION);
    w.u32(0);
    w.u64(body.0.len() as u64);
    w.0.extend_from_slice(&body.0);
    let h = fnv1a(&w.0);
    w.u64(h);
    w.0
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
    depth: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        match self.at.checked_add(n) {
            Some(end) if end <= self.b.len() => {
                let s = &self.b[self.at..end];
                self.at = end;
                Ok(s)
            }
            _ => bad(format!(
                "a field at byte {} runs past the end of the body",
                self.at
            )),
        }
    }
    fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, FormatError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }
    fn u64(&mut self) -> Result<u64, FormatError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn i64(&mut self) -> Result<i64, FormatError> {
        Ok(self.u64()? as i64)
    }
    fn usize(&mut self) -> Result<usize, FormatError> {
        let v = self.u64()?;
        usize::try_from(v).or_else(|_| bad(format!("value {v} does not fit in usize")))
    }
    /// A count of items that take at least `min_bytes` each.
    fn count(&mut self, min_bytes: usize) -> Result<usize, FormatError> {
        let n = self.usize()?;
        let left = self.b.len() - self.at;
        if n.saturating_mul(min_bytes.max(1)) > left {
            return bad(format!(
                "a count of {n} items at byte {} exceeds the file",
                self.at
            ));
        }
        Ok(n)
    }
    fn bytes(&mut self) -> Result<&'a [u8], FormatError> {
        let n = self.usize()?;
        self.take(n)
    }
    fn str(&mut self) -> Result<String, FormatError> {
        let at = self.at;
        let b = self.bytes()?;
        std::str::from_utf8(b)
            .map(str::to_string)
            .or_else(|_| bad(format!("a string at byte {at} is not UTF-8")))
    }
    fn dtype(&mut self) -> Result<DType, FormatError> {
        let s = self.str()?;
        DType::from_name(&s).ok_or_else(|| FormatError::Malformed(format!("unknown dtype '{s}'")))
    }
    fn symint(&mut self, n_dims: usize) -> Result<SymInt, FormatError> {
        let c = self.i64()?;
        let n = self.count(12)?;
        let mut terms = Vec::with_capacity(n);
        for _ in 0..n {
            let d = self.u32()?;
            if d as usize >= n_dims {
                return bad(format!("an integer refers to dimension {d} of {n_dims}"));
            }
            terms.push((d, self.i64()?));
        }
        Ok(SymInt { c, terms })
    }
    fn aval(&mut self, n_dims: usize) -> Result<SymAval, FormatError> {
        let dtype = self.dtype()?;
        let n = self.count(16)?;
        let shape = (0..n)
            .map(|_| self.symint(n_dims))
            .collect::<Result<_, _>>()?;
        Ok(SymAval { dtype, shape })
    }
    fn enter(&mut self) -> Result<(), FormatError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return bad("nested more deeply than 64 levels");
        }
        Ok(())
    }
    fn param(&mut self, n_dims: usize) -> Result<SymParam, FormatError> {
        Ok(match self.u8()? {
            0 => SymParam::None,
            1 => match self.u8()? {
                0 => SymParam::Bool(false),
                1 => SymParam::Bool(true),
                b => return bad(format!("bool byte {b}")),
            },
            2 => SymParam::Int(self.symint(n_dims)?),
            3 => SymParam::Float(f64::from_bits(self.u64()?)),
            4 => SymParam::Str(self.str()?),
            5 => {
                self.enter()?;
                let n = self.count(1)?;
                let v = (0..n)
                    .map(|_| self.param(n_dims))
                    .collect::<Result<_, _>>()?;
                self.depth -= 1;
                SymParam::List(v)
            }
            6 => {
                self.enter()?;
                let p = self.program(n_dims)?;
                self.depth -= 1;
                SymParam::Program(Box::new(p))
            }
            t => return bad(format!("unknown param tag {t}")),
        })
    }
    fn program(&mut self, n_dims: usize) -> Result<SymProgram, FormatError> {
        let n = self.count(16)?;
        let in_avals: Vec<SymAval> = (0..n)
            .map(|_| self.aval(n_dims))
            .collect::<Result<_, _>>()?;
        let n = self.count(24)?;
        let mut consts = Vec::with_capacity(n);
        for k in 0..n {
            let dtype = self.dtype()?;
            let nd = self.count(8)?;
            let shape: Vec<usize> = (0..nd).map(|_| self.usize()).collect::<Result<_, _>>()?;
            let bytes = self.bytes()?.to_vec();
            let want = crate::base::buffer::byte_size(dtype, &shape);
            if want != Some(bytes.len()) {
                return bad(format!(
                    "constant {k} ({}{:?}) holds {} bytes",
                    dtype.name(),
                    shape,
                    bytes.len()
                ));
            }
            consts.push(Const {
                dtype,
                shape,
                bytes,
            });
        }
        let fixed = in_avals.len() + consts.len();
        let mut defined = fixed;
        let n = self.count(32)?;
        let mut instrs = Vec::with_capacity(n);
        for k in 0..n {
            let op = self.str()?;
            let np = self.count(9)?;
            let mut params = BTreeMap::new();
            for _ in 0..np {
                let key = self.str()?;
                let v = self.param(n_dims)?;
                params.insert(key, v);
            }
            let ni = self.count(8)?;
            let ins: Vec<usize> = (0..ni).map(|_| self.usize()).collect::<Result<_, _>>()?;
            if let Some(&v) = ins.iter().find(|&&v| v >= defined) {
                return bad(format!(
                    "instruction {k} ({op}) reads value {v} before it is defined"
                ));
            }
            let no = self.count(16)?;
            let outs: Vec<SymAval> = (0..no)
                .map(|_| self.aval(n_dims))
                .collect::<Result<_, _>>()?;
            defined += outs.len();
            instrs.push(SymInstr {
                op,
                params,
                ins,
                outs,
            });
        }
        let n = self.count(8)?;
        let outputs: Vec<usize> = (0..n).map(|_| self.usize()).collect::<Result<_, _>>()?;
        if let Some(&v) = outputs.iter().find(|&&v| v >= defined) {
            return bad(format!("output {v} is not defined"));
        }
        Ok(SymProgram {
            in_avals,
            consts,
            instrs,
            outputs,
        })
    }
}

/// The content of export bytes, or why they are not a readable export.
pub fn decode(bytes: &[u8]) -> Result<ExportData, FormatError> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(FormatError::NotAnExport);
    }
    if bytes.len() < HEADER {
        return Err(FormatError::Truncated {
            expected: HEADER as u64 + 8,
            got: bytes.len() as u64,
        });
    }
    let mut r = Reader {
        b: bytes,
        at: 8,
        depth: 0,
    };
    let version = r.u32()?;
    if version == 0 || version > VERSION {
        return Err(FormatError::UnsupportedVersion {
            found: version,
            supported: VERSION,
        });
    }
    let flags = r.u32()?;
    let body_len = r.u64()?;
    let total = body_len.checked_add(HEADER as u64 + 8);
    match total {
        Some(t) if t <= bytes.len() as u64 => {
            if t < bytes.len() as u64 {
                return bad(format!(
                    "{} bytes after the end of the export",
                    bytes.len() as u64 - t
                ));
            }
        }
        _ => {
            return Err(FormatError::Truncated {
                expected: total.unwrap_or(u64::MAX),
                got: bytes.len() as u64,
            })
        }
    }
    let end = bytes.len() - 8;
    let mut h = [0u8; 8];
    h.copy_from_slice(&bytes[end..]);
    let stored = u64::from_le_bytes(h);
    let computed = fnv1a(&bytes[..end]);
    if stored != computed {
        return Err(FormatError::Corrupted { stored, computed });
    }
    if flags != 0 {
        return bad(format!("unknown flags {flags:#x}"));
    }
    let mut r = Reader {
        b: &bytes[..end],
        at: HEADER,
        depth: 0,
    };
    let meta = r.str()?;
    let n = r.count(8)?;
    let dims: Vec<String> = (0..n).map(|_| r.str()).collect::<Result<_, _>>()?;
    let program = r.program(dims.len())?;
    if r.at != end {
        return bad(format!(
            "{} unread bytes at the end of the body",
            end - r.at
        ));
    }
    Ok(ExportData {
        meta,
        dims,
        program,
    })
}
