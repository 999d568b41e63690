//! The fused tile runner: runs a `compiler::fusion::Fused` program over its
//! iteration space in tiles of `TILE` elements, in parallel over chunks of
//! tiles. Each elementwise node calls its op's slice kernel (the same one
//! the eager kernel calls) on the tile; reductions fold tiles into
//! per-chunk accumulators that combine in chunk order (deterministic).
use crate::base::aval::Aval;
use crate::base::buffer::{numel, Buffer, RawBuf};
use crate::base::dtype::{DType, Element};
use crate::base::error::{Error, Result};
use crate::base::slice::{Col, Slice, SliceMut};
use crate::compiler::fusion::classify::acc_dtype;
use crate::compiler::fusion::{Fused, Node, Out, Pattern, TILE};
use crate::loops::parallel::{num_threads, split_map, GRAIN};
use crate::loops::strided::LoadMap;
use crate::ops::elementwise::eager::load_col;
use crate::ops::reduce::Monoid;
use crate::ops::scalar::Num;

/// A group's compiled chunk function (the native tier, `exec::native`):
/// `(a, b, outs, accs, r0, tile)` does what the interpreter does for one
/// chunk: elements `[a, b)` (rows `[a, b)` of a multi-phase row group),
/// writing the outputs at `outs` and folding into the accumulators at
/// `accs` (slot 0 is row `r0`), in tiles of `tile` elements.
pub type ChunkFn<'a> =
    &'a (dyn Fn(usize, usize, &[usize], &[usize], usize, usize) -> Result<()> + Sync);

/// Run `f` over its iteration space; `args` are its external inputs.
pub fn run(f: &Fused, args: &[&Buffer], out_avals: &[Aval]) -> Result<Vec<Buffer>> {
    run_with(f, args, out_avals, None)
}

/// The accumulators' element pointers.
fn acc_ptrs(acc: &mut [Acc]) -> Vec<usize> {
    acc.iter_mut()
        .map(|a| a.vals.as_mut().raw_parts().1 as usize)
        .collect()
}

