//! Windowed reductions: `reduce_window_{sum,max,min}` and the two ops of max/min
//! pooling's derivative, `select_and_gather_add` (JVP: the tangent at each
//! window's selected element) and `select_and_scatter_add` (its transpose: each
//! window's cotangent added at its selected element).
//!
//! Window geometry follows XLA: the operand is dilated by `base_dilation`,
//! padded by `padding` (pairs, possibly negative), and window `o` covers the
//! positions `o * stride + w * window_dilation - lo`. Positions in padding or
//! in a dilation hole hold the reduction's identity. Python has checked every
//! shape; the builders only re-derive the output shape and compare.
use super::reduce::Accum;
use super::scalar::Num;
use super::{Kernel, OpSpec};
use crate::base::buffer::{numel, strides, Buffer};
use crate::base::dtype::DType;
use crate::base::dtype::Element;
use crate::base::error::{shape_err, Result};
use crate::loops::parallel::{par_fill, par_fill_rows, GRAIN};

/// The geometry of one windowed op, with per-dim lookup tables: `table[d]`
/// holds, for each (output coord, window offset) of dim `d`, the operand
/// coord or -1 (padding or a dilation hole).
pub struct Window {
    pub in_shape: Vec<usize>,
    pub out_shape: Vec<usize>,
    dims: Vec<usize>,
    in_st: Vec<usize>,
    table: Vec<Vec<i64>>,
}

/// One axis of a window (XLA's geometry, shared with the convolution): an
/// operand of `size` dilated by `base`, padded by `pads` (low, high; may be
/// negative), windows of `k` taps `wdil` apart every `stride`. Returns the
/// number of windows and, for each (window, tap), the operand coordinate or
/// -1 (padding or a dilation hole).
pub fn axis_table(
    size: usize,
    k: usize,
    stride: usize,
    base: usize,
    wdil: usize,
    pads: &[i64],
) -> (usize, Vec<i64>) {
    let dil_in = if size == 0 {
        0
    } else {
        (size as i64 - 1) * base as i64 + 1
    };
    let dil_w = if k == 0 {
        0
    } else {
        (k as i64 - 1) * wdil as i64 + 1
    };
    let padded = dil_in + pads[0] + pads[1];
    let n = if padded < dil_w {
        0
    } else {
        ((padded - dil_w) / stride as i64 + 1) as usize
    };
    let mut t = Vec::with_capacity(n * k);
    for o in 0..n {
        for w in 0..k {
            let pos = (o * stride + w * wdil) as i64 - pads[0];
            t.push(if pos < 0 || pos >= dil_in || pos % base as i64 != 0 {
                -1
            } else {
                pos / base as i64
            });
        }
    }
    (n, t)
}

impl Window {
    /// Read the window params of `spec` (`base_dilation`/`window_dilation`
    /// default to ones when absent, as for `select_and_scatter_add`).
    pub fn from_spec(spec: &OpSpec, in_shape: &[usize]) -> Result<Window> {
        let op = spec.name();
        let p = spec.params;
        let nd = in_shape.len();
        let dims = p.usizes("window_dimensions")?;
        let strd = p.usizes("window_strides")?;
        let pads = p.int_lists("padding")?;
        let ones = vec![1usize; nd];
        let base = if p.has("base_dilation") {
            p.usizes("base_dilation")?
        } else {
            ones.clone()
        };
        let wdil = if p.has("window_dilation") {
            p.usizes("window_dilation")?
        } else {
            ones
        };
        let ok = [dims.len(), strd.len(), pads.len(), base.len(), wdil.len()]
            .iter()
            .all(|&l| l == nd)
            && pads.iter().all(|q| q.len() == 2)
            && strd.iter().chain(&base).chain(&wdil).all(|&s| s >= 1);
        if !ok {
            return Err(shape_err(op, "inconsistent window parameters"));
        }
        let mut out_shape = Vec::with_capacity(nd);
        let mut table = Vec::with_capacity(nd);
        for d in 0..nd {
            let (n, t) = axis_table(in_shape[d], dims[d], strd[d], base[d], wdil[d], &pads[d]);
            out_shape.push(n);
            table.push(t);
        }
        Ok(Window {
            in_shape: in_shape.to_vec(),
            out_shape,
            in_st: strides(in_shape),
            dims,
            table,
        })
    }

    /// Call `f(Some(flat operand index))` or `f(None)` (padding/hole) for
    /// each window element of output `o`, in row-major window order.
    #[inline]
    pub fn visit(&self, o: &[usize], f: &mut impl FnMut(Option<usize>)) {
        self.rec(0, self.dims.len(), o, 0, true, f)
    }

