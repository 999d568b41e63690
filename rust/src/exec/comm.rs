//! The rendezvous between the device threads of one `pmap` call.
//!
//! Each replica (one per device) runs the same Program on its own worker
//! thread. A collective op deposits the replica's buffer, waits until every
//! replica has deposited, and reads all of them (`Comm::exchange`); each
//! replica then reduces them in replica order, so every replica (and every
//! run) gets the same bits. A replica that fails poisons the communicator,
//! which wakes the others with an error instead of leaving them waiting.
//!
//! Across processes (MPI, `rjax.distributed`), a communicator also spans the
//! other processes' devices: this process's replicas are global ranks
//! `offset .. offset + n` of `global`. The last local replica to arrive
//! meets the other processes through the `Transport` (an allgather of
//! equal-sized byte blocks in process order), so every process sees the same
//! data in the same order. Reductions combine the local replicas first and
//! exchange one partial result per process (`exchange_reduced`).
use crate::base::buffer::Buffer;
use crate::base::error::{Error, Result};
use crate::ops::collective::Communicator;
use std::sync::{Arc, Condvar, Mutex, RwLock};

/// How the processes of a multi-process job meet: every process calls
/// `allgather` with a block of the same size, in the same order, and gets
/// all blocks concatenated in process order.
pub trait Transport: Send + Sync {
    fn process_index(&self) -> usize;
    fn process_count(&self) -> usize;
    fn allgather(&self, block: &[u8]) -> Result<Vec<u8>>;
}

static TRANSPORT: RwLock<Option<Arc<dyn Transport>>> = RwLock::new(None);

/// Install (or remove) the transport used by communicators that span processes.
pub fn set_transport(t: Option<Arc<dyn Transport>>) {
    *TRANSPORT.write().unwrap_or_else(|e| e.into_inner()) = t;
}

pub fn transport() -> Option<Arc<dyn Transport>> {
    TRANSPORT.read().unwrap_or_else(|e| e.into_inner()).clone()
}

pub struct Comm {
    n: usize,
    /// Global rank of local replica 0, and the number of replicas in all
    /// processes (`global == n` within one process).
    offset: usize,
    global: usize,
    transport: Option<Arc<dyn Transport>>,
    state: Mutex<State>,
    cv: Condvar,
}

struct State {
    slots: Vec<Option<Buffer>>,
    arrived: usize,
    /// Replicas that still have to read the last round's result.
    readers: usize,
    round: u64,
    result: Arc<Vec<Buffer>>,
    /// The first failure of any replica: every replica of this
    /// communicator fails with it from then on.
    poisoned: Option<Error>,
}

impl Comm {
    pub fn new(n: usize) -> Arc<Comm> {
        Self::build(n, 0, n, None)
    }

    /// A communicator whose `n` local replicas are global ranks
    /// `t.process_index() * n ..` of `n * t.process_count()`.
    pub fn spanning(n: usize, t: Arc<dyn Transport>) -> Arc<Comm> {
        let (p, count) = (t.process_index(), t.process_count());
        Self::build(n, p * n, n * count, Some(t))
    }

    fn build(n: usize, offset: usize, global: usize, t: Option<Arc<dyn Transport>>) -> Arc<Comm> {
        Arc::new(Comm {
            n,
            offset,
            global,
            transport: t,
            state: Mutex::new(State {
                slots: vec![None; n],
                arrived: 0,
                readers: 0,
                round: 0,
                result: Arc::new(Vec::new()),
                poisoned: None,
            }),
            cv: Condvar::new(),
        })
    }

    /// The number of replicas in all processes.
    pub fn size(&self) -> usize {
        self.global
    }

    /// The global rank of local replica `rank`.
    pub fn global_rank(&self, rank: usize) -> usize {
        self.offset + rank
    }

