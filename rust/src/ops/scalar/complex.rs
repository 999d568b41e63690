//! Complex numbers in the scalar layer: a complex value is a pair of reals
//! (`base::dtype::Complex<F>` over a family's `F32` or `F64`), and every
//! complex function below is written over the real primitives, so it runs
//! in any family that the real definitions run in.
//!
//! `Complex<F>` is a `Value` of its family (dtype complex64 for f32 parts,
//! complex128 for f64): `select` picks both parts, `eq` is both parts
//! equal, `ne` either part different, the orderings are lexicographic (real
//! part first, NumPy's order), and `cast` to a real type takes the real
//! part (to bool: either part nonzero), as XLA's convert does.
//!
//! The formulas are the ones that give JAX's numbers (JAX 0.10.2 on XLA's
//! CPU backend), special values included: XLA's elemental formulas (`mul`
//! the plain product, `div` Smith's algorithm with XLA's recovery of the
//! C99 results, `abs`, `sign`, `expm1`, `tanh`/`tan`, `rsqrt`'s special
//! values, `pow`, `log1p`), StableHLO's CHLO decompositions (`exp`, `sqrt`,
//! `square`, `sinh`, `cosh`, and Hull, Fairgrieve and Tang's
//! `asin`/`acos`/`asinh`/`acosh` kernel, `atanh`/`atan`), and JAX's own
//! decompositions (`sin`, `cos`, `exp2`).
//! Where XLA's formula loses digits on ordinary values (`rsqrt` near the
//! negative real axis, `sinh`/`cosh` with a tiny real part) the accurate
//! formula runs there and XLA's only at the special values.
//!
//! The residual differences from JAX (tests/test_complex_special_values.py
//! lists each): XLA's CPU backend contracts `a*b - c*d` into fused
//! multiply-adds, so a product whose partial products overflow (complex64
//! `(1e30 + 1i) * (1e30 + inf i)`) gives `-inf` there and NaN here, and
//! Smith's quotient can differ in its last bits; the real `sin`/`cos` of
//! huge arguments (complex64 `pow` with an exponent of 1e30) come from a
//! different libm, so their values differ; and XLA's own `exp`/`log`
//! polynomials differ from the platform's by an ulp, which cancellation in
//! `log` near |z| = 1 and in `sinh`/`cosh`/`expm1` can magnify.
use super::{defs, sealed, Bits, Ext1, Ext2, Family, Float, Mask, Num, Value};
use crate::base::dtype::{Complex, DType};

impl<F: Float> sealed::Sealed for Complex<F> {}

/// The complex dtype whose parts are `d`.
const fn complex_dtype(d: DType) -> DType {
    match d.complex_of() {
        Some(c) => c,
        // only f32 and f64 implement `Float`
        None => DType::C64,
    }
}

impl<F: Float> Value for Complex<F> {
    type Fam = F::Fam;
    const DTYPE: DType = complex_dtype(F::DTYPE);
    #[inline(always)]
    fn select(m: Mask<Self>, a: Self, b: Self) -> Self {
        Complex::new(F::select(m, a.re, b.re), F::select(m, a.im, b.im))
    }
    #[inline(always)]
    fn eq(self, o: Self) -> Mask<Self> {
        self.re.eq(o.re).and(self.im.eq(o.im))
    }
    #[inline(always)]
    fn ne(self, o: Self) -> Mask<Self> {
        self.re.ne(o.re).or(self.im.ne(o.im))
    }
    #[inline(always)]
    fn lt(self, o: Self) -> Mask<Self> {
        self.re.lt(o.re).or(self.re.eq(o.re).and(self.im.lt(o.im)))
    }
    #[inline(always)]
    fn le(self, o: Self) -> Mask<Self> {
        self.re.lt(o.re).or(self.re.eq(o.re).and(self.im.le(o.im)))
    }
    #[inline(always)]
    fn gt(self, o: Self) -> Mask<Self> {
        o.lt(self)
    }
    #[inline(always)]
    fn ge(self, o: Self) -> Mask<Self> {
        o.le(self)
    }
    #[inline(always)]
    fn cast<T: Value<Fam = Self::Fam>>(self) -> T {
        type P32<F> = <<F as Value>::Fam as Family>::F32;
        type P64<F> = <<F as Value>::Fam as Family>::F64;
        match T::DTYPE {
            DType::C64 => {
                let c: Complex<P32<F>> = Complex::new(self.re.cast(), self.im.cast());
                // SAFETY: the families are sealed: the value type of
                // complex64 in a family is `Complex` of the family's F32.
                unsafe { std::mem::transmute_copy(&c) }
            }
            DType::C128 => {
                let c: Complex<P64<F>> = Complex::new(self.re.cast(), self.im.cast());
                // SAFETY: as above, with F64.
                unsafe { std::mem::transmute_copy(&c) }
            }
            DType::Bool => {
                let z = F::zero();
                self.re.ne(z).or(self.im.ne(z)).cast::<T>()
            }
            _ => self.re.cast::<T>(),
        }
    }
}

