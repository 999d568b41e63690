//! The op table: one entry per Rust op, with its name, its kind, the dtypes
//! of its (first) operand, its effects and its builder. Everything else
//! reads it: `supported_ops()`, kernel building, fusion (an op fuses by its
//! kind), the passes' questions (does it call the host? does it have an
//! effect?).
//!
//! An elementwise entry is its scalar function, written here once over the
//! scalar layer's primitives (`ops::scalar`); the eager kernel, the fused
//! tile runner and the recorded DAG all derive from it. Adding an
//! elementwise op is one line below (and its scalar function in
//! `ops::scalar::defs` if it is more than an expression).
use super::elementwise::{
    self, eager, Bin, BitsClass, BitsFn, BitsFn2, CmpClass, CmpFn, CxClass, CxFn, CxFn2,
    CxRealClass, CxRealFn, Elem, FloatClass, FloatFn, FloatFn2, IntClass, IntFn, IntFn2, NumClass,
    NumFn, NumFn2, OrComplex, Sig, SliceKernel, Un,
};
use super::reduce::Monoid;
use super::scalar::sym::Graph;
use super::scalar::{arith, complex, defs, Bits, Ext1, Ext2, Float, Int, Mask, Num, Value};
use super::{
    callback, collective, control, conv, cumulative, dot, fft, gather, iota, linalg, reduce, shape,
    sort, threefry, window, Aval, Builder, InPlace, InPlaceBuilder, Kernel, OpSpec, OwnedBuilder,
    OwnedKernel,
};
use crate::base::buffer::{numel, strides};
use crate::base::dtype::{Complex, DType, DTypes};
use crate::base::error::{Error, Result};
use crate::base::params::Params;
use crate::loops::strided::LoadMap;
use std::collections::HashMap;
use std::sync::OnceLock;

/// What an op is, to the compiler.
#[derive(Clone, Copy)]
pub enum OpKind {
    /// One result element from the operand elements at the same position
    /// (lax broadcasting of rank-0 operands and size-1 dims).
    Elementwise(Elementwise),
    /// A reduction over `axes`; `Some(monoid)` if fused code can run it.
    Reduction(Option<Monoid>),
    /// Each output element is one input element; `Some(map)` gives the
    /// load map fused code reads it with.
    View(Option<ViewFn>),
    /// Control flow: runs sub-programs (`ops::control`).
    Control,
    /// Calls the host (`ops::callback`).
    Host,
    /// A collective across the replicas of a pmap.
    Collective,
    Other,
}

/// How fused code reads a view's input: `(params, input, output)`.
pub type ViewFn = fn(&Params, &Aval, &Aval) -> Option<LoadMap>;

/// An elementwise op: its operands' dtypes, and its scalar function as a
/// slice kernel (`resolve`) or as a DAG of primitives (`record`), for given
/// params, operand dtypes and result dtype.
#[derive(Clone, Copy)]
pub struct Elementwise {
    pub sig: Sig,
    pub resolve: fn(&Params, &[DType], DType) -> Result<SliceKernel>,
    pub record: fn(&Params, &[DType], DType) -> Result<Graph>,
}

/// What an op does besides computing its outputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// Calls back into the host (Python): never evaluated at compile time.
    pub host: bool,
    /// Must run exactly once per run, in program order, even though nothing
    /// reads its (absent) outputs: never removed as dead code, never merged
    /// with an equal instruction.
    pub effect: bool,
}

/// One op.
#[derive(Clone, Copy)]
pub struct OpDef {
    pub name: &'static str,
    pub kind: OpKind,
    /// The dtypes of its first operand (its cases', for `select_n`).
    pub dtypes: DTypes,
    pub effects: Effects,
    pub build: Builder,
    /// Its in-place form, if it has one (`dynamic_update_slice`, the
    /// scatters): the executor uses it when operand 0 dies at this op and
    /// its buffer has no other owner (a loop's carry), instead of copying.
    pub in_place: Option<InPlaceBuilder>,
    /// Its owning form, if it has one (`cond`, `while`, `scan`: see
    /// `ops::OwnedKernel`).
    pub owned: Option<OwnedBuilder>,
}

