use crate::base::aval::Aval;
use crate::base::buffer::Buffer;
use crate::base::dtype::DType;
use crate::base::params::{Param, Params};
use crate::ops::testing::run_ops;

fn run(p: Params, ins: &[Buffer], outs: &[(DType, Vec<usize>)]) -> Vec<Buffer> {
    let outs: Vec<Aval> = outs.iter().map(|(d, s)| Aval::new(*d, s.clone())).collect();
    run_ops(p, ins, &outs)
}

fn f64s(b: &Buffer) -> Vec<f64> {
    b.slice::<f64>().unwrap().to_vec()
}

fn close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < 1e-12, "{a:?} != {b:?}");
    }
}

#[test]
fn cholesky_of_a_batch_and_of_an_indefinite_matrix() {
    let a = Buffer::from_vec(vec![2, 2, 2], &[4.0, 99.0, 2.0, 5.0, 1.0, 2.0, 2.0, 1.0]).unwrap();
    let out = run(
        Params::new("cholesky"),
        &[a],
        &[(DType::F64, vec![2, 2, 2])],
    );
    let v = f64s(&out[0]);
    close(&v[..4], &[2.0, 0.0, 1.0, 2.0]); // the upper triangle is not read
                                           // failure: NaNs on and below the diagonal, zero above (JAX after its tril)
    assert!(v[4].is_nan() && v[5] == 0.0 && v[6].is_nan() && v[7].is_nan());
}

/// A deterministic symmetric positive definite `n x n` matrix, row-major.
fn spd(n: usize) -> Vec<f64> {
    let g: Vec<f64> = (0..n * n)
        .map(|k| ((k * 37 + 11) % 23) as f64 / 23.0 - 0.5)
        .collect();
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            a[i * n + j] = (0..n).map(|k| g[i * n + k] * g[j * n + k]).sum::<f64>();
        }
        a[i * n + i] += 1.0;
    }
    a
}

#[test]
fn cholesky_symmetrizes_in_place_on_both_paths() {
    // 8 (the small kernel) and 40 (faer's): `symmetrize_input` factors
    // (a + a^T)/2, the result of factoring the symmetrized matrix
    for n in [8, 40] {
        let a = spd(n);
        let mut skew = a.clone();
        for i in 0..n {
            for j in 0..i {
                let d = ((i * 3 + j) % 5) as f64 * 0.25;
                skew[i * n + j] += d;
                skew[j * n + i] -= d;
            }
        }
        let p = Params::new("cholesky").with("symmetrize_input", Param::Bool(true));
        let got = run(
            p,
            &[Buffer::from_vec(vec![n, n], &skew).unwrap()],
            &[(DType::F64, vec![n, n])],
        );
        // the same roundings as the separate add and halving
        let sym: Vec<f64> = (0..n * n)
            .map(|k| (skew[k] + skew[(k % n) * n + k / n]) * 0.5)
            .collect();
        let want = run(
            Params::new("cholesky"),
            &[Buffer::from_vec(vec![n, n], &sym).unwrap()],
            &[(DType::F64, vec![n, n])],
        );
        assert_eq!(f64s(&got[0]), f64s(&want[0]), "n = {n}");
        let l = f64s(&want[0]);
        for i in 0..n {
            for j in 0..n {
                let s: f64 = (0..n).map(|k| l[i * n + k] * l[j * n + k]).sum();
                assert!((s - a[i * n + j]).abs() < 1e-12 * n as f64, "n = {n}");
            }
        }
    }
    // the faer path does not read the upper triangle either
    let a = spd(40);
    let mut nan_upper = a.clone();
    for i in 0..40 {
        for j in i + 1..40 {
            nan_upper[i * 40 + j] = f64::NAN;
        }
    }
    let chol = |x: &[f64]| {
        f64s(
            &run(
                Params::new("cholesky"),
                &[Buffer::from_vec(vec![40, 40], x).unwrap()],
                &[(DType::F64, vec![40, 40])],
            )[0],
        )
    };
    assert_eq!(chol(&a), chol(&nan_upper));
    // a failure on the faer path: the same NaN/zero pattern
    let mut bad = spd(40);
    bad[39 * 40 + 39] = -1.0;
    let out = run(
        Params::new("cholesky"),
        &[Buffer::from_vec(vec![40, 40], &bad).unwrap()],
        &[(DType::F64, vec![40, 40])],
    );
    let v = f64s(&out[0]);
    assert!((0..1600).all(|k| if k % 40 <= k / 40 {
        v[k].is_nan()
    } else {
        v[k] == 0.0
    }));
}

