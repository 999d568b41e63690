//! Elementwise ops: how a table entry's scalar function (`ops::scalar`)
//! becomes code.
//!
//! An entry is a type implementing `Elem`: given the op's params and its
//! operand and result dtypes, it picks the dtypes' value types and hands the
//! monomorphic scalar function to a `Maker`. Two makers exist:
//! - `kernel::SliceMaker` makes a *slice kernel*: `f(&[Slice], SliceMut)`
//!   over operands that are slices or one-element splats. The eager kernel
//!   (`eager.rs`: parallel chunks, lax broadcasting) and the fused tile
//!   runner (`exec::fused`) call the same slice kernel, so fused and eager
//!   results are equal bit for bit by construction;
//! - `kernel::SymMaker` records the scalar function's DAG of primitives.
//!
//! f16/bf16 compute in f32: each op widens its operands, runs the f32
//! function, and rounds the result back once.
use crate::base::dtype::{Complex, DType};
use crate::base::error::{dtype_err, Error, Result};
use crate::base::params::Params;
use crate::ops::scalar::{arith, Bits, Family, Float, Int, Mask, Num, Value};
use std::marker::PhantomData;

pub mod eager;
pub mod kernel;

pub use kernel::{SliceKernel, SliceMaker, SymMaker};

/// How an op's operand and result dtypes follow from its dtype (the dtype
/// of its first operand, or, for `Select`, of its cases).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sig {
    /// `n` operands of the dtype; the result has the dtype.
    Same(usize),
    /// `n` operands of the dtype; the result is bool.
    Pred(usize),
    /// A bool or int32 predicate, then one or more cases of the dtype.
    Select,
    /// One operand of the dtype, converted to any dtype.
    Convert,
    /// A base of the dtype, then an exponent of the dtype or of any integer
    /// dtype.
    Pow,
    /// `n` operands of the dtype; the result is the dtype's real part
    /// (`abs`, `real`, `imag`: complex64 -> float32; a real dtype is its
    /// own).
    Real(usize),
    /// Two operands of a float dtype; the result is the complex dtype with
    /// those parts (`complex`).
    MakeComplex,
}

/// What a scalar function is turned into (a slice kernel, a DAG).
pub trait Maker<E: Family> {
    type Out;
    /// Whether it takes complex values (a pair of reals); the symbolic
    /// maker does not yet (a DAG node holds one real).
    const COMPLEX: bool = true;
    fn un<A: Value<Fam = E>, R: Value<Fam = E>>(
        self,
        f: impl Fn(A) -> R + Copy + Send + Sync + 'static,
    ) -> Self::Out;
    fn bin<A: Value<Fam = E>, B: Value<Fam = E>, R: Value<Fam = E>>(
        self,
        f: impl Fn(A, B) -> R + Copy + Send + Sync + 'static,
    ) -> Self::Out;
    fn ter<A: Value<Fam = E>, B: Value<Fam = E>, C: Value<Fam = E>, R: Value<Fam = E>>(
        self,
        f: impl Fn(A, B, C) -> R + Copy + Send + Sync + 'static,
    ) -> Self::Out;
    /// `un` over storage values: the operand (`S`) is cast to the compute
    /// type `C`, `f` gives `R`, which is cast to the result type `O` (f16 ops
    /// compute in f32 and round back; without conversions `S == C`, `R == O`).
    fn lift1<S: Value<Fam = E>, C: Value<Fam = E>, R: Value<Fam = E>, O: Value<Fam = E>>(
        self,
        f: impl Fn(C) -> R + Copy + Send + Sync + 'static,
    ) -> Self::Out
    where
        Self: Sized,
    {
        self.un(move |x: S| f(x.cast::<C>()).cast::<O>())
    }
    /// `lift1` with two operands of `S`.
    fn lift2<S: Value<Fam = E>, C: Value<Fam = E>, R: Value<Fam = E>, O: Value<Fam = E>>(
        self,
        f: impl Fn(C, C) -> R + Copy + Send + Sync + 'static,
    ) -> Self::Out
    where
        Self: Sized,
    {
        self.bin(move |x: S, y: S| f(x.cast::<C>(), y.cast::<C>()).cast::<O>())
    }
    /// `select_n`: operands `p, c0, .., c(n-1)`; the result starts as `c0`
    /// and `step(p, k, ck, acc)` folds in case `k` for `k = 1..n`.
    fn select_n<P: Value<Fam = E>, A: Value<Fam = E>>(
        self,
        n: usize,
        step: impl Fn(P, u32, A, A) -> A + Copy + Send + Sync + 'static,
    ) -> Self::Out;
}

