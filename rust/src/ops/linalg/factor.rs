//! The factorizations: `cholesky`, `lu`, `qr`, `eigh`, `svd`.
// The element type is generic (`Scalar`: real now, complex later), which has
// the arithmetic operators but not the compound assignments; the loops index
// several arrays at once, as the LAPACK algorithms they follow do.
#![allow(clippy::assign_op_pattern, clippy::needless_range_loop)]
use super::{all_finite, batch_of, for_batch, for_batch_small, for_batch_with, load, read, small};
use super::{store, Out, Scalar};
use crate::base::error::Result;
use crate::ops::{Kernel, OpSpec};
use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch};
use faer::linalg::evd::SelfAdjointEvdParams;
use faer::linalg::evd::{self_adjoint_evd, self_adjoint_evd_scratch, ComputeEigenvectors};
use faer::linalg::householder as hh;
use faer::linalg::matmul::matmul;
use faer::linalg::qr::col_pivoting::factor as qrp;
use faer::linalg::qr::no_pivoting::factor as qrf;
use faer::linalg::svd::{svd as faer_svd, svd_scratch, ComputeSvdVectors, SvdParams};
use faer::linalg::triangular_solve::solve_unit_lower_triangular_in_place;
use faer::perm::swap_rows_idx;
use faer::prelude::{Reborrow, ReborrowMut};
use faer::traits::math_utils::{conj, from_f64, from_real, is_finite, mul_real, nan, one};
use faer::traits::math_utils::{real, zero};
use faer::{Accum, Mat, MatMut, Par};

/// Faer's parallelism for one `m x n` matrix in a batch of `batch`: a batch
/// runs its matrices as `split` tasks, each sequential inside; one matrix uses
/// faer's rayon parallelism from `PAR_MIN` columns up.
pub(crate) fn par_for(batch: usize, m: usize, n: usize) -> Par {
    if batch > 1 || m.min(n) < PAR_MIN {
        Par::Seq
    } else {
        Par::rayon(0)
    }
}

/// The side from which one matrix's factorization forks. Measured on the
/// 2-core benchmark machine (faer 0.24): at 256 the fork/join costs more than
/// the second core brings (sequential Cholesky 0.085 ms against 0.16 ms,
/// QR with Q 1.2 ms against 2.9 ms, float32), and on a loaded machine it does
/// up to 1024 as well.
const PAR_MIN: usize = 512;

/// The same for the eigen and singular value decompositions, whose
/// iterative phases gain from the second core from 128 columns (faer's SVD
/// of a 256 x 256 float32 matrix: 10.6 ms forked, 55 ms sequential).
fn par_for_iterative(batch: usize, m: usize, n: usize) -> Par {
    if batch > 1 || m.min(n) < 128 {
        Par::Seq
    } else {
        Par::rayon(0)
    }
}

// ---------------------------------------------------------------------------
// cholesky: the lower factor (the upper triangle zero); NaNs on and below
// the diagonal where the matrix is not positive definite. Reads the lower
// triangle only (but with `symmetrize_input`).

/// The Cholesky factor by faer's blocked algorithm, in place on the
/// row-major output (1024 x 1024 float32: 6.3 ms against 9.0 ms through a
/// column-major copy of the lower triangle; 256 x 256 the same).
fn cholesky_one<T: Scalar>(
    a: &[T],
    n: usize,
    sym: bool,
    out: &mut [T],
    par: Par,
    mem: &mut MemBuffer,
) {
    if sym {
        // the lower triangle of (a + a^H)/2 (as `small::cholesky` rounds
        // it), tile by tile so that a's transposed reads stay in cache
        const TILE: usize = 32;
        let half = from_f64::<T::Real>(0.5);
        for i0 in (0..n).step_by(TILE) {
            for j0 in (0..=i0).step_by(TILE) {
                for i in i0..(i0 + TILE).min(n) {
                    for j in j0..(j0 + TILE).min(i + 1) {
                        out[i * n + j] = mul_real(&(a[i * n + j] + conj(&a[j * n + i])), &half);
                    }
                }
            }
        }
    } else {
        out.copy_from_slice(a);
    }
    let m = MatMut::from_row_major_slice_mut(out, n, n);
    let res = cholesky_in_place(
        m,
        Default::default(),
        par,
        MemStack::new(mem),
        Default::default(),
    );
    match res {
        Ok(_) => {
            for i in 0..n {
                out[i * n + i + 1..(i + 1) * n].fill(zero());
            }
        }
        Err(_) => nan_lower(out, n),
    }
}

