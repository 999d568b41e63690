//! Unblocked kernels for small matrices, run on the row-major blocks in
//! place: Cholesky, LU (LAPACK's getf2) and triangular solves. A batch of
//! 1000 8 x 8 matrices spent most of its time in faer's per-call setup
//! (scratch, dispatch, column-major copies); these loops have none.
// The element type is generic (`Scalar`), which has the arithmetic operators
// but not the compound assignments; the loops index several rows at once.
#![allow(clippy::assign_op_pattern, clippy::needless_range_loop)]
use super::Scalar;
use faer::traits::math_utils::{abs1, abs2, conj, from_f64, from_real, is_finite, mul_real};
use faer::traits::math_utils::{one, real, recip, sqrt, zero};

/// The largest order that takes these kernels for Cholesky and the
/// triangular solves (LU's leaves are `factor::LU_LEAF` wide).
pub(crate) const SMALL: usize = 16;

/// The lower Cholesky factor of the row-major `n x n` block `a` into `l`
/// (row-major, zeros above the diagonal), read from a's lower triangle, or
/// from `(a + a^H) / 2`'s with `sym` (JAX's `symmetrize_input`, each
/// element rounded as the separate add and halving would). Returns false
/// where the matrix is not positive definite: a pivot not > 0 (a NaN
/// included) or an infinite one, faer's conditions; `l` is then undefined.
///
/// Row by row (Cholesky–Crout): `l[i][j] = (a[i][j] - l[i][..j] . conj(l[j][..j])) / l[j][j]`,
/// each a dot product of two contiguous rows.
pub(crate) fn cholesky<T: Scalar>(a: &[T], n: usize, sym: bool, l: &mut [T]) -> bool {
    debug_assert!(n <= SMALL && a.len() >= n * n && l.len() >= n * n);
    let half = from_f64::<T::Real>(0.5);
    // 1 / l[j][j], a real value held as T (T::Real is not Copy)
    let mut inv = [zero::<T>(); SMALL];
    for i in 0..n {
        for j in 0..=i {
            let mut s = if sym {
                mul_real(&(a[i * n + j] + conj(&a[j * n + i])), &half)
            } else {
                a[i * n + j]
            };
            let (li, lj) = (&l[i * n..i * n + j], &l[j * n..j * n + j]);
            if i == j {
                // the diagonal is real; its imaginary part is not read
                let mut d = real(&s);
                for x in li {
                    d = d - abs2(x);
                }
                // not > 0, a NaN included
                if d.partial_cmp(&zero()) != Some(std::cmp::Ordering::Greater) {
                    return false;
                }
                let r = sqrt(&d);
                if !is_finite(&r) {
                    return false;
                }
                inv[i] = from_real(&recip(&r));
                l[i * n + i] = from_real(&r);
            } else {
                for k in 0..j {
                    s = s - li[k] * conj(&lj[k]);
                }
                l[i * n + j] = s * inv[j];
            }
        }
        for x in &mut l[i * n + i + 1..(i + 1) * n] {
            *x = zero();
        }
    }
    true
}

/// LAPACK's getf2 on the row-major `m x n` matrix at the start of `a`, rows
/// `ld` apart, in place: for each column, the first row of largest
/// `|re| + |im|` is the pivot (`piv[j]`, 0-based); a zero pivot leaves its
/// column unscaled. Every element gets the operations of the column-major
/// loop (`tests::getf2_colmajor`, the kernel before this one) in the same
/// order, so the two agree bit for bit; here rows are swapped and updated
/// contiguously. The leaves of `factor::lu_rec`.
pub(crate) fn lu<T: Scalar>(a: &mut [T], m: usize, n: usize, ld: usize, piv: &mut [usize]) {
    for j in 0..m.min(n) {
        let mut imax = j;
        let mut best = abs1(&a[j * ld + j]);
        for i in j + 1..m {
            let v = abs1(&a[i * ld + j]);
            if v > best {
                best = v;
                imax = i;
            }
        }
        piv[j] = imax;
        if a[imax * ld + j] != zero() {
            if imax != j {
                let (top, bottom) = a.split_at_mut(imax * ld);
                top[j * ld..j * ld + n].swap_with_slice(&mut bottom[..n]);
            }
            let inv = recip(&a[j * ld + j]);
            for i in j + 1..m {
                a[i * ld + j] = a[i * ld + j] * inv;
            }
        }
        // (the last row may end before the row stride does)
        let (top, rest) = a.split_at_mut(((j + 1) * ld).min(a.len()));
        let pivot_row = &top[j * ld + j + 1..j * ld + n];
        for row in rest.chunks_mut(ld).take(m - j - 1) {
            let l = row[j];
            for (x, &u) in row[j + 1..n].iter_mut().zip(pivot_row) {
                *x = *x - l * u;
            }
        }
    }
}

