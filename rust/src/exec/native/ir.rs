//! LLVM IR for a fused group: one loop over a range of the iteration space
//! whose body is every node's scalar function, inlined, so that values stay
//! in registers (and LLVM vectorizes the loop for the host CPU).
//!
//! Each elementwise node is its op's recorded DAG (`ops::scalar::sym`), and
//! each primitive of the DAG has exactly one rendering here (`prim`); no op
//! is written a second time. The rendering follows the primitives' semantics
//! in `ops/scalar/mod.rs` to the bit: no fast-math flags (so no contraction
//! into fused multiply-adds, no reassociation), integer division and shifts
//! guarded as the concrete family guards them, saturating float-to-integer
//! conversions. Extern calls (`Ext1`/`Ext2`) and the conversions to and from
//! f16/bf16 call back into the concrete family (`symbols.rs`), so they are
//! the interpreter's own code.
//!
//! A `Body` renders either one element's values (`vw` 1) or `vw`
//! consecutive elements' at once as LLVM vectors (`<vw x T>`): every
//! primitive below is the same instruction on vectors, lane by lane, with
//! its constants splatted, so the bits are the scalar rendering's. The
//! extern calls have no vector form: a group that needs them keeps the
//! scalar rendering (`kernel.rs` retries without vectors).
//!
//! This file renders values; `kernel.rs` renders a group's loops.
use super::symbols;
use crate::base::dtype::DType;
use crate::ops::scalar::sym::{Graph, Prim};
use std::fmt::Write;

/// Why a group has no native rendering (yet): it keeps the interpreter.
pub type Unsupported = String;

/// The IR type of a dtype's values (masks and bools are `i1`; f16/bf16 are
/// their bits).
pub(super) fn ty(d: DType) -> Result<&'static str, Unsupported> {
    Ok(match d {
        DType::Bool => "i1",
        DType::I8 | DType::U8 => "i8",
        DType::I16 | DType::U16 | DType::F16 | DType::BF16 => "i16",
        DType::I32 | DType::U32 => "i32",
        DType::I64 | DType::U64 => "i64",
        DType::F32 => "float",
        DType::F64 => "double",
        #[allow(unreachable_patterns)]
        d => return Err(format!("no native type for {d}")),
    })
}

/// The IR type of a dtype in memory (bool is a byte).
pub(super) fn mem_ty(d: DType) -> Result<&'static str, Unsupported> {
    if d == DType::Bool {
        Ok("i8")
    } else {
        ty(d)
    }
}

fn bits(d: DType) -> u32 {
    (d.itemsize() * 8) as u32
}

fn is_float(d: DType) -> bool {
    matches!(d, DType::F32 | DType::F64)
}

pub(super) fn is_half(d: DType) -> bool {
    matches!(d, DType::F16 | DType::BF16)
}

fn is_signed(d: DType) -> bool {
    matches!(d, DType::I8 | DType::I16 | DType::I32 | DType::I64)
}

/// A constant of dtype `d` from raw bits, as an IR operand.
pub(super) fn konst(d: DType, raw: u64) -> Result<String, Unsupported> {
    Ok(match d {
        DType::Bool => (if raw != 0 { "true" } else { "false" }).into(),
        DType::F32 => hex_double(f32::from_bits(raw as u32) as f64),
        DType::F64 => hex_double(f64::from_bits(raw)),
        _ => {
            let w = bits(d);
            // the signed reading of the low `w` bits
            let v = ((raw << (64 - w)) as i64) >> (64 - w);
            v.to_string()
        }
    })
}

/// A float constant as LLVM reads it exactly: the hex of the double (an
/// f32 constant is written as the double of the same value). NaNs are
/// rendered by the caller through a bit cast.
fn hex_double(v: f64) -> String {
    format!("0x{:016X}", v.to_bits())
}

/// IR text under construction: instructions of the loop body or the entry.
pub(super) struct Body {
    pub text: String,
    pub next: usize,
    /// Declarations of the callbacks used.
    pub decls: std::collections::BTreeSet<String>,
    /// Elements per value: 1 renders scalars, more renders `<vw x T>`.
    pub vw: usize,
}

