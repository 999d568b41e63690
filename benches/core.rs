//! Criterion benchmarks of the Rust core, without Python: single kernels
//! (elementwise, reductions, GEMM, convolution), fused programs against the
//! same programs unfused, and the executor's dispatch of a tiny program.
//!
//! `cargo bench --bench core` runs them all; `cargo bench --bench core --
//! gemm` runs the ones whose name contains `gemm`. BENCHMARKS.md reports
//! them beside the Python benchmarks.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

use rjax::base::buffer::Buffer;
use rjax::base::dtype::DType;
use rjax::base::params::{Param, Params};
use rjax::exec::executable::{Executable, InstrSpec};
use rjax::ops::{build, Aval, Kernel, OpSpec};

fn ints(v: &[i64]) -> Param {
    Param::List(v.iter().map(|&i| Param::Int(i)).collect())
}

fn f32s(shape: &[usize]) -> Aval {
    Aval::new(DType::F32, shape.to_vec())
}

/// Deterministic data in [-2, 2).
fn data(shape: &[usize], seed: u32) -> Buffer {
    let n: usize = shape.iter().product();
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let v: Vec<f32> = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s >> 8) as f32 / (1u32 << 24) as f32 * 4.0 - 2.0
        })
        .collect();
    Buffer::from_vec(shape.to_vec(), &v).expect("bench data")
}

fn kernel(p: &Params, ins: &[&Buffer], out: Aval) -> Kernel {
    let avals: Vec<Aval> = ins
        .iter()
        .map(|b| Aval::new(b.dtype, b.shape.clone()))
        .collect();
    build(&OpSpec {
        params: p,
        ins: &avals,
        outs: &[out],
    })
    .expect("build kernel")
}

fn elementwise(c: &mut Criterion) {
    let mut g = c.benchmark_group("elementwise");
    for n in [1usize << 12, 1 << 20] {
        let x = data(&[n], 1);
        let y = data(&[n], 2);
        g.throughput(Throughput::Elements(n as u64));
        for (name, args) in [("add", vec![&x, &y]), ("tanh", vec![&x]), ("exp", vec![&x])] {
            let k = kernel(&Params::new(name), &args, f32s(&[n]));
            g.bench_with_input(BenchmarkId::new(name, n), &args, |b, a| {
                b.iter(|| black_box(k(a).expect("run")))
            });
        }
    }
    g.finish();
}

fn reductions(c: &mut Criterion) {
    let mut g = c.benchmark_group("reduce_sum");
    let (m, n) = (1024usize, 1024usize);
    let x = data(&[m, n], 3);
    g.throughput(Throughput::Elements((m * n) as u64));
    for (label, axes, out) in [
        ("all", vec![0i64, 1], vec![]),
        ("rows", vec![1], vec![m]),
        ("columns", vec![0], vec![n]),
    ] {
        let p = Params::new("reduce_sum").with("axes", ints(&axes));
        let k = kernel(&p, &[&x], f32s(&out));
        g.bench_function(BenchmarkId::new(label, format!("{m}x{n}")), |b| {
            b.iter(|| black_box(k(&[&x]).expect("run")))
        });
    }
    g.finish();
}

fn dot(m: usize, k: usize, n: usize) -> (Params, Buffer, Buffer, Aval) {
    let p = Params::new("dot_general")
        .with(
            "dimension_numbers",
            Param::List(vec![
                Param::List(vec![ints(&[1]), ints(&[0])]),
                Param::List(vec![ints(&[]), ints(&[])]),
            ]),
        )
        .with("precision", Param::None)
        .with("preferred_element_type", Param::None);
    (p, data(&[m, k], 4), data(&[k, n], 5), f32s(&[m, n]))
}

fn gemm(c: &mut Criterion) {
    let mut g = c.benchmark_group("gemm");
    g.sample_size(20);
    // square, and the MLP's training shapes at batch 128
    for (m, k, n) in [(256, 256, 256), (1024, 1024, 1024), (128, 784, 512)] {
        let (p, a, b, out) = dot(m, k, n);
        let kern = kernel(&p, &[&a, &b], out);
        g.throughput(Throughput::Elements((2 * m * k * n) as u64));
        g.bench_function(BenchmarkId::from_parameter(format!("{m}x{k}x{n}")), |bch| {
            bch.iter(|| black_box(kern(&[&a, &b]).expect("run")))
        });
    }
    g.finish();
}

