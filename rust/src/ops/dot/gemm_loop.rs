//! Integer and bool products: a row kernel with wrapping multiply-add (bool:
//! or-of-ands), parallel over output rows when the work is large.
use super::{Dims, MatView};
use crate::base::dtype::Element;
use crate::base::error::Result;
use crate::loops::parallel::{num_threads, split_chunks_mut, GRAIN};

/// `acc + a * b` with XLA's integer semantics (wrapping), or `acc | (a & b)`.
pub trait DotElem: Element {
    fn madd(self, a: Self, b: Self) -> Self;
}
macro_rules! dot_int {
    ($($t:ty),*) => {$(
        impl DotElem for $t {
            #[inline(always)]
            fn madd(self, a: Self, b: Self) -> Self { self.wrapping_add(a.wrapping_mul(b)) }
        }
    )*};
}
dot_int!(i8, i16, i32, i64, u8, u16, u32, u64);
impl DotElem for bool {
    #[inline(always)]
    fn madd(self, a: Self, b: Self) -> Self {
        self | (a & b)
    }
}

/// Rows `row0..` of the (B*M, N) output. `rv.cs` is 1 (or N is 1).
fn rows<T: DotElem>(
    d: Dims,
    l: &[T],
    lv: MatView,
    r: &[T],
    rv: MatView,
    row0: usize,
    out: &mut [T],
) {
    for (ri, orow) in out.chunks_mut(d.n).enumerate() {
        let row = row0 + ri;
        let (bi, i) = ((row / d.m) as isize, (row % d.m) as isize);
        orow.iter_mut().for_each(|o| *o = T::default());
        let lbase = bi * lv.bs + i * lv.rs;
        for p in 0..d.k as isize {
            let a = l[(lbase + p * lv.cs) as usize];
            if a == T::default() {
                continue;
            }
            let off = (bi * rv.bs + p * rv.rs) as usize;
            let rrow = &r[off..off + d.n];
            for (o, &b) in orow.iter_mut().zip(rrow) {
                *o = o.madd(a, b);
            }
        }
    }
}

pub fn gemm_generic<T: DotElem>(
    d: Dims,
    l: &[T],
    lv: MatView,
    r: &[T],
    rv: MatView,
    out: &mut [T],
) -> Result<()> {
    let total = d.b * d.m * d.n * d.k;
    if total <= GRAIN * 4 || num_threads() <= 1 {
        rows(d, l, lv, r, rv, 0, out);
        return Ok(());
    }
    // Rows per task: about GRAIN multiply-adds each, at least one row.
    let per_row = (d.n * d.k).max(1);
    let rows_per = (GRAIN / per_row).max(1);
    split_chunks_mut(out, rows_per * d.n, |t, o| {
        rows(d, l, lv, r, rv, t * rows_per, o)
    });
    Ok(())
}
