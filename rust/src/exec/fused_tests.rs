//! Fusion end to end: programs built fused and unfused give the same
//! results, with the expected number of kernels.

use crate::base::buffer::Buffer;
use crate::base::dtype::DType;
use crate::base::params::{Param, Params};
use crate::compiler::fusion::MAX_ROW;
use crate::exec::executable::{Executable, InstrSpec};
use crate::ops::testing::ints;
use crate::ops::Aval;

fn f32s(shape: &[usize]) -> Aval {
    Aval::new(DType::F32, shape.to_vec())
}

fn ins(p: Params, ins: Vec<usize>, out: Aval) -> InstrSpec {
    InstrSpec {
        params: p,
        ins,
        outs: vec![out],
    }
}

fn op(name: &str) -> Params {
    Params::new(name)
}

/// Deterministic pseudo-random data in [-2, 2).
fn data(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
        })
        .collect()
}

/// Build the program fused and unfused, run both, return both outputs
/// and the fused program's kernel count.
fn both(
    in_avals: Vec<Aval>,
    consts: Vec<Buffer>,
    specs: impl Fn() -> Vec<InstrSpec>,
    outputs: Vec<usize>,
    args: &[Buffer],
) -> (Vec<Buffer>, Vec<Buffer>, usize) {
    let f = Executable::with_fusion(
        in_avals.clone(),
        consts.clone(),
        specs(),
        outputs.clone(),
        true,
    )
    .unwrap();
    let u = Executable::with_fusion(in_avals, consts, specs(), outputs, false).unwrap();
    (f.run(args).unwrap(), u.run(args).unwrap(), f.n_kernels())
}

fn close(a: &Buffer, b: &Buffer, tol: f64) {
    assert_eq!(a.shape, b.shape);
    let (x, y) = (a.slice::<f32>().unwrap(), b.slice::<f32>().unwrap());
    for (i, (&p, &q)) in x.iter().zip(y).enumerate() {
        let d = (p as f64 - q as f64).abs();
        assert!(
            d <= tol * (1.0 + q.abs() as f64) || (p.is_nan() && q.is_nan()),
            "element {i}: fused {p} vs unfused {q}"
        );
    }
}

#[test]
fn elementwise_chain_is_one_kernel_and_bit_exact() {
    for &n in &[1usize, 7, 1024, 1025, 100_003] {
        let a = f32s(&[n]);
        let x = Buffer::from_vec(vec![n], &data(n, 1)).unwrap();
        let y = Buffer::from_vec(vec![n], &data(n, 2)).unwrap();
        let specs = || {
            vec![
                ins(op("mul"), vec![0, 1], a.clone()),
                ins(op("tanh"), vec![2], a.clone()),
                ins(op("exp"), vec![0], a.clone()),
                ins(op("sub"), vec![3, 4], a.clone()),
                ins(op("max"), vec![5, 1], a.clone()),
                ins(op("logistic"), vec![6], a.clone()),
                ins(
                    op("integer_pow").with("y", Param::Int(3)),
                    vec![7],
                    a.clone(),
                ),
            ]
        };
        let (f, u, k) = both(vec![a.clone(), a.clone()], vec![], specs, vec![8], &[x, y]);
        assert_eq!(k, 1, "n={n}");
        assert_eq!(f[0].slice::<f32>().unwrap(), u[0].slice::<f32>().unwrap());
    }
}

#[test]
fn reductions_join_their_producers() {
    // sum(x*x) over everything, rows (last axis) and columns (first axis)
    for (axes, out_shape) in [
        (vec![0i64, 1], vec![]),
        (vec![1], vec![300]),
        (vec![0], vec![129]),
    ] {
        let a = f32s(&[300, 129]);
        let x = Buffer::from_vec(vec![300, 129], &data(300 * 129, 3)).unwrap();
        let specs = || {
            vec![
                ins(op("mul"), vec![0, 0], a.clone()),
                ins(
                    op("reduce_sum").with("axes", ints(&axes)),
                    vec![1],
                    f32s(&out_shape),
                ),
                ins(
                    op("reduce_max").with("axes", ints(&axes)),
                    vec![1],
                    f32s(&out_shape),
                ),
            ]
        };
        let (f, u, k) = both(vec![a.clone()], vec![], specs, vec![2, 3], &[x]);
        assert_eq!(k, 1, "axes {axes:?}");
        close(&f[0], &u[0], 1e-5);
        assert_eq!(f[1].slice::<f32>().unwrap(), u[1].slice::<f32>().unwrap());
    }
}