impl OpDef {
    const fn new(name: &'static str, kind: OpKind, dtypes: DTypes, build: Builder) -> OpDef {
        OpDef {
            name,
            kind,
            dtypes,
            effects: Effects {
                host: false,
                effect: false,
            },
            build,
            in_place: None,
            owned: None,
        }
    }

    /// The entry with an in-place form.
    const fn in_place(self, b: InPlaceBuilder) -> OpDef {
        OpDef {
            in_place: Some(b),
            ..self
        }
    }

    /// The entry with an owning form.
    const fn owned(self, b: OwnedBuilder) -> OpDef {
        OpDef {
            owned: Some(b),
            ..self
        }
    }

    /// The entry of elementwise op `Op`.
    fn elementwise<Op: Elem>(name: &'static str, sig: Sig, dtypes: DTypes) -> OpDef {
        let e = Elementwise {
            sig,
            resolve: elementwise::resolve::<Op>,
            record: elementwise::record::<Op>,
        };
        OpDef::new(
            name,
            OpKind::Elementwise(e),
            dtypes,
            build_elementwise::<Op>,
        )
    }

    const fn other(name: &'static str, dtypes: DTypes, build: Builder) -> OpDef {
        OpDef::new(name, OpKind::Other, dtypes, build)
    }

    /// The elementwise part of the entry, if it is one.
    pub fn elementwise_kind(&self) -> Option<&Elementwise> {
        match &self.kind {
            OpKind::Elementwise(e) => Some(e),
            _ => None,
        }
    }
}

fn build_elementwise<Op: Elem>(spec: &OpSpec) -> Result<Kernel> {
    let ins: Vec<DType> = spec.ins.iter().map(|a| a.dtype).collect();
    let out = spec
        .outs
        .first()
        .ok_or_else(|| Error::Internal(format!("{}: no output", spec.name())))?
        .dtype;
    let kernel = elementwise::resolve::<Op>(spec.params, &ins, out)?;
    eager::build(spec, kernel)
}

/// `un!(class, "name", |x| body)`: an elementwise op of one operand whose
/// scalar function is `body`, generic over the class's trait (float:
/// `Float`; num: `Num`; int: `Int`; bits: `Bits`, bool included).
macro_rules! un {
    (@ $tr:ident, $v:ident, $class:ident, $dt:expr, $name:literal, |$x:ident| $body:expr) => {{
        struct Op;
        impl $tr for Op {
            #[inline(always)]
            fn f<V: $v>($x: V) -> V {
                $body
            }
        }
        OpDef::elementwise::<Un<(Op, $class)>>($name, Sig::Same(1), $dt)
    }};
    (float, $($t:tt)*) => { un!(@ FloatFn, Float, FloatClass, DTypes::FLOAT, $($t)*) };
    (num, $($t:tt)*) => { un!(@ NumFn, Num, NumClass, DTypes::NUMERIC, $($t)*) };
    (int, $($t:tt)*) => { un!(@ IntFn, Int, IntClass, DTypes::INT, $($t)*) };
    (bits, $($t:tt)*) => { un!(@ BitsFn, Bits, BitsClass, DTypes::INTBOOL, $($t)*) };
}

/// `unc!(class, "name", |x| body, |z| complex_body)`: as `un!`, and over
/// complex operands `complex_body` (generic over `Complex<F>`, `F: Float`).
macro_rules! unc {
    (@ $tr:ident, $v:ident, $class:ident, $dt:expr, $name:literal, |$x:ident| $body:expr, |$z:ident| $cbody:expr) => {{
        struct Op;
        impl $tr for Op {
            #[inline(always)]
            fn f<V: $v>($x: V) -> V {
                $body
            }
        }
        struct OpC;
        impl CxFn for OpC {
            #[inline(always)]
            fn f<F: Float>($z: Complex<F>) -> Complex<F> {
                $cbody
            }
        }
        OpDef::elementwise::<OrComplex<Un<(Op, $class)>, Un<(OpC, CxClass)>>>(
            $name,
            Sig::Same(1),
            $dt.union(DTypes::COMPLEX),
        )
    }};
    (float, $($t:tt)*) => { unc!(@ FloatFn, Float, FloatClass, DTypes::FLOAT, $($t)*) };
    (num, $($t:tt)*) => { unc!(@ NumFn, Num, NumClass, DTypes::NUMERIC, $($t)*) };
}