#[test]
fn small_kernels_agree_with_faers_path_on_a_batch() {
    // 16 x 16 takes the small kernels, 17 x 17 faer's: on the same SPD
    // matrix (padded with an identity block) the factors and the
    // triangular solves agree to rounding
    let n = 16;
    let a = spd(n);
    let mut big = vec![0.0; 17 * 17];
    for i in 0..17 {
        for j in 0..17 {
            big[i * 17 + j] = if i < n && j < n {
                a[i * n + j]
            } else if i == j {
                1.0
            } else {
                0.0
            };
        }
    }
    let l16 = f64s(
        &run(
            Params::new("cholesky"),
            &[Buffer::from_vec(vec![1, n, n], &a).unwrap()],
            &[(DType::F64, vec![1, n, n])],
        )[0],
    );
    let l17 = f64s(
        &run(
            Params::new("cholesky"),
            &[Buffer::from_vec(vec![17, 17], &big).unwrap()],
            &[(DType::F64, vec![17, 17])],
        )[0],
    );
    for i in 0..n {
        for j in 0..n {
            assert!((l16[i * n + j] - l17[i * 17 + j]).abs() < 1e-13);
        }
    }
    let tri = |m: usize, l: &[f64], lower: bool, tr: bool| {
        let b: Vec<f64> = (0..m * 3).map(|k| (k % 7) as f64 - 3.0).collect();
        let p = Params::new("triangular_solve")
            .with("left_side", Param::Bool(true))
            .with("lower", Param::Bool(lower))
            .with("transpose_a", Param::Bool(tr))
            .with("conjugate_a", Param::Bool(false))
            .with("unit_diagonal", Param::Bool(false));
        f64s(
            &run(
                p,
                &[
                    Buffer::from_vec(vec![m, m], l).unwrap(),
                    Buffer::from_vec(vec![m, 3], &b).unwrap(),
                ],
                &[(DType::F64, vec![m, 3])],
            )[0],
        )
    };
    for (lower, tr) in [(true, false), (true, true)] {
        let (x16, x17) = (tri(16, &l16, lower, tr), tri(17, &l17, lower, tr));
        // the 17th row of b is solved against the identity block
        for k in 0..n * 3 {
            assert!((x16[k] - x17[k]).abs() < 1e-12, "{lower} {tr}");
        }
    }
}

#[test]
fn lu_pivots_like_getrf_and_leaves_a_zero_column() {
    let a = Buffer::from_vec(vec![3, 3], &[0.0, 0.0, 1.0, 0.0, 0.0, 2.0, 0.0, 0.0, 3.0]).unwrap();
    let out = run(
        Params::new("lu"),
        &[a],
        &[
            (DType::F64, vec![3, 3]),
            (DType::I32, vec![3]),
            (DType::I32, vec![3]),
        ],
    );
    assert!(f64s(&out[0]).iter().all(|x| x.is_finite()));
    let a = Buffer::from_vec(vec![2, 2], &[1.0, 2.0, 3.0, 4.0]).unwrap();
    let out = run(
        Params::new("lu"),
        &[a],
        &[
            (DType::F64, vec![2, 2]),
            (DType::I32, vec![2]),
            (DType::I32, vec![2]),
        ],
    );
    close(&f64s(&out[0]), &[3.0, 4.0, 1.0 / 3.0, 2.0 - 4.0 / 3.0]);
    assert_eq!(out[1].slice::<i32>().unwrap(), &[1, 1]);
    assert_eq!(out[2].slice::<i32>().unwrap(), &[1, 0]);
}

