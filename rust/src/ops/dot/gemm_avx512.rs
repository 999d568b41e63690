//! f32/f64 GEMM for AVX-512 CPUs in the BLIS/GotoBLAS style: `C = A B` with
//! `A` (m x k) and `B` (k x n) read through arbitrary strides, `C` row-major.
//!
//! Loops, outermost first: N in blocks of `nc` columns (the packed B block
//! lives in L3, shared by all threads), K in blocks of `kc` (a B micro-panel,
//! `kc x NR`, stays in L1 while the kernel walks down a column of A
//! micro-panels), M in blocks of `mc` rows (each task packs its own `mc x kc`
//! A block, which stays in L2), then the micro-panels. The micro-kernel keeps
//! an `MR x NR` tile of C in `MR * 2` zmm registers (14 x 32 for f32, 14 x 16
//! for f64): per step of k it loads two vectors of B, broadcasts MR elements of
//! A and issues `2 MR` FMAs. Edges: A panels with fewer than MR rows use a
//! kernel instantiated for exactly that many rows; B panels are zero-padded to
//! NR columns and the store is masked.
//!
//! Everything here is `unsafe` raw-pointer code; `gemm` documents what the
//! caller guarantees. Callers check `available()` first.
use rayon::prelude::*;
use std::arch::x86_64::*;
use std::cell::RefCell;

/// Rows of the micro-tile (broadcast elements of A per step of k).
pub const MR: usize = 14;

/// Element types with an AVX-512 micro-kernel. `NR = 2 * LANES`.
///
/// # Safety (every method)
/// The CPU supports AVX-512F (`available()` returned true). `load`/`store`
/// need `p` valid for `LANES` elements, `splat` for one, `load_n`/`store_n`
/// for `n < LANES` elements; `tile` needs what `kernel` documents.
pub trait Kern: Copy + Send + Sync + Default + 'static {
    const LANES: usize;
    const NR: usize = 2 * Self::LANES;
    type V: Copy;
    unsafe fn zero() -> Self::V;
    unsafe fn load(p: *const Self) -> Self::V;
    unsafe fn splat(p: *const Self) -> Self::V;
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn store(p: *mut Self, v: Self::V);
    /// Load / store the first `n` (< LANES) lanes.
    unsafe fn load_n(p: *const Self, n: usize) -> Self::V;
    unsafe fn store_n(p: *mut Self, v: Self::V, n: usize);
    /// The micro-kernel for this type (dispatches the edge instantiations);
    /// `bs` elements between B's steps of k (`NR` packed).
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile(
        kc: usize,
        a: *const Self,
        b: *const Self,
        bs: usize,
        c: *mut Self,
        ldc: usize,
        mr: usize,
        nr: usize,
        acc: bool,
    );
}