/// `run`, each chunk computed by `native` if given (the same chunks and
/// the same accumulators, merged and written the same way).
pub fn run_with(
    f: &Fused,
    args: &[&Buffer],
    out_avals: &[Aval],
    native: Option<ChunkFn>,
) -> Result<Vec<Buffer>> {
    if args.len() != f.n_inputs {
        return Err(Error::Internal(format!(
            "fused kernel expects {} inputs, got {}",
            f.n_inputs,
            args.len()
        )));
    }
    let total = numel(&f.shape);
    // Output storage, written in disjoint ranges by the chunks.
    let mut raws: Vec<RawBuf> = out_avals
        .iter()
        .map(|a| RawBuf::alloc_array(a.dtype, &a.shape))
        .collect();
    let ptrs: Vec<usize> = raws
        .iter_mut()
        .map(|r| r.bytes_mut().as_mut_ptr() as usize)
        .collect();
    let outs = OutPtrs {
        ptrs: &ptrs,
        avals: out_avals,
    };
    let r = Runner {
        f,
        args,
        tile: tile_len(f),
    };
    match f.pattern {
        None => {
            let nch = total.div_ceil(GRAIN);
            par_chunks(nch, |c| {
                let (a, b) = (c * GRAIN, ((c + 1) * GRAIN).min(total));
                if let Some(nf) = native {
                    return nf(a, b, &ptrs, &[], 0, r.tile);
                }
                let mut s = Scratch::new(f);
                r.tiles(a, b, &mut s, &outs, |_, _, _| Ok(()))
            })?;
        }
        Some(Pattern::Full) => {
            let nch = total.div_ceil(GRAIN).max(1);
            let parts = par_chunks(nch, |c| {
                let (a, b) = (c * GRAIN, ((c + 1) * GRAIN).min(total));
                let mut acc = r.new_accs(1);
                if let Some(nf) = native {
                    nf(a, b, &ptrs, &acc_ptrs(&mut acc), 0, r.tile)?;
                    return Ok(acc);
                }
                let mut s = Scratch::new(f);
                r.tiles(a, b, &mut s, &outs, |vs, _, len| {
                    for ((red, ac), v) in f.reds.iter().zip(acc.iter_mut()).zip(vs) {
                        ac.fold_seg(red.op, *v, 0, len, 0)?;
                    }
                    Ok(())
                })?;
                Ok(acc)
            })?;
            r.finish(parts, 1, &outs)?;
        }
        Some(Pattern::Cols { rows, width }) => {
            // Chunks of whole rows, each with its own accumulator row. No
            // columns: nothing to fold, however many rows (2^50 rows of
            // nothing would otherwise be 2^35 chunks).
            let rows = if width == 0 { 0 } else { rows };
            let rows_per = (GRAIN / width.max(1)).max(1);
            let nch = rows.div_ceil(rows_per).max(1);
            let parts = par_chunks(nch, |c| {
                let (r0, r1) = (c * rows_per, ((c + 1) * rows_per).min(rows));
                let mut acc = r.new_accs(width);
                if let Some(nf) = native {
                    let p = acc_ptrs(&mut acc);
                    nf(r0 * width, r1 * width, &ptrs, &p, 0, r.tile)?;
                    return Ok(acc);
                }
                let mut s = Scratch::new(f);
                r.tiles(r0 * width, r1 * width, &mut s, &outs, |vs, t0, len| {
                    let mut i = 0;
                    while i < len {
                        let j = (t0 + i) % width;
                        let m = (width - j).min(len - i);
                        for ((red, ac), v) in f.reds.iter().zip(acc.iter_mut()).zip(vs) {
                            ac.fold_cols(red.op, *v, i, m, j)?;
                        }
                        i += m;
                    }
                    Ok(())
                })?;
                Ok(acc)
            })?;
            r.finish(parts, width, &outs)?;
        }
        Some(Pattern::Rows { rows, len: rlen }) if f.phase_end.len() > 1 => {
            // Tiles of whole rows, each run phase by phase; chunks of whole tiles.
            let per_tile = (TILE / rlen.max(1)).max(1);
            let per_chunk = (GRAIN / rlen.max(1)).max(1).next_multiple_of(per_tile);
            let nch = rows.div_ceil(per_chunk);
            par_chunks(nch, |c| {
                let (r0, r1) = (c * per_chunk, ((c + 1) * per_chunk).min(rows));
                let mut acc = r.new_accs(r1 - r0);
                if let Some(nf) = native {
                    nf(r0, r1, &ptrs, &acc_ptrs(&mut acc), r0, r.tile)?;
                    return r.write_accs(&acc, &outs, r0);
                }
                let mut s = Scratch::new(f);
                let mut q0 = r0;
                while q0 < r1 {
                    let q1 = (q0 + per_tile).min(r1);
                    r.row_tile(q0, q1, r0, rlen, &mut s, &mut acc, &outs)?;
                    q0 = q1;
                }
                r.write_accs(&acc, &outs, r0)
            })?;
        }
        Some(Pattern::Rows { rows, len: rlen }) => {
            // Chunks of whole rows; each row's result is written directly.
            let rows_per = (GRAIN / rlen.max(1)).max(1);
            let nch = rows.div_ceil(rows_per);
            par_chunks(nch, |c| {
                let (r0, r1) = (c * rows_per, ((c + 1) * rows_per).min(rows));
                let mut acc = r.new_accs(r1 - r0);
                if let Some(nf) = native {
                    let p = acc_ptrs(&mut acc);
                    nf(r0 * rlen, r1 * rlen, &ptrs, &p, r0, r.tile)?;
                    return r.write_accs(&acc, &outs, r0);
                }
                let mut s = Scratch::new(f);
                r.tiles(r0 * rlen, r1 * rlen, &mut s, &outs, |vs, t0, len| {
                    let mut i = 0;
                    while i < len {
                        let row = (t0 + i) / rlen;
                        let end = ((row + 1) * rlen - t0).min(len);
                        for ((red, ac), v) in f.reds.iter().zip(acc.iter_mut()).zip(vs) {
                            ac.fold_seg(red.op, *v, i, end - i, row - r0)?;
                        }
                        i = end;
                    }
                    Ok(())
                })?;
                r.write_accs(&acc, &outs, r0)
            })?;
        }
    }
    raws.into_iter()
        .zip(out_avals)
        .map(|(raw, a)| Buffer::new(a.dtype, a.shape.clone(), raw))
        .collect()
}

