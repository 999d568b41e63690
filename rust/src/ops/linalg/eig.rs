//! The nonsymmetric eigendecomposition `eig` and the Hessenberg form
//! `hessenberg`.
#![allow(clippy::needless_range_loop)]
use super::{batch_of, for_batch, read, Out, Scalar};
use crate::base::buffer::Buffer;
use crate::base::error::Result;
use crate::ops::{Kernel, OpSpec};
use faer::complex::Complex;
use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::evd::{self, ComputeEigenvectors};
use faer::linalg::householder;
use faer::traits::math_utils::{nan, one, zero};
use faer::traits::RealField;
use faer::{Conj, Mat, Par};

/// A nonsymmetric eigendecomposition: the eigenvalues, and the left and
/// right eigenvectors when asked for (columns, complex).
type Evd<C> = (Vec<C>, Option<Mat<C>>, Option<Mat<C>>);

/// An input dtype of `eig`, with the complex dtype of its outputs.
pub trait EigIn: Scalar {
    type C: Scalar;
    /// LAPACK's `geev`, or `Err` when the iteration fails (or the input is
    /// not finite).
    fn evd(a: &Mat<Self>, left: bool, right: bool) -> std::result::Result<Evd<Self::C>, ()>;
}

fn want(b: bool) -> ComputeEigenvectors {
    if b {
        ComputeEigenvectors::Yes
    } else {
        ComputeEigenvectors::No
    }
}

/// Unpack LAPACK's real format: a complex pair (w[j], w[j+1] = conj(w[j]))
/// has the vectors x[:, j] +- i x[:, j+1].
fn unpack<R: RealField + Copy>(x: &Mat<R>, im: &[R]) -> Mat<Complex<R>> {
    let n = x.nrows();
    let mut out = Mat::<Complex<R>>::zeros(n, n);
    let mut j = 0;
    while j < n {
        if im[j] == zero() || j + 1 == n {
            for i in 0..n {
                out[(i, j)] = Complex::new(x[(i, j)], zero());
            }
            j += 1;
        } else {
            for i in 0..n {
                let (re, im) = (x[(i, j)], x[(i, j + 1)]);
                out[(i, j)] = Complex::new(re, im);
                out[(i, j + 1)] = Complex::new(re, -im);
            }
            j += 2;
        }
    }
    out
}

/// LAPACK's normalisation of eigenvectors: unit Euclidean norm, and (for a
/// complex vector) the component of largest modulus real. `real_input`
/// keeps that component's sign, as `dgeev`'s rotation does; `zgeev` makes it
/// positive.
fn normalise<R: num_traits_like::Float>(
    v: &mut Mat<Complex<R>>,
    is_real: &[bool],
    real_input: bool,
) {
    let n = v.nrows();
    for j in 0..v.ncols() {
        let mut norm = R::zero_();
        let (mut k, mut best) = (0, R::zero_());
        for i in 0..n {
            let m = v[(i, j)].re * v[(i, j)].re + v[(i, j)].im * v[(i, j)].im;
            norm = norm + m;
            if m > best {
                best = m;
                k = i;
            }
        }
        if norm == R::zero_() {
            continue;
        }
        let scale = R::one_() / norm.sqrt_();
        let mut phase = Complex::new(scale, R::zero_());
        if !is_real[j] && best > R::zero_() {
            let vk = v[(k, j)];
            let r = best.sqrt_();
            let mut p = Complex::new(vk.re / r, -vk.im / r);
            if real_input && vk.re < R::zero_() {
                p = Complex::new(-p.re, -p.im);
            }
            phase = Complex::new(p.re * scale, p.im * scale);
        }
        for i in 0..n {
            let x = v[(i, j)];
            v[(i, j)] = Complex::new(
                x.re * phase.re - x.im * phase.im,
                x.re * phase.im + x.im * phase.re,
            );
        }
        if !is_real[j] {
            v[(k, j)].im = R::zero_();
        }
    }
}