/// A failed factorization's result: NaNs on and below the diagonal, zeros
/// above it (JAX's NaN result after its `tril`).
fn nan_lower<T: Scalar>(out: &mut [T], n: usize) {
    for i in 0..n {
        for (j, o) in out[i * n..(i + 1) * n].iter_mut().enumerate() {
            *o = if j <= i { nan() } else { zero() };
        }
    }
}

/// `symmetrize_input` (optional, false when absent): factor `(a + a^H)/2`,
/// read in place of the separate transpose, add and halving that the
/// Python lowering folds away (`lax/linalg.py`, `_cholesky_lowering`).
pub fn build_cholesky(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(1, 1)?;
    spec.same_dtypes()?;
    let sym = spec.params.has("symmetrize_input") && spec.params.bool("symmetrize_input")?;
    let shape = spec.ins[0].shape.clone();
    let n = shape[shape.len() - 1];
    let batch = batch_of(&shape, 2);
    let dt = spec.ins[0].dtype;
    crate::linalg_dtype!(dt, "cholesky", T => {
        Ok(Box::new(move |ins: &[&crate::base::buffer::Buffer]| {
            let a = read::<T>(ins[0])?;
            let out = Out::<T>::new(&shape, 2);
            if n <= small::SMALL {
                for_batch_small(batch, n * n * n, |b| {
                    // SAFETY: `for_batch_small` visits each batch item once.
                    let o = unsafe { out.block(b) };
                    if !small::cholesky(&a[b * n * n..(b + 1) * n * n], n, sym, o) {
                        nan_lower(o, n);
                    }
                });
                return Ok(vec![out.finish()?]);
            }
            let par = par_for(batch, n, n);
            let init = || MemBuffer::new(cholesky_in_place_scratch::<T>(n, par, Default::default()));
            for_batch_with(batch, init, |mem, b| {
                // SAFETY: `for_batch_with` visits each batch item once.
                let o = unsafe { out.block(b) };
                cholesky_one(&a[b * n * n..(b + 1) * n * n], n, sym, o, par, mem)
            });
            Ok(vec![out.finish()?])
        }) as Kernel)
    })
}

// ---------------------------------------------------------------------------
// lu: LAPACK's recursive getrf2 over faer's matmul and triangular solve, in
// place on the row-major output (row swaps are then contiguous, and there is
// no column-major copy in or out: 1024 x 1024 float32 in 20 ms against 40 ms
// with the copies, the same bits). Pivots are 0-based row swaps
// (row i <-> piv[i]); a zero pivot leaves its column unscaled, as getrf does.

/// Panels of at most this many columns are factored unblocked (LAPACK's
/// getf2, `small::lu`); the recursion above them splits in halves down to
/// one column otherwise, and a faer matmul per split costs more than it
/// saves on a few columns (1000 x 8 x 8: 320 ns a matrix through the
/// recursion).
pub(super) const LU_LEAF: usize = 16;

/// Leaf panels of more rows than this are factored in a column-major copy.
const LU_PACK_ROWS: usize = 64;

/// The row-major `m x n` matrix at the start of `a`, rows `ld` apart, as a
/// faer view: the transpose of a column-major view (faer 0.24.4's
/// `from_row_major_slice_with_stride_mut` makes a column-major view; its
/// `MatRef` twin does not).
fn rows_view<T>(a: &mut [T], m: usize, n: usize, ld: usize) -> MatMut<'_, T> {
    MatMut::from_column_major_slice_with_stride_mut(a, n, m, ld).transpose_mut()
}

