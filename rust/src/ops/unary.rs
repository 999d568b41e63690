//! Elementwise unary ops, one line each in `register`. Float ops are written
//! once over `Math` (f32 and f64); `Real` maps each float storage type to the
//! type its math runs in, so f16/bf16 compute in f32 and round once.
use super::scalar::{Bits, Int, Num};
use super::{Kernel, OpSpec, Registry};
use crate::base::buffer::Buffer;
use crate::base::dtype::Element;
use crate::base::error::Result;
use crate::loops::parallel::{par_fill, GRAIN};
use half::{bf16, f16};
use num_traits::Float;

pub mod fastmath;
pub mod special;

/// The math of the float ops, implemented for the compute types f32 and f64.
pub trait Math: Float + Send + Sync + 'static {
    fn erf(self) -> Self;
    fn erfc(self) -> Self;
    fn erf_inv(self) -> Self;
    fn lgamma(self) -> Self;
    fn digamma(self) -> Self;
    /// Round half to even.
    fn round_even(self) -> Self;
    /// A constant (exact for the constants the ops use).
    fn c(v: f64) -> Self;
    // The `_v` methods: libm/std for f64; for f32 the branch-free, vectorisable
    // versions of `fastmath` (their max errors in ulp are stated there).
    /// e^x (f32: <= 1 ulp).
    fn exp_v(self) -> Self;
    /// tanh (f32: <= 2 ulp).
    fn tanh_v(self) -> Self;
    /// ln x (f32: <= 1 ulp).
    fn log_v(self) -> Self;
    /// ln(1 + x) (f32: <= 1 ulp).
    fn log1p_v(self) -> Self;
    /// e^x - 1 (f32: <= 1 ulp).
    fn expm1_v(self) -> Self;
    /// 1 / (1 + e^-x), without overflow for large |x| (f32: <= 2 ulp).
    fn logistic_v(self) -> Self;
    /// erf (f32: <= 2 ulp).
    fn erf_v(self) -> Self;
    /// sin, exactly range-reduced for every finite x (f32: <= 1 ulp).
    fn sin_v(self) -> Self;
    /// cos, exactly range-reduced for every finite x (f32: <= 1 ulp).
    fn cos_v(self) -> Self;
}

impl Math for f64 {
    fn erf(self) -> Self {
        libm::erf(self)
    }
    fn erfc(self) -> Self {
        libm::erfc(self)
    }
    fn erf_inv(self) -> Self {
        special::erf_inv(self)
    }
    fn lgamma(self) -> Self {
        libm::lgamma(self)
    }
    fn digamma(self) -> Self {
        special::digamma(self)
    }
    fn round_even(self) -> Self {
        self.round_ties_even()
    }
    fn c(v: f64) -> Self {
        v
    }
    fn exp_v(self) -> Self {
        self.exp()
    }
    fn tanh_v(self) -> Self {
        self.tanh()
    }
    fn log_v(self) -> Self {
        self.ln()
    }
    fn log1p_v(self) -> Self {
        self.ln_1p()
    }
    fn expm1_v(self) -> Self {
        self.exp_m1()
    }
    fn logistic_v(self) -> Self {
        // e^-|x| never overflows; for x < 0, e^x / (1 + e^x) keeps the tail.
        let e = (-self.abs()).exp();
        if self < 0.0 {
            e / (1.0 + e)
        } else {
            1.0 / (1.0 + e)
        }
    }
    fn erf_v(self) -> Self {
        libm::erf(self)
    }
    fn sin_v(self) -> Self {
        self.sin()
    }
    fn cos_v(self) -> Self {
        self.cos()
    }
}

