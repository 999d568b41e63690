//! Small loop bodies without the executor (`ops::control::Frame`).
//!
//! A `while`/`scan` body (or a `while` condition) whose every instruction
//! is a fused elementwise group with native code installed, or an unfused
//! elementwise op, and whose every value fits in one of the interpreter's
//! chunks (`GRAIN` elements), runs through a frame: its intermediate
//! buffers are allocated once per loop, not once per iteration, and each
//! iteration calls the groups' compiled functions and the ops' slice
//! kernels straight over them, with no value table and no allocation. The
//! loop (`ops::control`) double-buffers the carry around it.
//!
//! The bits are the executor's: the same compiled functions over the same
//! single chunk (a group of at most `GRAIN` elements is one chunk there
//! too) and the same slice kernels.
use super::native::{NativeFn, Slot};
use crate::base::aval::Aval;
use crate::base::buffer::{numel, Buffer, RawBuf};
use crate::base::dtype::DType;
use crate::base::error::{Error, Result};
use crate::base::slice::{Slice, SliceMut};
use crate::compiler::fusion::{Fused, Node};
use crate::loops::parallel::GRAIN;
use crate::ops::control::Frame;
use crate::ops::elementwise::kernel::SliceKernel;
use std::sync::Arc;

/// One instruction of a frame-able program.
pub(crate) enum FStep {
    /// A fused elementwise group: its native function over elements
    /// `[0, total)` (installed later in `auto` mode).
    Native {
        slot: Arc<Slot>,
        ins: Vec<usize>,
        outs: Vec<usize>,
        total: usize,
        tile: usize,
    },
    /// A binary op on two one-element operands of one machine type (a
    /// loop counter's increment or bound test): a direct scalar function,
    /// without the slice kernel's dispatch.
    Scalar {
        f: ScalarFn,
        a: usize,
        b: usize,
        out: usize,
    },
    /// An unfused elementwise op: its slice kernel over the whole output.
    Elem {
        kernel: SliceKernel,
        ins: Vec<usize>,
        out: usize,
    },
}

/// `out = a op b` on one element each, read and written at the given
/// addresses.
pub(crate) type ScalarFn = unsafe fn(*const u8, *const u8, *mut u8);

macro_rules! scalar_fns {
    ($t:ty) => {{
        fn ld(p: *const u8) -> $t {
            // SAFETY: (every caller) p addresses one live element of $t
            unsafe { (p as *const $t).read_unaligned() }
        }
        unsafe fn add(a: *const u8, b: *const u8, o: *mut u8) {
            // SAFETY: `ScalarFn`'s contract: one writable element at o
            unsafe { (o as *mut $t).write_unaligned(ld(a).wrapping_add(ld(b))) }
        }
        unsafe fn sub(a: *const u8, b: *const u8, o: *mut u8) {
            // SAFETY: as in add
            unsafe { (o as *mut $t).write_unaligned(ld(a).wrapping_sub(ld(b))) }
        }
        unsafe fn mul(a: *const u8, b: *const u8, o: *mut u8) {
            // SAFETY: as in add
            unsafe { (o as *mut $t).write_unaligned(ld(a).wrapping_mul(ld(b))) }
        }
        scalar_cmps!($t, ld, add, sub, mul)
    }};
}

macro_rules! scalar_cmps {
    ($t:ty, $ld:ident, $add:ident, $sub:ident, $mul:ident) => {{
        unsafe fn lt(a: *const u8, b: *const u8, o: *mut u8) {
            // SAFETY: `ScalarFn`'s contract: one writable bool (u8) at o
            unsafe { o.write(($ld(a) < $ld(b)) as u8) }
        }
        unsafe fn le(a: *const u8, b: *const u8, o: *mut u8) {
            // SAFETY: as in lt
            unsafe { o.write(($ld(a) <= $ld(b)) as u8) }
        }
        unsafe fn gt(a: *const u8, b: *const u8, o: *mut u8) {
            // SAFETY: as in lt
            unsafe { o.write(($ld(a) > $ld(b)) as u8) }
        }
        unsafe fn ge(a: *const u8, b: *const u8, o: *mut u8) {
            // SAFETY: as in lt
            unsafe { o.write(($ld(a) >= $ld(b)) as u8) }
        }
        unsafe fn eq(a: *const u8, b: *const u8, o: *mut u8) {
            // SAFETY: as in lt
            unsafe { o.write(($ld(a) == $ld(b)) as u8) }
        }
        unsafe fn ne(a: *const u8, b: *const u8, o: *mut u8) {
            // SAFETY: as in lt
            unsafe { o.write(($ld(a) != $ld(b)) as u8) }
        }
        [
            ("add", $add as ScalarFn),
            ("sub", $sub),
            ("mul", $mul),
            ("lt", lt),
            ("le", le),
            ("gt", gt),
            ("ge", ge),
            ("eq", eq),
            ("ne", ne),
        ]
    }};
}