/// [`lu`] on the column-major `m x n` matrix `c` (columns `m` apart): the
/// same operations on every element in the same order, so the same bits.
/// For tall panels (`factor::lu_rec`'s leaves): the pivot search, the
/// scaling and each column's update run down contiguous columns.
pub(crate) fn lu_cols<T: Scalar>(c: &mut [T], m: usize, n: usize, piv: &mut [usize]) {
    for j in 0..m.min(n) {
        let mut imax = j;
        let mut best = abs1(&c[j * m + j]);
        for (i, v) in c[j * m + j + 1..(j + 1) * m].iter().enumerate() {
            let v = abs1(v);
            if v > best {
                best = v;
                imax = j + 1 + i;
            }
        }
        piv[j] = imax;
        if c[j * m + imax] != zero() {
            if imax != j {
                for col in c.chunks_mut(m).take(n) {
                    col.swap(j, imax);
                }
            }
            let inv = recip(&c[j * m + j]);
            for v in &mut c[j * m + j + 1..(j + 1) * m] {
                *v = *v * inv;
            }
        }
        let (left, right) = c.split_at_mut((j + 1) * m);
        let l = &left[j * m + j + 1..];
        for col in right.chunks_mut(m).take(n - j - 1) {
            let u = col[j];
            for (x, &lv) in col[j + 1..].iter_mut().zip(l) {
                *x = *x - lv * u;
            }
        }
    }
}

/// `triangular_solve` of one small system in place: `op(a) x = b` (left)
/// or `x op(a) = b`, `a` row-major `m x m` (m <= SMALL), `b` row-major
/// `rows x cols`, `flags` as `solve::tri_solve_one`'s. Only the `lower` (or
/// upper) triangle of `a` is read, and not its diagonal with `unit`.
/// Substitution with a division by each diagonal element, as LAPACK's trsm;
/// a zero there gives infinities and NaNs, as it does.
pub(crate) fn triangular_solve<T: Scalar>(
    a: &[T],
    m: usize,
    b: &mut [T],
    rows: usize,
    cols: usize,
    flags: [bool; 5],
) {
    debug_assert!(m <= SMALL);
    let [left, lower, transpose, conjugate, unit] = flags;
    // Both sides become `t x = b` with `t` triangular: op(a) on the left;
    // on the right, x op(a) = b is op(a)^T x^T = b^T, each row of b one
    // right-hand side. `t[i][k]` is a[i][k] or a[k][i] (read in place,
    // through strides), conjugated or not.
    let swap = transpose == left;
    let t_lower = lower != swap;
    let (ti, tk) = if swap { (1, m) } else { (m, 1) };
    let t = |i: usize, k: usize| {
        let v = a[i * ti + k * tk];
        if conjugate {
            conj(&v)
        } else {
            v
        }
    };
    // element `x[i]` of right-hand side `c` at `b[i * si + c * sc]`
    let (nrhs, si, sc) = if left { (cols, cols, 1) } else { (rows, 1, m) };
    for step in 0..m {
        let i = if t_lower { step } else { m - 1 - step };
        let (lo, hi) = if t_lower { (0, i) } else { (i + 1, m) };
        for k in lo..hi {
            let tik = t(i, k);
            for c in 0..nrhs {
                b[i * si + c * sc] = b[i * si + c * sc] - tik * b[k * si + c * sc];
            }
        }
        if !unit {
            let d = t(i, i);
            for c in 0..nrhs {
                b[i * si + c * sc] = b[i * si + c * sc] / d;
            }
        }
    }
}

