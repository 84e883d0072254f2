//! The spout executor: calls `next_tuple` while the topology is active and fewer than
//! `topology.max.spout.pending` trees are in flight, turns the acker's answers into `ack` and
//! `fail` calls, and fails trees that time out.

use std::time::{Duration, Instant};

use squall_topology_api::{
    BoltCollector, ComponentFactory, MessageId, Spout, SpoutCollector, TaskId, TopologyContext,
};

use super::pool::{Step, Wake};
use super::{Clock, Executor, Inbox, Report, Settings, Setup, guarded, idle_step};
use crate::collector::{BoltOut, Emitter, SpoutOut};
use crate::inflight::InflightLimit;
use crate::message::{AckKind, AckMsg, Batch, Control};
use crate::pending::PendingMap;
use crate::stats::LatencyKind;

struct SpoutTask {
    id: TaskId,
    spout: Box<dyn Spout>,
    pending: PendingMap,
    context: TopologyContext,
    /// The in-flight bound when `topology.max.spout.pending` is unset and trees are tracked.
    inflight: Option<InflightLimit>,
    /// (interval, next due) of `Spout::housekeep`, in clock ns, once the spout is open.
    housekeeping: Option<(u64, u64)>,
}

pub(crate) struct SpoutExecutor {
    tasks: Vec<SpoutTask>,
    first_task: TaskId,
    emitter: Emitter,
    inbox: Inbox,
    settings: Settings,
    clock: Clock,
    active: bool,
    opened: bool,
    immediate_acks: Vec<(TaskId, MessageId)>,
    expired: Vec<MessageId>,
    /// Set by a planned stop: fail the trees in flight before `close`.
    fail_pending_on_close: bool,
    timeout_ns: Option<u64>,
    sweep_ns: Option<u64>,
    next_sweep: u64,
    flush_ns: u64,
    last_flush: u64,
    /// Steps in a row that emitted nothing (see [`idle_step`]).
    idle_rounds: u32,
    /// When the current run of idle steps began (clock ns).
    idle_since: u64,
}

/// `next_tuple` calls between two looks at the clock and the control queue.
const NEXT_TUPLE_ROUND: usize = 64;

/// How often an idle spout republishes its counters.
const IDLE_PUBLISH_NS: u64 = 10_000_000;

pub(crate) fn start(setup: Setup) -> Option<SpoutExecutor> {
    let Some(ComponentFactory::Spout(factory)) = setup.topology.factory(&setup.component).cloned()
    else {
        tracing::error!("no spout factory for this component");
        return None;
    };
    let contexts: Vec<TopologyContext> = setup
        .tasks
        .iter()
        .map(|&id| setup.task_context(id))
        .collect();
    let mut emitter = setup.emitter;
    let mut tasks = Vec::with_capacity(setup.tasks.len());
    for (&id, context) in setup.tasks.iter().zip(contexts) {
        if let Some(spout) = guarded(&mut emitter, id, "creating the spout", |_| factory()) {
            let adaptive = setup.settings.max_spout_pending.is_none()
                && setup.settings.message_timeout.is_some()
                && emitter.acking();
            tasks.push(SpoutTask {
                id,
                spout,
                pending: PendingMap::default(),
                context,
                inflight: adaptive.then(InflightLimit::default),
                housekeeping: None,
            });
        }
    }
    let timeout_ns = setup.settings.message_timeout.map(|t| t.as_nanos() as u64);
    // Sweep a few times per timeout period: trees fail at most 1/8 of T late.
    let sweep_ns = timeout_ns.map(|t| (t / 8).clamp(10_000_000, 1_000_000_000));
    let mut ex = SpoutExecutor {
        first_task: setup.tasks.first().copied().unwrap_or(0),
        tasks,
        emitter,
        inbox: setup.inbox,
        clock: Clock::new(),
        active: false,
        opened: false,
        immediate_acks: Vec::new(),
        expired: Vec::new(),
        fail_pending_on_close: false,
        timeout_ns,
        sweep_ns,
        next_sweep: sweep_ns.unwrap_or(u64::MAX),
        flush_ns: setup.settings.flush_interval.as_nanos() as u64,
        last_flush: 0,
        idle_rounds: 0,
        idle_since: 0,
        settings: setup.settings,
    };
    if ex.settings.start_active {
        ex.activate();
    }
    Some(ex)
}

