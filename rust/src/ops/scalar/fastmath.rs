//! Branch-free f32 transcendentals, defined once over the primitives of the
//! scalar layer (`E` is the evaluator's family: `E::F32`, `E::U32`, ...).
//! Every function computes its candidate results with plain arithmetic and
//! picks one with selects, so, monomorphised for the concrete family, a loop
//! over a slice becomes SIMD code; no calls and no lookups in memory (the
//! bits of 2/pi that sin and cos need are picked from constants with masks).
//!
//! Polynomials: Cephes' for exp, log, tanh, sin and cos; erf's are fitted for
//! this file (near-minimax, Lawson-weighted least squares in float64, then
//! checked in f32). Each function states its maximum error in ulp against a
//! float64 reference (the ulp of the exact result's binade; subnormal results
//! count in units of 2^-149): the bound, which the tests below assert over
//! every 2^8-th bit pattern and dense sweeps of the interesting ranges, and
//! the largest error those sweeps (and tests/test_fastmath_accuracy.py's)
//! measured. No multiply-add is contracted into an FMA, so the results are
//! the same on every CPU.
// The coefficients are written as published (more digits than an f32
// holds; each literal is the f32 nearest to it).
#![allow(clippy::excessive_precision)]

use super::{Bits, Family, Float, FloatBits, Int, Num, Value};

/// An f32 constant of the family.
#[inline(always)]
fn k<E: Family>(v: f32) -> E::F32 {
    E::F32::c(v as f64)
}

/// A u32 constant of the family.
#[inline(always)]
fn u<E: Family>(v: u32) -> E::U32 {
    E::U32::c(v as i128)
}

/// An i32 constant of the family.
#[inline(always)]
fn i<E: Family>(v: i32) -> E::I32 {
    E::I32::c(v as i128)
}

/// A u64 constant of the family.
#[inline(always)]
fn w<E: Family>(v: u64) -> E::U64 {
    E::U64::c(v as i128)
}

/// `x` clamped to `[lo, hi]` (f32::clamp: NaN stays NaN).
#[inline(always)]
fn clamp<E: Family>(x: E::F32, lo: f32, hi: f32) -> E::F32 {
    let (lo, hi) = (k::<E>(lo), k::<E>(hi));
    let x = E::F32::select(x.lt(lo), lo, x);
    E::F32::select(x.gt(hi), hi, x)
}

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
fn exp_reduced<E: Family>(x: E::F32, a: impl Fn(E::I32) -> (E::F32, E::F32)) -> (E::I32, E::F32) {
    let t = x * k::<E>(LOG2E) + k::<E>(ROUND);
    let nf = t - k::<E>(ROUND);
    let ni = t
        .to_bits()
        .cast::<E::I32>()
        .sub(i::<E>(ROUND.to_bits() as i32));
    let r_hi = x - nf * k::<E>(LN2_HI);
    let r_lo = nf * k::<E>(LN2_LO);
    let r = r_hi - r_lo;
    let (a, a_lo) = a(ni);
    let s = a + r_hi;
    let err = (a - s) + r_hi;
    (ni, s + ((err + a_lo) + (exp_poly::<E>(r) * (r * r) - r_lo)))
}

/// (e^r - 1 - r) / r^2 on |r| <= ln2 / 2 (Cephes' expf polynomial).
#[inline(always)]
fn exp_poly<E: Family>(r: E::F32) -> E::F32 {
    ((((k::<E>(1.987_569_1e-4) * r + k::<E>(1.398_199_9e-3)) * r + k::<E>(8.333_452e-3)) * r
        + k::<E>(4.166_579_6e-2))
        * r
        + k::<E>(1.666_666_5e-1))
        * r
        + k::<E>(5.000_000_1e-1)
}