/// `binc!(class, "name", |x, y| body, |z, w| complex_body)`: as `unc!`.
macro_rules! binc {
    (@ $tr:ident, $v:ident, $class:ident, $dt:expr, $name:literal, |$x:ident, $y:ident| $body:expr, |$z:ident, $w:ident| $cbody:expr) => {{
        struct Op;
        impl $tr for Op {
            #[inline(always)]
            fn f<V: $v>($x: V, $y: V) -> V {
                $body
            }
        }
        struct OpC;
        impl CxFn2 for OpC {
            #[inline(always)]
            fn f<F: Float>($z: Complex<F>, $w: Complex<F>) -> Complex<F> {
                $cbody
            }
        }
        OpDef::elementwise::<OrComplex<Bin<(Op, $class)>, Bin<(OpC, CxClass)>>>(
            $name,
            Sig::Same(2),
            $dt.union(DTypes::COMPLEX),
        )
    }};
    (num, $($t:tt)*) => { binc!(@ NumFn2, Num, NumClass, DTypes::NUMERIC, $($t)*) };
}

/// `cxreal!("name", |z| body)`: a real function of a complex operand.
macro_rules! cxreal {
    ($name:literal, |$z:ident| $body:expr) => {{
        struct Op;
        impl CxRealFn for Op {
            #[inline(always)]
            fn f<F: Float>($z: Complex<F>) -> F {
                $body
            }
        }
        OpDef::elementwise::<Un<(Op, CxRealClass)>>($name, Sig::Real(1), DTypes::COMPLEX)
    }};
}

/// `bin!(class, "name", |x, y| body)`: as `un!`, with two operands.
macro_rules! bin {
    (@ $tr:ident, $v:ident, $class:ident, $dt:expr, $name:literal, |$x:ident, $y:ident| $body:expr) => {{
        struct Op;
        impl $tr for Op {
            #[inline(always)]
            fn f<V: $v>($x: V, $y: V) -> V {
                $body
            }
        }
        OpDef::elementwise::<Bin<(Op, $class)>>($name, Sig::Same(2), $dt)
    }};
    (float, $($t:tt)*) => { bin!(@ FloatFn2, Float, FloatClass, DTypes::FLOAT, $($t)*) };
    (num, $($t:tt)*) => { bin!(@ NumFn2, Num, NumClass, DTypes::NUMERIC, $($t)*) };
    (int, $($t:tt)*) => { bin!(@ IntFn2, Int, IntClass, DTypes::INT, $($t)*) };
    (bits, $($t:tt)*) => { bin!(@ BitsFn2, Bits, BitsClass, DTypes::INTBOOL, $($t)*) };
}

/// `cmp!("name", |x, y| mask)`: a comparison of two values of any dtype.
macro_rules! cmp {
    ($name:literal, |$x:ident, $y:ident| $body:expr) => {{
        struct Op;
        impl CmpFn for Op {
            #[inline(always)]
            fn f<V: Value>($x: V, $y: V) -> Mask<V> {
                $body
            }
        }
        OpDef::elementwise::<Bin<(Op, CmpClass)>>($name, Sig::Pred(2), DTypes::ALL)
    }};
}

fn reshape_view(_: &Params, i: &Aval, o: &Aval) -> Option<LoadMap> {
    (i.numel() == o.numel()).then_some(LoadMap::Contig)
}

fn broadcast_view(p: &Params, i: &Aval, o: &Aval) -> Option<LoadMap> {
    let dims = p.usizes("broadcast_dimensions").ok()?;
    let (src, dst) = (&i.shape, &o.shape);
    if dims.len() != src.len() || dims.iter().any(|&d| d >= dst.len()) {
        return None;
    }
    if numel(src) == 1 {
        return Some(LoadMap::Scalar);
    }
    let st = strides(src);
    let mut map = vec![0isize; dst.len()];
    for (k, &d) in dims.iter().enumerate() {
        if src[k] != 1 {
            map[d] = st[k] as isize;
        }
    }
    Some(LoadMap::Strided(map))
}