impl Kern for f32 {
    const LANES: usize = 16;
    type V = __m512;
    #[inline(always)]
    unsafe fn zero() -> __m512 {
        // SAFETY: AVX-512F is present (the trait's contract); the intrinsic only
        // combines registers, with no memory access.
        unsafe { _mm512_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m512 {
        // SAFETY: AVX-512F is present and `p` is valid for `LANES` unaligned
        // elements (the trait's contract).
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn splat(p: *const f32) -> __m512 {
        // SAFETY: AVX-512F is present and `p` is valid for one read (the trait's
        // contract).
        unsafe { _mm512_set1_ps(*p) }
    }
    #[inline(always)]
    unsafe fn fma(a: __m512, b: __m512, c: __m512) -> __m512 {
        // SAFETY: AVX-512F is present (the trait's contract); the intrinsic only
        // combines registers, with no memory access.
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn add(a: __m512, b: __m512) -> __m512 {
        // SAFETY: AVX-512F is present (the trait's contract); the intrinsic only
        // combines registers, with no memory access.
        unsafe { _mm512_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m512) {
        // SAFETY: AVX-512F is present and `p` is valid for `LANES` unaligned
        // elements (the trait's contract).
        unsafe { _mm512_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn load_n(p: *const f32, n: usize) -> __m512 {
        // SAFETY: AVX-512F is present and `p` is valid for `n < LANES` elements
        // (the trait's contract); the mask `(1 << n) - 1` touches only those lanes.
        unsafe { _mm512_maskz_loadu_ps(((1u32 << n) - 1) as u16, p) }
    }
    #[inline(always)]
    unsafe fn store_n(p: *mut f32, v: __m512, n: usize) {
        // SAFETY: AVX-512F is present and `p` is valid for `n < LANES` elements
        // (the trait's contract); the mask `(1 << n) - 1` touches only those lanes.
        unsafe { _mm512_mask_storeu_ps(p, ((1u32 << n) - 1) as u16, v) }
    }
    unsafe fn tile(
        kc: usize,
        a: *const f32,
        b: *const f32,
        bs: usize,
        c: *mut f32,
        ldc: usize,
        mr: usize,
        nr: usize,
        acc: bool,
    ) {
        // SAFETY: forwarded contract: `kernel`'s requirements hold for `mr`
        // rows and `nr` columns.
        unsafe { dispatch::<f32>(kc, a, b, bs, c, ldc, mr, nr, acc) }
    }
}

impl Kern for f64 {
    const LANES: usize = 8;
    type V = __m512d;
    #[inline(always)]
    unsafe fn zero() -> __m512d {
        // SAFETY: AVX-512F is present (the trait's contract); the intrinsic only
        // combines registers, with no memory access.
        unsafe { _mm512_setzero_pd() }
    }
    #[inline(always)]
    unsafe fn load(p: *const f64) -> __m512d {
        // SAFETY: AVX-512F is present and `p` is valid for `LANES` unaligned
        // elements (the trait's contract).
        unsafe { _mm512_loadu_pd(p) }
    }
    #[inline(always)]
    unsafe fn splat(p: *const f64) -> __m512d {
        // SAFETY: AVX-512F is present and `p` is valid for one read (the trait's
        // contract).
        unsafe { _mm512_set1_pd(*p) }
    }
    #[inline(always)]
    unsafe fn fma(a: __m512d, b: __m512d, c: __m512d) -> __m512d {
        // SAFETY: AVX-512F is present (the trait's contract); the intrinsic only
        // combines registers, with no memory access.
        unsafe { _mm512_fmadd_pd(a, b, c) }
    }
    #[inline(always)]
    unsafe fn add(a: __m512d, b: __m512d) -> __m512d {
        // SAFETY: AVX-512F is present (the trait's contract); the intrinsic only
        // combines registers, with no memory access.
        unsafe { _mm512_add_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f64, v: __m512d) {
        // SAFETY: AVX-512F is present and `p` is valid for `LANES` unaligned
        // elements (the trait's contract).
        unsafe { _mm512_storeu_pd(p, v) }
    }
    #[inline(always)]
    unsafe fn load_n(p: *const f64, n: usize) -> __m512d {
        // SAFETY: AVX-512F is present and `p` is valid for `n < LANES` elements
        // (the trait's contract); the mask `(1 << n) - 1` touches only those lanes.
        unsafe { _mm512_maskz_loadu_pd(((1u32 << n) - 1) as u8, p) }
    }
    #[inline(always)]
    unsafe fn store_n(p: *mut f64, v: __m512d, n: usize) {
        // SAFETY: AVX-512F is present and `p` is valid for `n < LANES` elements
        // (the trait's contract); the mask `(1 << n) - 1` touches only those lanes.
        unsafe { _mm512_mask_storeu_pd(p, ((1u32 << n) - 1) as u8, v) }
    }
    unsafe fn tile(
        kc: usize,
        a: *const f64,
        b: *const f64,
        bs: usize,
        c: *mut f64,
        ldc: usize,
        mr: usize,
        nr: usize,
        acc: bool,
    ) {
        // SAFETY: forwarded contract: `kernel`'s requirements hold for `mr`
        // rows and `nr` columns.
        unsafe { dispatch::<f64>(kc, a, b, bs, c, ldc, mr, nr, acc) }
    }
}

/// Whether this CPU runs the AVX-512 kernels (checked once).
pub fn available() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| is_x86_feature_detected!("avx512f"))
}

/// Pick the instantiation for `mr` rows and one or two vectors of columns.
///
/// # Safety
/// As `kernel`, with `R = mr` (1..=MR) and `nr <= NR`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn dispatch<T: Kern>(
    kc: usize,
    a: *const T,
    b: *const T,
    bs: usize,
    c: *mut T,
    ldc: usize,
    mr: usize,
    nr: usize,
    acc: bool,
) {
    macro_rules! rows {
        ($nv:literal) => {
            // SAFETY: the caller guarantees `kernel`'s contract for `mr` rows
            // and `nr <= NR` columns; every arm passes exactly that `R`.
            unsafe {
                match mr {
                    14 => kernel::<T, 14, $nv>(kc, a, b, bs, c, ldc, nr, acc),
                    13 => kernel::<T, 13, $nv>(kc, a, b, bs, c, ldc, nr, acc),
                    12 => kernel::<T, 12, $nv>(kc, a, b, bs, c, ldc, nr, acc),
                    11 => kernel::<T, 11, $nv>(kc, a, b, bs, c, ldc, nr, acc),
                    10 => kernel::<T, 10, $nv>(kc, a, b, bs, c, ldc, nr, acc),
                    9 => kernel::<T, 9, $nv>(kc, a, b, bs, c, ldc, nr, acc),
                    8 => kernel::<T, 8, $nv>(kc, a, b, bs, c, ldc, nr, acc),
                    7 => kernel::<T, 7, $nv>(kc, a, b, bs, c, ldc, nr, acc),
                    6 => kernel::<T, 6, $nv>(kc, a, b, bs, c, ldc, nr, acc),
                    5 => kernel::<T, 5, $nv>(kc, a, b, bs, c, ldc, nr, acc),
                    4 => kernel::<T, 4, $nv>(kc, a, b, bs, c, ldc, nr, acc),
                    3 => kernel::<T, 3, $nv>(kc, a, b, bs, c, ldc, nr, acc),
                    2 => kernel::<T, 2, $nv>(kc, a, b, bs, c, ldc, nr, acc),
                    _ => kernel::<T, 1, $nv>(kc, a, b, bs, c, ldc, nr, acc),
                }
            }
        };
    }
    if nr > T::LANES {
        rows!(2)
    } else {
        rows!(1)
    }
}

/// `C[0..R, 0..nr] (+)= Apanel (R x kc, stride MR per k) * Bpanel (kc x NR,
/// `bs` elements from one step of k to the next: `NR` packed, B's row
/// stride read in place). `NV` vectors of columns are computed
/// (NV * LANES >= nr).
///
/// # Safety
/// AVX-512F is present; `a` is valid for `kc * MR` reads, `b` for `NV *
/// LANES` reads at each of `kc` steps `bs` apart, and `c` for reads and
/// writes of rows `0..R` (stride `ldc`), columns `0..nr`, with no other
/// thread touching them.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn kernel<T: Kern, const R: usize, const NV: usize>(
    kc: usize,
    a: *const T,
    b: *const T,
    bs: usize,
    c: *mut T,
    ldc: usize,
    nr: usize,
    acc: bool,
) {
    // SAFETY: the caller's contract (above): the panels hold `kc` steps of
    // `MR` and `NR` elements, and C's `R` rows of `nr` columns at stride `ldc`
    // are writable; prefetches never fault.
    unsafe {
        let l = T::LANES;
        for i in 0..R {
            let p = c.add(i * ldc) as *const i8;
            _mm_prefetch::<_MM_HINT_T0>(p);
            _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(64 * NV - 1));
        }
        let mut s = [[T::zero(); NV]; R];
        let (mut a, mut b) = (a, b);
        for _ in 0..kc {
            let mut bv = [T::zero(); NV];
            for (v, x) in bv.iter_mut().enumerate() {
                *x = T::load(b.add(v * l));
            }
            for (i, row) in s.iter_mut().enumerate() {
                let ai = T::splat(a.add(i));
                for v in 0..NV {
                    row[v] = T::fma(ai, bv[v], row[v]);
                }
            }
            a = a.add(MR);
            b = b.add(bs);
        }
        for (i, row) in s.iter().enumerate() {
            let cp = c.add(i * ldc);
            for (v, &x) in row.iter().enumerate() {
                let p = cp.add(v * l);
                let n = nr.saturating_sub(v * l).min(l);
                if n == l {
                    T::store(p, if acc { T::add(T::load(p), x) } else { x });
                } else if n > 0 {
                    T::store_n(p, if acc { T::add(T::load_n(p, n), x) } else { x }, n);
                }
            }
        }
    }
}

/// A strided matrix operand: element (i, j) at `ptr + i * rs + j * cs`.
#[derive(Clone, Copy)]
pub struct Strided<T> {
    pub ptr: *const T,
    pub rs: isize,
    pub cs: isize,
}
// SAFETY: a `Strided` is a read-only view; `gemm`'s caller guarantees the
// data it reaches is not written while the product runs, so reading it from
// several threads is sound.
unsafe impl<T> Send for Strided<T> {}
// SAFETY: as for `Send`: shared access only ever reads.
unsafe impl<T> Sync for Strided<T> {}

impl<T: Copy> Strided<T> {
    #[inline(always)]
    unsafe fn at(&self, i: usize, j: usize) -> T {
        // SAFETY: AVX-512F is present and `p` is valid for `LANES` unaligned
        // elements (the trait's contract).
        unsafe { *self.ptr.offset(i as isize * self.rs + j as isize * self.cs) }
    }
    fn shift(&self, i: usize, j: usize) -> Self {
        Strided {
            ptr: self
                .ptr
                .wrapping_offset(i as isize * self.rs + j as isize * self.cs),
            ..*self
        }
    }
}

/// Pack the `mc x kc` block of `a` into MR-row panels: panel `ip` holds rows
/// `ip*MR..`, laid out k-major (`MR` elements per step of k). Short panels
/// leave their tail rows unwritten (their kernel never reads them).
///
/// # Safety
/// `a`'s `mc x kc` block is readable; `out` is valid for
/// `mc.div_ceil(MR) * MR * kc` writes.
unsafe fn pack_a<T: Kern>(mc: usize, kc: usize, a: Strided<T>, out: *mut T) {
    // SAFETY: every read is at (row < mc, col < kc) of `a`'s block, which the
    // caller vouches for, and every write lands below
    // `mc.div_ceil(MR) * MR * kc`, `out`'s length.
    unsafe {
        for ip in 0..mc.div_ceil(MR) {
            let r = MR.min(mc - ip * MR);
            let dst = out.add(ip * MR * kc);
            if a.cs == 1 {
                // the panel's rows read side by side, each step of k's
                // `r` elements written together (contiguous writes)
                let mut src = [a.ptr; MR];
                for (i, s) in src.iter_mut().enumerate().take(r) {
                    *s = a.ptr.offset((ip * MR + i) as isize * a.rs);
                }
                for p in 0..kc {
                    let d = dst.add(p * MR);
                    for (i, s) in src.iter().enumerate().take(r) {
                        *d.add(i) = *s.add(p);
                    }
                }
            } else {
                for p in 0..kc {
                    for i in 0..r {
                        *dst.add(p * MR + i) = a.at(ip * MR + i, p);
                    }
                }
            }
        }
    }
}

/// Pack one `kc x NR` panel of `b` (its first `nr` columns), zero-padded.
///
/// # Safety
/// `b`'s `kc x nr` block is readable; `dst` is valid for `kc * NR` writes and
/// does not overlap `b`.
unsafe fn pack_b_panel<T: Kern>(kc: usize, nr: usize, b: Strided<T>, dst: *mut T) {
    // SAFETY: reads stay in `b`'s `kc x nr` block and writes below `kc * NR`
    // (the contract); `dst` is scratch, disjoint from `b`.
    unsafe {
        let w = T::NR;
        if b.cs == 1 {
            for p in 0..kc {
                let src = b.ptr.offset(p as isize * b.rs);
                let d = dst.add(p * w);
                std::ptr::copy_nonoverlapping(src, d, nr);
                for j in nr..w {
                    *d.add(j) = T::default();
                }
            }
        } else {
            // each step of k's `nr` elements read across the columns and
            // written together: the `nr` cache lines read stay in L1 for
            // the next steps of k (a transposed B reads along its rows)
            for p in 0..kc {
                let d = dst.add(p * w);
                for j in 0..nr {
                    *d.add(j) = b.at(p, j);
                }
                for j in nr..w {
                    *d.add(j) = T::default();
                }
            }
        }
    }
}

/// 64-byte aligned scratch, grown on demand and reused by each thread.
#[derive(Clone, Copy)]
#[repr(align(64))]
struct Line(#[allow(dead_code)] [u8; 64]); // only its size and alignment matter

thread_local! {
    static APACK: RefCell<Vec<Line>> = const { RefCell::new(Vec::new()) };
    /// `gemm_owned`'s whole packed A (the calling thread's).
    static AWHOLE: RefCell<Vec<Line>> = const { RefCell::new(Vec::new()) };
    static BPACK: RefCell<Vec<Line>> = const { RefCell::new(Vec::new()) };
}

/// Run `f` with an aligned buffer of at least `n` elements of `T`: the
/// thread's cached one, or a fresh one if it is already in use.
fn with_buf<T, R>(
    key: &'static std::thread::LocalKey<RefCell<Vec<Line>>>,
    n: usize,
    f: impl FnOnce(&mut [T]) -> R,
) -> R {
    let lines = (n * std::mem::size_of::<T>()).div_ceil(64);
    let run = |v: &mut Vec<Line>| {
        if v.len() < lines {
            *v = vec![Line([0; 64]); lines];
        }
        // SAFETY: the buffer holds `lines * 64` initialised bytes, aligned
        // to 64, and T is a plain float type.
        let s = unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut T, n) };
        f(s)
    };
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut v) => run(&mut v),
        Err(_) => run(&mut Vec::new()),
    })
}