impl Executor for SpoutExecutor {
    fn step(&mut self, _wake: &Wake) -> Step {
        while let Ok(c) = self.inbox.control.try_recv() {
            match c {
                Control::Acks(batch) => {
                    self.handle_acks(&batch);
                    self.emitter.outbox.batches_done += 1;
                }
                Control::Activate => self.activate(),
                Control::Deactivate => self.deactivate(),
                Control::Rewire(w) => self.emitter.outbox.rewire(w.peers, w.task_peer),
                Control::Shutdown { fail_pending } => {
                    self.fail_pending_on_close = fail_pending;
                    return Step::Done;
                }
            }
        }
        let now = self.clock.now_ns();
        if let (Some(timeout), Some(sweep)) = (self.timeout_ns, self.sweep_ns)
            && now >= self.next_sweep
        {
            self.expire(now, timeout, now + sweep - self.next_sweep);
            self.next_sweep = now + sweep;
        }
        self.housekeep(now);
        // Output held for a full queue: emit nothing more until it goes (woken then).
        if self.emitter.outbox.stalled() {
            return Step::Idle(Some(self.sweep_deadline()));
        }
        if self.receive_inputs() {
            self.idle_rounds = 0;
        }
        // Up to a round of next_tuple calls per step: reading the clock and polling the
        // control queue for every tuple cost a fifth of the spout's time. Emit times inside a
        // round are its start time, at most a few microseconds early.
        let emitted_before = self.emitter.counters.emitted;
        let mut caught_up = false;
        for _ in 0..NEXT_TUPLE_ROUND {
            let before = self.emitter.counters.emitted;
            if self.active {
                self.call_next_tuple(now);
            }
            self.run_immediate_acks();
            if self.emitter.counters.emitted == before {
                caught_up = true;
                break;
            }
            if self.emitter.outbox.stalled() {
                break;
            }
        }
        if self.emitter.counters.emitted != emitted_before {
            self.idle_rounds = 0;
            if now.saturating_sub(self.last_flush) >= self.flush_ns {
                self.emitter.outbox.flush();
                self.publish(false);
                self.last_flush = now;
            }
            if self.emitter.outbox.stalled() {
                return Step::Idle(Some(self.sweep_deadline()));
            }
            // A spout that still emits a whole round has work for another thread to share; one
            // that ran dry only looks again in a moment.
            return if caught_up { Step::Yield } else { Step::Busy };
        }
        self.emitter.outbox.flush();
        // Publishing on every nap of a long idle stretch is wasted work.
        if self.idle_rounds == 0 || now.saturating_sub(self.last_flush) >= IDLE_PUBLISH_NS {
            self.publish(true);
            self.last_flush = now;
        }
        let rounds = self.idle_rounds;
        if rounds == 0 {
            self.idle_since = now;
        }
        self.idle_rounds = self.idle_rounds.saturating_add(1);
        if self.emitter.outbox.stalled() {
            return Step::Idle(Some(self.sweep_deadline()));
        }
        let idle_for = Duration::from_nanos(now.saturating_sub(self.idle_since));
        idle_step(rounds, idle_for, Some(self.sweep_deadline()))
    }

    fn finish(&mut self) -> Report {
        self.shut_down();
        Report {
            captured: self.emitter.capture.take(),
        }
    }
}

impl SpoutExecutor {
    /// When its next sweep for timed-out trees or a spout's housekeeping is due (or a while
    /// from now without either).
    fn sweep_deadline(&self) -> Instant {
        let next = self
            .tasks
            .iter()
            .filter_map(|t| t.housekeeping.map(|(_, due)| due))
            .fold(self.next_sweep, u64::min);
        let in_ns = next.saturating_sub(self.clock.now_ns());
        Instant::now() + Duration::from_nanos(in_ns.min(1_000_000_000))
    }

    /// Runs `Spout::housekeep` on each open task whose interval has passed, whether or not
    /// `next_tuple` is being called (max pending reached, deactivated, output stalled).
    fn housekeep(&mut self, now_ns: u64) {
        for task in &mut self.tasks {
            let Some((every, due)) = task.housekeeping.as_mut() else {
                continue;
            };
            if now_ns < *due {
                continue;
            }
            let every = *every;
            let (id, spout) = (task.id, &mut task.spout);
            if let Some(Err(e)) = guarded(&mut self.emitter, id, "housekeep", |_| spout.housekeep())
            {
                self.emitter.report_error(id, &e);
            }
            // From when it returned: a slow housekeep is not run again at once.
            if let Some((_, due)) = task.housekeeping.as_mut() {
                *due = self.clock.now_ns().saturating_add(every);
            }
        }
    }