/// A real value `x` (any type of the family) as a complex value `(x, 0)`
/// of the complex type `T` (complex64 or complex128): the `cast` of a real
/// type to a complex one, for the families' real `Value` impls.
#[inline(always)]
pub fn real_to_complex<V: Value, T: Value<Fam = V::Fam>>(x: V) -> T {
    type P32<V> = <<V as Value>::Fam as Family>::F32;
    type P64<V> = <<V as Value>::Fam as Family>::F64;
    if T::DTYPE == DType::C64 {
        let re: P32<V> = x.cast();
        let c = Complex::new(re, P32::<V>::zero());
        // SAFETY: as in `Complex::cast`.
        unsafe { std::mem::transmute_copy(&c) }
    } else {
        let re: P64<V> = x.cast();
        let c = Complex::new(re, P64::<V>::zero());
        // SAFETY: as in `Complex::cast`.
        unsafe { std::mem::transmute_copy(&c) }
    }
}

/// The ring operations for the kernels that are generic over `Num`
/// (sums, products, scans, scatters, dot): `add sub mul div neg` are the
/// complex ones; `abs` is `(|z|, 0)`, `min`/`max` and `lowest`/`highest`
/// order lexicographically, `rem` is per part. The elementwise ops never
/// use these through `Num` (their complex definitions are below).
impl<F: Float> Num for Complex<F> {
    #[inline(always)]
    fn zero() -> Self {
        Complex::new(F::zero(), F::zero())
    }
    #[inline(always)]
    fn one() -> Self {
        Complex::new(F::one(), F::zero())
    }
    #[inline(always)]
    fn lowest() -> Self {
        Complex::new(F::lowest(), F::lowest())
    }
    #[inline(always)]
    fn highest() -> Self {
        Complex::new(F::highest(), F::highest())
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        Complex::new(self.re + o.re, self.im + o.im)
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        Complex::new(self.re - o.re, self.im - o.im)
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        Complex::new(
            self.re * o.re - self.im * o.im,
            self.re * o.im + self.im * o.re,
        )
    }
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        self.cdiv(o)
    }
    #[inline(always)]
    fn rem(self, o: Self) -> Self {
        Complex::new(self.re.rem(o.re), self.im.rem(o.im))
    }
    #[inline(always)]
    fn neg(self) -> Self {
        Complex::new(-self.re, -self.im)
    }
    #[inline(always)]
    fn abs(self) -> Self {
        Complex::new(abs(self), F::zero())
    }
    /// JAX's lexicographic min: `self < o ? self : o` (so `o` where the
    /// two are unordered, a NaN part, or equal).
    #[inline(always)]
    fn min(self, o: Self) -> Self {
        Complex::select(self.lt(o), self, o)
    }
    /// JAX's lexicographic max: `self > o ? self : o`.
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        Complex::select(self.gt(o), self, o)
    }
}

/// Complex arithmetic over the parts' primitives.
impl<F: Float> Complex<F> {
    #[inline(always)]
    pub fn conj(self) -> Self {
        Complex::new(self.re, -self.im)
    }
    /// `self * x` for a real `x`.
    #[inline(always)]
    pub fn scale(self, x: F) -> Self {
        Complex::new(self.re * x, self.im * x)
    }
    /// Smith's algorithm, as XLA's CPU backend computes it (the same
    /// operations in the same order), with its recovery of the C99 results
    /// where Smith's gives NaN in both parts: a zero divisor (`inf` with the
    /// sign of the divisor's real part, times each part), an infinite
    /// dividend over a finite divisor, and a finite dividend over an
    /// infinite divisor (signed zeros).
    #[inline(always)]
    pub fn cdiv(self, o: Self) -> Self {
        let (ar, ai, br, bi) = (self.re, self.im, o.re, o.im);
        let (zero, one, inf) = (F::zero(), F::one(), F::highest());
        let rr = br / bi;
        let rden = bi + rr * br;
        let ir = bi / br;
        let iden = br + ir * bi;
        let (bra, bia) = (br.abs(), bi.abs());
        let lt = bra.lt(bia);
        let cr = F::select(lt, (rr * ar + ai) / rden, (ir * ai + ar) / iden);
        let ci = F::select(lt, (rr * ai - ar) / rden, (ai - ir * ar) / iden);
        // 1. a zero divisor (unless both dividend parts are NaN)
        let zden = bra
            .eq(zero)
            .and(bia.eq(zero))
            .and(ar.is_nan().not().or(ai.is_nan().not()));
        let sinf = copysign(inf, br);
        let zres = Complex::new(sinf * ar, sinf * ai);
        // 2. an infinite dividend, a finite divisor
        let finite = |x: F| x.abs().lt(inf);
        let (ara, aia) = (ar.abs(), ai.abs());
        let (ari, aii) = (ara.eq(inf), aia.eq(inf));
        let inf_num = ari.or(aii).and(finite(br)).and(finite(bi));
        let ars = copysign(F::select(ari, one, zero), ar);
        let ais = copysign(F::select(aii, one, zero), ai);
        let ires = Complex::new(inf * (ars * br + ais * bi), inf * (ais * br - ars * bi));
        // 3. a finite dividend, an infinite divisor
        let (bri, bii) = (bra.eq(inf), bia.eq(inf));
        let inf_den = bri.or(bii).and(finite(ar)).and(finite(ai));
        let brs = copysign(F::select(bri, one, zero), br);
        let bis = copysign(F::select(bii, one, zero), bi);
        let fres = Complex::new(zero * (ar * brs + ai * bis), zero * (ai * brs - ar * bis));
        let r = Complex::new(cr, ci);
        let fix = Complex::select(
            zden,
            zres,
            Complex::select(inf_num, ires, Complex::select(inf_den, fres, r)),
        );
        Complex::select(cr.is_nan().and(ci.is_nan()), fix, r)
    }
    /// Whether both parts are finite.
    #[inline(always)]
    pub fn is_finite(self) -> Mask<F> {
        super::arith::is_finite(self.re).and(super::arith::is_finite(self.im))
    }
}

