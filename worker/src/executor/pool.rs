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
//! (see `outbox`), not the thread.
//!
//! User code may still block inside a step (a sink waiting seconds for a broker that went
//! away, a shell component's subprocess). A watcher thread looks at the pool threads every
//! `WATCH_EVERY` (`WATCH_IDLE_EVERY` when none is in a step); one still inside the same step,
//! and asleep in the kernel, is handed off, as Go's runtime hands off a
//! thread stuck in a system call: its queue goes to the shared queue and a stand-in thread
//! (a parked spare, or a new one) runs the rest of the work, so blocked steps never take the
//! pool's whole capacity. When the blocked step returns and the pool has its full count of
//! unblocked threads, the extra thread parks as a spare.
//!
//! The scheduling state of an executor is one atomic (`IDLE`, `SCHEDULED`, `RUNNING`,
//! `NOTIFIED`, `DONE`): a wake while it runs is remembered and runs it again, so no wake is
//! lost, and it is never queued twice.

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, AtomicU64, AtomicUsize, Ordering, fence};
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
/// How often the watcher looks for threads blocked in one step while any thread is inside one:
/// a thread seen in the same step at two looks in a row (10 to 20 ms) is handed off. A step is
/// one batch, microseconds normally, so this only catches user code that blocks.
const WATCH_EVERY: Duration = Duration::from_millis(10);
/// How often the watcher looks while no thread was inside a step at its last look (an idle
/// worker): a block that starts then is caught within this plus two `WATCH_EVERY`.
const WATCH_IDLE_EVERY: Duration = Duration::from_millis(50);
/// Threads a pool may start beyond its size to stand in for blocked ones. Each blocked thread
/// holds a distinct executor, so this only binds with more than this many blocked at once.
const MAX_STAND_INS: usize = 1024;

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

/// One pool thread's place.
struct Slot {
    /// Its queue: its own wakes at the front, yields at the back; others steal the back.
    queue: Mutex<VecDeque<Arc<Entry>>>,
    /// Steps begun and ended by its thread: odd while inside one. The watcher compares it
    /// between looks; only the thread itself writes it.
    steps: AtomicU64,
    /// The watcher found its thread blocked in a step and started a stand-in.
    handed_off: AtomicBool,
    /// Its thread is a parked spare.
    spare: AtomicBool,
    /// Its thread's kernel id, to ask whether it is asleep; 0 until it starts.
    tid: AtomicI32,
}

impl Slot {
    fn new() -> Slot {
        Slot {
            queue: Mutex::new(VecDeque::new()),
            steps: AtomicU64::new(0),
            handed_off: AtomicBool::new(false),
            spare: AtomicBool::new(false),
            tid: AtomicI32::new(0),
        }
    }
}

/// How many threads run executors; changed only on a hand-off or when a blocked step returns.
struct Staffing {
    /// Threads not parked as spares, blocked ones included.
    running: usize,
    /// Of those, the ones handed off.
    blocked: usize,
    /// Slots whose thread is a parked spare.
    spares: Vec<usize>,
    handles: Vec<JoinHandle<()>>,
}