#[test]
fn triangular_solve_left_and_right() {
    let a = Buffer::from_vec(vec![2, 2], &[2.0, 0.0, 1.0, 4.0]).unwrap();
    let b = Buffer::from_vec(vec![2, 1], &[2.0, 9.0]).unwrap();
    let p = |left: bool, tr: bool| {
        Params::new("triangular_solve")
            .with("left_side", Param::Bool(left))
            .with("lower", Param::Bool(true))
            .with("transpose_a", Param::Bool(tr))
            .with("conjugate_a", Param::Bool(false))
            .with("unit_diagonal", Param::Bool(false))
    };
    let out = run(p(true, false), &[a.clone(), b], &[(DType::F64, vec![2, 1])]);
    close(&f64s(&out[0]), &[1.0, 2.0]); // [[2,0],[1,4]] x = [2, 9]
    let b = Buffer::from_vec(vec![1, 2], &[2.0, 4.0]).unwrap();
    let out = run(p(false, false), &[a, b], &[(DType::F64, vec![1, 2])]);
    close(&f64s(&out[0]), &[0.5, 1.0]); // x [[2,0],[1,4]] = [2, 4]
}

#[test]
fn tridiagonal_solve_pivots_and_flags_singular_systems() {
    // [[0, 1], [1, 0]] x = [1, 2] needs a row interchange
    let dl = Buffer::from_vec(vec![2], &[0.0, 1.0]).unwrap();
    let d = Buffer::from_vec(vec![2], &[0.0, 0.0]).unwrap();
    let du = Buffer::from_vec(vec![2], &[1.0, 0.0]).unwrap();
    let b = Buffer::from_vec(vec![2, 1], &[1.0, 2.0]).unwrap();
    let out = run(
        Params::new("tridiagonal_solve"),
        &[dl, d.clone(), du, b.clone()],
        &[(DType::F64, vec![2, 1])],
    );
    close(&f64s(&out[0]), &[2.0, 1.0]);
    let z = Buffer::from_vec(vec![2], &[0.0, 0.0]).unwrap();
    let out = run(
        Params::new("tridiagonal_solve"),
        &[z.clone(), d, z, b],
        &[(DType::F64, vec![2, 1])],
    );
    assert!(f64s(&out[0]).iter().all(|x| x.is_nan()));
}

#[test]
fn svd_and_eigh_of_empty_and_nan_matrices() {
    let a = Buffer::from_vec(vec![2, 0], &[] as &[f64]).unwrap();
    let p = Params::new("svd")
        .with("full_matrices", Param::Bool(true))
        .with("compute_uv", Param::Bool(true));
    let out = run(
        p,
        &[a],
        &[
            (DType::F64, vec![0]),
            (DType::F64, vec![2, 2]),
            (DType::F64, vec![0, 0]),
        ],
    );
    close(&f64s(&out[1]), &[1.0, 0.0, 0.0, 1.0]);
    let a = Buffer::from_vec(vec![2, 2], &[1.0, f64::NAN, f64::NAN, 1.0]).unwrap();
    let p = Params::new("eigh")
        .with("lower", Param::Bool(true))
        .with("sort_eigenvalues", Param::Bool(true));
    let out = run(p, &[a], &[(DType::F64, vec![2, 2]), (DType::F64, vec![2])]);
    assert!(f64s(&out[1]).iter().all(|x| x.is_nan()));
}

fn c128s(b: &Buffer) -> Vec<crate::base::dtype::C128> {
    b.slice::<crate::base::dtype::C128>().unwrap().to_vec()
}