    fn check(s: &State) -> Result<()> {
        match &s.poisoned {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Every replica's `buf` (in all processes), in global rank order.
    pub fn exchange(&self, rank: usize, buf: Buffer) -> Result<Arc<Vec<Buffer>>> {
        self.meet(rank, buf, |local| self.across(local))
    }

    /// `combine` of every replica's `buf`: the local replicas are combined in
    /// rank order, then each process's partial result in process order. The
    /// result (one buffer) is the same on every replica.
    pub fn exchange_reduced(
        &self,
        rank: usize,
        buf: Buffer,
        combine: impl Fn(&[Buffer]) -> Result<Buffer>,
    ) -> Result<Buffer> {
        let out = self.meet(rank, buf, |local| {
            let partial = combine(&local)?;
            if self.transport.is_none() {
                return Ok(vec![partial]);
            }
            let parts = self.across(vec![partial])?;
            Ok(vec![combine(&parts)?])
        })?;
        Ok(out[0].clone())
    }

    /// The local buffers, joined with the other processes' (same sizes, in
    /// process order).
    fn across(&self, local: Vec<Buffer>) -> Result<Vec<Buffer>> {
        let t = match &self.transport {
            None => return Ok(local),
            Some(t) => t,
        };
        let sizes: Vec<usize> = local.iter().map(|b| b.data.len()).collect();
        let block: usize = sizes.iter().sum();
        let mut send = Vec::with_capacity(block);
        for b in &local {
            send.extend_from_slice(b.data.bytes());
        }
        let all = t.allgather(&send)?;
        let count = t.process_count();
        crate::ensure!(
            all.len() == block * count,
            "cross-process exchange: got {} bytes, expected {} from {} processes",
            all.len(),
            block * count,
            count
        );
        let mut out = Vec::with_capacity(local.len() * count);
        for p in 0..count {
            let mut off = p * block;
            for (b, &sz) in local.iter().zip(&sizes) {
                out.push(Buffer::from_bytes(
                    b.dtype,
                    b.shape.clone(),
                    &all[off..off + sz],
                )?);
                off += sz;
            }
        }
        Ok(out)
    }

    /// The rendezvous: the last replica to arrive turns the local buffers
    /// (in rank order) into the round's result with `finish`; everyone gets it.
    fn meet(
        &self,
        rank: usize,
        buf: Buffer,
        finish: impl FnOnce(Vec<Buffer>) -> Result<Vec<Buffer>>,
    ) -> Result<Arc<Vec<Buffer>>> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        // Wait until everyone has read the previous round.
        while s.readers > 0 {
            Self::check(&s)?;
            s = self.cv.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        Self::check(&s)?;
        s.slots[rank] = Some(buf);
        s.arrived += 1;
        if s.arrived == self.n {
            let all: Vec<Buffer> = s.slots.iter_mut().map(|b| b.take().unwrap()).collect();
            let result = match finish(all) {
                Ok(r) => r,
                Err(e) => {
                    s.arrived = 0;
                    s.poisoned = Some(e.clone());
                    self.cv.notify_all();
                    return Err(e);
                }
            };
            s.result = Arc::new(result);
            s.arrived = 0;
            s.readers = self.n;
            s.round += 1;
            self.cv.notify_all();
        } else {
            let round = s.round;
            while s.round == round {
                Self::check(&s)?;
                s = self.cv.wait(s).unwrap_or_else(|e| e.into_inner());
            }
        }
        let out = Arc::clone(&s.result);
        s.readers -= 1;
        if s.readers == 0 {
            s.result = Arc::new(Vec::new());
            self.cv.notify_all();
        }
        Ok(out)
    }

    /// A replica failed: wake every waiting replica with `why` (the first
    /// failure wins), and fail every later arrival with it too.
    pub fn poison(&self, why: &Error) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.poisoned.is_none() {
            s.poisoned = Some(why.clone());
        }
        self.cv.notify_all();
    }
}

impl Communicator for Comm {
    fn exchange(&self, rank: usize, buf: Buffer) -> Result<Arc<Vec<Buffer>>> {
        Comm::exchange(self, rank, buf)
    }
    fn exchange_reduced(
        &self,
        rank: usize,
        buf: Buffer,
        combine: &dyn Fn(&[Buffer]) -> Result<Buffer>,
    ) -> Result<Buffer> {
        Comm::exchange_reduced(self, rank, buf, combine)
    }
    fn global_rank(&self, rank: usize) -> usize {
        Comm::global_rank(self, rank)
    }
    fn poison(&self, why: &Error) {
        Comm::poison(self, why)
    }
}

/// Poison `comm` with `why`: what a replica whose inputs failed (so that
/// it never runs) does instead of joining the collectives.
pub fn abandon(comm: &Comm, why: &Error) {
    comm.poison(why)
}

/// Run `f` as replica `rank` of `comm` (the collective ops find it).
pub fn as_replica<T>(comm: &Arc<Comm>, rank: usize, f: impl FnOnce() -> Result<T>) -> Result<T> {
    crate::ops::collective::as_replica(Arc::clone(comm) as Arc<dyn Communicator>, rank, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_gives_everyone_everything_in_rank_order() {
        let n = 4;
        let comm = Comm::new(n);
        let handles: Vec<_> = (0..n)
            .map(|r| {
                let c = Arc::clone(&comm);
                std::thread::spawn(move || {
                    let mut seen = vec![];
                    for round in 0..50 {
                        let b =
                            Buffer::from_vec::<i32>(vec![], &[(r * 1000 + round) as i32]).unwrap();
                        let all = c.exchange(r, b).unwrap();
                        seen.push(
                            all.iter()
                                .map(|b| b.slice::<i32>().unwrap()[0])
                                .collect::<Vec<_>>(),
                        );
                    }
                    seen
                })
            })
            .collect();
        for h in handles {
            let seen = h.join().unwrap();
            for (round, v) in seen.iter().enumerate() {
                let want: Vec<i32> = (0..n).map(|r| (r * 1000 + round) as i32).collect();
                assert_eq!(v, &want);
            }
        }
    }

    #[test]
    fn a_failed_replica_wakes_the_others() {
        let comm = Comm::new(2);
        let c = Arc::clone(&comm);
        let waiter = std::thread::spawn(move || {
            c.exchange(0, Buffer::from_vec::<i32>(vec![], &[1]).unwrap())
                .map(|_| ())
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        let r = as_replica(&comm, 1, || -> Result<()> {
            Err(Error::Internal("boom".into()))
        });
        assert!(r.is_err());
        let e = waiter.join().unwrap().unwrap_err().to_string();
        assert!(e.contains("boom"), "{e}");
    }

    /// Two "processes" in one test: each a communicator of 2 replicas whose
    /// transport meets the other's through a shared table.
    /// (each process's posted bytes, round, arrivals) and its condvar.
    type Table = Arc<(Mutex<(Vec<Option<Vec<u8>>>, u64, usize)>, Condvar)>;

    struct Pair {
        index: usize,
        shared: Table,
    }

    impl Transport for Pair {
        fn process_index(&self) -> usize {
            self.index
        }
        fn process_count(&self) -> usize {
            2
        }
        fn allgather(&self, block: &[u8]) -> Result<Vec<u8>> {
            let (m, cv) = &*self.shared;
            let mut s = m.lock().unwrap();
            while s.2 > 0 {
                s = cv.wait(s).unwrap(); // the previous round is still being read
            }
            s.0[self.index] = Some(block.to_vec());
            let round = s.1;
            if s.0.iter().all(|b| b.is_some()) {
                s.1 += 1;
                s.2 = 2;
                cv.notify_all();
            }
            while s.1 == round {
                s = cv.wait(s).unwrap();
            }
            let all: Vec<u8> = s.0.iter().flat_map(|b| b.clone().unwrap()).collect();
            s.2 -= 1;
            if s.2 == 0 {
                s.0 = vec![None, None];
                cv.notify_all();
            }
            Ok(all)
        }
    }

    #[test]
    fn spanning_comms_see_every_process_in_global_order() {
        let shared = Arc::new((Mutex::new((vec![None, None], 0, 0)), Condvar::new()));
        let comms: Vec<Arc<Comm>> = (0..2)
            .map(|p| {
                let t = Pair {
                    index: p,
                    shared: Arc::clone(&shared),
                };
                Comm::spanning(2, Arc::new(t))
            })
            .collect();
        let mut handles = vec![];
        for c in &comms {
            for r in 0..2 {
                let c = Arc::clone(c);
                handles.push(std::thread::spawn(move || {
                    let g = c.global_rank(r);
                    let mine = Buffer::from_vec::<i32>(vec![], &[g as i32 * 10]).unwrap();
                    let all = c.exchange(r, mine.clone()).unwrap();
                    let seen: Vec<i32> = all.iter().map(|b| b.slice::<i32>().unwrap()[0]).collect();
                    let sum = c
                        .exchange_reduced(r, mine, |bs| {
                            let s: i32 = bs.iter().map(|b| b.slice::<i32>().unwrap()[0]).sum();
                            Buffer::from_vec::<i32>(vec![], &[s])
                        })
                        .unwrap();
                    (g, seen, sum.slice::<i32>().unwrap()[0])
                }));
            }
        }
        let mut ranks = vec![];
        for h in handles {
            let (g, seen, sum) = h.join().unwrap();
            assert_eq!(seen, vec![0, 10, 20, 30]);
            assert_eq!(sum, 60);
            ranks.push(g);
        }
        ranks.sort();
        assert_eq!(ranks, vec![0, 1, 2, 3]);
        assert_eq!(comms[1].size(), 4);
    }
}