impl Body {
    pub fn new(first: usize) -> Body {
        Body {
            text: String::new(),
            next: first,
            decls: Default::default(),
            vw: 1,
        }
    }
    /// Whether values are vectors.
    pub fn vector(&self) -> bool {
        self.vw > 1
    }
    /// The IR type of `d`'s values at this width.
    pub fn t(&self, d: DType) -> Result<String, Unsupported> {
        Ok(self.wide(ty(d)?))
    }
    /// Scalar IR type `t` at this width.
    pub fn wide(&self, t: &str) -> String {
        if self.vector() {
            format!("<{} x {t}>", self.vw)
        } else {
            t.to_string()
        }
    }
    /// The literal `v` of scalar IR type `t` as an operand at this width.
    pub fn lit(&self, t: &str, v: &str) -> String {
        if self.vector() {
            format!("splat ({t} {v})")
        } else {
            v.to_string()
        }
    }
    /// The overloaded-intrinsic suffix of scalar IR type `t` (`f32`,
    /// `i32`, ...) at this width (`v16f32`).
    pub fn suf(&self, t: &str) -> String {
        let s = match t {
            "float" => "f32",
            "double" => "f64",
            t => t,
        };
        if self.vector() {
            format!("v{}{s}", self.vw)
        } else {
            s.to_string()
        }
    }
    /// Scalar `v` of dtype `d` copied into every lane (itself at width 1).
    pub fn splat(&mut self, d: DType, v: &str) -> Result<String, Unsupported> {
        if !self.vector() {
            return Ok(v.to_string());
        }
        let (st, vt) = (ty(d)?, self.t(d)?);
        let one = self.let_(format!("insertelement {vt} poison, {st} {v}, i64 0"));
        Ok(self.let_(format!(
            "shufflevector {vt} {one}, {vt} poison, <{} x i32> zeroinitializer",
            self.vw
        )))
    }
    pub fn tmp(&mut self) -> String {
        self.next += 1;
        format!("%t{}", self.next)
    }
    /// Emit `%tN = <rhs>` and return `%tN`.
    pub fn let_(&mut self, rhs: String) -> String {
        let t = self.tmp();
        let _ = writeln!(self.text, "  {t} = {rhs}");
        t
    }
    fn call(
        &mut self,
        ret: &str,
        name: &str,
        args: &[(&str, &str)],
    ) -> Result<String, Unsupported> {
        if self.vector() {
            return Err(format!("{name} has no vector form"));
        }
        Ok(self.call_scalar(ret, name, args))
    }
    fn call_scalar(&mut self, ret: &str, name: &str, args: &[(&str, &str)]) -> String {
        let sig: Vec<&str> = args.iter().map(|a| a.0).collect();
        self.decls
            .insert(format!("declare {ret} @{name}({})", sig.join(", ")));
        let a: Vec<String> = args.iter().map(|(t, v)| format!("{t} {v}")).collect();
        self.let_(format!("call {ret} @{name}({})", a.join(", ")))
    }
    /// An LLVM intrinsic (overloaded on the width by its name's suffix).
    fn intrinsic(&mut self, ret: &str, name: &str, args: &[(&str, &str)]) -> String {
        self.call_scalar(ret, name, args)
    }
}

/// A float NaN or value as an operand (NaN payloads kept through a cast).
pub(super) fn float_const(b: &mut Body, d: DType, raw: u64) -> Result<String, Unsupported> {
    let (is_nan, ity) = match d {
        DType::F32 => (f32::from_bits(raw as u32).is_nan(), "i32"),
        _ => (f64::from_bits(raw).is_nan(), "i64"),
    };
    if is_nan {
        let (ft, it) = (b.t(d)?, b.wide(ity));
        let bits = b.lit(ity, &(raw as i64).to_string());
        Ok(b.let_(format!("bitcast {it} {bits} to {ft}")))
    } else {
        Ok(b.lit(ty(d)?, &konst(d, raw)?))
    }
}