/// Run `f(chunk)` for chunks `0..n`, in parallel when there are several.
pub(crate) fn par_chunks<R: Send>(
    n: usize,
    f: impl Fn(usize) -> Result<R> + Sync + Send,
) -> Result<Vec<R>> {
    if n <= 1 || num_threads() <= 1 {
        (0..n).map(f).collect()
    } else {
        split_map(n, f).into_iter().collect()
    }
}

/// Elements per tile of a program that is not a multi-phase row group:
/// `TILE_BYTES` of its widest dtype (at least `TILE`, at most `8 * TILE`),
/// so that narrow dtypes amortise each node's per-tile work.
pub(crate) fn tile_len(f: &Fused) -> usize {
    let widest = f
        .nodes
        .iter()
        .map(|n| n.dtype.itemsize())
        .max()
        .unwrap_or(8);
    (TILE_BYTES / widest).clamp(TILE, 8 * TILE)
}

/// The bytes of the widest node's tile (measured best on AVX-512 with 48
/// KiB of L1: 4 KiB and 16 KiB were slower for f32 chains).
const TILE_BYTES: usize = 8192;

/// A fused program, the external inputs of one run, and its tile length.
struct Runner<'a> {
    f: &'a Fused,
    args: &'a [&'a Buffer],
    tile: usize,
}

