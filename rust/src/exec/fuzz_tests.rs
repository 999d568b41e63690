//! A property-based fuzzer over whole Programs (proptest, stable Rust).
//!
//! Each case is a random `Recipe`: a full shape (small dims, zero dims, and
//! now and then dims whose byte count overflows), 1-3 inputs of random
//! dtypes (every dtype, filled with special values), and a random chain of
//! elementwise ops (every table entry and signature, through converts),
//! broadcasts and reductions, so that the planner forms random fusion
//! groups. The Program is built and run fused and unfused; the property:
//!
//! - nothing panics (building or running);
//! - both builds agree on success, and a shape beyond the address space is
//!   a `ShapeMismatch` error (Python's `ValueError`), never a wrap;
//! - fused and unfused results are equal bit for bit wherever fusion
//!   promises it (everything but float sums, which fold in another order,
//!   and float max/min, which may pick either zero, and complex max/min,
//!   whose lexicographic order with a NaN part depends on the fold order
//!   as in JAX: those are checked for shape and dtype and, for float
//!   max/min, value).
//!
//! `cargo test --lib fuzz` runs `RJAX_FUZZ_CASES` cases (default 256, well
//! under a minute); set it higher for a long run. Each run draws a fresh
//! seed; `PROPTEST_RNG_SEED=<n>` replays one, and a failure prints the shrunk
//! recipe and the Program it builds. `tools/fuzz_long.sh` runs rounds from
//! fresh seeds until a deadline (the long runs and their findings are in
//! BENCHMARKS.md).
use crate::base::buffer::{byte_size, Buffer};
use crate::base::dtype::DType;
use crate::base::error::Error;
use crate::base::params::{Param, Params};
use crate::base::slice::Col;
use crate::exec::executable::{Executable, InstrSpec};
use crate::ops::elementwise::testing::{cases, sample, Case};
use crate::ops::table;
use crate::ops::testing::ints;
use crate::ops::Aval;
use proptest::prelude::*;
use std::sync::OnceLock;

/// Every (entry, signature) case of every elementwise table entry.
fn all_cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        let mut v = Vec::new();
        for def in table::ops() {
            for d in DType::ALL {
                if def.elementwise_kind().is_some() && def.dtypes.contains(d) {
                    v.extend(cases(def, d));
                }
            }
        }
        v
    })
}

#[derive(Clone, Debug)]
enum Step {
    /// Case `case % n` on values picked by `args` (converted as needed).
    Elementwise { case: usize, args: Vec<usize> },
    /// A value converted to `DType::ALL[dtype % 13]`.
    Convert { src: usize, dtype: usize },
    /// reduce_{sum,max,min} of a value over the axes in `mask`.
    Reduce { kind: u8, src: usize, mask: u8 },
    /// A reduced value broadcast back to the full shape.
    Broadcast { src: usize },
}

#[derive(Clone, Debug)]
struct Recipe {
    shape: Vec<usize>,
    inputs: Vec<usize>,
    steps: Vec<Step>,
    outs: Vec<usize>,
    seed: u64,
}

fn dim() -> impl Strategy<Value = usize> {
    prop_oneof![
        20 => 0usize..=6,
        6 => prop::sample::select(vec![7usize, 16, 31, 64, 129, 1000]),
        1 => prop::sample::select(vec![1usize << 31, (1 << 32) + 1, 1 << 40, 1 << 62]),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (any::<usize>(), prop::collection::vec(any::<usize>(), 3))
            .prop_map(|(case, args)| Step::Elementwise { case, args }),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(src, dtype)| Step::Convert { src, dtype }),
        3 => (any::<u8>(), any::<usize>(), any::<u8>())
            .prop_map(|(kind, src, mask)| Step::Reduce { kind, src, mask }),
        2 => any::<usize>().prop_map(|src| Step::Broadcast { src }),
    ]
}

fn recipe() -> impl Strategy<Value = Recipe> {
    (
        prop::collection::vec(dim(), 0..=3),
        prop::collection::vec(0usize..13, 1..=3),
        prop::collection::vec(step(), 1..=12),
        prop::collection::vec(any::<usize>(), 1..=3),
        any::<u64>(),
    )
        .prop_map(|(shape, inputs, steps, outs, seed)| Recipe {
            shape,
            inputs,
            steps,
            outs,
            seed,
        })
}

