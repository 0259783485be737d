//! A fork-join pool for the training step, whose helpers spin between
//! steps instead of sleeping.
//!
//! A minibatch step is a few hundred microseconds of work, repeated
//! thousands of times. Handing it to rayon from the training thread costs
//! 30–90 µs per parallel pass on a VM (measured on this project's 2-vCPU
//! machine: the caller blocks, and waking a sleeping worker goes through the
//! hypervisor). Here the caller works on the tasks itself, and helpers that
//! ran a task in the last few milliseconds are still spinning, so a handoff
//! costs well under a microsecond. A helper that has been idle for longer
//! parks; the caller then simply does more of the tasks itself, so a late
//! helper never delays a step.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long an idle helper spins before it parks: long enough to span the
/// gap between two steps, short enough that an idle process is idle.
const SPIN_BEFORE_PARK: Duration = Duration::from_millis(5);
/// Most helpers: a step has a handful of tasks (two blocks for a batch of
/// 200), and every helper spins a core while training runs.
const MAX_HELPERS: usize = 7;

/// One run's task, on the caller's stack for the length of the run.
struct Job<'a> {
    task: &'a (dyn Fn(usize) + Sync),
}

/// Most tasks one claim word can count; [`SpinPool::run`] groups larger
/// runs into at most this many tasks.
const MAX_TASKS: usize = 0xffff;

/// The claim word: run number (bits 32–63), the run's task count (16–31)
/// and its next unclaimed task (0–15). A helper's *ticket* is the word's
/// upper 48 bits as it read them; a claim succeeds only while the word
/// still carries that ticket, so a helper can only ever claim a task of the
/// run whose task count it read, however long it was preempted. The job is
/// loaded only after a claim succeeds: the claimed task is then unfinished,
/// so its run's caller is still waiting and the job it stored is current.
struct Shared {
    claim: AtomicU64,
    job: AtomicPtr<Job<'static>>,
    finished: AtomicUsize,
    panicked: AtomicBool,
    sleeping: AtomicUsize,
    wake: (Mutex<()>, Condvar),
    /// Test-only: runs once in the window between storing a run's job and
    /// publishing its claim word, where a stale helper once went wrong.
    #[cfg(test)]
    before_publish: Mutex<Option<PublishHook>>,
}

#[cfg(test)]
type PublishHook = Box<dyn FnOnce(&Shared) + Send>;

const TICKET_MASK: u64 = !0xffff;

fn ticket(run: u64, tasks: usize) -> u64 {
    (run << 32) | ((tasks as u64) << 16)
}

fn run_of(word: u64) -> u64 {
    word >> 32
}

fn tasks_of(word: u64) -> usize {
    ((word >> 16) & 0xffff) as usize
}

/// The pool; one per process, used by one step at a time.
pub(crate) struct SpinPool {
    shared: &'static Shared,
    helpers: usize,
    busy: AtomicBool,
}

/// The process's pool: one helper fewer than rayon's global threads (so
/// `RAYON_NUM_THREADS` applies), at most [`MAX_HELPERS`].
pub(crate) fn pool() -> &'static SpinPool {
    static POOL: OnceLock<SpinPool> = OnceLock::new();
    POOL.get_or_init(|| {
        SpinPool::new(
            rayon::current_num_threads()
                .saturating_sub(1)
                .min(MAX_HELPERS),
        )
    })
}

