//! The rendezvous between the device threads of one `pmap` call.
//!
//! Each replica (one per device) runs the same Program on its own worker
//! thread. A collective op deposits the replica's buffer, waits until every
//! replica has deposited, and reads all of them (`Comm::exchange`); each
//! replica then reduces them in replica order, so every replica (and every
//! run) gets the same bits. A replica that fails poisons the communicator,
//! which wakes the others with an error instead of leaving them waiting.
use crate::buffer::Buffer;
use crate::error::{Error, Result};
use std::cell::RefCell;
use std::sync::{Arc, Condvar, Mutex};

pub struct Comm {
    n: usize,
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
    poisoned: Option<String>,
}

impl Comm {
    pub fn new(n: usize) -> Arc<Comm> {
        Arc::new(Comm {
            n,
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

    pub fn size(&self) -> usize {
        self.n
    }

    fn check(s: &State) -> Result<()> {
        match &s.poisoned {
            Some(m) => Err(Error::Internal(format!(
                "a collective was abandoned because another device failed: {m}"
            ))),
            None => Ok(()),
        }
    }

    /// Every replica's `buf`, in replica order.
    pub fn exchange(&self, rank: usize, buf: Buffer) -> Result<Arc<Vec<Buffer>>> {
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
            s.result = Arc::new(all);
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

    /// Wake every waiting replica with an error (a replica failed).
    pub fn poison(&self, why: &str) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.poisoned.is_none() {
            s.poisoned = Some(why.to_string());
        }
        self.cv.notify_all();
    }
}

thread_local! {
    static REPLICA: RefCell<Option<(Arc<Comm>, usize)>> = const { RefCell::new(None) };
}

/// Run `f` as replica `rank` of `comm` (collective kernels find it here).
pub fn as_replica<T>(comm: &Arc<Comm>, rank: usize, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let prev = REPLICA.with(|r| r.borrow_mut().replace((Arc::clone(comm), rank)));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    REPLICA.with(|r| *r.borrow_mut() = prev);
    let out = match out {
        Ok(r) => r,
        Err(p) => {
            comm.poison("a device panicked");
            std::panic::resume_unwind(p)
        }
    };
    if let Err(e) = &out {
        comm.poison(&e.to_string());
    }
    out
}

/// The communicator and rank of the replica running on this thread.
pub fn current(op: &str) -> Result<(Arc<Comm>, usize)> {
    REPLICA.with(|r| r.borrow().clone()).ok_or_else(|| {
        Error::Internal(format!(
            "{op}: a collective ran outside pmap (no replica on this thread)"
        ))
    })
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
}