/// Blocking parameters (elements).
const KC: usize = 384;
const MC: usize = 4 * MR;
const NC_BYTES: usize = 4 << 20;

/// `n` split into `ceil(n / max)` nearly equal blocks, each a multiple of
/// `unit` (but the last): the block size.
fn even_block(n: usize, max: usize, unit: usize) -> usize {
    let blocks = n.div_ceil(max).max(1);
    n.div_ceil(blocks).next_multiple_of(unit).min(max.max(unit))
}

#[derive(Clone, Copy)]
struct OutPtr<T>(*mut T);
// SAFETY: the tasks that share an `OutPtr` write disjoint parts of C (each
// owns an M block and a range of N panels) or only read the packed B block
// after it is complete, so sending the pointer across threads races nothing.
unsafe impl<T> Send for OutPtr<T> {}
// SAFETY: as for `Send`.
unsafe impl<T> Sync for OutPtr<T> {}
impl<T> OutPtr<T> {
    /// A method, so closures capture the whole (Sync) wrapper.
    fn get(&self) -> *mut T {
        self.0
    }
}

/// Up to this many rows, `gemm` packs all of A once and gives each thread
/// its own columns of C (`gemm_owned`).
const OWNED_M: usize = 512;
/// `gemm_owned`'s packed B per thread and K block: at most this many bytes
/// (it stays in L2 while the thread walks down A).
const OWNED_B_BYTES: usize = 1 << 20;