#[test]
fn eig_of_a_rotation_gives_a_conjugate_pair_and_unit_vectors() {
    // [[0, -1], [1, 0]]: eigenvalues i and -i (in this order, as geev)
    let a = Buffer::from_vec(vec![2, 2], &[0.0, -1.0, 1.0, 0.0]).unwrap();
    let p = Params::new("eig")
        .with("compute_left_eigenvectors", Param::Bool(true))
        .with("compute_right_eigenvectors", Param::Bool(true));
    let c = DType::C128;
    let out = run(p, &[a], &[(c, vec![2]), (c, vec![2, 2]), (c, vec![2, 2])]);
    let w = c128s(&out[0]);
    assert!((w[0].re).abs() < 1e-12 && (w[0].im.abs() - 1.0).abs() < 1e-12);
    assert_eq!((w[0].re, w[0].im), (w[1].re, -w[1].im));
    for v in [c128s(&out[1]), c128s(&out[2])] {
        for j in 0..2 {
            let norm: f64 = (0..2)
                .map(|i| v[i * 2 + j].re.powi(2) + v[i * 2 + j].im.powi(2))
                .sum();
            assert!((norm - 1.0).abs() < 1e-12);
        }
    }
    // a vr[:, 0] = w[0] vr[:, 0]
    let v = c128s(&out[2]);
    let (x0, x1) = (v[0], v[2]);
    // row 0: -x1 ; row 1: x0
    let lhs = [(-x1.re, -x1.im), (x0.re, x0.im)];
    let rhs = [
        (
            w[0].re * x0.re - w[0].im * x0.im,
            w[0].re * x0.im + w[0].im * x0.re,
        ),
        (
            w[0].re * x1.re - w[0].im * x1.im,
            w[0].re * x1.im + w[0].im * x1.re,
        ),
    ];
    for (l, r) in lhs.iter().zip(&rhs) {
        assert!((l.0 - r.0).abs() < 1e-12 && (l.1 - r.1).abs() < 1e-12);
    }
}

#[test]
fn eig_of_a_non_finite_matrix_is_nan() {
    let a = Buffer::from_vec(vec![2, 2], &[f64::NAN, 0.0, 0.0, 1.0]).unwrap();
    let p = Params::new("eig")
        .with("compute_left_eigenvectors", Param::Bool(false))
        .with("compute_right_eigenvectors", Param::Bool(false));
    let out = run(p, &[a], &[(DType::C128, vec![2])]);
    assert!(c128s(&out[0])
        .iter()
        .all(|z| z.re.is_nan() && z.im.is_nan()));
}

#[test]
fn hessenberg_q_reconstructs_its_input() {
    let n = 5;
    let vals: Vec<f64> = (0..n * n)
        .map(|k| ((k * 7 + 3) % 11) as f64 - 5.0)
        .collect();
    let a = Buffer::from_vec(vec![n, n], &vals).unwrap();
    let out = run(
        Params::new("hessenberg_q"),
        &[a],
        &[(DType::F64, vec![n, n]), (DType::F64, vec![n, n])],
    );
    let (h, q) = (f64s(&out[0]), f64s(&out[1]));
    for i in 0..n {
        for j in 0..n {
            if i > j + 1 {
                assert_eq!(h[i * n + j], 0.0);
            }
            // (q h q^T)[i, j]
            let mut s = 0.0;
            for k in 0..n {
                for l in 0..n {
                    s += q[i * n + k] * h[k * n + l] * q[j * n + l];
                }
            }
            assert!(
                (s - vals[i * n + j]).abs() < 1e-10,
                "{s} != {}",
                vals[i * n + j]
            );
        }
    }
}

#[test]
fn lu_leaves_and_recursion_reconstruct_a_pivoting_matrix() {
    // 40 columns: the recursion splits to panels of at most 16 columns
    // (getf2); P a = L U within rounding, and the first pivot is row 39's
    let n = 40;
    let a: Vec<f64> = (0..n * n)
        .map(|i| {
            let (r, c) = (i / n, i % n);
            ((r * 7 + c * 13) % 17) as f64 - 8.0 + if r == n - 1 && c == 0 { 100.0 } else { 0.0 }
        })
        .collect();
    let out = run(
        Params::new("lu"),
        &[Buffer::from_vec(vec![n, n], &a).unwrap()],
        &[
            (DType::F64, vec![n, n]),
            (DType::I32, vec![n]),
            (DType::I32, vec![n]),
        ],
    );
    let lu = f64s(&out[0]);
    let perm = out[2].slice::<i32>().unwrap();
    assert_eq!(out[1].slice::<i32>().unwrap()[0], (n - 1) as i32);
    for i in 0..n {
        for j in 0..n {
            let mut s = 0.0;
            for k in 0..=i.min(j) {
                let l = if k == i { 1.0 } else { lu[i * n + k] };
                s += l * lu[k * n + j];
            }
            let want = a[perm[i] as usize * n + j];
            assert!((s - want).abs() < 1e-9, "({i}, {j}): {s} != {want}");
        }
    }
}