/// 2^n for n in [-252, 254], as two normal factors (2^h, 2^(n-h)):
/// multiplying by both scales into and out of f32's range with one rounding.
#[inline(always)]
fn pow2_split<E: Family>(n: E::I32) -> (E::F32, E::F32) {
    let h = n.shr_arith(i::<E>(1));
    let pow2 = |e: E::I32| E::F32::from_bits(e.add(i::<E>(127)).cast::<E::U32>().shl(u::<E>(23)));
    (pow2(h), pow2(n.sub(h)))
}

/// e^x for f32. Max error 1 ulp (measured 0.79);
/// subnormal results are rounded once, so underflow is gradual; exactly
/// +inf above 88.72283 (the last f32 with a finite e^x) and 0 below
/// -103.97208; NaN stays NaN.
#[inline(always)]
pub fn exp<E: Family>(x: E::F32) -> E::F32 {
    // (no clamp into [EXP_LO, EXP_HI] first: the lanes outside it, NaN
    // included, are replaced below, and LLVM then drops their arithmetic)
    let (ni, y) = exp_reduced::<E>(x, |_| (k::<E>(1.0), k::<E>(0.0)));
    let (s1, s2) = pow2_split::<E>(ni);
    let v = y * s1 * s2;
    let r = E::F32::select(x.is_nan(), x, v);
    let r = E::F32::select(x.lt(k::<E>(EXP_LO)), k::<E>(0.0), r);
    E::F32::select(x.gt(k::<E>(EXP_HI)), E::F32::highest(), r)
}

/// e^x - 1 for f32. Max error 1 ulp (measured 0.92); exact for |x| < 2^-24
/// (keeps the sign of zero), +inf above 88.72283, -1 below -17.33 (where it
/// rounds to -1), NaN stays NaN.
#[inline(always)]
pub fn expm1<E: Family>(x: E::F32) -> E::F32 {
    // e^x - 1 = 2^n ((1 - 2^-n) + e^r - 1); 1 - 2^-n is exact for n <= 24
    // (0 for n = 0, |x| < ln2 / 2); above, it is 1 and -2^-n.
    // (no clamp into [-20, EXP_HI]: the lanes outside it are replaced below)
    let (ni, y) = exp_reduced::<E>(x, |n| {
        let e = i::<E>(127).sub(n.min(i::<E>(126)));
        let p = E::F32::from_bits(e.cast::<E::U32>().shl(u::<E>(23))); // 2^-n
        let small = n.le(i::<E>(24));
        (
            E::F32::select(small, k::<E>(1.0) - p, k::<E>(1.0)),
            E::F32::select(small, k::<E>(0.0), -p),
        )
    });
    let (s1, s2) = pow2_split::<E>(ni);
    let v = y * s1 * s2;
    let r = E::F32::select(x.is_nan().or(x.eq(k::<E>(0.0))), x, v);
    let r = E::F32::select(x.lt(k::<E>(-20.0)), k::<E>(-1.0), r);
    E::F32::select(x.gt(k::<E>(EXP_HI)), E::F32::highest(), r)
}

/// tanh for f32. Max error 2 ulp (measured 1.32): an odd polynomial for
/// |x| < 0.625, else 1 - 2 / (e^{2|x|} + 1) with the sign of x; keeps the
/// sign of zero; ±1 at ±inf; NaN stays NaN.
#[inline(always)]
pub fn tanh<E: Family>(x: E::F32) -> E::F32 {
    let a = x.abs();
    let z = x * x;
    let small = ((((k::<E>(-5.704_988_7e-3) * z + k::<E>(2.063_908_9e-2)) * z
        - k::<E>(5.373_971_6e-2))
        * z
        + k::<E>(1.333_144_2e-1))
        * z
        - k::<E>(3.333_328_2e-1))
        * z
        * x
        + x;
    let s = exp::<E>(k::<E>(2.0) * a.min(k::<E>(20.0)));
    let big = k::<E>(1.0) - k::<E>(2.0) / (s + k::<E>(1.0));
    let big = E::F32::select(x.lt(k::<E>(0.0)), -big, big);
    let r = E::F32::select(x.is_nan(), x, big);
    let r = E::F32::select(a.lt(k::<E>(0.625)), small, r);
    // keeps the sign of zero
    E::F32::select(a.eq(k::<E>(0.0)), x, r)
}

