//! Scalar arithmetic with XLA's semantics, written once per kind of number.
//! Integers wrap; integer division truncates, x/0 gives -1 (all ones), and
//! MIN/-1 gives MIN, as XLA's CPU backend does. Floats follow IEEE.
use crate::base::dtype::Element;
use half::{bf16, f16};

pub trait Num: Element {
    const ZERO: Self;
    const ONE: Self;
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn div(self, o: Self) -> Self;
    fn rem(self, o: Self) -> Self;
    fn neg(self) -> Self;
    fn abs(self) -> Self;
    /// -1, 0 or 1 (NaN stays NaN for floats).
    fn sign(self) -> Self;
    /// Maximum that propagates NaN (as XLA's max does).
    fn max(self, o: Self) -> Self;
    fn min(self, o: Self) -> Self;
    /// Lowest and highest values (±inf for floats): identities of max/min.
    fn lowest() -> Self;
    fn highest() -> Self;
    fn is_nan(self) -> bool;
    /// `self ** y` by repeated squaring (as XLA's integer_pow); y < 0 gives
    /// `1 / self ** -y` (integers never see y < 0: Python rejects it).
    fn ipow(self, y: i64) -> Self {
        let (mut acc, mut base, mut e) = (Self::ONE, self, y.unsigned_abs());
        while e > 0 {
            if e & 1 == 1 {
                acc = acc.mul(base);
            }
            e >>= 1;
            if e > 0 {
                base = base.mul(base);
            }
        }
        if y < 0 {
            Self::ONE.div(acc)
        } else {
            acc
        }
    }
}

/// Bitwise logic on integers and bool.
pub trait Bits: Element {
    fn and(self, o: Self) -> Self;
    fn or(self, o: Self) -> Self;
    fn xor(self, o: Self) -> Self;
    fn not(self) -> Self;
}

/// Integer bit operations with XLA's semantics: the shift amount is read as
/// unsigned; amounts >= the bit width give 0 (or the sign fill for the
/// arithmetic right shift, which treats unsigned operands as signed).
pub trait Int: Num + Bits {
    fn popcount(self) -> Self;
    fn clz(self) -> Self;
    fn shl(self, s: Self) -> Self;
    fn shr_logical(self, s: Self) -> Self;
    fn shr_arithmetic(self, s: Self) -> Self;
}

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
}

macro_rules! int_bits {
    ($($t:ty, $u:ty, $s:ty);*) => {$(
        impl Bits for $t {
            #[inline(always)] fn and(self, o: Self) -> Self { self & o }
            #[inline(always)] fn or(self, o: Self) -> Self { self | o }
            #[inline(always)] fn xor(self, o: Self) -> Self { self ^ o }
            #[inline(always)] fn not(self) -> Self { !self }
        }
        impl Int for $t {
            #[inline(always)] fn popcount(self) -> Self { self.count_ones() as $t }
            #[inline(always)] fn clz(self) -> Self { self.leading_zeros() as $t }
            #[inline(always)] fn shl(self, s: Self) -> Self {
                let s = s as $u;
                if s >= <$t>::BITS as $u { 0 } else { self << s }
            }
            #[inline(always)] fn shr_logical(self, s: Self) -> Self {
                let s = s as $u;
                if s >= <$t>::BITS as $u { 0 } else { ((self as $u) >> s) as $t }
            }
            #[inline(always)] fn shr_arithmetic(self, s: Self) -> Self {
                let s = Ord::min(s as $u, <$t>::BITS as $u - 1);
                ((self as $s) >> s) as $t
            }
        }
    )*};
}
int_bits!(i8, u8, i8; i16, u16, i16; i32, u32, i32; i64, u64, i64;
          u8, u8, i8; u16, u16, i16; u32, u32, i32; u64, u64, i64);

