//! Per-process reads spread over the machine's cores. A survey reads a few
//! small procfs files for thousands of processes, one after another; each
//! read is independent and the kernel serves reads of different processes
//! in parallel. Splitting a batch over a few threads shortens a cycle's
//! wall time (and the window between reading the table and acting on it)
//! without changing what is read: the results come back in input order,
//! exactly as a sequential loop would return them.
//!
//! Only reads go through here. Decisions, signals and state stay on the
//! calling thread.

use std::sync::OnceLock;

use crate::sys::proc::ProcSource;

/// Most threads a batch is split over: beyond this, procfs path lookups
/// and thread starts cost more than they save.
const MAX_WORKERS: usize = 4;

/// Fewest items worth a thread of their own (a thread costs tens of
/// microseconds to start; one procfs read a few).
pub(crate) const MIN_PER_WORKER: usize = 64;

/// Threads a batch may use here: the CPUs this process may run on (cgroup
/// quota and affinity included), at most [`MAX_WORKERS`].
pub(crate) fn workers() -> usize {
    static WORKERS: OnceLock<usize> = OnceLock::new();
    *WORKERS.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_WORKERS)
    })
}

/// `read` of every item, in input order, on up to [`workers`] threads.
pub(crate) fn map<T: Sync, R: Send>(items: &[T], read: impl Fn(&T) -> R + Sync) -> Vec<R> {
    map_with(items, workers(), MIN_PER_WORKER, read)
}

/// [`map`] with the split spelled out: `workers` threads at most, each
/// given at least `min_per_worker` items (fewer items run on the caller's
/// thread alone).
pub(crate) fn map_with<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    min_per_worker: usize,
    read: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = workers.min(items.len() / min_per_worker.max(1)).max(1);
    if threads == 1 {
        return items.iter().map(&read).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let read = &read;
    std::thread::scope(|scope| {
        let mut chunks = items.chunks(chunk);
        // The caller's thread takes the first chunk itself.
        let first = chunks.next().unwrap_or_default();
        let others: Vec<_> = chunks
            .map(|c| scope.spawn(move || c.iter().map(read).collect::<Vec<R>>()))
            .collect();
        let mut out: Vec<R> = first.iter().map(read).collect();
        out.reserve(items.len() - out.len());
        for h in others {
            match h.join() {
                Ok(part) => out.extend(part),
                // A read that panicked is a bug: carry it to the caller, as
                // the sequential loop would.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

/// `read(source, pid)` for every pid, in order: spread over threads when
/// the source may be shared between them (the live `/proc` reader), on the
/// caller's thread otherwise (test fakes that count their reads).
pub(crate) fn per_pid<R: Send>(
    source: &dyn ProcSource,
    pids: &[i32],
    read: impl Fn(&dyn ProcSource, i32) -> R + Sync,
) -> Vec<R> {
    match source.shared() {
        Some(shared) => map(pids, |&pid| read(shared, pid)),
        None => pids.iter().map(|&pid| read(source, pid)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_input_order_whatever_the_split() {
        let items: Vec<u32> = (0..1000).collect();
        for workers in [1, 2, 3, 4, 7] {
            for min in [1, 10, 128, 999, 1000, 5000] {
                let got = map_with(&items, workers, min, |x| x * 2);
                let want: Vec<u32> = items.iter().map(|x| x * 2).collect();
                assert_eq!(got, want, "workers {workers}, min {min}");
            }
        }
        assert!(map_with(&[] as &[u32], 4, 1, |x| *x).is_empty());
    }

    #[test]
    fn a_large_batch_runs_on_several_threads_and_a_small_one_on_the_caller() {
        use std::collections::HashSet;
        use std::sync::Mutex;
        let items: Vec<u32> = (0..64).collect();
        let seen = Mutex::new(HashSet::new());
        map_with(&items, 4, 16, |_| {
            seen.lock().unwrap().insert(std::thread::current().id());
        });
        assert_eq!(seen.lock().unwrap().len(), 4);

        let seen = Mutex::new(HashSet::new());
        map_with(&items, 4, 64, |_| {
            seen.lock().unwrap().insert(std::thread::current().id());
        });
        let ids = seen.into_inner().unwrap();
        assert_eq!(ids, HashSet::from([std::thread::current().id()]));
    }

    #[test]
    #[should_panic(expected = "read 777")]
    fn a_panic_in_a_worker_reaches_the_caller() {
        let items: Vec<u32> = (0..1000).collect();
        map_with(&items, 4, 1, |&x| {
            assert_ne!(x, 777, "read {x}");
            x
        });
    }

    #[test]
    fn workers_is_between_one_and_the_cap() {
        assert!((1..=MAX_WORKERS).contains(&workers()));
    }
}