/// The few float operations `normalise` needs, for f32 and f64.
mod num_traits_like {
    use std::ops::{Add, Div, Mul, Neg, Sub};
    pub trait Float:
        Copy
        + PartialOrd
        + Add<Output = Self>
        + Sub<Output = Self>
        + Mul<Output = Self>
        + Div<Output = Self>
        + Neg<Output = Self>
    {
        fn zero_() -> Self;
        fn one_() -> Self;
        fn sqrt_(self) -> Self;
    }
    impl Float for f32 {
        fn zero_() -> f32 {
            0.0
        }
        fn one_() -> f32 {
            1.0
        }
        fn sqrt_(self) -> f32 {
            self.sqrt()
        }
    }
    impl Float for f64 {
        fn zero_() -> f64 {
            0.0
        }
        fn one_() -> f64 {
            1.0
        }
        fn sqrt_(self) -> f64 {
            self.sqrt()
        }
    }
}

macro_rules! eig_real {
    ($t:ty) => {
        impl EigIn for $t {
            type C = Complex<$t>;
            fn evd(a: &Mat<$t>, left: bool, right: bool) -> std::result::Result<Evd<Self::C>, ()> {
                let n = a.nrows();
                let (mut re, mut im) = (
                    faer::diag::Diag::<$t>::zeros(n),
                    faer::diag::Diag::<$t>::zeros(n),
                );
                let mut vl = left.then(|| Mat::<$t>::zeros(n, n));
                let mut vr = right.then(|| Mat::<$t>::zeros(n, n));
                let par = Par::Seq;
                let req =
                    evd::evd_scratch::<$t>(n, want(left), want(right), par, Default::default());
                let mut mem = MemBuffer::new(req);
                evd::evd_real(
                    a.as_ref(),
                    re.as_mut(),
                    im.as_mut(),
                    vl.as_mut().map(|m| m.as_mut()),
                    vr.as_mut().map(|m| m.as_mut()),
                    par,
                    MemStack::new(&mut mem),
                    Default::default(),
                )
                .map_err(|_| ())?;
                let im: Vec<$t> = (0..n).map(|i| im[i]).collect();
                let w: Vec<Complex<$t>> = (0..n).map(|i| Complex::new(re[i], im[i])).collect();
                let is_real: Vec<bool> = im.iter().map(|x| *x == 0.0).collect();
                let fix = |x: Option<Mat<$t>>| {
                    x.map(|x| {
                        let mut v = unpack(&x, &im);
                        normalise(&mut v, &is_real, true);
                        v
                    })
                };
                Ok((w, fix(vl), fix(vr)))
            }
        }
    };
}
eig_real!(f32);
eig_real!(f64);

macro_rules! eig_complex {
    ($r:ty) => {
        impl EigIn for Complex<$r> {
            type C = Complex<$r>;
            fn evd(
                a: &Mat<Self>,
                left: bool,
                right: bool,
            ) -> std::result::Result<Evd<Self::C>, ()> {
                let n = a.nrows();
                let mut s = faer::diag::Diag::<Self>::zeros(n);
                let mut vl = left.then(|| Mat::<Self>::zeros(n, n));
                let mut vr = right.then(|| Mat::<Self>::zeros(n, n));
                let par = Par::Seq;
                let req =
                    evd::evd_scratch::<Self>(n, want(left), want(right), par, Default::default());
                let mut mem = MemBuffer::new(req);
                evd::evd_cplx(
                    a.as_ref(),
                    s.as_mut(),
                    vl.as_mut().map(|m| m.as_mut()),
                    vr.as_mut().map(|m| m.as_mut()),
                    par,
                    MemStack::new(&mut mem),
                    Default::default(),
                )
                .map_err(|_| ())?;
                let w: Vec<Self> = (0..n).map(|i| s[i]).collect();
                let is_real = vec![false; n];
                let fix = |x: Option<Mat<Self>>| {
                    x.map(|mut v| {
                        normalise(&mut v, &is_real, false);
                        v
                    })
                };
                Ok((w, fix(vl), fix(vr)))
            }
        }
    };
}
eig_complex!(f32);
eig_complex!(f64);

