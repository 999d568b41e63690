//! Elementwise unary ops, one line each. `Real` gives every float type the
//! math the ops need; f16/bf16 compute in f32.
use super::scalar::Num;
use super::{Kernel, OpSpec, Registry};
use crate::buffer::Buffer;
use crate::dtype::Element;
use crate::error::Result;
use crate::exec::parallel::{par_fill, GRAIN};
use half::{bf16, f16};

/// Float math for kernels. Implemented for f32 and f64 directly and for the
/// 16-bit floats through f32.
pub trait Real: Element + num_traits::Float {
    fn erf(self) -> Self;
}

impl Real for f32 {
    fn erf(self) -> Self {
        libm::erff(self)
    }
}
impl Real for f64 {
    fn erf(self) -> Self {
        libm::erf(self)
    }
}
macro_rules! real_via_f32 {
    ($($t:ty),*) => {$(
        impl Real for $t {
            fn erf(self) -> Self { <$t>::from_f32(libm::erff(self.to_f32())) }
        }
    )*};
}
real_via_f32!(f16, bf16);

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

/// `float_unary!(registry, "name", |x| expr)`: a float -> same-float op.
macro_rules! float_unary {
    ($r:expr, $name:literal, |$x:ident| $body:expr) => {{
        fn scalar<T: Real>($x: T) -> T {
            $body
        }
        $r.add($name, |spec: &OpSpec| -> Result<Kernel> {
            spec.arity(1, 1)?;
            let dt = spec.ins[0].dtype;
            crate::dispatch_dtype!(dt, $name, T => {
                Ok(Box::new(|ins: &[&Buffer]| Ok(vec![map1::<T, T>(ins[0], scalar::<T>)?])) as Kernel)
            }, float)
        });
    }};
}

/// `numeric_unary!(registry, "name", |x| expr)`: an op on every non-bool dtype.
macro_rules! numeric_unary {
    ($r:expr, $name:literal, |$x:ident| $body:expr) => {{
        fn scalar<T: Num>($x: T) -> T {
            $body
        }
        $r.add($name, |spec: &OpSpec| -> Result<Kernel> {
            spec.arity(1, 1)?;
            let dt = spec.ins[0].dtype;
            crate::dispatch_dtype!(dt, $name, T => {
                Ok(Box::new(|ins: &[&Buffer]| Ok(vec![map1::<T, T>(ins[0], scalar::<T>)?])) as Kernel)
            }, numeric)
        });
    }};
}

pub fn register(r: &mut Registry) {
    numeric_unary!(r, "neg", |x| x.neg());
    float_unary!(r, "exp", |x| x.exp());
    float_unary!(r, "log", |x| x.ln());
    float_unary!(r, "tanh", |x| x.tanh());
    float_unary!(r, "sqrt", |x| x.sqrt());
    float_unary!(r, "erf", |x| x.erf());
}