/// Every op.
fn entries() -> Vec<OpDef> {
    use OpKind::{Collective, Control, Reduction, View};
    let (all, num, intbool) = (DTypes::ALL, DTypes::NUMERIC, DTypes::INTBOOL);
    let lin = DTypes::of(&[DType::F32, DType::F64, DType::C64, DType::C128]);
    let with_bool = |d: DTypes| d.union(DTypes::of(&[DType::Bool]));
    vec![
        // -- elementwise, one operand
        unc!(num, "neg", |x| x.neg(), |z| z.neg()),
        unc!(num, "sign", |x| arith::sign(x), |z| complex::sign(z)),
        {
            struct Abs;
            impl NumFn for Abs {
                #[inline(always)]
                fn f<T: Num>(x: T) -> T {
                    x.abs()
                }
            }
            struct AbsC;
            impl CxRealFn for AbsC {
                #[inline(always)]
                fn f<F: Float>(z: Complex<F>) -> F {
                    complex::abs(z)
                }
            }
            OpDef::elementwise::<OrComplex<Un<(Abs, NumClass)>, Un<(AbsC, CxRealClass)>>>(
                "abs",
                Sig::Real(1),
                DTypes::NUMBER,
            )
        },
        unc!(num, "square", |x| x.mul(x), |z| complex::square(z)),
        un!(bits, "not", |x| x.not()),
        un!(int, "population_count", |x| x.popcount()),
        un!(int, "clz", |x| x.clz()),
        un!(float, "floor", |x| x.floor()),
        un!(float, "ceil", |x| x.ceil()),
        unc!(float, "exp", |x| defs::exp(x), |z| complex::exp(z)),
        unc!(float, "exp2", |x| x.ext1(Ext1::Exp2), |z| complex::exp2(z)),
        unc!(float, "log", |x| defs::log(x), |z| complex::log(z)),
        unc!(float, "log1p", |x| defs::log1p(x), |z| complex::log1p(z)),
        unc!(float, "expm1", |x| defs::expm1(x), |z| complex::expm1(z)),
        unc!(float, "tanh", |x| defs::tanh(x), |z| complex::tanh(z)),
        un!(float, "logistic", |x| defs::logistic(x)),
        unc!(float, "sin", |x| defs::sin(x), |z| complex::sin(z)),
        unc!(float, "cos", |x| defs::cos(x), |z| complex::cos(z)),
        unc!(float, "tan", |x| x.ext1(Ext1::Tan), |z| complex::tan(z)),
        unc!(float, "asin", |x| x.ext1(Ext1::Asin), |z| complex::asin(z)),
        unc!(float, "acos", |x| x.ext1(Ext1::Acos), |z| complex::acos(z)),
        unc!(float, "atan", |x| x.ext1(Ext1::Atan), |z| complex::atan(z)),
        unc!(float, "sinh", |x| x.ext1(Ext1::Sinh), |z| complex::sinh(z)),
        unc!(float, "cosh", |x| x.ext1(Ext1::Cosh), |z| complex::cosh(z)),
        unc!(float, "asinh", |x| x.ext1(Ext1::Asinh), |z| complex::asinh(
            z
        )),
        unc!(float, "acosh", |x| x.ext1(Ext1::Acosh), |z| complex::acosh(
            z
        )),
        unc!(float, "atanh", |x| x.ext1(Ext1::Atanh), |z| complex::atanh(
            z
        )),
        unc!(float, "sqrt", |x| x.sqrt(), |z| complex::sqrt(z)),
        unc!(float, "rsqrt", |x| defs::rsqrt(x), |z| complex::rsqrt(z)),
        un!(float, "cbrt", |x| x.ext1(Ext1::Cbrt)),
        un!(float, "erf", |x| defs::erf(x)),
        un!(float, "erfc", |x| x.ext1(Ext1::Erfc)),
        un!(float, "erf_inv", |x| x.ext1(Ext1::ErfInv)),
        un!(float, "lgamma", |x| x.ext1(Ext1::Lgamma)),
        un!(float, "digamma", |x| x.ext1(Ext1::Digamma)),
        un!(float, "bessel_i0e", |x| defs::bessel_i0e(x)),
        un!(float, "bessel_i1e", |x| defs::bessel_i1e(x)),
        OpDef::elementwise::<elementwise::Round>("round", Sig::Same(1), DTypes::FLOAT),
        OpDef::elementwise::<elementwise::IsFinite>("is_finite", Sig::Pred(1), DTypes::FLOAT),
        OpDef::elementwise::<elementwise::IntegerPow>("integer_pow", Sig::Same(1), DTypes::NUMBER),
        OpDef::elementwise::<elementwise::Convert>("convert_element_type", Sig::Convert, all),
        // -- complex parts
        cxreal!("real", |z| z.re),
        cxreal!("imag", |z| z.im),
        unc!(@ NumFn, Num, NumClass, DTypes::NONE, "conj", |x| x, |z| z.conj()),
        OpDef::elementwise::<elementwise::MakeComplex>(
            "complex",
            Sig::MakeComplex,
            DTypes::of(&[DType::F32, DType::F64]),
        ),
        // -- elementwise, two or more operands
        binc!(num, "add", |x, y| x.add(y), |z, w| z.add(w)),
        binc!(num, "sub", |x, y| x.sub(y), |z, w| z.sub(w)),
        binc!(num, "mul", |x, y| x.mul(y), |z, w| z.mul(w)),
        binc!(num, "div", |x, y| x.div(y), |z, w| z.div(w)),
        bin!(num, "rem", |x, y| x.rem(y)),
        OpDef::elementwise::<elementwise::MaxMin<true>>(
            "max",
            Sig::Same(2),
            with_bool(DTypes::NUMBER),
        ),
        OpDef::elementwise::<elementwise::MaxMin<false>>(
            "min",
            Sig::Same(2),
            with_bool(DTypes::NUMBER),
        ),
        bin!(bits, "and", |x, y| x.and(y)),
        bin!(bits, "or", |x, y| x.or(y)),
        bin!(bits, "xor", |x, y| x.xor(y)),
        bin!(int, "shift_left", |x, y| arith::shift_left(x, y)),
        bin!(int, "shift_right_logical", |x, y| {
            arith::shift_right_logical(x, y)
        }),
        bin!(int, "shift_right_arithmetic", |x, y| {
            arith::shift_right_arithmetic(x, y)
        }),
        bin!(float, "atan2", |x, y| x.ext2(Ext2::Atan2, y)),
        OpDef::elementwise::<elementwise::NextAfter>("nextafter", Sig::Same(2), DTypes::FLOAT),
        OpDef::elementwise::<elementwise::Pow>("pow", Sig::Pow, DTypes::INEXACT),
        cmp!("eq", |x, y| x.eq(y)),
        cmp!("ne", |x, y| x.ne(y)),
        cmp!("lt", |x, y| x.lt(y)),
        cmp!("le", |x, y| x.le(y)),
        cmp!("gt", |x, y| x.gt(y)),
        cmp!("ge", |x, y| x.ge(y)),
        OpDef::elementwise::<elementwise::SelectN>("select_n", Sig::Select, all),
        OpDef::elementwise::<elementwise::Clamp>("clamp", Sig::Same(3), num),
        // -- reductions
        OpDef::new(
            "reduce_sum",
            Reduction(Some(Monoid::Sum)),
            DTypes::NUMBER,
            reduce::build_sum,
        ),
        OpDef::new(
            "reduce_max",
            Reduction(Some(Monoid::Max)),
            with_bool(DTypes::NUMBER),
            reduce::build_max,
        ),
        OpDef::new(
            "reduce_min",
            Reduction(Some(Monoid::Min)),
            with_bool(DTypes::NUMBER),
            reduce::build_min,
        ),
        OpDef::new(
            "reduce_prod",
            Reduction(None),
            DTypes::NUMBER,
            reduce::build_prod,
        ),
        OpDef::new("reduce_and", Reduction(None), intbool, reduce::build_and),
        OpDef::new("reduce_or", Reduction(None), intbool, reduce::build_or),
        OpDef::new("reduce_xor", Reduction(None), intbool, reduce::build_xor),
        OpDef::new("argmax", Reduction(None), all, reduce::build_arg),
        OpDef::new("argmin", Reduction(None), all, reduce::build_arg),
        OpDef::other("cumsum", DTypes::NUMBER, cumulative::build_cumsum),
        OpDef::other("cumprod", DTypes::NUMBER, cumulative::build_cumprod),
        OpDef::other("cummax", DTypes::NUMBER, cumulative::build_cummax),
        OpDef::other("cummin", DTypes::NUMBER, cumulative::build_cummin),
        OpDef::other(
            "cumlogsumexp",
            DTypes::INEXACT,
            cumulative::build_cumlogsumexp,
        ),
        OpDef::other("reduce_window_sum", num, window::build_sum),
        OpDef::other("reduce_window_max", num, window::build_max),
        OpDef::other("reduce_window_min", num, window::build_min),
        OpDef::other("select_and_gather_add", num, window::build_gather),
        OpDef::other("select_and_scatter_add", num, window::build_scatter),
        // -- views and other shape ops
        OpDef::new(
            "reshape",
            View(Some(reshape_view)),
            all,
            shape::build_reshape,
        ),
        OpDef::new("squeeze", View(None), all, shape::build_reshape),
        OpDef::new(
            "broadcast_in_dim",
            View(Some(broadcast_view)),
            all,
            shape::build_broadcast_in_dim,
        ),
        OpDef::new("transpose", View(None), all, shape::build_transpose),
        OpDef::new("rev", View(None), all, shape::build_rev),
        OpDef::new("slice", View(None), all, shape::build_slice),
        OpDef::new(
            "bitcast_convert_type",
            View(None),
            all,
            shape::build_bitcast,
        ),
        OpDef::other("concatenate", all, shape::build_concatenate),
        OpDef::other("pad", all, shape::build_pad),
        OpDef::other("iota", num, iota::build_iota),
        OpDef::other("dynamic_slice", all, gather::build_dynamic_slice),
        OpDef::other(
            "dynamic_update_slice",
            all,
            gather::build_dynamic_update_slice,
        )
        .in_place(gather::build_dynamic_update_slice_in_place),
        OpDef::other("gather", all, gather::build_gather),
        OpDef::other("scatter", all, gather::build_scatter)
            .in_place(gather::build_scatter_in_place),
        OpDef::other("scatter-add", DTypes::NUMBER, gather::build_scatter)
            .in_place(gather::build_scatter_in_place),
        OpDef::other("scatter-mul", DTypes::NUMBER, gather::build_scatter)
            .in_place(gather::build_scatter_in_place),
        OpDef::other("scatter-min", num, gather::build_scatter)
            .in_place(gather::build_scatter_in_place),
        OpDef::other("scatter-max", num, gather::build_scatter)
            .in_place(gather::build_scatter_in_place),
        OpDef::other("sort", all, sort::build_sort),
        OpDef::other("top_k", num, sort::build_top_k),
        // -- linear algebra, random numbers
        OpDef::other("dot_general", DTypes::NUMBER, dot::build_dot_general),
        OpDef::other("conv_general_dilated", num, conv::build_conv),
        OpDef::other("cholesky", lin, linalg::build_cholesky),
        OpDef::other("lu", lin, linalg::build_lu),
        OpDef::other(
            "lu_pivots_to_permutation",
            DTypes::of(&[DType::I32]),
            linalg::build_lu_pivots_to_permutation,
        ),
        OpDef::other("qr", lin, linalg::build_qr),
        OpDef::other("eigh", lin, linalg::build_eigh),
        OpDef::other("svd", lin, linalg::build_svd),
        OpDef::other("eig", lin, linalg::build_eig),
        OpDef::other("hessenberg_q", lin, linalg::build_hessenberg),
        OpDef::other("schur", lin, linalg::build_schur),
        OpDef::other("triangular_solve", lin, linalg::build_triangular_solve),
        OpDef::other("tridiagonal_solve", lin, linalg::build_tridiagonal_solve),
        OpDef::other(
            "sturm_count",
            DTypes::of(&[DType::F32, DType::F64]),
            linalg::build_sturm_count,
        ),
        OpDef::other("fft", DTypes::INEXACT, fft::build_fft),
        OpDef::other(
            "threefry2x32",
            DTypes::of(&[DType::U32]),
            threefry::build_threefry,
        ),
        // -- control flow, collectives, host callbacks
        OpDef::new("cond", Control, all, control::build_cond).owned(control::build_cond_owned),
        OpDef::new("while", Control, all, control::build_while).owned(control::build_while_owned),
        OpDef::new("scan", Control, all, control::build_scan).owned(control::build_scan_owned),
        OpDef::new("psum", Collective, num, collective::build_psum),
        OpDef::new("pmax", Collective, num, collective::build_pmax),
        OpDef::new("pmin", Collective, num, collective::build_pmin),
        OpDef::new("all_gather", Collective, all, collective::build_all_gather),
        OpDef::new(
            "psum_scatter",
            Collective,
            num,
            collective::build_psum_scatter,
        ),
        OpDef::new("ppermute", Collective, all, collective::build_ppermute),
        OpDef::new(
            "axis_index",
            Collective,
            DTypes::NONE,
            collective::build_axis_index,
        ),
        OpDef {
            effects: Effects {
                host: true,
                effect: false,
            },
            ..OpDef::new("pure_callback", OpKind::Host, all, callback::build)
        },
        OpDef {
            effects: Effects {
                host: true,
                effect: true,
            },
            ..OpDef::new("debug_callback", OpKind::Host, all, callback::build)
        },
    ]
}