/// An elementwise op: its scalar function at given dtypes, handed to `k`.
pub trait Elem: 'static {
    fn make<E: Family, K: Maker<E>>(p: &Params, ins: &[DType], out: DType, k: K) -> Result<K::Out>;
}

/// The slice kernel of op `Op` (the entry's `resolve`).
pub fn resolve<Op: Elem>(p: &Params, ins: &[DType], out: DType) -> Result<SliceKernel> {
    Op::make(p, ins, out, SliceMaker)
}

/// The DAG of op `Op`'s scalar function (the entry's `record`).
pub fn record<Op: Elem>(
    p: &Params,
    ins: &[DType],
    out: DType,
) -> Result<crate::ops::scalar::sym::Graph> {
    Op::make(p, ins, out, SymMaker)
}

/// `n` operands, each of dtype `d`, and a result of dtype `out`.
fn check(p: &Params, ins: &[DType], n: usize, d: DType, out: DType, got_out: DType) -> Result<()> {
    if ins.len() != n || ins.iter().any(|&x| x != d) || got_out != out {
        let ins: Vec<String> = ins.iter().map(|d| d.to_string()).collect();
        return Err(Error::Internal(format!(
            "{}: operands ({}) -> {} do not fit the op's signature",
            p.op,
            ins.join(", "),
            got_out
        )));
    }
    Ok(())
}

/// The first operand's dtype.
fn first(p: &Params, ins: &[DType]) -> Result<DType> {
    ins.first()
        .copied()
        .ok_or_else(|| Error::Internal(format!("{}: no operands", p.op)))
}

/// `match $dt` over a class of dtypes, calling `$m!($($args)*, Storage,
/// Compute)` with the family's associated type names (f16/bf16 compute in
/// F32); other dtypes are an unsupported-dtype error.
macro_rules! for_class {
    (@arms $dt:expr, $name:expr, $m:ident ! $args:tt; $($d:ident => $s:ident, $c:ident);*) => {
        match $dt {
            $( DType::$d => $m!($s, $c; $args), )*
            #[allow(unreachable_patterns)]
            d => Err(dtype_err($name, d)),
        }
    };
    (float, $dt:expr, $name:expr, $m:ident ! $args:tt) => {
        for_class!(@arms $dt, $name, $m ! $args;
            F16 => F16, F32; BF16 => BF16, F32; F32 => F32, F32; F64 => F64, F64)
    };
    (int, $dt:expr, $name:expr, $m:ident ! $args:tt) => {
        for_class!(@arms $dt, $name, $m ! $args;
            I8 => I8, I8; I16 => I16, I16; I32 => I32, I32; I64 => I64, I64;
            U8 => U8, U8; U16 => U16, U16; U32 => U32, U32; U64 => U64, U64)
    };
    (intbool, $dt:expr, $name:expr, $m:ident ! $args:tt) => {
        for_class!(@arms $dt, $name, $m ! $args; Bool => Bool, Bool;
            I8 => I8, I8; I16 => I16, I16; I32 => I32, I32; I64 => I64, I64;
            U8 => U8, U8; U16 => U16, U16; U32 => U32, U32; U64 => U64, U64)
    };
    (numeric, $dt:expr, $name:expr, $m:ident ! $args:tt) => {
        for_class!(@arms $dt, $name, $m ! $args;
            I8 => I8, I8; I16 => I16, I16; I32 => I32, I32; I64 => I64, I64;
            U8 => U8, U8; U16 => U16, U16; U32 => U32, U32; U64 => U64, U64;
            F16 => F16, F32; BF16 => BF16, F32; F32 => F32, F32; F64 => F64, F64)
    };
    (all, $dt:expr, $name:expr, $m:ident ! $args:tt) => {
        for_class!(@arms $dt, $name, $m ! $args; Bool => Bool, Bool;
            I8 => I8, I8; I16 => I16, I16; I32 => I32, I32; I64 => I64, I64;
            U8 => U8, U8; U16 => U16, U16; U32 => U32, U32; U64 => U64, U64;
            F16 => F16, F32; BF16 => BF16, F32; F32 => F32, F32; F64 => F64, F64)
    };
}

