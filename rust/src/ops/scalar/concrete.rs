//! The concrete evaluator: the plain types (`f32: Float` with `bool` masks
//! and `u32` bits, ...), so the generic definitions monomorphise to ordinary
//! scalar code (and, in a loop over a slice, to vector code).
//!
//! f16/bf16 get `Num` here too, computing each op in f32 and rounding: the
//! non-elementwise kernels (reductions, scatters, ...) use it on storage
//! values. The elementwise ops never do: they widen once per op.
use super::{sealed, Bits, Ext1, Ext2, Family, Float, FloatBits, Int, Num, Value};
use crate::base::dtype::{CastTo, DType, C128, C64};
use half::{bf16, f16};

/// The family of the plain Rust types.
#[derive(Clone, Copy, Debug)]
pub struct Concrete;

impl Family for Concrete {
    type Bool = bool;
    type I8 = i8;
    type I16 = i16;
    type I32 = i32;
    type I64 = i64;
    type U8 = u8;
    type U16 = u16;
    type U32 = u32;
    type U64 = u64;
    type F16 = f16;
    type BF16 = bf16;
    type F32 = f32;
    type F64 = f64;
}

/// Every storage type converts to every other (`base::dtype::CastTo`).
pub trait CastAll:
    CastTo<bool>
    + CastTo<i8>
    + CastTo<i16>
    + CastTo<i32>
    + CastTo<i64>
    + CastTo<u8>
    + CastTo<u16>
    + CastTo<u32>
    + CastTo<u64>
    + CastTo<f16>
    + CastTo<bf16>
    + CastTo<f32>
    + CastTo<f64>
    + CastTo<C64>
    + CastTo<C128>
{
}
impl<T> CastAll for T where
    T: CastTo<bool>
        + CastTo<i8>
        + CastTo<i16>
        + CastTo<i32>
        + CastTo<i64>
        + CastTo<u8>
        + CastTo<u16>
        + CastTo<u32>
        + CastTo<u64>
        + CastTo<f16>
        + CastTo<bf16>
        + CastTo<f32>
        + CastTo<f64>
        + CastTo<C64>
        + CastTo<C128>
{
}

/// `s` converted to `T` (`T::DTYPE` picks the `CastTo` impl; after
/// monomorphisation one arm remains).
#[inline(always)]
fn cast_to<S: CastAll, T: Value<Fam = Concrete>>(s: S) -> T {
    macro_rules! arms {
        ($($d:ident => $t:ty),*) => {$(
            if T::DTYPE == DType::$d {
                let r: $t = CastTo::<$t>::cast(s);
                // SAFETY: the concrete family is sealed: the value type
                // whose DTYPE is $d is $t itself.
                return unsafe { std::mem::transmute_copy::<$t, T>(&r) };
            }
        )*};
    }
    arms!(Bool => bool, I8 => i8, I16 => i16, I32 => i32, I64 => i64, U8 => u8, U16 => u16,
          U32 => u32, U64 => u64, F16 => f16, BF16 => bf16, F32 => f32, F64 => f64,
          C64 => C64, C128 => C128);
    unreachable!("every dtype has an arm above")
}