struct Table {
    ops: Vec<OpDef>,
    by_name: HashMap<&'static str, usize>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let ops = entries();
        let by_name = ops.iter().enumerate().map(|(i, d)| (d.name, i)).collect();
        Table { ops, by_name }
    })
}

/// Every entry, in table order.
pub fn ops() -> &'static [OpDef] {
    &table().ops
}

/// The entry of op `name`.
pub fn lookup(name: &str) -> Option<&'static OpDef> {
    let t = table();
    t.by_name.get(name).map(|&i| &t.ops[i])
}

/// Build the kernel for one instruction.
pub fn build(spec: &OpSpec) -> Result<Kernel> {
    match lookup(spec.name()) {
        Some(d) => (d.build)(spec),
        None => Err(Error::UnknownOp(spec.name().to_string())),
    }
}

/// The in-place form of one instruction's op, if it has one.
pub fn build_in_place(spec: &OpSpec) -> Result<Option<InPlace>> {
    match lookup(spec.name()).and_then(|d| d.in_place) {
        Some(b) => b(spec).map(Some),
        None => Ok(None),
    }
}

/// The owning form of one instruction's op, if it has one.
pub fn build_owned(spec: &OpSpec) -> Result<Option<OwnedKernel>> {
    match lookup(spec.name()).and_then(|d| d.owned) {
        Some(b) => b(spec).map(Some),
        None => Ok(None),
    }
}

/// The names of all ops, sorted.
pub fn supported_ops() -> Vec<&'static str> {
    let mut v: Vec<_> = ops().iter().map(|d| d.name).collect();
    v.sort();
    v
}

/// Whether the op (or a sub-program it carries) calls back into the host.
pub fn is_host_op(p: &Params) -> bool {
    lookup(&p.op).is_some_and(|d| d.effects.host)
        || control::sub_programs(p).iter().any(|e| e.has_host_calls())
}

/// Whether the op (or a sub-program it carries) has an effect.
pub fn has_effect(p: &Params) -> bool {
    lookup(&p.op).is_some_and(|d| d.effects.effect)
        || control::sub_programs(p).iter().any(|e| e.has_effects())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = ops().iter().map(|d| d.name).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
    }

    #[test]
    fn effects_are_named() {
        assert!(has_effect(&Params::new("debug_callback")));
        assert!(!has_effect(&Params::new("pure_callback")));
        assert!(is_host_op(&Params::new("pure_callback")));
        assert!(!is_host_op(&Params::new("add")));
    }
}