    /// Visit the window over the first `end` dims only (`o` indexes those):
    /// the offsets are where rows of the remaining dims start.
    fn rec(
        &self,
        d: usize,
        end: usize,
        o: &[usize],
        off: usize,
        valid: bool,
        f: &mut impl FnMut(Option<usize>),
    ) {
        if d == end {
            f(if valid { Some(off) } else { None });
            return;
        }
        let k = self.dims[d];
        for &c in &self.table[d][o[d] * k..(o[d] + 1) * k] {
            if c < 0 {
                self.rec(d + 1, end, o, off, false, f);
            } else {
                self.rec(d + 1, end, o, off + c as usize * self.in_st[d], valid, f);
            }
        }
    }

    /// The trailing dims that every window passes through unchanged (window
    /// 1, stride 1, no padding or dilation), e.g. the channels of NHWC
    /// pooling: their elements form contiguous rows in the operand and the
    /// output alike. Returns (number of the other, outer dims, row length).
    fn rows(&self) -> (usize, usize) {
        let mut outer = self.dims.len();
        let mut row = 1;
        while outer > 0 {
            let d = outer - 1;
            let n = self.in_shape[d];
            let through = self.dims[d] == 1
                && self.out_shape[d] == n
                && self.table[d]
                    .iter()
                    .enumerate()
                    .all(|(o, &c)| c == o as i64);
            if !through {
                break;
            }
            row *= n;
            outer = d;
        }
        (outer, row)
    }

    fn window_size(&self) -> usize {
        self.dims.iter().product()
    }
}