/// |z| without overflow or underflow, as XLA computes it: `m sqrt(1 +
/// (n/m)^2)` with `m` the larger part (NaN-propagating max and min); where
/// that is NaN (both parts 0 or infinite, or a NaN part) the smaller part,
/// so `|inf + nan i|` is NaN, as in JAX.
#[inline(always)]
pub fn abs<F: Float>(z: Complex<F>) -> F {
    let (x, y) = (z.re.abs(), z.im.abs());
    let m = x.max(y);
    let n = x.min(y);
    let r = n / m;
    let h = m * (F::one() + r * r).sqrt();
    F::select(h.is_nan(), n, h)
}

/// `|x|` with the sign of `s`.
#[inline(always)]
fn copysign<F: Float>(x: F, s: F) -> F {
    F::select(neg_zero(s), -x.abs(), x.abs())
}

/// arg z: atan2(im, re).
#[inline(always)]
pub fn arg<F: Float>(z: Complex<F>) -> F {
    z.im.ext2(Ext2::Atan2, z.re)
}

/// z / |z|; a zero stays itself (signs of its parts included), as XLA.
#[inline(always)]
pub fn sign<F: Float>(z: Complex<F>) -> Complex<F> {
    let a = abs(z);
    let s = Complex::new(z.re / a, z.im / a);
    Complex::select(a.eq(F::zero()), z, s)
}

/// e^z = e^re (cos im + i sin im), as StableHLO's decomposition: where
/// e^re overflows, `(e^(re/2) cos im) e^(re/2)` (finite where the product
/// is), and a zero imaginary part gives +0.
#[inline(always)]
pub fn exp<F: Float>(z: Complex<F>) -> Complex<F> {
    let (x, y) = (z.re, z.im);
    let e = defs::exp(x);
    let big = e.eq(F::highest());
    let e2 = defs::exp(x * F::c(0.5));
    let (cs, sn) = (defs::cos(y), defs::sin(y));
    Complex::new(
        F::select(big, e2 * cs * e2, e * cs),
        F::select(
            y.eq(F::zero()),
            F::zero(),
            F::select(big, e2 * sn * e2, e * sn),
        ),
    )
}

/// cos x - 1 without cancellation: `-2 sin^2(x/2)`, +0 at x = 0.
#[inline(always)]
fn cosm1<F: Float>(x: F) -> F {
    let h = defs::sin(x * F::c(0.5));
    F::select(x.eq(F::zero()), F::zero(), -(F::c(2.0) * h * h))
}

/// e^z - 1 = `expm1(a) cos b + cosm1(b) + i e^a sin b` (XLA's formula; a
/// zero imaginary part gives +0).
#[inline(always)]
pub fn expm1<F: Float>(z: Complex<F>) -> Complex<F> {
    let (a, b) = (z.re, z.im);
    let em = defs::expm1(a);
    let cm = cosm1(b);
    let re = em * (cm + F::one()) + cm;
    let im = (em + F::one()) * defs::sin(b);
    Complex::new(re, F::select(b.eq(F::zero()), F::zero(), im))
}

/// ln z = ln|z| + i arg z.
#[inline(always)]
pub fn log<F: Float>(z: Complex<F>) -> Complex<F> {
    Complex::new(defs::log(abs(z)), arg(z))
}

/// ln(1 + z), XLA's formula: `log1p(a)` (or `ln max` where `|b| > 1 + a`)
/// `+ log1p((min/max)^2) / 2` over `max`, `min` of `|1 + a|`, `|b|`
/// (NaN-propagating), and `atan2(b, 1 + a)`.
#[inline(always)]
pub fn log1p<F: Float>(z: Complex<F>) -> Complex<F> {
    let (x, y) = (z.re, z.im);
    let one = F::one();
    let xp1 = x + one;
    let ay = y.abs();
    let axp1 = xp1.abs();
    let (mx, mn) = (axp1.max(ay), axp1.min(ay));
    let r = mn / mx;
    let big = F::select(xp1.ge(ay), defs::log1p(x), defs::log(mx));
    let re = big + F::c(0.5) * defs::log1p(F::select(mn.eq(mx), one, r * r));
    Complex::new(re, y.ext2(Ext2::Atan2, xp1))
}

/// `hypot(mx, mn)` for `mx = max`, `mn = min` of two magnitudes, as
/// StableHLO's decompositions write it (exact at `mx == mn`, the first order
/// term where `1 + r` rounds to 1).
#[inline(always)]
fn hypot_mx_mn<F: Float>(mx: F, mn: F) -> F {
    let q = mn / mx;
    let r = q * q;
    let sqa = (F::one() + r).sqrt();
    let sqrt_two = F::c(if F::DTYPE == DType::F32 {
        std::f32::consts::SQRT_2 as f64
    } else {
        std::f64::consts::SQRT_2
    });
    let first = mx + mx * r / F::c(2.0);
    F::select(
        mx.eq(mn),
        sqrt_two * mx,
        F::select(sqa.eq(F::one()).and(r.gt(F::zero())), first, mx * sqa),
    )
}

