//! Element types. `DType` names a dtype with NumPy's names; `Element` is the
//! trait every storage type implements; the `dispatch_*!` macros turn a runtime
//! `DType` into a monomorphised generic call, so each kernel is written once.
use half::{bf16, f16};
use std::fmt;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    Bool,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    F16,
    BF16,
    F32,
    F64,
    C64,
    C128,
}

impl DType {
    pub const ALL: [DType; 15] = [
        DType::Bool,
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::U8,
        DType::U16,
        DType::U32,
        DType::U64,
        DType::F16,
        DType::BF16,
        DType::F32,
        DType::F64,
        DType::C64,
        DType::C128,
    ];

    pub fn from_name(name: &str) -> Option<DType> {
        Some(match name {
            "bool" => DType::Bool,
            "int8" => DType::I8,
            "int16" => DType::I16,
            "int32" => DType::I32,
            "int64" => DType::I64,
            "uint8" => DType::U8,
            "uint16" => DType::U16,
            "uint32" => DType::U32,
            "uint64" => DType::U64,
            "float16" => DType::F16,
            "bfloat16" => DType::BF16,
            "float32" => DType::F32,
            "float64" => DType::F64,
            "complex64" => DType::C64,
            "complex128" => DType::C128,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::I8 => "int8",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::U8 => "uint8",
            DType::U16 => "uint16",
            DType::U32 => "uint32",
            DType::U64 => "uint64",
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::C64 => "complex64",
            DType::C128 => "complex128",
        }
    }

    pub fn itemsize(self) -> usize {
        match self {
            DType::Bool | DType::I8 | DType::U8 => 1,
            DType::I16 | DType::U16 | DType::F16 | DType::BF16 => 2,
            DType::I32 | DType::U32 | DType::F32 => 4,
            DType::I64 | DType::U64 | DType::F64 | DType::C64 => 8,
            DType::C128 => 16,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, DType::F16 | DType::BF16 | DType::F32 | DType::F64)
    }
    pub fn is_signed_int(self) -> bool {
        matches!(self, DType::I8 | DType::I16 | DType::I32 | DType::I64)
    }
    pub fn is_unsigned_int(self) -> bool {
        matches!(self, DType::U8 | DType::U16 | DType::U32 | DType::U64)
    }
    pub fn is_int(self) -> bool {
        self.is_signed_int() || self.is_unsigned_int()
    }
    pub const fn is_complex(self) -> bool {
        matches!(self, DType::C64 | DType::C128)
    }
    /// The dtype of a complex dtype's parts (float32, float64); a real
    /// dtype is its own.
    pub const fn real_part(self) -> DType {
        match self {
            DType::C64 => DType::F32,
            DType::C128 => DType::F64,
            d => d,
        }
    }
    /// The complex dtype whose parts are `self` (f32, f64), if any.
    pub const fn complex_of(self) -> Option<DType> {
        match self {
            DType::F32 => Some(DType::C64),
            DType::F64 => Some(DType::C128),
            _ => None,
        }
    }
}

/// A set of dtypes (what an op accepts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DTypes(u16);

impl DTypes {
    pub const NONE: DTypes = DTypes(0);
    pub const ALL: DTypes = DTypes((1 << 15) - 1);
    pub const COMPLEX: DTypes = DTypes::of(&[DType::C64, DType::C128]);
    /// The floats and the complex dtypes.
    pub const INEXACT: DTypes = DTypes(DTypes::FLOAT.0 | DTypes::COMPLEX.0);
    pub const FLOAT: DTypes = DTypes::of(&[DType::F16, DType::BF16, DType::F32, DType::F64]);
    pub const INT: DTypes = DTypes::of(&[
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::U8,
        DType::U16,
        DType::U32,
        DType::U64,
    ]);
    /// The real numbers (the integers and the floats).
    pub const NUMERIC: DTypes = DTypes(DTypes::INT.0 | DTypes::FLOAT.0);
    /// The numbers, complex included.
    pub const NUMBER: DTypes = DTypes(DTypes::NUMERIC.0 | DTypes::COMPLEX.0);
    pub const INTBOOL: DTypes = DTypes(DTypes::INT.0 | 1 << DType::Bool as u16);

