//! Strided copies: the one loop behind broadcast_in_dim, transpose, slice and
//! rev. The output is row-major; element `idx` of the output reads
//! `src[offset + sum(idx[d] * strides[d])]`, with strides in elements (zero for
//! broadcast dims, negative for reversed dims).
use super::parallel::{num_threads, split_chunks_mut, GRAIN};
use crate::base::buffer::{numel, Buffer};
use crate::base::dtype::Element;
use crate::base::error::Result;

/// Collapse adjacent output dims that are contiguous in the source too.
fn simplify(shape: &[usize], strides: &[isize]) -> (Vec<usize>, Vec<isize>) {
    let mut sh: Vec<usize> = Vec::new();
    let mut st: Vec<isize> = Vec::new();
    for (&n, &s) in shape.iter().zip(strides) {
        if n == 1 {
            continue;
        }
        if let (Some(&ln), Some(&ls)) = (sh.last(), st.last()) {
            if ls == s * n as isize {
                *sh.last_mut().unwrap() = ln * n;
                *st.last_mut().unwrap() = s;
                continue;
            }
        }
        sh.push(n);
        st.push(s);
    }
    (sh, st)
}

/// Fill `out` (row-major over `shape`) from `src` with the given strides.
pub fn strided_copy<T: Element>(
    src: &[T],
    offset: isize,
    shape: &[usize],
    strides: &[isize],
    out: &mut [T],
) {
    let (sh, st) = simplify(shape, strides);
    let nd = sh.len();
    if nd == 0 {
        if let Some(o) = out.first_mut() {
            *o = src[offset as usize];
        }
        return;
    }
    let inner = sh[nd - 1];
    let inner_stride = st[nd - 1];
    let outer_shape = &sh[..nd - 1];
    let outer_strides = &st[..nd - 1];
    // Parallelise over whole inner rows.
    par_rows(out, inner, |row0, chunk| {
        for (r, orow) in chunk.chunks_mut(inner).enumerate() {
            // Source offset of this row.
            let mut rem = row0 + r;
            let mut base = offset;
            for d in (0..outer_shape.len()).rev() {
                let i = rem % outer_shape[d];
                rem /= outer_shape[d];
                base += i as isize * outer_strides[d];
            }
            if inner_stride == 1 {
                let b = base as usize;
                orow.copy_from_slice(&src[b..b + inner]);
            } else if inner_stride == 0 {
                let v = src[base as usize];
                orow.iter_mut().for_each(|o| *o = v);
            } else {
                for (j, o) in orow.iter_mut().enumerate() {
                    *o = src[(base + j as isize * inner_stride) as usize];
                }
            }
        }
    });
}

/// Fill `out`, made of rows of `row_len` elements, by calling
/// `f(first_row, chunk)` on chunks of whole rows (in parallel when large).
pub fn par_rows<T: Send>(out: &mut [T], row_len: usize, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    let row_len = row_len.max(1);
    let rows = out.len() / row_len;
    let rows_per_task = (GRAIN / row_len).max(1);
    if rows <= rows_per_task || num_threads() <= 1 {
        f(0, out);
        return;
    }
    let tasks = rows.div_ceil(rows_per_task).min(num_threads() * 4).max(1);
    let per = rows.div_ceil(tasks);
    split_chunks_mut(out, per * row_len, |i, c| f(i * per, c));
}

/// A pre-simplified walk over a box of `shape` that reads with one set of
/// strides and writes with another (both in elements). Built once, run
/// serially many times (gather/scatter windows, pad, dynamic_update_slice).
#[derive(Clone, Debug)]
pub struct Walk {
    shape: Vec<usize>,
    src: Vec<isize>,
    dst: Vec<isize>,
    empty: bool,
}

impl Walk {
    pub fn new(shape: &[usize], src: &[isize], dst: &[isize]) -> Walk {
        let empty = shape.contains(&0);
        let (mut sh, mut ss, mut ds): (Vec<usize>, Vec<isize>, Vec<isize>) =
            (Vec::new(), Vec::new(), Vec::new());
        for ((&n, &a), &b) in shape.iter().zip(src).zip(dst) {
            if n == 1 {
                continue;
            }
            if let (Some(ln), Some(la), Some(lb)) = (sh.last_mut(), ss.last_mut(), ds.last_mut()) {
                if *la == a * n as isize && *lb == b * n as isize {
                    *ln *= n;
                    *la = a;
                    *lb = b;
                    continue;
                }
            }
            sh.push(n);
            ss.push(a);
            ds.push(b);
        }
        Walk {
            shape: sh,
            src: ss,
            dst: ds,
            empty,
        }
    }