/// The principal square root, StableHLO's formula (JAX's values, signed
/// zeros included: the sign of the imaginary part follows `im < 0`, so a
/// -0 imaginary part gives +0): `u = sqrt((|z| + |x|) / 2)`, `(u, y / 2u)`
/// for `x >= 0`, else `(|y| / 2u, copysign(u, y))`, with the scaled forms
/// where `u` underflows or overflows.
#[inline(always)]
pub fn sqrt<F: Float>(z: Complex<F>) -> Complex<F> {
    let (x, y) = (z.re, z.im);
    let (zero, one, two) = (F::zero(), F::one(), F::c(2.0));
    let (ax, ay) = (x.abs(), y.abs());
    let eq = ax.eq(ay);
    let sq_ax = ax.sqrt();
    let sq_2 = F::c(if F::DTYPE == DType::F32 {
        std::f32::consts::SQRT_2 as f64
    } else {
        std::f64::consts::SQRT_2
    });
    let (mx, mn) = (ax.max(ay), ax.min(ay));
    let u_general = (hypot_mx_mn(mx, mn) / two + ax / two).sqrt();
    let edge = u_general.eq(zero).or(u_general.eq(F::highest()));
    let (gt, lt) = (ax.gt(ay), ax.lt(ay));
    let r0 = F::select(eq, one, F::select(lt, ax / ay, ay / ax));
    let ar0 = r0.abs();
    let h = hypot_mx_mn(one.max(ar0), one.min(ar0));
    let sq_1h = (one + h).sqrt();
    let sq_ay = ay.sqrt();
    let sq_rh = (r0 + h).sqrt();
    // sqrt((1 + sqrt 2) / 2) * sqrt 2 and 2 / sqrt(...): the values at |x| = |y|
    let (c1, c2) = if F::DTYPE == DType::F32 {
        (
            (1.5537739740300374f64 as f32) as f64,
            (2.19736822693562f64 as f32) as f64,
        )
    } else {
        (1.5537739740300374, 2.19736822693562)
    };
    let u = F::select(
        eq,
        sq_ax * F::c(c1) / sq_2,
        F::select(
            edge,
            F::select(gt, sq_ax * (sq_1h / sq_2), sq_ay * (sq_rh / sq_2)),
            u_general,
        ),
    );
    let ratio = F::select(eq, one, F::select(lt, sq_ax / sq_ay, sq_ay / sq_ax));
    let ay_div_u = F::select(
        eq,
        sq_ay / F::c(c2),
        F::select(
            edge,
            F::select(gt, sq_ay * ratio / (sq_1h * sq_2), sq_ay / (sq_rh * sq_2)),
            ay / (u_general * two),
        ),
    );
    let yneg = y.lt(zero);
    let xneg = x.lt(zero);
    Complex::new(
        F::select(x.ge(zero), u, ay_div_u),
        F::select(
            xneg,
            F::select(yneg, -u, u),
            F::select(yneg, -ay_div_u, ay_div_u),
        ),
    )
}

/// `inf - inf`: the NaN that the hardware makes (sign bit set on x86), as
/// XLA's formulas produce it.
#[inline(always)]
fn inf_minus_inf<F: Float>(inf: F) -> F {
    #[allow(clippy::eq_op)]
    let nan = inf - inf;
    nan
}

/// Whether `x` has its sign bit set.
#[inline(always)]
fn neg_zero<F: Float>(x: F) -> Mask<F> {
    x.to_bits()
        .shr_logical(F::Bits::c((F::Bits::BITS - 1) as i128))
        .ne(F::Bits::c(0))
}

use super::Int;

/// 1 / sqrt(z) off the axes (accurate where XLA's polar form loses digits
/// near the negative real axis); on the axes and at the non-finite values
/// XLA's results: `(inf, nan)` at 0, signed zeros for an infinite part,
/// else its polar formula `rsqrt|z| (cos(-t/2) + i sin(-t/2))`.
#[inline(always)]
pub fn rsqrt<F: Float>(z: Complex<F>) -> Complex<F> {
    let (a, b) = (z.re, z.im);
    let (zero, inf) = (F::zero(), F::highest());
    let plain = Complex::one().div(sqrt(z));
    // XLA: rsqrt(|z|) (cos(-t/2) + i sin(-t/2)), t = arg z
    let (aa, ba) = (a.abs(), b.abs());
    let (m, n) = (aa.max(ba), aa.min(ba));
    let q = n / m;
    let r = defs::rsqrt(m) * defs::rsqrt((F::one() + q * q).sqrt());
    let r = F::select(r.is_nan(), defs::rsqrt(n), r);
    let ang = arg(z) * F::c(-0.5);
    let polar = Complex::new(r * defs::cos(ang), r * defs::sin(ang));
    let zz = a.eq(zero).and(b.eq(zero));
    let edge = ba.eq(inf).and(a.is_nan()).or(aa.eq(inf));
    let special = Complex::select(
        zz,
        Complex::new(inf, inf_minus_inf(inf)),
        Complex::select(
            edge,
            Complex::new(copysign(zero, a), -copysign(zero, b)),
            polar,
        ),
    );
    // on the axes XLA's polar form too (its signed zeros, and a last-bit
    // cos(pi/2) where the exact part is 0: normwise as accurate)
    let axis = a.eq(zero).or(b.eq(zero));
    Complex::select(z.is_finite().and(axis.not()), plain, special)
}

/// sinh and cosh of a real.
#[inline(always)]
fn sinh_cosh<F: Float>(x: F) -> (F, F) {
    (x.ext1(Ext1::Sinh), x.ext1(Ext1::Cosh))
}