/// The LU of the row-major `m x n` matrix at the start of `a`, rows `ld`
/// apart, in place.
fn lu_rec<T: Scalar>(a: &mut [T], ld: usize, m: usize, n: usize, piv: &mut [usize], par: Par) {
    let k = m.min(n);
    if k == 0 {
        return;
    }
    if n <= LU_LEAF || m == 1 {
        if m > LU_PACK_ROWS {
            // A tall panel: factor a column-major copy (the same operations,
            // so the same bits) and put it back. In place, a wide matrix's
            // rows `ld` elements apart map to a few cache sets (4 KiB apart
            // for 1024 float32 columns), so each of getf2's passes missed
            // L2 on every row, and the rows' few columns do not vectorize.
            let mut c: Vec<T> = vec![zero(); m * n];
            for (i, r) in a.chunks(ld).take(m).enumerate() {
                for (j, &v) in r[..n].iter().enumerate() {
                    c[j * m + i] = v;
                }
            }
            small::lu_cols(&mut c, m, n, piv);
            for (i, r) in a.chunks_mut(ld).take(m).enumerate() {
                for (j, v) in r[..n].iter_mut().enumerate() {
                    *v = c[j * m + i];
                }
            }
            return;
        }
        return small::lu(a, m, n, ld, piv);
    }
    let n1 = k / 2;
    lu_rec(a, ld, m, n1, &mut piv[..n1], par);
    {
        let mut mat = rows_view(&mut *a, m, n, ld);
        let (left, mut right) = mat.rb_mut().split_at_col_mut(n1);
        for (i, &p) in piv[..n1].iter().enumerate() {
            if i != p {
                swap_rows_idx(right.rb_mut(), i, p);
            }
        }
        let (a11, a21) = left.rb().split_at_row(n1);
        let (mut a12, a22) = right.split_at_row_mut(n1);
        solve_unit_lower_triangular_in_place(a11, a12.rb_mut(), par);
        matmul(a22, Accum::Add, a21, a12.rb(), -one::<T>(), par);
    }
    lu_rec(
        &mut a[n1 * ld + n1..],
        ld,
        m - n1,
        n - n1,
        &mut piv[n1..k],
        par,
    );
    let mut mat = rows_view(a, m, n, ld);
    let mut left = mat.rb_mut().subcols_mut(0, n1);
    for i in n1..k {
        piv[i] += n1;
        if piv[i] != i {
            swap_rows_idx(left.rb_mut(), i, piv[i]);
        }
    }
}

pub fn build_lu(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(1, 3)?;
    let shape = spec.ins[0].shape.clone();
    let r = shape.len();
    let (m, n) = (shape[r - 2], shape[r - 1]);
    let k = m.min(n);
    let batch = batch_of(&shape, 2);
    let (piv_shape, perm_shape) = (spec.outs[1].shape.clone(), spec.outs[2].shape.clone());
    let dt = spec.ins[0].dtype;
    crate::linalg_dtype!(dt, "lu", T => {
        Ok(Box::new(move |ins: &[&crate::base::buffer::Buffer]| {
            let a = read::<T>(ins[0])?;
            let out = Out::<T>::new(&shape, 2);
            let pivs = Out::<i32>::new(&piv_shape, 1);
            let perms = Out::<i32>::new(&perm_shape, 1);
            let par = par_for(batch, m, n);
            let pivots = |piv: &[usize], pv: &mut [i32], pm: &mut [i32]| {
                for (i, p) in pm.iter_mut().enumerate() {
                    *p = i as i32;
                }
                for (i, &p) in piv.iter().enumerate() {
                    pv[i] = p as i32;
                    pm.swap(i, p);
                }
            };
            for_batch_small(batch, m * n * k.max(1), |b| {
                // SAFETY: `for_batch_small` visits each batch item once.
                let (o, pv, pm) = unsafe { (out.block(b), pivs.block(b), perms.block(b)) };
                o.copy_from_slice(&a[b * m * n..(b + 1) * m * n]);
                if k <= LU_LEAF {
                    let mut piv = [0usize; LU_LEAF];
                    lu_rec(o, n, m, n, &mut piv[..k], par);
                    pivots(&piv[..k], pv, pm);
                } else {
                    let mut piv = vec![0usize; k];
                    lu_rec(o, n, m, n, &mut piv, par);
                    pivots(&piv, pv, pm);
                }
            });
            Ok(vec![out.finish()?, pivs.finish()?, perms.finish()?])
        }) as Kernel)
    })
}

