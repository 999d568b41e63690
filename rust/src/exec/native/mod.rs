//! The native tier: fused groups compiled to machine code, tiered behind
//! the tile interpreter (`exec::fused`).
//!
//! Each fused group of an `Executable` gets a `Slot`. A run calls the
//! slot's native function when one is installed, and the interpreter
//! otherwise. The code is made outside this crate: the slot renders its
//! group as LLVM IR (`ir.rs`, from each node's recorded DAG), and the
//! Python runtime (`rjax._src.runtime.codegen`) compiles it with llvmlite
//! for the host CPU and installs the function's address (`install`). Both
//! tiers compute the same primitives in the same order, so a group gives
//! the same bits in either tier, and may switch between two runs.
//!
//! Modes (`set_mode`, from `RJAX_CODEGEN` in Python): `off` (the default
//! here: the interpreter only), `sync` (Python compiles a new executable's
//! groups before its first run: `Executable::native_slots`), `auto` (a
//! group's second run queues it, `wait` hands the queue to Python's
//! compiler thread, and later runs switch when the code is installed).
pub mod ir;
pub mod kernel;
pub mod symbols;

use crate::base::aval::Aval;
use crate::base::buffer::{numel, Buffer};
use crate::base::error::{Error, Result};
use crate::compiler::fusion::{Fused, Node};
use crate::loops::strided::LoadMap;
use crate::ops::Kernel;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};
use std::time::Duration;

/// The interpreter only.
pub const OFF: u8 = 0;
/// Compile in the background after a group's first run.
pub const AUTO: u8 = 1;
/// Compile before the first run (Python drives it).
pub const SYNC: u8 = 2;

static MODE: AtomicU8 = AtomicU8::new(OFF);

pub fn set_mode(m: u8) {
    MODE.store(m, Ordering::Relaxed);
}

pub fn mode() -> u8 {
    MODE.load(Ordering::Relaxed)
}

/// A compiled group: `f(a, b, inputs, outputs, accumulators, r0, tile)`
/// does one chunk (`kernel.rs`).
pub(crate) type NativeFn =
    unsafe extern "C" fn(i64, i64, *const *const u8, *const *mut u8, *const *mut u8, i64, i64);

const IDLE: u8 = 0;
const QUEUED: u8 = 1;
const READY: u8 = 2;
const FAILED: u8 = 3;

/// A fused group and its native code, if any.
pub struct Slot {
    pub id: u64,
    fused: Fused,
    out_avals: Vec<Aval>,
    func: AtomicUsize,
    state: AtomicU8,
    runs: AtomicUsize,
}

fn registry() -> &'static Mutex<HashMap<u64, Weak<Slot>>> {
    static R: OnceLock<Mutex<HashMap<u64, Weak<Slot>>>> = OnceLock::new();
    R.get_or_init(Default::default)
}

fn queue() -> &'static (Mutex<VecDeque<u64>>, Condvar) {
    static Q: OnceLock<(Mutex<VecDeque<u64>>, Condvar)> = OnceLock::new();
    Q.get_or_init(Default::default)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Slot {
    pub fn new(fused: Fused, out_avals: Vec<Aval>) -> Arc<Slot> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let s = Arc::new(Slot {
            id,
            fused,
            out_avals,
            func: AtomicUsize::new(0),
            state: AtomicU8::new(IDLE),
            runs: AtomicUsize::new(0),
        });
        lock(registry()).insert(id, Arc::downgrade(&s));
        s
    }

    /// The slot `id`, while its executable lives.
    pub fn lookup(id: u64) -> Option<Arc<Slot>> {
        let w = lock(registry()).get(&id).cloned();
        w.and_then(|w| w.upgrade())
    }

    pub fn describe(&self) -> String {
        self.fused.describe()
    }

    /// The group's structure (its IR with a fixed name): equal keys, equal code.
    pub fn key(&self) -> std::result::Result<String, String> {
        kernel::render(&self.fused, "rjax_group")
    }

    /// The group's IR module, its function named `name`.
    pub fn render(&self, name: &str) -> std::result::Result<String, String> {
        kernel::render(&self.fused, name)
    }

    /// Mark the slot as being compiled; false if it already was (or is done).
    pub fn claim(&self) -> bool {
        self.state
            .compare_exchange(IDLE, QUEUED, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }

    /// Whether the group has a native rendering (cheap: no IR is built).
    pub fn renderable(&self) -> bool {
        kernel::supported(&self.fused).is_ok()
    }

    /// Install the compiled function at `addr`: later runs call it.
    ///
    /// # Safety
    /// `addr` must be the address of a function with `NativeFn`'s signature
    /// compiled from this slot's `render`, alive for the rest of the process.
    pub unsafe fn install(&self, addr: usize) {
        self.func.store(addr, Ordering::Release);
        self.state.store(READY, Ordering::Release);
    }

    /// No native code for this group: it keeps the interpreter.
    pub fn fail(&self) {
        self.state.store(FAILED, Ordering::Release);
    }

    pub fn is_native(&self) -> bool {
        self.func.load(Ordering::Acquire) != 0
    }

    /// The installed function, if any.
    pub(crate) fn native_fn(&self) -> Option<NativeFn> {
        let f = self.func.load(Ordering::Acquire);
        // SAFETY: `install`'s contract: a nonzero `f` is a live `NativeFn`.
        (f != 0).then(|| unsafe { std::mem::transmute::<usize, NativeFn>(f) })
    }

    /// The group this slot runs.
    pub fn fused(&self) -> &Fused {
        &self.fused
    }

    /// Run the group: natively if compiled, else in the interpreter (in
    /// `auto` mode, the second run queues the group for compilation).
    pub fn run(&self, args: &[&Buffer]) -> Result<Vec<Buffer>> {
        if let Some(func) = self.native_fn() {
            return run_native(&self.fused, func, args, &self.out_avals);
        }
        if mode() == AUTO
            && self.runs.fetch_add(1, Ordering::Relaxed) >= 1
            && self.state.load(Ordering::Relaxed) == IDLE
            && self.renderable()
            && self.claim()
        {
            let (q, cv) = queue();
            lock(q).push_back(self.id);
            cv.notify_one();
        }
        super::fused::run(&self.fused, args, &self.out_avals)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        lock(registry()).remove(&self.id);
    }
}