#[test]
fn pivoted_qr_takes_the_largest_column_first_and_reconstructs() {
    // columns of norms 1, 5, 3: geqp3 takes column 1, then of the rest the
    // one with the larger norm after removing column 1's direction
    let a: Vec<f64> = vec![1.0, 3.0, 0.0, 0.0, 4.0, 2.0, 0.0, 0.0, 2.0];
    let buf = Buffer::from_vec(vec![3, 3], &a).unwrap();
    let out = run(
        Params::new("qr")
            .with("full_matrices", Param::Bool(true))
            .with("pivoting", Param::Bool(true)),
        &[buf],
        &[
            (DType::F64, vec![3, 3]),
            (DType::F64, vec![3, 3]),
            (DType::I32, vec![3]),
        ],
    );
    let (q, r, p) = (f64s(&out[0]), f64s(&out[1]), out[2].slice::<i32>().unwrap());
    assert_eq!(p[0], 1);
    let mut sorted = p.to_vec();
    sorted.sort();
    assert_eq!(sorted, [0, 1, 2]);
    for i in 0..3 {
        for j in 0..3 {
            let qr: f64 = (0..3).map(|k| q[i * 3 + k] * r[k * 3 + j]).sum();
            assert!((qr - a[i * 3 + p[j] as usize]).abs() < 1e-12);
        }
    }
    assert!(r[0].abs() >= r[4].abs() && r[4].abs() >= r[8].abs());
    // an empty matrix: JAX's zero permutation
    let e = Buffer::from_vec(vec![0, 2], &[] as &[f64]).unwrap();
    let out = run(
        Params::new("qr")
            .with("full_matrices", Param::Bool(false))
            .with("pivoting", Param::Bool(true)),
        &[e],
        &[
            (DType::F64, vec![0, 0]),
            (DType::F64, vec![0, 2]),
            (DType::I32, vec![2]),
        ],
    );
    assert_eq!(out[2].slice::<i32>().unwrap(), &[0, 0]);
}

#[test]
fn triangular_solve_reads_the_right_hand_side_in_row_order() {
    // with a third operand, row i of b is b[idx[i]] (clamped into range),
    // on the small path (2 x 2) and on faer's (20 x 20)
    for m in [2usize, 20] {
        let a: Vec<f64> = (0..m * m)
            .map(|k| {
                if k / m == k % m {
                    2.0
                } else {
                    ((k % 5) as f64 - 2.0) * 0.1
                }
            })
            .collect();
        let b: Vec<f64> = (0..m * 2).map(|k| k as f64 - 3.0).collect();
        let idx: Vec<i32> = (0..m as i32)
            .map(|i| if i == 0 { 99 } else { m as i32 - 1 - i })
            .collect();
        let clamped: Vec<usize> = idx
            .iter()
            .map(|&i| (i.max(0) as usize).min(m - 1))
            .collect();
        let gathered: Vec<f64> = (0..m * 2).map(|k| b[clamped[k / 2] * 2 + k % 2]).collect();
        let p = Params::new("triangular_solve")
            .with("left_side", Param::Bool(true))
            .with("lower", Param::Bool(true))
            .with("transpose_a", Param::Bool(false))
            .with("conjugate_a", Param::Bool(false))
            .with("unit_diagonal", Param::Bool(true));
        let abuf = Buffer::from_vec(vec![1, m, m], &a).unwrap();
        let got = run(
            p.clone(),
            &[
                abuf.clone(),
                Buffer::from_vec(vec![1, m, 2], &b).unwrap(),
                Buffer::from_vec(vec![1, m, 1], &idx).unwrap(),
            ],
            &[(DType::F64, vec![1, m, 2])],
        );
        let want = run(
            p,
            &[abuf, Buffer::from_vec(vec![1, m, 2], &gathered).unwrap()],
            &[(DType::F64, vec![1, m, 2])],
        );
        assert_eq!(f64s(&got[0]), f64s(&want[0]), "m = {m}");
    }
}