/// Up to this many A micro-panels, `gemm_owned` reads full-width B panels
/// in place (row-major B) instead of packing them: each is used by so few
/// A panels that copying it costs more than the strided reads (16 x 256 x
/// 256 f32: the copy of B was a third of the product's time).
const IN_PLACE_B_PANELS: usize = 4;
/// At most this many N panels per K block of a `gemm_owned` task.
const MAX_CHUNK: usize = 64;

/// `gemm` for few rows (training batches: 128 x 784 @ 784 x 512): A is
/// packed once, in full (all of K per micro-panel, shared read-only), and
/// the N panels are split in groups, `loops::parallel::split`'s tasks (the
/// calling thread works too, and takes them all if the pool is slow to
/// wake). Each task owns its columns of C: it packs its own B panels per K
/// block (or, for few A panels and a row-major B, reads them in place) and
/// runs every tile of them, with no synchronisation between K blocks. The
/// K blocks (`kc_max`) and the micro-kernel are `gemm`'s, so the bits are
/// the same.
///
/// # Safety
/// As `gemm`.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_owned<T: Kern>(
    m: usize,
    k: usize,
    n: usize,
    a: Strided<T>,
    b: Strided<T>,
    c: *mut T,
    ldc: usize,
    threads: usize,
    kc_max: usize,
) {
    use crate::loops::parallel::{split, split_chunks_mut, GRAIN};
    let nr = T::NR;
    let mp = m.div_ceil(MR);
    let panels = n.div_ceil(nr);
    // a few groups per thread, so that a late helper still finds work
    let per_task = panels.div_ceil(threads * 4).max(1);
    let tasks = panels.div_ceil(per_task);
    let chunk = (OWNED_B_BYTES / (kc_max * nr * std::mem::size_of::<T>())).clamp(1, MAX_CHUNK);
    let in_place = b.cs == 1 && b.rs > 0 && mp <= IN_PLACE_B_PANELS;
    let out = OutPtr(c);
    with_buf::<T, _>(&AWHOLE, mp * MR * k, |awhole| {
        let pack = |ip: usize, dst: &mut [T]| {
            let r = MR.min(m - ip * MR);
            // SAFETY: `dst` is panel ip's `MR * k` elements; A's rows
            // ip*MR.. (r of them) and all k columns are inside the operand.
            unsafe { pack_a(r, k, a.shift(ip * MR, 0), dst.as_mut_ptr()) };
        };
        let whole = &mut awhole[..mp * MR * k];
        if m * k > GRAIN && mp > 1 {
            split_chunks_mut(whole, MR * k, pack);
        } else {
            whole
                .chunks_mut(MR * k)
                .enumerate()
                .for_each(|(ip, d)| pack(ip, d));
        }
        let ap = OutPtr(awhole.as_mut_ptr());
        split(tasks, |t| {
            let (q0, q1) = (t * per_task, ((t + 1) * per_task).min(panels));
            let mut c0 = q0;
            while c0 < q1 {
                let c1 = (c0 + chunk).min(q1);
                let mut pc = 0;
                while pc < k {
                    let kc = kc_max.min(k - pc);
                    with_buf::<T, _>(&BPACK, (c1 - c0) * kc * nr, |bpack| {
                        // each panel's first element and step of k
                        let mut where_b = [(std::ptr::null::<T>(), nr); MAX_CHUNK];
                        for jp in c0..c1 {
                            let w = nr.min(n - jp * nr);
                            let src = b.shift(pc, jp * nr);
                            where_b[jp - c0] = if in_place && w == nr {
                                (src.ptr, b.rs as usize)
                            } else {
                                let dst = bpack[(jp - c0) * kc * nr..].as_mut_ptr();
                                // SAFETY: `dst` has `kc * NR` elements left;
                                // B's block (pc.., jp * NR..) is `kc x w`
                                // inside `k x n`.
                                unsafe { pack_b_panel(kc, w, src, dst) };
                                (dst as *const T, nr)
                            };
                        }
                        for ip in 0..mp {
                            let r = MR.min(m - ip * MR);
                            for jp in c0..c1 {
                                let w = nr.min(n - jp * nr);
                                let (bpanel, bs) = where_b[jp - c0];
                                // SAFETY: AVX-512F is present (the contract).
                                // A panel ip holds all of K, MR per step, so
                                // its K block pc starts at `pc * MR`; B panel
                                // jp is packed above (`NR` per step) or,
                                // full-width, read in place (`kc` rows of NR
                                // elements inside `k x n`, `b.rs > 0` apart);
                                // C's tile (rows ip*MR.. + r, cols jp*NR.. +
                                // w) is inside `m x n` and only this task
                                // writes columns of its panels q0..q1.
                                unsafe {
                                    let apanel = ap.get().add(ip * MR * k + pc * MR) as *const T;
                                    let cp = out.get().add(ip * MR * ldc + jp * nr);
                                    T::tile(kc, apanel, bpanel, bs, cp, ldc, r, w, pc > 0);
                                }
                            }
                        }
                    });
                    pc += kc;
                }
                c0 = c1;
            }
        });
    });
}