impl SpinPool {
    fn new(helpers: usize) -> Self {
        let shared: &'static Shared = Box::leak(Box::new(Shared {
            claim: AtomicU64::new(0),
            job: AtomicPtr::new(std::ptr::null_mut()),
            finished: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            sleeping: AtomicUsize::new(0),
            wake: (Mutex::new(()), Condvar::new()),
            #[cfg(test)]
            before_publish: Mutex::new(None),
        }));
        let mut started = 0;
        for i in 0..helpers {
            let spawned = std::thread::Builder::new()
                .name(format!("lintrain-step-{i}"))
                .spawn(move || helper_loop(shared));
            // Fewer helpers only means fewer hands: the caller runs every
            // task no helper claims.
            if spawned.is_ok() {
                started += 1;
            }
        }
        Self {
            shared,
            helpers: started,
            busy: AtomicBool::new(false),
        }
    }

    /// Runs `task(0..tasks)` on the caller and the helpers, and returns once
    /// every task has finished. The caller runs them alone when it is inside
    /// a one-thread rayon pool, or while another caller's run is in
    /// progress. A panic in a task is resumed on the caller.
    pub(crate) fn run(&self, tasks: usize, task: &(dyn Fn(usize) + Sync)) {
        if tasks > MAX_TASKS {
            // Contiguous groups of tasks, each group run by one hand.
            let per_group = tasks.div_ceil(MAX_TASKS);
            let groups = tasks.div_ceil(per_group);
            return self.run(groups, &|g| {
                (g * per_group..((g + 1) * per_group).min(tasks)).for_each(task)
            });
        }
        if tasks <= 1
            || self.helpers == 0
            || rayon::current_num_threads() <= 1
            || self.busy.swap(true, SeqCst)
        {
            (0..tasks).for_each(task);
            return;
        }
        let shared = self.shared;
        let job = Job { task };
        shared.finished.store(0, SeqCst);
        shared.panicked.store(false, SeqCst);
        // SAFETY: the pointer is dereferenced only after a claim for this
        // run's ticket succeeds (see `work_on`), and this function returns
        // only after every task of this run has finished, so `job` outlives
        // every use.
        let job_ptr = &job as *const Job<'_> as *mut Job<'static>;
        shared.job.store(job_ptr, SeqCst);
        #[cfg(test)]
        if let Some(hook) = lock(&shared.before_publish).take() {
            hook(shared);
        }
        let run = run_of(shared.claim.load(SeqCst)).wrapping_add(1) & 0xffff_ffff;
        let ticket = ticket(run, tasks);
        shared.claim.store(ticket, SeqCst);
        if shared.sleeping.load(SeqCst) > 0 {
            let _guard = lock(&shared.wake.0);
            shared.wake.1.notify_all();
        }
        let mut panic = None;
        while let Some(i) = claim(shared, ticket) {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| task(i))) {
                panic.get_or_insert(payload);
            }
            shared.finished.fetch_add(1, SeqCst);
        }
        while shared.finished.load(SeqCst) < tasks {
            std::hint::spin_loop();
        }
        shared.job.store(std::ptr::null_mut(), SeqCst);
        self.busy.store(false, SeqCst);
        if let Some(payload) = panic {
            resume_unwind(payload);
        }
        if shared.panicked.load(SeqCst) {
            panic!("a training-step task panicked on a helper thread");
        }
    }
}

/// A buffer whose tasks each write their own disjoint range.
pub(crate) struct DisjointSlices(*mut f32, usize);

// SAFETY: `range`'s contract makes every task's slice its own.
unsafe impl Sync for DisjointSlices {}

impl DisjointSlices {
    pub(crate) fn new(buffer: &mut [f32]) -> Self {
        Self(buffer.as_mut_ptr(), buffer.len())
    }

    /// Elements `start..start + len`.
    ///
    /// # Safety
    /// No other live slice from this value may overlap the range, and the
    /// buffer must outlive the result and not be used otherwise meanwhile.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn range(&self, start: usize, len: usize) -> &mut [f32] {
        assert!(start + len <= self.1, "range within the buffer");
        // SAFETY: in bounds (checked), and unaliased per the contract.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(start), len) }
    }

    /// The buffer's start and length, for tasks whose parts are not one
    /// range (a column panel of a matrix).
    ///
    /// # Safety
    /// Writes through the pointer must follow [`Self::range`]'s contract,
    /// element by element.
    pub(crate) unsafe fn raw(&self) -> (*mut f32, usize) {
        (self.0, self.1)
    }
}