/// `eig_dtype!(dt, T => body)`: `body` with `T` the input type of `eig`.
macro_rules! eig_dtype {
    ($dt:expr, $T:ident => $body:expr) => {{
        use $crate::base::dtype::DType;
        match $dt {
            DType::F32 => {
                type $T = f32;
                $body
            }
            DType::F64 => {
                type $T = f64;
                $body
            }
            DType::C64 => {
                type $T = faer::c32;
                $body
            }
            DType::C128 => {
                type $T = faer::c64;
                $body
            }
            other => Err($crate::base::error::dtype_err("eig", other)),
        }
    }};
}

// ---------------------------------------------------------------------------
// eig: outputs (w, vl?, vr?), complex; vl[:, j]^H a = w[j] vl[:, j]^H and
// a vr[:, j] = w[j] vr[:, j], each vector of unit norm. NaNs when the
// iteration fails or the input is not finite.

pub fn build_eig(spec: &OpSpec) -> Result<Kernel> {
    let left = spec.params.bool("compute_left_eigenvectors")?;
    let right = spec.params.bool("compute_right_eigenvectors")?;
    spec.arity(1, 1 + left as usize + right as usize)?;
    let shape = spec.ins[0].shape.clone();
    let n = shape[shape.len() - 1];
    let batch = batch_of(&shape, 2);
    let w_shape = spec.outs[0].shape.clone();
    let dt = spec.ins[0].dtype;
    eig_dtype!(dt, T => {
        Ok(Box::new(move |ins: &[&Buffer]| {
            type C = <T as EigIn>::C;
            let a = read::<T>(ins[0])?;
            let ws = Out::<C>::new(&w_shape, 1);
            let vls = left.then(|| Out::<C>::new(&shape, 2));
            let vrs = right.then(|| Out::<C>::new(&shape, 2));
            for_batch(batch, |b| {
                let blk = &a[b * n * n..(b + 1) * n * n];
                let m = Mat::<T>::from_fn(n, n, |i, j| blk[i * n + j]);
                // SAFETY: `for_batch` visits each batch item once.
                let wo = unsafe { ws.block(b) };
                // SAFETY: as above.
                let vlo = vls.as_ref().map(|o| unsafe { o.block(b) });
                // SAFETY: as above.
                let vro = vrs.as_ref().map(|o| unsafe { o.block(b) });
                match T::evd(&m, left, right) {
                    Ok((w, vl, vr)) => {
                        wo.copy_from_slice(&w);
                        for (o, v) in [(vlo, vl), (vro, vr)] {
                            if let (Some(o), Some(v)) = (o, v) {
                                super::store(v.as_ref(), o);
                            }
                        }
                    }
                    Err(()) => {
                        wo.fill(nan());
                        for o in [vlo, vro].into_iter().flatten() {
                            o.fill(nan());
                        }
                    }
                }
            });
            let mut res = vec![ws.finish()?];
            for o in [vls, vrs].into_iter().flatten() {
                res.push(o.finish()?);
            }
            Ok(res)
        }) as Kernel)
    })
}

// ---------------------------------------------------------------------------
// hessenberg: outputs (h, q) with a = q h q^H, h zero below its first
// subdiagonal, q unitary (Householder reflections, as LAPACK's gehrd/orghr).