/// How far fused and unfused results must agree.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Exact {
    Bits,
    /// Equal as values (a max/min of ±0 may pick either sign).
    Value,
    /// Only shape and dtype (a float sum in another order, and what follows).
    Loose,
}

struct Val {
    id: usize,
    aval: Aval,
    /// The full-shape axes this value still has (all, or those a reduction kept).
    kept: Vec<usize>,
    exact: Exact,
}

/// The Program of a recipe: input avals, instructions, outputs, exactness.
struct Built {
    in_avals: Vec<Aval>,
    specs: Vec<InstrSpec>,
    outputs: Vec<usize>,
    exact: Vec<Exact>,
}

fn convert_params(d: DType) -> Params {
    Params::new("convert_element_type").with("new_dtype", Param::Str(d.name().into()))
}

fn build(r: &Recipe) -> Built {
    let full: Vec<usize> = (0..r.shape.len()).collect();
    let mut vals: Vec<Val> = Vec::new();
    let mut in_avals = Vec::new();
    for (i, &d) in r.inputs.iter().enumerate() {
        let a = Aval::new(DType::ALL[d], r.shape.clone());
        in_avals.push(a.clone());
        vals.push(Val {
            id: i,
            aval: a,
            kept: full.clone(),
            exact: Exact::Bits,
        });
    }
    let mut specs: Vec<InstrSpec> = Vec::new();
    let mut next = vals.len();
    let mut push = |specs: &mut Vec<InstrSpec>, p: Params, ins: Vec<usize>, out: Aval| {
        specs.push(InstrSpec {
            params: p,
            ins,
            outs: vec![out],
        });
        next += 1;
        next - 1
    };
    let cs = all_cases();
    for s in &r.steps {
        match s {
            Step::Elementwise { case, args } => {
                let c = &cs[case % cs.len()];
                let first = &vals[args[0] % vals.len()];
                let (kept, shape) = (first.kept.clone(), first.aval.shape.clone());
                let same: Vec<usize> = (0..vals.len()).filter(|&i| vals[i].kept == kept).collect();
                let mut ids = Vec::new();
                let mut exact = Exact::Bits;
                for (k, &want) in c.ins.iter().enumerate() {
                    let v = &vals[same[args[k % args.len()] % same.len()]];
                    if v.exact != Exact::Bits {
                        exact = Exact::Loose;
                    }
                    if v.aval.dtype == want {
                        ids.push(v.id);
                    } else {
                        let a = Aval::new(want, shape.clone());
                        ids.push(push(&mut specs, convert_params(want), vec![v.id], a));
                    }
                }
                let out = Aval::new(c.out, shape);
                let id = push(&mut specs, c.params.clone(), ids, out.clone());
                vals.push(Val {
                    id,
                    aval: out,
                    kept,
                    exact,
                });
            }
            Step::Convert { src, dtype } => {
                let v = &vals[src % vals.len()];
                let d = DType::ALL[dtype % DType::ALL.len()];
                let a = Aval::new(d, v.aval.shape.clone());
                let (kept, exact) = (v.kept.clone(), v.exact);
                let exact = if exact == Exact::Bits {
                    Exact::Bits
                } else {
                    Exact::Loose
                };
                let id = push(&mut specs, convert_params(d), vec![v.id], a.clone());
                vals.push(Val {
                    id,
                    aval: a,
                    kept,
                    exact,
                });
            }
            Step::Reduce { kind, src, mask } => {
                let v = &vals[src % vals.len()];
                let rank = v.aval.shape.len();
                let axes: Vec<usize> = (0..rank).filter(|&i| mask >> i & 1 == 1).collect();
                let name = ["reduce_sum", "reduce_max", "reduce_min"][*kind as usize % 3];
                let d = v.aval.dtype;
                let ok = table::lookup(name).is_some_and(|def| def.dtypes.contains(d));
                if axes.is_empty() || !ok {
                    continue;
                }
                let shape: Vec<usize> = (0..rank)
                    .filter(|i| !axes.contains(i))
                    .map(|i| v.aval.shape[i])
                    .collect();
                let kept: Vec<usize> = (0..rank)
                    .filter(|i| !axes.contains(i))
                    .map(|i| v.kept[i])
                    .collect();
                // (a complex max/min is JAX's lexicographic `a > b ? a : b`:
                // with a NaN part the result depends on the fold order, in
                // JAX too: max([nan, 1, 2]) is 2, max([1, 2, nan]) is nan)
                let exact = match (v.exact, name, d.is_float(), d.is_complex()) {
                    (Exact::Bits, "reduce_sum", false, _) => Exact::Bits,
                    (Exact::Bits, "reduce_sum", true, _) => Exact::Loose,
                    (Exact::Bits, _, _, true) => Exact::Loose,
                    (Exact::Bits, _, true, _) => Exact::Value,
                    (Exact::Bits, _, false, _) => Exact::Bits,
                    _ => Exact::Loose,
                };
                let a = Aval::new(d, shape);
                let ax: Vec<i64> = axes.iter().map(|&i| i as i64).collect();
                let p = Params::new(name).with("axes", ints(&ax));
                let id = push(&mut specs, p, vec![v.id], a.clone());
                vals.push(Val {
                    id,
                    aval: a,
                    kept,
                    exact,
                });
            }
            Step::Broadcast { src } => {
                let v = &vals[src % vals.len()];
                if v.kept.len() == r.shape.len() {
                    continue;
                }
                let a = Aval::new(v.aval.dtype, r.shape.clone());
                let dims: Vec<i64> = v.kept.iter().map(|&i| i as i64).collect();
                let sh: Vec<i64> = r.shape.iter().map(|&d| d as i64).collect();
                let p = Params::new("broadcast_in_dim")
                    .with("broadcast_dimensions", ints(&dims))
                    .with("shape", ints(&sh));
                let exact = if v.exact == Exact::Bits {
                    Exact::Bits
                } else {
                    Exact::Loose
                };
                let id = push(&mut specs, p, vec![v.id], a.clone());
                vals.push(Val {
                    id,
                    aval: a,
                    kept: full.clone(),
                    exact,
                });
            }
        }
    }
    let mut outputs = Vec::new();
    let mut exact = Vec::new();
    for &o in &r.outs {
        let v = &vals[o % vals.len()];
        outputs.push(v.id);
        exact.push(v.exact);
    }
    Built {
        in_avals,
        specs,
        outputs,
        exact,
    }
}