/// `$m!(P, $args)` with `P` the family's type of the parts of complex
/// dtype `$dt`.
macro_rules! for_complex {
    ($dt:expr, $name:expr, $E:ident, $m:ident ! $args:tt) => {
        match $dt {
            DType::C64 => $m!($E::F32; $args),
            DType::C128 => $m!($E::F64; $args),
            d => Err(dtype_err($name, d)),
        }
    };
}

/// `f` on the compute values, rounded back to the storage type.
macro_rules! un_lift {
    ($s:ident, $c:ident; ($k:expr, $E:ident, $f:path)) => {
        Ok($k.lift1::<$E::$s, $E::$c, $E::$c, $E::$s>(move |x: $E::$c| $f(x)))
    };
}
macro_rules! bin_lift {
    ($s:ident, $c:ident; ($k:expr, $E:ident, $f:path)) => {
        Ok($k.lift2::<$E::$s, $E::$c, $E::$c, $E::$s>(move |x: $E::$c, y: $E::$c| $f(x, y)))
    };
}
/// A comparison: compute values in, a mask out.
macro_rules! cmp_lift {
    ($s:ident, $c:ident; ($k:expr, $E:ident, $f:path)) => {
        Ok($k.lift2::<$E::$s, $E::$c, $E::Bool, $E::Bool>(move |x: $E::$c, y: $E::$c| $f(x, y)))
    };
}

/// A float function of one float (f16/bf16 via f32).
pub trait FloatFn: 'static {
    fn f<F: Float>(x: F) -> F;
}
/// A function of one number (f16/bf16 via f32).
pub trait NumFn: 'static {
    fn f<T: Num>(x: T) -> T;
}
/// A function of one integer.
pub trait IntFn: 'static {
    fn f<T: Int>(x: T) -> T;
}
/// A function of one bool or integer.
pub trait BitsFn: 'static {
    fn f<T: Bits>(x: T) -> T;
}
/// A float function of two floats (f16/bf16 via f32).
pub trait FloatFn2: 'static {
    fn f<F: Float>(x: F, y: F) -> F;
}
/// A function of two numbers (f16/bf16 via f32).
pub trait NumFn2: 'static {
    fn f<T: Num>(x: T, y: T) -> T;
}
/// A function of two integers.
pub trait IntFn2: 'static {
    fn f<T: Int>(x: T, y: T) -> T;
}
/// A function of two bools or integers.
pub trait BitsFn2: 'static {
    fn f<T: Bits>(x: T, y: T) -> T;
}
/// A comparison of two values of any type (f16/bf16 as f32).
pub trait CmpFn: 'static {
    fn f<T: Value>(x: T, y: T) -> Mask<T>;
}

/// The entry of an op with one of the function shapes above: the shape
/// (`FloatFn`, ...) and the dtype class come from the wrapper type.
pub struct Un<Op>(PhantomData<Op>);
pub struct Bin<Op>(PhantomData<Op>);