#[test]
fn broadcasts_and_literals_are_loads() {
    // x - broadcast(mean over rows) ; * scalar literal ; select
    let (m, n) = (37usize, 1030usize);
    let a = f32s(&[m, n]);
    let x = Buffer::from_vec(vec![m, n], &data(m * n, 4)).unwrap();
    let row = Buffer::from_vec(vec![n], &data(n, 5)).unwrap();
    let col = Buffer::from_vec(vec![m, 1], &data(m, 6)).unwrap();
    let lit = Buffer::from_vec::<f32>(vec![], &[0.5]).unwrap();
    // ids: 0 x, 1 row, 2 col, 3 lit (const)
    let specs = || {
        vec![
            ins(
                op("broadcast_in_dim")
                    .with("broadcast_dimensions", ints(&[1]))
                    .with("shape", ints(&[m as i64, n as i64])),
                vec![1],
                a.clone(),
            ), // 4
            ins(op("sub"), vec![0, 4], a.clone()), // 5
            ins(op("mul"), vec![5, 3], a.clone()), // 6 (rank-0 literal)
            ins(op("add"), vec![6, 2], a.clone()), // 7 (size-1 dim)
            ins(op("gt"), vec![7, 3], Aval::new(DType::Bool, vec![m, n])), // 8
            ins(op("select_n"), vec![8, 0, 7], a.clone()), // 9
            ins(
                op("convert_element_type").with("new_dtype", Param::Str("float64".into())),
                vec![9],
                Aval::new(DType::F64, vec![m, n]),
            ), // 10
        ]
    };
    let (f, u, k) = both(
        vec![a.clone(), f32s(&[n]), f32s(&[m, 1])],
        vec![lit],
        specs,
        vec![9, 10],
        &[x, row, col],
    );
    assert_eq!(k, 1);
    assert_eq!(f[0].slice::<f32>().unwrap(), u[0].slice::<f32>().unwrap());
    assert_eq!(f[1].slice::<f64>().unwrap(), u[1].slice::<f64>().unwrap());
}

#[test]
fn values_used_elsewhere_are_materialized_and_order_is_kept() {
    // e = exp(x) is used by a fused chain and by a dot that runs between
    // the chain's members; the dot's result feeds the chain again.
    let n = 64usize;
    let a = f32s(&[n]);
    let x = Buffer::from_vec(vec![n], &data(n, 7)).unwrap();
    let dot = || {
        op("dot_general")
            .with(
                "dimension_numbers",
                Param::List(vec![
                    Param::List(vec![ints(&[0]), ints(&[0])]),
                    Param::List(vec![ints(&[]), ints(&[])]),
                ]),
            )
            .with("precision", Param::None)
            .with("preferred_element_type", Param::None)
    };
    let specs = || {
        vec![
            ins(op("exp"), vec![0], a.clone()),    // 1
            ins(dot(), vec![1, 1], f32s(&[])),     // 2 (not fusible)
            ins(op("mul"), vec![1, 2], a.clone()), // 3 uses the dot
            ins(op("tanh"), vec![3], a.clone()),   // 4
            ins(op("neg"), vec![1], a.clone()),    // 5
        ]
    };
    let (f, u, k) = both(vec![a.clone()], vec![], specs, vec![4, 5], &[x]);
    // exp must run before the dot, so it cannot join the later chain:
    // exp, dot, fused(mul, tanh), neg.
    assert_eq!(k, 4);
    for (p, q) in f.iter().zip(&u) {
        assert_eq!(p.slice::<f32>().unwrap(), q.slice::<f32>().unwrap());
    }
}

#[test]
fn unsupported_patterns_stay_unfused_but_correct() {
    // a reduction over a middle axis and an f16 chain
    let a = f32s(&[4, 5, 6]);
    let x = Buffer::from_vec(vec![4, 5, 6], &data(120, 8)).unwrap();
    let specs = || {
        vec![
            ins(op("sin"), vec![0], a.clone()),
            ins(
                op("reduce_sum").with("axes", ints(&[1])),
                vec![1],
                f32s(&[4, 6]),
            ),
        ]
    };
    let (f, u, k) = both(vec![a.clone()], vec![], specs, vec![2], &[x]);
    assert_eq!(k, 2);
    close(&f[0], &u[0], 1e-6);
}