/// The scalar function of binary op `op` on two operands of `dt` (the
/// integer ops wrap, as the slice kernels do) and its result's dtype, if
/// there is one.
fn scalar_fn(op: &str, dt: DType) -> Option<(ScalarFn, DType)> {
    let table: [(&str, ScalarFn); 9] = match dt {
        DType::I32 => scalar_fns!(i32),
        DType::I64 => scalar_fns!(i64),
        DType::U32 => scalar_fns!(u32),
        DType::U64 => scalar_fns!(u64),
        _ => return None,
    };
    let out = if matches!(op, "add" | "sub" | "mul") {
        dt
    } else {
        DType::Bool
    };
    table.iter().find(|(n, _)| *n == op).map(|&(_, f)| (f, out))
}

/// The frame step of binary op `op` (values `ins` -> `out`, of avals
/// `in_avals` -> `out_aval`) when its operands are one-element values of
/// one type with a scalar function (a loop counter's increment or bound
/// test), else None.
pub(crate) fn scalar_step(
    op: &str,
    ins: &[usize],
    out: usize,
    in_avals: &[Aval],
    out_aval: &Aval,
) -> Option<FStep> {
    let ([a, b], [x, y]) = (ins, in_avals) else {
        return None;
    };
    if x.dtype != y.dtype || x.numel() != 1 || y.numel() != 1 || out_aval.numel() != 1 {
        return None;
    }
    let (f, out_dt) = scalar_fn(op, x.dtype)?;
    (out_aval.dtype == out_dt).then_some(FStep::Scalar {
        f,
        a: *a,
        b: *b,
        out,
    })
}

/// A program that a frame can run: its steps and every value's aval.
pub(crate) struct Plan {
    pub steps: Vec<FStep>,
    pub avals: Vec<Aval>,
    pub n_in: usize,
    pub consts: Vec<Buffer>,
    pub outputs: Vec<usize>,
}

fn bytes_of(a: &Aval) -> usize {
    a.numel() * a.dtype.itemsize()
}

/// Whether group `f`, run over inputs of `avals`, is elementwise, one
/// chunk, and reads only inside its inputs.
pub(crate) fn group_fits(f: &Fused, in_avals: &[Aval]) -> bool {
    let total = numel(&f.shape);
    if f.pattern.is_some() || !f.reds.is_empty() || total > GRAIN || in_avals.len() != f.n_inputs {
        return false;
    }
    f.nodes.iter().all(|n| match &n.node {
        Node::Load { input, map } => in_avals.get(*input).is_some_and(|a| {
            a.dtype == n.dtype
                && super::native::load_extent(map, &f.shape, total).is_some_and(|e| a.numel() >= e)
        }),
        Node::Op { .. } => true,
        Node::RowRed(_) => false,
    })
}

/// Whether an elementwise op of these avals fits a frame: one chunk, each
/// operand one element or the output's length.
pub(crate) fn elem_fits(ins: &[Aval], out: &Aval) -> bool {
    let n = out.numel();
    n <= GRAIN
        && ins.iter().all(|a| {
            let m = a.numel();
            m == n || (m == 1 && n > 0)
        })
}

