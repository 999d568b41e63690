//! Branch-free f32 transcendentals that the compiler vectorises (the scalar
//! libm calls cannot reach memory bandwidth): every function computes its
//! candidate results with plain arithmetic and picks one with selects, so a
//! loop over a slice becomes SIMD code. No calls and no lookups in memory (the
//! bits of 2/pi that sin and cos need are picked from constants with masks).
//!
//! Polynomials: Cephes' for exp, log, tanh, sin and cos; erf's are fitted for
//! this file (near-minimax, Lawson-weighted least squares in float64, then
//! checked in f32). Each function states its maximum error in ulp against a
//! float64 reference (the ulp of the exact result's binade; subnormal results
//! count in units of 2^-149): the bound, which the tests below assert over
//! every 2^8-th bit pattern and dense sweeps of the interesting ranges, and
//! the largest error those sweeps (and tests/test_fastmath_accuracy.py's)
//! measured.

const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5 * 2^23: adding it rounds an f32 of magnitude < 2^22 to an integer.
const ROUND: f32 = 12_582_912.0;
/// The largest f32 whose e^x is finite, and the smallest whose e^x is not 0.
const EXP_HI: f32 = 88.722_83;
const EXP_LO: f32 = -103.972_08;

/// e^x = 2^n e^r with n = round(x / ln 2) and r = x - n ln 2 (Cody-Waite:
/// `n * LN2_HI` is exact), for |x| < 2^21: returns (n, a + e^r - 1) where
/// `a(n)` = (a, a_lo) with |a| >= 1/2 or a = 0, and a_lo small. The sum is
/// compensated (Fast2Sum of a and x - n LN2_HI), so it is rounded about once.
#[inline(always)]
fn exp_reduced(x: f32, a: impl Fn(i32) -> (f32, f32)) -> (i32, f32) {
    let t = x * LOG2E + ROUND;
    let nf = t - ROUND;
    let ni = t.to_bits() as i32 - ROUND.to_bits() as i32;
    let r_hi = x - nf * LN2_HI;
    let r_lo = nf * LN2_LO;
    let r = r_hi - r_lo;
    let (a, a_lo) = a(ni);
    let s = a + r_hi;
    let err = (a - s) + r_hi;
    (ni, s + ((err + a_lo) + (exp_poly(r) * (r * r) - r_lo)))
}

/// (e^r - 1 - r) / r^2 on |r| <= ln2 / 2 (Cephes' expf polynomial).
#[inline(always)]
fn exp_poly(r: f32) -> f32 {
    ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 5.000_000_1e-1
}

/// 2^n for n in [-252, 254], as two normal factors (2^h, 2^(n-h)):
/// multiplying by both scales into and out of f32's range with one rounding.
#[inline(always)]
fn pow2_split(n: i32) -> (f32, f32) {
    let h = n >> 1;
    (
        f32::from_bits(((h + 127) as u32) << 23),
        f32::from_bits(((n - h + 127) as u32) << 23),
    )
}

/// e^x for f32. Max error 1 ulp (measured 0.79);
/// subnormal results are rounded once, so underflow is gradual; exactly
/// +inf above 88.72283 (the last f32 with a finite e^x) and 0 below
/// -103.97208; NaN stays NaN.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    let (ni, y) = exp_reduced(x.clamp(EXP_LO, EXP_HI), |_| (1.0, 0.0));
    let (s1, s2) = pow2_split(ni);
    let v = y * s1 * s2;
    if x > EXP_HI {
        f32::INFINITY
    } else if x < EXP_LO {
        0.0
    } else if x.is_nan() {
        x
    } else {
        v
    }
}