// ---------------------------------------------------------------------------
// qr (Householder): q is m x m and r m x n with `full_matrices`, else
// m x k and k x n (k = min(m, n)).

/// The Householder QR of the row-major `m x n` block `a`: q (`m x kq`,
/// kq = m or min(m, n)) and r (`kq x n`, upper trapezoidal) row-major. With
/// `perm`, the column-pivoted QR (`a[:, perm] = q r`): faer's, which picks
/// the column of largest remaining norm at each step, the first of equals,
/// as LAPACK's `geqp3`.
#[allow(clippy::too_many_arguments)]
fn qr_one<T: Scalar>(
    a: &[T],
    m: usize,
    n: usize,
    kq: usize,
    qo: &mut [T],
    ro: &mut [T],
    perm: Option<&mut [i32]>,
    par: Par,
) {
    let k = m.min(n);
    if perm.is_none() {
        let mut cm: Vec<T> = (0..m * n).map(|i| a[(i % m) * n + i / m]).collect();
        if T::lapack_qr(&mut cm, m, n, qo, ro, par) {
            return;
        }
    }
    let mut qr = load(a, m, n);
    let bs = qrf::recommended_block_size::<T>(m, n);
    let mut coeff = Mat::<T>::zeros(bs, k);
    let factor_scratch = if perm.is_some() {
        qrp::qr_in_place_scratch::<usize, T>(m, n, bs, par, Default::default())
    } else {
        qrf::qr_in_place_scratch::<T>(m, n, bs, par, Default::default())
    };
    let mut mem = MemBuffer::new(
        factor_scratch
            .or(hh::apply_block_householder_sequence_on_the_left_in_place_scratch::<T>(m, bs, kq)),
    );
    let stack = MemStack::new(&mut mem);
    match perm {
        Some(p) => {
            let (mut fwd, mut inv) = (vec![0usize; n], vec![0usize; n]);
            qrp::qr_in_place(
                qr.as_mut(),
                coeff.as_mut(),
                &mut fwd,
                &mut inv,
                par,
                stack,
                Default::default(),
            );
            // column j of q r is column fwd[j] of a
            for (o, &c) in p.iter_mut().zip(&fwd) {
                *o = c as i32;
            }
            // complex: LAPACK's reflectors for a[:, p] (see `lapack_qr_c64`)
            let mut cm: Vec<T> = (0..m * n).map(|i| a[(i % m) * n + fwd[i / m]]).collect();
            if T::lapack_qr(&mut cm, m, n, qo, ro, par) {
                return;
            }
        }
        None => {
            qrf::qr_in_place(qr.as_mut(), coeff.as_mut(), par, stack, Default::default());
        }
    }
    for i in 0..kq {
        for j in 0..n {
            ro[i * n + j] = if j >= i { qr[(i, j)] } else { zero() };
        }
    }
    // the Householder basis: the first k columns' strict lower part, with
    // a unit diagonal
    let mut basis = qr.as_mut().subcols_mut(0, k);
    for j in 0..k {
        for i in 0..j {
            basis[(i, j)] = zero();
        }
        basis[(j, j)] = one();
    }
    let mut q = Mat::<T>::zeros(m, kq);
    for i in 0..kq {
        q[(i, i)] = one();
    }
    hh::apply_block_householder_sequence_on_the_left_in_place_with_conj(
        basis.rb(),
        coeff.as_ref(),
        faer::Conj::No,
        q.as_mut(),
        par,
        stack,
    );
    store(q.as_ref(), qo);
}