impl Plan {
    /// A frame, if every group's native code is installed.
    pub fn frame(&self) -> Option<Box<dyn Frame + '_>> {
        let mut funcs = Vec::with_capacity(self.steps.len());
        for s in &self.steps {
            funcs.push(match s {
                FStep::Native { slot, .. } => Some(slot.native_fn()?),
                FStep::Elem { .. } | FStep::Scalar { .. } => None,
            });
        }
        let mut store: Vec<Option<RawBuf>> = (0..self.avals.len()).map(|_| None).collect();
        let mut ptrs = vec![0usize; self.avals.len()];
        for (c, b) in self.consts.iter().enumerate() {
            ptrs[self.n_in + c] = b.data.bytes().as_ptr() as usize;
        }
        for s in &self.steps {
            let outs: &[usize] = match s {
                FStep::Native { outs, .. } => outs,
                FStep::Elem { out, .. } | FStep::Scalar { out, .. } => std::slice::from_ref(out),
            };
            for &v in outs {
                let a = &self.avals[v];
                let mut raw = RawBuf::alloc_array(a.dtype, &a.shape);
                ptrs[v] = raw.bytes_mut().as_mut_ptr() as usize;
                store[v] = Some(raw);
            }
        }
        // An output that a step makes (and no other output repeats) is
        // written straight into the caller's buffer: no copy.
        let mut direct = vec![false; self.outputs.len()];
        for (j, &v) in self.outputs.iter().enumerate() {
            direct[j] = store[v].is_some() && !self.outputs[..j].contains(&v);
        }
        let meta = |v: usize| {
            let a = &self.avals[v];
            (a.dtype, a.numel(), bytes_of(a), a.dtype.itemsize())
        };
        let elem_args = self
            .steps
            .iter()
            .map(|s| match s {
                // the operands, then the output
                FStep::Elem { ins, out, .. } => ins
                    .iter()
                    .chain([out])
                    .map(|&v| (v, meta(v).0, meta(v).1))
                    .collect(),
                FStep::Native { .. } | FStep::Scalar { .. } => Vec::new(),
            })
            .collect();
        Some(Box::new(BodyFrame {
            plan: self,
            funcs,
            _store: store,
            ptrs,
            direct,
            in_meta: (0..self.n_in).map(|k| (meta(k).2, meta(k).3)).collect(),
            out_meta: self
                .outputs
                .iter()
                .map(|&v| (meta(v).2, meta(v).3))
                .collect(),
            elem_args,
            args: Vec::new(),
            res: Vec::new(),
        }))
    }
}

struct BodyFrame<'p> {
    plan: &'p Plan,
    funcs: Vec<Option<NativeFn>>,
    /// The intermediate values' memory (`ptrs` points into it).
    _store: Vec<Option<RawBuf>>,
    /// Each value's address: inputs (set per run), constants, intermediates
    /// (the caller's output buffer, set per run, for a direct output).
    ptrs: Vec<usize>,
    /// Whether output j is written in place by the step that makes it.
    direct: Vec<bool>,
    /// (bytes, element size) of each input and each output.
    in_meta: Vec<(usize, usize)>,
    out_meta: Vec<(usize, usize)>,
    /// Each elementwise step's operands, then its output: (value, dtype,
    /// elements).
    elem_args: Vec<Vec<(usize, DType, usize)>>,
    args: Vec<usize>,
    res: Vec<usize>,
}

// SAFETY: the frame's raw addresses point into its own buffers (`_store`),
// the plan's constants (kept alive by `plan`) or the inputs of the current
// `run` (which borrows them); a frame is used by one thread at a time.
unsafe impl Send for BodyFrame<'_> {}

fn misfit(what: &str, k: usize, got: usize, want: usize) -> Error {
    Error::Internal(format!(
        "loop frame: {what} {k} has {got} bytes, expected {want}"
    ))
}