/// The Program as text, one instruction a line (inputs are `v0..`), for
/// the failure message of a case: what proptest prints last is the shrunk
/// recipe, and this is what it builds.
fn listing(b: &Built) -> String {
    let mut s = String::new();
    for (i, a) in b.in_avals.iter().enumerate() {
        s += &format!("\n  v{i}: {}{:?} (input)", a.dtype, a.shape);
    }
    for (id, sp) in (b.in_avals.len()..).zip(&b.specs) {
        let mut ps: Vec<String> = sp
            .params
            .map
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        ps.sort();
        let ins: Vec<String> = sp.ins.iter().map(|i| format!("v{i}")).collect();
        let o = &sp.outs[0];
        s += &format!(
            "\n  v{id}: {}{:?} = {}[{}]({})",
            o.dtype,
            o.shape,
            sp.params.op,
            ps.join(", "),
            ins.join(", ")
        );
    }
    s + &format!("\n  outputs {:?}", b.outputs)
}

fn bytes_of(c: &Col) -> Vec<u8> {
    let s = c.as_slice();
    let (_, ptr, len) = s.raw_parts();
    // SAFETY: `ptr` points to the column's `len` initialised elements.
    unsafe { std::slice::from_raw_parts(ptr, len * c.dtype().itemsize()) }.to_vec()
}

fn values(b: &Buffer) -> Vec<f64> {
    crate::with_dtype!(b.dtype, T => b.slice::<T>().unwrap().iter()
        .map(|&v| crate::base::dtype::Element::to_f64(v)).collect())
}

/// Elements at most this many are run; larger shapes are only built.
const RUN_LIMIT: usize = 1 << 16;