macro_rules! num_int {
    ($($t:ty),*) => {$(
        impl Num for $t {
            const ZERO: Self = 0;
            const ONE: Self = 1;
            #[inline(always)] fn add(self, o: Self) -> Self { self.wrapping_add(o) }
            #[inline(always)] fn sub(self, o: Self) -> Self { self.wrapping_sub(o) }
            #[inline(always)] fn mul(self, o: Self) -> Self { self.wrapping_mul(o) }
            #[inline(always)] fn div(self, o: Self) -> Self {
                if o == 0 { (0 as $t).wrapping_sub(1) } else { self.wrapping_div(o) }
            }
            #[inline(always)] fn rem(self, o: Self) -> Self {
                if o == 0 { self } else { self.wrapping_rem(o) }
            }
            #[inline(always)] fn neg(self) -> Self { (0 as $t).wrapping_sub(self) }
            #[inline(always)] fn abs(self) -> Self {
                #[allow(unused_comparisons)]
                if self < 0 { self.neg() } else { self }
            }
            #[inline(always)] fn sign(self) -> Self {
                #[allow(unused_comparisons)]
                if self > 0 { 1 } else if self < 0 { (0 as $t).wrapping_sub(1) } else { 0 }
            }
            #[inline(always)] fn max(self, o: Self) -> Self { if self >= o { self } else { o } }
            #[inline(always)] fn min(self, o: Self) -> Self { if self <= o { self } else { o } }
            fn lowest() -> Self { <$t>::MIN }
            fn highest() -> Self { <$t>::MAX }
            #[inline(always)] fn is_nan(self) -> bool { false }
        }
    )*};
}
num_int!(i8, i16, i32, i64, u8, u16, u32, u64);

macro_rules! num_float {
    ($($t:ty),*) => {$(
        impl Num for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline(always)] fn add(self, o: Self) -> Self { self + o }
            #[inline(always)] fn sub(self, o: Self) -> Self { self - o }
            #[inline(always)] fn mul(self, o: Self) -> Self { self * o }
            #[inline(always)] fn div(self, o: Self) -> Self { self / o }
            #[inline(always)] fn rem(self, o: Self) -> Self { self % o }
            #[inline(always)] fn neg(self) -> Self { -self }
            #[inline(always)] fn abs(self) -> Self { self.abs() }
            #[inline(always)] fn sign(self) -> Self {
                if self > 0.0 { 1.0 } else if self < 0.0 { -1.0 } else { self }
            }
            #[inline(always)] fn max(self, o: Self) -> Self {
                if self.is_nan() || o.is_nan() { <$t>::NAN } else if self >= o { self } else { o }
            }
            #[inline(always)] fn min(self, o: Self) -> Self {
                if self.is_nan() || o.is_nan() { <$t>::NAN } else if self <= o { self } else { o }
            }
            fn lowest() -> Self { <$t>::NEG_INFINITY }
            fn highest() -> Self { <$t>::INFINITY }
            #[inline(always)] fn is_nan(self) -> bool { self.is_nan() }
        }
    )*};
}
num_float!(f32, f64);

macro_rules! num_half {
    ($($t:ty),*) => {$(
        impl Num for $t {
            const ZERO: Self = <$t>::ZERO;
            const ONE: Self = <$t>::ONE;
            #[inline(always)] fn add(self, o: Self) -> Self { <$t>::from_f32(self.to_f32() + o.to_f32()) }
            #[inline(always)] fn sub(self, o: Self) -> Self { <$t>::from_f32(self.to_f32() - o.to_f32()) }
            #[inline(always)] fn mul(self, o: Self) -> Self { <$t>::from_f32(self.to_f32() * o.to_f32()) }
            #[inline(always)] fn div(self, o: Self) -> Self { <$t>::from_f32(self.to_f32() / o.to_f32()) }
            #[inline(always)] fn rem(self, o: Self) -> Self { <$t>::from_f32(self.to_f32() % o.to_f32()) }
            #[inline(always)] fn neg(self) -> Self { -self }
            #[inline(always)] fn abs(self) -> Self { <$t>::from_f32(self.to_f32().abs()) }
            #[inline(always)] fn sign(self) -> Self { <$t>::from_f32(Num::sign(self.to_f32())) }
            #[inline(always)] fn max(self, o: Self) -> Self { <$t>::from_f32(Num::max(self.to_f32(), o.to_f32())) }
            #[inline(always)] fn min(self, o: Self) -> Self { <$t>::from_f32(Num::min(self.to_f32(), o.to_f32())) }
            fn lowest() -> Self { <$t>::NEG_INFINITY }
            fn highest() -> Self { <$t>::INFINITY }
            #[inline(always)] fn is_nan(self) -> bool { self.is_nan() }
        }
    )*};
}
num_half!(f16, bf16);