/// logistic(x) = 1 / (1 + e^-x) for f32, computed as 1 / (1 + e^-|x|) for
/// x >= 0 and e^x / (1 + e^x) for x < 0, so that neither side overflows and
/// the left tail keeps its relative accuracy down to the subnormals. Max
/// error 2 ulp (measured 1.88); 1 at +inf, 0 at -inf; NaN stays NaN.
#[inline(always)]
pub fn logistic<E: Family>(x: E::F32) -> E::F32 {
    let one = k::<E>(1.0);
    let e = exp::<E>(-x.abs());
    // 1 + e = d + d_lo exactly (Fast2Sum); q = num / d, then the first-order
    // correction for d_lo, with 1 / d = q (x >= 0) or 1 - q (x < 0).
    let d = one + e;
    let d_lo = (one - d) + e;
    let neg = x.lt(k::<E>(0.0));
    let q = E::F32::select(neg, e, one) / d;
    let inv = E::F32::select(neg, one - q, q);
    q - q * (d_lo * inv)
}

/// sqrt(1/2): log's mantissa is reduced to [sqrt(1/2), sqrt(2)).
const SQRTH: f32 = std::f32::consts::FRAC_1_SQRT_2;

/// ln(m 2^e) + d for m in [0.5, 1), integer e (as f32) and a small d:
/// Cephes' logf polynomial on f = m - 1 or 2m - 1, in
/// [sqrt(1/2) - 1, sqrt(2) - 1); d joins the small terms before f.
#[inline(always)]
fn log_core<E: Family>(m: E::F32, e: E::F32, d: E::F32) -> E::F32 {
    let one = k::<E>(1.0);
    let lo = m.lt(k::<E>(SQRTH));
    let e = E::F32::select(lo, e - one, e);
    let f = E::F32::select(lo, m + m - one, m - one);
    let z = f * f;
    let p = ((((((((k::<E>(7.037_683_6e-2) * f - k::<E>(1.151_461e-1)) * f
        + k::<E>(1.167_699_9e-1))
        * f
        - k::<E>(1.242_014_1e-1))
        * f
        + k::<E>(1.424_932_3e-1))
        * f
        - k::<E>(1.666_805_8e-1))
        * f
        + k::<E>(2.000_071_5e-1))
        * f
        - k::<E>(2.499_999_4e-1))
        * f
        + k::<E>(3.333_333e-1))
        * f
        * z;
    let y = p + k::<E>(LN2_LO) * e - k::<E>(0.5) * z + d;
    f + y + k::<E>(LN2_HI) * e
}

/// Split a positive normal f32 into (m in [0.5, 1), exponent as f32).
#[inline(always)]
fn frexp<E: Family>(x: E::F32) -> (E::F32, E::F32) {
    let b = x.to_bits();
    let m = E::F32::from_bits(b.and(u::<E>(0x007f_ffff)).or(u::<E>(0x3f00_0000)));
    let e = b.shr_logical(u::<E>(23)).cast::<E::I32>().sub(i::<E>(126));
    (m, e.cast())
}

/// The canonical NaN (`f32::NAN`).
#[inline(always)]
fn nan<E: Family>() -> E::F32 {
    E::F32::from_bits(u::<E>(0x7fc0_0000))
}