impl Runner<'_> {
    /// The outputs that reduction `k` writes (a reshape of it is another).
    fn red_outs(&self, k: usize) -> impl Iterator<Item = usize> + '_ {
        self.f
            .outs
            .iter()
            .enumerate()
            .filter(move |(_, o)| matches!(o, Out::Red(j) if *j == k))
            .map(|(i, _)| i)
    }

    /// Write each reduction's accumulator to the outputs it feeds, from row `at`.
    fn write_accs(&self, acc: &[Acc], outs: &OutPtrs, at: usize) -> Result<()> {
        for (k, ac) in acc.iter().enumerate() {
            for o in self.red_outs(k) {
                ac.write(outs, o, at)?;
            }
        }
        Ok(())
    }

    fn new_accs(&self, n: usize) -> Vec<Acc> {
        self.f
            .reds
            .iter()
            .map(|r| Acc::new(r.op, acc_dtype(r.op, r.dtype), n))
            .collect()
    }

    /// Combine per-chunk accumulators in order and write the reductions.
    fn finish(&self, parts: Vec<Vec<Acc>>, n: usize, outs: &OutPtrs) -> Result<()> {
        let mut acc = self.new_accs(n);
        for (k, (r, a)) in self.f.reds.iter().zip(acc.iter_mut()).enumerate() {
            for p in &parts {
                a.merge(r.op, &p[k])?;
            }
        }
        self.write_accs(&acc, outs, 0)
    }

    /// Evaluate tiles over the flat range `[a, b)`, write materialized
    /// outputs, and hand each tile's reduced nodes to `reduce(views, t0, len)`.
    fn tiles(
        &self,
        a: usize,
        b: usize,
        s: &mut Scratch,
        outs: &OutPtrs,
        mut reduce: impl FnMut(&[Slice], usize, usize) -> Result<()>,
    ) -> Result<()> {
        let mut t0 = a;
        while t0 < b {
            let len = self.tile.min(b - t0);
            for i in 0..self.f.nodes.len() {
                self.eval(i, t0, len, s, None)?;
            }
            for &i in &self.f.full_cols {
                s.cols[i].expand(len);
            }
            self.store(s, outs, t0, len)?;
            let views: Vec<Slice> = self
                .f
                .reds
                .iter()
                .map(|r| self.view(r.node, &s.cols, t0, len))
                .collect::<Result<_>>()?;
            reduce(&views, t0, len)?;
            t0 += len;
        }
        Ok(())
    }

    /// Write the materialized nodes of the tile `[t0, t0 + len)`.
    fn store(&self, s: &Scratch, outs: &OutPtrs, t0: usize, len: usize) -> Result<()> {
        for (o, spec) in self.f.outs.iter().enumerate() {
            if let Out::Node(i) = spec {
                let v = self.view(*i, &s.cols, t0, len)?;
                outs.range(o, t0, len)?.copy_from(v)?;
            }
        }
        Ok(())
    }

    /// One tile of whole rows `[q0, q1)` of a multi-phase row group, in a
    /// chunk starting at row `r0`: each phase evaluates its nodes, then folds
    /// its reductions per row, which the next phases read.
    #[allow(clippy::too_many_arguments)]
    fn row_tile(
        &self,
        q0: usize,
        q1: usize,
        r0: usize,
        rlen: usize,
        s: &mut Scratch,
        acc: &mut [Acc],
        outs: &OutPtrs,
    ) -> Result<()> {
        let (t0, len) = (q0 * rlen, (q1 - q0) * rlen);
        let mut start = 0;
        for (p, &end) in self.f.phase_end.iter().enumerate() {
            let rc = RowCtx {
                acc,
                slot0: q0 - r0,
                rlen,
            };
            for &i in &self.f.order[start..end] {
                self.eval(i, t0, len, s, Some(&rc))?;
            }
            start = end;
            for (k, r) in self.f.reds.iter().enumerate() {
                if self.f.red_phase[k] != p {
                    continue;
                }
                s.cols[r.node].expand(len);
                let v = self.view(r.node, &s.cols, t0, len)?;
                for q in 0..q1 - q0 {
                    acc[k].fold_seg(r.op, v, q * rlen, rlen, q0 - r0 + q)?;
                }
            }
        }
        for &i in &self.f.full_cols {
            s.cols[i].expand(len);
        }
        self.store(s, outs, t0, len)
    }

    /// Node `j`'s tile: a contiguous load reads its input in place.
    #[inline]
    fn view<'c>(&self, j: usize, cols: &'c [Col], t0: usize, len: usize) -> Result<Slice<'c>>
    where
        Self: 'c,
    {
        match &self.f.nodes[j].node {
            Node::Load {
                input,
                map: LoadMap::Contig,
            } => Slice::of_buffer(self.args[*input], t0, len),
            _ => Ok(cols[j].as_slice()),
        }
    }

    fn eval(
        &self,
        i: usize,
        t0: usize,
        len: usize,
        s: &mut Scratch,
        rows: Option<&RowCtx>,
    ) -> Result<()> {
        match &self.f.nodes[i].node {
            // read in place by its users
            Node::Load {
                map: LoadMap::Contig,
                ..
            } => Ok(()),
            Node::Load {
                input,
                map: LoadMap::Scalar,
            } => {
                // one element, the same for every tile: loaded once per
                // chunk (ops broadcast it)
                // (a stored or reduced one is expanded to full tiles: reload)
                if !(s.scalar_loaded[i] && s.cols[i].len() == 1) {
                    let map = &LoadMap::Scalar;
                    load_col(&mut s.cols[i], self.args[*input], map, &self.f.shape, 0, 1)?;
                    s.scalar_loaded[i] = true;
                }
                Ok(())
            }
            Node::Load { input, map } => load_col(
                &mut s.cols[i],
                self.args[*input],
                map,
                &self.f.shape,
                t0,
                len,
            ),
            Node::RowRed(r) => {
                let rc = rows.ok_or_else(|| {
                    Error::Internal("fusion: a row value outside a row group".into())
                })?;
                // one row: one value, broadcast by its users (rows of
                // length 0 hold no values at all)
                let n = if len == rc.rlen && len > 0 { 1 } else { len };
                let out = &mut s.cols[i];
                out.set_len(n);
                rc.acc[*r].fill_rows(rc.slot0, rc.rlen, out)
            }
            Node::Op { kernel, args, .. } => {
                let (done, rest) = s.cols.split_at_mut(i);
                let done: &[Col] = done;
                // the operands' tiles, on the stack for up to four
                let mut few = [Slice::new::<u8>(&[]); 4];
                let many: Vec<Slice>;
                let views: &[Slice] = if args.len() <= few.len() {
                    for (v, &j) in few.iter_mut().zip(args) {
                        *v = self.view(j, done, t0, len)?;
                    }
                    &few[..args.len()]
                } else {
                    many = args
                        .iter()
                        .map(|&j| self.view(j, done, t0, len))
                        .collect::<Result<_>>()?;
                    &many
                };
                // A value that is the same for every element (an op on
                // one-element values only) stays one element; an empty
                // tile (an empty iteration space) makes an empty result,
                // whatever one-element operands it meets.
                let n = if views.iter().any(|v| v.is_empty()) {
                    0
                } else {
                    views.iter().map(|v| v.len()).max().unwrap_or(len)
                };
                let out = &mut rest[0];
                out.set_len(n);
                kernel(views, out.as_mut())
            }
        }
    }
}