/// `C = A B` for `A` (m x k), `B` (k x n), `C` row-major with row stride
/// `ldc >= n`. With `parallel`, splits the work over the current rayon pool.
///
/// # Safety
/// `available()` must be true; every element of A and B that the strides
/// reach must be readable and C's `m` rows of `n` writable and not aliased.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm<T: Kern>(
    m: usize,
    k: usize,
    n: usize,
    a: Strided<T>,
    b: Strided<T>,
    c: *mut T,
    ldc: usize,
    parallel: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        for i in 0..m {
            // SAFETY: row `i < m` of C, `n` elements, is writable and
            // unaliased (the contract).
            unsafe { std::slice::from_raw_parts_mut(c.add(i * ldc), n) }.fill(T::default());
        }
        return;
    }
    let threads = if parallel {
        rayon::current_num_threads()
    } else {
        1
    };
    let nr = T::NR;
    let kc_max = even_block(k, KC, 1);
    if m <= OWNED_M && (threads == 1 || n.div_ceil(nr) >= threads) {
        // SAFETY: forwarded contract.
        unsafe { gemm_owned(m, k, n, a, b, c, ldc, threads, kc_max) };
        return;
    }
    // SAFETY: forwarded contract.
    unsafe { gemm_shared(m, k, n, a, b, c, ldc, threads, kc_max) }
}