/// What LAPACK's Householder reflectors need of an element beyond
/// `Scalar`'s arithmetic: its real and imaginary parts (a real's is zero) as
/// a `num_traits::Float`, and scaling by a real (`zdscal`, one real product
/// per part).
pub trait Parts: Copy {
    type R: num_traits::Float;
    fn parts(self) -> (Self::R, Self::R);
    fn of(re: Self::R, im: Self::R) -> Self;
    fn scale(self, s: Self::R) -> Self;
    /// `1 / self` without the overflow or underflow of `|self|²` (Smith's
    /// algorithm, as LAPACK's `zladiv`), which a complex `1e-30 + 0i` in
    /// float32 would otherwise meet.
    fn recip_robust(self) -> Self;
}

macro_rules! parts_real {
    ($($t:ty),*) => {$(
        impl Parts for $t {
            type R = $t;
            fn parts(self) -> ($t, $t) {
                (self, 0.0)
            }
            fn of(re: $t, _im: $t) -> $t {
                re
            }
            fn scale(self, s: $t) -> $t {
                self * s
            }
            fn recip_robust(self) -> $t {
                1.0 / self
            }
        }
    )*};
}
parts_real!(f32, f64);

macro_rules! parts_complex {
    ($($t:ty, $r:ty);*) => {$(
        impl Parts for $t {
            type R = $r;
            fn parts(self) -> ($r, $r) {
                (self.re, self.im)
            }
            fn of(re: $r, im: $r) -> $t {
                <$t>::new(re, im)
            }
            fn scale(self, s: $r) -> $t {
                <$t>::new(self.re * s, self.im * s)
            }
            fn recip_robust(self) -> $t {
                let (c, d) = (self.re, self.im);
                if c.abs() >= d.abs() {
                    let r = d / c;
                    let den = c + d * r;
                    <$t>::new(1.0 / den, -r / den)
                } else {
                    let r = c / d;
                    let den = c * r + d;
                    <$t>::new(r / den, -1.0 / den)
                }
            }
        }
    )*};
}
parts_complex!(faer::c32, f32; faer::c64, f64);

/// The largest `max(m, n)` that takes [`qr`]: LAPACK's `geqrf`/`orgqr` run
/// these unblocked loops below 128 columns; faer's blocked QR costs a few
/// microseconds a call in setup, which dominated a batch of 8 x 8 matrices
/// (1000 of them: 1.6 ms before, 0.5 ms with these loops; one 64 x 64:
/// 143 µs before, 125 µs).
pub(crate) const QR_SMALL: usize = 64;

/// `dnrm2` of `x` without overflow or underflow (scaled by the largest part).
pub(super) fn nrm2<T: Parts>(x: &[T]) -> T::R {
    use num_traits::{Float, Zero};
    let scale = x.iter().fold(T::R::zero(), |s, v| {
        let (re, im) = v.parts();
        s.max(re.abs()).max(im.abs())
    });
    if scale == T::R::zero() || !scale.is_finite() {
        // zeros, or an infinity / NaN that the sum carries through
        return x.iter().fold(T::R::zero(), |s, v| {
            let (re, im) = v.parts();
            s + (re.abs() + im.abs())
        }) + scale;
    }
    let ssq = x.iter().fold(T::R::zero(), |s, v| {
        let (re, im) = v.parts();
        s + ((re / scale).powi(2) + (im / scale).powi(2))
    });
    scale * ssq.sqrt()
}

