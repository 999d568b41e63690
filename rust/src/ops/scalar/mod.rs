//! The scalar layer: every elementwise op's scalar function, defined once,
//! generic over an *evaluator*: a `Family` of value types with a fixed set
//! of primitive operations. Two families exist:
//!
//! - `Concrete` (`concrete.rs`): the plain types (`f32`, `i8`, `bool`, ...).
//!   The generic definitions monomorphise to ordinary scalar code, which the
//!   slice kernels (`ops::elementwise`) run for eager and fused execution;
//! - `Symbolic` (`sym.rs`): values that record a DAG of primitive-op nodes,
//!   with a small reference interpreter. It is what code generators (LLVM IR,
//!   WGSL) walk: they render the primitives below and nothing else, and a
//!   test checks that the recorded DAG of every op equals the concrete code.
//!
//! A definition can only use the primitives (it sees the traits, not the
//! types), and it cannot branch on a value (a comparison gives a mask, which
//! only `select` consumes): it computes candidate results and selects.
//!
//! # Value types
//! `bool`, `i8`..`i64`, `u8`..`u64`, `f32`, `f64`, and the storage-only
//! floats `f16`/`bf16` (select, comparisons, conversions and bit casts; the
//! ops widen them to `f32`, compute, and round back once per op). Masks are
//! the family's `bool` values.
//!
//! # The primitives and their semantics
//! Constants:
//! - `Int::c(v)`, `Float::c(v)`: `v` must be exactly representable in the
//!   type (checked in debug builds); other bit patterns via `from_bits`.
//!
//! Every type (`Value`):
//! - `select(m, a, b)`: `a` where `m`, else `b`, bit for bit.
//! - `eq ne lt le gt ge` -> mask. Integers compare by value (with the
//!   type's signedness); floats by IEEE 754 (NaN is unordered: only `ne` is
//!   true; `-0 == +0`); f16/bf16 as their exact f32 values; `false < true`.
//! - `cast::<T>()`: NumPy/XLA `astype` (`base::dtype::CastTo`): integers
//!   wrap (truncate or sign/zero-extend the two's complement); floats to
//!   integers truncate toward zero and saturate, NaN gives 0; anything to
//!   bool is `!= 0` (NaN is true), bool is 0 or 1; integers to floats and
//!   floats to narrower floats round to nearest even (int64/uint64 to
//!   f16/bf16 round through f64, and f16/bf16 convert through f32, which is
//!   exact); widening float conversions are exact.
//!
//! Bits (`bool` and the integers):
//! - `and or xor not`: bitwise (logical on bool); `zeros()`, `ones()`.
//!
//! Arithmetic (`Num`: the integers, f32, f64; on concrete f16/bf16, used by
//! the non-elementwise kernels, each op computes in f32 and rounds):
//! - `add sub mul`: integers wrap; floats are IEEE 754 with round to nearest
//!   even, never contracted into a fused multiply-add.
//! - `div`: floats IEEE. Integers truncate toward zero; `x / 0` is -1 (all
//!   ones, `MAX` for unsigned types) and `MIN / -1` is `MIN`, as XLA's CPU
//!   backend does.
//! - `rem`: floats: exact `fmod` (the sign of `x`). Integers: the sign of
//!   `x`; `x % 0` is `x`, `MIN % -1` is 0.
//! - `neg`, `abs`: integers wrap (`abs(MIN) == MIN`, unsigned `abs` is the
//!   identity); floats flip or clear the sign bit (NaNs too).
//! - `min max`: integers by value; floats: the canonical NaN if either
//!   operand is NaN, otherwise the smaller / larger; of equal operands
//!   (`-0`, `+0`) the first.
//! - `zero() one() lowest() highest()`: 0, 1, and the identities of max and
//!   min (`MIN`/`MAX`; `-inf`/`+inf` for floats).
//!
//! Integers (`Int`):
//! - `shl shr_logical shr_arith(x, s)`: the amount `s` is taken modulo the
//!   bit width (only its low log2(width) bits count); callers that need
//!   another rule select around it (XLA's shifts do, in `arith.rs`).
//!   `shr_logical` shifts in zeros; `shr_arith` copies the sign bit of the
//!   signed reading, for unsigned types too.
//! - `popcount clz`: the number of set bits / of leading zero bits.
//!
//! Float bits (`FloatBits`: f16, bf16, f32, f64):
//! - `to_bits from_bits`: reinterpret as the unsigned integer of the same
//!   width.
//!
//! Floats (`Float`: f32, f64):
//! - `sqrt`: correctly rounded. `floor ceil trunc round_even`: round to an
//!   integral value in the float type (ties to even for `round_even`);
//!   NaN, ±inf and ±0 are kept.
//! - `ext1 ext2`: an *extern call*: a function with no decomposition yet,
//!   computed by the platform math library; `Ext1`/`Ext2` list each one and
//!   its exact definition. Renderers call their target's equivalent.
//!
//! Everything else (exp, log, tanh, sin, erf, the Bessel functions,
//! rounding half away from zero, nextafter, XLA's shifts, integer powers...)
//! is defined over these, in `defs.rs`, `fastmath.rs` and `bessel.rs`.
use crate::base::dtype::DType;
use std::ops::{Add, Div, Mul, Neg, Sub};

pub mod arith;
pub mod bessel;
pub mod complex;
pub mod concrete;
pub mod defs;
pub mod fastmath;
pub mod special;
pub mod sym;