#[test]
fn every_fused_unary_op_equals_its_kernel() {
    let n = 3000usize;
    let a = f32s(&[n]);
    let x: Vec<f32> = data(n, 11).iter().map(|v| v * 3.0).collect();
    let xb = Buffer::from_vec(vec![n], &x).unwrap();
    for name in [
        "neg", "abs", "sign", "square", "floor", "ceil", "exp", "exp2", "log", "log1p", "expm1",
        "tanh", "logistic", "sin", "cos", "tan", "sqrt", "rsqrt", "cbrt", "erf",
    ] {
        // op(x) * x: two ops, so the pair is fused
        let specs = || {
            vec![
                ins(op(name), vec![0], a.clone()),
                ins(op("mul"), vec![1, 0], a.clone()),
            ]
        };
        let (f, u, k) = both(
            vec![a.clone()],
            vec![],
            specs,
            vec![2],
            std::slice::from_ref(&xb),
        );
        assert_eq!(k, 1, "{name}");
        let (p, q) = (f[0].slice::<f32>().unwrap(), u[0].slice::<f32>().unwrap());
        for i in 0..n {
            assert!(
                p[i].to_bits() == q[i].to_bits() || (p[i].is_nan() && q[i].is_nan()),
                "{name}({}) fused {} vs kernel {}",
                x[i],
                p[i],
                q[i]
            );
        }
    }
}

fn red(name: &str, axes: &[i64]) -> Params {
    op(name).with("axes", ints(axes))
}

#[test]
fn softmax_and_logsumexp_rows_are_one_kernel() {
    // softmax: e = exp(x - max(x)); e / sum(e), reductions over the last
    // axis read back per row through keepdims reshapes; logsumexp keeps
    // max(x) (reshaped) as an output too.
    for &(m, n) in &[
        (1usize, 1usize),
        (3, 7),
        (5, 1024),
        (70, 33),
        (2, 1500),
        (300, 129),
        (3, MAX_ROW + 5),
    ] {
        let a = f32s(&[m, n]);
        let k1 = f32s(&[m, 1]);
        let x = Buffer::from_vec(vec![m, n], &data(m * n, 21)).unwrap();
        let specs = || {
            vec![
                ins(red("reduce_max", &[1]), vec![0], f32s(&[m])), // 1
                ins(op("reshape"), vec![1], k1.clone()),           // 2
                ins(op("sub"), vec![0, 2], a.clone()),             // 3
                ins(op("exp"), vec![3], a.clone()),                // 4
                ins(red("reduce_sum", &[1]), vec![4], f32s(&[m])), // 5
                ins(op("reshape"), vec![5], k1.clone()),           // 6
                ins(op("div"), vec![4, 6], a.clone()),             // 7
            ]
        };
        let (f, u, k) = both(
            vec![a.clone()],
            vec![],
            specs,
            vec![7],
            std::slice::from_ref(&x),
        );
        // (a 1-element row's keepdims value has the group's shape: fused
        // differently; rows over MAX_ROW: max, reshape, the exp-sum, reshape, div)
        let long = n > MAX_ROW;
        if n > 1 {
            assert_eq!(k, if long { 5 } else { 1 }, "softmax {m}x{n}");
        }
        close(&f[0], &u[0], 1e-6);
        // logsumexp: outputs sum(e) and the reshaped max
        let lse = || specs().into_iter().take(5).collect();
        let (f, u, k) = both(vec![a.clone()], vec![], lse, vec![5, 2], &[x]);
        if n > 1 {
            assert_eq!(k, if long { 3 } else { 1 }, "logsumexp {m}x{n}");
        }
        close(&f[0], &u[0], 1e-6);
        assert_eq!(f[1].shape, vec![m, 1]);
        assert_eq!(f[1].slice::<f32>().unwrap(), u[1].slice::<f32>().unwrap());
    }
}