/// z^2, StableHLO's formula: `((x - y)(x + y), 2xy)`, with a real part of
/// +0 where `|x| == |y|` and x is finite.
#[inline(always)]
pub fn square<F: Float>(z: Complex<F>) -> Complex<F> {
    let (x, y) = (z.re, z.im);
    let fin = x.abs().lt(F::highest());
    let re = F::select(fin.and(x.abs().eq(y.abs())), F::zero(), (x - y) * (x + y));
    Complex::new(re, F::c(2.0) * (x * y))
}

/// The hyperbolic parts of JAX's complex sin and cos: `sinh b` and `cosh b`
/// from `expm1(b)` and `expm1(-b)`.
#[inline(always)]
fn sinh_cosh_m1<F: Float>(b: F) -> (F, F) {
    let (e1, e2) = (defs::expm1(b), defs::expm1(-b));
    let half = F::c(0.5);
    ((e1 - e2) * half, (e1 + e2 + F::c(2.0)) * half)
}

/// sin z = (sin a cosh b, cos a sinh b), JAX's decomposition (a zero real
/// part gives a +0 real part, never `0 * inf`).
#[inline(always)]
pub fn sin<F: Float>(z: Complex<F>) -> Complex<F> {
    let (sh, ch) = sinh_cosh_m1(z.im);
    let re = F::select(z.re.eq(F::zero()), F::zero(), defs::sin(z.re) * ch);
    Complex::new(re, defs::cos(z.re) * sh)
}

/// cos z = (cos a cosh b, -sin a sinh b), JAX's decomposition (a zero real
/// part gives a +0 imaginary part).
#[inline(always)]
pub fn cos<F: Float>(z: Complex<F>) -> Complex<F> {
    let (sh, ch) = sinh_cosh_m1(z.im);
    let im = F::select(z.re.eq(F::zero()), F::zero(), -defs::sin(z.re) * sh);
    Complex::new(defs::cos(z.re) * ch, im)
}

/// `e^(z + ln 1/2)` and `e^(-z + ln 1/2)`: StableHLO's complex sinh and
/// cosh are their difference and sum.
#[inline(always)]
fn half_exps<F: Float>(z: Complex<F>) -> (Complex<F>, Complex<F>) {
    let l = F::c(if F::DTYPE == DType::F32 {
        (0.5f32).ln() as f64
    } else {
        (0.5f64).ln()
    });
    (
        exp(Complex::new(z.re + l, z.im)),
        exp(Complex::new(l - z.re, -z.im)),
    )
}

/// sinh z = (sinh a cos b, cosh a sin b) where that is finite and the input
/// is; elsewhere StableHLO's `e^(z + ln 1/2) - e^(-z + ln 1/2)` (JAX's
/// values at the infinities and NaNs); zero parts of the input give +0
/// parts, as that difference does.
#[inline(always)]
pub fn sinh<F: Float>(z: Complex<F>) -> Complex<F> {
    let (a, b) = (z.re, z.im);
    let (sh, ch) = sinh_cosh(a);
    let zero = F::zero();
    let re = F::select(a.eq(zero), zero, sh * defs::cos(b));
    let im = F::select(b.eq(zero), zero, ch * defs::sin(b));
    let r = Complex::new(re, im);
    let (p, m) = half_exps(z);
    Complex::select(z.is_finite().and(r.is_finite()), r, p.sub(m))
}

/// cosh z = (cosh a cos b, sinh a sin b), as `sinh` (the sum there).
#[inline(always)]
pub fn cosh<F: Float>(z: Complex<F>) -> Complex<F> {
    let (a, b) = (z.re, z.im);
    let (sh, ch) = sinh_cosh(a);
    let zero = F::zero();
    let im = F::select(a.eq(zero).or(b.eq(zero)), zero, sh * defs::sin(b));
    let r = Complex::new(ch * defs::cos(b), im);
    let (p, m) = half_exps(z);
    Complex::select(z.is_finite().and(r.is_finite()), r, p.add(m))
}

/// tanh z, XLA's formula: `(expm1(2a) - expm1(-2a) + 4i cos b sin b) /
/// (expm1(2a) + expm1(-2a) + 4 cos^2 b)`, the limit `(sign a, ...)` where
/// the denominator overflows, and its corrections for infinite and NaN
/// parts.
#[inline(always)]
pub fn tanh<F: Float>(z: Complex<F>) -> Complex<F> {
    let (a, b) = (z.re, z.im);
    let (zero, inf, four) = (F::zero(), F::highest(), F::c(4.0));
    let two_a = a + a;
    let (e2, en2) = (defs::expm1(two_a), defs::expm1(-two_a));
    let rnum = e2 - en2;
    let (cb, sb) = (defs::cos(b), defs::sin(b));
    let sum = e2 + en2;
    let den = sum + cb * cb * four;
    let inum = four * (cb * sb);
    let real = F::select(sum.eq(inf), copysign(F::one(), a), rnum / den);
    let imag = inum / den;
    let ainf = a.abs().eq(inf);
    let snan = inum.is_nan();
    let real = F::select(snan.and(ainf.not()), inf_minus_inf(inf), real);
    let imag = F::select(b.eq(zero).or(ainf.and(snan)), zero, imag);
    Complex::new(real, imag)
}

/// tan z = -i tanh(i z): XLA's tanh of `(-b, a)`, parts `(im, -re)`.
#[inline(always)]
pub fn tan<F: Float>(z: Complex<F>) -> Complex<F> {
    let t = tanh(Complex::new(-z.im, z.re));
    Complex::new(t.im, -t.re)
}