/// e^x - 1 for f32. Max error 1 ulp (measured 0.92); exact for |x| < 2^-24
/// (keeps the sign of zero), +inf above 88.72283, -1 below -17.33 (where it
/// rounds to -1), NaN stays NaN.
#[inline(always)]
pub fn expm1_f32(x: f32) -> f32 {
    // e^x - 1 = 2^n ((1 - 2^-n) + e^r - 1); 1 - 2^-n is exact for n <= 24
    // (0 for n = 0, |x| < ln2 / 2); above, it is 1 and -2^-n.
    let (ni, y) = exp_reduced(x.clamp(-20.0, EXP_HI), |n| {
        let p = f32::from_bits(((127 - n.min(126)) as u32) << 23); // 2^-n
        if n <= 24 {
            (1.0 - p, 0.0)
        } else {
            (1.0, -p)
        }
    });
    let (s1, s2) = pow2_split(ni);
    let v = y * s1 * s2;
    if x > EXP_HI {
        f32::INFINITY
    } else if x < -20.0 {
        -1.0
    } else if x.is_nan() || x == 0.0 {
        x
    } else {
        v
    }
}

/// tanh for f32. Max error 2 ulp (measured 1.32): an odd polynomial for
/// |x| < 0.625, else 1 - 2 / (e^{2|x|} + 1) with the sign of x; keeps the
/// sign of zero; ±1 at ±inf; NaN stays NaN.
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let small =
        ((((-5.704_988_7e-3 * z + 2.063_908_9e-2) * z - 5.373_971_6e-2) * z + 1.333_144_2e-1) * z
            - 3.333_328_2e-1)
            * z
            * x
            + x;
    let s = exp_f32(2.0 * a.min(20.0));
    let big = 1.0 - 2.0 / (s + 1.0);
    let big = if x < 0.0 { -big } else { big };
    if a == 0.0 {
        x // keeps the sign of zero
    } else if a < 0.625 {
        small
    } else if x.is_nan() {
        x
    } else {
        big
    }
}

/// logistic(x) = 1 / (1 + e^-x) for f32, computed as 1 / (1 + e^-|x|) for
/// x >= 0 and e^x / (1 + e^x) for x < 0, so that neither side overflows and
/// the left tail keeps its relative accuracy down to the subnormals. Max
/// error 2 ulp (measured 1.88); 1 at +inf, 0 at -inf; NaN stays NaN.
#[inline(always)]
pub fn logistic_f32(x: f32) -> f32 {
    let e = exp_f32(-x.abs());
    // 1 + e = d + d_lo exactly (Fast2Sum); q = num / d, then the first-order
    // correction for d_lo, with 1 / d = q (x >= 0) or 1 - q (x < 0).
    let d = 1.0 + e;
    let d_lo = (1.0 - d) + e;
    let neg = x < 0.0;
    let q = if neg { e } else { 1.0 } / d;
    let inv = if neg { 1.0 - q } else { q };
    q - q * (d_lo * inv)
}

/// sqrt(1/2): log's mantissa is reduced to [sqrt(1/2), sqrt(2)).
const SQRTH: f32 = std::f32::consts::FRAC_1_SQRT_2;

/// ln(m 2^e) + d for m in [0.5, 1), integer e (as f32) and a small d:
/// Cephes' logf polynomial on f = m - 1 or 2m - 1, in
/// [sqrt(1/2) - 1, sqrt(2) - 1); d joins the small terms before f.
#[inline(always)]
fn log_core(m: f32, e: f32, d: f32) -> f32 {
    let lo = m < SQRTH;
    let e = if lo { e - 1.0 } else { e };
    let f = if lo { m + m - 1.0 } else { m - 1.0 };
    let z = f * f;
    let p = ((((((((7.037_683_6e-2 * f - 1.151_461e-1) * f + 1.167_699_9e-1) * f
        - 1.242_014_1e-1)
        * f
        + 1.424_932_3e-1)
        * f
        - 1.666_805_8e-1)
        * f
        + 2.000_071_5e-1)
        * f
        - 2.499_999_4e-1)
        * f
        + 3.333_333e-1)
        * f
        * z;
    let y = p + LN2_LO * e - 0.5 * z + d;
    f + y + LN2_HI * e
}