/// `Value` for a plain type with a total `PartialOrd` on non-NaN values.
/// `select` blends the bits with a mask: both operands are used, so a loop
/// over slices becomes a vector blend (written as `if m { a } else { b }`
/// over loaded values, LLVM may select the address and gather instead).
macro_rules! value_impl {
    ($($t:ty => $d:ident, $u:ty, $to:expr, $from:expr);*) => {$(
        impl sealed::Sealed for $t {}
        impl Value for $t {
            type Fam = Concrete;
            const DTYPE: DType = DType::$d;
            #[inline(always)]
            fn select(m: bool, a: Self, b: Self) -> Self {
                if m { a } else { b }
            }
            #[inline(always)] fn eq(self, o: Self) -> bool { self == o }
            #[inline(always)] fn ne(self, o: Self) -> bool { self != o }
            #[inline(always)] fn lt(self, o: Self) -> bool { self < o }
            #[inline(always)] fn le(self, o: Self) -> bool { self <= o }
            #[inline(always)] fn gt(self, o: Self) -> bool { self > o }
            #[inline(always)] fn ge(self, o: Self) -> bool { self >= o }
            #[inline(always)]
            fn cast<T: Value<Fam = Concrete>>(self) -> T {
                cast_to(self)
            }
        }
    )*};
}
value_impl!(
    bool => Bool, u8, |v: bool| v as u8, |v: u8| v != 0;
    i8 => I8, u8, |v: i8| v as u8, |v: u8| v as i8;
    i16 => I16, u16, |v: i16| v as u16, |v: u16| v as i16;
    i32 => I32, u32, |v: i32| v as u32, |v: u32| v as i32;
    i64 => I64, u64, |v: i64| v as u64, |v: u64| v as i64;
    u8 => U8, u8, |v: u8| v, |v: u8| v;
    u16 => U16, u16, |v: u16| v, |v: u16| v;
    u32 => U32, u32, |v: u32| v, |v: u32| v;
    u64 => U64, u64, |v: u64| v, |v: u64| v;
    f16 => F16, u16, f16::to_bits, f16::from_bits;
    bf16 => BF16, u16, bf16::to_bits, bf16::from_bits;
    f32 => F32, u32, f32::to_bits, f32::from_bits;
    f64 => F64, u64, f64::to_bits, f64::from_bits
);

impl Bits for bool {
    #[inline(always)]
    fn and(self, o: Self) -> Self {
        self & o
    }
    #[inline(always)]
    fn or(self, o: Self) -> Self {
        self | o
    }
    #[inline(always)]
    fn xor(self, o: Self) -> Self {
        self ^ o
    }
    #[inline(always)]
    fn not(self) -> Self {
        !self
    }
    #[inline(always)]
    fn zeros() -> Self {
        false
    }
    #[inline(always)]
    fn ones() -> Self {
        true
    }
}

macro_rules! int_impl {
    ($($t:ty, $u:ty, $s:ty);*) => {$(
        impl Bits for $t {
            #[inline(always)] fn and(self, o: Self) -> Self { self & o }
            #[inline(always)] fn or(self, o: Self) -> Self { self | o }
            #[inline(always)] fn xor(self, o: Self) -> Self { self ^ o }
            #[inline(always)] fn not(self) -> Self { !self }
            #[inline(always)] fn zeros() -> Self { 0 }
            #[inline(always)] fn ones() -> Self { !0 }
        }
        impl Num for $t {
            #[inline(always)] fn zero() -> Self { 0 }
            #[inline(always)] fn one() -> Self { 1 }
            #[inline(always)] fn lowest() -> Self { <$t>::MIN }
            #[inline(always)] fn highest() -> Self { <$t>::MAX }
            #[inline(always)] fn add(self, o: Self) -> Self { self.wrapping_add(o) }
            #[inline(always)] fn sub(self, o: Self) -> Self { self.wrapping_sub(o) }
            #[inline(always)] fn mul(self, o: Self) -> Self { self.wrapping_mul(o) }
            #[inline(always)] fn div(self, o: Self) -> Self {
                if o == 0 { !0 } else { self.wrapping_div(o) }
            }
            #[inline(always)] fn rem(self, o: Self) -> Self {
                if o == 0 { self } else { self.wrapping_rem(o) }
            }
            #[inline(always)] fn neg(self) -> Self { (0 as $t).wrapping_sub(self) }
            #[inline(always)] fn abs(self) -> Self {
                #[allow(unused_comparisons)]
                if self < 0 { (0 as $t).wrapping_sub(self) } else { self }
            }
            #[inline(always)] fn min(self, o: Self) -> Self { if self <= o { self } else { o } }
            #[inline(always)] fn max(self, o: Self) -> Self { if self >= o { self } else { o } }
        }
        impl Int for $t {
            const BITS: u32 = <$t>::BITS;
            #[allow(unused_comparisons)]
            const SIGNED: bool = <$t>::MIN < 0;
            #[inline(always)]
            fn c(v: i128) -> Self {
                debug_assert!(<$t>::try_from(v).is_ok(), "constant {v} out of range");
                v as $t
            }
            #[inline(always)] fn shl(self, s: Self) -> Self { self.wrapping_shl(s as u32) }
            #[inline(always)] fn shr_logical(self, s: Self) -> Self {
                (self as $u).wrapping_shr(s as u32) as $t
            }
            #[inline(always)] fn shr_arith(self, s: Self) -> Self {
                (self as $s).wrapping_shr(s as u32) as $t
            }
            #[inline(always)] fn popcount(self) -> Self { self.count_ones() as $t }
            #[inline(always)] fn clz(self) -> Self { self.leading_zeros() as $t }
        }
    )*};
}
int_impl!(i8, u8, i8; i16, u16, i16; i32, u32, i32; i64, u64, i64;
          u8, u8, i8; u16, u16, i16; u32, u32, i32; u64, u64, i64);