fn hessenberg_one<T: Scalar>(a: &[T], n: usize, ho: &mut [T], qo: &mut [T]) {
    let mut h = super::load(a, n, n);
    let mut q = Mat::<T>::zeros(n, n);
    q.as_mut().diagonal_mut().fill(one());
    if n > 2 {
        let par = Par::Seq;
        let bs = faer::linalg::qr::no_pivoting::factor::recommended_block_size::<T>(n - 1, n - 1);
        let mut hh = Mat::<T>::zeros(bs, n - 1);
        let req = StackReq::any_of(&[
            evd::hessenberg::hessenberg_in_place_scratch::<T>(n, bs, par, Default::default()),
            householder::apply_block_householder_sequence_on_the_right_in_place_scratch::<T>(
                n - 1,
                bs,
                n - 1,
            ),
        ]);
        let mut mem = MemBuffer::new(req);
        let stack = MemStack::new(&mut mem);
        evd::hessenberg::hessenberg_in_place(
            h.as_mut(),
            hh.as_mut(),
            par,
            stack,
            Default::default(),
        );
        householder::apply_block_householder_sequence_on_the_right_in_place_with_conj(
            h.as_ref().submatrix(1, 0, n - 1, n - 1),
            hh.as_ref(),
            Conj::No,
            q.as_mut().submatrix_mut(1, 1, n - 1, n - 1),
            par,
            stack,
        );
        for j in 0..n {
            for i in j + 2..n {
                h[(i, j)] = zero();
            }
        }
    }
    super::store(h.as_ref(), ho);
    super::store(q.as_ref(), qo);
}

pub fn build_hessenberg(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(1, 2)?;
    let shape = spec.ins[0].shape.clone();
    let n = shape[shape.len() - 1];
    let batch = batch_of(&shape, 2);
    let dt = spec.ins[0].dtype;
    crate::linalg_dtype!(dt, "hessenberg", T => {
        Ok(Box::new(move |ins: &[&Buffer]| {
            let a = read::<T>(ins[0])?;
            let hs = Out::<T>::new(&shape, 2);
            let qs = Out::<T>::new(&shape, 2);
            for_batch(batch, |b| {
                // SAFETY: `for_batch` visits each batch item once.
                let (ho, qo) = unsafe { (hs.block(b), qs.block(b)) };
                hessenberg_one(&a[b * n * n..(b + 1) * n * n], n, ho, qo);
            });
            Ok(vec![hs.finish()?, qs.finish()?])
        }) as Kernel)
    })
}

// ---------------------------------------------------------------------------
// schur: outputs (t, z?) with a = z t z^H, z unitary and t upper triangular
// (complex) or quasi-triangular with 1x1 and 2x2 blocks (real): the
// Hessenberg form, then faer's QZ iteration on the pair (h, I), whose
// second factor stays diagonal (t = s diag(b)^-1). NaNs for a non-finite
// input.

/// QZ on a Hessenberg-triangular pair, real or complex.
pub trait Qz: Scalar {
    fn qz(s: &mut Mat<Self>, b: &mut Mat<Self>, q: &mut Mat<Self>, z: &mut Mat<Self>);
}

macro_rules! qz_real {
    ($t:ty) => {
        impl Qz for $t {
            fn qz(s: &mut Mat<$t>, b: &mut Mat<$t>, q: &mut Mat<$t>, z: &mut Mat<$t>) {
                use faer::linalg::gevd::{qz_real, GeneralizedSchurParams};
                let n = s.nrows();
                let par = Par::Seq;
                let params = <GeneralizedSchurParams as faer::Auto<$t>>::auto();
                let mut mem =
                    MemBuffer::new(qz_real::hessenberg_to_qz_scratch::<$t>(n, par, params));
                let (mut ar, mut ai, mut be) = (
                    Mat::<$t>::zeros(n, 1),
                    Mat::<$t>::zeros(n, 1),
                    Mat::<$t>::zeros(n, 1),
                );
                qz_real::hessenberg_to_qz(
                    s.as_mut(),
                    b.as_mut(),
                    Some(q.as_mut()),
                    Some(z.as_mut()),
                    ar.as_mut().col_mut(0),
                    ai.as_mut().col_mut(0),
                    be.as_mut().col_mut(0),
                    ComputeEigenvectors::Yes,
                    par,
                    params,
                    MemStack::new(&mut mem),
                );
            }
        }
    };
}
qz_real!(f32);
qz_real!(f64);