/// Split a positive normal f32 into (m in [0.5, 1), exponent as f32).
#[inline(always)]
fn frexp(x: f32) -> (f32, f32) {
    let b = x.to_bits();
    let m = f32::from_bits((b & 0x007f_ffff) | 0x3f00_0000);
    (m, ((b >> 23) as i32 - 126) as f32)
}

/// ln(x) for f32. Max error 1 ulp (measured 0.83), subnormal inputs
/// included; -inf at ±0, NaN below 0, +inf at +inf; NaN stays NaN.
#[inline(always)]
pub fn log_f32(x: f32) -> f32 {
    // Subnormals: scale by 2^23 into the normal range first.
    let sub = x < f32::MIN_POSITIVE;
    let xs = if sub { x * 8_388_608.0 } else { x };
    let (m, e) = frexp(xs);
    let e = if sub { e - 23.0 } else { e };
    let v = log_core(m, e, 0.0);
    if x == 0.0 {
        f32::NEG_INFINITY
    } else if x.is_nan() || x < 0.0 {
        f32::NAN
    } else if x == f32::INFINITY {
        x
    } else {
        v
    }
}

/// ln(1 + x) for f32. Max error 1 ulp (measured 0.87); exact for
/// |x| < 2^-24 (keeps the sign of zero); -inf at -1, NaN below -1, +inf at
/// +inf; NaN stays NaN.
#[inline(always)]
pub fn log1p_f32(x: f32) -> f32 {
    // u = fl(1 + x) loses the low bits of x; c = (1 + x) - u exactly, and
    // ln(1 + x) = ln(u) + ln(1 + c/u) = ln(u) + c/u to well under an ulp.
    let u = 1.0 + x;
    let c = if u < 2.0 {
        x - (u - 1.0)
    } else {
        1.0 - (u - x)
    };
    // u >= 2^-24 for x > -1, so u is normal.
    let (m, e) = frexp(u.max(f32::MIN_POSITIVE));
    let v = log_core(m, e, c / u);
    if x == 0.0 {
        x
    } else if x == -1.0 {
        f32::NEG_INFINITY
    } else if x.is_nan() || x < -1.0 {
        f32::NAN
    } else if x == f32::INFINITY {
        x
    } else {
        v
    }
}

/// erf(x) for f32. Max error 2 ulp (measured 1.58): x + x q(x^2) for
/// |x| < 0.875, 1 - e^{-x^2} R(1/|x|) with the sign of x above (±1 beyond
/// |x| = 4, where erfc(x) < 2^-25); keeps the sign of zero; NaN stays NaN.
#[inline(always)]
pub fn erf_f32(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let q = (((((8.689_902_5e-5 * z - 8.215_184e-4) * z + 5.207_182e-3) * z - 2.686_18e-2) * z
        + 1.128_373_8e-1)
        * z
        - 3.761_263_8e-1)
        * z
        + 1.283_791_7e-1;
    let small = x + x * q;
    let ac = a.clamp(0.875, 4.0);
    let t = 1.0 / ac;
    let r = (((((((6.977_603_3e-3 * t - 5.930_640_5e-2) * t + 2.257_542_2e-1) * t
        - 5.024_227_5e-1)
        * t
        + 7.028_753e-1)
        * t
        - 5.736_837_4e-1)
        * t
        + 7.293_469_5e-2)
        * t
        + 5.538_05e-1)
        * t
        + 6.496_572_8e-4;
    let big = 1.0 - exp_f32(-(ac * ac)) * r;
    let big = if x < 0.0 { -big } else { big };
    if a < 0.875 || x.is_nan() {
        small
    } else {
        big
    }
}