impl Math for f32 {
    fn erf(self) -> Self {
        libm::erff(self)
    }
    fn erfc(self) -> Self {
        libm::erfcf(self)
    }
    fn erf_inv(self) -> Self {
        special::erf_inv(self as f64) as f32
    }
    fn lgamma(self) -> Self {
        libm::lgamma(self as f64) as f32
    }
    fn digamma(self) -> Self {
        special::digamma(self as f64) as f32
    }
    fn round_even(self) -> Self {
        self.round_ties_even()
    }
    fn c(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn exp_v(self) -> Self {
        fastmath::exp_f32(self)
    }
    #[inline(always)]
    fn tanh_v(self) -> Self {
        fastmath::tanh_f32(self)
    }
    #[inline(always)]
    fn log_v(self) -> Self {
        fastmath::log_f32(self)
    }
    #[inline(always)]
    fn log1p_v(self) -> Self {
        fastmath::log1p_f32(self)
    }
    #[inline(always)]
    fn expm1_v(self) -> Self {
        fastmath::expm1_f32(self)
    }
    #[inline(always)]
    fn logistic_v(self) -> Self {
        fastmath::logistic_f32(self)
    }
    #[inline(always)]
    fn erf_v(self) -> Self {
        fastmath::erf_f32(self)
    }
    #[inline(always)]
    fn sin_v(self) -> Self {
        fastmath::sin_f32(self)
    }
    #[inline(always)]
    fn cos_v(self) -> Self {
        fastmath::cos_f32(self)
    }
}

/// A float storage type: `C` is the type its math is computed in.
pub trait Real: Element + Float {
    type C: Math;
    fn up(self) -> Self::C;
    fn down(c: Self::C) -> Self;
    /// The next representable value after `self` towards `o` (bit-exact).
    fn next_after(self, o: Self) -> Self;
    fn erf(self) -> Self {
        Self::down(Math::erf(self.up()))
    }
}

macro_rules! real_impl {
    ($t:ty, $c:ty, $bits:ty, $up:expr, $down:expr) => {
        impl Real for $t {
            type C = $c;
            #[inline(always)]
            fn up(self) -> $c {
                $up(self)
            }
            #[inline(always)]
            fn down(c: $c) -> Self {
                $down(c)
            }
            fn next_after(self, o: Self) -> Self {
                if self.is_nan() || o.is_nan() {
                    return <$t as Float>::nan();
                }
                if self == o {
                    return o;
                }
                let sign: $bits = 1 << (8 * std::mem::size_of::<$bits>() - 1);
                if self == <$t as num_traits::Zero>::zero() {
                    return <$t>::from_bits(1 | (o.to_bits() & sign));
                }
                let b = self.to_bits();
                let up = (self < o) == (self > <$t as num_traits::Zero>::zero());
                <$t>::from_bits(if up { b + 1 } else { b - 1 })
            }
        }
    };
}
real_impl!(f32, f32, u32, |x| x, |c| c);
real_impl!(f64, f64, u64, |x| x, |c| c);
real_impl!(f16, f32, u16, f16::to_f32, f16::from_f32);
real_impl!(bf16, f32, u16, bf16::to_f32, bf16::from_f32);

/// Apply `f` elementwise, in parallel for large inputs.
pub fn map1<T: Element, U: Element>(
    x: &Buffer,
    f: impl Fn(T) -> U + Sync + Send,
) -> Result<Buffer> {
    let xs = x.slice::<T>()?;
    Ok(Buffer::build::<U>(x.shape.clone(), |out| {
        par_fill(out, GRAIN, |off, chunk| {
            let m = chunk.len();
            for (o, &v) in chunk.iter_mut().zip(&xs[off..off + m]) {
                *o = f(v);
            }
        })
    }))
}

/// `float_unary!(registry, "name", |x| expr)`: a float -> same-float op; the
/// body is generic over `M: Math` and runs in the dtype's compute type.
macro_rules! float_unary {
    ($r:expr, $name:literal, |$x:ident| $body:expr) => {{
        #[allow(unused_imports)]
        use num_traits::{One, Zero};
        fn scalar<M: Math>($x: M) -> M {
            $body
        }
        $r.add($name, |spec: &OpSpec| -> Result<Kernel> {
            spec.arity(1, 1)?;
            crate::dispatch_dtype!(spec.ins[0].dtype, $name, T => {
                Ok(Box::new(|ins: &[&Buffer]| {
                    Ok(vec![map1::<T, T>(ins[0], |v: T| T::down(scalar(v.up())))?])
                }) as Kernel)
            }, float)
        });
    }};
}

/// `typed_unary!(registry, "name", Trait, kind, |x| expr)`: an op over the
/// dtypes of `kind` (`numeric`, `int`, `intbool`) whose scalar type implements `Trait`.
macro_rules! typed_unary {
    ($r:expr, $name:literal, $tr:ident, $kind:ident, |$x:ident| $body:expr) => {{
        fn scalar<T: $tr>($x: T) -> T {
            $body
        }
        $r.add($name, |spec: &OpSpec| -> Result<Kernel> {
            spec.arity(1, 1)?;
            crate::dispatch_dtype!(spec.ins[0].dtype, $name, T => {
                Ok(Box::new(|ins: &[&Buffer]| Ok(vec![map1::<T, T>(ins[0], scalar::<T>)?])) as Kernel)
            }, $kind)
        });
    }};
}

/// round[rounding_method]: 0 rounds half away from zero, 1 half to even.
fn build_round(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(1, 1)?;
    let even = match spec.params.int("rounding_method")? {
        0 => false,
        1 => true,
        m => crate::bail!(crate::base::error::Error::BadParam {
            op: "round".into(),
            param: "rounding_method".into(),
            msg: format!("expected 0 or 1, got {m}"),
        }),
    };
    crate::dispatch_dtype!(spec.ins[0].dtype, "round", T => {
        Ok(Box::new(move |ins: &[&Buffer]| {
            Ok(vec![if even {
                map1::<T, T>(ins[0], |v: T| T::down(v.up().round_even()))?
            } else {
                map1::<T, T>(ins[0], |v: T| T::down(v.up().round()))?
            }])
        }) as Kernel)
    }, float)
}

fn build_is_finite(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(1, 1)?;
    crate::dispatch_dtype!(spec.ins[0].dtype, "is_finite", T => {
        Ok(Box::new(|ins: &[&Buffer]| Ok(vec![map1::<T, bool>(ins[0], |v: T| v.is_finite())?]))
            as Kernel)
    }, float)
}

/// integer_pow[y]: repeated squaring in the operand's dtype (ints wrap).
fn build_integer_pow(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(1, 1)?;
    let y = spec.params.int("y")?;
    crate::dispatch_dtype!(spec.ins[0].dtype, "integer_pow", T => {
        Ok(Box::new(move |ins: &[&Buffer]| Ok(vec![map1::<T, T>(ins[0], |v: T| v.ipow(y))?]))
            as Kernel)
    }, numeric)
}

pub fn register(r: &mut Registry) {
    typed_unary!(r, "neg", Num, numeric, |x| x.neg());
    typed_unary!(r, "sign", Num, numeric, |x| x.sign());
    typed_unary!(r, "abs", Num, numeric, |x| x.abs());
    typed_unary!(r, "square", Num, numeric, |x| x.mul(x));
    typed_unary!(r, "not", Bits, intbool, |x| x.not());
    typed_unary!(r, "population_count", Int, int, |x| x.popcount());
    typed_unary!(r, "clz", Int, int, |x| x.clz());
    float_unary!(r, "floor", |x| x.floor());
    float_unary!(r, "ceil", |x| x.ceil());
    float_unary!(r, "exp", |x| x.exp_v());
    float_unary!(r, "exp2", |x| x.exp2());
    float_unary!(r, "log", |x| x.log_v());
    float_unary!(r, "log1p", |x| x.log1p_v());
    float_unary!(r, "expm1", |x| x.expm1_v());
    float_unary!(r, "tanh", |x| x.tanh_v());
    float_unary!(r, "logistic", |x| x.logistic_v());
    float_unary!(r, "sin", |x| x.sin_v());
    float_unary!(r, "cos", |x| x.cos_v());
    float_unary!(r, "tan", |x| x.tan());
    float_unary!(r, "asin", |x| x.asin());
    float_unary!(r, "acos", |x| x.acos());
    float_unary!(r, "atan", |x| x.atan());
    float_unary!(r, "sinh", |x| x.sinh());
    float_unary!(r, "cosh", |x| x.cosh());
    float_unary!(r, "asinh", |x| x.asinh());
    float_unary!(r, "acosh", |x| x.acosh());
    float_unary!(r, "atanh", |x| x.atanh());
    float_unary!(r, "sqrt", |x| x.sqrt());
    float_unary!(r, "rsqrt", |x| x.sqrt().recip());
    float_unary!(r, "cbrt", |x| x.cbrt());
    float_unary!(r, "erf", |x| x.erf_v());
    float_unary!(r, "erfc", |x| x.erfc());
    float_unary!(r, "erf_inv", |x| x.erf_inv());
    float_unary!(r, "lgamma", |x| x.lgamma());
    float_unary!(r, "digamma", |x| x.digamma());
    r.add("round", build_round);
    r.add("is_finite", build_is_finite);
    r.add("integer_pow", build_integer_pow);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::dtype::DType;
    use crate::base::params::{Param, Params};
    use crate::ops::{build, Aval};

    fn run1<T: Element, U: Element>(op: &str, p: Params, x: &[T], out: DType) -> Vec<U> {
        let p = Params { op: op.into(), ..p };
        let ins = [Aval::new(T::DTYPE, vec![x.len()])];
        let outs = [Aval::new(out, vec![x.len()])];
        let k = build(&OpSpec {
            params: &p,
            ins: &ins,
            outs: &outs,
        })
        .unwrap();
        let b = Buffer::from_vec(vec![x.len()], x).unwrap();
        k(&[&b]).unwrap()[0].slice::<U>().unwrap().to_vec()
    }

    #[test]
    fn rounding_and_pow() {
        let x = [0.5f32, 1.5, 2.5, -0.5, -2.5];
        let p = Params::new("round").with("rounding_method", Param::Int(1));
        assert_eq!(
            run1::<f32, f32>("round", p, &x, DType::F32),
            [0., 2., 2., -0., -2.]
        );
        let p = Params::new("round").with("rounding_method", Param::Int(0));
        assert_eq!(
            run1::<f32, f32>("round", p, &x, DType::F32),
            [1., 2., 3., -1., -3.]
        );
        let p = Params::new("integer_pow").with("y", Param::Int(3));
        assert_eq!(
            run1::<i8, i8>("integer_pow", p, &[2, 7, -3], DType::I8),
            [8, 87, -27]
        );
        let p = Params::new("integer_pow").with("y", Param::Int(-2));
        assert_eq!(
            run1::<f64, f64>("integer_pow", p, &[2.0, 0.5], DType::F64),
            [0.25, 4.0]
        );
    }

    #[test]
    fn half_and_bits() {
        let x = [f16::from_f32(0.5), f16::from_f32(-1.0)];
        let y: Vec<f16> = run1("exp", Params::default(), &x, DType::F16);
        assert_eq!(y[0], f16::from_f32(0.5f32.exp()));
        let z: Vec<u8> = run1(
            "population_count",
            Params::default(),
            &[255u8, 0, 7],
            DType::U8,
        );
        assert_eq!(z, [8, 0, 3]);
        let z: Vec<i32> = run1("clz", Params::default(), &[1i32, 0, -1], DType::I32);
        assert_eq!(z, [31, 32, 0]);
        let z: Vec<bool> = run1("not", Params::default(), &[true, false], DType::Bool);
        assert_eq!(z, [false, true]);
        let b: Vec<bool> = run1(
            "is_finite",
            Params::default(),
            &[1.0f32, f32::NAN, f32::INFINITY],
            DType::Bool,
        );
        assert_eq!(b, [true, false, false]);
    }

    #[test]
    fn next_after_bits() {
        assert_eq!(1.0f32.next_after(2.0), 1.0 + f32::EPSILON);
        assert_eq!(0.0f32.next_after(-1.0).to_bits(), 0x8000_0001);
        assert_eq!(f16::ONE.next_after(f16::ZERO), f16::from_bits(0x3bff));
        assert!(1.0f64.next_after(f64::NAN).is_nan());
    }
}