impl Frame for BodyFrame<'_> {
    fn out_avals(&self) -> Vec<Aval> {
        self.plan
            .outputs
            .iter()
            .map(|&v| self.plan.avals[v].clone())
            .collect()
    }

    fn run(&mut self, ins: &[&[u8]], outs: &mut [&mut [u8]]) -> Result<()> {
        let p = self.plan;
        if ins.len() != p.n_in || outs.len() != p.outputs.len() {
            return Err(Error::Internal(format!(
                "loop frame: {} inputs and {} outputs for {} and {}",
                ins.len(),
                outs.len(),
                p.n_in,
                p.outputs.len()
            )));
        }
        for (k, (b, &(want, item))) in ins.iter().zip(&self.in_meta).enumerate() {
            if b.len() != want {
                return Err(misfit("input", k, b.len(), want));
            }
            // (element sizes are powers of two)
            if (b.as_ptr() as usize) & (item - 1) != 0 {
                return Err(Error::Internal(format!(
                    "loop frame: input {k} is misaligned"
                )));
            }
            self.ptrs[k] = b.as_ptr() as usize;
        }
        for (j, ((o, &v), &(want, item))) in outs
            .iter_mut()
            .zip(&p.outputs)
            .zip(&self.out_meta)
            .enumerate()
        {
            if o.len() != want {
                return Err(misfit("output", j, o.len(), want));
            }
            if self.direct[j] {
                if (o.as_ptr() as usize) & (item - 1) != 0 {
                    return Err(Error::Internal(format!(
                        "loop frame: output {j} is misaligned"
                    )));
                }
                self.ptrs[v] = o.as_mut_ptr() as usize;
            }
        }
        for ((s, func), eargs) in p.steps.iter().zip(&self.funcs).zip(&self.elem_args) {
            match (s, func) {
                (
                    FStep::Native {
                        ins,
                        outs,
                        total,
                        tile,
                        ..
                    },
                    Some(f),
                ) => {
                    if *total == 0 {
                        continue;
                    }
                    self.args.clear();
                    self.args.extend(ins.iter().map(|&v| self.ptrs[v]));
                    self.res.clear();
                    self.res.extend(outs.iter().map(|&v| self.ptrs[v]));
                    // SAFETY: `f` was compiled from this group (`Slot`'s
                    // contract); its loads stay inside its inputs, whose
                    // sizes were checked against the avals when the plan
                    // was made (`group_fits`) and above; each output is
                    // the frame's own buffer of the output's aval or the
                    // caller's output buffer (exclusive, size checked above);
                    // one chunk `[0, total)`, as the interpreter's only chunk.
                    unsafe {
                        f(
                            0,
                            *total as i64,
                            self.args.as_ptr() as *const *const u8,
                            self.res.as_ptr() as *const *mut u8,
                            std::ptr::null(),
                            0,
                            *tile as i64,
                        )
                    };
                }
                (FStep::Elem { kernel, .. }, _) => {
                    let Some((&(out, odt, on), eargs)) = eargs.split_last() else {
                        return Err(Error::Internal("loop frame: a step without output".into()));
                    };
                    let mut few = [Slice::new::<u8>(&[]); 4];
                    let many: Vec<Slice>;
                    let views = |&(v, dt, n): &(usize, DType, usize)| {
                        // SAFETY: `ptrs[v]` is value v's live, aligned
                        // memory of its aval's length (an input checked
                        // above, a constant, or an earlier step's output),
                        // not written while this step reads it.
                        unsafe { Slice::from_raw(dt, self.ptrs[v] as *const u8, n) }
                    };
                    let args: &[Slice] = if eargs.len() <= few.len() {
                        for (s, a) in few.iter_mut().zip(eargs) {
                            *s = views(a);
                        }
                        &few[..eargs.len()]
                    } else {
                        many = eargs.iter().map(views).collect();
                        &many
                    };
                    // SAFETY: the step's own output buffer (the frame's, or
                    // the caller's exclusive output buffer, size checked
                    // above), of its aval's length, read by no operand
                    // (values are written once).
                    let o = unsafe { SliceMut::from_raw(odt, self.ptrs[out] as *mut u8, on) };
                    kernel(args, o)?;
                }
                (FStep::Scalar { f, a, b, out }, _) => {
                    // SAFETY: the plan made this step only for one-element
                    // operands and output of the function's types
                    // (`scalar_step`); `ptrs` holds each value's live memory
                    // (the output the step's own, not an operand's).
                    unsafe {
                        f(
                            self.ptrs[*a] as *const u8,
                            self.ptrs[*b] as *const u8,
                            self.ptrs[*out] as *mut u8,
                        )
                    }
                }
                (FStep::Native { .. }, None) => {
                    return Err(Error::Internal("loop frame: a group lost its code".into()))
                }
            }
        }
        for ((o, &v), &d) in outs.iter_mut().zip(&p.outputs).zip(&self.direct) {
            if d {
                continue;
            }
            // SAFETY: value v's memory (an input, a constant or the frame's
            // own buffer) holds `o.len()` bytes (checked above); `o` is an
            // exclusive borrow, so it overlaps none of them.
            let src = unsafe { std::slice::from_raw_parts(self.ptrs[v] as *const u8, o.len()) };
            o.copy_from_slice(src);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::base::buffer::Buffer;
    use crate::base::dtype::DType;
    use crate::base::params::{Param, Params};
    use crate::exec::executable::{Executable, InstrSpec};
    use crate::ops::control::{framed_loops, program_param, set_loop_frames};
    use crate::ops::Aval;
    use std::sync::Arc;

    fn instr(op: &str, ins: Vec<usize>, out: Aval) -> InstrSpec {
        InstrSpec {
            params: Params::new(op),
            ins,
            outs: vec![out],
        }
    }

    /// `scan` of body(w; i, c, x) = (i + 1, c * w + x, [c * w + x, c]) over
    /// f32[n] carries, unfused (every instruction an elementwise step), with
    /// frames on and off: equal bits, and the frame path taken when on.
    #[test]
    fn a_framed_scan_equals_the_executor() {
        let n = 5usize;
        let f = Aval::new(DType::F32, vec![n]);
        let i = Aval::new(DType::I32, vec![]);
        // values: 0 w, 1 i, 2 c, 3 x, 4 const one, 5 i+1, 6 c*w, 7 c*w+x
        let one = Buffer::from_vec::<i32>(vec![], &[1]).unwrap();
        let body = Executable::with_fusion(
            vec![f.clone(), i.clone(), f.clone(), f.clone()],
            vec![one],
            vec![
                instr("add", vec![1, 4], i.clone()),
                instr("mul", vec![2, 0], f.clone()),
                instr("add", vec![6, 3], f.clone()),
            ],
            vec![5, 7, 7, 2],
            false,
        )
        .unwrap();
        let len = 7usize;
        let p = Params::new("scan")
            .with("body", program_param(Arc::new(body)))
            .with("num_consts", Param::Int(1))
            .with("num_carry", Param::Int(2))
            .with("length", Param::Int(len as i64))
            .with("reverse", Param::Bool(true));
        let w: Vec<f32> = (0..n).map(|k| 0.5 + k as f32 * 0.25).collect();
        let c: Vec<f32> = (0..n).map(|k| k as f32 - 2.0).collect();
        let xs: Vec<f32> = (0..n * len).map(|k| (k as f32 * 0.37).sin()).collect();
        let ins = [
            Buffer::from_vec::<f32>(vec![n], &w).unwrap(),
            Buffer::from_vec::<i32>(vec![], &[3]).unwrap(),
            Buffer::from_vec::<f32>(vec![n], &c).unwrap(),
            Buffer::from_vec::<f32>(vec![len, n], &xs).unwrap(),
        ];
        let ys = Aval::new(DType::F32, vec![len, n]);
        let outs = vec![i, f, ys.clone(), ys];
        let before = framed_loops();
        let on = crate::ops::testing::run_ops(p.clone(), &ins, &outs);
        assert!(framed_loops() > before);
        let prev = set_loop_frames(false);
        let off = crate::ops::testing::run_ops(p, &ins, &outs);
        set_loop_frames(prev);
        for (a, b) in on.iter().zip(&off) {
            assert_eq!(a.shape, b.shape);
            assert_eq!(a.data.bytes(), b.data.bytes());
        }
        assert_eq!(on[0].slice::<i32>().unwrap(), &[3 + len as i32]);
        // the first y row written is the last x row's step (reverse)
        let c0: Vec<f32> = (0..n)
            .map(|k| c[k] * w[k] + xs[(len - 1) * n + k])
            .collect();
        assert_eq!(&on[2].slice::<f32>().unwrap()[(len - 1) * n..], &c0[..]);
    }
}