/// `dlapy3`: `sqrt(x² + y² + z²)` without overflow.
pub(super) fn lapy3<R: num_traits::Float>(x: R, y: R, z: R) -> R {
    let w = x.abs().max(y.abs()).max(z.abs());
    if w == R::zero() || !w.is_finite() {
        x.abs() + y.abs() + z.abs()
    } else {
        w * ((x / w).powi(2) + (y / w).powi(2) + (z / w).powi(2)).sqrt()
    }
}

/// LAPACK's `zlarfg` (`dlarfg` for reals) on the column `x = [alpha, rest]`:
/// makes `H^H x = beta e1` with `H = I - tau v v^H`, `v = [1, rest']`,
/// `beta = -sign(re alpha) |x|` real; stores `beta` in `x[0]` and `v`'s tail
/// in `rest`, and returns `tau`.
pub(super) fn larfg<T: Scalar>(x: &mut [T]) -> T {
    use num_traits::{Float, One, Zero};
    let (head, rest) = x
        .split_first_mut()
        .expect("a reflector of at least one element");
    let (mut alphr, mut alphi) = head.parts();
    let mut xnorm = nrm2(rest);
    if xnorm == T::R::zero() && alphi == T::R::zero() {
        return zero();
    }
    let mut beta = -lapy3(alphr, alphi, xnorm).copysign(alphr);
    let eps = T::R::epsilon() / (T::R::one() + T::R::one());
    let safmin = T::R::min_positive_value() / eps;
    let mut knt = 0;
    if beta.abs() < safmin {
        let rsafmn = T::R::one() / safmin;
        while beta.abs() < safmin && knt < 20 {
            knt += 1;
            rest.iter_mut().for_each(|v| *v = v.scale(rsafmn));
            beta = beta * rsafmn;
            alphi = alphi * rsafmn;
            alphr = alphr * rsafmn;
        }
        xnorm = nrm2(rest);
        beta = -lapy3(alphr, alphi, xnorm).copysign(alphr);
    }
    let tau = T::of((beta - alphr) / beta, -alphi / beta);
    let s = (T::of(alphr, alphi) - T::of(beta, T::R::zero())).recip_robust();
    rest.iter_mut().for_each(|v| *v = *v * s);
    for _ in 0..knt {
        beta = beta * safmin;
    }
    *head = T::of(beta, T::R::zero());
    tau
}

/// `zlarf` from the left on the column-major columns `cols` (each `v.len()`
/// long, `ld` apart): `C -= t v (v^H C)`, with `v[0]` taken as 1.
pub(super) fn larf_left<T: Scalar>(v: &[T], t: T, cols: &mut [T], ld: usize, ncols: usize) {
    let len = v.len();
    for c in cols.chunks_mut(ld).take(ncols) {
        let c = &mut c[..len];
        let mut w = c[0];
        for l in 1..len {
            w = w + conj(&v[l]) * c[l];
        }
        let tw = t * w;
        c[0] = c[0] - tw;
        for l in 1..len {
            c[l] = c[l] - v[l] * tw;
        }
    }
}