#[test]
fn tridiagonal_solve_perturbed_keeps_singular_systems_finite() {
    let p = Params::new("tridiagonal_solve").with("perturb_singular", Param::Bool(true));
    // the regular [[2, 1], [1, 2]] x = [3, 3] solves as without the flag
    let dl = Buffer::from_vec(vec![2], &[0.0, 1.0]).unwrap();
    let d = Buffer::from_vec(vec![2], &[2.0, 2.0]).unwrap();
    let du = Buffer::from_vec(vec![2], &[1.0, 0.0]).unwrap();
    let b = Buffer::from_vec(vec![2, 1], &[3.0, 3.0]).unwrap();
    let out = run(
        p.clone(),
        &[dl.clone(), d, du.clone(), b.clone()],
        &[(DType::F64, vec![2, 1])],
    );
    close(&f64s(&out[0]), &[1.0, 1.0]);
    // [[1, 1], [1, 1]] is singular: U's last pivot 0 becomes eps * max|U|,
    // and x, huge and finite, points along the null vector [1, -1]
    let d = Buffer::from_vec(vec![2], &[1.0, 1.0]).unwrap();
    let b = Buffer::from_vec(vec![2, 1], &[1.0, 0.0]).unwrap();
    let x = f64s(&run(p.clone(), &[dl, d, du, b], &[(DType::F64, vec![2, 1])])[0]);
    assert!(x.iter().all(|v| v.is_finite() && v.abs() > 1e14), "{x:?}");
    assert!((x[0] + x[1]).abs() <= 1e-12 * x[0].abs(), "{x:?}");
    // a zero 1x1 system
    let z = Buffer::from_vec(vec![1], &[0.0]).unwrap();
    let b = Buffer::from_vec(vec![1, 1], &[1.0]).unwrap();
    let x = f64s(
        &run(
            p,
            &[z.clone(), z.clone(), z, b],
            &[(DType::F64, vec![1, 1])],
        )[0],
    );
    assert!(x[0].is_finite() && x[0] > 1e300, "{x:?}");
}

#[test]
fn sturm_count_counts_eigenvalues_below_each_target() {
    // T = [[2, 1, 0], [1, 2, 1], [0, 1, 2]]: eigenvalues 2 - sqrt 2, 2, 2 + sqrt 2
    let alpha = Buffer::from_vec(vec![3], &[2.0, 2.0, 2.0]).unwrap();
    let beta_sq = Buffer::from_vec(vec![2], &[1.0, 1.0]).unwrap();
    let xs = [0.0, 1.0, 1.9, 2.1, 3.0, 3.5, 2.0];
    let x = Buffer::from_vec(vec![7], &xs).unwrap();
    let piv = Buffer::from_vec(vec![7], &[1e-300; 7]).unwrap();
    let a0 = Buffer::from_vec(vec![7], &[1e-32; 7]).unwrap();
    let out = run(
        Params::new("sturm_count"),
        &[alpha, beta_sq, piv, a0, x],
        &[(DType::I32, vec![7])],
    );
    // x = 2 is alpha[0] (and an eigenvalue): the first pivot is the
    // perturbation 1e-32, the second -1e32, the third (2 + 1e-32) - 2 = 0,
    // which counts as negative (<= pivmin)
    assert_eq!(out[0].slice::<i32>().unwrap(), &[0, 1, 1, 2, 2, 3, 2]);
}
