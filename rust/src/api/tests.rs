//! The Rust API and the export format: round trips, symbolic dimensions,
//! bad inputs, and bytes that are not a readable export (every truncation,
//! every byte flip: an error, never a panic).
use super::format::{self, FormatError, Probe, SymInt};
use super::*;
use crate::base::aval::Aval;
use crate::base::params::{Param, Params};
use crate::compiler::program::{InstrSpec, ProgramSpec};

fn f32s(shape: &[usize], v: Vec<f32>) -> ArrayD<f32> {
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
}

#[test]
fn the_example_runs_for_every_batch_size() {
    let p = Program::from_bytes(&example_program_bytes()).unwrap();
    assert_eq!(p.symbolic_dims(), &["b".to_string()]);
    assert_eq!(
        p.inputs()[0].shape,
        vec![Dim::Symbolic("b".into()), Dim::Fixed(3)]
    );
    for b in [1usize, 2, 7] {
        let x = f32s(&[b, 3], (0..b * 3).map(|i| i as f32 * 0.5 - 1.0).collect());
        let out = p.run(&[x.view()]).unwrap();
        assert_eq!(out[0], x.mapv(|v| v + 1.0));
    }
    assert_eq!(p.cache.lock().unwrap().len(), 3);
    // a non-contiguous view
    let x = f32s(&[3, 2], vec![1., 2., 3., 4., 5., 6.]);
    let out = p.run(&[x.t().into_dyn()]).unwrap();
    assert_eq!(out[0], x.t().mapv(|v| v + 1.0).into_dyn());
    let t = p
        .run_tensors(&[Tensor::from(f32s(&[1, 3], vec![0.; 3]))])
        .unwrap();
    assert_eq!(t[0], Tensor::F32(f32s(&[1, 3], vec![1.; 3])));
}

#[test]
fn bad_inputs_are_typed_errors() {
    let p = Program::from_bytes(&example_program_bytes()).unwrap();
    let x = ArrayD::<f64>::zeros(IxDyn(&[2, 3]));
    assert!(matches!(p.run(&[x.view()]), Err(Error::Input(m)) if m.contains("dtype float32")));
    let x = ArrayD::<f32>::zeros(IxDyn(&[2, 4]));
    assert!(
        matches!(p.run(&[x.view()]), Err(Error::Input(m)) if m.contains("dimension 1 to be 3"))
    );
    let x = ArrayD::<f32>::zeros(IxDyn(&[0, 3]));
    assert!(matches!(p.run(&[x.view()]), Err(Error::Input(m)) if m.contains("at least 1")));
    assert!(matches!(p.run::<f32>(&[]), Err(Error::Input(_))));
    assert!(matches!(
        Program::load("/nonexistent/x.rjax"),
        Err(Error::Io { .. })
    ));
}

#[test]
fn encode_decode_round_trips() {
    let bytes = example_program_bytes();
    let d = format::decode(&bytes).unwrap();
    assert_eq!(format::encode(&d), bytes);
    assert_eq!(Program::from_bytes(&bytes).unwrap().to_bytes(), bytes);
}

#[test]
fn unreadable_bytes_are_format_errors() {
    let bytes = example_program_bytes();
    for n in 0..bytes.len() {
        let e = Program::from_bytes(&bytes[..n]).unwrap_err();
        assert!(matches!(e, Error::Format(_)), "truncated at {n}: {e}");
    }
    for k in 0..bytes.len() {
        for bit in [0u8, 3, 7] {
            let mut b = bytes.clone();
            b[k] ^= 1 << bit;
            assert!(
                Program::from_bytes(&b).is_err(),
                "flip of bit {bit} of byte {k}"
            );
        }
    }
    assert_eq!(
        format::decode(b"hello").unwrap_err(),
        FormatError::NotAnExport
    );
    let mut newer = bytes.clone();
    newer[8..12].copy_from_slice(&(format::VERSION + 1).to_le_bytes());
    assert_eq!(
        format::decode(&newer).unwrap_err(),
        FormatError::UnsupportedVersion {
            found: format::VERSION + 1,
            supported: format::VERSION
        }
    );
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(format::decode(&longer).is_err());
}

/// `reshape(x, (b * 4,))` of `x: f32[b, 4]`, lowered at `b`.
fn flatten_at(b: usize) -> ProgramSpec {
    ProgramSpec {
        in_avals: vec![Aval::new(DType::F32, vec![b, 4])],
        consts: vec![],
        instrs: vec![InstrSpec {
            params: Params::new("reshape")
                .with("new_sizes", Param::List(vec![Param::Int(b as i64 * 4)]))
                .with("dimensions", Param::None),
            ins: vec![0],
            outs: vec![Aval::new(DType::F32, vec![b * 4])],
        }],
        outputs: vec![1],
    }
}

/// The probes of a program traced at b = 5, 7 and 11 (`specs`, in order).
fn probes_at_5_7_11(specs: &[ProgramSpec]) -> Vec<Probe<'_>> {
    specs
        .iter()
        .zip([5, 7, 11])
        .map(|(s, b)| Probe {
            dims: vec![b],
            spec: s,
        })
        .collect()
}

#[test]
fn probes_fit_affine_integers() {
    let names = vec!["b".to_string()];
    let specs: Vec<ProgramSpec> = [5, 7, 11].iter().map(|&b| flatten_at(b)).collect();
    let p = format::from_probes(&names, &probes_at_5_7_11(&specs)).unwrap();
    let four_b = SymInt {
        c: 0,
        terms: vec![(0, 4)],
    };
    assert_eq!(p.instrs[0].outs[0].shape, vec![four_b.clone()]);
    assert_eq!(four_b.render(&names), "4*b");
    let bytes = format::encode(&format::ExportData {
        meta: "{}".into(),
        dims: names.clone(),
        program: p,
    });
    let prog = Program::from_bytes(&bytes).unwrap();
    let x = f32s(&[3, 4], (0..12).map(|i| i as f32).collect());
    let out = prog.run(&[x.view()]).unwrap();
    assert_eq!(out[0].as_slice().unwrap(), x.as_slice().unwrap());
    // a value that is not affine in b (b squared) is refused, naming it
    let mut bad = specs.clone();
    for (s, b) in bad.iter_mut().zip([5i64, 7, 11]) {
        s.instrs[0]
            .params
            .map
            .insert("dimensions".into(), Param::Int(b * b));
    }
    let e = format::from_probes(&names, &probes_at_5_7_11(&bad)).unwrap_err();
    assert!(
        e.contains("param 'dimensions'") && e.contains("affine"),
        "{e}"
    );
}