#[test]
fn row_values_through_broadcasts_and_three_dims() {
    // x - broadcast(mean over the last two axes), squared, summed per row,
    // with a [m, 1, 1] keepdims read, over a 3-d iteration space
    let (m, p, q) = (9usize, 4usize, 37usize);
    let a = f32s(&[m, p, q]);
    let x = Buffer::from_vec(vec![m, p, q], &data(m * p * q, 22)).unwrap();
    let specs = || {
        vec![
            ins(red("reduce_sum", &[1, 2]), vec![0], f32s(&[m])), // 1
            ins(
                op("broadcast_in_dim")
                    .with("broadcast_dimensions", ints(&[0]))
                    .with("shape", ints(&[m as i64, p as i64, q as i64])),
                vec![1],
                a.clone(),
            ), // 2
            ins(op("sub"), vec![0, 2], a.clone()),                // 3
            ins(op("mul"), vec![3, 3], a.clone()),                // 4
            ins(red("reduce_sum", &[1, 2]), vec![4], f32s(&[m])), // 5
            ins(op("reshape"), vec![5], f32s(&[m, 1, 1])),        // 6
            ins(op("add"), vec![4, 6], a.clone()),                // 7
            ins(red("reduce_max", &[1, 2]), vec![7], f32s(&[m])), // 8
        ]
    };
    let (f, u, k) = both(vec![a.clone()], vec![], specs, vec![8, 3], &[x]);
    assert_eq!(k, 1);
    close(&f[0], &u[0], 1e-5);
    close(&f[1], &u[1], 1e-5);
}

#[test]
fn a_reduction_used_early_keeps_its_reshape_outside() {
    // m's other user (a dot) runs before the group, so m cannot join it:
    // its keepdims reshape goes back to being a plain instruction.
    let (m, n) = (6usize, 50usize);
    let a = f32s(&[m, n]);
    let x = Buffer::from_vec(vec![m, n], &data(m * n, 23)).unwrap();
    let dot = op("dot_general")
        .with(
            "dimension_numbers",
            Param::List(vec![
                Param::List(vec![ints(&[0]), ints(&[0])]),
                Param::List(vec![ints(&[]), ints(&[])]),
            ]),
        )
        .with("precision", Param::None)
        .with("preferred_element_type", Param::None);
    let specs = || {
        vec![
            ins(red("reduce_max", &[1]), vec![0], f32s(&[m])), // 1
            ins(op("reshape"), vec![1], f32s(&[m, 1])),        // 2
            ins(dot.clone(), vec![1, 1], f32s(&[])),           // 3
            ins(op("sub"), vec![0, 2], a.clone()),             // 4
            ins(op("mul"), vec![4, 3], a.clone()),             // 5
        ]
    };
    let (f, u, k) = both(vec![a.clone()], vec![], specs, vec![5], &[x]);
    assert_eq!(k, 4);
    assert_eq!(f[0].slice::<f32>().unwrap(), u[0].slice::<f32>().unwrap());
}

#[test]
fn empty_arrays() {
    let a = f32s(&[0, 3]);
    let x = Buffer::from_vec::<f32>(vec![0, 3], &[]).unwrap();
    let specs = || {
        vec![
            ins(op("exp"), vec![0], a.clone()),
            ins(
                op("reduce_sum").with("axes", ints(&[0])),
                vec![1],
                f32s(&[3]),
            ),
            ins(
                op("reduce_max").with("axes", ints(&[0, 1])),
                vec![1],
                f32s(&[]),
            ),
        ]
    };
    let (f, u, _) = both(vec![a.clone()], vec![], specs, vec![2, 3], &[x]);
    assert_eq!(f[0].slice::<f32>().unwrap(), u[0].slice::<f32>().unwrap());
    assert_eq!(f[1].slice::<f32>().unwrap(), u[1].slice::<f32>().unwrap());
}

/// A column reduction with no columns over 2^50 rows: nothing to fold, and
/// no chunk per 2^15 rows (the fuzzer's finding: 2^35 chunks, each
/// allocating its accumulator row, never finished).
#[test]
fn no_columns_over_huge_rows_is_instant() {
    let a = f32s(&[1 << 50, 0]);
    let x = Buffer::from_vec::<f32>(vec![1 << 50, 0], &[]).unwrap();
    let specs = vec![
        ins(op("exp"), vec![0], a.clone()),
        ins(
            op("reduce_sum").with("axes", ints(&[0])),
            vec![1],
            f32s(&[0]),
        ),
    ];
    let exe = Executable::new(vec![a], vec![], specs, vec![2]).unwrap();
    assert!(exe.describe().contains("reduce columns"));
    let out = exe.run(&[x]).unwrap();
    assert_eq!(out[0].shape, vec![0]);
}

