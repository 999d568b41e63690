//! The float functions of the elementwise ops, each defined once for both
//! precisions. Where f32 has a decomposition (`fastmath`) it is used; f64
//! calls the platform library (an extern call) until it gets one.
//! `F::DTYPE` is a constant, so one branch of each `if` remains after
//! monomorphisation, and a recorded DAG holds only the branch taken.
use super::fastmath;
use super::{Ext1, Family, Float, Value};
use crate::base::dtype::DType;

type F32<F> = <<F as Value>::Fam as Family>::F32;

/// `f32_fn(x)` if `F` is f32, else the extern call `f`.
#[inline(always)]
fn by_precision<F: Float>(x: F, f32_fn: impl Fn(F32<F>) -> F32<F>, f: Ext1) -> F {
    if F::DTYPE == DType::F32 {
        f32_fn(x.cast()).cast()
    } else {
        x.ext1(f)
    }
}

/// e^x.
#[inline(always)]
pub fn exp<F: Float>(x: F) -> F {
    by_precision(x, fastmath::exp::<F::Fam>, Ext1::Exp)
}

/// e^x - 1.
#[inline(always)]
pub fn expm1<F: Float>(x: F) -> F {
    by_precision(x, fastmath::expm1::<F::Fam>, Ext1::Expm1)
}

/// ln x.
#[inline(always)]
pub fn log<F: Float>(x: F) -> F {
    by_precision(x, fastmath::log::<F::Fam>, Ext1::Log)
}

/// ln(1 + x).
#[inline(always)]
pub fn log1p<F: Float>(x: F) -> F {
    by_precision(x, fastmath::log1p::<F::Fam>, Ext1::Log1p)
}

/// tanh x.
#[inline(always)]
pub fn tanh<F: Float>(x: F) -> F {
    by_precision(x, fastmath::tanh::<F::Fam>, Ext1::Tanh)
}

/// sin x.
#[inline(always)]
pub fn sin<F: Float>(x: F) -> F {
    by_precision(x, fastmath::sin::<F::Fam>, Ext1::Sin)
}

/// cos x.
#[inline(always)]
pub fn cos<F: Float>(x: F) -> F {
    by_precision(x, fastmath::cos::<F::Fam>, Ext1::Cos)
}

/// erf x.
#[inline(always)]
pub fn erf<F: Float>(x: F) -> F {
    by_precision(x, fastmath::erf::<F::Fam>, Ext1::Erf)
}

/// 1 / (1 + e^-x) without overflow: f32 has its own; f64 is
/// `e / (1 + e)` (x < 0) or `1 / (1 + e)` with `e = e^-|x|`.
#[inline(always)]
pub fn logistic<F: Float>(x: F) -> F {
    if F::DTYPE == DType::F32 {
        return fastmath::logistic::<F::Fam>(x.cast()).cast();
    }
    let one = F::one();
    let e = (-x.abs()).ext1(Ext1::Exp);
    F::select(x.lt(F::zero()), e / (one + e), one / (one + e))
}

/// 1 / sqrt(x).
#[inline(always)]
pub fn rsqrt<F: Float>(x: F) -> F {
    F::one() / x.sqrt()
}

/// e^-|x| I0(x).
#[inline(always)]
pub fn bessel_i0e<F: Float>(x: F) -> F {
    super::bessel::i0e(x)
}

/// e^-|x| I1(x).
#[inline(always)]
pub fn bessel_i1e<F: Float>(x: F) -> F {
    super::bessel::i1e(x)
}
