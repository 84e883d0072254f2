//! The runtime side of the collectors: emit, anchor, ack, fail.
//!
//! An [`Emitter`] belongs to one executor. Each emit asks the router for its target tasks,
//! gives every copy its tree ids (see `anchoring`), and appends it to the outbox; tracked spout
//! emits also record the tree in the task's pending map and tell the acker the tree's initial
//! XOR. With `topology.acker.executors` = 0 nothing is tracked and a spout's message id is
//! acked as soon as its tuple is emitted.

use std::fmt;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use rand::RngExt;
use rand::rngs::SmallRng;
use squall_topology_api::{
    AnchorIds, BoltOutput, EmitError, MessageId, SpoutOutput, TaskId, Tuple, Values,
};

use crate::anchoring::{RootRange, anchor_copy, messages_for, random_id};
use crate::grouping::bucket;
use crate::latency::Latencies;
use crate::message::{AckKind, AckMsg, Delivery};
use crate::outbox::Outbox;
use crate::pending::PendingMap;
use crate::router::Router;
use crate::stats::{Counters, ExecutorStats, InputEvent, InputTally, ReportedError};

/// Tuples a component emitted, kept when the testing kit asks for them.
pub(crate) type Captured = Vec<(String, Values)>;

/// Reported errors are logged at most this often per executor (Storm's
/// `topology.max.error.report.per.interval` = 5 per 10 s); all of them are counted and kept.
const ERROR_LOG_BURST: u32 = 5;
const ERROR_LOG_INTERVAL_SECS: u64 = 10;

/// Locality-aware shuffles re-read their local tasks' queue fill once per this many emits
/// (Storm refreshes its load mapping on a timer; a count needs no clock read per emit).
const LOAD_CHECK_EVERY: u32 = 1024;

/// The topology's acker tasks, and which of them run in this process.
#[derive(Debug, Clone, Default)]
pub(crate) struct AckerTasks {
    /// Every acker task; a tree's acker is `all[bucket(root)]`.
    pub all: Vec<TaskId>,
    /// The root ids of the ackers in this process.
    pub here: Vec<RootRange>,
}

/// What an emitter keeps or logs of each emit besides sending it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EmitWatch {
    /// Keep every emitted tuple for the testing kit.
    pub capture: bool,
    /// Log every emit (`topology.debug`).
    pub debug: bool,
}

/// One executor's emitting state.
pub(crate) struct Emitter {
    router: Router,
    pub outbox: Outbox,
    pub rng: SmallRng,
    targets: Vec<TaskId>,
    /// Acker task ids; empty when tracking is off.
    ackers: AckerTasks,
    pub counters: Counters,
    /// Bolts: counts per input stream.
    pub inputs: InputTally,
    /// Emits until locality-aware shuffles look at their local tasks' load again.
    emits_until_load_check: u32,
    pub latencies: Latencies,
    pub stats: Arc<ExecutorStats>,
    pub capture: Option<Captured>,
    debug: bool,
    errors_logged: u32,
    error_window: Instant,
}

impl Emitter {
    pub fn new(
        router: Router,
        outbox: Outbox,
        rng: SmallRng,
        ackers: AckerTasks,
        stats: Arc<ExecutorStats>,
        latencies: Latencies,
        watch: EmitWatch,
    ) -> Self {
        Emitter {
            latencies,
            emits_until_load_check: LOAD_CHECK_EVERY,
            router,
            outbox,
            rng,
            targets: Vec::new(),
            ackers,
            counters: Counters::default(),
            inputs: InputTally::default(),
            stats,
            capture: watch.capture.then(Vec::new),
            debug: watch.debug,
            errors_logged: 0,
            error_window: Instant::now(),
        }
    }

    /// Whether tuple trees are tracked.
    pub fn acking(&self) -> bool {
        !self.ackers.all.is_empty()
    }

    /// The acker task responsible for a tree (Storm fields-groups acker streams by root id).
    pub fn acker_for(&self, root: u64) -> TaskId {
        self.ackers.all[bucket(root, self.ackers.all.len())]
    }

    /// A root id for a new tree, whose acker runs in this process when one does: the spout's
    /// init and the acker's answer then never cross the network.
    fn new_root(&mut self) -> u64 {
        let here = self.ackers.here.len();
        if here == 0 || here == self.ackers.all.len() {
            return random_id(&mut self.rng);
        }
        let pick = self.rng.random_range(0..here);
        self.ackers.here[pick].draw(&mut self.rng)
    }

    /// Sends a message to the acker of its tree.
    pub fn send_to_acker(&mut self, msg: AckMsg) {
        let acker = self.acker_for(msg.root);
        self.outbox.push_ack(acker, msg);
    }

    /// Routes one emit; the chosen tasks are left in `self.targets`.
    fn route(
        &mut self,
        stream: Option<&str>,
        source_task: TaskId,
        values: &Values,
        direct_task: Option<TaskId>,
    ) -> Result<usize, EmitError> {
        let stream = self.router.resolve(stream)?;
        self.targets.clear();
        self.router.choose(
            stream,
            source_task,
            values,
            direct_task,
            &mut self.rng,
            &mut self.targets,
        )?;
        self.counters.emitted += 1;
        self.counters.transferred += self.targets.len() as u64;
        self.emits_until_load_check -= 1;
        if self.emits_until_load_check == 0 {
            self.emits_until_load_check = LOAD_CHECK_EVERY;
            if self.router.load_aware() {
                let outbox = &self.outbox;
                self.router.refresh_load(&|task| outbox.local_fill(task));
            }
        }
        if self.debug {
            tracing::info!(
                stream = self.router.schema(stream).stream(),
                task = source_task,
                ?values,
                targets = ?self.targets,
                "emit"
            );
        }
        if let Some(capture) = &mut self.capture {
            capture.push((
                self.router.schema(stream).stream().to_owned(),
                values.clone(),
            ));
        }
        Ok(stream)
    }