/// 2/pi in binary, after 32 zero bits, as 64-bit words (most significant
/// first): the bits that `reduce_pio2` multiplies |x| by.
const TWO_OVER_PI: [u64; 5] = [
    0x0000_0000_a2f9_836e,
    0x4e44_1529_fc27_57d1,
    0xf534_ddc0_db62_9599,
    0x3c43_9041_fe51_63ab,
    0xdebb_c561_b724_6e3a,
];

/// For |x| >= 0.5 (bits of |x| in `b`): n = round(|x| / (pi/2)) mod 4 and
/// r = |x| - n pi/2 in [-pi/4, pi/4], for every finite f32 (Payne-Hanek:
/// |x| = m 2^e times the 96 bits of 2/pi that matter for it, in integer
/// arithmetic, so there is no cancellation however large |x| is). r is
/// accurate to about 2^-61 absolutely. Only shifts, multiplies and masks on
/// constants, so it vectorises; cheap enough to use for every |x| >= 0.5,
/// which spares sin and cos a second (Cody-Waite) reduction.
#[inline(always)]
fn reduce_pio2(b: u32) -> (u32, f64) {
    let m = ((b & 0x007f_ffff) | 0x0080_0000) as u64;
    // |x| = m 2^(E - 150): only 2/pi's bits from 2^-(E - 151) on matter (the
    // earlier ones add multiples of 4). With TWO_OVER_PI's 32 zeros in front,
    // that is bit s = E - 120 from its top (E >= 126: s in [6, 134]; E = 255
    // for inf/NaN, and E < 126, whose results are not used, are clamped).
    let s = (b >> 23).wrapping_sub(120).min(135);
    let (q, sh) = (s >> 6, (s & 63) as u64);
    // Words q, q + 1, q + 2 (q in 0..=2), picked with masks: written as an
    // index or as selects, LLVM turns it into a gather from memory.
    let mask = |k: u32| 0u64.wrapping_sub((q == k) as u64);
    let (m0, m1, m2) = (mask(0), mask(1), mask(2));
    let w =
        |i: usize| (TWO_OVER_PI[i] & m0) | (TWO_OVER_PI[i + 1] & m1) | (TWO_OVER_PI[i + 2] & m2);
    let (w0, w1, w2) = (w(0), w(1), w(2));
    // Bits [sh, sh + 96) of w0:w1:w2 (`>> 1 >> (63 - sh)` is `>> (64 - sh)`
    // without a shift by 64 when sh = 0).
    let top = (w0 << sh) | ((w1 >> 1) >> (63 - sh));
    let next = (w1 << sh) | ((w2 >> 1) >> (63 - sh));
    let (hi, mid, lo) = (top >> 32, top & 0xffff_ffff, next >> 32);
    // m * window / 2^32, mod 2^64: |x| 2/pi mod 4 with 62 fraction bits.
    // (Written with 32-bit products instead, it runs 12% slower on AVX-512.)
    let y = ((m * hi) << 32)
        .wrapping_add(m * mid)
        .wrapping_add((m * lo) >> 32);
    let n = y.wrapping_add(1 << 61) >> 62;
    let f = y.wrapping_sub(n << 62) as i64;
    // pi/2 * 2^-62
    (n as u32, f as f64 * 3.406_121_580_086_094e-19)
}

/// (sin, cos) of r + lo, |r| <= pi/4, |lo| <= ulp(r) / 2: Cephes'
/// polynomials, with fdlibm's first-order terms in lo; cos as
/// w + ((1 - w) - r^2/2 + ...) with w = 1 - r^2/2, which saves the rounding
/// of w. The leading term is added last, so each result is rounded about once.
#[inline(always)]
fn sincos_poly(r: f32, lo: f32) -> (f32, f32) {
    let z = r * r;
    let sp = ((-1.951_529_6e-4 * z + 8.332_161e-3) * z - 1.666_665_5e-1) * z * r;
    let s = r + (sp + (lo - 0.5 * z * lo));
    let hz = 0.5 * z;
    let w = 1.0 - hz;
    let cp = ((2.443_315_7e-5 * z - 1.388_731_6e-3) * z + 4.166_664_6e-2) * z * z;
    let c = w + (((1.0 - w) - hz) + (cp - r * lo));
    (s, c)
}