/// ln(x) for f32. Max error 1 ulp (measured 0.83), subnormal inputs
/// included; -inf at ±0, NaN below 0, +inf at +inf; NaN stays NaN.
#[inline(always)]
pub fn log<E: Family>(x: E::F32) -> E::F32 {
    // Subnormals: scale by 2^23 into the normal range first.
    let sub = x.lt(k::<E>(f32::MIN_POSITIVE));
    let xs = E::F32::select(sub, x * k::<E>(8_388_608.0), x);
    let (m, e) = frexp::<E>(xs);
    let e = E::F32::select(sub, e - k::<E>(23.0), e);
    let v = log_core::<E>(m, e, k::<E>(0.0));
    let r = E::F32::select(x.eq(E::F32::highest()), x, v);
    let r = E::F32::select(x.is_nan().or(x.lt(k::<E>(0.0))), nan::<E>(), r);
    E::F32::select(x.eq(k::<E>(0.0)), E::F32::lowest(), r)
}

/// ln(1 + x) for f32. Max error 1 ulp (measured 0.87); exact for
/// |x| < 2^-24 (keeps the sign of zero); -inf at -1, NaN below -1, +inf at
/// +inf; NaN stays NaN.
#[inline(always)]
pub fn log1p<E: Family>(x: E::F32) -> E::F32 {
    // u = fl(1 + x) loses the low bits of x; c = (1 + x) - u exactly, and
    // ln(1 + x) = ln(u) + ln(1 + c/u) = ln(u) + c/u to well under an ulp.
    let one = k::<E>(1.0);
    let u = one + x;
    let c = E::F32::select(u.lt(k::<E>(2.0)), x - (u - one), one - (u - x));
    // u >= 2^-24 for x > -1, so u is normal.
    let (m, e) = frexp::<E>(u.max(k::<E>(f32::MIN_POSITIVE)));
    let v = log_core::<E>(m, e, c / u);
    let r = E::F32::select(x.eq(E::F32::highest()), x, v);
    let r = E::F32::select(x.is_nan().or(x.lt(-one)), nan::<E>(), r);
    let r = E::F32::select(x.eq(-one), E::F32::lowest(), r);
    E::F32::select(x.eq(k::<E>(0.0)), x, r)
}