fn check(r: &Recipe) -> std::result::Result<(), TestCaseError> {
    let b = build(r);
    let mk = |fuse| {
        Executable::with_fusion(
            b.in_avals.clone(),
            vec![],
            build(r).specs, // (deterministic: the same instructions again)
            b.outputs.clone(),
            fuse,
        )
    };
    let (f, u) = (mk(true), mk(false));
    let fits = b
        .specs
        .iter()
        .flat_map(|s| &s.outs)
        .chain(&b.in_avals)
        .all(|a| byte_size(a.dtype, &a.shape).is_some());
    let (f, u) = match (f, u) {
        (Ok(f), Ok(u)) => {
            prop_assert!(fits, "a shape beyond the address space was accepted");
            (f, u)
        }
        (Err(Error::ShapeMismatch { msg, .. }), Err(Error::ShapeMismatch { .. })) if !fits => {
            prop_assert!(msg.contains("more bytes"), "{msg}");
            return Ok(());
        }
        (f, u) => {
            return Err(TestCaseError::fail(format!(
                "fused {:?} / unfused {:?} (shapes fit: {fits})",
                f.err(),
                u.err()
            )))
        }
    };
    // (every value, not only the inputs: a reduction of an empty input can
    // have a huge output, whose failed allocation is a clean OutOfMemory)
    let n = crate::base::buffer::numel(&r.shape);
    let big = b
        .specs
        .iter()
        .flat_map(|s| &s.outs)
        .any(|a| a.numel() > RUN_LIMIT);
    if n > RUN_LIMIT || big {
        return Ok(());
    }
    let args: Vec<Buffer> = b
        .in_avals
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let c = sample(a.dtype, n, r.seed.wrapping_add(i as u64));
            Buffer::from_bytes(a.dtype, a.shape.clone(), &bytes_of(&c)).unwrap()
        })
        .collect();
    let (fo, uo) = (f.run(&args), u.run(&args));
    let (fo, uo) = match (fo, uo) {
        (Ok(a), Ok(b)) => (a, b),
        // an error both ways (the same one) is a defined outcome
        (Err(a), Err(b)) if a.to_string() == b.to_string() => return Ok(()),
        (a, b) => {
            return Err(TestCaseError::fail(format!(
                "fused {:?} / unfused {:?}",
                a.err(),
                b.err()
            )))
        }
    };
    for ((x, y), e) in fo.iter().zip(&uo).zip(&b.exact) {
        prop_assert_eq!(x.dtype, y.dtype);
        prop_assert_eq!(&x.shape, &y.shape);
        match e {
            Exact::Bits => prop_assert!(
                x.data.bytes() == y.data.bytes(),
                "fused and unfused differ: {:?} vs {:?}; program:{}",
                values(x),
                values(y),
                listing(&b)
            ),
            Exact::Value => {
                for (p, q) in values(x).into_iter().zip(values(y)) {
                    prop_assert!(
                        p == q || (p.is_nan() && q.is_nan()),
                        "{p} vs {q}; program:{}",
                        listing(&b)
                    );
                }
            }
            Exact::Loose => {}
        }
    }
    Ok(())
}

fn budget() -> u32 {
    std::env::var("RJAX_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: budget(),
        max_shrink_iters: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn fuzz_programs_fused_equals_unfused(r in recipe()) {
        let out = std::panic::catch_unwind(|| check(&r));
        match out {
            Ok(res) => res?,
            Err(p) => {
                return Err(TestCaseError::fail(format!(
                    "panic: {}",
                    crate::base::error::panic_message(p)
                )))
            }
        }
    }
}

/// The long fuzz run's findings on empty iteration spaces (2026-12-07),
/// replayed from their seeds: a strided tile load that divided by a 0 extent
/// (3495589323499107772), and a fused op whose empty operand met a
/// one-element one, raising an internal error where the unfused program
/// gives its result (122112531099445366, 928568760717822624).
#[test]
fn fuzz_findings_on_empty_spaces_replay_clean() {
    use proptest::test_runner::{Config, RngSeed, TestRunner};
    for seed in [
        3495589323499107772u64,
        122112531099445366,
        928568760717822624,
    ] {
        let mut runner = TestRunner::new(Config {
            cases: 5000,
            rng_seed: RngSeed::Fixed(seed),
            failure_persistence: None,
            ..Config::default()
        });
        let r = runner.run(&recipe(), |r| {
            match std::panic::catch_unwind(|| check(&r)) {
                Ok(res) => res,
                Err(p) => Err(TestCaseError::fail(format!(
                    "panic: {}",
                    crate::base::error::panic_message(p)
                ))),
            }
        });
        assert!(r.is_ok(), "seed {seed}: {r:?}");
    }
}
