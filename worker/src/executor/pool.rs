//! The threads that run a process's executors: a few pool threads (about one per core), each
//! executor a task on them, as timely runs every operator of a worker on one thread per core.
//!
//! With a thread per executor every hop of a tuple woke the next executor's thread (a futex
//! wake and a context switch, ~5 µs each here), so at a modest 20 k sentences/s word count
//! spent most of a core waking threads. Here, waking an executor from a pool thread puts it at
//! the front of that thread's queue: the hop is a queue push and the next executor runs right
//! after, on the same thread, with no system call. Another thread is only woken when there is
//! work to share (an executor that still has input waits behind others), so a lightly loaded
//! topology runs on one thread and a loaded one spreads over all of them; a thread with
//! nothing of its own takes work from the others' queues.
//!
//! An executor runs in steps ([`Task::step`]): a bounded slice of work, then it says whether it
//! has more ([`Step::Busy`]), waits to be woken or for a deadline ([`Step::Idle`]), or has
//! stopped. It never blocks the thread on a queue: a full destination queue parks the executor
//! (see `outbox`), not the thread. User code that blocks inside `execute` does hold a pool
//! thread; the other threads take over the rest of the work meanwhile.
//!
//! The scheduling state of an executor is one atomic (`IDLE`, `SCHEDULED`, `RUNNING`,
//! `NOTIFIED`, `DONE`): a wake while it runs is remembered and runs it again, so no wake is
//! lost, and it is never queued twice.

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

/// What a step of an executor ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// It has more to do now: run it again after the others waiting.
    Busy,
    /// It may have something to do in a moment: run it again after the others waiting, but
    /// do not wake another thread for it (an idle spout's few quick retries).
    Yield,
    /// Nothing to do until it is woken, or until the deadline when there is one.
    Idle(Option<Instant>),
    /// It stopped; it never runs again.
    Done,
}

/// An executor as the pool runs it.
pub(crate) trait Task: Send {
    /// Does a bounded slice of work. `wake` wakes this task; it is handed to whatever the task
    /// waits on (room in a full queue, say).
    fn step(&mut self, wake: &Wake) -> Step;
}

const IDLE: u8 = 0;
const SCHEDULED: u8 = 1;
const RUNNING: u8 = 2;
const NOTIFIED: u8 = 3;
const DONE: u8 = 4;

/// A sleeping thread with queued work elsewhere looks again this often: a thread stuck in a
/// long `execute` must not hold up what was queued behind it for long.
const SHARE_CHECK: Duration = Duration::from_millis(1);
/// Longest a thread with nothing to do sleeps before looking again. It also bounds how late a
/// timer fires when the thread that was to wake for it was woken for other work and then spends
/// that long in one step (a busy thread looks at the timers every 32 steps). 10 ms cost idle
/// workers a few percent of a core in wake-ups.
const MAX_SLEEP: Duration = Duration::from_millis(100);
/// A thread takes from the shared queue first every this many runs, so work injected from
/// outside the pool (the network, commands) never waits behind a busy thread's own queue.
const INJECTOR_EVERY: u32 = 16;
/// Steps run from the front of a thread's queue in a row before it takes the oldest entry, so
/// executors that keep waking each other cannot starve the rest.
const FRONT_RUNS: u32 = 8;

/// Wakes one executor; cheap to clone and to call from any thread.
#[derive(Clone)]
pub(crate) struct Wake(Arc<Entry>);

struct Entry {
    state: AtomicU8,
    task: Mutex<Option<Box<dyn Task>>>,
    /// The deadline registered in the timer heap, in ns since the pool's epoch; 0 for none.
    deadline: AtomicU64,
    pool: Arc<Shared>,
    span: tracing::Span,
}

impl Wake {
    /// Makes the executor run soon (again, if it is running now).
    pub fn wake(&self) {
        let entry = &self.0;
        let mut state = entry.state.load(Ordering::Acquire);
        loop {
            let next = match state {
                IDLE => SCHEDULED,
                RUNNING => NOTIFIED,
                _ => return,
            };
            match entry.state.compare_exchange_weak(
                state,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) if next == SCHEDULED => {
                    entry.pool.schedule(Arc::clone(entry), Push::Woken);
                    return;
                }
                Ok(_) => return,
                Err(now) => state = now,
            }
        }
    }

    /// Whether two handles wake the same executor.
    pub fn same(&self, other: &Wake) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::fmt::Debug for Wake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Wake")
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Push {
    /// Woken by another executor (or a timer): run it next on this thread.
    Woken,
    /// It was busy: behind the others.
    Busy,
    /// It yielded: behind the others, and no reason to wake another thread.
    Yielded,
}