impl<Op: FloatFn> Elem for Un<(Op, FloatClass)> {
    fn make<E: Family, K: Maker<E>>(p: &Params, ins: &[DType], out: DType, k: K) -> Result<K::Out> {
        let d = first(p, ins)?;
        check(p, ins, 1, d, d, out)?;
        for_class!(float, d, &p.op, un_lift!(k, E, Op::f))
    }
}
impl<Op: NumFn> Elem for Un<(Op, NumClass)> {
    fn make<E: Family, K: Maker<E>>(p: &Params, ins: &[DType], out: DType, k: K) -> Result<K::Out> {
        let d = first(p, ins)?;
        check(p, ins, 1, d, d, out)?;
        for_class!(numeric, d, &p.op, un_lift!(k, E, Op::f))
    }
}
impl<Op: IntFn> Elem for Un<(Op, IntClass)> {
    fn make<E: Family, K: Maker<E>>(p: &Params, ins: &[DType], out: DType, k: K) -> Result<K::Out> {
        let d = first(p, ins)?;
        check(p, ins, 1, d, d, out)?;
        for_class!(int, d, &p.op, un_lift!(k, E, Op::f))
    }
}
impl<Op: BitsFn> Elem for Un<(Op, BitsClass)> {
    fn make<E: Family, K: Maker<E>>(p: &Params, ins: &[DType], out: DType, k: K) -> Result<K::Out> {
        let d = first(p, ins)?;
        check(p, ins, 1, d, d, out)?;
        for_class!(intbool, d, &p.op, un_lift!(k, E, Op::f))
    }
}
impl<Op: FloatFn2> Elem for Bin<(Op, FloatClass)> {
    fn make<E: Family, K: Maker<E>>(p: &Params, ins: &[DType], out: DType, k: K) -> Result<K::Out> {
        let d = first(p, ins)?;
        check(p, ins, 2, d, d, out)?;
        for_class!(float, d, &p.op, bin_lift!(k, E, Op::f))
    }
}
impl<Op: NumFn2> Elem for Bin<(Op, NumClass)> {
    fn make<E: Family, K: Maker<E>>(p: &Params, ins: &[DType], out: DType, k: K) -> Result<K::Out> {
        let d = first(p, ins)?;
        check(p, ins, 2, d, d, out)?;
        for_class!(numeric, d, &p.op, bin_lift!(k, E, Op::f))
    }
}
impl<Op: IntFn2> Elem for Bin<(Op, IntClass)> {
    fn make<E: Family, K: Maker<E>>(p: &Params, ins: &[DType], out: DType, k: K) -> Result<K::Out> {
        let d = first(p, ins)?;
        check(p, ins, 2, d, d, out)?;
        for_class!(int, d, &p.op, bin_lift!(k, E, Op::f))
    }
}
impl<Op: BitsFn2> Elem for Bin<(Op, BitsClass)> {
    fn make<E: Family, K: Maker<E>>(p: &Params, ins: &[DType], out: DType, k: K) -> Result<K::Out> {
        let d = first(p, ins)?;
        check(p, ins, 2, d, d, out)?;
        for_class!(intbool, d, &p.op, bin_lift!(k, E, Op::f))
    }
}
impl<Op: CmpFn> Elem for Bin<(Op, CmpClass)> {
    fn make<E: Family, K: Maker<E>>(p: &Params, ins: &[DType], out: DType, k: K) -> Result<K::Out> {
        let d = first(p, ins)?;
        check(p, ins, 2, d, DType::Bool, out)?;
        if d.is_complex() {
            complex_ok::<E, K>(p)?;
            macro_rules! arm {
                ($f:ty; ($k:expr)) => {
                    Ok($k.bin(move |x: Complex<$f>, y: Complex<$f>| Op::f(x, y)))
                };
            }
            return for_complex!(d, &p.op, E, arm!(k));
        }
        for_class!(all, d, &p.op, cmp_lift!(k, E, Op::f))
    }
}

/// A complex function of one complex value.
pub trait CxFn: 'static {
    fn f<F: Float>(z: Complex<F>) -> Complex<F>;
}
/// A complex function of two complex values.
pub trait CxFn2: 'static {
    fn f<F: Float>(z: Complex<F>, w: Complex<F>) -> Complex<F>;
}
/// A real function of one complex value (`abs`, `real`, `imag`).
pub trait CxRealFn: 'static {
    fn f<F: Float>(z: Complex<F>) -> F;
}

/// `Err` unless the maker takes complex values.
fn complex_ok<E: Family, K: Maker<E>>(p: &Params) -> Result<()> {
    if K::COMPLEX {
        Ok(())
    } else {
        Err(Error::Internal(format!(
            "{}: complex values are not recorded as DAGs yet",
            p.op
        )))
    }
}