    /// Sends one copy per target; `ids` gives each copy its tree ids.
    fn deliver(
        &mut self,
        stream: usize,
        source_task: TaskId,
        mut values: Values,
        mut ids: impl FnMut(&mut SmallRng) -> AnchorIds,
    ) {
        let schema = self.router.schema(stream);
        let n = self.targets.len();
        for i in 0..n {
            let task = self.targets[i];
            let v = if i + 1 == n {
                std::mem::take(&mut values)
            } else {
                values.clone()
            };
            let tuple = Tuple::from_parts(schema, source_task, v, ids(&mut self.rng));
            self.outbox.push_tuple(Delivery { task, tuple });
        }
    }

    /// Publishes counters and (at most every 200 ms unless `force`) latencies.
    pub fn publish(&mut self, queue_depth: usize, force: bool) {
        self.stats
            .publish(&self.counters, self.router.stream_counts(), queue_depth);
        self.stats.publish_inputs(&self.inputs);
        self.latencies.merge_into(&self.stats, force);
    }

    /// Records a component's error: counted, kept, and logged unless it floods.
    pub fn report_error(&mut self, task: TaskId, error: &dyn fmt::Display) {
        let message = error.to_string();
        self.counters.errors += 1;
        if self.error_window.elapsed().as_secs() >= ERROR_LOG_INTERVAL_SECS {
            self.error_window = Instant::now();
            self.errors_logged = 0;
        }
        if self.errors_logged < ERROR_LOG_BURST {
            self.errors_logged += 1;
            tracing::warn!(task, error = %message, "component error");
        }
        self.stats.record_error(ReportedError {
            time: SystemTime::now(),
            task,
            message,
        });
    }
}

/// A spout task's view of the emitter.
pub(crate) struct SpoutOut<'a> {
    pub emitter: &'a mut Emitter,
    pub task: TaskId,
    pub pending: &'a mut PendingMap,
    pub now_ns: u64,
    /// Message ids to ack right after `next_tuple` returns: untracked topologies ack on emit,
    /// and a tracked tuple with no subscriber is a complete tree of one.
    pub immediate_acks: &'a mut Vec<(TaskId, MessageId)>,
}

impl SpoutOutput for SpoutOut<'_> {
    fn emit(
        &mut self,
        stream: Option<&str>,
        values: Values,
        msg_id: Option<MessageId>,
        direct_task: Option<TaskId>,
    ) -> Result<&[TaskId], EmitError> {
        let em = &mut *self.emitter;
        let stream = em.route(stream, self.task, &values, direct_task)?;
        match msg_id {
            Some(msg_id) if em.acking() && !em.targets.is_empty() => {
                let root = em.new_root();
                let mut init = 0u64;
                em.deliver(stream, self.task, values, |rng| {
                    let edge = random_id(rng);
                    init ^= edge;
                    AnchorIds::from_buf_and_len([(root, edge)], 1)
                });
                self.pending.insert(root, msg_id, self.now_ns);
                em.send_to_acker(AckMsg {
                    root,
                    value: init,
                    task: self.task,
                    dest: 0,
                    kind: AckKind::Init,
                });
            }
            Some(msg_id) => {
                self.immediate_acks.push((self.task, msg_id));
                em.deliver(stream, self.task, values, |_| AnchorIds::new());
            }
            None => em.deliver(stream, self.task, values, |_| AnchorIds::new()),
        }
        Ok(&self.emitter.targets)
    }

    fn pending_count(&self) -> usize {
        self.pending.len()
    }

    fn report_error(&mut self, error: &dyn fmt::Display) {
        self.emitter.report_error(self.task, error);
    }
}

/// A bolt task's view of the emitter.
pub(crate) struct BoltOut<'a> {
    pub emitter: &'a mut Emitter,
    pub task: TaskId,
}

impl BoltOut<'_> {
    fn tell_acker(&mut self, input: &Tuple, kind: AckKind) {
        if self.emitter.acking() {
            for msg in messages_for(input, kind) {
                self.emitter.send_to_acker(msg);
            }
        }
    }
}

impl BoltOutput for BoltOut<'_> {
    fn emit(
        &mut self,
        stream: Option<&str>,
        anchors: &[&Tuple],
        values: Values,
        direct_task: Option<TaskId>,
    ) -> Result<&[TaskId], EmitError> {
        let em = &mut *self.emitter;
        let stream = em.route(stream, self.task, &values, direct_task)?;
        if em.acking() && anchors.iter().any(|a| !a.anchor_ids().is_empty()) {
            em.deliver(stream, self.task, values, |rng| anchor_copy(anchors, rng));
        } else {
            em.deliver(stream, self.task, values, |_| AnchorIds::new());
        }
        Ok(&self.emitter.targets)
    }

    fn ack(&mut self, input: &Tuple) {
        self.emitter.counters.acked += 1;
        self.emitter.inputs.count(input.schema(), InputEvent::Acked);
        self.emitter.latencies.on_ack(input);
        self.tell_acker(input, AckKind::Ack);
    }

    fn fail(&mut self, input: &Tuple) {
        self.emitter.counters.failed += 1;
        self.emitter
            .inputs
            .count(input.schema(), InputEvent::Failed);
        self.tell_acker(input, AckKind::Fail);
    }

    fn reset_timeout(&mut self, input: &Tuple) {
        self.tell_acker(input, AckKind::Reset);
    }

    fn report_error(&mut self, error: &dyn fmt::Display) {
        self.emitter.report_error(self.task, error);
    }
}
