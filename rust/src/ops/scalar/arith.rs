//! Elementwise ops that are short compositions of primitives: XLA's sign,
//! shifts and integer powers, rounding half away from zero, nextafter,
//! clamp, `select_n`'s steps, `pow` with an integer exponent.
use super::{Bits, Family, Float, FloatBits, Int, Mask, Num, Value};
use crate::base::dtype::DType;

type I64<V> = <<V as Value>::Fam as Family>::I64;
type U64<V> = <<V as Value>::Fam as Family>::U64;
type F64<V> = <<V as Value>::Fam as Family>::F64;
type I32<V> = <<V as Value>::Fam as Family>::I32;

/// -1, 0 or 1; NaN and ±0 are returned as they are.
#[inline(always)]
pub fn sign<T: Num>(x: T) -> T {
    let (z, one) = (T::zero(), T::one());
    T::select(x.gt(z), one, T::select(x.lt(z), z.sub(one), x))
}

/// `s` (read as unsigned) is at least the bit width.
#[inline(always)]
fn out_of_range<T: Int>(s: T) -> Mask<T> {
    s.lt(T::zero()).or(s.ge(T::c(T::BITS as i128)))
}

/// XLA's shift_left: amounts >= the width (as unsigned) give 0.
#[inline(always)]
pub fn shift_left<T: Int>(x: T, s: T) -> T {
    T::select(out_of_range(s), T::zero(), x.shl(s))
}

/// XLA's shift_right_logical: amounts >= the width (as unsigned) give 0.
#[inline(always)]
pub fn shift_right_logical<T: Int>(x: T, s: T) -> T {
    T::select(out_of_range(s), T::zero(), x.shr_logical(s))
}

/// XLA's shift_right_arithmetic: amounts >= the width (as unsigned) give
/// the sign fill; unsigned operands are shifted as signed.
#[inline(always)]
pub fn shift_right_arithmetic<T: Int>(x: T, s: T) -> T {
    let fill = x.shr_arith(T::c(T::BITS as i128 - 1));
    T::select(out_of_range(s), fill, x.shr_arith(s))
}

/// `x ** y` for a constant `y` by repeated squaring (XLA's integer_pow; for
/// y < 0, `1 / x ** -y`). The products are those of the loop
/// `acc *= base` (odd bits), `base *= base`.
#[inline(always)]
pub fn integer_pow<T: Num>(x: T, y: i64) -> T {
    let (mut acc, mut base, mut e) = (T::one(), x, y.unsigned_abs());
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
        T::one().div(acc)
    } else {
        acc
    }
}

/// `x ** y` for a float `x` and an integer array `y`: `y` becomes an i64
/// (through f64 for 64-bit `y`, clamped, as the kernels always did), then
/// repeated squaring over all its bits, picking the products with selects.
#[inline(always)]
pub fn pow_int<F: Float, Y: Int<Fam = F::Fam>>(x: F, y: Y) -> F {
    let b: I64<F> = if Y::BITS == 64 {
        let lo = F64::<F>::c(i64::MIN as f64);
        let hi = F64::<F>::c(-(i64::MIN as f64));
        y.cast::<F64<F>>().max(lo).min(hi).cast()
    } else {
        y.cast()
    };
    let neg = b.lt(I64::<F>::zero());
    let e: U64<F> = I64::<F>::select(neg, b.neg(), b).cast();
    let (zero, one) = (U64::<F>::zero(), U64::<F>::one());
    let (mut acc, mut base) = (F::one(), x);
    for k in 0..Y::BITS {
        let bit = e.shr_logical(U64::<F>::c(k as i128)).and(one).ne(zero);
        acc = F::select(bit, acc * base, acc);
        base = base * base;
    }
    F::select(neg, F::one() / acc, acc)
}

/// Round half away from zero (libm's `round`), over primitives: the
/// fraction `x - trunc(x)` is exact, and so is the step away from zero.
#[inline(always)]
pub fn round_away<F: Float>(x: F) -> F {
    let t = x.trunc();
    let sign_bit = F::Bits::one().shl(F::Bits::c(F::Bits::BITS as i128 - 1));
    let one = F::from_bits(F::one().to_bits().or(x.to_bits().and(sign_bit)));
    F::select((x - t).abs().ge(F::c(0.5)), t + one, t)
}

/// Neither NaN nor infinite.
#[inline(always)]
pub fn is_finite<F: Float>(x: F) -> Mask<F> {
    x.abs().lt(F::highest())
}

/// The canonical quiet NaN of a float format (what the kernels return).
fn nan_bits(d: DType) -> i128 {
    match d {
        DType::F16 => 0x7e00,
        DType::BF16 => 0x7fc0,
        DType::F32 => 0x7fc0_0000,
        _ => 0x7ff8_0000_0000_0000,
    }
}

/// The next representable value after `x` towards `o`, on the bits of the
/// format itself (f16 and bf16 included): NaN if either is NaN, `o` if they
/// are equal, the smallest subnormal with `o`'s sign after ±0.
#[inline(always)]
pub fn nextafter<F: FloatBits>(x: F, o: F) -> F {
    let (xb, ob) = (x.to_bits(), o.to_bits());
    let one = F::Bits::one();
    let sign = one.shl(F::Bits::c(F::Bits::BITS as i128 - 1));
    let zero = F::from_bits(F::Bits::zero());
    let tiny = F::from_bits(one.or(ob.and(sign)));
    let up = x.lt(o).eq(x.gt(zero));
    let step = F::from_bits(F::Bits::select(up, xb.add(one), xb.sub(one)));
    let nan = F::from_bits(F::Bits::c(nan_bits(F::DTYPE)));
    let r = F::select(x.eq(zero), tiny, step);
    let r = F::select(x.eq(o), o, r);
    F::select(x.ne(x).or(o.ne(o)), nan, r)
}

/// XLA's clamp: `min(max(x, lo), hi)`, NaN-propagating.
#[inline(always)]
pub fn clamp<T: Num>(lo: T, x: T, hi: T) -> T {
    x.max(lo).min(hi)
}

/// One step of `select_n`: the result so far `acc` becomes `case` (case
/// `k >= 1`) where the predicate picks a case `>= k`. A bool predicate
/// picks case 1 when true; an int32 one is clamped into the cases.
#[inline(always)]
pub fn select_n_step<P: Value, A: Value<Fam = P::Fam>>(p: P, k: u32, case: A, acc: A) -> A {
    let m: Mask<A> = if P::DTYPE == DType::Bool {
        if k == 1 {
            p.cast()
        } else {
            Mask::<A>::zeros()
        }
    } else {
        p.cast::<I32<P>>().ge(I32::<P>::c(k as i128))
    };
    A::select(m, case, acc)
}

/// max of bools is `or`, min is `and` (XLA's order on bool).
#[inline(always)]
pub fn bool_max<B: Bits>(x: B, y: B) -> B {
    x.or(y)
}

#[inline(always)]
pub fn bool_min<B: Bits>(x: B, y: B) -> B {
    x.and(y)
}