pub use concrete::Concrete;
pub use sym::Symbolic;

/// An evaluator: one value type per dtype, closed under the primitives.
pub trait Family: Sized + Copy + 'static {
    type Bool: Bits + Value<Fam = Self>;
    type I8: Int<Fam = Self>;
    type I16: Int<Fam = Self>;
    type I32: Int<Fam = Self>;
    type I64: Int<Fam = Self>;
    type U8: Int<Fam = Self>;
    type U16: Int<Fam = Self>;
    type U32: Int<Fam = Self>;
    type U64: Int<Fam = Self>;
    type F16: FloatBits<Fam = Self, Bits = Self::U16>;
    type BF16: FloatBits<Fam = Self, Bits = Self::U16>;
    type F32: Float<Fam = Self, Bits = Self::U32>;
    type F64: Float<Fam = Self, Bits = Self::U64>;
}

/// The mask type of a value type: its family's bool.
pub type Mask<V> = <<V as Value>::Fam as Family>::Bool;

mod sealed {
    /// Only the two families' types implement `Value` (casts rely on it).
    pub trait Sealed {}
}

/// Every value type: selection, comparisons and conversions.
pub trait Value: Copy + Send + Sync + 'static + sealed::Sealed {
    type Fam: Family;
    const DTYPE: DType;
    /// `a` where `m`, else `b`.
    fn select(m: Mask<Self>, a: Self, b: Self) -> Self;
    fn eq(self, o: Self) -> Mask<Self>;
    fn ne(self, o: Self) -> Mask<Self>;
    fn lt(self, o: Self) -> Mask<Self>;
    fn le(self, o: Self) -> Mask<Self>;
    fn gt(self, o: Self) -> Mask<Self>;
    fn ge(self, o: Self) -> Mask<Self>;
    /// Conversion with `astype` semantics (see the module docs).
    fn cast<T: Value<Fam = Self::Fam>>(self) -> T;
}

/// Bitwise logic: bool (logical) and the integers.
pub trait Bits: Value {
    fn and(self, o: Self) -> Self;
    fn or(self, o: Self) -> Self;
    fn xor(self, o: Self) -> Self;
    fn not(self) -> Self;
    fn zeros() -> Self;
    fn ones() -> Self;
}

/// Arithmetic of the integers and floats.
pub trait Num: Value {
    fn zero() -> Self;
    fn one() -> Self;
    /// The identity of `max` (`MIN`, or -inf).
    fn lowest() -> Self;
    /// The identity of `min` (`MAX`, or +inf).
    fn highest() -> Self;
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn div(self, o: Self) -> Self;
    fn rem(self, o: Self) -> Self;
    fn neg(self) -> Self;
    fn abs(self) -> Self;
    fn min(self, o: Self) -> Self;
    fn max(self, o: Self) -> Self;
}

/// The integers.
pub trait Int: Num + Bits {
    const BITS: u32;
    const SIGNED: bool;
    /// A constant; `v` must be representable.
    fn c(v: i128) -> Self;
    fn shl(self, s: Self) -> Self;
    fn shr_logical(self, s: Self) -> Self;
    fn shr_arith(self, s: Self) -> Self;
    fn popcount(self) -> Self;
    fn clz(self) -> Self;
}

/// Floats as bits (f16 and bf16 included).
pub trait FloatBits: Value {
    /// The unsigned integer of the same width.
    type Bits: Int<Fam = Self::Fam>;
    fn to_bits(self) -> Self::Bits;
    fn from_bits(b: Self::Bits) -> Self;
}

/// The compute floats, f32 and f64. Operators are the IEEE ops of `Num`.
pub trait Float:
    Num
    + FloatBits
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// A constant; `v` must be exactly representable.
    fn c(v: f64) -> Self;
    fn sqrt(self) -> Self;
    fn floor(self) -> Self;
    fn ceil(self) -> Self;
    fn trunc(self) -> Self;
    fn round_even(self) -> Self;
    fn ext1(self, f: Ext1) -> Self;
    fn ext2(self, f: Ext2, o: Self) -> Self;
    /// `self != self` (a derived helper, not a primitive).
    #[inline(always)]
    fn is_nan(self) -> Mask<Self> {
        self.ne(self)
    }
}

/// One-argument extern calls. f64 calls the platform math library (Rust's
/// std, which calls the system libm, or the `libm` crate where noted); f32
/// calls the f32 function where std has one, else the f64 one and rounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ext1 {
    /// e^x (f64 only: f32 has a decomposition).
    Exp,
    /// 2^x.
    Exp2,
    /// ln x (f64 only).
    Log,
    /// ln(1 + x) (f64 only).
    Log1p,
    /// e^x - 1 (f64 only).
    Expm1,
    /// tanh (f64 only).
    Tanh,
    /// sin (f64 only).
    Sin,
    /// cos (f64 only).
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Asinh,
    Acosh,
    Atanh,
    Cbrt,
    /// erf (`libm::erf`; f64 only).
    Erf,
    /// erfc (`libm::erfc`, `libm::erfcf`).
    Erfc,
    /// The inverse error function (`special::erf_inv`, in f64 for both).
    ErfInv,
    /// ln |Gamma(x)| (`libm::lgamma`, in f64 for both).
    Lgamma,
    /// digamma (`special::digamma`, in f64 for both).
    Digamma,
}

/// Two-argument extern calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ext2 {
    /// atan2(y = self, x = o).
    Atan2,
    /// self ** o (`powf`).
    Pow,
}
