//! Structured control flow: `cond`, `while` and `scan`. Each kernel holds
//! compiled sub-programs (built by Python's lowering from the sub-jaxprs and
//! passed as `Param::Program`) and runs them in a loop here, in Rust, so a
//! jitted loop of any trip count never returns to Python.
//!
//! - `cond[branches]`: inputs `index, *operands`; runs
//!   `branches[clamp(index, 0, n-1)]` (a bool index picks 0 or 1).
//! - `while[cond_program, body_program, cond_nconsts, body_nconsts]`: inputs
//!   `*cond_consts, *body_consts, *carry`; outputs the final carry.
//! - `scan[body, num_consts, num_carry, length, reverse]`: inputs
//!   `*consts, *carry, *xs` (each x with a leading axis of `length`); outputs
//!   `*carry, *ys`, the ys stacked along a new leading axis into buffers
//!   allocated once.
use super::{Aval, Kernel, OpSpec, OwnedKernel};
use crate::base::buffer::{numel, Buffer, RawBuf};
use crate::base::dtype::DType;
use crate::base::error::{Error, Result};
use crate::base::params::{Opaque, Param, Params, ProgramRef};
use crate::ensure;
use std::sync::Arc;

/// A compiled sub-program as the control-flow ops see it. The table is owned
/// here and filled above: `exec::executable::Executable` implements it, and
/// the Python bindings wrap each compiled sub-jaxpr with `program_param`.
pub trait SubProgram: Send + Sync {
    /// The avals of the inputs a run takes.
    fn in_avals(&self) -> &[Aval];
    /// Run, checking the inputs' dtypes and shapes.
    fn run(&self, inputs: &[Buffer]) -> Result<Vec<Buffer>>;
    /// Run without re-checking the inputs (a loop feeding a body its own
    /// outputs, checked on the first iteration).
    fn run_trusted(&self, inputs: &[Buffer]) -> Result<Vec<Buffer>>;
    /// `run_trusted`, taking the inputs: a buffer that nothing else owns
    /// (a loop's carry) may then be updated in place by the op that reads
    /// it last (`ops::InPlace`).
    fn run_owned(&self, inputs: Vec<Buffer>) -> Result<Vec<Buffer>> {
        self.run_trusted(&inputs)
    }
    /// Whether a run has an effect (see `ops::table::has_effect`).
    fn has_effects(&self) -> bool;
    /// Whether a run calls back into the host.
    fn has_host_calls(&self) -> bool;
    /// The implementing object (the exporter reads an `Executable`'s
    /// source Program through it).
    fn as_any(&self) -> &dyn std::any::Any;
    /// A frame that runs this program again and again over the same
    /// buffers (`exec::frame`), if it is a small elementwise program whose
    /// code is ready; loops use it instead of `run_owned`.
    fn frame(&self) -> Option<Box<dyn Frame + '_>> {
        None
    }
}

/// A sub-program's runner that keeps its intermediate buffers between
/// runs: a small loop body runs with no allocation and no value table.
pub trait Frame {
    /// Run once: the inputs' bytes (each of its aval's size), the outputs
    /// written into `outs` (each of its aval's size).
    fn run(&mut self, ins: &[&[u8]], outs: &mut [&mut [u8]]) -> Result<()>;
    /// The avals of the outputs.
    fn out_avals(&self) -> Vec<Aval>;
}

/// The most operands (inputs, or outputs) a loop passes a frame: more
/// keep the executor.
const FRAME_ARGS: usize = 16;