/// Claims the next task of the run `ticket` names, if the claim word still
/// carries that ticket and the run has a task left.
fn claim(shared: &Shared, ticket: u64) -> Option<usize> {
    let mut word = shared.claim.load(SeqCst);
    loop {
        let next = (word & 0xffff) as usize;
        if word & TICKET_MASK != ticket || next >= tasks_of(word) {
            return None;
        }
        match shared
            .claim
            .compare_exchange_weak(word, word + 1, SeqCst, SeqCst)
        {
            Ok(_) => return Some(next),
            Err(current) => word = current,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn helper_loop(shared: &'static Shared) {
    let mut seen = 0u64;
    let mut idle_since = Instant::now();
    let mut spins = 0u32;
    loop {
        let word = shared.claim.load(SeqCst);
        let run = run_of(word);
        if run != seen {
            seen = run;
            work_on(shared, word & TICKET_MASK);
            idle_since = Instant::now();
            continue;
        }
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(1024) && idle_since.elapsed() > SPIN_BEFORE_PARK {
            let guard = lock(&shared.wake.0);
            shared.sleeping.fetch_add(1, SeqCst);
            // Re-checked under the lock: a run published before this point
            // is seen here, one published after it notifies.
            if run_of(shared.claim.load(SeqCst)) == seen {
                drop(shared.wake.1.wait(guard));
            }
            shared.sleeping.fetch_sub(1, SeqCst);
            idle_since = Instant::now();
        } else {
            std::hint::spin_loop();
        }
    }
}

/// Runs tasks of the run `ticket` names until none is left to claim.
fn work_on(shared: &Shared, ticket: u64) {
    while let Some(i) = claim(shared, ticket) {
        // Loaded after the claim, never before: see [`Shared`].
        let job = shared.job.load(SeqCst);
        // SAFETY: the claim succeeded for this run and task `i` is not
        // finished, so the run's caller is still inside `run`, and `job` is
        // the job it stored before publishing the ticket, alive on its stack.
        let task = unsafe { (*job).task };
        if catch_unwind(AssertUnwindSafe(|| task(i))).is_err() {
            shared.panicked.store(true, SeqCst);
        }
        shared.finished.fetch_add(1, SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicU32;

    fn counts(n: usize) -> Vec<AtomicU32> {
        (0..n).map(|_| AtomicU32::new(0)).collect()
    }

    #[test]
    fn every_task_runs_exactly_once() {
        let pool = SpinPool::new(3);
        for round in 0..2000 {
            let tasks = [0, 1, 2, 3, 7, 65][round % 6];
            let ran = counts(tasks);
            pool.run(tasks, &|i| {
                ran[i].fetch_add(1, SeqCst);
            });
            for (i, n) in ran.iter().enumerate() {
                assert_eq!(n.load(SeqCst), 1, "round {round}: task {i} of {tasks}");
            }
        }
    }

    #[test]
    fn parked_helpers_wake_and_runs_still_finish() {
        let pool = SpinPool::new(2);
        for _ in 0..3 {
            std::thread::sleep(SPIN_BEFORE_PARK * 3);
            let ran = counts(64);
            pool.run(64, &|i| {
                std::thread::sleep(Duration::from_micros(50));
                ran[i].fetch_add(1, SeqCst);
            });
            assert!(ran.iter().all(|n| n.load(SeqCst) == 1));
        }
    }

    #[test]
    fn concurrent_callers_each_run_all_their_tasks() {
        let pool = SpinPool::new(2);
        std::thread::scope(|s| {
            for caller in 0..4 {
                let pool = &pool;
                s.spawn(move || {
                    for round in 0..300 {
                        let tasks = 1 + (caller + round) % 9;
                        let ran = counts(tasks);
                        pool.run(tasks, &|i| {
                            ran[i].fetch_add(1, SeqCst);
                        });
                        assert!(ran.iter().all(|n| n.load(SeqCst) == 1));
                    }
                });
            }
        });
    }

    /// A pool whose helper count allows parallel runs but which has no
    /// helper threads, so a test can play a helper's part step by step.
    fn pool_without_threads() -> SpinPool {
        let mut pool = SpinPool::new(0);
        pool.helpers = 1;
        pool
    }

    /// The interleaving that used to break the pool, forced: a helper read
    /// run R's claim word, was preempted until R had finished, and resumes
    /// while run R + 1 (with more tasks) has stored its job but not yet
    /// published its claim word. It must not claim anything: before the
    /// fix it claimed task tasks(R) of R against R's stale word, ran it
    /// with R + 1's job, and R + 1 then ran that task a second time.
    #[test]
    fn a_helper_preempted_across_runs_claims_nothing_of_the_next_run() {
        if rayon::current_num_threads() <= 1 {
            // A one-thread pool runs every task on the caller, by design,
            // and has no helper protocol to test.
            return;
        }
        let pool = pool_without_threads();
        pool.run(2, &|_| {});
        let stale_word = pool.shared.claim.load(SeqCst);
        assert_eq!(tasks_of(stale_word), 2);

        let ran = counts(5);
        let hook_ran = Arc::new(AtomicBool::new(false));
        let hook_flag = Arc::clone(&hook_ran);
        *lock(&pool.shared.before_publish) = Some(Box::new(move |shared: &Shared| {
            // The stale helper resumes here, with the ticket it read.
            work_on(shared, stale_word & TICKET_MASK);
            hook_flag.store(true, SeqCst);
        }));
        pool.run(5, &|i| {
            ran[i].fetch_add(1, SeqCst);
        });
        assert!(hook_ran.load(SeqCst), "the forced interleaving did not run");
        for (i, n) in ran.iter().enumerate() {
            assert_eq!(n.load(SeqCst), 1, "task {i} of the second run");
        }
        assert_eq!(
            pool.shared.finished.load(SeqCst),
            5,
            "finished over-counted"
        );
    }

    /// More callers than cores, with task counts that grow and shrink from
    /// run to run (the shape of the old race) and tasks that yield, so
    /// helpers are preempted mid-run as often as the scheduler allows.
    #[test]
    fn stress_more_callers_than_cores_with_changing_task_counts() {
        let pool = SpinPool::new(3);
        let callers = 2 * std::thread::available_parallelism().map_or(2, |n| n.get()) + 2;
        std::thread::scope(|s| {
            for caller in 0..callers {
                let pool = &pool;
                s.spawn(move || {
                    for round in 0..400 {
                        let tasks = [2, 9, 3, 17, 1, 33, 4][(caller + round) % 7];
                        let ran = counts(tasks);
                        pool.run(tasks, &|i| {
                            if i % 3 == 0 {
                                std::thread::yield_now();
                            }
                            ran[i].fetch_add(1, SeqCst);
                        });
                        for (i, n) in ran.iter().enumerate() {
                            assert_eq!(n.load(SeqCst), 1, "caller {caller} round {round} task {i}");
                        }
                    }
                });
            }
        });
    }

    #[test]
    fn runs_beyond_the_claim_words_task_count_are_grouped() {
        let pool = SpinPool::new(2);
        let tasks = 3 * MAX_TASKS + 5;
        let ran = counts(tasks);
        pool.run(tasks, &|i| {
            ran[i].fetch_add(1, SeqCst);
        });
        assert!(ran.iter().all(|n| n.load(SeqCst) == 1));
    }

    #[test]
    fn a_panicking_task_reaches_the_caller_and_the_pool_goes_on() {
        let pool = SpinPool::new(2);
        for panicking in [0, 5] {
            let result = catch_unwind(AssertUnwindSafe(|| {
                pool.run(8, &|i| {
                    if i == panicking {
                        panic!("task {i} failed");
                    }
                });
            }));
            assert!(result.is_err(), "task {panicking}'s panic was lost");
            let ran = counts(8);
            pool.run(8, &|i| {
                ran[i].fetch_add(1, SeqCst);
            });
            assert!(ran.iter().all(|n| n.load(SeqCst) == 1));
        }
    }
}
