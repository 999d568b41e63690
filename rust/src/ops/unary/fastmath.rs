//! Branch-free f32 `exp` and `tanh` that the compiler vectorises (the scalar
//! libm calls cannot reach memory bandwidth). Cephes' polynomials; the tests
//! bound the error in ulp against an f64 reference over a dense sweep.

const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5 * 2^23: adding it rounds an f32 of magnitude < 2^22 to an integer.
const ROUND: f32 = 12_582_912.0;

/// e^x for f32, within 2 ulp for normal results; overflows to +inf above
/// 88.72; results below f32's normal range flush to 0; NaN stays NaN.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    let xc = x.clamp(-87.33, 88.72);
    let t = xc * LOG2E + ROUND;
    let n = t - ROUND; // round(x / ln 2)
    let r = xc - n * LN2_HI - n * LN2_LO;
    let z = r * r;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 5.000_000_1e-1;
    let y = p * z + r + 1.0;
    // 2^n as bits: n in [-126, 128]; split in two factors so 128 does not overflow the field.
    let ni = t.to_bits() as i32 - ROUND.to_bits() as i32;
    let h = ni >> 1;
    let s1 = f32::from_bits(((h + 127) as u32) << 23);
    let s2 = f32::from_bits(((ni - h + 127) as u32) << 23);
    let v = y * s1 * s2;
    if x > 88.72 {
        f32::INFINITY
    } else if x < -87.33 {
        0.0
    } else if x.is_nan() {
        x
    } else {
        v
    }
}

/// tanh for f32, within 2 ulp: an odd polynomial for |x| < 0.625, else
/// 1 - 2 / (e^{2|x|} + 1) with the sign of x.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ulp_err(got: f32, want: f64) -> f64 {
        if want == 0.0 {
            return (got as f64).abs() / f32::MIN_POSITIVE as f64;
        }
        let w = want as f32;
        let ulp = (f32::from_bits(w.abs().to_bits() + 1) - w.abs()) as f64;
        ((got as f64) - want).abs() / ulp
    }

    fn sweep(lo: f32, hi: f32, n: usize) -> impl Iterator<Item = f32> {
        (0..=n).map(move |i| lo + (hi - lo) * (i as f32 / n as f32))
    }

    #[test]
    fn exp_within_2_ulp() {
        let mut worst = 0.0f64;
        for x in sweep(-87.0, 88.5, 2_000_000) {
            worst = worst.max(ulp_err(exp_f32(x), (x as f64).exp()));
        }
        assert!(worst <= 2.0, "exp worst error {worst} ulp");
    }

    #[test]
    fn exp_special_values() {
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(100.0), f32::INFINITY);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(-200.0), 0.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert!(exp_f32(f32::NAN).is_nan());
    }

    #[test]
    fn tanh_within_2_ulp() {
        let mut worst = 0.0f64;
        for x in sweep(-12.0, 12.0, 2_000_000) {
            worst = worst.max(ulp_err(tanh_f32(x), (x as f64).tanh()));
        }
        assert!(worst <= 2.0, "tanh worst error {worst} ulp");
        assert_eq!(tanh_f32(f32::INFINITY), 1.0);
        assert_eq!(tanh_f32(f32::NEG_INFINITY), -1.0);
        assert_eq!(tanh_f32(0.0), 0.0);
        assert!(tanh_f32(-0.0).is_sign_negative());
        assert!(tanh_f32(f32::NAN).is_nan());
    }
}