/// Convert `v` of dtype `s` to dtype `t` with `astype` semantics
/// (`base::dtype::CastTo`, which the concrete family's `cast` is).
pub(super) fn cast(b: &mut Body, v: &str, s: DType, t: DType) -> Result<String, Unsupported> {
    if s == t {
        return Ok(v.to_string());
    }
    // f16/bf16 convert through f32 (exactly); to them from f32 directly and
    // from every other type through f64 (the interpreter's rule).
    if is_half(s) {
        // the callbacks take and give halves' bits as 32-bit integers
        if b.vector() {
            return Err("an f16/bf16 conversion has no vector form".into());
        }
        let w = b.let_(format!("zext i16 {v} to i32"));
        let f = b.call("float", &symbols::half_to_f32(s), &[("i32", &w)])?;
        return cast(b, &f, DType::F32, t);
    }
    if is_half(t) {
        let (via, vty) = match s {
            DType::F32 | DType::Bool => (DType::F32, "float"),
            _ => (DType::F64, "double"),
        };
        let w = cast(b, v, s, via)?;
        let h = b.call("i32", &symbols::to_half(via, t), &[(vty, &w)])?;
        return Ok(b.let_(format!("trunc i32 {h} to i16")));
    }
    let (st, tt) = (b.t(s)?, b.t(t)?);
    let (st, tt) = (st.as_str(), tt.as_str());
    let bt = b.t(DType::Bool)?;
    Ok(match (s, t) {
        (_, DType::Bool) if is_float(s) => {
            let z = b.lit(ty(s)?, "0.0");
            b.let_(format!("fcmp une {st} {v}, {z}"))
        }
        (_, DType::Bool) => {
            let z = b.lit(ty(s)?, "0");
            b.let_(format!("icmp ne {st} {v}, {z}"))
        }
        (DType::Bool, _) if is_float(t) => b.let_(format!("uitofp {bt} {v} to {tt}")),
        (DType::Bool, _) => b.let_(format!("zext {bt} {v} to {tt}")),
        (DType::F32, DType::F64) | (DType::F64, DType::F32) => {
            let op = if s == DType::F32 { "fpext" } else { "fptrunc" };
            b.let_(format!("{op} {st} {v} to {tt}"))
        }
        _ if is_float(s) => {
            let sat = if is_signed(t) { "fptosi" } else { "fptoui" };
            let name = format!("llvm.{sat}.sat.{}.{}", b.suf(ty(t)?), b.suf(ty(s)?));
            b.intrinsic(tt, &name, &[(st, v)])
        }
        _ if is_float(t) => {
            let op = if is_signed(s) { "sitofp" } else { "uitofp" };
            b.let_(format!("{op} {st} {v} to {tt}"))
        }
        _ => {
            let (bs, bt) = (bits(s), bits(t));
            if bs == bt {
                v.to_string()
            } else if bt < bs {
                b.let_(format!("trunc {st} {v} to {tt}"))
            } else if is_signed(s) {
                b.let_(format!("sext {st} {v} to {tt}"))
            } else {
                b.let_(format!("zext {st} {v} to {tt}"))
            }
        }
    })
}

/// Render `g` with its inputs bound to `inputs`; returns its result operand.
pub(super) fn graph(b: &mut Body, g: &Graph, inputs: &[String]) -> Result<String, Unsupported> {
    let mut v: Vec<String> = Vec::with_capacity(g.nodes.len());
    for n in &g.nodes {
        let d = n.dtype;
        let a = |k: usize| -> Result<(String, DType), Unsupported> {
            let j = *n.args.get(k).ok_or("a primitive without its argument")?;
            Ok((v[j].clone(), g.nodes[j].dtype))
        };
        let r = match n.prim {
            Prim::Input(k) => inputs
                .get(k)
                .cloned()
                .ok_or_else(|| format!("no operand {k}"))?,
            Prim::Const(raw) if is_float(d) => float_const(b, d, raw)?,
            Prim::Const(raw) => b.lit(ty(d)?, &konst(d, raw)?),
            _ => prim(b, n.prim, d, &a)?,
        };
        v.push(r);
    }
    v.get(g.output)
        .cloned()
        .ok_or_else(|| "no output node".into())
}