/// A row group's reductions so far, for the tile's rows: the tile's first
/// row is accumulator slot `slot0`.
struct RowCtx<'a> {
    acc: &'a [Acc],
    slot0: usize,
    rlen: usize,
}

struct OutPtrs<'a> {
    ptrs: &'a [usize],
    avals: &'a [Aval],
}

impl OutPtrs<'_> {
    /// Elements `[t0, t0 + len)` of output `o`. Callers write disjoint
    /// ranges only.
    fn range(&self, o: usize, t0: usize, len: usize) -> Result<SliceMut<'_>> {
        let a = self
            .avals
            .get(o)
            .ok_or_else(|| Error::Internal(format!("fused kernel: no output {o}")))?;
        if t0.checked_add(len).is_none_or(|end| end > a.numel()) {
            return Err(Error::Internal("fused kernel: store out of range".into()));
        }
        // SAFETY: the pointer is to a live, aligned allocation of the
        // output's elements owned by `run`; chunks write disjoint ranges.
        Ok(unsafe {
            SliceMut::from_raw(
                a.dtype,
                (self.ptrs[o] as *mut u8).add(t0 * a.dtype.itemsize()),
                len,
            )
        })
    }
}

/// Per-thread tiles, one per node, for one chunk.
struct Scratch {
    cols: Vec<Col>,
    /// Scalar loads already in their column.
    scalar_loaded: Vec<bool>,
}