/// z^n for an integer n, by repeated squaring (n < 0: 1 / z^-n).
#[inline(always)]
pub fn integer_pow<F: Float>(z: Complex<F>, n: i64) -> Complex<F> {
    let mut acc = Complex::one();
    let mut base = z;
    let mut e = n.unsigned_abs();
    let mut first = true;
    while e > 0 {
        if e & 1 == 1 {
            acc = if first { base } else { acc.mul(base) };
            first = false;
        }
        e >>= 1;
        if e > 0 {
            base = base.mul(base);
        }
    }
    if n < 0 {
        Complex::one().div(acc)
    } else {
        acc
    }
}

/// `z ** y` for an integer array `y`: repeated squaring over all the bits
/// of `y` (as an i64), picking the products with selects (`arith::pow_int`
/// for complex bases).
#[inline(always)]
pub fn pow_int<F: Float, Y: Int<Fam = F::Fam>>(z: Complex<F>, y: Y) -> Complex<F> {
    type I64<F> = <<F as Value>::Fam as Family>::I64;
    type U64<F> = <<F as Value>::Fam as Family>::U64;
    type F64<F> = <<F as Value>::Fam as Family>::F64;
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
    let (mut acc, mut base) = (Complex::one(), z);
    for k in 0..Y::BITS {
        let bit = e.shr_logical(U64::<F>::c(k as i128)).and(one).ne(zero);
        acc = Complex::select(bit, acc.mul(base), acc);
        base = base.mul(base);
    }
    Complex::select(neg, Complex::one().div(acc), acc)
}

/// x^y, XLA's formula: `|x|^c e^(-d arg x) (cos q + i sin q)` with
/// `q = c arg x + d ln|x|` for `y = c + di`, and its special cases: `0^y`
/// for real `y >= 0` (1 at 0, else 0), `x^0 = 1`, `1^y = 1`, `inf^c` for
/// real `c` (inf for c > 0, 0 for c < 0).
#[inline(always)]
pub fn pow<F: Float>(x: Complex<F>, y: Complex<F>) -> Complex<F> {
    let (a, b, c, d) = (x.re, x.im, y.re, y.im);
    let (zero, one, inf) = (F::zero(), F::one(), F::highest());
    let ab = abs(x);
    let abc = ab.ext2(Ext2::Pow, c);
    let t = arg(x);
    let coeff = abc * defs::exp(-d * t);
    let q = c * t + d * defs::log(ab);
    let r = Complex::new(coeff * defs::cos(q), coeff * defs::sin(q));
    let r = Complex::select(
        ab.eq(zero).and(d.eq(zero)).and(zero.le(c)),
        Complex::new(F::select(c.eq(zero), one, zero), zero),
        r,
    );
    let r = Complex::select(c.eq(zero).and(d.eq(zero)), Complex::one(), r);
    let r = Complex::select(a.eq(one).and(b.eq(zero)), Complex::one(), r);
    let real_inf = a.eq(inf).and(b.eq(zero)).and(d.eq(zero));
    let r = Complex::select(real_inf.and(c.gt(zero)), Complex::new(inf, zero), r);
    Complex::select(real_inf.and(c.lt(zero)), Complex::zero(), r)
}

/// `sqrt(F::MAX) / 8` and `4 sqrt(F::MIN_POSITIVE)` of the part type: the
/// thresholds of the inverse functions' kernel.
#[inline(always)]
fn safe_bounds<F: Float>() -> (F, F) {
    if F::DTYPE == DType::F32 {
        (
            F::c((f32::MAX.sqrt() / 8.0) as f64),
            F::c((f32::MIN_POSITIVE.sqrt() * 4.0) as f64),
        )
    } else {
        (
            F::c(f64::MAX.sqrt() / 8.0),
            F::c(f64::MIN_POSITIVE.sqrt() * 4.0),
        )
    }
}

/// `sqrt(p^2 + y^2)` for `y >= 0`, as the kernel below writes it.
#[inline(always)]
fn kernel_hypot<F: Float>(p: F, y: F) -> F {
    let ap = p.abs();
    hypot_mx_mn(ap.max(y), ap.min(y))
}

