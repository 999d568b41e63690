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
    // A few chunks per thread for load balance, each at least `grain`.
    let chunks = (n / grain).min(num_threads() * 4).max(1);
    let chunk = n.div_ceil(chunks);
    out.par_chunks_mut(chunk)
        .enumerate()
        .for_each(|(i, c)| f(i * chunk, c));
}

/// Run `f(i)` for every `i` in `0..n`, in parallel when `n * cost` is large.
pub fn par_for(n: usize, cost_per_item: usize, f: impl Fn(usize) + Sync + Send) {
    if n.saturating_mul(cost_per_item.max(1)) <= GRAIN || n <= 1 || num_threads() <= 1 {
        (0..n).for_each(f);
    } else {
        (0..n).into_par_iter().for_each(f);
    }
}

/// Parallel memcpy.
pub fn par_copy(dst: &mut [u8], src: &[u8]) {
    let grain = 1 << 20;
    if src.len() <= grain || num_threads() <= 1 {
        dst.copy_from_slice(src);
        return;
    }
    dst.par_chunks_mut(grain)
        .zip(src.par_chunks(grain))
        .for_each(|(d, s)| d.copy_from_slice(s));
}
