//! Executors: the tasks that run a component's tasks.
//!
//! An executor owns one or more tasks of one component and two input queues: a bounded one
//! for batches of tuples (and, for ackers, acker messages), which gives backpressure, and an
//! unbounded one for lifecycle commands and the acker's answers to spouts. It runs on the
//! process's [`pool`] in steps: each takes a few batches of input, runs the tasks' callbacks,
//! and flushes its outbox before the executor idles. A panic or error in user code is caught,
//! counted and reported; the executor carries on.

pub(crate) mod acker;
pub(crate) mod bolt;
pub(crate) mod pool;
pub(crate) mod spout;

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use squall_topology_api::{Config, SharedContext, TaskId, Topology, TopologyContext};

use self::pool::{Step, Task, Wake};
use crate::assembly::ExecutorKind;
use crate::collector::{Captured, Emitter};
use crate::message::{Batch, Control};
use crate::waker::QueueWaker;

/// An executor's input queues.
pub(crate) struct Inbox {
    pub data: Receiver<Batch>,
    pub control: Receiver<Control>,
    /// Told of every batch taken from `data`, for streams waiting for room in it.
    pub waker: Arc<QueueWaker>,
}

/// The settings an executor's loop needs, resolved from the component's configuration.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// `topology.message.timeout.secs`, or `None` when timeouts are disabled.
    pub message_timeout: Option<Duration>,
    /// `topology.max.spout.pending` per spout task.
    pub max_spout_pending: Option<usize>,
    /// `topology.tick.tuple.freq.secs`.
    pub tick: Option<Duration>,
    /// `topology.flush.tuple.freq.millis`: longest a partly filled batch waits under load.
    pub flush_interval: Duration,
    /// Whether the topology starts active.
    pub start_active: bool,
}

/// Everything an executor starts with.
pub(crate) struct Setup {
    pub topology: Topology,
    pub context: Arc<SharedContext>,
    pub component: String,
    pub tasks: Vec<TaskId>,
    pub config: Arc<Config>,
    pub inbox: Inbox,
    pub emitter: Emitter,
    pub settings: Settings,
}

impl Setup {
    fn task_context(&self, task: TaskId) -> TopologyContext {
        TopologyContext::new(
            Arc::clone(&self.context),
            &self.component,
            task,
            Arc::clone(&self.config),
        )
    }
}

/// What an executor hands back when it stops.
pub(crate) struct Report {
    pub captured: Option<Captured>,
}

/// Nanoseconds since the executor started; cheaper to store and compare than `Instant`s.
#[derive(Clone, Copy)]
pub(crate) struct Clock(Instant);

impl Clock {
    pub fn new() -> Self {
        Clock(Instant::now())
    }

    pub fn now_ns(&self) -> u64 {
        self.0.elapsed().as_nanos() as u64
    }
}

/// The text of a caught panic.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else {
        "panicked".to_owned()
    }
}

/// Runs user code, turning a panic into a reported error.
pub(crate) fn guarded<T>(
    emitter: &mut Emitter,
    task: TaskId,
    what: &str,
    f: impl FnOnce(&mut Emitter) -> T,
) -> Option<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(emitter))) {
        Ok(v) => Some(v),
        Err(payload) => {
            let msg = format!("{what} {}", panic_message(&*payload));
            emitter.report_error(task, &msg);
            None
        }
    }
}

/// Immediate retries of a spout with nothing to emit before it naps: a tuple is often a
/// moment away, and other executors run in between. More of them cost a fifth of word
/// count's CPU at 20 k sentences/s.
const IDLE_RETRIES: u32 = 4;

/// How long a spout with nothing to emit waits before it is run again: [`IDLE_RETRIES`]
/// immediate retries, 100 µs naps for the first 0.1 s of idleness, 1 ms naps (Storm's
/// progressive wait) up to a second, then 10 ms naps, so an idle topology costs next to no
/// CPU. Acks and commands wake the spout at once; only a spout polling an external source
/// sees new data up to 10 ms late after a quiet second. The phases go by time idle, not by
/// naps taken: a nap plus its step takes longer than the nap (much longer in a debug build),
/// and counting naps stretched the busier phases well past their second.
pub(crate) fn idle_step(idle_rounds: u32, idle_for: Duration, deadline: Option<Instant>) -> Step {
    if idle_rounds < IDLE_RETRIES {
        return Step::Yield;
    }
    let nap = if idle_for < Duration::from_millis(100) {
        Duration::from_micros(100)
    } else if idle_for < Duration::from_secs(1) {
        Duration::from_millis(1)
    } else {
        Duration::from_millis(10)
    };
    let wake_at = Instant::now() + nap;
    Step::Idle(Some(deadline.map_or(wake_at, |d| d.min(wake_at))))
}