macro_rules! float_impl {
    ($($t:ty, $bits:ty);*) => {$(
        impl Num for $t {
            #[inline(always)] fn zero() -> Self { 0.0 }
            #[inline(always)] fn one() -> Self { 1.0 }
            #[inline(always)] fn lowest() -> Self { <$t>::NEG_INFINITY }
            #[inline(always)] fn highest() -> Self { <$t>::INFINITY }
            #[inline(always)] fn add(self, o: Self) -> Self { self + o }
            #[inline(always)] fn sub(self, o: Self) -> Self { self - o }
            #[inline(always)] fn mul(self, o: Self) -> Self { self * o }
            #[inline(always)] fn div(self, o: Self) -> Self { self / o }
            #[inline(always)] fn rem(self, o: Self) -> Self { self % o }
            #[inline(always)] fn neg(self) -> Self { -self }
            #[inline(always)] fn abs(self) -> Self { <$t>::abs(self) }
            #[inline(always)] fn min(self, o: Self) -> Self {
                if self.is_nan() || o.is_nan() { <$t>::NAN } else if self <= o { self } else { o }
            }
            #[inline(always)] fn max(self, o: Self) -> Self {
                if self.is_nan() || o.is_nan() { <$t>::NAN } else if self >= o { self } else { o }
            }
        }
        impl FloatBits for $t {
            type Bits = $bits;
            #[inline(always)] fn to_bits(self) -> $bits { <$t>::to_bits(self) }
            #[inline(always)] fn from_bits(b: $bits) -> Self { <$t>::from_bits(b) }
        }
    )*};
}
float_impl!(f32, u32; f64, u64);