/// erf(x) for f32. Max error 2 ulp (measured 1.58): x + x q(x^2) for
/// |x| < 0.875, 1 - e^{-x^2} R(1/|x|) with the sign of x above (±1 beyond
/// |x| = 4, where erfc(x) < 2^-25); keeps the sign of zero; NaN stays NaN.
#[inline(always)]
pub fn erf<E: Family>(x: E::F32) -> E::F32 {
    let a = x.abs();
    let z = x * x;
    let q = (((((k::<E>(8.689_902_5e-5) * z - k::<E>(8.215_184e-4)) * z + k::<E>(5.207_182e-3))
        * z
        - k::<E>(2.686_18e-2))
        * z
        + k::<E>(1.128_373_8e-1))
        * z
        - k::<E>(3.761_263_8e-1))
        * z
        + k::<E>(1.283_791_7e-1);
    let small = x + x * q;
    let ac = clamp::<E>(a, 0.875, 4.0);
    let t = k::<E>(1.0) / ac;
    let r = (((((((k::<E>(6.977_603_3e-3) * t - k::<E>(5.930_640_5e-2)) * t
        + k::<E>(2.257_542_2e-1))
        * t
        - k::<E>(5.024_227_5e-1))
        * t
        + k::<E>(7.028_753e-1))
        * t
        - k::<E>(5.736_837_4e-1))
        * t
        + k::<E>(7.293_469_5e-2))
        * t
        + k::<E>(5.538_05e-1))
        * t
        + k::<E>(6.496_572_8e-4);
    let big = k::<E>(1.0) - exp::<E>(-(ac * ac)) * r;
    let big = E::F32::select(x.lt(k::<E>(0.0)), -big, big);
    E::F32::select(a.lt(k::<E>(0.875)).or(x.is_nan()), small, big)
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
fn reduce_pio2<E: Family>(b: E::U32) -> (E::U32, E::F64) {
    let m: E::U64 = b.and(u::<E>(0x007f_ffff)).or(u::<E>(0x0080_0000)).cast();
    // |x| = m 2^(E - 150): only 2/pi's bits from 2^-(E - 151) on matter (the
    // earlier ones add multiples of 4). With TWO_OVER_PI's 32 zeros in front,
    // that is bit s = E - 120 from its top (E >= 126: s in [6, 134]; E = 255
    // for inf/NaN, and E < 126, whose results are not used, are clamped).
    let s = b.shr_logical(u::<E>(23)).sub(u::<E>(120)).min(u::<E>(135));
    let q = s.shr_logical(u::<E>(6));
    let sh: E::U64 = s.and(u::<E>(63)).cast();
    // Words q, q + 1, q + 2 (q in 0..=2), picked with masks: written as an
    // index or as selects, LLVM turns it into a gather from memory.
    let mask = |j: u32| E::U64::select(q.eq(u::<E>(j)), E::U64::ones(), E::U64::zeros());
    let (m0, m1, m2) = (mask(0), mask(1), mask(2));
    let word = |j: usize| {
        w::<E>(TWO_OVER_PI[j])
            .and(m0)
            .or(w::<E>(TWO_OVER_PI[j + 1]).and(m1))
            .or(w::<E>(TWO_OVER_PI[j + 2]).and(m2))
    };
    let (w0, w1, w2) = (word(0), word(1), word(2));
    // Bits [sh, sh + 96) of w0:w1:w2 (`>> 1 >> (63 - sh)` is `>> (64 - sh)`
    // without a shift by 64 when sh = 0).
    let one = w::<E>(1);
    let back = w::<E>(63).sub(sh);
    let top = w0.shl(sh).or(w1.shr_logical(one).shr_logical(back));
    let next = w1.shl(sh).or(w2.shr_logical(one).shr_logical(back));
    let (hi, mid, lo) = (
        top.shr_logical(w::<E>(32)),
        top.and(w::<E>(0xffff_ffff)),
        next.shr_logical(w::<E>(32)),
    );
    // m * window / 2^32, mod 2^64: |x| 2/pi mod 4 with 62 fraction bits.
    // (Written with 32-bit products instead, it runs 12% slower on AVX-512.)
    let y = m
        .mul(hi)
        .shl(w::<E>(32))
        .add(m.mul(mid))
        .add(m.mul(lo).shr_logical(w::<E>(32)));
    let n = y.add(w::<E>(1 << 61)).shr_logical(w::<E>(62));
    let f = y.sub(n.shl(w::<E>(62))).cast::<E::I64>();
    // pi/2 * 2^-62
    (
        n.cast(),
        f.cast::<E::F64>() * E::F64::c(3.406_121_580_086_094e-19),
    )
}

/// (sin, cos) of r + lo, |r| <= pi/4, |lo| <= ulp(r) / 2: Cephes'
/// polynomials, with fdlibm's first-order terms in lo; cos as
/// w + ((1 - w) - r^2/2 + ...) with w = 1 - r^2/2, which saves the rounding
/// of w. The leading term is added last, so each result is rounded about once.
#[inline(always)]
fn sincos_poly<E: Family>(r: E::F32, lo: E::F32) -> (E::F32, E::F32) {
    let z = r * r;
    let sp =
        ((k::<E>(-1.951_529_6e-4) * z + k::<E>(8.332_161e-3)) * z - k::<E>(1.666_665_5e-1)) * z * r;
    let half = k::<E>(0.5);
    let s = r + (sp + (lo - half * z * lo));
    let hz = half * z;
    let one = k::<E>(1.0);
    let w = one - hz;
    let cp = ((k::<E>(2.443_315_7e-5) * z - k::<E>(1.388_731_6e-3)) * z + k::<E>(4.166_664_6e-2))
        * z
        * z;
    let c = w + (((one - w) - hz) + (cp - r * lo));
    (s, c)
}

/// The quadrant n and reduced argument r + lo of |x| (n = 0, r = |x| below
/// 0.5).
#[inline(always)]
fn quadrant<E: Family>(x: E::F32) -> (E::U32, E::F32, E::F32) {
    let b = x.to_bits().and(u::<E>(0x7fff_ffff));
    let (n, r) = reduce_pio2::<E>(b);
    let hi: E::F32 = r.cast();
    let lo: E::F32 = (r - hi.cast::<E::F64>()).cast();
    let small = b.lt(u::<E>(0x3f00_0000));
    (
        E::U32::select(small, u::<E>(0), n),
        E::F32::select(small, E::F32::from_bits(b), hi),
        E::F32::select(small, k::<E>(0.0), lo),
    )
}

/// `v` with the sign bit flipped where `flip` has it set.
#[inline(always)]
fn flip_sign<E: Family>(v: E::F32, flip: E::U32) -> E::F32 {
    E::F32::from_bits(v.to_bits().xor(flip))
}

/// Whether x is finite (neither NaN nor infinite).
#[inline(always)]
fn finite<E: Family>(x: E::F32) -> <E as Family>::Bool {
    x.abs().lt(E::F32::highest())
}

/// sin(x) for f32, exactly range-reduced for every finite x. Max error
/// 1 ulp (measured 0.83); keeps the sign of zero; NaN at ±inf and NaN.
#[inline(always)]
pub fn sin<E: Family>(x: E::F32) -> E::F32 {
    let (n, r, lo) = quadrant::<E>(x);
    let (s, c) = sincos_poly::<E>(r, lo);
    let odd = n.and(u::<E>(1)).ne(u::<E>(0));
    let v = E::F32::select(odd, c, s);
    // sin is odd: flip for quadrants 2, 3 and for x < 0.
    let flip = n
        .and(u::<E>(2))
        .shl(u::<E>(30))
        .xor(x.to_bits().and(u::<E>(0x8000_0000)));
    E::F32::select(finite::<E>(x), flip_sign::<E>(v, flip), nan_of::<E>(x))
}

/// cos(x) for f32, exactly range-reduced for every finite x. Max error
/// 1 ulp (measured 0.83); NaN at ±inf and NaN.
#[inline(always)]
pub fn cos<E: Family>(x: E::F32) -> E::F32 {
    let (n, r, lo) = quadrant::<E>(x);
    let (s, c) = sincos_poly::<E>(r, lo);
    let odd = n.and(u::<E>(1)).ne(u::<E>(0));
    let v = E::F32::select(odd, s, c);
    // cos(r + n pi/2) is cos r, -sin r, -cos r, sin r for n = 0..3.
    let flip = n.add(u::<E>(1)).and(u::<E>(2)).shl(u::<E>(30));
    E::F32::select(finite::<E>(x), flip_sign::<E>(v, flip), nan_of::<E>(x))
}

/// `x - x`: NaN for ±inf and NaN (the hardware's default NaN, or x's).
#[inline(always)]
#[allow(clippy::eq_op)]
fn nan_of<E: Family>(x: E::F32) -> E::F32 {
    x - x
}

#[cfg(test)]
mod tests {
    use super::super::Concrete;
    use super::*;

    fn exp_f32(x: f32) -> f32 {
        exp::<Concrete>(x)
    }
    fn expm1_f32(x: f32) -> f32 {
        expm1::<Concrete>(x)
    }
    fn tanh_f32(x: f32) -> f32 {
        tanh::<Concrete>(x)
    }
    fn logistic_f32(x: f32) -> f32 {
        logistic::<Concrete>(x)
    }
    fn log_f32(x: f32) -> f32 {
        log::<Concrete>(x)
    }
    fn log1p_f32(x: f32) -> f32 {
        log1p::<Concrete>(x)
    }
    fn erf_f32(x: f32) -> f32 {
        erf::<Concrete>(x)
    }
    fn sin_f32(x: f32) -> f32 {
        sin::<Concrete>(x)
    }
    fn cos_f32(x: f32) -> f32 {
        cos::<Concrete>(x)
    }

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
            if e > w.0 || e.is_nan() {
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