// ---------------------------------------------------------------------------
// Every elementwise entry of the op table, in every dtype, fuses

use crate::base::slice::Col;
use crate::ops::elementwise::testing::{cases, sample, Case};
use crate::ops::table;

/// A buffer of shape `shape` from a column.
fn buffer_of(c: &Col, shape: Vec<usize>) -> Buffer {
    Buffer::from_bytes(c.dtype(), shape, bytes_of(c)).unwrap()
}

fn bytes_of(c: &Col) -> &[u8] {
    let s = c.as_slice();
    let (_, ptr, len) = s.raw_parts();
    // SAFETY: the column's elements, as bytes.
    unsafe { std::slice::from_raw_parts(ptr, len * c.dtype().itemsize()) }
}

fn convert_to(d: DType) -> Params {
    op("convert_element_type").with("new_dtype", Param::Str(d.name().into()))
}

/// The program of `case` with operands of `shapes`: each full-size operand
/// goes through a convert to its own dtype, then the op, then (three times in
/// all when the result can feed the op again) the op on its own result,
/// then a convert of the result. Returns (input avals, instructions,
/// output id).
fn chain(
    case: &Case,
    shapes: &[Vec<usize>],
    out_shape: &[usize],
) -> (Vec<Aval>, Vec<InstrSpec>, usize) {
    let n = case.ins.len();
    let in_avals: Vec<Aval> = case
        .ins
        .iter()
        .zip(shapes)
        .map(|(&d, s)| Aval::new(d, s.clone()))
        .collect();
    let mut specs = Vec::new();
    let mut next = n;
    let mut args = Vec::new();
    for k in 0..n {
        // a broadcast operand is read through a load map: its producer
        // stays outside the group, so it comes straight from the inputs
        if shapes[k] != out_shape {
            args.push(k);
            continue;
        }
        specs.push(ins(convert_to(case.ins[k]), vec![k], in_avals[k].clone()));
        args.push(next);
        next += 1;
    }
    let out = Aval::new(case.out, out_shape.to_vec());
    specs.push(ins(case.params.clone(), args.clone(), out.clone()));
    let mut last = next;
    next += 1;
    // again on its own result, where the result is a valid first operand
    if case.out == case.ins[0] && shapes[0] == out_shape {
        for _ in 0..2 {
            let mut a = args.clone();
            a[0] = last;
            specs.push(ins(case.params.clone(), a, out.clone()));
            last = next;
            next += 1;
        }
    }
    specs.push(ins(convert_to(case.out), vec![last], out.clone()));
    (in_avals, specs, next)
}

