//! The solvers: `triangular_solve`, `tridiagonal_solve`, and
//! `lu_pivots_to_permutation`.
// The element type is generic (`Scalar`: real now, complex later), which has
// the arithmetic operators but not the compound assignments; the loops index
// several arrays at once, as the LAPACK algorithms they follow do.
#![allow(clippy::assign_op_pattern, clippy::needless_range_loop)]
use super::{batch_of, for_batch, for_batch_small, read, small, Out, Scalar};
use crate::base::buffer::Buffer;
use crate::base::dtype::DType;
use crate::base::error::Result;
use crate::ops::{Kernel, OpSpec};
use faer::linalg::triangular_solve as ts;
use faer::traits::math_utils::{
    abs, abs1, eps, from_real, max, min_positive, mul_real, nan, one, real, zero,
};
use faer::traits::RealField;
use faer::{Conj, Mat, MatMut, MatRef, Par};

// ---------------------------------------------------------------------------
// triangular_solve(a, b): op(a) x = b (left_side) or x op(a) = b, op(a) one
// of a, a^T, conj(a), a^H; only the `lower` (or upper) triangle of a is read,
// and not its diagonal with `unit_diagonal`.

#[allow(clippy::too_many_arguments)]
fn tri_solve_one<T: Scalar>(
    a: &[T],
    m: usize,
    out: &mut [T],
    rows: usize,
    cols: usize,
    flags: [bool; 5],
    par: Par,
) {
    let [left, lower, transpose, conjugate, unit] = flags;
    let a = MatRef::from_row_major_slice(a, m, m);
    // Left: op(a) x = b with b row-major (m x cols). Right: x op(a) = b is
    // op(a)^T x^T = b^T, and b^T is the row-major b read column-major.
    let (eff, rhs, lower_eff): (MatRef<'_, T>, MatMut<'_, T>, bool) = if left {
        let rhs = MatMut::from_row_major_slice_mut(out, rows, cols);
        if transpose {
            (a.transpose(), rhs, !lower)
        } else {
            (a, rhs, lower)
        }
    } else {
        let rhs = MatMut::from_column_major_slice_mut(out, cols, rows);
        if transpose {
            (a, rhs, lower)
        } else {
            (a.transpose(), rhs, !lower)
        }
    };
    let c = if conjugate { Conj::Yes } else { Conj::No };
    let solve = |rhs: MatMut<'_, T>| match (lower_eff, unit) {
        (true, false) => ts::solve_lower_triangular_in_place_with_conj(eff, c, rhs, par),
        (true, true) => ts::solve_unit_lower_triangular_in_place_with_conj(eff, c, rhs, par),
        (false, false) => ts::solve_upper_triangular_in_place_with_conj(eff, c, rhs, par),
        (false, true) => ts::solve_unit_upper_triangular_in_place_with_conj(eff, c, rhs, par),
    };
    if left && cols > 1 && m >= COL_MAJOR_MIN {
        // faer's blocked solve runs a column-major right-hand side about
        // 1.5x faster (1024 x 1024 float32: 9.3 ms against 13.9 ms), which
        // pays for the two copies
        let mut cm = Mat::<T>::from_fn(rows, cols, |i, j| rhs[(i, j)]);
        solve(cm.as_mut());
        let mut rhs = rhs;
        for i in 0..rows {
            for j in 0..cols {
                rhs[(i, j)] = cm[(i, j)];
            }
        }
    } else {
        solve(rhs);
    }
}

/// The size from which a row-major right-hand side is solved as a
/// column-major copy.
const COL_MAJOR_MIN: usize = 512;

/// The rows of the right-hand side in the order `idx` (int32 or int64, one
/// per row of every batch item, clamped into range as rjax's gather clamps):
/// `b[..., idx[..., i], :]` for row i.
fn row_order(idx: &Buffer, dt: DType, batch: usize, rows: usize) -> Result<Vec<usize>> {
    let clamp = |v: i64| v.clamp(0, rows.saturating_sub(1) as i64) as usize;
    let v: Vec<usize> = match dt {
        DType::I32 => idx
            .slice::<i32>()?
            .iter()
            .map(|&v| clamp(v as i64))
            .collect(),
        DType::I64 => idx.slice::<i64>()?.iter().map(|&v| clamp(v)).collect(),
        other => return Err(crate::base::error::dtype_err("triangular_solve", other)),
    };
    crate::ensure!(
        v.len() == batch * rows,
        "triangular_solve: {} row indices for {} rows",
        v.len(),
        batch * rows
    );
    Ok(v)
}

