//! Strided copies: the one loop behind broadcast_in_dim, transpose, slice and
//! rev. The output is row-major; element `idx` of the output reads
//! `src[offset + sum(idx[d] * strides[d])]`, with strides in elements (zero for
//! broadcast dims, negative for reversed dims).
use super::parallel::par_fill;
use crate::buffer::{numel, Buffer};
use crate::dtype::Element;
use crate::error::Result;

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
    let grain = (1usize << 15).next_multiple_of(inner.max(1));
    par_fill(out, grain, |off, chunk| {
        debug_assert!(off % inner == 0);
        let mut row = off / inner;
        for orow in chunk.chunks_mut(inner) {
            // Source offset of this row.
            let mut rem = row;
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
            row += 1;
        }
    });
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