/// `gemm` for many rows: N in blocks whose packed B all threads share, M
/// blocks packed per task (the module's loop order).
///
/// # Safety
/// As `gemm`, with `m, n, k > 0`.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_shared<T: Kern>(
    m: usize,
    k: usize,
    n: usize,
    a: Strided<T>,
    b: Strided<T>,
    c: *mut T,
    ldc: usize,
    threads: usize,
    kc_max: usize,
) {
    let nr = T::NR;
    let nc_max = even_block(
        n,
        (NC_BYTES / (kc_max * std::mem::size_of::<T>())).max(nr),
        nr,
    );
    // M blocks: at most MC rows, and at least `threads` of them when M allows.
    let mc = even_block(m, MC.min(m.div_ceil(threads).next_multiple_of(MR)), MR);
    let m_blocks = m.div_ceil(mc);
    let out = OutPtr(c);
    let mut jc = 0;
    while jc < n {
        let nc = nc_max.min(n - jc);
        let panels = nc.div_ceil(nr);
        // N split per M block, so that small M still feeds every thread.
        let n_split = (2 * threads).div_ceil(m_blocks).clamp(1, panels);
        let per_split = panels.div_ceil(n_split);
        let mut pc = 0;
        while pc < k {
            let kc = kc_max.min(k - pc);
            with_buf::<T, _>(&BPACK, panels * kc * nr, |bpack| {
                let pack = |(jp, dst): (usize, &mut [T])| {
                    let w = nr.min(nc - jp * nr);
                    // SAFETY: `dst` is this panel's `kc * NR` chunk of the
                    // scratch; B's block (pc.., jc + jp * NR..) has `kc x w`
                    // elements inside the `k x n` operand.
                    unsafe { pack_b_panel(kc, w, b.shift(pc, jc + jp * nr), dst.as_mut_ptr()) };
                };
                let used = &mut bpack[..panels * kc * nr];
                if threads > 1 && panels > 1 {
                    used.par_chunks_mut(kc * nr).enumerate().for_each(pack);
                } else {
                    used.chunks_mut(kc * nr).enumerate().for_each(pack);
                }
                let bp = OutPtr(bpack.as_mut_ptr());
                let task = |t: usize| {
                    let (mb, ns) = (t / n_split, t % n_split);
                    let i0 = mb * mc;
                    let mcb = mc.min(m - i0);
                    let (p0, p1) = (ns * per_split, ((ns + 1) * per_split).min(panels));
                    if p0 >= p1 {
                        return;
                    }
                    with_buf::<T, _>(&APACK, mcb.div_ceil(MR) * MR * kc, |apack| {
                        let ap = apack.as_mut_ptr();
                        // SAFETY: `apack` holds `mcb.div_ceil(MR) * MR * kc`
                        // elements; A's block (i0.., pc..) is `mcb x kc`
                        // inside the `m x k` operand.
                        unsafe { pack_a(mcb, kc, a.shift(i0, pc), ap) };
                        for jp in p0..p1 {
                            let w = nr.min(nc - jp * nr);
                            // SAFETY: panel `jp < panels` starts inside the
                            // packed block of `panels * kc * NR` elements.
                            let bpanel = unsafe { bp.get().add(jp * kc * nr) } as *const T;
                            for ip in 0..mcb.div_ceil(MR) {
                                let r = MR.min(mcb - ip * MR);
                                // SAFETY: AVX-512F is present (the contract);
                                // the A panel `ip` and B panel `jp` are packed
                                // above; C's tile (rows i0 + ip*MR.. + r, cols
                                // jc + jp*NR.. + w) is inside `m x n` and is
                                // written by this task alone (M block `mb`,
                                // panels p0..p1).
                                unsafe {
                                    let cp = out.get().add((i0 + ip * MR) * ldc + jc + jp * nr);
                                    T::tile(
                                        kc,
                                        ap.add(ip * MR * kc),
                                        bpanel,
                                        nr,
                                        cp,
                                        ldc,
                                        r,
                                        w,
                                        pc > 0,
                                    );
                                }
                            }
                        }
                    })
                };
                let tasks = m_blocks * n_split;
                if threads > 1 && tasks > 1 {
                    (0..tasks).into_par_iter().for_each(task);
                } else {
                    (0..tasks).for_each(task);
                }
            });
            pc += kc;
        }
        jc += nc;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `gemm_owned` (B read in place for few A panels, packed for more;
    /// one thread and three) gives the bits of the shared-B loop
    /// (`gemm_shared`): the same K blocks and kernel, whatever the B panel's
    /// layout or the order tasks run in; transposed and negative-stride B
    /// views are packed.
    #[test]
    fn owned_and_in_place_b_keep_the_shared_bits() {
        if !available() {
            return;
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let val = |i: usize| ((i * 2654435761) % 1009) as f32 / 1009.0 - 0.5;
        for &(m, k, n) in &[
            (16, 256, 256),
            (32, 300, 97),
            (56, 800, 64),
            (57, 33, 70),
            (3, 9, 32),
            (200, 64, 96),
        ] {
            let a: Vec<f32> = (0..m * k).map(val).collect();
            let b: Vec<f32> = (0..k * n).map(|i| val(i + 7)).collect();
            let sa = Strided {
                ptr: a.as_ptr(),
                rs: k as isize,
                cs: 1,
            };
            let kc = even_block(k, KC, 1);
            let views = [
                // row-major, read in place when few A panels
                Strided {
                    ptr: b.as_ptr(),
                    rs: n as isize,
                    cs: 1,
                },
                // the last row first: negative row stride (packed)
                Strided {
                    ptr: b[(k - 1) * n..].as_ptr(),
                    rs: -(n as isize),
                    cs: 1,
                },
            ];
            for sb in views {
                let mut shared = vec![f32::NAN; m * n];
                let mut one = vec![f32::NAN; m * n];
                let mut three = vec![f32::NAN; m * n];
                // SAFETY: AVX-512F is present; A (m x k) and B (k x n) are
                // read inside their vectors (the negative view starts at
                // B's last row); C is m x n, row stride n.
                unsafe {
                    gemm_shared(m, k, n, sa, sb, shared.as_mut_ptr(), n, 1, kc);
                    gemm_owned(m, k, n, sa, sb, one.as_mut_ptr(), n, 1, kc);
                    pool.install(|| gemm_owned(m, k, n, sa, sb, three.as_mut_ptr(), n, 3, kc));
                }
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&shared), bits(&one), "{m}x{k}x{n} rs={}", sb.rs);
                assert_eq!(bits(&shared), bits(&three), "{m}x{k}x{n} rs={}", sb.rs);
            }
        }
    }

    /// `gemm` (the public entry; up to `OWNED_M` rows it takes `gemm_owned`
    /// with one thread or many) gives the same bits on one thread and on a
    /// pool of three, including a transposed A; the comparison with the
    /// shared-B loop is `owned_and_in_place_b_keep_the_shared_bits`.
    #[test]
    fn owned_columns_keep_the_bits() {
        if !available() {
            return;
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let mut seed = 12345u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        for &(m, k, n) in &[
            (100, 700, 200),
            (128, 784, 512),
            (15, 1000, 97),
            (512, 33, 64),
        ] {
            let a: Vec<f32> = (0..m * k).map(|_| next()).collect();
            let b: Vec<f32> = (0..k * n).map(|_| next()).collect();
            // A transposed in memory for one case: the strided packing
            let (av, at) = if m == 15 {
                let mut t = vec![0.0; m * k];
                for i in 0..m {
                    for p in 0..k {
                        t[p * m + i] = a[i * k + p];
                    }
                }
                (t, true)
            } else {
                (a.clone(), false)
            };
            let sa = Strided {
                ptr: av.as_ptr(),
                rs: if at { 1 } else { k as isize },
                cs: if at { m as isize } else { 1 },
            };
            let sb = Strided {
                ptr: b.as_ptr(),
                rs: n as isize,
                cs: 1,
            };
            let mut one = vec![0.0f32; m * n];
            let mut owned = vec![f32::NAN; m * n];
            // SAFETY: AVX-512F is present; A (m x k) and B (k x n) are read
            // inside their vectors; C is m x n, row stride n.
            unsafe {
                gemm(m, k, n, sa, sb, one.as_mut_ptr(), n, false);
                pool.install(|| gemm(m, k, n, sa, sb, owned.as_mut_ptr(), n, true));
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&one), bits(&owned), "{m}x{k}x{n}");
        }
    }
}