    pub const fn of(ds: &[DType]) -> DTypes {
        let mut m = 0u16;
        let mut i = 0;
        while i < ds.len() {
            m |= 1 << ds[i] as u16;
            i += 1;
        }
        DTypes(m)
    }
    pub const fn contains(self, d: DType) -> bool {
        self.0 & (1 << d as u16) != 0
    }
    pub const fn union(self, o: DTypes) -> DTypes {
        DTypes(self.0 | o.0)
    }
    /// The dtypes of the set, in `DType::ALL` order.
    pub fn iter(self) -> impl Iterator<Item = DType> {
        DType::ALL.into_iter().filter(move |&d| self.contains(d))
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A type that can live in a `Buffer`.
///
/// # Safety
/// Implementors must be plain old data whose every bit pattern that the
/// core writes is valid (`bool` is only ever written as 0 or 1).
pub unsafe trait Element:
    Copy + Send + Sync + 'static + Default + PartialEq + PartialOrd + fmt::Debug
{
    const DTYPE: DType;
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
}

macro_rules! impl_element_prim {
    ($($t:ty => $d:ident),*) => {$(
        // SAFETY: a primitive integer or float: every bit pattern is valid.
        unsafe impl Element for $t {
            const DTYPE: DType = DType::$d;
            #[inline(always)] fn to_f64(self) -> f64 { self as f64 }
            #[inline(always)] fn from_f64(v: f64) -> Self { v as $t }
        }
    )*};
}
impl_element_prim!(i8 => I8, i16 => I16, i32 => I32, i64 => I64, u8 => U8, u16 => U16,
                   u32 => U32, u64 => U64, f32 => F32, f64 => F64);

// SAFETY: only 0 and 1 are valid bools; every byte that enters a bool buffer
// (NumPy, DLPack, checkpoints, callbacks, reinterpreting views) is normalised
// to 0/1, and every kernel writes `bool` values.
unsafe impl Element for bool {
    const DTYPE: DType = DType::Bool;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as u8 as f64
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v != 0.0
    }
}
// SAFETY: `f16` is a `u16` newtype: every bit pattern is a valid value.
unsafe impl Element for f16 {
    const DTYPE: DType = DType::F16;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self.to_f64()
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        f16::from_f64(v)
    }
}
// SAFETY: `bf16` is a `u16` newtype: every bit pattern is a valid value.
unsafe impl Element for bf16 {
    const DTYPE: DType = DType::BF16;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self.to_f64()
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        bf16::from_f64(v)
    }
}

/// A complex number: its real and imaginary parts, in this order (NumPy's
/// and C's layout, so a complex buffer is interleaved pairs of reals).
/// Ordered lexicographically (real part first), as NumPy sorts complex.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq, PartialOrd)]
pub struct Complex<T> {
    pub re: T,
    pub im: T,
}

impl<T> Complex<T> {
    #[inline(always)]
    pub const fn new(re: T, im: T) -> Complex<T> {
        Complex { re, im }
    }
}

/// complex64 and complex128.
pub type C64 = Complex<f32>;
pub type C128 = Complex<f64>;

// SAFETY: `#[repr(C)]` pair of f32: every bit pattern is a valid value.
unsafe impl Element for C64 {
    const DTYPE: DType = DType::C64;
    /// The real part.
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self.re as f64
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        Complex::new(v as f32, 0.0)
    }
}
// SAFETY: `#[repr(C)]` pair of f64: every bit pattern is a valid value.
unsafe impl Element for C128 {
    const DTYPE: DType = DType::C128;
    /// The real part.
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self.re
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        Complex::new(v, 0.0)
    }
}

/// Exact conversion with NumPy/XLA `astype` semantics: integers wrap, floats
/// to integers truncate toward zero and saturate (NaN -> 0), to bool is `!= 0`.
pub trait CastTo<U> {
    fn cast(self) -> U;
}