struct Timer {
    at: u64,
    entry: Arc<Entry>,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}
impl Eq for Timer {}
impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timer {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.at.cmp(&other.at)
    }
}

struct Shared {
    id: usize,
    epoch: Instant,
    /// Each thread's queue: its own wakes at the front, yields at the back; others steal the back.
    queues: Vec<Mutex<VecDeque<Arc<Entry>>>>,
    /// Wakes from outside the pool (the network, commands).
    injector: Mutex<VecDeque<Arc<Entry>>>,
    timers: Mutex<BinaryHeap<Reverse<Timer>>>,
    /// Threads asleep (or about to be), by index.
    sleepers: Mutex<Vec<usize>>,
    sleeping: AtomicUsize,
    /// When a sleeping thread will wake for timers (ns since the epoch; `u64::MAX`: none).
    /// A thread going to sleep with no earlier timer than that sleeps until woken, so a
    /// deadline wakes one thread, not all of them.
    timer_wake_at: AtomicU64,
    threads: Mutex<Vec<Thread>>,
    shutdown: AtomicBool,
}

thread_local! {
    /// The pool and index of the pool thread this is, if it is one.
    static CURRENT: Cell<(usize, usize)> = const { Cell::new((0, usize::MAX)) };
}

static NEXT_POOL_ID: AtomicUsize = AtomicUsize::new(1);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn now_ns(&self) -> u64 {
        (self.epoch.elapsed().as_nanos() as u64).max(1)
    }

    fn to_ns(&self, at: Instant) -> u64 {
        (at.saturating_duration_since(self.epoch).as_nanos() as u64).max(1)
    }

    /// This pool's index for the calling thread, when it is one of the pool's threads.
    fn current(&self) -> Option<usize> {
        let (pool, index) = CURRENT.with(Cell::get);
        (pool == self.id && index < self.queues.len()).then_some(index)
    }

    fn schedule(&self, entry: Arc<Entry>, push: Push) {
        match self.current() {
            Some(me) => {
                let queued = {
                    let mut q = lock(&self.queues[me]);
                    match push {
                        Push::Woken => q.push_front(entry),
                        Push::Busy | Push::Yielded => q.push_back(entry),
                    }
                    q.len()
                };
                // Share only real surplus: a busy executor (one that still has input)
                // waiting behind another. Wakes stay on this thread without waking anyone: a
                // woken executor with one batch is done sooner than another thread is awake,
                // and one with more comes back busy. (A thread stuck in a long `execute` has
                // its queue taken by a sleeper that looks again every `SHARE_CHECK`.)
                let surplus = push == Push::Busy && queued >= 2;
                if surplus {
                    self.wake_sleeper();
                }
            }
            None => {
                lock(&self.injector).push_back(entry);
                self.wake_sleeper();
            }
        }
    }

    fn wake_sleeper(&self) {
        // Pairs with the sleeper's SeqCst increment before its last look at the queues.
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst) == 0 {
            return;
        }
        let Some(index) = lock(&self.sleepers).pop() else {
            return;
        };
        if let Some(thread) = lock(&self.threads).get(index) {
            thread.unpark();
        }
    }

    fn has_queued_work(&self) -> bool {
        !lock(&self.injector).is_empty() || self.queues.iter().any(|q| !lock(q).is_empty())
    }

    /// The next executor for thread `me` to run.
    fn next(&self, me: usize, runs: u32, front_runs: &mut u32) -> Option<Arc<Entry>> {
        if runs.is_multiple_of(INJECTOR_EVERY)
            && let Some(e) = lock(&self.injector).pop_front()
        {
            return Some(e);
        }
        {
            let mut own = lock(&self.queues[me]);
            let entry = if *front_runs >= FRONT_RUNS {
                *front_runs = 0;
                own.pop_back()
            } else {
                *front_runs += 1;
                own.pop_front()
            };
            if entry.is_some() {
                return entry;
            }
        }
        *front_runs = 0;
        if let Some(e) = lock(&self.injector).pop_front() {
            return Some(e);
        }
        let n = self.queues.len();
        (1..n).find_map(|k| lock(&self.queues[(me + k) % n]).pop_back())
    }

    /// Wakes the executors whose deadline passed; how long until the next one.
    fn fire_timers(&self) -> Option<Duration> {
        let now = self.now_ns();
        let mut due = Vec::new();
        let next = {
            let mut timers = lock(&self.timers);
            while let Some(Reverse(t)) = timers.peek() {
                if t.at > now {
                    break;
                }
                let Some(Reverse(t)) = timers.pop() else {
                    break;
                };
                // A later registration replaced this one only if it is earlier; a stale entry
                // for a deadline that moved is skipped.
                if t.entry
                    .deadline
                    .compare_exchange(t.at, 0, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    due.push(t.entry);
                }
            }
            timers
                .peek()
                .map(|Reverse(t)| Duration::from_nanos(t.at - now))
        };
        for entry in due {
            Wake(entry).wake();
        }
        next
    }

    fn add_timer(&self, entry: &Arc<Entry>, at: Instant) {
        let at = self.to_ns(at);
        let mut current = entry.deadline.load(Ordering::Acquire);
        loop {
            // The earlier deadline stands: waking early is harmless, the executor asks again.
            if current != 0 && current <= at {
                return;
            }
            match entry.deadline.compare_exchange_weak(
                current,
                at,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => current = now,
            }
        }
        lock(&self.timers).push(Reverse(Timer {
            at,
            entry: Arc::clone(entry),
        }));
        // A pool thread adds timers for the executor it ran, and looks at them before it
        // sleeps; from outside, a sleeping thread may be waiting past this deadline.
        if self.current().is_none() {
            self.wake_sleeper();
        }
    }

    fn run(self: &Arc<Self>, entry: Arc<Entry>) {
        entry.state.store(RUNNING, Ordering::Release);
        let step = {
            let mut task = lock(&entry.task);
            let Some(t) = task.as_mut() else {
                // Woken before it was started: `start` wakes it again.
                entry.state.store(IDLE, Ordering::Release);
                return;
            };
            let _span = entry.span.enter();
            let wake = Wake(Arc::clone(&entry));
            let step =
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| t.step(&wake))) {
                    Ok(step) => step,
                    Err(payload) => {
                        // User code is guarded inside the executors; this is the runtime's own.
                        tracing::error!(
                            error = %super::panic_message(&*payload),
                            "executor stopped by a panic"
                        );
                        Step::Done
                    }
                };
            if step == Step::Done {
                // Dropped here, on a pool thread, while nothing else can run it.
                *task = None;
            }
            step
        };
        match step {
            Step::Done => entry.state.store(DONE, Ordering::Release),
            Step::Busy | Step::Yield => {
                entry.state.store(SCHEDULED, Ordering::Release);
                let push = if step == Step::Busy {
                    Push::Busy
                } else {
                    Push::Yielded
                };
                self.schedule(entry, push);
            }
            Step::Idle(deadline) => {
                if let Some(at) = deadline {
                    self.add_timer(&entry, at);
                }
                if entry
                    .state
                    .compare_exchange(RUNNING, IDLE, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
                {
                    // Woken while it ran: what woke it may be what it waits for.
                    entry.state.store(SCHEDULED, Ordering::Release);
                    self.schedule(entry, Push::Woken);
                }
            }
        }
    }

    fn thread_main(self: Arc<Self>, me: usize) {
        CURRENT.with(|c| c.set((self.id, me)));
        let mut runs = 0u32;
        let mut front_runs = 0u32;
        while !self.shutdown.load(Ordering::Acquire) {
            runs = runs.wrapping_add(1);
            if runs.is_multiple_of(32) {
                self.fire_timers();
            }
            if let Some(entry) = self.next(me, runs, &mut front_runs) {
                self.run(entry);
                continue;
            }
            let until_timer = self.fire_timers();
            if !lock(&self.queues[me]).is_empty() || !lock(&self.injector).is_empty() {
                continue;
            }
            lock(&self.sleepers).push(me);
            self.sleeping.fetch_add(1, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            // Wake for the next timer only if no other sleeper does so as early.
            let timer_at = until_timer.map(|t| self.now_ns() + t.as_nanos() as u64);
            let keeper =
                timer_at.filter(|&at| self.timer_wake_at.fetch_min(at, Ordering::AcqRel) > at);
            let mut sleep = match (keeper, until_timer) {
                (Some(_), Some(t)) => t.min(MAX_SLEEP),
                _ => MAX_SLEEP,
            };
            if !lock(&self.queues[me]).is_empty() || !lock(&self.injector).is_empty() {
                // Queued between the look above and becoming a sleeper.
                sleep = Duration::ZERO;
            } else if self.has_queued_work() {
                // Someone holds queued work: look again soon, to take it if they are stuck.
                sleep = sleep.min(SHARE_CHECK);
            }
            if !sleep.is_zero() && !self.shutdown.load(Ordering::Acquire) {
                std::thread::park_timeout(sleep);
            }
            if let Some(at) = keeper {
                // Another sleeper may have taken an earlier wake since: then it is its.
                let _ = self.timer_wake_at.compare_exchange(
                    at,
                    u64::MAX,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
            }
            self.sleeping.fetch_sub(1, Ordering::SeqCst);
            lock(&self.sleepers).retain(|&i| i != me);
        }
    }
}

/// A process's executor threads.
pub(crate) struct Pool {
    shared: Arc<Shared>,
    handles: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Starts `threads` pool threads (at least one), named `<name>-<n>`.
    pub fn new(threads: usize, name: &str) -> std::io::Result<Arc<Pool>> {
        let threads = threads.max(1);
        let shared = Arc::new(Shared {
            id: NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed),
            epoch: Instant::now(),
            queues: (0..threads).map(|_| Mutex::new(VecDeque::new())).collect(),
            injector: Mutex::new(VecDeque::new()),
            timers: Mutex::new(BinaryHeap::new()),
            sleepers: Mutex::new(Vec::new()),
            sleeping: AtomicUsize::new(0),
            timer_wake_at: AtomicU64::new(u64::MAX),
            threads: Mutex::new(Vec::new()),
            shutdown: AtomicBool::new(false),
        });
        let mut handles = Vec::with_capacity(threads);
        for i in 0..threads {
            let s = Arc::clone(&shared);
            let spawned = std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || s.thread_main(i));
            match spawned {
                Ok(h) => {
                    lock(&shared.threads).push(h.thread().clone());
                    handles.push(h);
                }
                Err(e) => {
                    let pool = Pool { shared, handles };
                    drop(pool);
                    return Err(e);
                }
            }
        }
        Ok(Arc::new(Pool { shared, handles }))
    }

    /// A place for an executor, to hand its wake to the queues that feed it before it starts;
    /// its steps run inside `span`.
    pub fn entry(&self, span: tracing::Span) -> Wake {
        Wake(Arc::new(Entry {
            state: AtomicU8::new(IDLE),
            task: Mutex::new(None),
            deadline: AtomicU64::new(0),
            pool: Arc::clone(&self.shared),
            span,
        }))
    }

    /// Starts an executor in its place: it runs as soon as a thread is free.
    pub fn start(&self, wake: &Wake, task: Box<dyn Task>) {
        *lock(&wake.0.task) = Some(task);
        wake.wake();
    }

    /// Registers and starts an executor.
    #[cfg(test)]
    pub fn spawn(&self, task: Box<dyn Task>) -> Wake {
        let wake = self.entry(tracing::Span::none());
        self.start(&wake, task);
        wake
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Release);
        for t in lock(&self.shared.threads).iter() {
            t.unpark();
        }
        let me = std::thread::current().id();
        for h in self.handles.drain(..) {
            // The last handle can be dropped by a task on a pool thread; it cannot join itself.
            if h.thread().id() != me {
                let _ = h.join();
            }
        }
        // Tasks left (not stopped) are dropped with their entries; timers hold entries too.
        lock(&self.shared.timers).clear();
        lock(&self.shared.injector).clear();
        for q in &self.shared.queues {
            lock(q).clear();
        }
    }
}

#[cfg(test)]
mod tests;
