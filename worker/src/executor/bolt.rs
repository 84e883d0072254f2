//! The bolt executor: runs `execute` for each input tuple a batch at a time, delivers tick
//! tuples, and fails the input of an `execute` that returns an error or panics so that its
//! tree is replayed.

use std::time::{Duration, Instant};

use squall_topology_api::{
    AnchorIds, Bolt, BoltCollector, ComponentFactory, SYSTEM_TASK_ID, StreamSchema, TaskId,
    TopologyContext, Tuple, values,
};

use super::pool::{Step, Wake};
use super::{Executor, Inbox, Report, Settings, Setup, guarded, panic_message};
use crate::collector::{BoltOut, Emitter};
use crate::message::{AckKind, AckMsg, Batch, Control, Delivery};

struct BoltTask {
    id: TaskId,
    bolt: Box<dyn Bolt>,
}

pub(crate) struct BoltExecutor {
    tasks: Vec<BoltTask>,
    first_task: TaskId,
    emitter: Emitter,
    inbox: Inbox,
    settings: Settings,
    /// The trees of the input being executed, to fail them if `execute` panics.
    current_roots: AnchorIds,
    current_task: TaskId,
    /// The stream of the input being executed, for its per-input-stream counts.
    current_schema: Option<&'static StreamSchema>,
    last_flush: Instant,
    /// Tuples executed since the flush timer was last looked at.
    since_flush_check: u32,
    next_tick: Option<Instant>,
    /// Bolts with work between inputs (shell bolts) ask to be polled this often.
    poll_every: Option<Duration>,
    next_poll: Option<Instant>,
}

/// A slow bolt looks at its flush timer this often within a batch, so its acks and emits do
/// not wait for the whole batch (512 tuples at 1 ms each would hold them half a second).
const FLUSH_CHECK_EVERY: u32 = 64;

/// How long an idle executor sleeps when it has no timer to wake for.
const IDLE_WAKE: Duration = Duration::from_secs(1);

/// Input batches a step takes at most before it lets other executors run.
const BATCHES_PER_STEP: u32 = 4;

pub(crate) fn start(setup: Setup) -> Option<BoltExecutor> {
    let Some(ComponentFactory::Bolt(factory)) = setup.topology.factory(&setup.component).cloned()
    else {
        tracing::error!("no bolt factory for this component");
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
        let Some(mut bolt) = guarded(&mut emitter, id, "creating the bolt", |_| factory()) else {
            continue;
        };
        if let Some(Err(e)) = guarded(&mut emitter, id, "prepare", |_| bolt.prepare(&context)) {
            emitter.report_error(id, &e);
        }
        tasks.push(BoltTask { id, bolt });
    }
    // Bolts with work between inputs (shell bolts) ask to be polled this often.
    let poll_every = tasks.iter().filter_map(|t| t.bolt.poll_interval()).min();
    let now = Instant::now();
    Some(BoltExecutor {
        first_task: setup.tasks.first().copied().unwrap_or(0),
        tasks,
        emitter,
        inbox: setup.inbox,
        next_tick: setup.settings.tick.map(|t| now + t),
        settings: setup.settings,
        current_roots: AnchorIds::new(),
        current_task: 0,
        current_schema: None,
        last_flush: now,
        since_flush_check: 0,
        poll_every,
        next_poll: poll_every.map(|p| now + p),
    })
}

impl Executor for BoltExecutor {
    fn step(&mut self, _wake: &Wake) -> Step {
        if let (Some(at), Some(every)) = (self.next_poll, self.poll_every)
            && Instant::now() >= at
        {
            self.poll_tasks();
            self.next_poll = Some(Instant::now() + every);
        }
        while let Ok(c) = self.inbox.control.try_recv() {
            if self.control(c) {
                return Step::Done;
            }
        }
        if let (Some(at), Some(every)) = (self.next_tick, self.settings.tick)
            && Instant::now() >= at
        {
            self.deliver_ticks(every);
            self.next_tick = Some(at + every);
        }
        // Output held for a full queue: take no input until it goes (woken then).
        if self.emitter.outbox.stalled() {
            return Step::Idle(self.deadline());
        }
        for _ in 0..BATCHES_PER_STEP {
            match self.inbox.data.try_recv() {
                Ok(batch) => {
                    self.inbox.waker.taken();
                    self.process(batch);
                    self.flush_if_due();
                    if self.emitter.outbox.stalled() {
                        return Step::Idle(self.deadline());
                    }
                }
                Err(_) => {
                    // Empty (or closed: then only commands come). Producers wake it when
                    // they queue a batch.
                    self.emitter.outbox.flush();
                    self.publish();
                    self.last_flush = Instant::now();
                    self.emitter.outbox.stalled();
                    return Step::Idle(self.deadline());
                }
            }
        }
        Step::Busy
    }

    fn finish(&mut self) -> Report {
        for task in &mut self.tasks {
            let bolt = &mut task.bolt;
            guarded(&mut self.emitter, task.id, "cleanup", |_| bolt.cleanup());
        }
        self.emitter.outbox.release();
        let queued = self.inbox.data.len();
        self.emitter.publish(queued, true);
        Report {
            captured: self.emitter.capture.take(),
        }
    }
}