    /// Number of elements of the box.
    pub fn numel(&self) -> usize {
        if self.empty {
            0
        } else {
            numel(&self.shape)
        }
    }

    /// Call `f(src_off, dst_off, len, src_step, dst_step)` for each inner row.
    #[inline]
    pub fn rows(
        &self,
        src_off: isize,
        dst_off: isize,
        mut f: impl FnMut(isize, isize, usize, isize, isize),
    ) {
        if self.empty {
            return;
        }
        let nd = self.shape.len();
        if nd == 0 {
            f(src_off, dst_off, 1, 1, 1);
            return;
        }
        let (n, sa, sb) = (self.shape[nd - 1], self.src[nd - 1], self.dst[nd - 1]);
        let outer = nd - 1;
        let mut idx = vec![0usize; outer];
        let (mut a, mut b) = (src_off, dst_off);
        loop {
            f(a, b, n, sa, sb);
            // odometer over the outer dims
            let mut d = outer;
            loop {
                if d == 0 {
                    return;
                }
                d -= 1;
                idx[d] += 1;
                a += self.src[d];
                b += self.dst[d];
                if idx[d] < self.shape[d] {
                    break;
                }
                a -= self.src[d] * self.shape[d] as isize;
                b -= self.dst[d] * self.shape[d] as isize;
                idx[d] = 0;
            }
        }
    }

    /// `dst[box] = src[box]`.
    pub fn assign<T: Copy>(&self, src: &[T], src_off: isize, dst: &mut [T], dst_off: isize) {
        self.rows(src_off, dst_off, |a, b, n, sa, sb| {
            if sa == 1 && sb == 1 {
                let (a, b) = (a as usize, b as usize);
                dst[b..b + n].copy_from_slice(&src[a..a + n]);
            } else {
                for j in 0..n as isize {
                    dst[(b + j * sb) as usize] = src[(a + j * sa) as usize];
                }
            }
        })
    }

    /// `dst[box] = f(dst[box], src[box])`, in row-major order of the box.
    pub fn apply<T: Copy>(
        &self,
        src: &[T],
        src_off: isize,
        dst: &mut [T],
        dst_off: isize,
        f: impl Fn(T, T) -> T,
    ) {
        self.rows(src_off, dst_off, |a, b, n, sa, sb| {
            for j in 0..n as isize {
                let o = &mut dst[(b + j * sb) as usize];
                *o = f(*o, src[(a + j * sa) as usize]);
            }
        })
    }
}

/// How a tile of a row-major iteration space over `shape` reads an operand:
/// in the same layout, one element everywhere, or with general strides in
/// elements (0 on broadcast dims).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LoadMap {
    Contig,
    Scalar,
    Strided(Vec<isize>),
}

/// Fill `dst` (elements `[t0, t0 + dst.len())` of the iteration space over
/// `shape`) from `src` read through `map`.
pub fn load_tile<T: Copy>(src: &[T], map: &LoadMap, shape: &[usize], t0: usize, dst: &mut [T]) {
    let len = dst.len();
    if len == 0 {
        // nothing to load (and an empty iteration space has a 0 extent,
        // which the odometer below must not divide by)
        return;
    }
    match map {
        LoadMap::Contig => dst.copy_from_slice(&src[t0..t0 + len]),
        LoadMap::Scalar => dst.fill(src[0]),
        LoadMap::Strided(st) => {
            // Odometer over the iteration shape from flat index t0.
            let r = shape.len();
            if r == 0 {
                dst.fill(src[0]);
                return;
            }
            let mut idx = vec![0usize; r];
            let mut rem = t0;
            for d in (0..r).rev() {
                idx[d] = rem % shape[d];
                rem /= shape[d];
            }
            let mut off: isize = (0..r).map(|d| idx[d] as isize * st[d]).sum();
            let (inner, ist) = (shape[r - 1], st[r - 1]);
            let mut i = 0;
            while i < len {
                let m = (inner - idx[r - 1]).min(len - i);
                if ist == 0 {
                    dst[i..i + m].fill(src[off as usize]);
                } else if ist == 1 {
                    let base = off as usize;
                    dst[i..i + m].copy_from_slice(&src[base..base + m]);
                } else {
                    for (j, v) in dst[i..i + m].iter_mut().enumerate() {
                        *v = src[(off + j as isize * ist) as usize];
                    }
                }
                i += m;
                off += m as isize * ist;
                idx[r - 1] += m;
                // carry
                let mut d = r - 1;
                while idx[d] == shape[d] && d > 0 {
                    off -= idx[d] as isize * st[d];
                    idx[d] = 0;
                    d -= 1;
                    idx[d] += 1;
                    off += st[d];
                }
            }
        }
    }
}