macro_rules! qz_complex {
    ($t:ty) => {
        impl Qz for $t {
            fn qz(s: &mut Mat<$t>, b: &mut Mat<$t>, q: &mut Mat<$t>, z: &mut Mat<$t>) {
                use faer::linalg::gevd::{qz_cplx, GeneralizedSchurParams};
                let n = s.nrows();
                let par = Par::Seq;
                let params = <GeneralizedSchurParams as faer::Auto<$t>>::auto();
                let mut mem =
                    MemBuffer::new(qz_cplx::hessenberg_to_qz_scratch::<$t>(n, par, params));
                let (mut al, mut be) = (Mat::<$t>::zeros(n, 1), Mat::<$t>::zeros(n, 1));
                qz_cplx::hessenberg_to_qz(
                    s.as_mut(),
                    b.as_mut(),
                    Some(q.as_mut()),
                    Some(z.as_mut()),
                    al.as_mut().col_mut(0),
                    be.as_mut().col_mut(0),
                    ComputeEigenvectors::Yes,
                    par,
                    params,
                    MemStack::new(&mut mem),
                );
            }
        }
    };
}
qz_complex!(faer::c32);
qz_complex!(faer::c64);

fn schur_one<T: Qz>(a: &[T], n: usize, to: &mut [T], zo: Option<&mut [T]>) {
    if !super::all_finite(a) {
        to.fill(nan());
        if let Some(zo) = zo {
            zo.fill(nan());
        }
        return;
    }
    let mut s = vec![zero::<T>(); n * n];
    let mut q0 = vec![zero::<T>(); n * n];
    hessenberg_one(a, n, &mut s, &mut q0);
    let mut s = super::load(&s, n, n);
    let mut q = super::load(&q0, n, n);
    let mut z = q.clone();
    let mut b = Mat::<T>::zeros(n, n);
    b.as_mut().diagonal_mut().fill(one());
    if n > 1 {
        T::qz(&mut s, &mut b, &mut q, &mut z);
    }
    // t = s diag(b)^-1 (b's off-diagonal is zero up to rounding)
    for j in 0..n {
        let d = faer::traits::math_utils::recip(&b[(j, j)]);
        for i in 0..n {
            s[(i, j)] *= d;
        }
    }
    super::store(s.as_ref(), to);
    if let Some(zo) = zo {
        super::store(q.as_ref(), zo);
    }
}

pub fn build_schur(spec: &OpSpec) -> Result<Kernel> {
    let vectors = spec.params.bool("compute_schur_vectors")?;
    spec.arity(1, 1 + vectors as usize)?;
    let shape = spec.ins[0].shape.clone();
    let n = shape[shape.len() - 1];
    let batch = batch_of(&shape, 2);
    let dt = spec.ins[0].dtype;
    eig_dtype!(dt, T => {
        Ok(Box::new(move |ins: &[&Buffer]| {
            let a = read::<T>(ins[0])?;
            let ts = Out::<T>::new(&shape, 2);
            let zs = vectors.then(|| Out::<T>::new(&shape, 2));
            for_batch(batch, |b| {
                // SAFETY: `for_batch` visits each batch item once.
                let to = unsafe { ts.block(b) };
                // SAFETY: as above.
                let zo = zs.as_ref().map(|o| unsafe { o.block(b) });
                schur_one(&a[b * n * n..(b + 1) * n * n], n, to, zo);
            });
            let mut res = vec![ts.finish()?];
            if let Some(z) = zs {
                res.push(z.finish()?);
            }
            Ok(res)
        }) as Kernel)
    })
}
