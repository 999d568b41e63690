//! Parallel loops that stay on the calling thread for small work: waking the
//! pool costs microseconds, so arrays under `GRAIN` elements never touch it.
//!
//! Every loop here runs through `split`: the calling thread works on the
//! tasks itself and never sleeps; helper jobs spawned into the current rayon
//! pool claim whatever tasks are left when they wake. In these VMs a
//! sleeping worker takes 10-20 µs to wake, and rayon's own parallel
//! iterators put the caller to sleep until the workers finish (two wakeups
//! per loop): 64K-element loops ran at 2.6x the time of one thread, and a
//! 16 x 256 x 256 product at 2x (BENCHMARKS.md). With `split` a loop costs
//! at most what one thread would, plus one spawn.
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

/// Elements per task for cheap elementwise work.
pub const GRAIN: usize = 1 << 15;

/// Number of threads of the current pool.
pub fn num_threads() -> usize {
    rayon::current_num_threads()
}

/// A task function with its lifetime erased (see `Shared::f`).
#[derive(Clone, Copy)]
struct TaskFn(*const (dyn Fn(usize) + Sync + 'static));
// SAFETY: the pointee is `Sync` and `split` keeps it alive while any thread
// may call it (the `active` / `closed` protocol on `Shared`).
unsafe impl Send for TaskFn {}
// SAFETY: as for `Send`.
unsafe impl Sync for TaskFn {}

/// The state `split` shares with its helper jobs.
struct Shared {
    /// The next unclaimed task.
    next: AtomicUsize,
    tasks: usize,
    /// Helpers between their start and their end (running tasks or about
    /// to find there are none).
    active: AtomicUsize,
    /// Set by the caller once it has claimed the last task: a helper that
    /// starts later returns without touching `f`.
    closed: AtomicBool,
    /// A helper's panic, re-raised on the calling thread.
    panic: Mutex<Option<Box<dyn std::any::Any + Send>>>,
    /// The caller's task function. Valid while the caller is inside
    /// `split`, which returns only after `closed` is set and `active` is
    /// back to zero: a helper either counted itself active before the
    /// caller looked (and is waited for) or sees `closed` and never calls
    /// it (both use SeqCst, so one of the two sees the other's write).
    f: TaskFn,
}

impl Shared {
    /// Claim and run tasks until none is left.
    fn work(&self) {
        loop {
            let i = self.next.fetch_add(1, SeqCst);
            if i >= self.tasks {
                return;
            }
            // SAFETY: `f` is alive while this thread is the caller or an
            // active helper that found `closed` unset (`Shared::f`).
            unsafe { (*self.f.0)(i) };
        }
    }

    /// A helper job's body.
    fn help(&self) {
        self.active.fetch_add(1, SeqCst);
        if !self.closed.load(SeqCst) {
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| self.work())) {
                // no one claims further tasks; the caller re-raises it
                self.next.store(self.tasks, SeqCst);
                if let Ok(mut slot) = self.panic.lock() {
                    slot.get_or_insert(p);
                }
            }
        }
        self.active.fetch_sub(1, SeqCst);
    }
}