/// For every elementwise entry of the op table, every dtype it supports and
/// every signature: a chain of the op (with converts around it, operands
/// full-size, broadcast along a size-1 dim, or rank 0) plans into one fused
/// kernel whose result equals the unfused one-op kernels' bit for bit, over
/// operands full of special values (NaN, ±inf, ±0, subnormals, integer
/// extremes). An entry that does not fuse in some dtype fails here.
#[test]
fn every_elementwise_op_fuses_in_every_dtype() {
    let (m, n) = (5usize, 300usize);
    let mut checked = 0;
    for def in table::ops() {
        if def.elementwise_kind().is_none() {
            continue;
        }
        for d in def.dtypes.iter() {
            for case in cases(def, d) {
                let k = case.ins.len();
                let mut variants = vec![vec![vec![m, n]; k]];
                if k > 1 {
                    let mut row = vec![vec![m, n]];
                    row.extend(std::iter::repeat_n(vec![1, n], k - 1));
                    variants.push(row);
                    let mut scalar = vec![vec![m, n]];
                    scalar.extend(std::iter::repeat_n(vec![], k - 1));
                    variants.push(scalar);
                }
                for shapes in variants {
                    let (in_avals, _, out_id) = chain(&case, &shapes, &[m, n]);
                    let args: Vec<Buffer> = shapes
                        .iter()
                        .zip(&case.ins)
                        .enumerate()
                        .map(|(j, (s, &dt))| {
                            let c = sample(dt, s.iter().product(), 31 * j as u64 + checked as u64);
                            buffer_of(&c, s.clone())
                        })
                        .collect();
                    let specs = || chain(&case, &shapes, &[m, n]).1;
                    let what = format!(
                        "{} {:?} -> {} with operands {:?}",
                        def.name, case.ins, case.out, shapes
                    );
                    // the native tier renders every such group (exec::native),
                    // except complex ones: it has no complex types yet, and
                    // those groups stay with the interpreter
                    let e =
                        Executable::new(in_avals.clone(), vec![], specs(), vec![out_id]).unwrap();
                    let complex = case.ins.iter().chain([&case.out]).any(|d| d.is_complex());
                    for s in e.native_slots() {
                        match s.render("f") {
                            Err(w) if !complex => panic!("{what}: no native code: {w}"),
                            Ok(_) if complex => panic!("{what}: complex rendered natively"),
                            _ => {}
                        }
                    }
                    let (f, u, kernels) = both(in_avals, vec![], specs, vec![out_id], &args);
                    assert_eq!(kernels, 1, "{what}: {kernels} kernels");
                    assert_eq!(f[0].dtype, case.out, "{what}");
                    assert!(
                        f[0].data.bytes() == u[0].data.bytes(),
                        "{what}: fused and unfused results differ"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 500, "only {checked} chains checked");
}

/// The values of a buffer as f64 (for comparisons that treat ±0 as equal).
fn as_f64(b: &Buffer) -> Vec<f64> {
    crate::with_dtype!(b.dtype, T => b.slice::<T>().unwrap().iter().map(|&v| crate::base::dtype::Element::to_f64(v)).collect())
}

/// Reductions fuse with their producers in every dtype whose eager result
/// they reproduce: integer sums (bit for bit), max/min of every dtype (equal
/// values: a max of -0 and +0 may pick either); float sums fold in another
/// order (close); f16/bf16 sums stay unfused.
#[test]
fn reductions_fuse_in_the_dtypes_they_reproduce() {
    let (m, n) = (37usize, 129usize);
    for d in DType::ALL {
        for name in ["reduce_sum", "reduce_max", "reduce_min"] {
            if name == "reduce_sum" && d == DType::Bool {
                continue;
            }
            if name != "reduce_sum" && d.is_complex() {
                continue; // (max and min take no complex operands)
            }
            // complex sums run as their own node (a tile-ordered fold would
            // need its own accumulation order to match eager's bits)
            let fuses = name != "reduce_sum"
                || !matches!(d, DType::F16 | DType::BF16 | DType::C64 | DType::C128);
            let float_sum = name == "reduce_sum" && (d.is_float() || d.is_complex());
            for (axes, out_shape) in [
                (vec![0i64, 1], vec![]),
                (vec![1], vec![m]),
                (vec![0], vec![n]),
            ] {
                let a = Aval::new(d, vec![m, n]);
                let x = if float_sum {
                    let v: Vec<f64> = data(m * n, 9).iter().map(|&x| x as f64).collect();
                    let b = Buffer::from_vec(vec![m, n], &v).unwrap();
                    crate::with_dtype!(d, T => Buffer::from_vec::<T>(vec![m, n], &b.slice::<f64>().unwrap().iter().map(|&x| <T as crate::base::dtype::Element>::from_f64(x)).collect::<Vec<T>>()).unwrap())
                } else {
                    buffer_of(&sample(d, m * n, 5), vec![m, n])
                };
                let specs = || {
                    vec![
                        ins(convert_to(d), vec![0], a.clone()),
                        ins(
                            op(name).with("axes", ints(&axes)),
                            vec![1],
                            Aval::new(d, out_shape.clone()),
                        ),
                    ]
                };
                let (f, u, k) = both(vec![a.clone()], vec![], specs, vec![2], &[x]);
                let what = format!("{name} over {axes:?} of {d}");
                assert_eq!(k, if fuses { 1 } else { 2 }, "{what}");
                if !d.is_float() && !d.is_complex() {
                    assert!(
                        f[0].data.bytes() == u[0].data.bytes(),
                        "{what}: fused and unfused differ"
                    );
                    continue;
                }
                let tol = if float_sum { 1e-5 } else { 0.0 };
                for (p, q) in as_f64(&f[0]).into_iter().zip(as_f64(&u[0])) {
                    assert!(
                        p == q
                            || (p.is_nan() && q.is_nan())
                            || (p - q).abs() <= tol * (1.0 + q.abs()),
                        "{what}: fused {p} vs unfused {q}"
                    );
                }
            }
        }
    }
}
