use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Pool, Step, Task, Wake};

/// Waits until `done` says so, failing the test after a generous bound.
fn wait_until(done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "the pool did not finish the work"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The other side of a ping-pong: its wake and the balls it owes, set once both exist.
type Side = Arc<Mutex<Option<(Wake, Arc<AtomicU64>)>>>;

/// One side of a ping-pong: each wake with a ball owed hits it back to the other side, until
/// the count is reached.
struct Ping {
    other: Side,
    /// Balls sent to this side and not yet hit back.
    owed: Arc<AtomicU64>,
    count: Arc<AtomicU64>,
    until: u64,
}

impl Task for Ping {
    fn step(&mut self, _wake: &Wake) -> Step {
        while self.owed.load(Ordering::Acquire) > 0 {
            self.owed.fetch_sub(1, Ordering::AcqRel);
            let n = self.count.fetch_add(1, Ordering::AcqRel) + 1;
            if n >= self.until {
                return Step::Done;
            }
            if let Some((wake, owed)) = self.other.lock().unwrap().as_ref() {
                owed.fetch_add(1, Ordering::AcqRel);
                wake.wake();
            }
        }
        Step::Idle(None)
    }
}

fn ping_pong(threads: usize, hops: u64) {
    let pool = Pool::new(threads, "test-pool").unwrap();
    let count = Arc::new(AtomicU64::new(0));
    let (a_owed, b_owed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (a_slot, b_slot) = (Arc::new(Mutex::new(None)), Arc::new(Mutex::new(None)));
    let a = pool.entry(tracing::Span::none());
    let b = pool.entry(tracing::Span::none());
    *a_slot.lock().unwrap() = Some((a.clone(), Arc::clone(&a_owed)));
    *b_slot.lock().unwrap() = Some((b.clone(), Arc::clone(&b_owed)));
    for (wake, owed, other) in [(&a, &a_owed, &b_slot), (&b, &b_owed, &a_slot)] {
        pool.start(
            wake,
            Box::new(Ping {
                other: Arc::clone(other),
                owed: Arc::clone(owed),
                count: Arc::clone(&count),
                until: hops,
            }),
        );
    }
    a_owed.fetch_add(1, Ordering::AcqRel);
    a.wake();
    // One ball in play: every hop is one wake answered, none lost.
    wait_until(|| count.load(Ordering::Acquire) >= hops);
}

#[test]
fn a_single_thread_runs_executors_that_wake_each_other() {
    ping_pong(1, 10_000);
}

#[test]
fn two_threads_run_executors_that_wake_each_other() {
    ping_pong(2, 10_000);
}

/// Counts the wakes it sees, with the pool's guarantee that a wake while it runs runs it again.
struct Counter {
    sent: Arc<AtomicU64>,
    seen: Arc<AtomicU64>,
}

impl Task for Counter {
    fn step(&mut self, _wake: &Wake) -> Step {
        // Everything sent before this step began is seen by it.
        let sent = self.sent.load(Ordering::Acquire);
        self.seen.store(sent, Ordering::Release);
        Step::Idle(None)
    }
}

#[test]
fn no_wake_is_lost_when_many_threads_wake_one_executor() {
    let pool = Pool::new(2, "test-pool").unwrap();
    let sent = Arc::new(AtomicU64::new(0));
    let seen = Arc::new(AtomicU64::new(0));
    let wake = pool.spawn(Box::new(Counter {
        sent: Arc::clone(&sent),
        seen: Arc::clone(&seen),
    }));
    let producers: Vec<_> = (0..4)
        .map(|_| {
            let (sent, wake) = (Arc::clone(&sent), wake.clone());
            std::thread::spawn(move || {
                for _ in 0..20_000 {
                    sent.fetch_add(1, Ordering::AcqRel);
                    wake.wake();
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    // The last wake came after the last increment, so some step must see the full count.
    wait_until(|| seen.load(Ordering::Acquire) == 80_000);
}

/// Sleeps until a deadline, then records when it woke.
struct Sleeper {
    until: Instant,
    woke: Arc<Mutex<Option<Instant>>>,
}

impl Task for Sleeper {
    fn step(&mut self, _wake: &Wake) -> Step {
        let now = Instant::now();
        if now >= self.until {
            *self.woke.lock().unwrap() = Some(now);
            return Step::Done;
        }
        Step::Idle(Some(self.until))
    }
}

#[test]
fn an_idle_executor_runs_again_at_its_deadline() {
    let pool = Pool::new(1, "test-pool").unwrap();
    let woke = Arc::new(Mutex::new(None));
    let until = Instant::now() + Duration::from_millis(30);
    pool.spawn(Box::new(Sleeper {
        until,
        woke: Arc::clone(&woke),
    }));
    wait_until(|| woke.lock().unwrap().is_some());
    let at = woke.lock().unwrap().unwrap();
    assert!(at >= until, "it ran before its deadline");
}

/// Blocks its thread for a while the first time it runs (a slow `execute`).
struct Blocker {
    blocked: bool,
}

impl Task for Blocker {
    fn step(&mut self, _wake: &Wake) -> Step {
        if !self.blocked {
            self.blocked = true;
            std::thread::sleep(Duration::from_millis(500));
        }
        Step::Done
    }
}

#[test]
fn a_blocked_thread_does_not_hold_up_the_others_work() {
    let pool = Pool::new(2, "test-pool").unwrap();
    pool.spawn(Box::new(Blocker { blocked: false }));
    std::thread::sleep(Duration::from_millis(50));
    let woke = Arc::new(Mutex::new(None));
    let started = Instant::now();
    pool.spawn(Box::new(Sleeper {
        until: started,
        woke: Arc::clone(&woke),
    }));
    wait_until(|| woke.lock().unwrap().is_some());
    let at = woke.lock().unwrap().unwrap();
    assert!(
        at.duration_since(started) < Duration::from_millis(400),
        "the second executor waited for the blocked thread"
    );
}

/// Runs a fixed number of busy steps, then stops.
struct Busy {
    left: u32,
    threads: Arc<Mutex<Vec<std::thread::ThreadId>>>,
}

impl Task for Busy {
    fn step(&mut self, _wake: &Wake) -> Step {
        self.threads
            .lock()
            .unwrap()
            .push(std::thread::current().id());
        // A slice of real work, so two of them overlap.
        let until = Instant::now() + Duration::from_micros(200);
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        self.left -= 1;
        if self.left == 0 {
            Step::Done
        } else {
            Step::Busy
        }
    }
}

#[test]
fn busy_executors_spread_over_the_threads() {
    let pool = Pool::new(2, "test-pool").unwrap();
    let threads = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..2 {
        pool.spawn(Box::new(Busy {
            left: 500,
            threads: Arc::clone(&threads),
        }));
    }
    wait_until(|| threads.lock().unwrap().len() == 1000);
    let mut ids = threads.lock().unwrap().clone();
    ids.sort_by_key(|id| format!("{id:?}"));
    ids.dedup();
    assert_eq!(ids.len(), 2, "two busy executors ran on one thread only");
}

/// Blocks its thread in its first step until released (a sink stuck in a call to a broker
/// that went away), counting the steps that are blocked.
struct Stuck {
    blocked_now: Arc<AtomicU64>,
    release: Arc<(Mutex<bool>, std::sync::Condvar)>,
}

impl Task for Stuck {
    fn step(&mut self, _wake: &Wake) -> Step {
        self.blocked_now.fetch_add(1, Ordering::AcqRel);
        let (lock, cvar) = &*self.release;
        let mut released = lock.lock().unwrap();
        while !*released {
            released = cvar.wait(released).unwrap();
        }
        self.blocked_now.fetch_sub(1, Ordering::AcqRel);
        Step::Done
    }
}

#[test]
fn executors_run_while_every_pool_thread_is_blocked_in_user_code() {
    let pool = Pool::new(2, "test-pool").unwrap();
    let blocked_now = Arc::new(AtomicU64::new(0));
    let release = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
    for _ in 0..2 {
        pool.spawn(Box::new(Stuck {
            blocked_now: Arc::clone(&blocked_now),
            release: Arc::clone(&release),
        }));
    }
    wait_until(|| blocked_now.load(Ordering::Acquire) == 2);
    // Both threads the pool was made with are inside a call that does not return. Work woken
    // now must still run, on a thread that stands in for a blocked one.
    let woke = Arc::new(Mutex::new(None));
    pool.spawn(Box::new(Sleeper {
        until: Instant::now(),
        woke: Arc::clone(&woke),
    }));
    let ran = {
        let deadline = Instant::now() + Duration::from_secs(5);
        while woke.lock().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        woke.lock().unwrap().is_some()
    };
    *release.0.lock().unwrap() = true;
    release.1.notify_all();
    assert!(
        ran,
        "an executor waited while every pool thread was blocked"
    );
    wait_until(|| blocked_now.load(Ordering::Acquire) == 0);
    // Once the blocked calls return, the pool is back to its size: the stand-ins park.
    wait_until(|| {
        let staffing = super::lock(&pool.shared.staffing);
        staffing.running == 2 && staffing.blocked == 0 && !staffing.spares.is_empty()
    });
    // The stand-in threads are not kept busy-looking once the blocked calls return: the pool
    // still runs new work.
    let woke = Arc::new(Mutex::new(None));
    pool.spawn(Box::new(Sleeper {
        until: Instant::now(),
        woke: Arc::clone(&woke),
    }));
    wait_until(|| woke.lock().unwrap().is_some());
}

#[test]
fn a_computing_thread_is_on_cpu_and_a_sleeping_one_is_not() {
    let tid = Arc::new(std::sync::atomic::AtomicI32::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spinner = {
        let (tid, stop) = (Arc::clone(&tid), Arc::clone(&stop));
        std::thread::spawn(move || {
            tid.store(nix::unistd::gettid().as_raw(), Ordering::Release);
            while !stop.load(Ordering::Acquire) {
                std::hint::spin_loop();
            }
        })
    };
    wait_until(|| tid.load(Ordering::Acquire) != 0);
    assert!(
        super::on_cpu(tid.load(Ordering::Acquire)),
        "a spinning thread is on a core"
    );
    stop.store(true, Ordering::Release);
    spinner.join().unwrap();

    let sleeper_tid = Arc::new(std::sync::atomic::AtomicI32::new(0));
    let sleeper = {
        let tid = Arc::clone(&sleeper_tid);
        std::thread::spawn(move || {
            tid.store(nix::unistd::gettid().as_raw(), Ordering::Release);
            std::thread::sleep(Duration::from_millis(300));
        })
    };
    wait_until(|| sleeper_tid.load(Ordering::Acquire) != 0);
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        !super::on_cpu(sleeper_tid.load(Ordering::Acquire)),
        "a sleeping thread is not on a core"
    );
    sleeper.join().unwrap();
}
