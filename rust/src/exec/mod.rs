//! Execution: the `Executable` that runs a compiled Program, the fused tile
//! runner, devices (thread pools with in-order queues) and communicators.
pub mod comm;
pub mod device;
pub mod executable;
pub(crate) mod frame;
pub mod fused;
pub mod native;

#[cfg(test)]
mod fuzz_tests;

/// Size the global thread pool (Python's import and the Rust API's first
/// load call it): `RJAX_NUM_THREADS` if set, else the CPUs in this process's
/// affinity mask (what `available_parallelism` reports).
pub fn init_threads() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let n = std::env::var("RJAX_NUM_THREADS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            });
        // Fails only if the pool already exists (e.g. a second import): keep it.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("rjax-cpu-{i}"))
            .build_global();
    });
}