impl<Op: CxFn> Elem for Un<(Op, CxClass)> {
    fn make<E: Family, K: Maker<E>>(p: &Params, ins: &[DType], out: DType, k: K) -> Result<K::Out> {
        let d = first(p, ins)?;
        check(p, ins, 1, d, d, out)?;
        complex_ok::<E, K>(p)?;
        macro_rules! arm {
            ($f:ty; ($k:expr)) => {
                Ok($k.un(move |z: Complex<$f>| Op::f(z)))
            };
        }
        for_complex!(d, &p.op, E, arm!(k))
    }
}
impl<Op: CxFn2> Elem for Bin<(Op, CxClass)> {
    fn make<E: Family, K: Maker<E>>(p: &Params, ins: &[DType], out: DType, k: K) -> Result<K::Out> {
        let d = first(p, ins)?;
        check(p, ins, 2, d, d, out)?;
        complex_ok::<E, K>(p)?;
        macro_rules! arm {
            ($f:ty; ($k:expr)) => {
                Ok($k.bin(move |z: Complex<$f>, w: Complex<$f>| Op::f(z, w)))
            };
        }
        for_complex!(d, &p.op, E, arm!(k))
    }
}
impl<Op: CxRealFn> Elem for Un<(Op, CxRealClass)> {
    fn make<E: Family, K: Maker<E>>(p: &Params, ins: &[DType], out: DType, k: K) -> Result<K::Out> {
        let d = first(p, ins)?;
        check(p, ins, 1, d, d.real_part(), out)?;
        complex_ok::<E, K>(p)?;
        macro_rules! arm {
            ($f:ty; ($k:expr)) => {
                Ok($k.un(move |z: Complex<$f>| Op::f(z)))
            };
        }
        for_complex!(d, &p.op, E, arm!(k))
    }
}

/// The entry of an op over real dtypes (`R`) and complex ones (`C`): the
/// first operand's dtype picks the definition.
pub struct OrComplex<R, C>(PhantomData<(R, C)>);
impl<R: Elem, C: Elem> Elem for OrComplex<R, C> {
    fn make<E: Family, K: Maker<E>>(p: &Params, ins: &[DType], out: DType, k: K) -> Result<K::Out> {
        if first(p, ins)?.is_complex() {
            C::make(p, ins, out, k)
        } else {
            R::make(p, ins, out, k)
        }
    }
}

/// complex(x, y) = x + iy: two floats of one dtype.
pub struct MakeComplex;
impl Elem for MakeComplex {
    fn make<E: Family, K: Maker<E>>(p: &Params, ins: &[DType], out: DType, k: K) -> Result<K::Out> {
        let d = first(p, ins)?;
        let c = d.complex_of().ok_or_else(|| dtype_err(&p.op, d))?;
        check(p, ins, 2, d, c, out)?;
        complex_ok::<E, K>(p)?;
        macro_rules! arm {
            ($f:ty; ($k:expr)) => {
                Ok($k.bin(move |x: $f, y: $f| Complex::new(x, y)))
            };
        }
        match d {
            DType::F32 => arm!(E::F32; (k)),
            DType::F64 => arm!(E::F64; (k)),
            d => Err(dtype_err(&p.op, d)),
        }
    }
}

/// Markers of the dtype classes (the second half of `Un<(Op, Class)>`).
pub struct CxClass;
pub struct CxRealClass;
pub struct FloatClass;
pub struct NumClass;
pub struct IntClass;
pub struct BitsClass;
pub struct CmpClass;

// ---------------------------------------------------------------------------
// Ops with params or mixed dtypes

/// round[rounding_method]: 0 rounds half away from zero, 1 half to even.
pub struct Round;
impl Elem for Round {
    fn make<E: Family, K: Maker<E>>(p: &Params, ins: &[DType], out: DType, k: K) -> Result<K::Out> {
        let d = first(p, ins)?;
        check(p, ins, 1, d, d, out)?;
        fn even<F: Float>(x: F) -> F {
            x.round_even()
        }
        match p.int("rounding_method")? {
            0 => for_class!(float, d, &p.op, un_lift!(k, E, arith::round_away)),
            1 => for_class!(float, d, &p.op, un_lift!(k, E, even)),
            m => Err(Error::BadParam {
                op: p.op.clone(),
                param: "rounding_method".into(),
                msg: format!("expected 0 or 1, got {m}"),
            }),
        }
    }
}