thread_local! {
    /// Columns of finished kernels on this thread, kept for the next one:
    /// small kernels run often (a loop body per iteration), and allocating
    /// a tile per node each time cost more than the work.
    static FREE_COLS: std::cell::RefCell<Vec<Col>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// At most this many columns wait on a thread for reuse.
const FREE_COLS_MAX: usize = 64;

impl Scratch {
    fn new(f: &Fused) -> Scratch {
        FREE_COLS.with(|free| {
            let mut free = free.borrow_mut();
            let cols = f
                .nodes
                .iter()
                .map(|n| match free.iter().rposition(|c| c.dtype() == n.dtype) {
                    Some(i) => {
                        let mut c = free.swap_remove(i);
                        c.set_len(0);
                        c
                    }
                    None => Col::new(n.dtype, TILE),
                })
                .collect();
            Scratch {
                cols,
                scalar_loaded: vec![false; f.nodes.len()],
            }
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = FREE_COLS.try_with(|free| {
            if let Ok(mut free) = free.try_borrow_mut() {
                let room = FREE_COLS_MAX.saturating_sub(free.len());
                free.extend(self.cols.drain(..).take(room));
            }
        });
    }
}

// ---------------------------------------------------------------------------
// Accumulators

/// What a reduction folds with: `Num`'s add/max/min for numbers, or/and for
/// bool (its max/min).
trait Fold: Copy + Send + Sync + Element {
    fn ident(op: Monoid) -> Self;
    fn comb(op: Monoid, a: Self, b: Self) -> Self;
}

impl<T: Num + Element> Fold for T {
    #[inline(always)]
    fn ident(op: Monoid) -> T {
        match op {
            Monoid::Sum => T::zero(),
            Monoid::Max => T::lowest(),
            Monoid::Min => T::highest(),
        }
    }
    #[inline(always)]
    fn comb(op: Monoid, a: T, b: T) -> T {
        match op {
            Monoid::Sum => a.add(b),
            Monoid::Max => a.max(b),
            Monoid::Min => a.min(b),
        }
    }
}

impl Fold for bool {
    fn ident(op: Monoid) -> bool {
        op == Monoid::Min
    }
    #[inline(always)]
    fn comb(op: Monoid, a: bool, b: bool) -> bool {
        if op == Monoid::Max {
            a | b
        } else {
            a & b
        }
    }
}

/// Reduce `x` into one value: eight lanes, then the lanes in order; one
/// loop per op (a match inside the loop keeps it scalar).
fn seg<T: Copy, A: Fold>(op: Monoid, x: &[T], up: impl Fn(T) -> A) -> A {
    #[inline(always)]
    fn by<T: Copy, A: Copy>(x: &[T], id: A, up: impl Fn(T) -> A, f: impl Fn(A, A) -> A) -> A {
        let mut lanes = [id; 8];
        let mut ch = x.chunks_exact(8);
        for c in &mut ch {
            for l in 0..8 {
                lanes[l] = f(lanes[l], up(c[l]));
            }
        }
        let mut a = id;
        for l in lanes {
            a = f(a, l);
        }
        for &v in ch.remainder() {
            a = f(a, up(v));
        }
        a
    }
    match op {
        Monoid::Sum => by(x, A::ident(op), up, |a, b| A::comb(Monoid::Sum, a, b)),
        Monoid::Max => by(x, A::ident(op), up, |a, b| A::comb(Monoid::Max, a, b)),
        Monoid::Min => by(x, A::ident(op), up, |a, b| A::comb(Monoid::Min, a, b)),
    }
}

/// `a[k] op= up(x[k])` for each `k` (column reductions), one loop per op.
fn cols<T: Copy, A: Fold>(op: Monoid, a: &mut [A], x: &[T], up: impl Fn(T) -> A) {
    #[inline(always)]
    fn by<T: Copy, A>(a: &mut [A], x: &[T], up: impl Fn(T) -> A, f: impl Fn(&A, A) -> A) {
        for (a, &v) in a.iter_mut().zip(x) {
            *a = f(a, up(v));
        }
    }
    match op {
        Monoid::Sum => by(a, x, up, |a, b| A::comb(Monoid::Sum, *a, b)),
        Monoid::Max => by(a, x, up, |a, b| A::comb(Monoid::Max, *a, b)),
        Monoid::Min => by(a, x, up, |a, b| A::comb(Monoid::Min, *a, b)),
    }
}

/// `$body` with `A` the accumulator type of `$acc` (a `Col`) bound to its
/// vector `$a` and `$x` the values (a `Slice`) as a slice of their type,
/// for the (accumulator, value) dtype pairs fused reductions use.
macro_rules! with_acc {
    ($acc:expr, $vals:expr, |$a:ident, $x:ident, $up:ident| $body:expr) => {{
        let vals: Slice = $vals;
        let (ad, vd) = ($acc.dtype(), vals.dtype());
        macro_rules! same {
            ($t:ty) => {{
                match ($acc.vec_mut::<$t>(), vals.get::<$t>()) {
                    (Some($a), Some($x)) => {
                        let $up = |v: $t| v;
                        $body
                    }
                    _ => return Err(Error::Internal("fusion: accumulator dtype".into())),
                }
            }};
        }
        match (ad, vd) {
            (DType::F64, DType::F32) => match ($acc.vec_mut::<f64>(), vals.get::<f32>()) {
                (Some($a), Some($x)) => {
                    let $up = |v: f32| v as f64;
                    $body
                }
                _ => return Err(Error::Internal("fusion: accumulator dtype".into())),
            },
            (a, v) if a != v => {
                return Err(Error::Internal(format!(
                    "fusion: a {v} reduction into a {a} accumulator"
                )))
            }
            (DType::Bool, _) => same!(bool),
            (DType::I8, _) => same!(i8),
            (DType::I16, _) => same!(i16),
            (DType::I32, _) => same!(i32),
            (DType::I64, _) => same!(i64),
            (DType::U8, _) => same!(u8),
            (DType::U16, _) => same!(u16),
            (DType::U32, _) => same!(u32),
            (DType::U64, _) => same!(u64),
            (DType::F16, _) => same!(half::f16),
            (DType::BF16, _) => same!(half::bf16),
            (DType::F32, _) => same!(f32),
            (DType::F64, _) => same!(f64),
            (DType::C64, _) => same!(crate::base::dtype::C64),
            (DType::C128, _) => same!(crate::base::dtype::C128),
        }
    }};
}

/// A reduction's accumulators: one slot per output position, in the
/// accumulation dtype (`classify::acc_dtype`).
struct Acc {
    vals: Col,
}

impl Acc {
    fn new(op: Monoid, dtype: DType, n: usize) -> Acc {
        let mut vals = Col::new(dtype, n);
        crate::with_dtype!(dtype, T => {
            if let Some(v) = vals.vec_mut::<T>() {
                v.resize(n, <T as Fold>::ident(op));
            }
        });
        Acc { vals }
    }

    /// `self[slot] op= reduce(col[i..i+m])`.
    fn fold_seg(&mut self, op: Monoid, col: Slice, i: usize, m: usize, slot: usize) -> Result<()> {
        with_acc!(self.vals, col, |a, x, up| {
            a[slot] = Fold::comb(op, a[slot], seg(op, &x[i..i + m], up));
        });
        Ok(())
    }

    /// `self[j..j+m] op= col[i..i+m]` (column reductions).
    fn fold_cols(&mut self, op: Monoid, col: Slice, i: usize, m: usize, j: usize) -> Result<()> {
        with_acc!(self.vals, col, |a, x, up| cols(
            op,
            &mut a[j..j + m],
            &x[i..i + m],
            up
        ));
        Ok(())
    }

    fn merge(&mut self, op: Monoid, o: &Acc) -> Result<()> {
        with_acc!(self.vals, o.vals.as_slice(), |a, x, up| {
            for (a, &b) in a.iter_mut().zip(x) {
                *a = Fold::comb(op, *a, up(b));
            }
        });
        Ok(())
    }

    /// Each row's value (slots from `slot0`), in the reduction's dtype,
    /// over its `rlen` elements of `out` (one value if `out` has one).
    fn fill_rows(&self, slot0: usize, rlen: usize, out: &mut Col) -> Result<()> {
        fn fill<T: Copy>(o: &mut [T], rlen: usize, f: impl Fn(usize) -> T) {
            if o.len() == 1 {
                o[0] = f(0);
            } else {
                for (q, seg) in o.chunks_mut(rlen.max(1)).enumerate() {
                    seg.fill(f(q));
                }
            }
        }
        let rows = if out.len() == 1 {
            1
        } else {
            out.len() / rlen.max(1)
        };
        let vals = self.vals.as_slice().sub(slot0, rows)?;
        let od = out.dtype();
        if let (Some(a), Some(o)) = (vals.get::<f64>(), out.vec_mut::<f32>()) {
            // f32 sums accumulate in f64
            fill(o, rlen, |q| a[q] as f32);
            return Ok(());
        }
        crate::with_dtype!(od, T => match (vals.get::<T>(), out.vec_mut::<T>()) {
            (Some(a), Some(o)) => {
                fill(o, rlen, |q| a[q]);
                Ok(())
            }
            _ => Err(Error::Internal(format!(
                "fusion: a {} accumulator for a {od} row value",
                vals.dtype()
            ))),
        })
    }

    /// Write the accumulators to output `o` starting at `at`.
    fn write(&self, outs: &OutPtrs, o: usize, at: usize) -> Result<()> {
        let n = self.vals.len();
        let mut conv = Col::new(outs.avals[o].dtype, n);
        cast_into(self.vals.as_slice(), &mut conv)?;
        outs.range(o, at, n)?.copy_from(conv.as_slice())
    }
}

/// `dst` (resized to `src`'s length) = `src` as `dst`'s dtype: a copy, or
/// f64 accumulators rounded to the f32 they sum.
fn cast_into(src: Slice, dst: &mut Col) -> Result<()> {
    dst.set_len(src.len());
    match (src.dtype(), dst.dtype()) {
        (a, b) if a == b => dst.as_mut().copy_from(src),
        (DType::F64, DType::F32) => {
            let (s, d) = (src.get::<f64>(), dst.vec_mut::<f32>());
            match (s, d) {
                (Some(s), Some(d)) => {
                    for (d, &v) in d.iter_mut().zip(s) {
                        *d = v as f32;
                    }
                    Ok(())
                }
                _ => Err(Error::Internal("fusion: accumulator cast".into())),
            }
        }
        (a, b) => Err(Error::Internal(format!(
            "fusion: a {a} accumulator for a {b} value"
        ))),
    }
}

#[cfg(test)]
#[path = "fused_tests.rs"]
mod tests;