/// LAPACK's unblocked Householder QR, `geqr2` then `ung2r` (`org2r`), of the
/// column-major `m x n` matrix `a` (overwritten with the reflectors), `m, n
/// <= QR_SMALL`: q into the row-major `m x kq` (kq = m, or min(m, n)) and r
/// into the row-major `kq x n`, as JAX's (LAPACK's) QR gives them, a real
/// diagonal of r included. `w` is scratch of at least `m * kq` elements.
pub(crate) fn qr<T: Scalar>(
    a: &mut [T],
    m: usize,
    n: usize,
    kq: usize,
    q: &mut [T],
    r: &mut [T],
    w: &mut [T],
) {
    let k = m.min(n);
    let mut tau = [zero::<T>(); QR_SMALL];
    for i in 0..k {
        let (left, right) = a.split_at_mut((i + 1) * m);
        let col = &mut left[i * m + i..];
        tau[i] = larfg(col);
        if i + 1 < n {
            // H(i)^H = I - conj(tau) v v^H on the later columns
            larf_left(col, conj(&tau[i]), &mut right[i..], m, n - i - 1);
        }
    }
    for i in 0..kq {
        for j in 0..n {
            r[i * n + j] = if j >= i { a[j * m + i] } else { zero() };
        }
    }
    // ung2r: the reflectors' columns, then unit columns k..kq, made into q
    // last reflector first
    let w = &mut w[..m * kq];
    w[..m * k].copy_from_slice(&a[..m * k]);
    for j in k..kq {
        w[j * m..(j + 1) * m].fill(zero());
        w[j * m + j] = one();
    }
    for i in (0..k).rev() {
        let (left, right) = w.split_at_mut((i + 1) * m);
        let col = &mut left[i * m + i..];
        if i + 1 < kq {
            col[0] = one();
            larf_left(col, tau[i], &mut right[i..], m, kq - i - 1);
        }
        let mt = -tau[i];
        for v in &mut col[1..] {
            *v = mt * *v;
        }
        col[0] = one::<T>() - tau[i];
        left[i * m..i * m + i].fill(zero());
    }
    for i in 0..m {
        for j in 0..kq {
            q[i * kq + j] = w[j * m + i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::c64;

    /// A deterministic pseudo-random value in [-1, 1).
    fn rnd(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }

    fn spd(n: usize, seed: &mut u64) -> Vec<f64> {
        let g: Vec<f64> = (0..n * n).map(|_| rnd(seed)).collect();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|k| g[i * n + k] * g[j * n + k]).sum::<f64>();
            }
            a[i * n + i] += n as f64;
        }
        a
    }

    /// faer's Cholesky of the lower triangle, row-major (upper zero), or None.
    fn faer_cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
        let m = faer::Mat::<f64>::from_fn(n, n, |i, j| if i >= j { a[i * n + j] } else { 0.0 });
        let llt = m.as_ref().llt(faer::Side::Lower).ok()?;
        let l = llt.L();
        Some((0..n * n).map(|k| l[(k / n, k % n)]).collect())
    }

    #[test]
    fn cholesky_matches_faer_and_fails_where_faer_does() {
        let mut seed = 1;
        for n in [0, 1, 2, 3, 5, 8, 13, 16] {
            let a = spd(n, &mut seed);
            let mut l = vec![f64::NAN; n * n];
            assert!(cholesky(&a, n, false, &mut l));
            let want = faer_cholesky(&a, n).unwrap();
            for (x, y) in l.iter().zip(&want) {
                assert!(
                    (x - y).abs() <= 1e-12 * (1.0 + y.abs()),
                    "n={n}: {x} != {y}"
                );
            }
            // symmetrizing a symmetric matrix changes nothing; an upper
            // triangle that differs is averaged in
            let mut l2 = vec![0.0; n * n];
            assert!(cholesky(&a, n, true, &mut l2));
            assert_eq!(l, l2);
            if n > 1 {
                let mut skew = a.clone();
                skew[1] += 0.5; // a[0][1]
                skew[n] -= 0.5; // a[1][0]
                assert!(cholesky(&skew, n, true, &mut l2));
                // = the factor of the matrix symmetrized beforehand, with
                // the same roundings
                let avg: Vec<f64> = (0..n * n)
                    .map(|k| (skew[k] + skew[(k % n) * n + k / n]) * 0.5)
                    .collect();
                let mut l3 = vec![0.0; n * n];
                assert!(cholesky(&avg, n, false, &mut l3));
                assert_eq!(l3, l2);
            }
        }
        // not positive definite, a NaN, an infinity: faer fails too
        let bad: [&[f64]; 4] = [
            &[1.0, 2.0, 2.0, 1.0],
            &[1.0, 0.0, f64::NAN, 1.0],
            &[f64::INFINITY, 0.0, 0.0, 1.0],
            &[0.0, 0.0, 0.0, 1.0],
        ];
        for a in bad {
            let mut l = vec![0.0; 4];
            assert!(!cholesky(a, 2, false, &mut l), "{a:?}");
            assert!(faer_cholesky(a, 2).is_none(), "{a:?}");
        }
    }

    #[test]
    fn complex_cholesky_reconstructs_a_hermitian_matrix() {
        // a = g g^H + n I, with the diagonal's imaginary part not read
        let n = 6;
        let mut seed = 7;
        let g: Vec<c64> = (0..n * n)
            .map(|_| c64::new(rnd(&mut seed), rnd(&mut seed)))
            .collect();
        let mut a = vec![c64::new(0.0, 0.0); n * n];
        for i in 0..n {
            for j in 0..n {
                for k in 0..n {
                    a[i * n + j] += g[i * n + k] * g[j * n + k].conj();
                }
            }
            a[i * n + i] += c64::new(n as f64, 5.0);
        }
        let mut l = vec![c64::new(0.0, 0.0); n * n];
        assert!(cholesky(&a, n, false, &mut l));
        for i in 0..n {
            for j in 0..=i {
                let s: c64 = (0..n).map(|k| l[i * n + k] * l[j * n + k].conj()).sum();
                let want = if i == j {
                    c64::new(a[i * n + i].re, 0.0)
                } else {
                    a[i * n + j]
                };
                assert!((s - want).norm() < 1e-12, "({i}, {j})");
            }
            assert!((i + 1..n).all(|j| l[i * n + j] == c64::new(0.0, 0.0)));
        }
    }

    /// The column-major getf2 that `lu` replaced, as a reference: the
    /// first row of largest |.| pivots, a zero pivot leaves its column.
    fn getf2_colmajor(a: &[f64], m: usize, n: usize) -> (Vec<f64>, Vec<usize>) {
        let mut c: Vec<f64> = (0..m * n).map(|k| a[(k % m) * n + k / m]).collect();
        let mut piv = vec![0; m.min(n)];
        for j in 0..m.min(n) {
            let mut imax = j;
            let mut best = c[j * m + j].abs();
            for i in j + 1..m {
                if c[j * m + i].abs() > best {
                    best = c[j * m + i].abs();
                    imax = i;
                }
            }
            piv[j] = imax;
            if c[j * m + imax] != 0.0 {
                for col in 0..n {
                    c.swap(col * m + j, col * m + imax);
                }
                let inv = 1.0 / c[j * m + j];
                for i in j + 1..m {
                    c[j * m + i] = c[j * m + i] * inv;
                }
            }
            for col in j + 1..n {
                let u = c[col * m + j];
                for i in j + 1..m {
                    c[col * m + i] = c[col * m + i] - c[j * m + i] * u;
                }
            }
        }
        ((0..m * n).map(|k| c[(k % n) * m + k / n]).collect(), piv)
    }

    #[test]
    fn lu_and_lu_cols_are_the_column_major_getf2_bit_for_bit() {
        let mut seed = 3;
        for (m, n) in [
            (0, 0),
            (1, 1),
            (3, 3),
            (8, 8),
            (16, 16),
            (12, 5),
            (5, 12),
            (40, 16),
            (200, 16),
            (200, 7),
        ] {
            let mut a: Vec<f64> = (0..m * n).map(|_| rnd(&mut seed)).collect();
            if m > 2 && n > 2 {
                // a zero column, a repeated row and a NaN
                for i in 0..m {
                    a[i * n + 1] = 0.0;
                }
                let r: Vec<f64> = a[..n].to_vec();
                a[2 * n..3 * n].copy_from_slice(&r);
            }
            if m == 12 {
                a[3 * n + 2] = f64::NAN;
            }
            let (want, wpiv) = getf2_colmajor(&a, m, n);
            // lu_cols, the kernel of tall packed panels, on the transpose
            let mut c: Vec<f64> = (0..m * n).map(|k| a[(k % m) * n + k / m]).collect();
            let mut piv = vec![0; m.min(n)];
            lu_cols(&mut c, m, n, &mut piv);
            assert_eq!(piv, wpiv, "{m} x {n} lu_cols");
            for k in 0..m * n {
                let (x, y) = (c[(k % n) * m + k / n], want[k]);
                assert!(
                    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                    "lu_cols"
                );
            }
            // rows 3 apart more than n, the last one ending at the slice's
            // end (a sub-block of a larger matrix)
            let ld = n + 3;
            let mut strided = vec![f64::INFINITY; (m.max(1) - 1) * ld + n];
            for i in 0..m {
                strided[i * ld..i * ld + n].copy_from_slice(&a[i * n..(i + 1) * n]);
            }
            let mut piv = vec![0; m.min(n)];
            lu(&mut strided, m, n, ld, &mut piv);
            assert_eq!(piv, wpiv, "{m} x {n} strided");
            for i in 0..m {
                for j in 0..n {
                    let (x, y) = (strided[i * ld + j], want[i * n + j]);
                    assert!(x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()));
                }
                if i + 1 < m {
                    assert!(strided[i * ld + n..(i + 1) * ld]
                        .iter()
                        .all(|x| x.is_infinite()));
                }
            }
            let mut piv = vec![0; m.min(n)];
            lu(&mut a, m, n, n, &mut piv);
            assert_eq!(piv, wpiv, "{m} x {n}");
            for (x, y) in a.iter().zip(&want) {
                assert!(
                    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                    "{m} x {n}"
                );
            }
        }
    }

    /// The dense `op(a)` of the triangle the flags read.
    fn op_dense(a: &[c64], m: usize, lower: bool, tr: bool, cj: bool, unit: bool) -> Vec<c64> {
        let tri = |i: usize, k: usize| {
            if i == k {
                if unit {
                    c64::new(1.0, 0.0)
                } else {
                    a[i * m + i]
                }
            } else if (i > k) == lower {
                a[i * m + k]
            } else {
                c64::new(0.0, 0.0)
            }
        };
        (0..m * m)
            .map(|p| {
                let (i, k) = (p / m, p % m);
                let v = if tr { tri(k, i) } else { tri(i, k) };
                if cj {
                    v.conj()
                } else {
                    v
                }
            })
            .collect()
    }

    #[test]
    fn triangular_solve_satisfies_every_flag_combination() {
        let mut seed = 11;
        for m in [1, 2, 5, 16] {
            // a well-conditioned triangle: a dominant diagonal, garbage in
            // the other triangle (which must not be read)
            let a: Vec<c64> = (0..m * m)
                .map(|p| {
                    let d = if p / m == p % m { 4.0 } else { 0.0 };
                    c64::new(rnd(&mut seed) + d, rnd(&mut seed))
                })
                .collect();
            for bits in 0..32u32 {
                let f = |k: u32| bits >> k & 1 == 1;
                let flags = [f(0), f(1), f(2), f(3), f(4)];
                let [left, lower, tr, cj, unit] = flags;
                let (rows, cols) = if left { (m, 3) } else { (3, m) };
                let b: Vec<c64> = (0..rows * cols)
                    .map(|_| c64::new(rnd(&mut seed), rnd(&mut seed)))
                    .collect();
                let mut x = b.clone();
                triangular_solve(&a, m, &mut x, rows, cols, flags);
                let t = op_dense(&a, m, lower, tr, cj, unit);
                for r in 0..rows {
                    for c in 0..cols {
                        // (op(a) x)[r][c] or (x op(a))[r][c]
                        let s: c64 = (0..m)
                            .map(|k| {
                                if left {
                                    t[r * m + k] * x[k * cols + c]
                                } else {
                                    x[r * cols + k] * t[k * m + c]
                                }
                            })
                            .sum();
                        assert!((s - b[r * cols + c]).norm() < 1e-12, "{flags:?} m={m}");
                    }
                }
            }
        }
        // a zero on the diagonal: infinities, as LAPACK
        let a = [0.0f64, 0.0, 1.0, 1.0];
        let mut b = [1.0f64, 1.0];
        triangular_solve(&a, 2, &mut b, 2, 1, [true, true, false, false, false]);
        assert!(b[0].is_infinite() && !b[1].is_finite());
    }

    /// The unblocked QR is LAPACK's: for complex input it equals the
    /// blocked `lapack_qr_c64` (LAPACK's reflectors; below 32 columns one
    /// panel, the same loops) to rounding, and for real input faer's QR;
    /// q has orthonormal columns and q r = a, for tall, wide and square
    /// shapes, reduced and complete.
    #[test]
    fn small_qr_is_lapacks_householder_qr() {
        let mut seed = 11;
        for (m, n) in [
            (1, 1),
            (2, 1),
            (1, 3),
            (4, 4),
            (8, 8),
            (7, 3),
            (3, 7),
            (16, 16),
            (32, 32),
            (32, 5),
            (40, 64),
            (64, 64),
        ] {
            for full in [false, true] {
                let k = m.min(n);
                let kq = if full { m } else { k };
                let a: Vec<c64> = (0..m * n)
                    .map(|_| c64::new(rnd(&mut seed), rnd(&mut seed)))
                    .collect();
                let cm = |a: &[c64]| -> Vec<c64> {
                    (0..m * n).map(|i| a[(i % m) * n + i / m]).collect()
                };
                let z = c64::new(0.0, 0.0);
                let (mut q, mut r, mut w) = (vec![z; m * kq], vec![z; kq * n], vec![z; m * kq]);
                qr(&mut cm(&a), m, n, kq, &mut q, &mut r, &mut w);
                let (mut q2, mut r2) = (vec![z; m * kq], vec![z; kq * n]);
                crate::ops::linalg::factor::lapack_qr_c64(
                    &mut cm(&a),
                    m,
                    n,
                    &mut q2,
                    &mut r2,
                    faer::Par::Seq,
                );
                for (x, y) in q.iter().zip(&q2).chain(r.iter().zip(&r2)) {
                    assert!((x - y).norm() < 1e-13, "{m}x{n} full={full}: {x} vs {y}");
                }
                assert!(
                    (0..k).all(|i| r[i * n + i].im == 0.0),
                    "r's diagonal is real"
                );
                for i in 0..kq {
                    for j in 0..kq {
                        let s: c64 = (0..m).map(|l| q[l * kq + i].conj() * q[l * kq + j]).sum();
                        let want = if i == j { 1.0 } else { 0.0 };
                        assert!((s - want).norm() < 1e-13, "q^H q ({i}, {j})");
                    }
                }
                for i in 0..m {
                    for j in 0..n {
                        let s: c64 = (0..kq).map(|l| q[i * kq + l] * r[l * n + j]).sum();
                        assert!((s - a[i * n + j]).norm() < 1e-13, "q r ({i}, {j})");
                    }
                }
                // real input: faer's (LAPACK's) factors
                let ar: Vec<f64> = a.iter().map(|v| v.re).collect();
                let mut cr: Vec<f64> = (0..m * n).map(|i| ar[(i % m) * n + i / m]).collect();
                let (mut q, mut r, mut w) =
                    (vec![0.0; m * kq], vec![0.0; kq * n], vec![0.0; m * kq]);
                qr(&mut cr, m, n, kq, &mut q, &mut r, &mut w);
                let f = faer::Mat::<f64>::from_fn(m, n, |i, j| ar[i * n + j]).qr();
                let (fq, fr) = if full {
                    (f.compute_Q(), f.R().to_owned())
                } else {
                    (f.compute_thin_Q(), f.thin_R().to_owned())
                };
                for i in 0..m {
                    for j in 0..kq {
                        assert!((q[i * kq + j] - fq[(i, j)]).abs() < 1e-13, "real q {m}x{n}");
                    }
                }
                for i in 0..kq {
                    for j in i..n {
                        assert!((r[i * n + j] - fr[(i, j)]).abs() < 1e-13, "real r {m}x{n}");
                    }
                }
            }
        }
    }
}