impl Float for f32 {
    #[inline(always)]
    fn c(v: f64) -> Self {
        debug_assert!(v.is_nan() || (v as f32) as f64 == v, "{v} is not an f32");
        v as f32
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
    #[inline(always)]
    fn floor(self) -> Self {
        f32::floor(self)
    }
    #[inline(always)]
    fn ceil(self) -> Self {
        f32::ceil(self)
    }
    #[inline(always)]
    fn trunc(self) -> Self {
        f32::trunc(self)
    }
    #[inline(always)]
    fn round_even(self) -> Self {
        f32::round_ties_even(self)
    }
    #[inline(always)]
    fn ext1(self, f: Ext1) -> Self {
        use super::special::{digamma, erf_inv};
        let x = self;
        match f {
            Ext1::Exp => x.exp(),
            Ext1::Exp2 => x.exp2(),
            Ext1::Log => x.ln(),
            Ext1::Log1p => x.ln_1p(),
            Ext1::Expm1 => x.exp_m1(),
            Ext1::Tanh => x.tanh(),
            Ext1::Sin => x.sin(),
            Ext1::Cos => x.cos(),
            Ext1::Tan => x.tan(),
            Ext1::Asin => x.asin(),
            Ext1::Acos => x.acos(),
            Ext1::Atan => x.atan(),
            Ext1::Sinh => x.sinh(),
            Ext1::Cosh => x.cosh(),
            Ext1::Asinh => x.asinh(),
            Ext1::Acosh => x.acosh(),
            Ext1::Atanh => x.atanh(),
            Ext1::Cbrt => x.cbrt(),
            Ext1::Erf => libm::erff(x),
            Ext1::Erfc => libm::erfcf(x),
            Ext1::ErfInv => erf_inv(x as f64) as f32,
            Ext1::Lgamma => libm::lgamma(x as f64) as f32,
            Ext1::Digamma => digamma(x as f64) as f32,
        }
    }
    #[inline(always)]
    fn ext2(self, f: Ext2, o: Self) -> Self {
        match f {
            Ext2::Atan2 => self.atan2(o),
            Ext2::Pow => self.powf(o),
        }
    }
}

impl Float for f64 {
    #[inline(always)]
    fn c(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    #[inline(always)]
    fn floor(self) -> Self {
        f64::floor(self)
    }
    #[inline(always)]
    fn ceil(self) -> Self {
        f64::ceil(self)
    }
    #[inline(always)]
    fn trunc(self) -> Self {
        f64::trunc(self)
    }
    #[inline(always)]
    fn round_even(self) -> Self {
        f64::round_ties_even(self)
    }
    #[inline(always)]
    fn ext1(self, f: Ext1) -> Self {
        use super::special::{digamma, erf_inv};
        let x = self;
        match f {
            Ext1::Exp => x.exp(),
            Ext1::Exp2 => x.exp2(),
            Ext1::Log => x.ln(),
            Ext1::Log1p => x.ln_1p(),
            Ext1::Expm1 => x.exp_m1(),
            Ext1::Tanh => x.tanh(),
            Ext1::Sin => x.sin(),
            Ext1::Cos => x.cos(),
            Ext1::Tan => x.tan(),
            Ext1::Asin => x.asin(),
            Ext1::Acos => x.acos(),
            Ext1::Atan => x.atan(),
            Ext1::Sinh => x.sinh(),
            Ext1::Cosh => x.cosh(),
            Ext1::Asinh => x.asinh(),
            Ext1::Acosh => x.acosh(),
            Ext1::Atanh => x.atanh(),
            Ext1::Cbrt => x.cbrt(),
            Ext1::Erf => libm::erf(x),
            Ext1::Erfc => libm::erfc(x),
            Ext1::ErfInv => erf_inv(x),
            Ext1::Lgamma => libm::lgamma(x),
            Ext1::Digamma => digamma(x),
        }
    }
    #[inline(always)]
    fn ext2(self, f: Ext2, o: Self) -> Self {
        match f {
            Ext2::Atan2 => self.atan2(o),
            Ext2::Pow => self.powf(o),
        }
    }
}

macro_rules! half_impl {
    ($($t:ty),*) => {$(
        impl FloatBits for $t {
            type Bits = u16;
            #[inline(always)] fn to_bits(self) -> u16 { <$t>::to_bits(self) }
            #[inline(always)] fn from_bits(b: u16) -> Self { <$t>::from_bits(b) }
        }
        /// Storage arithmetic for the non-elementwise kernels: each op in
        /// f32, rounded once.
        impl Num for $t {
            #[inline(always)] fn zero() -> Self { <$t>::ZERO }
            #[inline(always)] fn one() -> Self { <$t>::ONE }
            #[inline(always)] fn lowest() -> Self { <$t>::NEG_INFINITY }
            #[inline(always)] fn highest() -> Self { <$t>::INFINITY }
            #[inline(always)] fn add(self, o: Self) -> Self { <$t>::from_f32(self.to_f32() + o.to_f32()) }
            #[inline(always)] fn sub(self, o: Self) -> Self { <$t>::from_f32(self.to_f32() - o.to_f32()) }
            #[inline(always)] fn mul(self, o: Self) -> Self { <$t>::from_f32(self.to_f32() * o.to_f32()) }
            #[inline(always)] fn div(self, o: Self) -> Self { <$t>::from_f32(self.to_f32() / o.to_f32()) }
            #[inline(always)] fn rem(self, o: Self) -> Self { <$t>::from_f32(self.to_f32() % o.to_f32()) }
            #[inline(always)] fn neg(self) -> Self { <$t>::from_f32(-self.to_f32()) }
            #[inline(always)] fn abs(self) -> Self { <$t>::from_f32(self.to_f32().abs()) }
            #[inline(always)] fn min(self, o: Self) -> Self { <$t>::from_f32(Num::min(self.to_f32(), o.to_f32())) }
            #[inline(always)] fn max(self, o: Self) -> Self { <$t>::from_f32(Num::max(self.to_f32(), o.to_f32())) }
        }
    )*};
}
half_impl!(f16, bf16);

/// A concrete value as raw bits (zero-extended), for constants of the
/// symbolic evaluator and its interpreter.
pub trait Raw: Value<Fam = Concrete> {
    fn to_raw(self) -> u64;
    fn from_raw(r: u64) -> Self;
}

macro_rules! raw_int {
    ($($t:ty, $u:ty);*) => {$(
        impl Raw for $t {
            #[inline(always)] fn to_raw(self) -> u64 { self as $u as u64 }
            #[inline(always)] fn from_raw(r: u64) -> Self { r as $u as $t }
        }
    )*};
}
raw_int!(i8, u8; i16, u16; i32, u32; i64, u64; u8, u8; u16, u16; u32, u32; u64, u64);

macro_rules! raw_float {
    ($($t:ty, $u:ty);*) => {$(
        impl Raw for $t {
            #[inline(always)] fn to_raw(self) -> u64 { self.to_bits() as u64 }
            #[inline(always)] fn from_raw(r: u64) -> Self { <$t>::from_bits(r as $u) }
        }
    )*};
}
raw_float!(f16, u16; bf16, u16; f32, u32; f64, u64);

impl Raw for bool {
    #[inline(always)]
    fn to_raw(self) -> u64 {
        self as u64
    }
    #[inline(always)]
    fn from_raw(r: u64) -> Self {
        r != 0
    }
}

/// `s`'s elements as `T`s, if `s` holds `T::DTYPE`.
#[inline(always)]
pub fn values<'a, T: Value<Fam = Concrete>>(s: crate::base::slice::Slice<'a>) -> Option<&'a [T]> {
    let (dtype, ptr, len) = s.raw_parts();
    // SAFETY: the concrete family is sealed: the value type with a given
    // DTYPE is the storage type of that dtype (same size and alignment),
    // and `raw_parts` describes a live slice of that type.
    (dtype == T::DTYPE).then(|| unsafe { std::slice::from_raw_parts(ptr as *const T, len) })
}