/// The quadrant n and reduced argument r + lo of |x| (n = 0, r = |x| below
/// 0.5).
#[inline(always)]
fn quadrant(x: f32) -> (u32, f32, f32) {
    let b = x.to_bits() & 0x7fff_ffff;
    let (n, r) = reduce_pio2(b);
    let hi = r as f32;
    let lo = (r - hi as f64) as f32;
    if b < 0x3f00_0000 {
        (0, f32::from_bits(b), 0.0)
    } else {
        (n, hi, lo)
    }
}

/// sin(x) for f32, exactly range-reduced for every finite x. Max error
/// 1 ulp (measured 0.83); keeps the sign of zero; NaN at ±inf and NaN.
#[inline(always)]
pub fn sin_f32(x: f32) -> f32 {
    let (n, r, lo) = quadrant(x);
    let (s, c) = sincos_poly(r, lo);
    let v = if n & 1 == 0 { s } else { c };
    // sin is odd: flip for quadrants 2, 3 and for x < 0.
    let flip = ((n & 2) << 30) ^ (x.to_bits() & 0x8000_0000);
    let v = f32::from_bits(v.to_bits() ^ flip);
    if x.is_finite() {
        v
    } else {
        x - x
    }
}

/// cos(x) for f32, exactly range-reduced for every finite x. Max error
/// 1 ulp (measured 0.83); NaN at ±inf and NaN.
#[inline(always)]
pub fn cos_f32(x: f32) -> f32 {
    let (n, r, lo) = quadrant(x);
    let (s, c) = sincos_poly(r, lo);
    let v = if n & 1 == 0 { c } else { s };
    // cos(r + n pi/2) is cos r, -sin r, -cos r, sin r for n = 0..3.
    let flip = ((n.wrapping_add(1)) & 2) << 30;
    let v = f32::from_bits(v.to_bits() ^ flip);
    if x.is_finite() {
        v
    } else {
        x - x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// |got - want| in ulp of the binade of `want` rounded to f32 (2^-149 for
    /// subnormals); infinities and NaNs must match exactly (0 or +inf).
    fn ulp_err(got: f32, want: f64) -> f64 {
        if want.is_nan() || got.is_nan() {
            return if want.is_nan() && got.is_nan() {
                0.0
            } else {
                f64::INFINITY
            };
        }
        let w = want as f32;
        if w.is_infinite() || got.is_infinite() {
            return if got == w { 0.0 } else { f64::INFINITY };
        }
        let a = want.abs().max(f32::MIN_POSITIVE as f64);
        let e = ((a.to_bits() >> 52) & 0x7ff) as i32 - 1023;
        let ulp = 2f64.powi(e - 23);
        ((got as f64) - want).abs() / ulp
    }

    /// Every 2^8-th bit pattern of both signs (33.5M values; NaNs and
    /// infinities included), then evenly spaced points in [lo, hi].
    fn sweep(lo: f32, hi: f32, n: usize) -> impl Iterator<Item = f32> {
        (0..=u32::MAX >> 8)
            .map(|i| f32::from_bits(i << 8 | (i & 0xff)))
            .chain((0..=n).map(move |i| lo + (hi - lo) * (i as f32 / n as f32)))
    }

    /// The worst error of `f` against `reference` over `xs`, and where.
    fn worst(
        xs: impl Iterator<Item = f32>,
        f: impl Fn(f32) -> f32,
        reference: impl Fn(f64) -> f64,
    ) -> (f64, f32) {
        let mut w = (0.0, 0.0);
        for x in xs {
            let e = ulp_err(f(x), reference(x as f64));
            if !(e <= w.0) {
                w = (e, x);
            }
        }
        w
    }

    fn check(name: &str, bound: f64, w: (f64, f32)) {
        eprintln!("{name}: max {:.3} ulp at {:e}", w.0, w.1);
        assert!(w.0 <= bound, "{name}: {} ulp at {:e}", w.0, w.1);
    }

    fn logistic64(x: f64) -> f64 {
        if x < 0.0 {
            let e = x.exp();
            e / (1.0 + e)
        } else {
            1.0 / (1.0 + (-x).exp())
        }
    }

    #[test]
    fn exp_accuracy() {
        check(
            "exp",
            1.0,
            worst(sweep(-104.0, 89.0, 4_000_000), exp_f32, f64::exp),
        );
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(-0.0), 1.0);
        assert!(ulp_err(exp_f32(EXP_HI), (EXP_HI as f64).exp()) <= 1.0);
        assert_eq!(exp_f32(f32::from_bits(EXP_HI.to_bits() + 1)), f32::INFINITY);
        assert_eq!(exp_f32(EXP_LO), f32::from_bits(1));
        assert_eq!(exp_f32(f32::from_bits(EXP_LO.to_bits() + 1)), 0.0);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(f32::from_bits(1)), 1.0);
        assert!(exp_f32(f32::NAN).is_nan());
    }

    #[test]
    fn expm1_accuracy() {
        check(
            "expm1",
            1.0,
            worst(sweep(-20.0, 89.0, 4_000_000), expm1_f32, f64::exp_m1),
        );
        check(
            "expm1 near 0",
            1.0,
            worst(sweep(-1.0, 1.0, 4_000_000), expm1_f32, f64::exp_m1),
        );
        assert_eq!(expm1_f32(1e-30), 1e-30);
        assert_eq!(expm1_f32(f32::from_bits(1)), f32::from_bits(1));
        assert!(expm1_f32(-0.0).is_sign_negative());
        assert_eq!(expm1_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(expm1_f32(f32::NEG_INFINITY), -1.0);
        assert_eq!(expm1_f32(-18.0), -1.0);
        assert!(expm1_f32(f32::NAN).is_nan());
    }

    #[test]
    fn tanh_accuracy() {
        check(
            "tanh",
            2.0,
            worst(sweep(-12.0, 12.0, 4_000_000), tanh_f32, f64::tanh),
        );
        assert_eq!(tanh_f32(f32::INFINITY), 1.0);
        assert_eq!(tanh_f32(f32::NEG_INFINITY), -1.0);
        assert_eq!(tanh_f32(0.0), 0.0);
        assert!(tanh_f32(-0.0).is_sign_negative());
        assert!(tanh_f32(f32::NAN).is_nan());
    }

    #[test]
    fn logistic_accuracy() {
        check(
            "logistic",
            2.0,
            worst(sweep(-110.0, 20.0, 4_000_000), logistic_f32, logistic64),
        );
        assert_eq!(logistic_f32(0.0), 0.5);
        assert_eq!(logistic_f32(-0.0), 0.5);
        assert_eq!(logistic_f32(f32::INFINITY), 1.0);
        assert_eq!(logistic_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(logistic_f32(-104.0), 0.0);
        assert!(logistic_f32(-100.0) > 0.0); // a subnormal, not flushed
        assert!(logistic_f32(f32::NAN).is_nan());
    }

    #[test]
    fn log_accuracy() {
        check(
            "log",
            1.0,
            worst(sweep(0.0, 4.0, 4_000_000), log_f32, f64::ln),
        );
        // every f32 in [0.5, 2), where the result is smallest
        let near1 = (0x3f00_0000u32..0x4000_0000).map(f32::from_bits);
        check("log [0.5, 2)", 1.0, worst(near1, log_f32, f64::ln));
        assert_eq!(log_f32(1.0), 0.0);
        assert_eq!(log_f32(0.0), f32::NEG_INFINITY);
        assert_eq!(log_f32(-0.0), f32::NEG_INFINITY);
        assert!(log_f32(-1.0).is_nan());
        assert!(log_f32(f32::NEG_INFINITY).is_nan());
        assert_eq!(log_f32(f32::INFINITY), f32::INFINITY);
        assert!(log_f32(f32::NAN).is_nan());
        let tiny = f32::from_bits(1);
        assert!(ulp_err(log_f32(tiny), (tiny as f64).ln()) <= 1.0);
    }

    #[test]
    fn log1p_accuracy() {
        check(
            "log1p",
            1.0,
            worst(sweep(-1.0, 4.0, 4_000_000), log1p_f32, f64::ln_1p),
        );
        let near0 = (0x3300_0000u32..0x3f00_0000).step_by(61);
        let near0 = near0.flat_map(|b| [f32::from_bits(b), -f32::from_bits(b)]);
        check(
            "log1p (-0.5, 0.5)",
            1.0,
            worst(near0, log1p_f32, f64::ln_1p),
        );
        assert_eq!(log1p_f32(1e-30), 1e-30);
        assert!(log1p_f32(-0.0).is_sign_negative());
        assert_eq!(log1p_f32(-1.0), f32::NEG_INFINITY);
        assert!(log1p_f32(-1.5).is_nan());
        assert_eq!(log1p_f32(f32::INFINITY), f32::INFINITY);
        assert!(ulp_err(log1p_f32(f32::MAX), (f32::MAX as f64).ln_1p()) <= 1.0);
        assert!(log1p_f32(f32::NAN).is_nan());
    }

    #[test]
    fn erf_accuracy() {
        check(
            "erf",
            2.0,
            worst(sweep(-5.0, 5.0, 4_000_000), erf_f32, libm::erf),
        );
        assert_eq!(erf_f32(0.0), 0.0);
        assert!(erf_f32(-0.0).is_sign_negative());
        assert_eq!(erf_f32(4.0), 1.0);
        assert_eq!(erf_f32(f32::INFINITY), 1.0);
        assert_eq!(erf_f32(f32::NEG_INFINITY), -1.0);
        assert_eq!(erf_f32(f32::from_bits(1)), f32::from_bits(1));
        assert!(erf_f32(f32::NAN).is_nan());
    }

    #[test]
    fn sin_cos_accuracy() {
        let xs = || sweep(-10.0, 10.0, 4_000_000);
        check("sin", 1.0, worst(xs(), sin_f32, f64::sin));
        check("cos", 1.0, worst(xs(), cos_f32, f64::cos));
        // large arguments, where naive reduction cancels
        let big = || (0..2_000_000).map(|i| 1e5 + i as f32 * 0.37);
        check("sin 1e5..", 1.0, worst(big(), sin_f32, f64::sin));
        check("cos 1e5..", 1.0, worst(big(), cos_f32, f64::cos));
        // the integers below 2^24 closest to a multiple of pi/2, of odd and
        // even quadrant: |sin| = 3.8e-8 and |cos| = 1.8e-7 there
        let (xs, xc) = (5_419_351.0f32 as f64, 15_684_849.0f32 as f64);
        assert!(xs.sin().abs() < 4e-8 && xc.cos().abs() < 2e-7);
        assert!(ulp_err(sin_f32(xs as f32), xs.sin()) <= 1.0);
        assert!(ulp_err(cos_f32(xc as f32), xc.cos()) <= 1.0);
        assert_eq!(sin_f32(0.0).to_bits(), 0);
        assert!(sin_f32(-0.0).is_sign_negative());
        assert_eq!(cos_f32(0.0), 1.0);
        assert_eq!(cos_f32(-0.0), 1.0);
        assert_eq!(sin_f32(f32::from_bits(1)), f32::from_bits(1));
        for v in [f32::INFINITY, f32::NEG_INFINITY, f32::NAN] {
            assert!(sin_f32(v).is_nan() && cos_f32(v).is_nan());
        }
    }
}