/// The kernel of complex asin/acos/asinh/acosh (Hull, Fairgrieve and Tang's
/// algorithm, in the form StableHLO's CHLO decompositions use, so that the
/// results are XLA's to the ulp): for `x = |re|`, `y = |im|`, returns
/// `(u, v)` with `asin(x + iy) = atan2(x, u) + i v` and
/// `acos(x + iy) = atan2(u, x) - i v`.
#[inline(always)]
fn asin_acos_kernel<F: Float>(x: F, y: F) -> (F, F) {
    let (safe_max, safe_min) = safe_bounds::<F>();
    let (zero, one, half) = (F::zero(), F::one(), F::c(0.5));
    let xp1 = x + one;
    let xm1 = x - one;
    let r = kernel_hypot(xp1, y);
    let s = kernel_hypot(xm1, y);
    let a = half * (r + s);
    let half_apx = half * (a + x);
    let yy = y * y;
    let rpxp1 = r + xp1;
    let smxm1 = s - xm1;
    let spxm1 = s + xm1;
    let safe_max_opt = F::select(
        x.lt(safe_max * F::c(1e12)),
        safe_max * F::c(1e-6),
        safe_max * F::c(100.0),
    );
    let y_big = y.ge(safe_max_opt);
    let mx = F::select(y_big, y, x);
    let inf = F::highest();
    let xoy = F::select(y_big.and(y.ne(inf)), x / y, zero);
    let tiny_y = y.lt(safe_min).and(x.lt(one));
    let ap1 = a + one;
    let half_yy = half * yy;
    let d = half_yy / rpxp1;
    let x_ge_1_or_not = F::select(
        x.ge(one),
        d + half * spxm1,
        F::select(a.le(F::c(1.5)), d + half_yy / smxm1, a - one),
    );
    let am1 = F::select(tiny_y, -(xp1 * xm1 / ap1), x_ge_1_or_not);
    let sq = (am1 * ap1).sqrt();
    let u = F::select(
        x.max(y).ge(safe_max),
        y,
        F::select(
            x.le(one),
            (half_apx * (yy / rpxp1 + smxm1)).sqrt(),
            y * (half_apx / rpxp1 + half_apx / spxm1).sqrt(),
        ),
    );
    let ln2 = F::c(if F::DTYPE == DType::F32 {
        std::f32::consts::LN_2 as f64
    } else {
        std::f64::consts::LN_2
    });
    let v = F::select(
        mx.ge(F::select(y_big, safe_max_opt, safe_max)),
        ln2 + defs::log(mx) + half * defs::log1p(xoy * xoy),
        F::select(tiny_y, y / sq, defs::log1p(am1 + sq)),
    );
    (u, v)
}

/// asin z (StableHLO's decomposition, see `asin_acos_kernel`).
#[inline(always)]
pub fn asin<F: Float>(z: Complex<F>) -> Complex<F> {
    let (u, v) = asin_acos_kernel(z.re.abs(), z.im.abs());
    Complex::new(
        z.re.ext2(Ext2::Atan2, u),
        F::select(z.im.lt(F::zero()), -v, v),
    )
}

/// acos z (StableHLO's decomposition, see `asin_acos_kernel`).
#[inline(always)]
pub fn acos<F: Float>(z: Complex<F>) -> Complex<F> {
    let (u, v) = asin_acos_kernel(z.re.abs(), z.im.abs());
    Complex::new(
        u.ext2(Ext2::Atan2, z.re),
        F::select(z.im.lt(F::zero()), v, -v),
    )
}

/// asinh z = -i asin(i z) (the kernel on the swapped parts).
#[inline(always)]
pub fn asinh<F: Float>(z: Complex<F>) -> Complex<F> {
    let (u, v) = asin_acos_kernel(z.im.abs(), z.re.abs());
    Complex::new(
        F::select(z.re.lt(F::zero()), -v, v),
        z.im.ext2(Ext2::Atan2, u),
    )
}

/// acosh z: `v + i atan2(u, re)`, the imaginary part signed as `im`.
#[inline(always)]
pub fn acosh<F: Float>(z: Complex<F>) -> Complex<F> {
    let (u, v) = asin_acos_kernel(z.re.abs(), z.im.abs());
    let t = u.ext2(Ext2::Atan2, z.re);
    Complex::new(v, F::select(z.im.lt(F::zero()), -t, t))
}

/// atanh z (StableHLO's decomposition): the real part
/// `sign(x) log1p(4|x| / ((1 - |x|)^2 + y^2)) / 4` with its limits outside
/// the safe region, the imaginary part `atan2(2y, (1 - |x|)(1 + |x|) - y^2) / 2`.
#[inline(always)]
pub fn atanh<F: Float>(z: Complex<F>) -> Complex<F> {
    let (x, y) = (z.re, z.im);
    let (zero, one) = (F::zero(), F::one());
    let ax = x.abs();
    let ay = y.abs();
    let inv_negeps = F::c(if F::DTYPE == DType::F32 {
        16777218.0
    } else {
        9007199254740994.0
    });
    let safe_max = inv_negeps * inv_negeps;
    let safe = ax.lt(safe_max).and(ay.lt(safe_max));
    let naxm1 = one - ax;
    let y2 = y * y;
    let inf = F::highest();
    let any_inf = x.abs().eq(inf).or(y.abs().eq(inf));
    let q = F::select(
        safe,
        ax / (naxm1 * naxm1 + y2),
        F::select(
            (ay * inv_negeps).lt(ax),
            one / ax,
            F::select(any_inf, zero, one / (ax / y + y / ax) / y),
        ),
    );
    let sgn = F::select(x.ge(zero), one, -one);
    let re = sgn * defs::log1p(F::c(4.0) * q) * F::c(0.25);
    let pi = F::c(if F::DTYPE == DType::F32 {
        std::f32::consts::PI as f64
    } else {
        std::f64::consts::PI
    });
    let ysgn = F::select(y.ge(zero), one, -one);
    let im = F::select(
        safe,
        (y + y).ext2(Ext2::Atan2, naxm1 * (one + ax) - y2),
        ysgn * pi,
    );
    Complex::new(re, im * F::c(0.5))
}

/// atan z = i atanh(-i z): `w = atanh(-im + i re)`, atan z = `(w.im, -w.re)`.
#[inline(always)]
pub fn atan<F: Float>(z: Complex<F>) -> Complex<F> {
    let w = atanh(Complex::new(-z.im, z.re));
    Complex::new(w.im, -w.re)
}