/// `triangular_solve(a, b)`, or `triangular_solve(a, b, idx)` for a left
/// solve of `b`'s rows taken in the order `idx` (`b[..., idx[..., i], :]`,
/// the row permutation of `lu_solve`, which the Python lowering folds into
/// the solve instead of a separate gather): the kernel copies `b` into its
/// output anyway, and copies it in that order.
pub fn build_triangular_solve(spec: &OpSpec) -> Result<Kernel> {
    let permuted = spec.ins.len() == 3;
    spec.arity(if permuted { 3 } else { 2 }, 1)?;
    let idx_dt = spec.ins.get(2).map_or(DType::I32, |a| a.dtype);
    crate::ensure!(
        matches!(idx_dt, DType::I32 | DType::I64),
        "triangular_solve: row indices of dtype {}",
        idx_dt
    );
    let dt = spec.ins[0].dtype;
    crate::ensure!(
        spec.ins[1].dtype == dt && spec.outs[0].dtype == dt,
        "triangular_solve: operand dtypes {} and {} must equal the output dtype {}",
        dt,
        spec.ins[1].dtype,
        spec.outs[0].dtype
    );
    let p = spec.params;
    let flags = [
        p.bool("left_side")?,
        p.bool("lower")?,
        p.bool("transpose_a")?,
        p.bool("conjugate_a")?,
        p.bool("unit_diagonal")?,
    ];
    crate::ensure!(
        !permuted || flags[0],
        "triangular_solve: row indices need left_side"
    );
    let a_shape = spec.ins[0].shape.clone();
    let b_shape = spec.ins[1].shape.clone();
    let m = a_shape[a_shape.len() - 1];
    let r = b_shape.len();
    let (rows, cols) = (b_shape[r - 2], b_shape[r - 1]);
    let batch = batch_of(&b_shape, 2);
    let a_batch = batch_of(&a_shape, 2);
    crate::ensure!(
        a_batch == batch,
        "triangular_solve: batch sizes {} and {} differ",
        a_batch,
        batch
    );
    let par = super::factor::par_for(batch, m, m);
    crate::linalg_dtype!(dt, "triangular_solve", T => {
        Ok(Box::new(move |ins: &[&Buffer]| {
            let (a, b) = (read::<T>(ins[0])?, read::<T>(ins[1])?);
            let order = if permuted { Some(row_order(ins[2], idx_dt, batch, rows)?) } else { None };
            let out = Out::<T>::new(&b_shape, 2);
            let nb = rows * cols;
            // batch item i's right-hand side, in the given row order
            let load = |i: usize, o: &mut [T]| {
                let bi = &b[i * nb..(i + 1) * nb];
                match &order {
                    None => o.copy_from_slice(bi),
                    Some(ord) => {
                        for (r, &src) in ord[i * rows..(i + 1) * rows].iter().enumerate() {
                            o[r * cols..(r + 1) * cols]
                                .copy_from_slice(&bi[src * cols..(src + 1) * cols]);
                        }
                    }
                }
            };
            if m <= small::SMALL {
                // substitution in place: faer's per-call setup costs more
                // than an 8 x 8 solve
                for_batch_small(batch, m * nb, |i| {
                    // SAFETY: `for_batch_small` visits each batch item once.
                    let o = unsafe { out.block(i) };
                    load(i, o);
                    if nb > 0 && m > 0 {
                        let ai = &a[i * m * m..(i + 1) * m * m];
                        small::triangular_solve(ai, m, o, rows, cols, flags);
                    }
                });
                return Ok(vec![out.finish()?]);
            }
            for_batch(batch, |i| {
                // SAFETY: `for_batch` visits each batch item once.
                let o = unsafe { out.block(i) };
                load(i, o);
                if nb > 0 && m > 0 {
                    tri_solve_one(&a[i * m * m..(i + 1) * m * m], m, o, rows, cols, flags, par);
                }
            });
            Ok(vec![out.finish()?])
        }) as Kernel)
    })
}