struct Shared {
    id: usize,
    name: String,
    epoch: Instant,
    /// Unblocked threads the pool keeps running.
    size: usize,
    /// A slot per possible thread; the first `live` have one.
    slots: Vec<Slot>,
    live: AtomicUsize,
    staffing: Mutex<Staffing>,
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
    /// Each live slot's thread, by index.
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
        (pool == self.id && index < self.slots.len()).then_some(index)
    }

    fn schedule(&self, entry: Arc<Entry>, push: Push) {
        // A handed-off thread is blocked in a step that may wake others: its queue is not
        // one to wait in.
        match self
            .current()
            .filter(|&me| !self.slots[me].handed_off.load(Ordering::Relaxed))
        {
            Some(me) => {
                let queued = {
                    let mut q = lock(&self.slots[me].queue);
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

    fn live_slots(&self) -> &[Slot] {
        &self.slots[..self.live.load(Ordering::Acquire)]
    }

    fn has_queued_work(&self) -> bool {
        !lock(&self.injector).is_empty()
            || self.live_slots().iter().any(|s| !lock(&s.queue).is_empty())
    }

    /// The next executor for thread `me` to run.
    fn next(&self, me: usize, runs: u32, front_runs: &mut u32) -> Option<Arc<Entry>> {
        if runs.is_multiple_of(INJECTOR_EVERY)
            && let Some(e) = lock(&self.injector).pop_front()
        {
            return Some(e);
        }
        {
            let mut own = lock(&self.slots[me].queue);
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
        let slots = self.live_slots();
        let n = slots.len();
        (1..n).find_map(|k| lock(&slots[(me + k) % n].queue).pop_back())
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
        // sleeps; from outside, or from a handed-off thread (which may park as a spare right
        // after), a sleeping thread may be waiting past this deadline.
        if self
            .current()
            .is_none_or(|me| self.slots[me].handed_off.load(Ordering::Relaxed))
        {
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

    /// Starts the thread of slot `me` (the next free one).
    fn spawn_thread(self: &Arc<Self>, staffing: &mut Staffing) -> std::io::Result<()> {
        let me = self.live.load(Ordering::Acquire);
        if me >= self.slots.len() {
            return Err(std::io::Error::other("no free pool slot"));
        }
        let shared = Arc::clone(self);
        let handle = std::thread::Builder::new()
            .name(format!("{}-{me}", self.name))
            .spawn(move || shared.thread_main(me))?;
        lock(&self.threads).push(handle.thread().clone());
        staffing.handles.push(handle);
        staffing.running += 1;
        // Published after its `Thread` is in place, so a wake for this slot finds it.
        self.live.store(me + 1, Ordering::Release);
        Ok(())
    }

    /// Moves a slot's queue to the shared one, for the other threads to run.
    fn requeue(&self, slot: &Slot) {
        let moved: Vec<_> = lock(&slot.queue).drain(..).collect();
        if !moved.is_empty() {
            lock(&self.injector).extend(moved);
            self.wake_sleeper();
        }
    }

    /// Looks for threads blocked in one step, and stands in for them.
    fn watch(self: Arc<Self>) {
        let mut seen: Vec<u64> = Vec::new();
        let mut every = WATCH_EVERY;
        while !self.shutdown.load(Ordering::Acquire) {
            std::thread::park_timeout(every);
            let slots = self.live_slots();
            seen.resize(slots.len(), 0);
            every = WATCH_IDLE_EVERY;
            for (i, slot) in slots.iter().enumerate() {
                let steps = slot.steps.load(Ordering::Relaxed);
                if steps % 2 == 1 {
                    every = WATCH_EVERY;
                }
                let same_step = steps % 2 == 1 && steps == seen[i];
                seen[i] = steps;
                if same_step
                    && !slot.handed_off.load(Ordering::Acquire)
                    && !on_cpu(slot.tid.load(Ordering::Relaxed))
                {
                    self.hand_off(i, steps);
                }
            }
        }
    }

    /// Slot `i`'s thread is blocked in step `steps`: its queued work goes to the others, and
    /// a stand-in thread runs when the unblocked ones are fewer than the pool's size.
    fn hand_off(self: &Arc<Self>, i: usize, steps: u64) {
        let mut staffing = lock(&self.staffing);
        let slot = &self.slots[i];
        // Looked at again under the lock: the step may have ended (and its thread parked as a
        // spare) since the watcher looked.
        if slot.steps.load(Ordering::Acquire) != steps
            || slot.handed_off.load(Ordering::Acquire)
            || slot.spare.load(Ordering::Acquire)
        {
            return;
        }
        slot.handed_off.store(true, Ordering::Release);
        staffing.blocked += 1;
        tracing::debug!(
            thread = i,
            "pool thread blocked in a step; a stand-in takes its work"
        );
        if staffing.running.saturating_sub(staffing.blocked) < self.size {
            if let Some(spare) = staffing.spares.pop() {
                self.slots[spare].spare.store(false, Ordering::Release);
                staffing.running += 1;
                if let Some(t) = lock(&self.threads).get(spare) {
                    t.unpark();
                }
            } else if let Err(e) = self.spawn_thread(&mut staffing) {
                // The other threads (if any) still take its work, as before any stand-in.
                tracing::warn!(error = %e, "could not start a pool thread to stand in for a blocked one");
            }
        }
        drop(staffing);
        self.requeue(slot);
    }

    /// The step slot `me` was handed off in returned: it runs on, or parks as a spare when the
    /// pool has its full count of unblocked threads without it.
    fn blocked_step_returned(&self, me: usize) {
        let slot = &self.slots[me];
        {
            let mut staffing = lock(&self.staffing);
            slot.handed_off.store(false, Ordering::Release);
            staffing.blocked -= 1;
            if staffing.running.saturating_sub(staffing.blocked) <= self.size {
                return;
            }
            staffing.running -= 1;
            staffing.spares.push(me);
            slot.spare.store(true, Ordering::Release);
        }
        self.requeue(slot);
        while slot.spare.load(Ordering::Acquire) && !self.shutdown.load(Ordering::Acquire) {
            std::thread::park();
        }
    }

    fn thread_main(self: Arc<Self>, me: usize) {
        CURRENT.with(|c| c.set((self.id, me)));
        // Until its `Thread` is in place a wake for this slot would be lost; the spawner
        // publishes it right after the spawn returns.
        while self.live.load(Ordering::Acquire) <= me && !self.shutdown.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        let slot = &self.slots[me];
        slot.tid
            .store(nix::unistd::gettid().as_raw(), Ordering::Relaxed);
        let mut steps = 0u64;
        let mut runs = 0u32;
        let mut front_runs = 0u32;
        while !self.shutdown.load(Ordering::Acquire) {
            runs = runs.wrapping_add(1);
            if runs.is_multiple_of(32) {
                self.fire_timers();
            }
            if let Some(entry) = self.next(me, runs, &mut front_runs) {
                steps += 1;
                slot.steps.store(steps, Ordering::Relaxed);
                self.run(entry);
                steps += 1;
                slot.steps.store(steps, Ordering::Relaxed);
                if slot.handed_off.load(Ordering::Acquire) {
                    self.blocked_step_returned(me);
                }
                continue;
            }
            let until_timer = self.fire_timers();
            if !lock(&slot.queue).is_empty() || !lock(&self.injector).is_empty() {
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
            if !lock(&slot.queue).is_empty() || !lock(&self.injector).is_empty() {
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

/// Whether a thread is running or waiting for a core, not asleep in the kernel. A step that is
/// long because it computes, or because its thread lost the core on a loaded machine, gains
/// nothing from a stand-in (the others already take its queue); one asleep in a call does.
fn on_cpu(tid: i32) -> bool {
    if tid == 0 {
        return false;
    }
    // `/proc/self/task/<tid>/stat`: "<tid> (<name>) <state> ...", the name may hold spaces
    // and parentheses, so the state follows the last ')'.
    std::fs::read_to_string(format!("/proc/self/task/{tid}/stat"))
        .ok()
        .and_then(|stat| {
            let after = stat.rfind(')')?;
            stat[after + 1..].trim_start().chars().next()
        })
        .is_some_and(|state| state == 'R')
}

/// A process's executor threads.
pub(crate) struct Pool {
    shared: Arc<Shared>,
    watcher: Option<JoinHandle<()>>,
}

impl Pool {
    /// Starts `threads` pool threads (at least one), named `<name>-<n>`.
    pub fn new(threads: usize, name: &str) -> std::io::Result<Arc<Pool>> {
        let threads = threads.max(1);
        let shared = Arc::new(Shared {
            id: NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed),
            epoch: Instant::now(),
            name: name.to_string(),
            size: threads,
            slots: (0..threads + MAX_STAND_INS).map(|_| Slot::new()).collect(),
            live: AtomicUsize::new(0),
            staffing: Mutex::new(Staffing {
                running: 0,
                blocked: 0,
                spares: Vec::new(),
                handles: Vec::new(),
            }),
            injector: Mutex::new(VecDeque::new()),
            timers: Mutex::new(BinaryHeap::new()),
            sleepers: Mutex::new(Vec::new()),
            sleeping: AtomicUsize::new(0),
            timer_wake_at: AtomicU64::new(u64::MAX),
            threads: Mutex::new(Vec::new()),
            shutdown: AtomicBool::new(false),
        });
        let mut pool = Pool {
            shared: Arc::clone(&shared),
            watcher: None,
        };
        // On an error `pool` is dropped, which stops the threads already started.
        {
            let mut staffing = lock(&shared.staffing);
            for _ in 0..threads {
                shared.spawn_thread(&mut staffing)?;
            }
        }
        let watched = Arc::clone(&shared);
        pool.watcher = Some(
            std::thread::Builder::new()
                .name(format!("{name}-watch"))
                .spawn(move || watched.watch())?,
        );
        Ok(Arc::new(pool))
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
        // The watcher first: a hand-off under way may still start a thread, whose handle must
        // be among those joined below.
        if let Some(watcher) = self.watcher.take() {
            watcher.thread().unpark();
            let _ = watcher.join();
        }
        for t in lock(&self.shared.threads).iter() {
            t.unpark();
        }
        let handles = std::mem::take(&mut lock(&self.shared.staffing).handles);
        let me = std::thread::current().id();
        for h in handles {
            // The last handle can be dropped by a task on a pool thread; it cannot join itself.
            if h.thread().id() != me {
                let _ = h.join();
            }
        }
        // Tasks left (not stopped) are dropped with their entries; timers hold entries too.
        lock(&self.shared.timers).clear();
        lock(&self.shared.injector).clear();
        for slot in self.shared.live_slots() {
            lock(&slot.queue).clear();
        }
    }
}

#[cfg(test)]
mod tests;