fn conv(c: &mut Criterion) {
    let mut g = c.benchmark_group("conv");
    g.sample_size(20);
    // NCHW input 32x16x32x32, OIHW kernel 32x16x3x3, SAME padding
    let x = data(&[32, 16, 32, 32], 6);
    let w = data(&[32, 16, 3, 3], 7);
    let p = Params::new("conv_general_dilated")
        .with("lhs_spec", ints(&[0, 1, 2, 3]))
        .with("rhs_spec", ints(&[0, 1, 2, 3]))
        .with("out_spec", ints(&[0, 1, 2, 3]))
        .with("window_strides", ints(&[1, 1]))
        .with("padding", Param::List(vec![ints(&[1, 1]), ints(&[1, 1])]))
        .with("lhs_dilation", ints(&[1, 1]))
        .with("rhs_dilation", ints(&[1, 1]))
        .with("feature_group_count", Param::Int(1))
        .with("batch_group_count", Param::Int(1));
    let k = kernel(&p, &[&x, &w], f32s(&[32, 32, 32, 32]));
    g.bench_function("nchw_32x16x32x32_k3x3x32", |b| {
        b.iter(|| black_box(k(&[&x, &w]).expect("run")))
    });
    g.finish();
}

fn spec(op: Params, ins: Vec<usize>, out: Aval) -> InstrSpec {
    InstrSpec {
        params: op,
        ins,
        outs: vec![out],
    }
}

/// selu(x) = scale * where(x > 0, x, alpha * (exp(x) - 1)) over `n` f32.
fn selu(n: usize, fuse: bool) -> Executable {
    let a = f32s(&[n]);
    let s = f32s(&[]);
    let consts = vec![
        Buffer::from_vec(vec![], &[0.0f32]).expect("const"),
        Buffer::from_vec(vec![], &[1.673_263_2f32]).expect("const"),
        Buffer::from_vec(vec![], &[1.050_701f32]).expect("const"),
    ];
    let bcast = |v: usize| {
        spec(
            Params::new("broadcast_in_dim")
                .with("shape", ints(&[n as i64]))
                .with("broadcast_dimensions", ints(&[])),
            vec![v],
            a.clone(),
        )
    };
    let _ = s;
    let specs = vec![
        bcast(1), // 4: zeros
        bcast(2), // 5: alpha
        bcast(3), // 6: scale
        spec(
            Params::new("gt"),
            vec![0, 4],
            Aval::new(DType::Bool, vec![n]),
        ), // 7
        spec(Params::new("expm1"), vec![0], a.clone()), // 8
        spec(Params::new("mul"), vec![5, 8], a.clone()), // 9
        spec(Params::new("select_n"), vec![7, 9, 0], a.clone()), // 10
        spec(Params::new("mul"), vec![6, 10], a.clone()), // 11
    ];
    Executable::with_fusion(vec![a.clone()], consts, specs, vec![11], fuse).expect("program")
}

fn fused(c: &mut Criterion) {
    let mut g = c.benchmark_group("selu_program");
    let n = 1usize << 20;
    let x = data(&[n], 8);
    g.throughput(Throughput::Elements(n as u64));
    for fuse in [true, false] {
        let exe = selu(n, fuse);
        let ins = [x.clone()];
        let label = if fuse { "fused" } else { "unfused" };
        g.bench_function(BenchmarkId::new(label, n), |b| {
            b.iter(|| black_box(exe.run(&ins).expect("run")))
        });
    }
    g.finish();
}

fn dispatch(c: &mut Criterion) {
    // x + 1 on four floats: the executor's fixed cost per run
    let a = f32s(&[4]);
    let consts = vec![Buffer::from_vec(vec![4], &[1.0f32; 4]).expect("const")];
    let exe = Executable::new(
        vec![a.clone()],
        consts,
        vec![spec(Params::new("add"), vec![0, 1], a)],
        vec![2],
    )
    .expect("program");
    let ins = [data(&[4], 9)];
    c.bench_function("dispatch_add_4", |b| {
        b.iter(|| black_box(exe.run(&ins).expect("run")))
    });
}

criterion_group!(
    benches,
    elementwise,
    reductions,
    gemm,
    conv,
    fused,
    dispatch
);
criterion_main!(benches);