// ---------------------------------------------------------------------------
// tridiagonal_solve(dl, d, du, b): LAPACK's gtsv (Gaussian elimination with
// partial pivoting); dl[0] and du[m-1] are not read. A singular matrix gives
// NaNs, as JAX does.

/// Solve in place for the row-major `b` (n x k); false if singular.
fn gtsv<T: Scalar>(dl: &[T], d: &[T], du: &[T], b: &mut [T], n: usize, k: usize) -> bool {
    if n == 0 {
        return true;
    }
    // LAPACK's arrays: dl[i] = A[i+1, i], du[i] = A[i, i+1]
    let mut dl: Vec<T> = dl[1..].to_vec();
    let mut d: Vec<T> = d.to_vec();
    let mut du: Vec<T> = du[..n - 1].to_vec();
    let z = zero::<T>();
    for i in 0..n - 1 {
        let last = i == n - 2;
        if abs1(&d[i]) >= abs1(&dl[i]) {
            if d[i] == z {
                return false;
            }
            let fact = dl[i] / d[i];
            d[i + 1] = d[i + 1] - fact * du[i];
            for j in 0..k {
                b[(i + 1) * k + j] = b[(i + 1) * k + j] - fact * b[i * k + j];
            }
            dl[i] = z;
        } else {
            let fact = d[i] / dl[i];
            d[i] = dl[i];
            let temp = d[i + 1];
            d[i + 1] = du[i] - fact * temp;
            if !last {
                dl[i] = du[i + 1];
                du[i + 1] = -(fact * dl[i]);
            }
            du[i] = temp;
            for j in 0..k {
                let t = b[i * k + j];
                b[i * k + j] = b[(i + 1) * k + j];
                b[(i + 1) * k + j] = t - fact * b[(i + 1) * k + j];
            }
        }
    }
    if d[n - 1] == z {
        return false;
    }
    for j in 0..k {
        b[(n - 1) * k + j] = b[(n - 1) * k + j] / d[n - 1];
        if n > 1 {
            b[(n - 2) * k + j] = (b[(n - 2) * k + j] - du[n - 2] * b[(n - 1) * k + j]) / d[n - 2];
        }
        for i in (0..n.saturating_sub(2)).rev() {
            b[i * k + j] =
                (b[i * k + j] - du[i] * b[(i + 1) * k + j] - dl[i] * b[(i + 2) * k + j]) / d[i];
        }
    }
    true
}

// tridiagonal_solve(..., perturb_singular=True): JAX's CPU kernel, which
// follows LAPACK's xLAGTF + xLAGTS. The partially pivoted LU of A runs with
// the forward solve fused into it (pivoting where |dl| / (row's 1-norm)
// beats the pivot's); then the back substitution nudges each pivot of U that
// is too small for its row of the right-hand side, by multiples of
// eps * max|U|, so that a singular A (T - lambda I with lambda an
// eigenvalue: inverse iteration) gives finite, large solutions.

/// The sign of `y` (sign bit included) on `|x|`, as C's copysign.
fn copysign<R: RealField + Copy>(x: R, y: R) -> R {
    let a = if x < zero::<R>() { -x } else { x };
    if y < zero::<R>() || (y == zero::<R>() && one::<R>() / y < zero::<R>()) {
        -a
    } else {
        a
    }
}

