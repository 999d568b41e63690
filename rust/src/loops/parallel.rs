//! Parallel loops that stay on the calling thread for small work: waking the
//! pool costs microseconds, so arrays under `GRAIN` elements never touch it.
use rayon::prelude::*;

/// Elements per task for cheap elementwise work.
pub const GRAIN: usize = 1 << 15;

/// Number of threads of the current pool.
pub fn num_threads() -> usize {
    rayon::current_num_threads()
}

/// Fill `out` by calling `f(offset, chunk)` on chunks of about `grain`
/// elements, in parallel when `out` is large enough.
pub fn par_fill<T: Send>(out: &mut [T], grain: usize, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    let n = out.len();
    let grain = grain.max(1);
    if n <= grain || num_threads() <= 1 {
        f(0, out);
        return;
    }
    // A few chunks per thread for load balance, each a multiple of `grain`
    // (callers that walk rows pass a grain that is a multiple of the row).
    let chunks = (n / grain).min(num_threads() * 4).max(1);
    let chunk = n.div_ceil(chunks).next_multiple_of(grain);
    out.par_chunks_mut(chunk)
        .enumerate()
        .for_each(|(i, c)| f(i * chunk, c));
}

/// `par_fill` for a fallible `f`: the first error (in chunk order) is
/// returned once every chunk has run.
pub fn try_par_fill<T: Send>(
    out: &mut [T],
    grain: usize,
    f: impl Fn(usize, &mut [T]) -> crate::base::error::Result<()> + Sync + Send,
) -> crate::base::error::Result<()> {
    let n = out.len();
    let grain = grain.max(1);
    if n <= grain || num_threads() <= 1 {
        return f(0, out);
    }
    let chunks = (n / grain).min(num_threads() * 4).max(1);
    let chunk = n.div_ceil(chunks).next_multiple_of(grain);
    let results: Vec<crate::base::error::Result<()>> = out
        .par_chunks_mut(chunk)
        .enumerate()
        .map(|(i, c)| f(i * chunk, c))
        .collect();
    results.into_iter().collect()
}

/// Like `par_fill`, but every chunk holds whole rows of `row` elements (for
/// loops that walk an output row by row). `f(first_row, chunk)`.
pub fn par_fill_rows<T: Send>(
    out: &mut [T],
    row: usize,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) {
    let n = out.len();
    let row = row.max(1);
    let rows = n / row;
    if n <= GRAIN || rows <= 1 || num_threads() <= 1 {
        f(0, out);
        return;
    }
    let chunks = (n / GRAIN).min(num_threads() * 4).clamp(1, rows);
    let chunk_rows = rows.div_ceil(chunks);
    out.par_chunks_mut(chunk_rows * row)
        .enumerate()
        .for_each(|(i, c)| f(i * chunk_rows, c));
}

/// Run `f(i)` for every `i` in `0..n`, in parallel when `n * cost` is large.
pub fn par_for(n: usize, cost_per_item: usize, f: impl Fn(usize) + Sync + Send) {
    if n.saturating_mul(cost_per_item.max(1)) <= GRAIN || n <= 1 || num_threads() <= 1 {
        (0..n).for_each(f);
    } else {
        (0..n).into_par_iter().for_each(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_never_split() {
        for &(n_rows, row) in &[(1000usize, 33usize), (7, 10_000), (100_000, 1), (3, 1)] {
            let mut out = vec![0usize; n_rows * row];
            par_fill_rows(&mut out, row, |first_row, chunk| {
                assert_eq!(chunk.len() % row, 0);
                for (k, r) in chunk.chunks_mut(row).enumerate() {
                    r.iter_mut().for_each(|x| *x = first_row + k);
                }
            });
            for (i, x) in out.iter().enumerate() {
                assert_eq!(*x, i / row);
            }
        }
    }

    #[test]
    fn fill_covers_everything() {
        let mut out = vec![0usize; 1_000_003];
        par_fill(&mut out, GRAIN, |off, c| {
            c.iter_mut().enumerate().for_each(|(j, x)| *x = off + j)
        });
        assert!(out.iter().enumerate().all(|(i, &x)| i == x));
    }
}