/// is_finite: float -> bool.
pub struct IsFinite;
impl Elem for IsFinite {
    fn make<E: Family, K: Maker<E>>(p: &Params, ins: &[DType], out: DType, k: K) -> Result<K::Out> {
        let d = first(p, ins)?;
        check(p, ins, 1, d, DType::Bool, out)?;
        macro_rules! arm {
            ($s:ident, $c:ident; ($k:expr, $E:ident)) => {
                Ok(
                    $k.lift1::<$E::$s, $E::$c, $E::Bool, $E::Bool>(move |x: $E::$c| {
                        arith::is_finite(x)
                    }),
                )
            };
        }
        for_class!(float, d, &p.op, arm!(k, E))
    }
}

/// integer_pow[y]: repeated squaring in the operand's dtype (ints wrap;
/// f16/bf16 via f32).
pub struct IntegerPow;
impl Elem for IntegerPow {
    fn make<E: Family, K: Maker<E>>(p: &Params, ins: &[DType], out: DType, k: K) -> Result<K::Out> {
        let d = first(p, ins)?;
        check(p, ins, 1, d, d, out)?;
        let y = p.int("y")?;
        if d.is_complex() {
            complex_ok::<E, K>(p)?;
            macro_rules! carm {
                ($f:ty; ($k:expr)) => {
                    Ok($k.un(move |z: Complex<$f>| crate::ops::scalar::complex::integer_pow(z, y)))
                };
            }
            return for_complex!(d, &p.op, E, carm!(k));
        }
        macro_rules! arm {
            ($s:ident, $c:ident; ($k:expr, $E:ident)) => {
                Ok(
                    $k.lift1::<$E::$s, $E::$c, $E::$c, $E::$s>(move |x: $E::$c| {
                        arith::integer_pow(x, y)
                    }),
                )
            };
        }
        for_class!(numeric, d, &p.op, arm!(k, E))
    }
}

/// nextafter: on the bits of the format itself (f16 and bf16 included).
pub struct NextAfter;
impl Elem for NextAfter {
    fn make<E: Family, K: Maker<E>>(p: &Params, ins: &[DType], out: DType, k: K) -> Result<K::Out> {
        let d = first(p, ins)?;
        check(p, ins, 2, d, d, out)?;
        macro_rules! arm {
            ($s:ident, $c:ident; ($k:expr, $E:ident)) => {
                Ok($k.bin(move |x: $E::$s, y: $E::$s| arith::nextafter(x, y)))
            };
        }
        for_class!(float, d, &p.op, arm!(k, E))
    }
}

/// max and min: NaN-propagating for floats; `or` and `and` for bool.
pub struct MaxMin<const MAX: bool>;
impl<const MAX: bool> Elem for MaxMin<MAX> {
    fn make<E: Family, K: Maker<E>>(p: &Params, ins: &[DType], out: DType, k: K) -> Result<K::Out> {
        let d = first(p, ins)?;
        check(p, ins, 2, d, d, out)?;
        if d == DType::Bool {
            return Ok(if MAX {
                k.bin(|x: E::Bool, y: E::Bool| arith::bool_max(x, y))
            } else {
                k.bin(|x: E::Bool, y: E::Bool| arith::bool_min(x, y))
            });
        }
        if d.is_complex() {
            // JAX's lexicographic `x > y ? x : y` (`Num for Complex`)
            complex_ok::<E, K>(p)?;
            check(p, ins, 2, d, d, out)?;
            return match (d, MAX) {
                (DType::C64, true) => Ok(k.bin(|x: Complex<E::F32>, y: Complex<E::F32>| x.max(y))),
                (DType::C64, false) => Ok(k.bin(|x: Complex<E::F32>, y: Complex<E::F32>| x.min(y))),
                (DType::C128, true) => Ok(k.bin(|x: Complex<E::F64>, y: Complex<E::F64>| x.max(y))),
                (_, _) => Ok(k.bin(|x: Complex<E::F64>, y: Complex<E::F64>| x.min(y))),
            };
        }
        fn max<T: Num>(x: T, y: T) -> T {
            x.max(y)
        }
        fn min<T: Num>(x: T, y: T) -> T {
            x.min(y)
        }
        if MAX {
            for_class!(numeric, d, &p.op, bin_lift!(k, E, max))
        } else {
            for_class!(numeric, d, &p.op, bin_lift!(k, E, min))
        }
    }
}