/// Perturb the pivot `p` until neither `1 / p` nor `row / p` overflows
/// (xLAGTS), or scale a tiny pivot and its row up together.
fn perturb_pivot<T: Scalar>(perturb: T::Real, p: &mut T, row: &mut [T])
where
    T::Real: Copy,
{
    let one = one::<T::Real>();
    // LAPACK's safe minimum: 1 / max is below the smallest normal number
    // for both float types, so it is the smallest normal number.
    let safemin: T::Real = min_positive();
    let bignum = one / safemin;
    let mut abs_p = abs(p);
    if abs_p >= one {
        return;
    }
    let mut perturb = copysign(max(&abs(&perturb), &safemin), real(p));
    let max_row: T::Real = row
        .iter()
        .map(abs)
        .fold(zero::<T::Real>(), |m, x| max(&m, &x));
    loop {
        if abs_p >= one {
            return;
        }
        if abs_p < safemin {
            if abs_p == zero::<T::Real>() || max_row * safemin > abs_p {
                *p = *p + from_real::<T>(&perturb);
                perturb = perturb + perturb;
            } else {
                *p = mul_real(p, &bignum);
                for x in row.iter_mut() {
                    *x = mul_real(x, &bignum);
                }
                return;
            }
        } else if max_row > abs_p * bignum {
            *p = *p + from_real::<T>(&perturb);
            perturb = perturb + perturb;
        } else {
            return;
        }
        abs_p = abs(p);
    }
}

/// `x = row * (1 / p)` after `perturb_pivot`, into `b`'s row `i`.
fn set_row<T: Scalar>(b: &mut [T], i: usize, k: usize, row: &[T], p: T) {
    let r = T::quot(one::<T>(), p);
    for (o, x) in b[i * k..(i + 1) * k].iter_mut().zip(row) {
        *o = *x * r;
    }
}

/// Solve in place for the row-major `b` (n x k), perturbing small pivots.
fn gtsv_perturbed<T: Scalar>(dl: &[T], d: &[T], du: &[T], b: &mut [T], n: usize, k: usize)
where
    T::Real: Copy,
{
    let e: T::Real = eps();
    let mut row = vec![zero::<T>(); k];
    if n == 0 {
        return;
    }
    if n == 1 {
        let mut p = d[0];
        row.copy_from_slice(&b[..k]);
        perturb_pivot(e * abs(&p), &mut p, &mut row);
        for (o, x) in b[..k].iter_mut().zip(&row) {
            *o = T::quot(*x, p);
        }
        return;
    }
    // U's diagonal and its two superdiagonals, row by row
    let z = zero::<T>();
    let mut u = vec![[z; 3]; n];
    u[0][0] = d[0];
    u[0][1] = du[0];
    let mut max_u = max(&abs(&u[0][0]), &abs(&u[0][1]));
    let mut scale1 = abs(&u[0][0]) + abs(&u[0][1]);
    for i in 0..n - 1 {
        let (r0, r1) = (i * k, (i + 1) * k);
        u[i + 1][0] = d[i + 1];
        let mut scale2 = abs(&dl[i + 1]) + abs(&u[i + 1][0]);
        if i < n - 2 {
            scale2 = scale2 + abs(&du[i + 1]);
        }
        if dl[i + 1] == z {
            scale1 = scale2;
            u[i + 1][1] = du[i + 1];
            u[i][2] = z;
        } else {
            let piv1 = if u[i][0] == z {
                zero::<T::Real>()
            } else {
                abs(&u[i][0]) / scale1
            };
            let piv2 = abs(&dl[i + 1]) / scale2;
            if piv2 <= piv1 {
                scale1 = scale2;
                let f = T::quot(dl[i + 1], u[i][0]);
                u[i + 1][0] = u[i + 1][0] - f * u[i][1];
                u[i + 1][1] = du[i + 1];
                u[i][2] = z;
                for j in 0..k {
                    b[r1 + j] = b[r1 + j] - f * b[r0 + j];
                }
            } else {
                let f = T::quot(u[i][0], dl[i + 1]);
                let ut = u[i][1];
                u[i][0] = dl[i + 1];
                u[i + 1][0] = ut - f * d[i + 1];
                u[i][1] = d[i + 1];
                if i < n - 2 {
                    u[i][2] = du[i + 1];
                    u[i + 1][1] = -f * du[i + 1];
                }
                for j in 0..k {
                    let (x, y) = (b[r0 + j], b[r1 + j]);
                    b[r1 + j] = x - f * y;
                    b[r0 + j] = y;
                }
                scale1 = abs(&u[i + 1][0]) + abs(&u[i + 1][1]);
            }
        }
        if i < n - 2 {
            for x in &u[i] {
                max_u = max(&max_u, &abs(x));
            }
        }
    }
    max_u = max(&max_u, &abs(&u[n - 1][0]));
    let perturb = e * max_u;
    for i in (0..n).rev() {
        let mut p = u[i][0];
        for j in 0..k {
            let mut x = b[i * k + j];
            if i + 1 < n {
                x = x - u[i][1] * b[(i + 1) * k + j];
            }
            if i + 2 < n {
                x = x - u[i][2] * b[(i + 2) * k + j];
            }
            row[j] = x;
        }
        perturb_pivot(copysign(perturb, real(&p)), &mut p, &mut row);
        set_row(b, i, k, &row, p);
    }
}

