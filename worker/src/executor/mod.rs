//! Executors: the threads that run tasks.
//!
//! An executor owns one or more tasks of one component and two input queues: a bounded one
//! for batches of tuples (and, for ackers, acker messages), which gives backpressure, and an
//! unbounded one for lifecycle commands and the acker's answers to spouts. It drains its input
//! a batch at a time, runs the tasks' callbacks, and flushes its outbox before it waits. A
//! panic or error in user code is caught, counted and reported; the executor carries on.

pub(crate) mod acker;
pub(crate) mod bolt;
pub(crate) mod spout;

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use squall_topology_api::{Config, SharedContext, TaskId, Topology, TopologyContext};

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

/// Everything an executor thread starts with.
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

/// How long a spout with nothing to emit waits before trying again: a few spins and yields
/// (a tuple is often a moment away), 100 µs naps for about 0.1 s, 1 ms naps (Storm's
/// progressive wait) for about a second, then 10 ms naps, so an idle topology costs next to no
/// CPU. The naps wait on the control queue, so acks and commands still wake the spout at once;
/// only a spout polling an external source sees new data up to 10 ms late after a quiet second.
pub(crate) fn idle_wait(control: &Receiver<Control>, idle_rounds: u32) -> Option<Control> {
    match idle_rounds {
        0..16 => {
            std::hint::spin_loop();
            None
        }
        16..32 => {
            std::thread::yield_now();
            None
        }
        32..1032 => control.recv_timeout(Duration::from_micros(100)).ok(),
        1032..2032 => control.recv_timeout(Duration::from_millis(1)).ok(),
        _ => control.recv_timeout(Duration::from_millis(10)).ok(),
    }
}