/// One primitive (other than inputs and constants) of result dtype `d`.
pub(super) fn prim(
    b: &mut Body,
    p: Prim,
    d: DType,
    a: &dyn Fn(usize) -> Result<(String, DType), Unsupported>,
) -> Result<String, Unsupported> {
    let st = ty(d)?;
    let t = b.t(d)?;
    let t = t.as_str();
    // the mask type, and literals of `d` at the width
    let mt = b.t(DType::Bool)?;
    let lit = |b: &Body, v: &str| b.lit(st, v);
    let float = is_float(d);
    let signed = is_signed(d);
    Ok(match p {
        Prim::Input(_) | Prim::Const(_) => return Err("handled by the caller".into()),
        Prim::Select => {
            let ((m, _), (x, _), (y, _)) = (a(0)?, a(1)?, a(2)?);
            b.let_(format!("select {mt} {m}, {t} {x}, {t} {y}"))
        }
        Prim::Eq | Prim::Ne | Prim::Lt | Prim::Le | Prim::Gt | Prim::Ge => {
            let ((x, ad), (y, _)) = (a(0)?, a(1)?);
            let at = b.t(ad)?;
            if is_float(ad) {
                let c = match p {
                    Prim::Eq => "oeq",
                    Prim::Ne => "une",
                    Prim::Lt => "olt",
                    Prim::Le => "ole",
                    Prim::Gt => "ogt",
                    _ => "oge",
                };
                b.let_(format!("fcmp {c} {at} {x}, {y}"))
            } else if is_half(ad) {
                return Err("a comparison of f16 bits".into());
            } else {
                let s = if is_signed(ad) { "s" } else { "u" };
                let c = match p {
                    Prim::Eq => "eq".to_string(),
                    Prim::Ne => "ne".to_string(),
                    Prim::Lt => format!("{s}lt"),
                    Prim::Le => format!("{s}le"),
                    Prim::Gt => format!("{s}gt"),
                    _ => format!("{s}ge"),
                };
                b.let_(format!("icmp {c} {at} {x}, {y}"))
            }
        }
        Prim::Cast => {
            let (x, s) = a(0)?;
            cast(b, &x, s, d)?
        }
        Prim::And | Prim::Or | Prim::Xor => {
            let ((x, _), (y, _)) = (a(0)?, a(1)?);
            let op = match p {
                Prim::And => "and",
                Prim::Or => "or",
                _ => "xor",
            };
            b.let_(format!("{op} {t} {x}, {y}"))
        }
        Prim::Not => {
            let (x, _) = a(0)?;
            let ones = lit(b, if d == DType::Bool { "true" } else { "-1" });
            b.let_(format!("xor {t} {x}, {ones}"))
        }
        Prim::Add | Prim::Sub | Prim::Mul if float => {
            let ((x, _), (y, _)) = (a(0)?, a(1)?);
            let op = match p {
                Prim::Add => "fadd",
                Prim::Sub => "fsub",
                _ => "fmul",
            };
            b.let_(format!("{op} {t} {x}, {y}"))
        }
        Prim::Add | Prim::Sub | Prim::Mul => {
            let ((x, _), (y, _)) = (a(0)?, a(1)?);
            let op = match p {
                Prim::Add => "add",
                Prim::Sub => "sub",
                _ => "mul",
            };
            b.let_(format!("{op} {t} {x}, {y}"))
        }
        Prim::Div | Prim::Rem if float => {
            let ((x, _), (y, _)) = (a(0)?, a(1)?);
            let op = if p == Prim::Div { "fdiv" } else { "frem" };
            b.let_(format!("{op} {t} {x}, {y}"))
        }
        Prim::Div | Prim::Rem => {
            // x / 0 = -1 (all ones), x % 0 = x; MIN / -1 = MIN, MIN % -1 = 0:
            // the divisor becomes 1 in those cases (x / 1 = x, x % 1 = 0).
            let ((x, _), (y, _)) = (a(0)?, a(1)?);
            let (z, one, m1) = (lit(b, "0"), lit(b, "1"), lit(b, "-1"));
            let zero = b.let_(format!("icmp eq {t} {y}, {z}"));
            let bad = if signed {
                let min = lit(b, &konst(d, 1u64 << (bits(d) - 1))?);
                let xm = b.let_(format!("icmp eq {t} {x}, {min}"));
                let ym = b.let_(format!("icmp eq {t} {y}, {m1}"));
                let ov = b.let_(format!("and {mt} {xm}, {ym}"));
                b.let_(format!("or {mt} {zero}, {ov}"))
            } else {
                zero.clone()
            };
            let safe = b.let_(format!("select {mt} {bad}, {t} {one}, {t} {y}"));
            let op = match (p, signed) {
                (Prim::Div, true) => "sdiv",
                (Prim::Div, false) => "udiv",
                (_, true) => "srem",
                _ => "urem",
            };
            let q = b.let_(format!("{op} {t} {x}, {safe}"));
            let at_zero = if p == Prim::Div { m1 } else { x };
            b.let_(format!("select {mt} {zero}, {t} {at_zero}, {t} {q}"))
        }
        Prim::Neg if float => {
            let (x, _) = a(0)?;
            b.let_(format!("fneg {t} {x}"))
        }
        Prim::Neg => {
            let (x, _) = a(0)?;
            let z = lit(b, "0");
            b.let_(format!("sub {t} {z}, {x}"))
        }
        Prim::Abs if float => {
            let (x, _) = a(0)?;
            b.intrinsic(t, &format!("llvm.fabs.{}", b.suf(st)), &[(t, &x)])
        }
        Prim::Abs if signed => {
            let (x, _) = a(0)?;
            let z = lit(b, "0");
            let n = b.let_(format!("sub {t} {z}, {x}"));
            let neg = b.let_(format!("icmp slt {t} {x}, {z}"));
            b.let_(format!("select {mt} {neg}, {t} {n}, {t} {x}"))
        }
        Prim::Abs => a(0)?.0,
        Prim::Min | Prim::Max if float => {
            // the canonical NaN if either is NaN; else the smaller (larger),
            // the first of equals
            let ((x, _), (y, _)) = (a(0)?, a(1)?);
            let nan = b.let_(format!("fcmp uno {t} {x}, {y}"));
            let c = if p == Prim::Min { "ole" } else { "oge" };
            let keep = b.let_(format!("fcmp {c} {t} {x}, {y}"));
            let m = b.let_(format!("select {mt} {keep}, {t} {x}, {t} {y}"));
            let qnan = if d == DType::F32 {
                f32::NAN.to_bits() as u64
            } else {
                f64::NAN.to_bits()
            };
            let q = float_const(b, d, qnan)?;
            b.let_(format!("select {mt} {nan}, {t} {q}, {t} {m}"))
        }
        Prim::Min | Prim::Max => {
            let ((x, _), (y, _)) = (a(0)?, a(1)?);
            let s = if signed { "s" } else { "u" };
            let c = if p == Prim::Min { "le" } else { "ge" };
            let keep = b.let_(format!("icmp {s}{c} {t} {x}, {y}"));
            b.let_(format!("select {mt} {keep}, {t} {x}, {t} {y}"))
        }
        Prim::Shl | Prim::ShrLogical | Prim::ShrArith => {
            // the amount modulo the width
            let ((x, _), (s, _)) = (a(0)?, a(1)?);
            let w1 = lit(b, &(bits(d) - 1).to_string());
            let m = b.let_(format!("and {t} {s}, {w1}"));
            let op = match p {
                Prim::Shl => "shl",
                Prim::ShrLogical => "lshr",
                _ => "ashr",
            };
            b.let_(format!("{op} {t} {x}, {m}"))
        }
        Prim::Popcount => {
            let (x, _) = a(0)?;
            b.intrinsic(t, &format!("llvm.ctpop.{}", b.suf(st)), &[(t, &x)])
        }
        Prim::Clz => {
            let (x, _) = a(0)?;
            b.intrinsic(
                t,
                &format!("llvm.ctlz.{}", b.suf(st)),
                &[(t, &x), ("i1", "false")],
            )
        }
        Prim::ToBits | Prim::FromBits => {
            let (x, s) = a(0)?;
            let xt = b.t(s)?;
            if xt == t {
                x
            } else {
                b.let_(format!("bitcast {xt} {x} to {t}"))
            }
        }
        Prim::Sqrt | Prim::Floor | Prim::Ceil | Prim::Trunc | Prim::RoundEven => {
            let (x, _) = a(0)?;
            let f = match p {
                Prim::Sqrt => "sqrt",
                Prim::Floor => "floor",
                Prim::Ceil => "ceil",
                Prim::Trunc => "trunc",
                _ => "roundeven",
            };
            b.intrinsic(t, &format!("llvm.{f}.{}", b.suf(st)), &[(t, &x)])
        }
        Prim::Ext1(f) => {
            let (x, _) = a(0)?;
            b.call(t, &symbols::ext1(f, d), &[(t, &x)])?
        }
        Prim::Ext2(f) => {
            let ((x, _), (y, _)) = (a(0)?, a(1)?);
            b.call(t, &symbols::ext2(f, d), &[(t, &x), (t, &y)])?
        }
    })
}
