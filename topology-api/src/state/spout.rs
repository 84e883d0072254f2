//! `$checkpointspout`: the one-task spout a topology with stateful bolts gets, which drives
//! checkpoints through the `$checkpoint` stream (see `checkpoint` for the steps). Its own
//! progress is kept in the state backend, so a restarted coordinator finishes or undoes the
//! step it was in.

use std::time::{Duration, Instant};

use crate::{
    ComponentError, Fields, MessageId, OutputDeclarer, Spout, SpoutCollector, TopologyContext,
    values,
};

use super::checkpoint::{Coordinator, Progress};
use super::provider::Providers;
use super::store::StateStore;
use super::{CHECKPOINT_FIELDS, CHECKPOINT_STREAM_ID, topology_name};

/// `topology.state.checkpoint.interval.ms`: how often a checkpoint starts (default 1000,
/// least 100). Inputs of stateful bolts are acked only when a checkpoint commits, so
/// `topology.message.timeout.secs` must be well above it.
///
/// # Examples
/// ```
/// use squall_topology_api::{Config, state::TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS};
/// let mut conf = Config::new();
/// conf.set(TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS, 100);
/// ```
pub const TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS: &str = "topology.state.checkpoint.interval.ms";

/// The interval when unset, and the least one taken (Storm's).
const DEFAULT_INTERVAL: Duration = Duration::from_millis(1000);
const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// The key the coordinator's progress is stored under, in its own namespace.
const PROGRESS_KEY: &str = "__state";

/// How long the coordinator waits after a failed step, or a backend it cannot reach, before it
/// tries again: long enough not to spin while a worker restarts.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

pub(crate) struct CheckpointSpout {
    providers: Providers,
    store: Option<Box<dyn StateStore>>,
    topology: String,
    namespace: String,
    coordinator: Option<Coordinator>,
    interval: Duration,
    last_checkpoint: Instant,
    paused_until: Option<Instant>,
    config: crate::Config,
}

impl CheckpointSpout {
    pub(crate) fn new(providers: Providers) -> Self {
        CheckpointSpout {
            providers,
            store: None,
            topology: String::new(),
            namespace: String::new(),
            coordinator: None,
            interval: DEFAULT_INTERVAL,
            last_checkpoint: Instant::now(),
            paused_until: None,
            config: crate::Config::new(),
        }
    }

    fn pause(&mut self) {
        self.paused_until = Some(Instant::now() + RETRY_PAUSE.min(self.interval));
    }

    /// Opens the store and reads the persisted progress, once.
    fn connect(&mut self) -> Result<(), ComponentError> {
        let backend = self.providers.resolve(&self.config)?;
        let mut store = backend.open(&self.topology, &self.namespace)?;
        let key = serde_json::to_vec(PROGRESS_KEY)?;
        let progress = match store.load()?.entries.into_iter().find(|(k, _)| *k == key) {
            Some((_, v)) => serde_json::from_slice::<Progress>(&v)?,
            None => Progress::default(),
        };
        tracing::info!(txid = progress.txid, phase = ?progress.phase, "checkpoint coordinator resumes");
        self.coordinator = Some(Coordinator::resume(progress));
        self.store = Some(store);
        Ok(())
    }

    fn save(&mut self, progress: Progress) -> Result<(), ComponentError> {
        let Some(store) = self.store.as_mut() else {
            return Ok(());
        };
        let change = (
            serde_json::to_vec(PROGRESS_KEY)?,
            Some(serde_json::to_vec(&progress)?),
        );
        // The coordinator's namespace has one key; txid 0 always, so commit applies it.
        store.prepare(0, &[change])?;
        store.commit(0)?;
        Ok(())
    }
}

impl Spout for CheckpointSpout {
    fn declare_outputs(&self, declarer: &mut OutputDeclarer) {
        declarer.declare_stream(CHECKPOINT_STREAM_ID, Fields::new(CHECKPOINT_FIELDS));
    }

    fn open(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        self.topology = topology_name(context.topology_id()).to_owned();
        self.namespace = format!("{}-{}", context.this_component_id(), context.this_task_id());
        let asked = context
            .config()
            .get_u64(TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS)
            .map_or(DEFAULT_INTERVAL, Duration::from_millis);
        self.interval = asked.max(MIN_INTERVAL);
        self.last_checkpoint = Instant::now();
        self.config = context.config().clone();
        // A backend that is down now is tried again from next_tuple.
        if let Err(e) = self.connect() {
            self.pause();
            return Err(e);
        }
        Ok(())
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        if self.paused_until.is_some_and(|t| Instant::now() < t) {
            return Ok(());
        }
        self.paused_until = None;
        if self.coordinator.is_none() {
            // The backend was unreachable: try again, no more often than the pause allows.
            if let Err(e) = self.connect() {
                self.pause();
                return Err(e);
            }
        }
        let Some(coordinator) = self.coordinator.as_mut() else {
            return Ok(());
        };
        let before = coordinator.progress();
        let Some(step) = coordinator.next(self.last_checkpoint.elapsed() >= self.interval) else {
            return Ok(());
        };
        let after = coordinator.progress();
        if after != before
            && let Err(e) = self.save(after)
        {
            // Not persisted, so not emitted: start over from what is on record.
            self.coordinator = Some(Coordinator::resume(before));
            self.pause();
            return Err(e);
        }
        out.emit_on(
            CHECKPOINT_STREAM_ID,
            values![step.txid, step.action.as_str(), step.seq as i64],
            // A step's sequence number is unique: it names the step in the ack or fail.
            Some(step.seq),
        )?;
        Ok(())
    }

    fn ack(&mut self, msg_id: MessageId) {
        let Some(coordinator) = self.coordinator.as_mut() else {
            return;
        };
        let Some(step) = coordinator.in_flight().filter(|s| s.seq == msg_id) else {
            return; // an abandoned try
        };
        let before = coordinator.progress();
        if coordinator.acked(step) {
            self.last_checkpoint = Instant::now();
            tracing::debug!(txid = step.txid, "checkpoint committed");
        }
        let after = coordinator.progress();
        if after != before
            && let Err(e) = self.save(after)
        {
            tracing::warn!(error = %e, "checkpoint progress not saved; recovering");
            self.coordinator = Some(Coordinator::resume(before));
            self.pause();
        }
    }

    fn fail(&mut self, msg_id: MessageId) {
        if let Some(coordinator) = self.coordinator.as_mut()
            && let Some(step) = coordinator.in_flight().filter(|s| s.seq == msg_id)
        {
            tracing::warn!(
                txid = step.txid,
                action = step.action.as_str(),
                "checkpoint step failed; recovering"
            );
            coordinator.failed(step);
            self.pause();
        }
    }
}
