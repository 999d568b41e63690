//! Special functions in f64 (f32 calls them and rounds once): erf_inv and
//! digamma. lgamma, erf and erfc come from libm.
use std::f64::consts::PI;

/// Inverse error function: a single-precision rational first guess (Giles,
/// "Approximating the erfinv function", 2010) refined by two Halley steps on
/// `erf`/`erfc`, which gives full double precision. erf_inv(±1) = ±inf and
/// |y| > 1 gives NaN, as in JAX.
pub fn erf_inv(y: f64) -> f64 {
    let a = y.abs();
    if y.is_nan() || a > 1.0 {
        return f64::NAN;
    }
    if a == 1.0 {
        return f64::INFINITY.copysign(y);
    }
    if a == 0.0 {
        return y;
    }
    let mut w = -((1.0 - a) * (1.0 + a)).ln();
    let mut x = if w < 5.0 {
        w -= 2.5;
        let mut p = 2.810_226_36e-08;
        for c in [
            3.432_739_39e-07,
            -3.523_387_7e-06,
            -4.391_506_54e-06,
            0.000_218_580_87,
            -0.001_253_725_03,
            -0.004_177_681_64,
            0.246_640_727,
            1.501_409_41,
        ] {
            p = c + p * w;
        }
        p * a
    } else {
        w = w.sqrt() - 3.0;
        let mut p = -0.000_200_214_257;
        for c in [
            0.000_100_950_558,
            0.001_349_343_22,
            -0.003_673_428_44,
            0.005_739_507_73,
            -0.007_622_461_3,
            0.009_438_870_47,
            1.001_674_06,
            2.832_976_82,
        ] {
            p = c + p * w;
        }
        p * a
    };
    let two_over_sqrt_pi = 2.0 / PI.sqrt();
    for _ in 0..3 {
        // err = erf(x) - a, computed through erfc in the tail to keep digits.
        let err = if a < 0.5 {
            libm::erf(x) - a
        } else {
            (1.0 - a) - libm::erfc(x)
        };
        let d = two_over_sqrt_pi * (-x * x).exp();
        if d == 0.0 || !err.is_finite() {
            break;
        }
        x -= err / (d + x * err);
    }
    x.copysign(y)
}

/// Digamma (psi), the derivative of lgamma: reflection for x < 0, recurrence
/// up to x >= 10, then the asymptotic series. NaN at 0 and the negative
/// integers (as JAX returns).
pub fn digamma(x: f64) -> f64 {
    if x.is_nan() || x == f64::NEG_INFINITY {
        return f64::NAN;
    }
    if x == f64::INFINITY {
        return x;
    }
    if x <= 0.0 && x == x.floor() {
        return f64::NAN;
    }
    let (mut x, mut acc) = (x, 0.0);
    if x < 0.0 {
        // psi(x) = psi(1 - x) - pi / tan(pi x); reduce the argument of tan first.
        let r = x - x.round();
        acc = -PI / (PI * r).tan();
        x = 1.0 - x;
    }
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    let series = f
        * (1.0 / 12.0
            - f * (1.0 / 120.0
                - f * (1.0 / 252.0 - f * (1.0 / 240.0 - f * (1.0 / 132.0 - f * 691.0 / 32760.0)))));
    acc + x.ln() - 0.5 / x - series
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_inv_roundtrip() {
        for &y in &[
            -0.999_999,
            -0.9,
            -0.3,
            1e-10,
            0.1,
            0.5,
            0.75,
            0.99,
            1.0 - 1e-12,
        ] {
            let x = erf_inv(y);
            assert!(
                (libm::erf(x) - y).abs() <= 1e-15 * y.abs().max(1e-300) + 1e-16,
                "{y}"
            );
        }
        assert_eq!(erf_inv(1.0), f64::INFINITY);
        assert_eq!(erf_inv(-1.0), f64::NEG_INFINITY);
        assert!(erf_inv(1.5).is_nan());
        assert_eq!(erf_inv(0.0), 0.0);
    }

    #[test]
    fn digamma_values() {
        let euler = 0.577_215_664_901_532_9;
        assert!((digamma(1.0) + euler).abs() < 1e-14);
        assert!((digamma(0.5) - (-euler - 2.0 * 2f64.ln())).abs() < 1e-14);
        // psi(-1.5) = psi(2.5) (reflection with cot(-1.5 pi) = 0)
        assert!((digamma(-1.5) - 0.703_156_640_645_243_2).abs() < 1e-13);
        assert!((digamma(100.0) - 4.600_161_852_738_087).abs() < 1e-13);
        assert!(digamma(0.0).is_nan() && digamma(-3.0).is_nan());
    }
}