/// LAPACK's blocked complex Householder QR, `zgeqrf` then `zungqr`, so that
/// q and r are JAX's (LAPACK's, also after `zgeqp3`'s pivoting): each
/// reflector `H = I - tau v v^H` (`zlarfg`) maps its column to `beta e1`
/// with `beta = -sign(re alpha) |x|` real, so r has a real diagonal (faer's
/// reflectors give it a complex one, which JAX's QR derivative, written for
/// a real diagonal, does not describe). Panels of [`QR_BLOCK`] columns are
/// factored column by column (`zgeqr2`: `small::larfg`, `small::larf_left`),
/// and each panel's reflectors update the rest at once as `I - V T V^H` (`zlarft`, `zlarfb`) with faer's
/// matrix products. `a` is the column-major `m x n` input (overwritten), `q`
/// the row-major `m x kq` output and `r` the row-major `kq x n` one.
macro_rules! lapack_complex_qr {
    ($($name:ident, $c:ty, $f:ty);*) => {$(
        pub(super) fn $name(a: &mut [$c], m: usize, n: usize, q: &mut [$c], r: &mut [$c], par: Par) {
            let k = m.min(n);
            let kq = if n == 0 { 0 } else { r.len() / n };
            let zero = <$c>::new(0.0, 0.0);
            let one = <$c>::new(1.0, 0.0);
            let mut tau = vec![zero; k];
            // the panel's reflectors V (unit lower trapezoidal) and T
            let block = |a: &[$c], i: usize, b: usize, tau: &[$c]| -> (Mat<$c>, Mat<$c>) {
                let v = Mat::<$c>::from_fn(m - i, b, |l, j| match l.cmp(&j) {
                    std::cmp::Ordering::Less => zero,
                    std::cmp::Ordering::Equal => one,
                    std::cmp::Ordering::Greater => a[(i + j) * m + i + l],
                });
                let mut t = Mat::<$c>::zeros(b, b);
                for j in 0..b {
                    t[(j, j)] = tau[i + j];
                    // T[:j, j] = -tau_j T[:j, :j] (V[:, :j]^H v_j)
                    let w: Vec<$c> = (0..j)
                        .map(|p| (j..m - i).fold(zero, |s, l| s + v[(l, p)].conj() * v[(l, j)]))
                        .collect();
                    for p in 0..j {
                        let s = (p..j).fold(zero, |s, c| s + t[(p, c)] * w[c]);
                        t[(p, j)] = -tau[i + j] * s;
                    }
                }
                (v, t)
            };
            let mut i0 = 0;
            while i0 < k {
                let b = QR_BLOCK.min(k - i0);
                // the panel column by column (zgeqr2)
                for i in i0..i0 + b {
                    let (left, right) = a.split_at_mut((i + 1) * m);
                    let col = &mut left[i * m + i..];
                    tau[i] = small::larfg(col);
                    // H(i)^H = I - conj(tau) v v^H on the panel's later columns
                    if tau[i] != zero && i + 1 < i0 + b {
                        small::larf_left(col, tau[i].conj(), &mut right[i..], m, i0 + b - i - 1);
                    }
                }
                if i0 + b < n {
                    // the rest: C -= V (T^H (V^H C))
                    let (v, t) = block(a, i0, b, &tau);
                    let nc = n - i0 - b;
                    let mut c = MatMut::from_column_major_slice_mut(&mut a[(i0 + b) * m..], m, nc)
                        .subrows_mut(i0, m - i0);
                    let mut w = Mat::<$c>::zeros(b, nc);
                    matmul(w.as_mut(), Accum::Replace, v.adjoint(), c.rb(), one, par);
                    let mut w2 = Mat::<$c>::zeros(b, nc);
                    matmul(w2.as_mut(), Accum::Replace, t.adjoint(), w.as_ref(), one, par);
                    matmul(c.rb_mut(), Accum::Add, v.as_ref(), w2.as_ref(), -one, par);
                }
                i0 += b;
            }
            for i in 0..kq {
                for j in 0..n {
                    r[i * n + j] = if j >= i { a[j * m + i] } else { zero };
                }
            }
            // q: the blocks, last first, applied to the first kq columns of I
            let mut qm = Mat::<$c>::zeros(m, kq);
            for j in 0..kq {
                qm[(j, j)] = one;
            }
            let starts: Vec<usize> = (0..k).step_by(QR_BLOCK).collect();
            for &i in starts.iter().rev() {
                let b = QR_BLOCK.min(k - i);
                let (v, t) = block(a, i, b, &tau);
                let mut qs = qm.as_mut().submatrix_mut(i, i, m - i, kq - i);
                let mut w = Mat::<$c>::zeros(b, kq - i);
                matmul(w.as_mut(), Accum::Replace, v.adjoint(), qs.rb(), one, par);
                let mut w2 = Mat::<$c>::zeros(b, kq - i);
                matmul(w2.as_mut(), Accum::Replace, t.as_ref(), w.as_ref(), one, par);
                matmul(qs.rb_mut(), Accum::Add, v.as_ref(), w2.as_ref(), -one, par);
            }
            store(qm.as_ref(), q);
        }
    )*};
}
lapack_complex_qr!(lapack_qr_c32, faer::c32, f32; lapack_qr_c64, faer::c64, f64);