static FRAMED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static FRAMES_ON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Turn loop frames on or off (on by default; off: every loop body runs
/// through the executor, to compare the two in tests and benchmarks);
/// returns the previous setting.
pub fn set_loop_frames(on: bool) -> bool {
    FRAMES_ON.swap(on, std::sync::atomic::Ordering::Relaxed)
}

fn frames_on() -> bool {
    FRAMES_ON.load(std::sync::atomic::Ordering::Relaxed)
}

/// How many `while`/`scan` runs went through frames (tests check that a
/// small body takes that path with it, not with timings).
pub fn framed_loops() -> u64 {
    FRAMED.load(std::sync::atomic::Ordering::Relaxed)
}

fn count_framed() {
    FRAMED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// What a `Param::Program` holds (`base::params` keeps it opaque).
struct Handle(Arc<dyn SubProgram>);

/// The param that carries sub-program `p`.
pub fn program_param(p: Arc<dyn SubProgram>) -> Param {
    Param::Program(ProgramRef(Arc::new(Handle(p))))
}

/// The sub-program a `Param::Program` holds.
pub fn sub_program(o: &Opaque) -> Result<Arc<dyn SubProgram>> {
    o.downcast_ref::<Handle>()
        .map(|h| h.0.clone())
        .ok_or_else(|| Error::Internal("a program param holds no sub-program".into()))
}

/// Every sub-program an op carries, at any list depth.
pub fn sub_programs(p: &Params) -> Vec<Arc<dyn SubProgram>> {
    p.sub_programs()
        .iter()
        .filter_map(|o| sub_program(o).ok())
        .collect()
}

fn check_ins(op: &str, prog: &Arc<dyn SubProgram>, want: &[Aval]) -> Result<()> {
    let have = prog.in_avals();
    ensure!(
        have == want,
        "{}: sub-program takes {:?}, the op gives it {:?}",
        op,
        have,
        want
    );
    Ok(())
}

/// Outputs of a sub-program run, checked against what the op promised.
fn check_outs(op: &str, outs: &[Buffer], want: &[Aval]) -> Result<()> {
    ensure!(
        outs.len() == want.len(),
        "{}: sub-program returned {} values, expected {}",
        op,
        outs.len(),
        want.len()
    );
    for (b, a) in outs.iter().zip(want) {
        ensure!(
            b.dtype == a.dtype && b.shape == a.shape,
            "{}: sub-program returned {}{:?}, expected {}{:?}",
            op,
            b.dtype,
            b.shape,
            a.dtype,
            a.shape
        );
    }
    Ok(())
}

/// A scalar bool or integer read as an index/predicate.
fn scalar_index(op: &str, b: &Buffer) -> Result<i64> {
    ensure!(b.len() == 1, "{}: predicate/index must be a scalar", op);
    scalar_of(op, b.dtype, b.data.bytes())
}

/// The scalar of `dtype` in `bytes` (its first element) as an index.
fn scalar_of(op: &str, dtype: DType, bytes: &[u8]) -> Result<i64> {
    fn first<const N: usize>(b: &[u8]) -> Result<[u8; N]> {
        b.get(..N)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| Error::Internal("predicate/index: too few bytes".into()))
    }
    Ok(match dtype {
        DType::Bool | DType::U8 => first::<1>(bytes)?[0] as i64,
        DType::I32 => i32::from_ne_bytes(first(bytes)?) as i64,
        DType::I64 => i64::from_ne_bytes(first(bytes)?),
        DType::U32 => u32::from_ne_bytes(first(bytes)?) as i64,
        other => return Err(crate::base::error::dtype_err(op, other)),
    })
}

/// Fresh copies of `bufs`' bytes (a loop's own carry, written in place).
fn raw_copies(bufs: &[&Buffer]) -> Vec<RawBuf> {
    bufs.iter()
        .map(|b| {
            let mut r = RawBuf::alloc_array(b.dtype, &b.shape);
            r.bytes_mut().copy_from_slice(b.data.bytes());
            r
        })
        .collect()
}

/// Buffers of `avals` over `raws`.
fn buffers(raws: Vec<RawBuf>, avals: &[Aval]) -> Result<Vec<Buffer>> {
    raws.into_iter()
        .zip(avals)
        .map(|(r, a)| Buffer::new(a.dtype, a.shape.clone(), r))
        .collect()
}

/// Whether every buffer's memory is aligned to its element size (a
/// borrowed array may not be): frames need it.
fn aligned(bufs: &[&Buffer]) -> bool {
    bufs.iter()
        .all(|b| (b.data.bytes().as_ptr() as usize).is_multiple_of(b.dtype.itemsize()))
}

/// `while` through frames (`SubProgram::frame`), if both programs have one:
/// the carry double-buffered, nothing allocated per iteration. None: use
/// the executor.
fn while_framed(
    cond: &dyn SubProgram,
    body: &dyn SubProgram,
    cond_consts: &[&Buffer],
    body_consts: &[&Buffer],
    carry: &[&Buffer],
    carry_avals: &[Aval],
) -> Result<Option<Vec<Buffer>>> {
    if !frames_on() {
        return Ok(None);
    }
    let (Some(mut cf), Some(mut bf)) = (cond.frame(), body.frame()) else {
        return Ok(None);
    };
    let pred_aval = cf.out_avals();
    if bf.out_avals() != carry_avals
        || pred_aval.len() != 1
        || pred_aval[0].numel() != 1
        || cond_consts.len() + carry.len() > FRAME_ARGS
        || body_consts.len() + carry.len() > FRAME_ARGS
        || !aligned(cond_consts)
        || !aligned(body_consts)
    {
        return Ok(None);
    }
    let pa = &pred_aval[0];
    let mut pred = RawBuf::alloc_array(pa.dtype, &pa.shape);
    let mut a = raw_copies(carry);
    let mut b: Vec<RawBuf> = carry_avals
        .iter()
        .map(|v| RawBuf::alloc_array(v.dtype, &v.shape))
        .collect();
    let (nc, nb, n) = (cond_consts.len(), body_consts.len(), carry.len());
    loop {
        {
            let mut ins: [&[u8]; FRAME_ARGS] = Default::default();
            for (s, c) in ins.iter_mut().zip(cond_consts) {
                *s = c.data.bytes();
            }
            for (s, c) in ins[nc..].iter_mut().zip(&a) {
                *s = c.bytes();
            }
            cf.run(&ins[..nc + n], &mut [pred.bytes_mut()])?;
        }
        if scalar_of("while", pa.dtype, pred.bytes())? == 0 {
            break;
        }
        {
            let mut ins: [&[u8]; FRAME_ARGS] = Default::default();
            for (s, c) in ins.iter_mut().zip(body_consts) {
                *s = c.data.bytes();
            }
            for (s, c) in ins[nb..].iter_mut().zip(&a) {
                *s = c.bytes();
            }
            let mut outs: [&mut [u8]; FRAME_ARGS] = Default::default();
            for (s, c) in outs.iter_mut().zip(b.iter_mut()) {
                *s = c.bytes_mut();
            }
            bf.run(&ins[..nb + n], &mut outs[..n])?;
        }
        std::mem::swap(&mut a, &mut b);
    }
    count_framed();
    buffers(a, carry_avals).map(Some)
}

fn owned(ins: &[&Buffer]) -> Vec<Buffer> {
    ins.iter().map(|&b| b.clone()).collect()
}

/// The kernel of an op with an owning form: that form on shared clones of
/// the operands.
fn sharing(f: OwnedKernel) -> Kernel {
    Box::new(move |ins: &[&Buffer]| f(owned(ins)))
}

pub fn build_cond(spec: &OpSpec) -> Result<Kernel> {
    build_cond_owned(spec).map(sharing)
}

/// `cond`, taking its operands (`ops::OwnedKernel`): the branch runs with
/// them owned.
pub fn build_cond_owned(spec: &OpSpec) -> Result<OwnedKernel> {
    let branches = spec
        .params
        .programs("branches")?
        .iter()
        .map(sub_program)
        .collect::<Result<Vec<_>>>()?;
    ensure!(!branches.is_empty(), "cond: needs at least one branch");
    ensure!(!spec.ins.is_empty(), "cond: needs an index operand");
    for b in &branches {
        check_ins("cond", b, &spec.ins[1..])?;
    }
    let outs = spec.outs.to_vec();
    Ok(Box::new(move |mut ins: Vec<Buffer>| {
        ensure!(!ins.is_empty(), "cond: needs an index operand");
        let i = scalar_index("cond", &ins[0])?.clamp(0, branches.len() as i64 - 1) as usize;
        let operands = ins.split_off(1);
        drop(ins);
        let b = &branches[i];
        let res = if operands.len() == b.in_avals().len() {
            b.run_owned(operands)?
        } else {
            b.run(&operands)?
        };
        check_outs("cond", &res, &outs)?;
        Ok(res)
    }))
}

pub fn build_while(spec: &OpSpec) -> Result<Kernel> {
    build_while_owned(spec).map(sharing)
}

/// `while`, taking its operands (`ops::OwnedKernel`): a carry that only
/// this op holds goes to the body owned, so the body's update ops write
/// into it from the first iteration on.
pub fn build_while_owned(spec: &OpSpec) -> Result<OwnedKernel> {
    let cond = sub_program(&spec.params.program("cond_program")?)?;
    let body = sub_program(&spec.params.program("body_program")?)?;
    let cn = spec.params.usize("cond_nconsts")?;
    let bn = spec.params.usize("body_nconsts")?;
    ensure!(
        spec.ins.len() == cn + bn + spec.outs.len(),
        "while: {} inputs for {} consts and {} carried values",
        spec.ins.len(),
        cn + bn,
        spec.outs.len()
    );
    let carry_avals = spec.outs.to_vec();
    let mut cond_in = spec.ins[..cn].to_vec();
    cond_in.extend(carry_avals.iter().cloned());
    check_ins("while", &cond, &cond_in)?;
    let mut body_in = spec.ins[cn..cn + bn].to_vec();
    body_in.extend(carry_avals.iter().cloned());
    check_ins("while", &body, &body_in)?;
    let n_in = cn + bn + carry_avals.len();
    Ok(Box::new(move |mut ins: Vec<Buffer>| {
        ensure!(
            ins.len() == n_in,
            "while: {} operands, expected {n_in}",
            ins.len()
        );
        {
            let refs: Vec<&Buffer> = ins.iter().collect();
            if let Some(r) = while_framed(
                &*cond,
                &*body,
                &refs[..cn],
                &refs[cn..cn + bn],
                &refs[cn + bn..],
                &carry_avals,
            )? {
                return Ok(r);
            }
        }
        let mut carry = ins.split_off(cn + bn);
        let body_consts = ins.split_off(cn);
        let mut cond_args = ins;
        let mut first = true;
        loop {
            cond_args.extend(carry.iter().cloned());
            let p = cond.run_trusted(&cond_args);
            // drop the cond's copies of the carry: the body then owns it
            cond_args.truncate(cn);
            let p = p?;
            ensure!(
                p.len() == 1,
                "while: the cond program must return one value"
            );
            if scalar_index("while", &p[0])? == 0 {
                break;
            }
            let mut body_args = Vec::with_capacity(bn + carry.len());
            body_args.extend(body_consts.iter().cloned());
            body_args.append(&mut carry);
            carry = body.run_owned(body_args)?;
            if first {
                // The body is a fixed program: its outputs' types never change.
                check_outs("while", &carry, &carry_avals)?;
                first = false;
            }
        }
        Ok(carry)
    }))
}

/// Bytes of one row (one iteration's slice) of an aval with a leading axis.
fn row_bytes(a: &Aval) -> usize {
    numel(a.shape.get(1..).unwrap_or(&[])) * a.dtype.itemsize()
}

/// What a scan runs: its sizes and avals.
struct ScanShape {
    nconsts: usize,
    ncarry: usize,
    length: usize,
    reverse: bool,
    xs_avals: Vec<Aval>,
    ys_avals: Vec<Aval>,
    /// The body's outputs: the carry, then one row of each y.
    body_out: Vec<Aval>,
}

/// `scan` through the body's frame (`SubProgram::frame`), if it has one:
/// the carry double-buffered, each x row read and each y row written in
/// place, nothing allocated per iteration. None: use the executor.
fn scan_framed(
    body: &dyn SubProgram,
    sh: &ScanShape,
    ins: &[&Buffer],
) -> Result<Option<Vec<Buffer>>> {
    if !frames_on() {
        return Ok(None);
    }
    let Some(mut fr) = body.frame() else {
        return Ok(None);
    };
    let (nk, nc) = (sh.nconsts, sh.ncarry);
    let (consts, carry, xs) = (&ins[..nk], &ins[nk..nk + nc], &ins[nk + nc..]);
    if fr.out_avals() != sh.body_out
        || ins.len() > FRAME_ARGS
        || sh.body_out.len() > FRAME_ARGS
        || !aligned(consts)
        || !aligned(xs)
    {
        return Ok(None);
    }
    let x_rows: Vec<usize> = sh.xs_avals.iter().map(row_bytes).collect();
    let y_rows: Vec<usize> = sh.ys_avals.iter().map(row_bytes).collect();
    let mut ys: Vec<RawBuf> = sh
        .ys_avals
        .iter()
        .map(|a| RawBuf::alloc_array(a.dtype, &a.shape))
        .collect();
    let mut a = raw_copies(carry);
    let mut b: Vec<RawBuf> = sh.body_out[..nc]
        .iter()
        .map(|v| RawBuf::alloc_array(v.dtype, &v.shape))
        .collect();
    for t in 0..sh.length {
        let i = if sh.reverse { sh.length - 1 - t } else { t };
        {
            let mut args: [&[u8]; FRAME_ARGS] = Default::default();
            for (s, c) in args.iter_mut().zip(consts) {
                *s = c.data.bytes();
            }
            for (s, c) in args[nk..].iter_mut().zip(&a) {
                *s = c.bytes();
            }
            for ((s, x), &rb) in args[nk + nc..].iter_mut().zip(xs).zip(&x_rows) {
                *s = &x.data.bytes()[i * rb..(i + 1) * rb];
            }
            let mut outs: [&mut [u8]; FRAME_ARGS] = Default::default();
            for (s, c) in outs.iter_mut().zip(b.iter_mut()) {
                *s = c.bytes_mut();
            }
            for ((s, y), &rb) in outs[nc..].iter_mut().zip(ys.iter_mut()).zip(&y_rows) {
                *s = &mut y.bytes_mut()[i * rb..(i + 1) * rb];
            }
            fr.run(&args[..ins.len()], &mut outs[..sh.body_out.len()])?;
        }
        std::mem::swap(&mut a, &mut b);
    }
    let mut res = buffers(a, &sh.body_out[..nc])?;
    res.extend(buffers(ys, &sh.ys_avals)?);
    count_framed();
    Ok(Some(res))
}

pub fn build_scan(spec: &OpSpec) -> Result<Kernel> {
    build_scan_owned(spec).map(sharing)
}

/// `scan`, taking its operands (`ops::OwnedKernel`): a carry that only
/// this op holds goes to the body owned (see `build_while_owned`).
pub fn build_scan_owned(spec: &OpSpec) -> Result<OwnedKernel> {
    let body = sub_program(&spec.params.program("body")?)?;
    let nconsts = spec.params.usize("num_consts")?;
    let ncarry = spec.params.usize("num_carry")?;
    let length = spec.params.usize("length")?;
    let reverse = spec.params.bool("reverse")?;
    ensure!(spec.ins.len() >= nconsts + ncarry, "scan: too few inputs");
    ensure!(spec.outs.len() >= ncarry, "scan: too few outputs");
    let xs_avals = spec.ins[nconsts + ncarry..].to_vec();
    let ys_avals = spec.outs[ncarry..].to_vec();
    for a in xs_avals.iter().chain(&ys_avals) {
        ensure!(
            a.shape.first() == Some(&length),
            "scan: scanned value {:?} has no leading axis of length {}",
            a.shape,
            length
        );
    }
    let row = |a: &Aval| Aval::new(a.dtype, a.shape[1..].to_vec());
    let mut body_in = spec.ins[..nconsts + ncarry].to_vec();
    body_in.extend(xs_avals.iter().map(row));
    check_ins("scan", &body, &body_in)?;
    let mut body_out = spec.outs[..ncarry].to_vec();
    body_out.extend(ys_avals.iter().map(row));
    let shape = ScanShape {
        nconsts,
        ncarry,
        length,
        reverse,
        xs_avals: xs_avals.clone(),
        ys_avals: ys_avals.clone(),
        body_out: body_out.clone(),
    };
    let n_in = nconsts + ncarry + xs_avals.len();
    Ok(Box::new(move |mut ins: Vec<Buffer>| {
        ensure!(
            ins.len() == n_in,
            "scan: {} operands, expected {n_in}",
            ins.len()
        );
        {
            let refs: Vec<&Buffer> = ins.iter().collect();
            if let Some(r) = scan_framed(&*body, &shape, &refs)? {
                return Ok(r);
            }
        }
        let xs = ins.split_off(nconsts + ncarry);
        let mut carry = ins.split_off(nconsts);
        let consts = ins;
        let mut ys: Vec<RawBuf> = ys_avals
            .iter()
            .map(|a| RawBuf::alloc_array(a.dtype, &a.shape))
            .collect();
        for t in 0..length {
            let i = if reverse { length - 1 - t } else { t };
            let mut args = Vec::with_capacity(nconsts + ncarry + xs.len());
            args.extend(consts.iter().cloned());
            args.append(&mut carry);
            for (x, a) in xs.iter().zip(&xs_avals) {
                let rb = row_bytes(a);
                let bytes = &x.data.bytes()[i * rb..(i + 1) * rb];
                args.push(Buffer::from_bytes(a.dtype, a.shape[1..].to_vec(), bytes)?);
            }
            let mut outs = body.run_owned(args)?;
            if t == 0 {
                // The body is a fixed program: its outputs' types never change.
                check_outs("scan", &outs, &body_out)?;
            }
            for ((y, raw), a) in outs.drain(ncarry..).zip(ys.iter_mut()).zip(&ys_avals) {
                let rb = row_bytes(a);
                raw.bytes_mut()[i * rb..(i + 1) * rb].copy_from_slice(y.data.bytes());
            }
            carry = outs;
        }
        let mut res = carry;
        for (raw, a) in ys.into_iter().zip(&ys_avals) {
            res.push(Buffer::new(a.dtype, a.shape.clone(), raw)?);
        }
        Ok(res)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sub-program made of one op (built with `ops::build`) that reads
    /// inputs `ins` of a program taking `in_avals`, and returns its output
    /// at positions `outs` (so a scan body can return `c + x` twice).
    struct OneOp {
        in_avals: Vec<Aval>,
        kernel: super::super::Kernel,
        ins: Vec<usize>,
        outs: usize,
    }

    impl SubProgram for OneOp {
        fn in_avals(&self) -> &[Aval] {
            &self.in_avals
        }
        fn run(&self, inputs: &[Buffer]) -> Result<Vec<Buffer>> {
            let args: Vec<&Buffer> = self.ins.iter().map(|&i| &inputs[i]).collect();
            let r = (self.kernel)(&args)?;
            Ok(vec![r[0].clone(); self.outs])
        }
        fn run_trusted(&self, inputs: &[Buffer]) -> Result<Vec<Buffer>> {
            self.run(inputs)
        }
        fn has_effects(&self) -> bool {
            false
        }
        fn has_host_calls(&self) -> bool {
            false
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }

    fn one_op(
        op: &str,
        in_avals: Vec<Aval>,
        ins: Vec<usize>,
        out: Aval,
        outs: usize,
    ) -> Arc<dyn SubProgram> {
        let op_ins: Vec<Aval> = ins.iter().map(|&i| in_avals[i].clone()).collect();
        let p = Params::new(op);
        let kernel = super::super::build(&OpSpec {
            params: &p,
            ins: &op_ins,
            outs: &[out],
        })
        .unwrap();
        Arc::new(OneOp {
            in_avals,
            kernel,
            ins,
            outs,
        })
    }

    fn f32s(shape: &[usize]) -> Aval {
        Aval::new(DType::F32, shape.to_vec())
    }

    /// A program computing `op(x, y)` elementwise on two f32 inputs.
    fn binop(op: &str, shape: &[usize]) -> Arc<dyn SubProgram> {
        let a = f32s(shape);
        one_op(op, vec![a.clone(), a.clone()], vec![0, 1], a, 1)
    }

    fn prog(p: Arc<dyn SubProgram>) -> Param {
        program_param(p)
    }

    fn run(p: Params, ins: &[Buffer], outs: Vec<Aval>) -> Vec<Buffer> {
        crate::ops::testing::run_ops(p, ins, &outs)
    }

    #[test]
    fn cond_picks_a_clamped_branch() {
        let p = Params::new("cond").with(
            "branches",
            Param::List(vec![prog(binop("add", &[2])), prog(binop("mul", &[2]))]),
        );
        let x = Buffer::from_vec::<f32>(vec![2], &[2., 3.]).unwrap();
        for (i, want) in [(-1, [4., 6.]), (0, [4., 6.]), (1, [4., 9.]), (7, [4., 9.])] {
            let idx = Buffer::from_vec::<i32>(vec![], &[i]).unwrap();
            let out = run(p.clone(), &[idx, x.clone(), x.clone()], vec![f32s(&[2])]);
            assert_eq!(out[0].slice::<f32>().unwrap(), &want);
        }
    }

    #[test]
    fn scan_stacks_outputs_in_either_direction() {
        // body(c, x) = (c + x, c + x): a cumulative sum.
        let a = f32s(&[]);
        let body = one_op("add", vec![a.clone(), a.clone()], vec![0, 1], a.clone(), 2);
        for (reverse, want) in [(false, [1., 3., 6.]), (true, [6., 5., 3.])] {
            let p = Params::new("scan")
                .with("body", prog(body.clone()))
                .with("num_consts", Param::Int(0))
                .with("num_carry", Param::Int(1))
                .with("length", Param::Int(3))
                .with("reverse", Param::Bool(reverse));
            let c = Buffer::from_vec::<f32>(vec![], &[0.]).unwrap();
            let xs = Buffer::from_vec::<f32>(vec![3], &[1., 2., 3.]).unwrap();
            let out = run(p, &[c, xs], vec![a.clone(), f32s(&[3])]);
            assert_eq!(out[0].slice::<f32>().unwrap(), &[6.]);
            assert_eq!(out[1].slice::<f32>().unwrap(), &want);
        }
    }

    #[test]
    fn while_runs_until_the_predicate_is_false() {
        // cond(limit, c) = c < limit; body(step, c) = c + step.
        let a = f32s(&[]);
        let lt = one_op(
            "lt",
            vec![a.clone(), a.clone()],
            vec![1, 0],
            Aval::new(DType::Bool, vec![]),
            1,
        );
        let p = Params::new("while")
            .with("cond_program", prog(lt))
            .with("body_program", prog(binop("add", &[])))
            .with("cond_nconsts", Param::Int(1))
            .with("body_nconsts", Param::Int(1));
        let s = |v: f32| Buffer::from_vec::<f32>(vec![], &[v]).unwrap();
        let out = run(p, &[s(10.), s(3.), s(0.)], vec![a]);
        assert_eq!(out[0].slice::<f32>().unwrap(), &[12.]);
    }
}