macro_rules! impl_cast_prim_to {
    ($src:ident; $($dst:ty),*) => {$(
        impl CastTo<$dst> for $src { #[inline(always)] fn cast(self) -> $dst { self as $dst } }
    )*
        impl CastTo<bool> for $src { #[inline(always)] fn cast(self) -> bool { self != (0 as $src) } }
        impl CastTo<f16> for $src { #[inline(always)] fn cast(self) -> f16 { to_half!($src, f16, self) } }
        impl CastTo<bf16> for $src { #[inline(always)] fn cast(self) -> bf16 { to_half!($src, bf16, self) } }
    };
}

/// f32 rounds to f16/bf16 directly (`from_f32`, round to nearest even);
/// other types go through f64 (`from_f64`).
macro_rules! to_half {
    (f32, $h:ty, $v:expr) => {
        <$h>::from_f32($v)
    };
    ($src:ty, $h:ty, $v:expr) => {
        <$h>::from_f64($v as f64)
    };
}
macro_rules! impl_cast_prims {
    ($($src:ident),*) => {$( impl_cast_prim_to!($src; i8, i16, i32, i64, u8, u16, u32, u64, f32, f64); )*};
}
impl_cast_prims!(i8, i16, i32, i64, u8, u16, u32, u64, f64);
impl_cast_prim_to!(f32; i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);

macro_rules! impl_cast_from_special {
    ($src:ty, $via:ty, $conv:expr; $($dst:ty),*) => {$(
        impl CastTo<$dst> for $src { #[inline(always)] fn cast(self) -> $dst { let v: $via = $conv(self); v as $dst } }
    )*};
}
impl_cast_from_special!(bool, u8, |b: bool| b as u8; i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);
impl_cast_from_special!(f16, f32, |h: f16| h.to_f32(); i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);
impl_cast_from_special!(bf16, f32, |h: bf16| h.to_f32(); i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);
impl CastTo<bool> for bool {
    fn cast(self) -> bool {
        self
    }
}
impl CastTo<f16> for bool {
    fn cast(self) -> f16 {
        f16::from_f32(self as u8 as f32)
    }
}
impl CastTo<bf16> for bool {
    fn cast(self) -> bf16 {
        bf16::from_f32(self as u8 as f32)
    }
}
impl CastTo<bool> for f16 {
    fn cast(self) -> bool {
        self.to_f32() != 0.0
    }
}
impl CastTo<bool> for bf16 {
    fn cast(self) -> bool {
        self.to_f32() != 0.0
    }
}
impl CastTo<f16> for f16 {
    fn cast(self) -> f16 {
        self
    }
}
impl CastTo<bf16> for bf16 {
    fn cast(self) -> bf16 {
        self
    }
}
impl CastTo<bf16> for f16 {
    fn cast(self) -> bf16 {
        bf16::from_f32(self.to_f32())
    }
}
impl CastTo<f16> for bf16 {
    fn cast(self) -> f16 {
        f16::from_f32(self.to_f32())
    }
}

// Complex conversions: a real converts to (x, 0) through the part's float;
// a complex converts to a real as its real part (NumPy's `astype` with
// ComplexWarning, XLA's convert), to bool as `re != 0 || im != 0`.
macro_rules! impl_cast_real_complex {
    ($($src:ty),*) => {$(
        impl CastTo<C64> for $src {
            #[inline(always)] fn cast(self) -> C64 { Complex::new(CastTo::<f32>::cast(self), 0.0) }
        }
        impl CastTo<C128> for $src {
            #[inline(always)] fn cast(self) -> C128 { Complex::new(CastTo::<f64>::cast(self), 0.0) }
        }
    )*};
}
impl_cast_real_complex!(bool, i8, i16, i32, i64, u8, u16, u32, u64, f16, bf16, f32, f64);
macro_rules! impl_cast_complex_real {
    ($c:ty, $part:ty; $($dst:ty),*) => {$(
        impl CastTo<$dst> for $c {
            #[inline(always)] fn cast(self) -> $dst { CastTo::<$dst>::cast(self.re) }
        }
    )*
        impl CastTo<bool> for $c {
            #[inline(always)] fn cast(self) -> bool { self.re != 0.0 || self.im != 0.0 }
        }
        impl CastTo<C64> for $c {
            #[inline(always)] fn cast(self) -> C64 { Complex::new(self.re as f32, self.im as f32) }
        }
        impl CastTo<C128> for $c {
            #[inline(always)] fn cast(self) -> C128 { Complex::new(self.re as f64, self.im as f64) }
        }
    };
}
impl_cast_complex_real!(C64, f32; i8, i16, i32, i64, u8, u16, u32, u64, f16, bf16, f32, f64);
impl_cast_complex_real!(C128, f64; i8, i16, i32, i64, u8, u16, u32, u64, f16, bf16, f32, f64);

/// `dispatch_dtype!(dtype, T => expr, [allowed kinds])` binds the type alias `T`
/// to the Rust type of `dtype` and evaluates `expr`.  Kinds: `all`, `numeric`
/// (no bool), `float`, `int` (signed and unsigned), `intbool`, `complex`;
/// `all` and `number` (numeric and complex) include the complex dtypes,
/// `numeric` does not.
/// Returns `Err(UnsupportedDType)` for a dtype outside the kind.
#[macro_export]
macro_rules! dispatch_dtype {
    ($dt:expr, $op:expr, $T:ident => $body:expr, all) => {
        $crate::dispatch_dtype!(@arms $dt, $op, $T => $body;
            Bool => bool, I8 => i8, I16 => i16, I32 => i32, I64 => i64, U8 => u8, U16 => u16,
            U32 => u32, U64 => u64, F16 => half::f16, BF16 => half::bf16, F32 => f32, F64 => f64,
            C64 => $crate::base::dtype::C64, C128 => $crate::base::dtype::C128)
    };
    ($dt:expr, $op:expr, $T:ident => $body:expr, number) => {
        $crate::dispatch_dtype!(@arms $dt, $op, $T => $body;
            I8 => i8, I16 => i16, I32 => i32, I64 => i64, U8 => u8, U16 => u16,
            U32 => u32, U64 => u64, F16 => half::f16, BF16 => half::bf16, F32 => f32, F64 => f64,
            C64 => $crate::base::dtype::C64, C128 => $crate::base::dtype::C128)
    };
    ($dt:expr, $op:expr, $T:ident => $body:expr, complex) => {
        $crate::dispatch_dtype!(@arms $dt, $op, $T => $body;
            C64 => $crate::base::dtype::C64, C128 => $crate::base::dtype::C128)
    };
    ($dt:expr, $op:expr, $T:ident => $body:expr, numeric) => {
        $crate::dispatch_dtype!(@arms $dt, $op, $T => $body;
            I8 => i8, I16 => i16, I32 => i32, I64 => i64, U8 => u8, U16 => u16,
            U32 => u32, U64 => u64, F16 => half::f16, BF16 => half::bf16, F32 => f32, F64 => f64)
    };
    ($dt:expr, $op:expr, $T:ident => $body:expr, float) => {
        $crate::dispatch_dtype!(@arms $dt, $op, $T => $body;
            F16 => half::f16, BF16 => half::bf16, F32 => f32, F64 => f64)
    };
    ($dt:expr, $op:expr, $T:ident => $body:expr, int) => {
        $crate::dispatch_dtype!(@arms $dt, $op, $T => $body;
            I8 => i8, I16 => i16, I32 => i32, I64 => i64, U8 => u8, U16 => u16, U32 => u32, U64 => u64)
    };
    ($dt:expr, $op:expr, $T:ident => $body:expr, intbool) => {
        $crate::dispatch_dtype!(@arms $dt, $op, $T => $body;
            Bool => bool, I8 => i8, I16 => i16, I32 => i32, I64 => i64, U8 => u8, U16 => u16,
            U32 => u32, U64 => u64)
    };
    (@arms $dt:expr, $op:expr, $T:ident => $body:expr; $($v:ident => $t:ty),*) => {{
        #[allow(unreachable_patterns)]
        match $dt {
            $( $crate::base::dtype::DType::$v => { #[allow(dead_code)] type $T = $t; $body } )*
            other => Err($crate::base::error::dtype_err($op, other)),
        }
    }};
}