/// Row-major strides of `shape` as `isize`.
pub fn istrides(shape: &[usize]) -> Vec<isize> {
    crate::base::buffer::strides(shape)
        .into_iter()
        .map(|s| s as isize)
        .collect()
}

/// A new buffer of shape `shape` read from `x` with `strides` from `offset`.
pub fn strided_buffer<T: Element>(
    x: &Buffer,
    offset: isize,
    shape: &[usize],
    strides: &[isize],
) -> Result<Buffer> {
    let src = x.slice::<T>()?;
    Ok(Buffer::build::<T>(shape.to_vec(), |out| {
        if numel(shape) > 0 {
            strided_copy(src, offset, shape, strides, out)
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty tile of an empty iteration space loads nothing (the
    /// fuzzer's finding: the odometer divided by the 0 extent and
    /// panicked; seed 3495589323499107772, shape [7, 0, 0]).
    #[test]
    fn an_empty_tile_of_an_empty_space_loads_nothing() {
        let src: [f32; 0] = [];
        let mut dst: [f32; 0] = [];
        load_tile(
            &src,
            &LoadMap::Strided(vec![0, 0, 1]),
            &[7, 0, 0],
            0,
            &mut dst,
        );
        load_tile(
            &src,
            &LoadMap::Strided(vec![0, 1, 0]),
            &[2, 0, 3],
            0,
            &mut dst,
        );
    }

    #[test]
    fn transpose_2x3() {
        let src: Vec<f32> = (0..6).map(|i| i as f32).collect();
        let mut out = vec![0f32; 6];
        strided_copy(&src, 0, &[3, 2], &[1, 3], &mut out);
        assert_eq!(out, vec![0., 3., 1., 4., 2., 5.]);
    }

    #[test]
    fn broadcast_and_reverse() {
        let src = vec![1i32, 2, 3];
        let mut out = vec![0i32; 6];
        strided_copy(&src, 2, &[2, 3], &[0, -1], &mut out);
        assert_eq!(out, vec![3, 2, 1, 3, 2, 1]);
    }

    #[test]
    fn rows_not_multiple_of_grain() {
        // rows of 3: parallel chunks must hold whole rows
        let (r, c) = (40_000usize, 3usize);
        let src: Vec<i32> = (0..(r * c) as i32).collect();
        let mut out = vec![0i32; r * c];
        strided_copy(&src, 2, &[r, c], &[3, -1], &mut out);
        for i in 0..r {
            for j in 0..c {
                assert_eq!(out[i * c + j], src[i * c + 2 - j]);
            }
        }
    }

    #[test]
    fn walk_assign_and_apply() {
        // write a 2x2 box of src (3x3, from (1,1)) into dst (4x4) at (0,2)
        let src: Vec<i32> = (0..9).collect();
        let mut dst = vec![0i32; 16];
        let w = Walk::new(&[2, 2], &[3, 1], &[4, 1]);
        assert_eq!(w.numel(), 4);
        w.assign(&src, 4, &mut dst, 2);
        assert_eq!(&dst[0..8], &[0, 0, 4, 5, 0, 0, 7, 8]);
        w.apply(&src, 4, &mut dst, 2, |a, b| a + b);
        assert_eq!(&dst[0..8], &[0, 0, 8, 10, 0, 0, 14, 16]);
        let e = Walk::new(&[0, 2], &[3, 1], &[4, 1]);
        e.assign(&src, 0, &mut dst, 0);
        assert_eq!(e.numel(), 0);
    }

    #[test]
    fn large_parallel_matches() {
        let n = 300;
        let src: Vec<f64> = (0..n * n).map(|i| i as f64).collect();
        let mut out = vec![0f64; n * n];
        strided_copy(&src, 0, &[n, n], &[1, n as isize], &mut out);
        for i in 0..n {
            for j in 0..n {
                assert_eq!(out[i * n + j], src[j * n + i]);
            }
        }
    }
}