/// The panel width of [`lapack_qr_c64`] (LAPACK's `zgeqrf` takes 32 here).
const QR_BLOCK: usize = 32;

/// `qr`: `(q, r)`, and with the param `pivoting` (absent: false) also the
/// int32 column permutation `p` (`a[..., p] = q r`).
pub fn build_qr(spec: &OpSpec) -> Result<Kernel> {
    let pivoting = spec.params.has("pivoting") && spec.params.bool("pivoting")?;
    spec.arity(1, if pivoting { 3 } else { 2 })?;
    let _full = spec.params.bool("full_matrices")?;
    let shape = spec.ins[0].shape.clone();
    let r = shape.len();
    let (m, n) = (shape[r - 2], shape[r - 1]);
    let batch = batch_of(&shape, 2);
    let (q_shape, r_shape) = (spec.outs[0].shape.clone(), spec.outs[1].shape.clone());
    let p_shape = pivoting.then(|| spec.outs[2].shape.clone());
    let dt = spec.ins[0].dtype;
    crate::linalg_dtype!(dt, "qr", T => {
        Ok(Box::new(move |ins: &[&crate::base::buffer::Buffer]| {
            let a = read::<T>(ins[0])?;
            let qs = Out::<T>::new(&q_shape, 2);
            let rs = Out::<T>::new(&r_shape, 2);
            let ps = p_shape.as_ref().map(|s| Out::<i32>::new(s, 1));
            let par = par_for(batch, m, n);
            let kq = q_shape[q_shape.len() - 1];
            if ps.is_none() && m > 0 && n > 0 && m.max(n) <= small::QR_SMALL {
                // a column-major copy and the scratch, per task
                let init = || (vec![zero::<T>(); m * n], vec![zero::<T>(); m * kq]);
                for_batch_with(batch, init, |(cm, w), b| {
                    // SAFETY: `for_batch_with` visits each batch item once.
                    let (qo, ro) = unsafe { (qs.block(b), rs.block(b)) };
                    let ab = &a[b * m * n..(b + 1) * m * n];
                    for (i, v) in cm.iter_mut().enumerate() {
                        *v = ab[(i % m) * n + i / m];
                    }
                    small::qr(cm, m, n, kq, qo, ro, w);
                });
                return Ok(vec![qs.finish()?, rs.finish()?]);
            }
            for_batch(batch, |b| {
                // SAFETY: `for_batch` visits each batch item once.
                let (qo, ro) = unsafe { (qs.block(b), rs.block(b)) };
                // SAFETY: as above.
                let po = ps.as_ref().map(|p| unsafe { p.block(b) });
                if m == 0 || n == 0 {
                    // JAX: q = eye(m, k), r = zeros(k, n), p = zeros(n)
                    qo.fill(zero());
                    for i in 0..m.min(kq) {
                        qo[i * kq + i] = one();
                    }
                    ro.fill(zero());
                    if let Some(p) = po {
                        p.fill(0);
                    }
                    return;
                }
                qr_one(&a[b * m * n..(b + 1) * m * n], m, n, kq, qo, ro, po, par);
            });
            let mut outs = vec![qs.finish()?, rs.finish()?];
            if let Some(p) = ps {
                outs.push(p.finish()?);
            }
            Ok(outs)
        }) as Kernel)
    })
}

/// The order below which faer's divide and conquer solves a tridiagonal
/// (eigh) or bidiagonal (svd) block by the QR algorithm: 64, where faer's
/// default is 128. Measured on the 2-core machine (faer 0.24, 256 x 256,
/// eigenvectors/singular vectors computed): float32 eigh 4.1 ms against
/// 5.9 ms and SVD 8.0 ms against 11.3 ms (its QR leaves iterate long in
/// float32); float64 within noise (eigh 6.6 against 6.7 ms, SVD 12.4
/// against 12.8 ms).
const DC_LEAF: usize = 64;