/// An executor between its start and its stop.
pub(crate) trait Executor: Send {
    /// A bounded slice of work; [`Step::Done`] when it was told to stop.
    fn step(&mut self, wake: &Wake) -> Step;
    /// Closes its tasks and hands over what is left.
    fn finish(&mut self) -> Report;
}

/// How the pool runs an executor: built on its first step (so factories, `prepare` and `open`
/// run on a pool thread, not the caller's), stepped until it stops, then its report is sent.
pub(crate) struct ExecutorTask {
    state: Lifecycle,
    done: Option<crossbeam_channel::Sender<Report>>,
}

enum Lifecycle {
    Starting(Box<Setup>, ExecutorKind),
    Running(Box<dyn Executor>),
    Stopped,
}

impl ExecutorTask {
    pub fn new(setup: Setup, kind: ExecutorKind, done: crossbeam_channel::Sender<Report>) -> Self {
        ExecutorTask {
            state: Lifecycle::Starting(Box::new(setup), kind),
            done: Some(done),
        }
    }

    fn report(&mut self, report: Report) {
        self.state = Lifecycle::Stopped;
        if let Some(done) = self.done.take() {
            // Nobody waiting for the report is fine.
            let _ = done.send(report);
        }
    }
}

impl Task for ExecutorTask {
    fn step(&mut self, wake: &Wake) -> Step {
        if matches!(self.state, Lifecycle::Starting(..)) {
            let Lifecycle::Starting(setup, kind) =
                std::mem::replace(&mut self.state, Lifecycle::Stopped)
            else {
                return Step::Done;
            };
            tracing::info!(tasks = ?setup.tasks, "executor started");
            let started: Option<Box<dyn Executor>> = match kind {
                ExecutorKind::Spout => spout::start(*setup).map(|e| Box::new(e) as _),
                ExecutorKind::Bolt => bolt::start(*setup).map(|e| Box::new(e) as _),
                ExecutorKind::Acker => Some(Box::new(acker::start(*setup))),
            };
            match started {
                Some(e) => self.state = Lifecycle::Running(e),
                None => {
                    self.report(Report { captured: None });
                    return Step::Done;
                }
            }
        }
        let Lifecycle::Running(executor) = &mut self.state else {
            return Step::Done;
        };
        match executor.step(wake) {
            Step::Done => {
                let report = executor.finish();
                self.report(report);
                Step::Done
            }
            step => step,
        }
    }
}

#[cfg(test)]
mod idle_step_tests {
    use super::*;

    /// The nap `idle_step` asks for, within the few microseconds the call itself takes.
    fn nap(rounds: u32, idle_for: Duration) -> Duration {
        let before = Instant::now();
        match idle_step(rounds, idle_for, None) {
            Step::Idle(Some(at)) => {
                let nap = at.saturating_duration_since(before);
                [100, 1_000, 10_000]
                    .map(Duration::from_micros)
                    .into_iter()
                    .find(|&n| nap >= n && nap < n + Duration::from_micros(50))
                    .unwrap_or(nap)
            }
            other => panic!("expected a nap, got {other:?}"),
        }
    }

    #[test]
    fn an_idle_spout_retries_then_naps_longer_the_longer_it_has_been_idle() {
        assert_eq!(idle_step(0, Duration::ZERO, None), Step::Yield);
        assert_eq!(
            idle_step(IDLE_RETRIES - 1, Duration::from_secs(5), None),
            Step::Yield
        );
        assert_eq!(
            nap(IDLE_RETRIES, Duration::from_millis(50)),
            Duration::from_micros(100)
        );
        // By time idle, not by naps taken: few naps, but half a second idle.
        assert_eq!(
            nap(IDLE_RETRIES + 1, Duration::from_millis(500)),
            Duration::from_millis(1)
        );
        assert_eq!(
            nap(IDLE_RETRIES + 1, Duration::from_secs(2)),
            Duration::from_millis(10)
        );
        // A sweep due sooner wins.
        let soon = Instant::now() + Duration::from_micros(10);
        assert_eq!(
            idle_step(IDLE_RETRIES, Duration::from_secs(2), Some(soon)),
            Step::Idle(Some(soon))
        );
    }
}