pub fn build_tridiagonal_solve(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(4, 1)?;
    spec.same_dtypes()?;
    // absent in programs exported before the flag existed: LAPACK's gtsv
    let perturb = spec.params.has("perturb_singular") && spec.params.bool("perturb_singular")?;
    let b_shape = spec.ins[3].shape.clone();
    let r = b_shape.len();
    let (n, k) = (b_shape[r - 2], b_shape[r - 1]);
    let batch = batch_of(&b_shape, 2);
    let dt = spec.ins[3].dtype;
    crate::linalg_dtype!(dt, "tridiagonal_solve", T => {
        Ok(Box::new(move |ins: &[&Buffer]| {
            let (dl, d, du, b) = (
                read::<T>(ins[0])?,
                read::<T>(ins[1])?,
                read::<T>(ins[2])?,
                read::<T>(ins[3])?,
            );
            let out = Out::<T>::new(&b_shape, 2);
            for_batch(batch, |i| {
                // SAFETY: `for_batch` visits each batch item once.
                let o = unsafe { out.block(i) };
                o.copy_from_slice(&b[i * n * k..(i + 1) * n * k]);
                let s = i * n..(i + 1) * n;
                if perturb {
                    gtsv_perturbed(&dl[s.clone()], &d[s.clone()], &du[s], o, n, k);
                } else if !gtsv(&dl[s.clone()], &d[s.clone()], &du[s], o, n, k) {
                    o.fill(nan());
                }
            });
            Ok(vec![out.finish()?])
        }) as Kernel)
    })
}

// ---------------------------------------------------------------------------
// lu_pivots_to_permutation(pivots): apply the row swaps i <-> pivots[i] to
// iota(permutation_size), with JAX's indexing of pivots out of range.

pub fn build_lu_pivots_to_permutation(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(1, 1)?;
    let piv_shape = spec.ins[0].shape.clone();
    let out_shape = spec.outs[0].shape.clone();
    let k = piv_shape[piv_shape.len() - 1];
    let m = out_shape[out_shape.len() - 1];
    let batch = batch_of(&out_shape, 1);
    crate::ensure!(
        spec.ins[0].dtype == crate::base::dtype::DType::I32,
        "lu_pivots_to_permutation: pivots must be int32"
    );
    Ok(Box::new(move |ins: &[&Buffer]| {
        let piv = read::<i32>(ins[0])?;
        let out = Out::<i32>::new(&out_shape, 1);
        for_batch(batch, |b| {
            // SAFETY: `for_batch` visits each batch item once.
            let o = unsafe { out.block(b) };
            for (i, x) in o.iter_mut().enumerate() {
                *x = i as i32;
            }
            // JAX's loop of `perm.at[i].set(perm[j])`, `perm.at[j].set(perm[i])`:
            // a negative j counts from the end, the read clamps, the write
            // out of range is dropped.
            for (i, &p) in piv[b * k..(b + 1) * k].iter().enumerate() {
                let j = if p < 0 { p as i64 + m as i64 } else { p as i64 };
                let y = o[j.clamp(0, m as i64 - 1) as usize];
                let x = o[i];
                o[i] = y;
                if (0..m as i64).contains(&j) {
                    o[j as usize] = x;
                }
            }
        });
        Ok(vec![out.finish()?])
    }))
}