fn evd_params<T: Scalar>() -> SelfAdjointEvdParams {
    SelfAdjointEvdParams {
        recursion_threshold: DC_LEAF,
        ..faer::Auto::<T>::auto()
    }
}

fn svd_params<T: Scalar>() -> SvdParams {
    SvdParams {
        recursion_threshold: DC_LEAF,
        ..faer::Auto::<T>::auto()
    }
}

// ---------------------------------------------------------------------------
// eigh: (v, w) with w ascending and v[:, i] the eigenvector of w[i]; reads
// the `lower` (or upper) triangle only. NaNs for a non-finite input.

pub fn build_eigh(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(1, 2)?;
    let lower = spec.params.bool("lower")?;
    let shape = spec.ins[0].shape.clone();
    let n = shape[shape.len() - 1];
    let batch = batch_of(&shape, 2);
    let w_shape = spec.outs[1].shape.clone();
    let dt = spec.ins[0].dtype;
    crate::linalg_dtype!(dt, "eigh", T => {
        Ok(Box::new(move |ins: &[&crate::base::buffer::Buffer]| {
            let a = read::<T>(ins[0])?;
            let vs = Out::<T>::new(&shape, 2);
            let ws = Out::<<T as Scalar>::Re>::new(&w_shape, 1);
            let par = par_for_iterative(batch, n, n);
            for_batch(batch, |b| {
                // SAFETY: `for_batch` visits each batch item once.
                let (vo, wo) = unsafe { (vs.block(b), ws.block(b)) };
                let blk = &a[b * n * n..(b + 1) * n * n];
                // only the triangle that is read counts
                let m = faer::Mat::<T>::from_fn(n, n, |i, j| {
                    if i == j {
                        // a Hermitian matrix's diagonal is real: its
                        // imaginary part is not read, as in LAPACK
                        from_real(&real(&blk[i * n + j]))
                    } else if (i > j) == lower {
                        blk[i * n + j]
                    } else {
                        zero()
                    }
                });
                let ok = (0..n).all(|j| (0..n).all(|i| is_finite(&m[(i, j)])));
                // `m` holds one triangle: faer reads the lower one, so the
                // upper one is given as its adjoint
                let m = if lower { m } else { m.adjoint().to_owned() };
                let mut u = Mat::<T>::zeros(n, n);
                let mut s = Diag::<T>::zeros(n);
                let params = evd_params::<T>();
                let mut mem = MemBuffer::new(self_adjoint_evd_scratch::<T>(
                    n,
                    ComputeEigenvectors::Yes,
                    par,
                    params.into(),
                ));
                let res = ok && self_adjoint_evd(
                    m.as_ref(),
                    s.as_mut(),
                    Some(u.as_mut()),
                    par,
                    MemStack::new(&mut mem),
                    params.into(),
                )
                .is_ok();
                match res {
                    true => {
                        store(u.as_ref(), vo);
                        let s = s.column_vector();
                        for (i, w) in wo.iter_mut().enumerate() {
                            *w = T::re(&s[i]);
                        }
                    }
                    false => {
                        vo.fill(nan());
                        wo.fill(nan());
                    }
                }
            });
            Ok(vec![vs.finish()?, ws.finish()?])
        }) as Kernel)
    })
}

// ---------------------------------------------------------------------------
// svd: outputs (s,) or (s, u, vh), s descending; NaNs for a non-finite
// input or no convergence. Empty matrices give JAX's identities.