/// Run `f(i)` for every `i` in `0..tasks`, each exactly once, in no fixed
/// order: the calling thread claims tasks one by one and runs them, and up
/// to `num_threads() - 1` helper jobs spawned into the current rayon pool
/// claim the others once they wake. The caller never sleeps on the pool: it
/// waits (spinning, then yielding) only for tasks a helper has started,
/// which run to completion, so a busy or nested pool cannot deadlock it. A
/// panic in any task is re-raised here once every started task has ended.
pub fn split(tasks: usize, f: impl Fn(usize) + Sync) {
    let helpers = num_threads().saturating_sub(1).min(tasks.saturating_sub(1));
    if helpers == 0 {
        (0..tasks).for_each(f);
        return;
    }
    let f: &(dyn Fn(usize) + Sync) = &f;
    // SAFETY: only the lifetime is erased; `Shared::f` says why no thread
    // calls it after this function returns.
    let f: &'static (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(f) };
    let shared = Arc::new(Shared {
        next: AtomicUsize::new(0),
        tasks,
        active: AtomicUsize::new(0),
        closed: AtomicBool::new(false),
        panic: Mutex::new(None),
        f: TaskFn(f as *const _),
    });
    for _ in 0..helpers {
        let s = Arc::clone(&shared);
        rayon::spawn(move || s.help());
    }
    let mine = catch_unwind(AssertUnwindSafe(|| shared.work()));
    if mine.is_err() {
        shared.next.store(tasks, SeqCst);
    }
    shared.closed.store(true, SeqCst);
    let mut spins = 0u32;
    while shared.active.load(SeqCst) != 0 {
        if spins < 2000 {
            std::hint::spin_loop();
            spins += 1;
        } else {
            std::thread::yield_now();
        }
    }
    if let Err(p) = mine {
        resume_unwind(p);
    }
    let helper_panic = shared.panic.lock().map(|mut s| s.take()).unwrap_or(None);
    if let Some(p) = helper_panic {
        resume_unwind(p);
    }
}

/// `split` collecting each task's result, in task order.
pub fn split_map<R: Send>(tasks: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let slots: Vec<Mutex<Option<R>>> = (0..tasks).map(|_| Mutex::new(None)).collect();
    split(tasks, |i| {
        let r = f(i);
        if let Ok(mut s) = slots[i].lock() {
            *s = Some(r);
        }
    });
    slots
        .into_iter()
        .map(|s| {
            s.into_inner()
                .ok()
                .flatten()
                .expect("split runs every task once")
        })
        .collect()
}

/// A mutable slice's base, shared by tasks that write disjoint parts of it.
struct SlicePtr<T>(*mut T);
// SAFETY: the tasks of `split_chunks_mut` reach disjoint ranges through it.
unsafe impl<T: Send> Send for SlicePtr<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send> Sync for SlicePtr<T> {}
impl<T> SlicePtr<T> {
    fn get(&self) -> *mut T {
        self.0
    }
}

/// `f(i, chunk)` for the `chunk`-element pieces of `out` (the last one
/// shorter), through `split`.
pub fn split_chunks_mut<T: Send>(out: &mut [T], chunk: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    let n = out.len();
    let chunk = chunk.max(1);
    let base = SlicePtr(out.as_mut_ptr());
    split(n.div_ceil(chunk), |i| {
        let (a, b) = (i * chunk, ((i + 1) * chunk).min(n));
        // SAFETY: `a..b` is inside `out`, and each task index (so each
        // range) is run once, so no two live slices overlap; `out` is
        // borrowed mutably for the whole call.
        let c = unsafe { std::slice::from_raw_parts_mut(base.get().add(a), b - a) };
        f(i, c)
    });
}

/// `split_chunks_mut` over two slices of one length at once:
/// `f(i, a_chunk, b_chunk)` on the same ranges of each.
pub fn split_chunks_mut2<T: Send, U: Send>(
    a: &mut [T],
    b: &mut [U],
    chunk: usize,
    f: impl Fn(usize, &mut [T], &mut [U]) + Sync,
) {
    assert_eq!(a.len(), b.len(), "split_chunks_mut2 needs equal lengths");
    let n = a.len();
    let chunk = chunk.max(1);
    let (pa, pb) = (SlicePtr(a.as_mut_ptr()), SlicePtr(b.as_mut_ptr()));
    split(n.div_ceil(chunk), |i| {
        let (s, e) = (i * chunk, ((i + 1) * chunk).min(n));
        // SAFETY: as in `split_chunks_mut`, for each of the two slices
        // (equal lengths, checked above).
        let (ca, cb) = unsafe {
            (
                std::slice::from_raw_parts_mut(pa.get().add(s), e - s),
                std::slice::from_raw_parts_mut(pb.get().add(s), e - s),
            )
        };
        f(i, ca, cb)
    });
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
    split_chunks_mut(out, chunk, |i, c| f(i * chunk, c));
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
    let first_err: Mutex<Option<(usize, crate::base::error::Error)>> = Mutex::new(None);
    split_chunks_mut(out, chunk, |i, c| {
        if let Err(e) = f(i * chunk, c) {
            if let Ok(mut slot) = first_err.lock() {
                if slot.as_ref().is_none_or(|(j, _)| i < *j) {
                    *slot = Some((i, e));
                }
            }
        }
    });
    match first_err.into_inner() {
        Ok(Some((_, e))) => Err(e),
        _ => Ok(()),
    }
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
    split_chunks_mut(out, chunk_rows * row, |i, c| f(i * chunk_rows, c));
}