/// clamp(lo, x, hi): XLA's `min(max(x, lo), hi)` (f16/bf16 via f32).
pub struct Clamp;
impl Elem for Clamp {
    fn make<E: Family, K: Maker<E>>(p: &Params, ins: &[DType], out: DType, k: K) -> Result<K::Out> {
        let d = first(p, ins)?;
        check(p, ins, 3, d, d, out)?;
        macro_rules! arm {
            ($s:ident, $c:ident; ($k:expr, $E:ident)) => {
                Ok($k.ter(move |lo: $E::$s, x: $E::$s, hi: $E::$s| {
                    let r: $E::$c = arith::clamp(lo.cast(), x.cast(), hi.cast());
                    r.cast::<$E::$s>()
                }))
            };
        }
        for_class!(numeric, d, &p.op, arm!(k, E))
    }
}

/// convert_element_type: any dtype to any dtype (the `cast` primitive).
pub struct Convert;
impl Elem for Convert {
    fn make<E: Family, K: Maker<E>>(p: &Params, ins: &[DType], out: DType, k: K) -> Result<K::Out> {
        let d = first(p, ins)?;
        check(p, ins, 1, d, d, d)?;
        if d.is_complex() || out.is_complex() {
            complex_ok::<E, K>(p)?;
            return convert_complex::<E, K>(p, d, out, k);
        }
        macro_rules! to {
            ($s:ident, $c:ident; ($k:expr, $E:ident, $src:ident)) => {
                Ok($k.un(move |x: $E::$src| x.cast::<$E::$s>()))
            };
        }
        macro_rules! from {
            ($s:ident, $c:ident; ($k:expr, $E:ident, $out:expr, $name:expr)) => {
                for_class!(all, $out, $name, to!($k, $E, $s))
            };
        }
        for_class!(all, d, &p.op, from!(k, E, out, &p.op))
    }
}

/// `convert_element_type` from or to a complex dtype (`Value::cast`).
fn convert_complex<E: Family, K: Maker<E>>(
    p: &Params,
    d: DType,
    out: DType,
    k: K,
) -> Result<K::Out> {
    macro_rules! to {
        ($s:ident, $c:ident; ($k:expr, $E:ident, $src:ty)) => {
            Ok($k.un(move |x: $src| x.cast::<$E::$s>()))
        };
    }
    macro_rules! to_cx {
        ($f:ty; ($k:expr, $src:ty)) => {
            Ok($k.un(move |x: $src| x.cast::<Complex<$f>>()))
        };
    }
    macro_rules! from_cx {
        ($f:ty; ($k:expr, $E:ident, $out:expr, $name:expr)) => {
            if $out.is_complex() {
                for_complex!($out, $name, $E, to_cx!($k, Complex<$f>))
            } else {
                for_class!(all, $out, $name, to!($k, $E, Complex<$f>))
            }
        };
    }
    macro_rules! real_to_cx {
        ($s:ident, $c:ident; ($k:expr, $E:ident, $out:expr, $name:expr)) => {
            for_complex!($out, $name, $E, to_cx!($k, $E::$s))
        };
    }
    if d.is_complex() {
        for_complex!(d, &p.op, E, from_cx!(k, E, out, &p.op))
    } else {
        for_class!(all, d, &p.op, real_to_cx!(k, E, out, &p.op))
    }
}