pub fn build_svd(spec: &OpSpec) -> Result<Kernel> {
    let full = spec.params.bool("full_matrices")?;
    let uv = spec.params.bool("compute_uv")?;
    spec.arity(1, if uv { 3 } else { 1 })?;
    let shape = spec.ins[0].shape.clone();
    let r = shape.len();
    let (m, n) = (shape[r - 2], shape[r - 1]);
    let k = m.min(n);
    let batch = batch_of(&shape, 2);
    let outs: Vec<Vec<usize>> = spec.outs.iter().map(|a| a.shape.clone()).collect();
    let dt = spec.ins[0].dtype;
    crate::linalg_dtype!(dt, "svd", T => {
        Ok(Box::new(move |ins: &[&crate::base::buffer::Buffer]| {
            let a = read::<T>(ins[0])?;
            let ss = Out::<<T as Scalar>::Re>::new(&outs[0], 1);
            let us = uv.then(|| Out::<T>::new(&outs[1], 2));
            let vs = uv.then(|| Out::<T>::new(&outs[2], 2));
            let par = par_for_iterative(batch, m, n);
            for_batch(batch, |b| {
                // SAFETY: `for_batch` visits each batch item once.
                let so = unsafe { ss.block(b) };
                let blk = &a[b * m * n..(b + 1) * m * n];
                let (uo, vo) = match (&us, &vs) {
                    // SAFETY: `for_batch` visits each batch item once.
                    (Some(u), Some(v)) => unsafe { (Some(u.block(b)), Some(v.block(b))) },
                    _ => (None, None),
                };
                let eye = |o: &mut [T], d: usize| {
                    o.fill(zero());
                    if o.len() == d * d {
                        for i in 0..d {
                            o[i * d + i] = one();
                        }
                    }
                };
                if k == 0 {
                    if let (Some(uo), Some(vo)) = (uo, vo) {
                        eye(uo, m);
                        eye(vo, n);
                    }
                    return;
                }
                let fail = |so: &mut [<T as Scalar>::Re], uo: Option<&mut [T]>,
                            vo: Option<&mut [T]>| {
                    so.fill(nan());
                    if let (Some(uo), Some(vo)) = (uo, vo) {
                        uo.fill(nan());
                        vo.fill(nan());
                    }
                };
                if !all_finite(blk) {
                    return fail(so, uo, vo);
                }
                let mat = load(blk, m, n);
                let mut s = Diag::<T>::zeros(k);
                let Some((uo, vo)) = uo.zip(vo) else {
                    let mut mem = MemBuffer::new(svd_scratch::<T>(
                        m,
                        n,
                        ComputeSvdVectors::No,
                        ComputeSvdVectors::No,
                        par,
                        Default::default(),
                    ));
                    let res = faer_svd(
                        mat.as_ref(),
                        s.as_mut(),
                        None,
                        None,
                        par,
                        MemStack::new(&mut mem),
                        Default::default(),
                    );
                    match res {
                        Ok(()) => {
                            let s = s.column_vector();
                            for (i, x) in so.iter_mut().enumerate() {
                                *x = T::re(&s[i]);
                            }
                        }
                        Err(_) => so.fill(nan()),
                    }
                    return;
                };
                let (cu, cv) = if full { (m, n) } else { (k, k) };
                let how = if full { ComputeSvdVectors::Full } else { ComputeSvdVectors::Thin };
                let mut u = Mat::<T>::zeros(m, cu);
                let mut v = Mat::<T>::zeros(n, cv);
                let params = svd_params::<T>();
                let mut mem = MemBuffer::new(svd_scratch::<T>(m, n, how, how, par, params.into()));
                let res = faer_svd(
                    mat.as_ref(),
                    s.as_mut(),
                    Some(u.as_mut()),
                    Some(v.as_mut()),
                    par,
                    MemStack::new(&mut mem),
                    params.into(),
                );
                match res {
                    Ok(()) => {
                        let s = s.column_vector();
                        for (i, x) in so.iter_mut().enumerate() {
                            *x = T::re(&s[i]);
                        }
                        store(u.as_ref(), uo);
                        // vh = V^H
                        for i in 0..cv {
                            for j in 0..n {
                                vo[i * n + j] = conj(&v[(j, i)]);
                            }
                        }
                    }
                    Err(_) => fail(so, Some(uo), Some(vo)),
                }
            });
            let mut res = vec![ss.finish()?];
            if let (Some(u), Some(v)) = (us, vs) {
                res.push(u.finish()?);
                res.push(v.finish()?);
            }
            Ok(res)
        }) as Kernel)
    })
}
