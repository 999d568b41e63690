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
}

impl Body {
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
    fn call(&mut self, ret: &str, name: &str, args: &[(&str, &str)]) -> String {
        let sig: Vec<&str> = args.iter().map(|a| a.0).collect();
        self.decls
            .insert(format!("declare {ret} @{name}({})", sig.join(", ")));
        let a: Vec<String> = args.iter().map(|(t, v)| format!("{t} {v}")).collect();
        self.let_(format!("call {ret} @{name}({})", a.join(", ")))
    }
    fn intrinsic(&mut self, ret: &str, name: &str, args: &[(&str, &str)]) -> String {
        self.call(ret, name, args)
    }
}

/// A float NaN or value as an operand (NaN payloads kept through a cast).
pub(super) fn float_const(b: &mut Body, d: DType, raw: u64) -> Result<String, Unsupported> {
    let (is_nan, ity) = match d {
        DType::F32 => (f32::from_bits(raw as u32).is_nan(), "i32"),
        _ => (f64::from_bits(raw).is_nan(), "i64"),
    };
    if is_nan {
        let ft = ty(d)?;
        Ok(b.let_(format!("bitcast {ity} {} to {ft}", raw as i64)))
    } else {
        konst(d, raw)
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
        let w = b.let_(format!("zext i16 {v} to i32"));
        let f = b.call("float", &symbols::half_to_f32(s), &[("i32", &w)]);
        return cast(b, &f, DType::F32, t);
    }
    if is_half(t) {
        let (via, vty) = match s {
            DType::F32 | DType::Bool => (DType::F32, "float"),
            _ => (DType::F64, "double"),
        };
        let w = cast(b, v, s, via)?;
        let h = b.call("i32", &symbols::to_half(via, t), &[(vty, &w)]);
        return Ok(b.let_(format!("trunc i32 {h} to i16")));
    }
    let (st, tt) = (ty(s)?, ty(t)?);
    Ok(match (s, t) {
        (_, DType::Bool) if is_float(s) => b.let_(format!("fcmp une {st} {v}, 0.0")),
        (_, DType::Bool) => b.let_(format!("icmp ne {st} {v}, 0")),
        (DType::Bool, _) if is_float(t) => b.let_(format!("uitofp i1 {v} to {tt}")),
        (DType::Bool, _) => b.let_(format!("zext i1 {v} to {tt}")),
        (DType::F32, DType::F64) => b.let_(format!("fpext float {v} to double")),
        (DType::F64, DType::F32) => b.let_(format!("fptrunc double {v} to float")),
        _ if is_float(s) => {
            let sat = if is_signed(t) { "fptosi" } else { "fptoui" };
            let name = format!(
                "llvm.{sat}.sat.{tt}.{}",
                if s == DType::F32 { "f32" } else { "f64" }
            );
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

/// The LLVM suffix of a float type in intrinsic names.
fn fsuf(d: DType) -> &'static str {
    if d == DType::F32 {
        "f32"
    } else {
        "f64"
    }
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
            Prim::Const(raw) => konst(d, raw)?,
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
    let t = ty(d)?;
    let float = is_float(d);
    let signed = is_signed(d);
    Ok(match p {
        Prim::Input(_) | Prim::Const(_) => return Err("handled by the caller".into()),
        Prim::Select => {
            let ((m, _), (x, _), (y, _)) = (a(0)?, a(1)?, a(2)?);
            b.let_(format!("select i1 {m}, {t} {x}, {t} {y}"))
        }
        Prim::Eq | Prim::Ne | Prim::Lt | Prim::Le | Prim::Gt | Prim::Ge => {
            let ((x, ad), (y, _)) = (a(0)?, a(1)?);
            let at = ty(ad)?;
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
            let ones = if d == DType::Bool { "true" } else { "-1" };
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
            let zero = b.let_(format!("icmp eq {t} {y}, 0"));
            let bad = if signed {
                let min = konst(d, 1u64 << (bits(d) - 1))?;
                let xm = b.let_(format!("icmp eq {t} {x}, {min}"));
                let ym = b.let_(format!("icmp eq {t} {y}, -1"));
                let ov = b.let_(format!("and i1 {xm}, {ym}"));
                b.let_(format!("or i1 {zero}, {ov}"))
            } else {
                zero.clone()
            };
            let safe = b.let_(format!("select i1 {bad}, {t} 1, {t} {y}"));
            let op = match (p, signed) {
                (Prim::Div, true) => "sdiv",
                (Prim::Div, false) => "udiv",
                (_, true) => "srem",
                _ => "urem",
            };
            let q = b.let_(format!("{op} {t} {x}, {safe}"));
            let at_zero = if p == Prim::Div { "-1".to_string() } else { x };
            b.let_(format!("select i1 {zero}, {t} {at_zero}, {t} {q}"))
        }
        Prim::Neg if float => {
            let (x, _) = a(0)?;
            b.let_(format!("fneg {t} {x}"))
        }
        Prim::Neg => {
            let (x, _) = a(0)?;
            b.let_(format!("sub {t} 0, {x}"))
        }
        Prim::Abs if float => {
            let (x, _) = a(0)?;
            b.intrinsic(t, &format!("llvm.fabs.{}", fsuf(d)), &[(t, &x)])
        }
        Prim::Abs if signed => {
            let (x, _) = a(0)?;
            let n = b.let_(format!("sub {t} 0, {x}"));
            let neg = b.let_(format!("icmp slt {t} {x}, 0"));
            b.let_(format!("select i1 {neg}, {t} {n}, {t} {x}"))
        }
        Prim::Abs => a(0)?.0,
        Prim::Min | Prim::Max if float => {
            // the canonical NaN if either is NaN; else the smaller (larger),
            // the first of equals
            let ((x, _), (y, _)) = (a(0)?, a(1)?);
            let nan = b.let_(format!("fcmp uno {t} {x}, {y}"));
            let c = if p == Prim::Min { "ole" } else { "oge" };
            let keep = b.let_(format!("fcmp {c} {t} {x}, {y}"));
            let m = b.let_(format!("select i1 {keep}, {t} {x}, {t} {y}"));
            let qnan = if d == DType::F32 {
                f32::NAN.to_bits() as u64
            } else {
                f64::NAN.to_bits()
            };
            let q = float_const(b, d, qnan)?;
            b.let_(format!("select i1 {nan}, {t} {q}, {t} {m}"))
        }
        Prim::Min | Prim::Max => {
            let ((x, _), (y, _)) = (a(0)?, a(1)?);
            let s = if signed { "s" } else { "u" };
            let c = if p == Prim::Min { "le" } else { "ge" };
            let keep = b.let_(format!("icmp {s}{c} {t} {x}, {y}"));
            b.let_(format!("select i1 {keep}, {t} {x}, {t} {y}"))
        }
        Prim::Shl | Prim::ShrLogical | Prim::ShrArith => {
            // the amount modulo the width
            let ((x, _), (s, _)) = (a(0)?, a(1)?);
            let m = b.let_(format!("and {t} {s}, {}", bits(d) - 1));
            let op = match p {
                Prim::Shl => "shl",
                Prim::ShrLogical => "lshr",
                _ => "ashr",
            };
            b.let_(format!("{op} {t} {x}, {m}"))
        }
        Prim::Popcount => {
            let (x, _) = a(0)?;
            b.intrinsic(t, &format!("llvm.ctpop.{t}"), &[(t, &x)])
        }
        Prim::Clz => {
            let (x, _) = a(0)?;
            b.intrinsic(t, &format!("llvm.ctlz.{t}"), &[(t, &x), ("i1", "false")])
        }
        Prim::ToBits | Prim::FromBits => {
            let (x, s) = a(0)?;
            let st = ty(s)?;
            if st == t {
                x
            } else {
                b.let_(format!("bitcast {st} {x} to {t}"))
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
            b.intrinsic(t, &format!("llvm.{f}.{}", fsuf(d)), &[(t, &x)])
        }
        Prim::Ext1(f) => {
            let (x, _) = a(0)?;
            b.call(t, &symbols::ext1(f, d), &[(t, &x)])
        }
        Prim::Ext2(f) => {
            let ((x, _), (y, _)) = (a(0)?, a(1)?);
            b.call(t, &symbols::ext2(f, d), &[(t, &x), (t, &y)])
        }
    })
}