/// Fill `out` (row-major over `out_shape`) in parallel; `f(o, idx)` gets the
/// multi-index of each output element.
pub(crate) fn par_outputs<T: Send>(
    out_shape: &[usize],
    cost: usize,
    out: &mut [T],
    f: impl Fn(&[usize]) -> T + Sync + Send,
) {
    if out.is_empty() {
        return;
    }
    let grain = (GRAIN / cost.max(1)).max(1);
    par_fill(out, grain, |start, chunk| {
        let nd = out_shape.len();
        let mut idx = vec![0usize; nd];
        let mut rem = start;
        for d in (0..nd).rev() {
            idx[d] = rem % out_shape[d];
            rem /= out_shape[d];
        }
        for o in chunk.iter_mut() {
            *o = f(&idx);
            for d in (0..nd).rev() {
                idx[d] += 1;
                if idx[d] < out_shape[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
    });
}

fn check_out(spec: &OpSpec, w: &Window, expect: &[usize]) -> Result<()> {
    if spec.outs[0].shape != expect {
        return Err(shape_err(
            spec.name(),
            format!(
                "output shape {:?} != expected {:?} for operand {:?}",
                spec.outs[0].shape, expect, w.in_shape
            ),
        ));
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Monoid {
    Sum,
    Max,
    Min,
}

/// Rows of at least this many elements take the row path of `reduce_rows`.
const MIN_ROW: usize = 8;

/// The windowed reduction when the trailing dims pass through (see
/// `Window::rows`): each output row combines whole operand rows, in window
/// order, in a loop the compiler vectorizes.
fn reduce_rows<T: Accum>(w: &Window, m: Monoid, x: &[T], out: &mut [T], outer: usize, row: usize) {
    let shape = &w.out_shape[..outer];
    par_fill_rows(out, row, |first, chunk| {
        let mut idx = vec![0usize; outer];
        let mut rem = first;
        for d in (0..outer).rev() {
            idx[d] = rem % shape[d];
            rem /= shape[d];
        }
        let mut acc = vec![<T::A as Num>::zero(); if matches!(m, Monoid::Sum) { row } else { 0 }];
        for orow in chunk.chunks_mut(row) {
            match m {
                Monoid::Sum => {
                    acc.fill(<T::A as Num>::zero());
                    w.rec(0, outer, &idx, 0, true, &mut |i| {
                        if let Some(i) = i {
                            for (a, &v) in acc.iter_mut().zip(&x[i..i + row]) {
                                *a = a.add(v.up());
                            }
                        }
                    });
                    for (o, &a) in orow.iter_mut().zip(&acc) {
                        *o = T::down(a);
                    }
                }
                Monoid::Max | Monoid::Min => {
                    let max = matches!(m, Monoid::Max);
                    orow.fill(if max { T::lowest() } else { T::highest() });
                    w.rec(0, outer, &idx, 0, true, &mut |i| {
                        if let Some(i) = i {
                            let src = &x[i..i + row];
                            if max {
                                for (o, &v) in orow.iter_mut().zip(src) {
                                    *o = o.max(v);
                                }
                            } else {
                                for (o, &v) in orow.iter_mut().zip(src) {
                                    *o = o.min(v);
                                }
                            }
                        }
                    });
                }
            }
            for d in (0..outer).rev() {
                idx[d] += 1;
                if idx[d] < shape[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
    });
}

fn reduce_kernel<T: Accum>(spec: &OpSpec, m: Monoid) -> Result<Kernel> {
    spec.arity(1, 1)?;
    let w = Window::from_spec(spec, &spec.ins[0].shape)?;
    check_out(spec, &w, &w.out_shape)?;
    let (outer, row) = w.rows();
    Ok(Box::new(move |ins: &[&Buffer]| {
        let x = ins[0].slice::<T>()?;
        let cost = w.window_size();
        if row >= MIN_ROW {
            let out = Buffer::build::<T>(w.out_shape.clone(), |out| {
                reduce_rows(&w, m, x, out, outer, row)
            });
            return Ok(vec![out]);
        }
        let out = Buffer::build::<T>(w.out_shape.clone(), |out| match m {
            Monoid::Sum => par_outputs(&w.out_shape, cost, out, |o| {
                let mut acc = <T::A as Num>::zero();
                w.visit(o, &mut |i| {
                    if let Some(i) = i {
                        acc = acc.add(x[i].up());
                    }
                });
                T::down(acc)
            }),
            Monoid::Max => par_outputs(&w.out_shape, cost, out, |o| {
                let mut acc = T::lowest();
                w.visit(o, &mut |i| {
                    if let Some(i) = i {
                        acc = acc.max(x[i]);
                    }
                });
                acc
            }),
            Monoid::Min => par_outputs(&w.out_shape, cost, out, |o| {
                let mut acc = T::highest();
                w.visit(o, &mut |i| {
                    if let Some(i) = i {
                        acc = acc.min(x[i]);
                    }
                });
                acc
            }),
        });
        Ok(vec![out])
    }))
}

pub fn build_sum(spec: &OpSpec) -> Result<Kernel> {
    crate::dispatch_dtype!(spec.ins[0].dtype, spec.name(), T => reduce_kernel::<T>(spec, Monoid::Sum), numeric)
}
pub fn build_max(spec: &OpSpec) -> Result<Kernel> {
    crate::dispatch_dtype!(spec.ins[0].dtype, spec.name(), T => reduce_kernel::<T>(spec, Monoid::Max), numeric)
}
pub fn build_min(spec: &OpSpec) -> Result<Kernel> {
    crate::dispatch_dtype!(spec.ins[0].dtype, spec.name(), T => reduce_kernel::<T>(spec, Monoid::Min), numeric)
}

/// `ge` (max pooling) or `le` (min pooling).
fn select_is_ge(spec: &OpSpec) -> Result<bool> {
    match spec.params.str("select_prim")? {
        "ge" => Ok(true),
        "le" => Ok(false),
        s => Err(shape_err(
            spec.name(),
            format!("select_prim must be 'ge' or 'le', got '{s}'"),
        )),
    }
}

/// The selected element of window `o`: XLA's select loop, where a candidate
/// replaces the current choice unless `select(current, candidate)` holds (so
/// the first of equal maxima wins). Padding and holes are candidates holding
/// the identity (-inf for `ge`), never selected over an equal real element
/// that comes first. `from_init` starts from the identity (reduce_window's
/// init, as `select_and_gather_add`); otherwise from the first element (as
/// XLA's select_and_scatter).
#[inline]
fn select<T: Num + Element>(
    w: &Window,
    x: &[T],
    o: &[usize],
    ge: bool,
    from_init: bool,
) -> Option<usize> {
    let ident = if ge { T::lowest() } else { T::highest() };
    let mut cur: Option<(T, Option<usize>)> = if from_init { Some((ident, None)) } else { None };
    w.visit(o, &mut |i| {
        let v = i.map_or(ident, |i| x[i]);
        cur = match cur {
            None => Some((v, i)),
            Some((c, ci)) => {
                let keep = if ge { c >= v } else { c <= v };
                if keep {
                    Some((c, ci))
                } else {
                    Some((v, i))
                }
            }
        };
    });
    cur.and_then(|(_, i)| i)
}

fn gather_kernel<T: Num + Element>(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(2, 1)?;
    let ge = select_is_ge(spec)?;
    crate::ensure!(
        spec.ins[0].shape == spec.ins[1].shape,
        "select_and_gather_add: tangents and operand shapes differ"
    );
    let w = Window::from_spec(spec, &spec.ins[1].shape)?;
    check_out(spec, &w, &w.out_shape)?;
    Ok(Box::new(move |ins: &[&Buffer]| {
        let (t, x) = (ins[0].slice::<T>()?, ins[1].slice::<T>()?);
        let cost = w.window_size();
        let out = Buffer::build::<T>(w.out_shape.clone(), |out| {
            par_outputs(&w.out_shape, cost, out, |o| {
                select(&w, x, o, ge, true).map_or(T::zero(), |i| t[i])
            })
        });
        Ok(vec![out])
    }))
}

fn scatter_kernel<T: Num + Element>(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(2, 1)?;
    let ge = select_is_ge(spec)?;
    let w = Window::from_spec(spec, &spec.ins[1].shape)?;
    check_out(spec, &w, &spec.ins[1].shape)?;
    crate::ensure!(
        spec.ins[0].shape == w.out_shape,
        "select_and_scatter_add: source shape {:?} != window output shape {:?}",
        spec.ins[0].shape,
        w.out_shape
    );
    Ok(Box::new(move |ins: &[&Buffer]| {
        let (src, x) = (ins[0].slice::<T>()?, ins[1].slice::<T>()?);
        let cost = w.window_size();
        // The selections in parallel, then the adds in window order (windows
        // may overlap, and the order fixes the rounding).
        let mut sel = vec![usize::MAX; numel(&w.out_shape)];
        par_outputs(&w.out_shape, cost, &mut sel, |o| {
            select(&w, x, o, ge, false).unwrap_or(usize::MAX)
        });
        let out = Buffer::build::<T>(w.in_shape.clone(), |out| {
            par_fill(out, GRAIN, |_, c| c.fill(T::zero()));
            for (&i, &s) in sel.iter().zip(src) {
                if i != usize::MAX {
                    out[i] = out[i].add(s);
                }
            }
        });
        Ok(vec![out])
    }))
}

pub fn build_gather(spec: &OpSpec) -> Result<Kernel> {
    let dt = spec.ins.first().map_or(DType::F32, |a| a.dtype);
    crate::dispatch_dtype!(dt, spec.name(), T => gather_kernel::<T>(spec), numeric)
}
pub fn build_scatter(spec: &OpSpec) -> Result<Kernel> {
    let dt = spec.ins.first().map_or(DType::F32, |a| a.dtype);
    crate::dispatch_dtype!(dt, spec.name(), T => scatter_kernel::<T>(spec), numeric)
}

#[cfg(test)]
mod tests {
    use crate::base::buffer::Buffer;
    use crate::base::params::{Param, Params};
    use crate::ops::testing::{ints, run_op};

    fn win(op: &str, dims: &[i64], strides: &[i64], pads: &[[i64; 2]]) -> Params {
        Params::new(op)
            .with("window_dimensions", ints(dims))
            .with("window_strides", ints(strides))
            .with(
                "padding",
                Param::List(pads.iter().map(|p| ints(p)).collect()),
            )
            .with("base_dilation", ints(&vec![1; dims.len()]))
            .with("window_dilation", ints(&vec![1; dims.len()]))
    }

    #[test]
    fn sum_and_max_pool_1d_with_padding() {
        let x = Buffer::from_vec(vec![5], &[1.0f32, 2.0, 3.0, 4.0, 5.0]).unwrap();
        let s: Vec<f32> = run_op(
            win("reduce_window_sum", &[2], &[2], &[[1, 0]]),
            std::slice::from_ref(&x),
            vec![3],
        );
        assert_eq!(s, vec![1.0, 5.0, 9.0]);
        let m: Vec<f32> = run_op(
            win("reduce_window_max", &[3], &[1], &[[1, 1]]),
            &[x],
            vec![5],
        );
        assert_eq!(m, vec![2.0, 3.0, 4.0, 5.0, 5.0]);
    }

    #[test]
    fn gather_and_scatter_pick_the_first_maximum() {
        let x = Buffer::from_vec(vec![4], &[1.0f64, 3.0, 3.0, 0.0]).unwrap();
        let t = Buffer::from_vec(vec![4], &[10.0f64, 20.0, 30.0, 40.0]).unwrap();
        let p = win("select_and_gather_add", &[2], &[1], &[[0, 0]])
            .with("select_prim", Param::Str("ge".into()));
        let g: Vec<f64> = run_op(p, &[t, x.clone()], vec![3]);
        assert_eq!(g, vec![20.0, 20.0, 30.0]);
        let src = Buffer::from_vec(vec![3], &[1.0f64, 2.0, 4.0]).unwrap();
        let p = win("select_and_scatter_add", &[2], &[1], &[[0, 0]])
            .with("select_prim", Param::Str("ge".into()));
        let s: Vec<f64> = run_op(p, &[src, x], vec![4]);
        assert_eq!(s, vec![0.0, 3.0, 4.0, 0.0]);
    }
}
