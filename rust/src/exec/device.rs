//! Asynchronous dispatch: a device runs its work in order on its own queue.
//!
//! `Device::enqueue` hands a job to the device's worker thread and returns at
//! once; the job's results live in `Slot`s that start out pending. Reading a
//! slot (`Slot::wait`) blocks until the worker has filled it. A job whose input
//! slot failed fails its outputs with the same error (errors flow along the
//! data, as in JAX), and a failing or panicking job never stops the worker: the
//! device keeps running the jobs behind it.
use crate::base::buffer::Buffer;
use crate::base::error::{panic_error, Error, Result};
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a waiting thread (or the idle worker) spins before it sleeps:
/// waking a sleeping thread costs tens of microseconds in these VMs.
const SPIN: Duration = Duration::from_micros(50);

/// At most this many jobs wait in a queue; a caller that would exceed it
/// blocks until the device catches up (so a Python loop cannot queue work
/// without bound).
const MAX_QUEUED: usize = 256;

/// The result of one output of a queued job.
pub struct Slot {
    done: AtomicBool,
    value: Mutex<Option<std::result::Result<Buffer, Error>>>,
    cv: Condvar,
}

impl Slot {
    pub fn pending() -> Arc<Slot> {
        Arc::new(Slot {
            done: AtomicBool::new(false),
            value: Mutex::new(None),
            cv: Condvar::new(),
        })
    }

    fn set(&self, v: std::result::Result<Buffer, Error>) {
        let mut g = self.value.lock().unwrap_or_else(|e| e.into_inner());
        *g = Some(v);
        self.done.store(true, Ordering::Release);
        self.cv.notify_all();
    }

    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// The value if the slot is filled, without blocking.
    pub fn try_get(&self) -> Option<Result<Buffer>> {
        if !self.is_done() {
            return None;
        }
        self.value
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .cloned()
    }

    /// Block until the slot is filled; a failed job's error comes back here.
    pub fn wait(&self) -> Result<Buffer> {
        if !self.is_done() {
            let t0 = Instant::now();
            while !self.is_done() && t0.elapsed() < SPIN {
                std::hint::spin_loop();
            }
        }
        let mut g = self.value.lock().unwrap_or_else(|e| e.into_inner());
        while g.is_none() {
            g = self.cv.wait(g).unwrap_or_else(|e| e.into_inner());
        }
        g.as_ref().cloned().expect("slot filled")
    }
}

/// An input of a queued job: a buffer, or the pending output of an earlier job.
#[derive(Clone)]
pub enum Input {
    Ready(Buffer),
    Pending(Arc<Slot>),
}

impl Input {
    fn resolve(&self) -> Result<Buffer> {
        match self {
            Input::Ready(b) => Ok(b.clone()),
            Input::Pending(s) => s.wait(),
        }
    }
}

/// A job's work: it owns the resolved inputs, so an input that nothing
/// else holds (a donated argument) can be updated in place.
type Work = Box<dyn FnOnce(Vec<Buffer>) -> Result<Vec<Buffer>> + Send>;

/// What a job does instead of its work when an input failed (a pmap
/// replica poisons its communicator, so the other replicas stop waiting).
pub type OnInputError = Box<dyn FnOnce(&Error) + Send>;

struct Job {
    inputs: Vec<Input>,
    work: Work,
    on_input_error: Option<OnInputError>,
    outputs: Vec<Arc<Slot>>,
    /// Run inside the device's own thread pool (a pmap replica) rather than
    /// the process-wide one (ordinary work, which may use every core).
    own_pool: bool,
}

struct Queue {
    jobs: VecDeque<Job>,
    /// Whether the worker is running a job now.
    busy: bool,
}

/// One device: an in-order queue and the worker thread that drains it.
pub struct Device {
    pub id: usize,
    /// The device's share of the cores (None: the process-wide pool).
    pool: Option<Arc<rayon::ThreadPool>>,
    queue: Mutex<Queue>,
    /// Signalled when a job arrives (the worker waits on it) and when the
    /// queue shrinks (callers blocked on a full queue wait on it).
    cv: Condvar,
    queued: AtomicUsize,
    started: OnceLock<()>,
}

impl Device {
    fn new(id: usize) -> Device {
        Device::with_pool(id, None)
    }