    /// Hands the tuples sent to this executor's spouts (a stateful topology's checkpoints) to
    /// `Spout::receive`; whether there were any. They are the runtime's, not the topology's
    /// data, so they leave the spout's emitted, acked and failed counts alone.
    fn receive_inputs(&mut self) -> bool {
        // Not before `open`: a spout that is not set up yet could only ack a checkpoint without
        // acting on it, and a copy acked unforwarded lets its step's tree complete without
        // reaching the tasks downstream.
        if !self.opened {
            return false;
        }
        let mut received = false;
        // A few batches per pass, so inputs never starve next_tuple.
        for _ in 0..4 {
            let Ok(batch) = self.inbox.data.try_recv() else {
                break;
            };
            self.inbox.waker.taken();
            received = true;
            if let Batch::Tuples(deliveries) = batch {
                let counted = self.emitter.counters;
                for d in deliveries {
                    let Some(i) = self.task_index(d.task) else {
                        continue;
                    };
                    let task = &mut self.tasks[i];
                    let (id, spout) = (task.id, &mut task.spout);
                    let result = guarded(&mut self.emitter, id, "receive", |emitter| {
                        let mut out = BoltOut { emitter, task: id };
                        spout.receive(d.tuple, &mut BoltCollector::new(&mut out))
                    });
                    if let Some(Err(e)) = result {
                        self.emitter.report_error(id, &e);
                    }
                }
                let c = &mut self.emitter.counters;
                (c.emitted, c.transferred, c.acked, c.failed) = (
                    counted.emitted,
                    counted.transferred,
                    counted.acked,
                    counted.failed,
                );
            }
            self.emitter.outbox.batches_done += 1;
        }
        received
    }

    fn call_next_tuple(&mut self, now_ns: u64) {
        let max_pending = self.settings.max_spout_pending;
        for task in &mut self.tasks {
            let limit = max_pending.or(task.inflight.as_ref().map(InflightLimit::limit));
            if limit.is_some_and(|max| task.pending.len() >= max) {
                if let Some(inflight) = &mut task.inflight {
                    inflight.hit();
                }
                continue;
            }
            let id = task.id;
            let immediate = &mut self.immediate_acks;
            let result = guarded(&mut self.emitter, id, "next_tuple", |emitter| {
                let mut out = SpoutOut {
                    emitter,
                    task: id,
                    pending: &mut task.pending,
                    now_ns,
                    immediate_acks: immediate,
                };
                task.spout.next_tuple(&mut SpoutCollector::new(&mut out))
            });
            if let Some(Err(e)) = result {
                self.emitter.report_error(id, &e);
            }
        }
    }

    fn task_index(&self, task: TaskId) -> Option<usize> {
        let i = task.checked_sub(self.first_task)? as usize;
        (i < self.tasks.len() && self.tasks[i].id == task).then_some(i)
    }

    fn handle_acks(&mut self, batch: &[AckMsg]) {
        let now = self.clock.now_ns();
        for msg in batch {
            let Some(i) = self.task_index(msg.task) else {
                continue;
            };
            let task = &mut self.tasks[i];
            match msg.kind {
                AckKind::Completed => {
                    if let Some(done) = task.pending.remove(msg.root, now) {
                        if let Some(inflight) = &mut task.inflight {
                            inflight.completed();
                        }
                        self.emitter.counters.acked += 1;
                        self.emitter
                            .latencies
                            .record(LatencyKind::Complete, done.age_ns);
                        let spout = &mut task.spout;
                        guarded(&mut self.emitter, task.id, "ack", |_| {
                            spout.ack(done.msg_id)
                        });
                    }
                }
                AckKind::Failed => {
                    if let Some(done) = task.pending.remove(msg.root, now) {
                        if let Some(inflight) = &mut task.inflight {
                            inflight.completed();
                        }
                        self.emitter.counters.failed += 1;
                        let spout = &mut task.spout;
                        guarded(&mut self.emitter, task.id, "fail", |_| {
                            spout.fail(done.msg_id)
                        });
                    }
                }
                AckKind::TimeoutReset => task.pending.touch(msg.root, now),
                AckKind::Init | AckKind::Ack | AckKind::Fail | AckKind::Reset => {}
            }
        }
    }