/// `s`'s elements as `T`s, if `s` holds `T::DTYPE`.
#[inline(always)]
pub fn values_mut<'a, T: Value<Fam = Concrete>>(
    s: crate::base::slice::SliceMut<'a>,
) -> Option<&'a mut [T]> {
    let (dtype, ptr, len) = s.raw_parts();
    // SAFETY: as in `values`; `s` was the only reference to the elements.
    (dtype == T::DTYPE).then(|| unsafe { std::slice::from_raw_parts_mut(ptr as *mut T, len) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_types_have_their_storage_layout() {
        fn check<T: Value<Fam = Concrete>>() {
            assert_eq!(std::mem::size_of::<T>(), T::DTYPE.itemsize());
            assert_eq!(std::mem::align_of::<T>(), T::DTYPE.itemsize());
        }
        check::<bool>();
        check::<i8>();
        check::<u16>();
        check::<i32>();
        check::<u64>();
        check::<f16>();
        check::<bf16>();
        check::<f32>();
        check::<f64>();
    }

    #[test]
    fn casts_follow_cast_to() {
        assert_eq!(Value::cast::<i8>(300i32), 44i8);
        assert_eq!(Value::cast::<i32>(f32::NAN), 0);
        assert_eq!(Value::cast::<u8>(-1.5f64), 0u8);
        assert!(Value::cast::<bool>(f32::NAN));
        assert_eq!(Value::cast::<f32>(f16::from_f32(0.5)), 0.5f32);
        assert_eq!(Value::cast::<f16>(1.0f32 + f32::EPSILON), f16::ONE);
    }

    #[test]
    fn integer_primitives() {
        assert_eq!(Num::div(7i32, 0), -1);
        assert_eq!(Num::div(i32::MIN, -1), i32::MIN);
        assert_eq!(Num::div(7u8, 0), 255);
        assert_eq!(Num::rem(i32::MIN, -1), 0);
        assert_eq!(Num::rem(7i32, 0), 7);
        assert_eq!(Int::shl(1i32, 33), 2); // the amount is taken mod 32
        assert_eq!(Int::shr_arith(0x80u8, 1), 0xc0);
        assert_eq!(Int::shr_logical(-8i32, 28), 15);
        assert_eq!(Num::abs(i8::MIN), i8::MIN);
    }

    #[test]
    fn float_min_max_propagate_nan_and_keep_the_first_of_equals() {
        assert!(Num::max(1.0f32, f32::NAN).is_nan());
        assert!(Num::min(f64::NAN, 1.0).is_nan());
        assert!(Num::max(-0.0f32, 0.0).is_sign_negative());
        assert!(Num::max(0.0f32, -0.0).is_sign_positive());
    }
}