/// Run `f(i)` for every `i` in `0..n`, in parallel when `n * cost` is large.
pub fn par_for(n: usize, cost_per_item: usize, f: impl Fn(usize) + Sync + Send) {
    if n.saturating_mul(cost_per_item.max(1)) <= GRAIN || n <= 1 || num_threads() <= 1 {
        (0..n).for_each(f);
    } else {
        split(n, f);
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

    /// Every task runs exactly once: on the global pool, inside a pool of
    /// three, nested (a task that splits again), and with more helpers
    /// than tasks; `split_map` keeps task order.
    #[test]
    fn split_runs_each_task_once() {
        use std::sync::atomic::AtomicUsize;
        let check = |tasks: usize| {
            let hits: Vec<AtomicUsize> = (0..tasks).map(|_| AtomicUsize::new(0)).collect();
            split(tasks, |i| {
                hits[i].fetch_add(1, SeqCst);
            });
            assert!(hits.iter().all(|h| h.load(SeqCst) == 1), "{tasks} tasks");
        };
        for tasks in [0, 1, 2, 3, 7, 64, 1000] {
            check(tasks);
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        pool.install(|| {
            for tasks in [0, 1, 2, 5, 300] {
                check(tasks);
            }
            let inner: Vec<AtomicUsize> = (0..40 * 30).map(|_| AtomicUsize::new(0)).collect();
            split(40, |i| {
                split(30, |j| {
                    inner[i * 30 + j].fetch_add(1, SeqCst);
                })
            });
            assert!(inner.iter().all(|h| h.load(SeqCst) == 1));
        });
        let v = split_map(100, |i| i * i);
        assert_eq!(v, (0..100).map(|i| i * i).collect::<Vec<_>>());
    }

    /// A task's panic reaches the caller after the other tasks have ended
    /// (whichever thread ran it), and the pool keeps working.
    #[test]
    fn split_reraises_a_task_panic() {
        for bad in [0usize, 5, 63] {
            let r = std::panic::catch_unwind(|| {
                split(64, |i| {
                    if i == bad {
                        panic!("task {i}");
                    }
                })
            });
            let msg = r.expect_err("the panic is re-raised");
            assert_eq!(
                msg.downcast_ref::<String>().map(String::as_str),
                Some(&*format!("task {bad}"))
            );
        }
        let mut out = vec![0u8; 1 << 20];
        par_fill(&mut out, GRAIN, |_, c| c.fill(1));
        assert!(out.iter().all(|&x| x == 1));
    }

    /// `try_par_fill` returns the error of the first failing chunk, in
    /// chunk order, whichever thread finished first.
    #[test]
    fn try_fill_reports_the_first_error() {
        let mut out = vec![0u32; 40 * GRAIN];
        let r = try_par_fill(&mut out, GRAIN, |off, c| {
            c.fill(1);
            if off >= 7 * GRAIN {
                Err(crate::base::error::Error::Internal(format!("at {off}")))
            } else {
                Ok(())
            }
        });
        let e = r.expect_err("chunks past 7 fail").to_string();
        let chunk = (40 * GRAIN)
            .div_ceil((40usize).min(num_threads() * 4))
            .next_multiple_of(GRAIN);
        let first_bad = (7 * GRAIN).div_ceil(chunk) * chunk;
        assert!(e.contains(&format!("at {first_bad}")), "{e}");
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