    fn with_pool(id: usize, pool: Option<Arc<rayon::ThreadPool>>) -> Device {
        Device {
            id,
            pool,
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                busy: false,
            }),
            cv: Condvar::new(),
            queued: AtomicUsize::new(0),
            started: OnceLock::new(),
        }
    }

    /// The default device (device 0).
    pub fn default_device() -> &'static Arc<Device> {
        &devices()[0]
    }

    /// Threads of this device's pool.
    pub fn num_threads(&self) -> usize {
        self.pool
            .as_ref()
            .map_or_else(rayon::current_num_threads, |p| p.current_num_threads())
    }

    /// Whether `enqueue` might block now (the queue is full): a caller that
    /// holds the GIL must release it first, since the running job may need
    /// it for a host callback.
    pub fn would_block(&self) -> bool {
        self.pending() >= MAX_QUEUED
    }

    /// Number of jobs queued or running.
    pub fn pending(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    fn start(self: &Arc<Self>) {
        self.started.get_or_init(|| {
            let dev = Arc::clone(self);
            std::thread::Builder::new()
                .name(format!("rjax-device-{}", dev.id))
                .spawn(move || dev.worker())
                .expect("spawn the device worker thread");
        });
    }

    /// Queue `work` to run on `inputs` once they are ready; returns one
    /// pending slot per output (`n_out` of them) at once.
    pub fn enqueue(
        self: &Arc<Self>,
        inputs: Vec<Input>,
        n_out: usize,
        work: impl FnOnce(Vec<Buffer>) -> Result<Vec<Buffer>> + Send + 'static,
    ) -> Vec<Arc<Slot>> {
        self.start();
        let outputs: Vec<Arc<Slot>> = (0..n_out).map(|_| Slot::pending()).collect();
        self.push(Job {
            inputs,
            work: Box::new(work),
            on_input_error: None,
            outputs: outputs.clone(),
            own_pool: false,
        });
        outputs
    }

    fn push(self: &Arc<Self>, job: Job) {
        self.start();
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        while q.jobs.len() >= MAX_QUEUED {
            q = self.cv.wait(q).unwrap_or_else(|e| e.into_inner());
        }
        q.jobs.push_back(job);
        self.queued.fetch_add(1, Ordering::AcqRel);
        drop(q);
        self.cv.notify_all();
    }

    /// Block until every job queued so far has run.
    pub fn synchronize(&self) {
        let t0 = Instant::now();
        while self.pending() > 0 && t0.elapsed() < SPIN {
            std::hint::spin_loop();
        }
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        while !q.jobs.is_empty() || q.busy {
            q = self.cv.wait(q).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn next_job(&self) -> Job {
        // Spin briefly first: back-to-back dispatches then skip a wake-up.
        let t0 = Instant::now();
        while self.pending() == 0 && t0.elapsed() < SPIN {
            std::hint::spin_loop();
        }
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(job) = q.jobs.pop_front() {
                q.busy = true;
                drop(q);
                self.cv.notify_all(); // room in the queue
                return job;
            }
            q = self.cv.wait(q).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn worker(self: Arc<Self>) {
        loop {
            let job = self.next_job();
            match &self.pool {
                Some(pool) if job.own_pool => pool.install(|| run_job(job)),
                _ => run_job(job),
            }
            let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            q.busy = false;
            self.queued.fetch_sub(1, Ordering::AcqRel);
            drop(q);
            self.cv.notify_all();
        }
    }
}

fn run_job(job: Job) {
    let Job {
        inputs,
        work,
        on_input_error,
        outputs,
        ..
    } = job;
    let result = catch_unwind(AssertUnwindSafe(move || -> Result<Vec<Buffer>> {
        let bufs = match inputs
            .iter()
            .map(Input::resolve)
            .collect::<Result<Vec<_>>>()
        {
            Ok(b) => b,
            Err(e) => {
                // The work never runs (it is cancelled), and the job's
                // outputs carry the input's error to the next wait.
                if let Some(f) = on_input_error {
                    f(&e);
                }
                return Err(e);
            }
        };
        // A pending input's slot goes here too: a donated input's buffer is
        // then held by `bufs` alone.
        drop(inputs);
        work(bufs)
    }));
    let result = match result {
        Ok(r) => r,
        Err(p) => Err(panic_error(p)),
    };
    match result {
        Ok(bufs) if bufs.len() == outputs.len() => {
            for (s, b) in outputs.iter().zip(bufs) {
                s.set(Ok(b));
            }
        }
        Ok(bufs) => {
            let e = Error::Internal(format!(
                "a queued job returned {} outputs, expected {}",
                bufs.len(),
                outputs.len()
            ));
            outputs.iter().for_each(|s| s.set(Err(e.clone())));
        }
        Err(e) => outputs.iter().for_each(|s| s.set(Err(e.clone()))),
    }
}

/// One replica's work for `enqueue_replicas`: the device, its inputs, and
/// the work (which receives its rank).
pub struct Replica {
    pub device: Arc<Device>,
    pub inputs: Vec<Input>,
    pub work: ReplicaWork,
    /// Called instead of `work` when an input failed (poisons the
    /// communicator: the other replicas must not wait for this one).
    pub on_input_error: OnInputError,
}

/// A replica's run: its inputs in, its outputs out.
pub type ReplicaWork = Box<dyn FnOnce(&[Buffer]) -> Result<Vec<Buffer>> + Send>;

/// Queue one job per replica, each on its own device and in its own pool;
/// returns each replica's pending outputs. Jobs of different calls reach
/// every device in the same order (a global lock), so replicas that
/// rendezvous in collectives can never wait on each other crosswise.
pub fn enqueue_replicas(replicas: Vec<Replica>, n_out: usize) -> Vec<Vec<Arc<Slot>>> {
    static ORDER: Mutex<()> = Mutex::new(());
    let _order = ORDER.lock().unwrap_or_else(|e| e.into_inner());
    replicas
        .into_iter()
        .map(|r| {
            let outputs: Vec<Arc<Slot>> = (0..n_out).map(|_| Slot::pending()).collect();
            r.device.push(Job {
                inputs: r.inputs,
                work: {
                    let w = r.work;
                    Box::new(move |b: Vec<Buffer>| w(&b))
                },
                on_input_error: Some(r.on_input_error),
                outputs: outputs.clone(),
                own_pool: true,
            });
            outputs
        })
        .collect()
}

static DEVICES: OnceLock<Vec<Arc<Device>>> = OnceLock::new();

fn make_devices(n: usize) -> Vec<Arc<Device>> {
    let n = n.max(1);
    if n == 1 {
        return vec![Arc::new(Device::new(0))];
    }
    // The cores are divided among the devices (at least one thread each).
    let total = rayon::current_num_threads();
    let per = (total / n).max(1);
    (0..n)
        .map(|id| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(per)
                .thread_name(move |i| format!("rjax-dev{id}-{i}"))
                .build()
                .ok()
                .map(Arc::new);
            Arc::new(Device::with_pool(id, pool))
        })
        .collect()
}

/// The CPU devices: `RJAX_NUM_CPU_DEVICES` of them (default 1) unless
/// `init_devices` chose first.
pub fn devices() -> &'static [Arc<Device>] {
    DEVICES.get_or_init(|| {
        let n = std::env::var("RJAX_NUM_CPU_DEVICES")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(1);
        make_devices(n)
    })
}

/// Create `n` devices; an error once devices exist with another count.
pub fn init_devices(n: usize) -> Result<&'static [Arc<Device>]> {
    let d = DEVICES.get_or_init(|| make_devices(n));
    if d.len() != n.max(1) {
        return Err(Error::Internal(format!(
            "rjax already runs with {} CPU device(s); set the device count \
             (RJAX_NUM_CPU_DEVICES or rjax_num_cpu_devices) before the first computation",
            d.len()
        )));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(v: f32) -> Buffer {
        Buffer::from_vec::<f32>(vec![], &[v]).unwrap()
    }

    fn get(b: &Buffer) -> f32 {
        b.slice::<f32>().unwrap()[0]
    }

    #[test]
    fn jobs_run_in_order_and_chain() {
        let dev = Arc::new(Device::new(7));
        let mut x = Input::Ready(scalar(1.0));
        for _ in 0..100 {
            let out = dev.enqueue(vec![x], 1, |b| {
                Ok(vec![scalar(get(&b[0]) * 2.0 - 1.0 + 1.0)])
            });
            x = Input::Pending(out[0].clone());
        }
        let Input::Pending(s) = x else { panic!() };
        assert_eq!(get(&s.wait().unwrap()), (2.0f32).powi(100));
        dev.synchronize();
        assert_eq!(dev.pending(), 0);
    }

    #[test]
    fn errors_flow_to_dependents_and_the_device_survives() {
        let dev = Arc::new(Device::new(8));
        let bad = dev.enqueue(vec![], 1, |_| Err(Error::Internal("boom".into())));
        let dep = dev.enqueue(vec![Input::Pending(bad[0].clone())], 1, |b| {
            Ok(vec![b[0].clone()])
        });
        let panics = dev.enqueue(vec![], 1, |_| panic!("kaboom"));
        let good = dev.enqueue(vec![], 1, |_| Ok(vec![scalar(3.0)]));
        assert!(bad[0].wait().unwrap_err().to_string().contains("boom"));
        assert!(dep[0].wait().unwrap_err().to_string().contains("boom"));
        assert!(panics[0].wait().unwrap_err().to_string().contains("kaboom"));
        assert_eq!(get(&good[0].wait().unwrap()), 3.0);
    }
}