/// select_n(p, c0, ..): a bool predicate picks c1 (true) or c0; an int32
/// one is clamped into the cases. The cases are moved bit for bit.
pub struct SelectN;
impl Elem for SelectN {
    fn make<E: Family, K: Maker<E>>(p: &Params, ins: &[DType], out: DType, k: K) -> Result<K::Out> {
        if ins.len() < 2 {
            return Err(Error::Internal(
                "select_n: needs a predicate and cases".into(),
            ));
        }
        check(p, &ins[1..], ins.len() - 1, out, out, out)?;
        let n = ins.len() - 1;
        macro_rules! arm {
            ($s:ident, $c:ident; ($k:expr, $E:ident, $P:ident)) => {
                Ok($k.select_n(n, |p: $E::$P, j: u32, c: $E::$s, acc: $E::$s| {
                    arith::select_n_step(p, j, c, acc)
                }))
            };
        }
        if out.is_complex() {
            complex_ok::<E, K>(p)?;
            macro_rules! carm {
                ($f:ty; ($k:expr, $P:ty)) => {
                    Ok(
                        $k.select_n(n, |p: $P, j: u32, c: Complex<$f>, acc: Complex<$f>| {
                            arith::select_n_step(p, j, c, acc)
                        }),
                    )
                };
            }
            return match ins[0] {
                DType::Bool => for_complex!(out, &p.op, E, carm!(k, E::Bool)),
                DType::I32 => for_complex!(out, &p.op, E, carm!(k, E::I32)),
                d => Err(dtype_err(&p.op, d)),
            };
        }
        match ins[0] {
            DType::Bool => for_class!(all, out, &p.op, arm!(k, E, Bool)),
            DType::I32 => for_class!(all, out, &p.op, arm!(k, E, I32)),
            d => Err(dtype_err(&p.op, d)),
        }
    }
}

/// pow: float ** float (same dtype), or float ** integer (any int dtype, by
/// repeated squaring over the exponent's bits). f16/bf16 via f32.
pub struct Pow;
impl Elem for Pow {
    fn make<E: Family, K: Maker<E>>(p: &Params, ins: &[DType], out: DType, k: K) -> Result<K::Out> {
        let d = first(p, ins)?;
        let y = match ins {
            [_, y] => *y,
            _ => return Err(Error::Internal("pow: expected two operands".into())),
        };
        check(p, &ins[..1], 1, d, d, out)?;
        fn powf<F: Float>(x: F, y: F) -> F {
            x.ext2(crate::ops::scalar::Ext2::Pow, y)
        }
        if d.is_complex() {
            complex_ok::<E, K>(p)?;
            if y.is_int() {
                // by repeated squaring over the exponent's bits, as for floats
                macro_rules! cexp {
                    ($ys:ident, $yc:ident; ($k:expr, $E:ident, $f:ty)) => {
                        Ok($k.bin(move |x: Complex<$f>, e: $E::$ys| {
                            crate::ops::scalar::complex::pow_int(x, e)
                        }))
                    };
                }
                macro_rules! cbase {
                    ($f:ty; ($k:expr, $E:ident, $y:expr)) => {
                        for_class!(int, $y, "pow", cexp!($k, $E, $f))
                    };
                }
                return for_complex!(d, &p.op, E, cbase!(k, E, y));
            }
            if y != d {
                return Err(dtype_err("pow", y));
            }
            macro_rules! carm {
                ($f:ty; ($k:expr)) => {
                    Ok($k.bin(move |x: Complex<$f>, w: Complex<$f>| {
                        crate::ops::scalar::complex::pow(x, w)
                    }))
                };
            }
            return for_complex!(d, &p.op, E, carm!(k));
        }
        if !y.is_int() {
            if y != d {
                return Err(dtype_err("pow", y));
            }
            return for_class!(float, d, &p.op, bin_lift!(k, E, powf));
        }
        macro_rules! exp_arm {
            ($ys:ident, $yc:ident; ($k:expr, $E:ident, $s:ident, $c:ident)) => {
                Ok($k.bin(move |x: $E::$s, e: $E::$ys| {
                    let r: $E::$c = arith::pow_int(x.cast::<$E::$c>(), e);
                    r.cast::<$E::$s>()
                }))
            };
        }
        macro_rules! base_arm {
            ($s:ident, $c:ident; ($k:expr, $E:ident, $y:expr)) => {
                for_class!(int, $y, "pow", exp_arm!($k, $E, $s, $c))
            };
        }
        for_class!(float, d, &p.op, base_arm!(k, E, y))
    }
}

#[cfg(test)]
pub mod testing;
#[cfg(test)]
mod tests;