/// 2^z = e^(ln2 z), the product with the complex constant `(ln 2, 0)` as
/// XLA lowers it (so an infinite part meets `0 * inf`).
#[inline(always)]
pub fn exp2<F: Float>(z: Complex<F>) -> Complex<F> {
    let ln2 = F::c(if F::DTYPE == DType::F32 {
        std::f32::consts::LN_2 as f64
    } else {
        std::f64::consts::LN_2
    });
    exp(Complex::new(ln2, F::zero()).mul(z))
}

#[cfg(test)]
mod tests {
    use super::*;

    type C = Complex<f64>;

    fn close(a: C, b: C) -> bool {
        let d = ((a.re - b.re).powi(2) + (a.im - b.im).powi(2)).sqrt();
        d <= 1e-12 * (1.0 + (b.re.powi(2) + b.im.powi(2)).sqrt())
    }

    #[test]
    fn identities_hold() {
        let zs = [
            C::new(0.3, -1.2),
            C::new(-2.0, 0.5),
            C::new(1e-3, 4.0),
            C::new(-0.7, -0.1),
        ];
        for &z in &zs {
            assert!(close(exp(log(z)), z), "exp(log({z:?}))");
            let s = sqrt(z);
            assert!(close(s.mul(s), z), "sqrt({z:?})^2");
            assert!(s.re >= 0.0);
            let q = z.div(C::new(0.25, -3.0));
            assert!(close(q.mul(C::new(0.25, -3.0)), z));
            let (sn, cs) = (sin(z), cos(z));
            assert!(close(sn.mul(sn).add(cs.mul(cs)), C::one()));
            let t = tan(z);
            assert!(close(t, sn.div(cs)), "tan({z:?})");
            let th = tanh(z);
            assert!(close(th, sinh(z).div(cosh(z))), "tanh({z:?})");
            assert!(close(integer_pow(z, 3), z.mul(z).mul(z)));
            assert!(close(integer_pow(z, -2), C::one().div(z.mul(z))));
            assert!(close(pow(z, C::new(2.0, 0.0)), z.mul(z)));
            assert!(close(expm1(z), exp(z).sub(C::one())));
            assert!(close(log1p(z), log(z.add(C::one()))));
        }
        assert_eq!(abs(C::new(3e300, 4e300)), 5e300);
        // XLA's |z|: NaN beside an infinite part (JAX's value)
        assert!(abs(C::new(f64::NAN, f64::INFINITY)).is_nan());
        assert_eq!(sqrt(C::new(-4.0, 0.0)), C::new(0.0, 2.0));
        // XLA's sign test is `im < 0`: a -0 imaginary part is the upper side
        assert_eq!(sqrt(C::new(-4.0, -0.0)), C::new(0.0, 2.0));
        assert_eq!(sqrt(C::new(-4.0, -1e-300)).im, -2.0);
        assert_eq!(square(C::new(1e300, 1e300)), C::new(0.0, f64::INFINITY));
        assert_eq!(tanh(C::new(1000.0, 0.0)), C::new(1.0, 0.0));
    }

    #[test]
    fn inverse_functions_invert() {
        let zs = [
            C::new(0.3, -1.2),
            C::new(-0.4, 0.5),
            C::new(1e-3, 0.7),
            C::new(-0.7, -0.1),
        ];
        for &z in &zs {
            assert!(close(sin(asin(z)), z), "sin(asin({z:?}))");
            assert!(close(cos(acos(z)), z), "cos(acos({z:?}))");
            assert!(close(tan(atan(z)), z), "tan(atan({z:?}))");
            assert!(close(sinh(asinh(z)), z), "sinh(asinh({z:?}))");
            assert!(close(cosh(acosh(z)), z), "cosh(acosh({z:?}))");
            assert!(close(tanh(atanh(z)), z), "tanh(atanh({z:?}))");
            assert!(
                close(exp2(z), exp(z.scale(std::f64::consts::LN_2))),
                "exp2({z:?})"
            );
        }
        // the branch cut: asin(2) = pi/2 + i ln(2 + sqrt 3) above it and at
        // -0 (XLA tests `im < 0`, so -0 is above, unlike NumPy), the
        // conjugate below
        let l = (2.0f64 + 3f64.sqrt()).ln();
        for (im, v) in [(0.0, l), (-0.0, l), (-1e-300, -l)] {
            let w = asin(C::new(2.0, im));
            assert!(close(w, C::new(std::f64::consts::FRAC_PI_2, v)), "{w:?}");
        }
        // XLA's division: a zero divisor gives signed infinities, a finite
        // dividend over an infinite divisor signed zeros
        let q = C::new(1.0, -2.0).div(C::new(0.0, 0.0));
        assert_eq!((q.re, q.im), (f64::INFINITY, f64::NEG_INFINITY));
        let q = C::new(1.0, 1.0).div(C::new(f64::INFINITY, 0.0));
        assert_eq!((q.re, q.im), (0.0, 0.0));
        assert!(!q.re.is_sign_negative());
        // exp of a real stays real with a +0 imaginary part
        let e = exp(C::new(1.0, -0.0));
        assert!(e.im == 0.0 && !e.im.is_sign_negative());
    }

    #[test]
    fn max_min_are_jax_lexicographic() {
        let nan = C::new(f64::NAN, 0.0);
        let (a, b) = (C::new(1.0, 2.0), C::new(1.0, 1.0));
        assert_eq!(a.max(b), a);
        assert_eq!(a.min(b), b);
        // unordered: the second operand, as `x > y ? x : y`
        assert_eq!(a.max(C::new(0.0, 5.0)), a);
        assert!(a.max(nan).re.is_nan());
        assert_eq!(nan.max(a), a);
    }
}