impl BoltExecutor {
    /// When it must run again even if nothing wakes it: its next tick or poll, or a while.
    fn deadline(&self) -> Option<Instant> {
        let idle = Instant::now() + IDLE_WAKE;
        [self.next_tick, self.next_poll]
            .into_iter()
            .flatten()
            .min()
            .map_or(Some(idle), |at| Some(at.min(idle)))
    }

    /// Applies a lifecycle command; `true` means stop.
    fn control(&mut self, c: Control) -> bool {
        match c {
            Control::Shutdown { .. } => true,
            Control::Rewire(w) => {
                self.emitter.outbox.rewire(w.peers, w.task_peer);
                false
            }
            Control::Acks(_) | Control::Activate | Control::Deactivate => false,
        }
    }

    /// Lets every task do the work it has between inputs (see [`Bolt::poll`]).
    fn poll_tasks(&mut self) {
        for i in 0..self.tasks.len() {
            let task = self.tasks[i].id;
            let bolt = &mut self.tasks[i].bolt;
            let result = guarded(&mut self.emitter, task, "poll", |emitter| {
                let mut out = BoltOut { emitter, task };
                bolt.poll(&mut BoltCollector::new(&mut out))
            });
            if let Some(Err(e)) = result {
                self.emitter.report_error(task, &e);
            }
        }
    }

    fn process(&mut self, batch: Batch) {
        match batch {
            Batch::Tuples(deliveries) => self.execute_all(deliveries),
            // Acker messages are addressed to ackers only.
            Batch::Acks(_) => {}
        }
        self.emitter.outbox.batches_done += 1;
    }

    /// Executes a batch, catching a panic once for the whole batch rather than per tuple; after
    /// a panic the failed tuple's trees are failed and the rest of the batch goes on.
    fn execute_all(&mut self, deliveries: Vec<Delivery>) {
        let mut rest = deliveries.into_iter();
        loop {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                for d in rest.by_ref() {
                    self.execute_one(d.task, d.tuple);
                }
            }));
            match outcome {
                Ok(()) => return,
                Err(payload) => {
                    let msg = format!("execute {}", panic_message(&*payload));
                    let task = self.current_task;
                    self.emitter.report_error(task, &msg);
                    self.fail_current();
                }
            }
        }
    }

    fn flush_if_due(&mut self) {
        self.since_flush_check = 0;
        if self.last_flush.elapsed() >= self.settings.flush_interval {
            self.emitter.outbox.flush();
            self.publish();
            self.last_flush = Instant::now();
        }
    }

    fn execute_one(&mut self, task: TaskId, tuple: Tuple) {
        let Some(index) = task
            .checked_sub(self.first_task)
            .map(|i| i as usize)
            .filter(|&i| i < self.tasks.len() && self.tasks[i].id == task)
        else {
            return;
        };
        self.current_roots.clone_from(tuple.anchor_ids());
        self.current_task = task;
        self.emitter.counters.executed += 1;
        self.current_schema = Some(tuple.schema());
        self.emitter
            .inputs
            .count(tuple.schema(), crate::stats::InputEvent::Executed);
        let mut out = BoltOut {
            emitter: &mut self.emitter,
            task,
        };
        let sampled = out.emitter.latencies.start_execute(&tuple);
        let result = self.tasks[index]
            .bolt
            .execute(tuple, &mut BoltCollector::new(&mut out));
        if let Some(started) = sampled {
            self.emitter.latencies.finish_execute(started);
        }
        if let Err(e) = result {
            self.emitter.report_error(task, &e);
            self.fail_current();
        }
        self.current_roots.clear();
        self.current_schema = None;
        self.since_flush_check += 1;
        if self.since_flush_check == FLUSH_CHECK_EVERY {
            self.flush_if_due();
        }
    }

    fn fail_current(&mut self) {
        self.emitter.counters.failed += 1;
        if let Some(schema) = self.current_schema {
            self.emitter
                .inputs
                .count(schema, crate::stats::InputEvent::Failed);
        }
        if !self.emitter.acking() {
            return;
        }
        for &(root, _) in &std::mem::take(&mut self.current_roots) {
            self.emitter.send_to_acker(AckMsg {
                root,
                value: 0,
                task: 0,
                dest: 0,
                kind: AckKind::Fail,
            });
        }
    }

    fn deliver_ticks(&mut self, every: Duration) {
        let deliveries = self
            .tasks
            .iter()
            .map(|t| Delivery {
                task: t.id,
                tuple: Tuple::from_parts(
                    StreamSchema::tick(),
                    SYSTEM_TASK_ID,
                    values![every.as_secs() as i64],
                    AnchorIds::new(),
                ),
            })
            .collect();
        self.execute_all(deliveries);
    }

    fn publish(&mut self) {
        let queued = self.inbox.data.len();
        self.emitter.publish(queued, false);
    }
}