    fn run_immediate_acks(&mut self) {
        if self.immediate_acks.is_empty() {
            return;
        }
        let acks = std::mem::take(&mut self.immediate_acks);
        for &(task, msg_id) in &acks {
            let Some(i) = self.task_index(task) else {
                continue;
            };
            self.emitter.counters.acked += 1;
            let spout = &mut self.tasks[i].spout;
            guarded(&mut self.emitter, task, "ack", |_| spout.ack(msg_id));
        }
        self.immediate_acks = acks;
        self.immediate_acks.clear();
    }

    fn expire(&mut self, now_ns: u64, timeout_ns: u64, window_ns: u64) {
        for task in &mut self.tasks {
            let oldest = task.pending.expire(now_ns, timeout_ns, &mut self.expired);
            if let Some(inflight) = &mut task.inflight {
                inflight.adjust(task.pending.len(), oldest, window_ns, timeout_ns);
            }
            for msg_id in self.expired.drain(..) {
                self.emitter.counters.failed += 1;
                let spout = &mut task.spout;
                guarded(&mut self.emitter, task.id, "fail", |_| spout.fail(msg_id));
            }
        }
    }

    fn activate(&mut self) {
        if self.active {
            return;
        }
        if !self.opened {
            self.opened = true;
            for task in &mut self.tasks {
                let (spout, context) = (&mut task.spout, &task.context);
                if let Some(Err(e)) =
                    guarded(&mut self.emitter, task.id, "open", |_| spout.open(context))
                {
                    self.emitter.report_error(task.id, &e);
                }
                let now = self.clock.now_ns();
                let interval = guarded(&mut self.emitter, task.id, "housekeeping_interval", |_| {
                    spout.housekeeping_interval()
                });
                task.housekeeping = interval.flatten().map(|every| {
                    // At least every millisecond: a zero interval would spin.
                    let every = u64::try_from(every.as_nanos())
                        .unwrap_or(u64::MAX)
                        .max(1_000_000);
                    (every, now.saturating_add(every))
                });
            }
        }
        for task in &mut self.tasks {
            let spout = &mut task.spout;
            guarded(&mut self.emitter, task.id, "activate", |_| spout.activate());
        }
        self.active = true;
    }

    fn deactivate(&mut self) {
        if !self.active {
            return;
        }
        for task in &mut self.tasks {
            let spout = &mut task.spout;
            guarded(&mut self.emitter, task.id, "deactivate", |_| {
                spout.deactivate()
            });
        }
        self.active = false;
    }

    /// Fails every tree in flight back to its spout, oldest first: no tree vanishes with
    /// neither `ack` nor `fail` when an executor stops (DESIGN.md: every tree either completes
    /// or is failed back to its spout). Acks the acker sends later find nothing and are ignored.
    fn fail_all_pending(&mut self) {
        let mut failed = 0usize;
        for task in &mut self.tasks {
            task.pending.drain_oldest_first(&mut self.expired);
            for msg_id in self.expired.drain(..) {
                failed += 1;
                self.emitter.counters.failed += 1;
                let spout = &mut task.spout;
                guarded(&mut self.emitter, task.id, "fail", |_| spout.fail(msg_id));
            }
        }
        if failed > 0 {
            tracing::info!(
                failed,
                "failed the trees in flight back to the spout before closing"
            );
        }
    }

    fn publish(&mut self, idle: bool) {
        let c = &mut self.emitter.counters;
        c.pending = self.tasks.iter().map(|t| t.pending.len() as u64).sum();
        if idle {
            let exhausted = self.tasks.iter().all(|t| t.spout.is_exhausted());
            self.emitter.stats.set_exhausted(exhausted);
        }
        let queued = self.inbox.control.len();
        self.emitter.publish(queued, false);
    }

    fn shut_down(&mut self) {
        if self.fail_pending_on_close {
            self.fail_all_pending();
        }
        for task in &mut self.tasks {
            let spout = &mut task.spout;
            guarded(&mut self.emitter, task.id, "close", |_| spout.close());
        }
        self.emitter.outbox.release();
        self.publish(true);
        let queued = self.inbox.control.len();
        self.emitter.publish(queued, true);
    }
}