/// The kernel of a group: its slot's `run`.
pub fn kernel(slot: Arc<Slot>) -> Kernel {
    Box::new(move |args: &[&Buffer]| slot.run(args))
}

/// The ids of the groups queued for compilation, waiting up to `timeout`
/// for one.
pub fn wait(timeout: Duration) -> Vec<u64> {
    let (q, cv) = queue();
    let mut g = lock(q);
    if g.is_empty() {
        g = cv
            .wait_timeout(g, timeout)
            .map(|(g, _)| g)
            .unwrap_or_else(|e| e.into_inner().0);
    }
    g.drain(..).collect()
}

/// The elements a load through `map` reads over `shape` (`total`
/// elements): None for a negative stride, which native code never takes.
pub(crate) fn load_extent(map: &LoadMap, shape: &[usize], total: usize) -> Option<usize> {
    Some(match map {
        LoadMap::Contig => total,
        LoadMap::Scalar => 1,
        LoadMap::Strided(st) => {
            let mut last = 0usize;
            for (&d, &s) in shape.iter().zip(st) {
                last += d.saturating_sub(1) * usize::try_from(s).ok()?;
            }
            last + 1
        }
    })
}

/// Run compiled group `func` over `f`'s iteration space: the
/// interpreter's chunks, accumulators and merges (`fused::run_with`), each
/// chunk computed by `func`.
fn run_native(
    f: &Fused,
    func: NativeFn,
    args: &[&Buffer],
    out_avals: &[Aval],
) -> Result<Vec<Buffer>> {
    if args.len() != f.n_inputs || out_avals.len() != f.outs.len() {
        return Err(Error::Internal(format!(
            "native kernel expects {} inputs and {} outputs, got {} and {}",
            f.n_inputs,
            f.outs.len(),
            args.len(),
            out_avals.len()
        )));
    }
    let total = numel(&f.shape);
    // Every load stays inside its buffer (the code does not check).
    for n in &f.nodes {
        if let Node::Load { input, map } = &n.node {
            let b = args[*input];
            let need = load_extent(map, &f.shape, total)
                .ok_or_else(|| Error::Internal("native kernel: negative stride".into()))?;
            if b.dtype != n.dtype || (total > 0 && b.len() < need) {
                return Err(Error::Internal(format!(
                    "native kernel: input {input} is {}{:?}, expected {} with {need} elements",
                    b.dtype, b.shape, n.dtype
                )));
            }
        }
    }
    let ins: Vec<usize> = args
        .iter()
        .map(|b| b.data.bytes().as_ptr() as usize)
        .collect();
    let chunk = |a: usize, b: usize, outs: &[usize], accs: &[usize], r0: usize, tile: usize| {
        // SAFETY: `fused::run_with` hands each chunk its own range of the
        // outputs (sized as the interpreter writes them) and its own
        // accumulators; the loads were checked above.
        unsafe {
            func(
                a as i64,
                b as i64,
                ins.as_ptr() as *const *const u8,
                outs.as_ptr() as *const *mut u8,
                accs.as_ptr() as *const *mut u8,
                r0 as i64,
                tile as i64,
            )
        };
        Ok(())
    };
    super::fused::run_with(f, args, out_avals, Some(&chunk))
}
