//! Replayable spouts: sources that can go back to a recorded position (a Kafka offset, a
//! stream entry id, a file offset, an index), which is what makes exactly-once state
//! possible. In exactly-once mode the runner records the spout's position at each PREPARE
//! (in the state backend, two-phase like every task's state), tells the spout when a position
//! is committed (so the source may forget what lies before it), and on a rollback or at
//! start-up sends it back to the committed position. A failed or timed-out tree fails the next
//! checkpoint, which rolls every task and spout back: nothing is replayed alone, so nothing
//! counts twice. In Storm's mode the spout runs as a plain spout, with its own ack and fail.

use crate::{
    BoltCollector, ComponentError, Config, EmitError, MessageId, OutputDeclarer, Spout,
    SpoutCollector, SpoutOutput, TaskId, TopologyContext, Tuple, Values,
};

use super::arrivals::{Arrival, Arrivals};
use super::bolt::{declare_checkpoint_stream, forward, step_of};
use super::checkpoint::{Action, Step};
use super::kv::StateData;
use super::provider::Providers;
use super::store::StateStore;
use super::{CHECKPOINT_COMPONENT_ID, topology_name};

/// A spout over a source it can rewind. Add it with
/// [`TopologyBuilder::set_replayable_spout`](crate::TopologyBuilder::set_replayable_spout).
///
/// With `topology.state.guarantee` = `exactly_once` its tuples are acked or failed as a whole
/// by checkpoints: emit every tuple with a message id (it is tracked, so a lost tuple is
/// noticed), keep going forward, and leave replay to [`seek`](Self::seek). With Storm's
/// at-least-once mode it is a plain spout: `ack` and `fail` are called per tuple, as on
/// [`Spout`].
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// use squall_topology_api::state::ReplayableSpout;
/// /// Emits 0, 1, 2, ... : its position is the next number.
/// struct Numbers { next: i64 }
/// impl ReplayableSpout for Numbers {
///     type Position = i64;
///     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new(["n"])); }
///     fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
///         out.emit_with_id(values![self.next], self.next as u64)?;
///         self.next += 1;
///         Ok(())
///     }
///     fn position(&self) -> i64 { self.next }
///     fn seek(&mut self, position: Option<&i64>) -> Result<(), ComponentError> {
///         self.next = position.copied().unwrap_or(0);
///         Ok(())
///     }
/// }
/// let mut n = Numbers { next: 0 };
/// n.seek(Some(&41)).unwrap();
/// assert_eq!(n.position(), 41);
/// ```
pub trait ReplayableSpout: Send + 'static {
    /// Where the spout is in its source: everything before it has been emitted.
    type Position: StateData + Clone;

    /// Declares the spout's output streams.
    fn declare_outputs(&self, declarer: &mut OutputDeclarer);

    /// Called once per task before anything else.
    ///
    /// # Errors
    /// Reported; the task still runs.
    fn open(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        let _ = context;
        Ok(())
    }

    /// Emits the next tuple(s), each with a message id, or nothing when there is none yet.
    ///
    /// # Errors
    /// Reported; the spout keeps being called.
    fn next_tuple(&mut self, collector: &mut SpoutCollector<'_>) -> Result<(), ComponentError>;

    /// The current position: after the last tuple emitted.
    fn position(&self) -> Self::Position;

    /// Continues from `position`, so the next tuple is the one after it; `None` is the start
    /// of the source (nothing committed yet).
    ///
    /// # Errors
    /// Reported; the checkpoint that asked for it fails and is retried.
    fn seek(&mut self, position: Option<&Self::Position>) -> Result<(), ComponentError>;

    /// Everything before `position` is in committed state: the source may forget it (commit
    /// an offset, acknowledge entries, delete a file).
    fn committed(&mut self, position: &Self::Position) {
        let _ = position;
    }

    /// At-least-once mode: the tree of this message id completed.
    fn ack(&mut self, msg_id: MessageId) {
        let _ = msg_id;
    }

    /// At-least-once mode: the tree of this message id failed or timed out.
    fn fail(&mut self, msg_id: MessageId) {
        let _ = msg_id;
    }

    /// The topology was activated.
    fn activate(&mut self) {}

    /// The topology was deactivated.
    fn deactivate(&mut self) {}

    /// The topology is shutting down.
    fn close(&mut self) {}

    /// This component's own configuration.
    fn component_config(&self) -> Config {
        Config::new()
    }

    /// Whether the spout has emitted all it ever will (for the testing kit).
    fn is_exhausted(&self) -> bool {
        false
    }
}

/// The key a spout task's position is kept under, in its namespace.
const POSITION_KEY: &str = "position";

/// Message ids carry the epoch (starts and rollbacks so far) in their top bits, so the failure
/// of a tree from before a rollback does not fail the checkpoint after it.
const EPOCH_SHIFT: u32 = 40;

/// The epoch as message ids carry it: its low 24 bits (an id has 64), so a spout rewound more
/// than 16 million times still tells this epoch's trees from the last ones'.
fn epoch_bits(epoch: u64) -> u64 {
    epoch & ((1 << (64 - EPOCH_SHIFT)) - 1)
}

/// Runs a [`ReplayableSpout`] as a spout.
pub(crate) struct Replayable<S: ReplayableSpout> {
    spout: S,
    providers: Providers,
    exactly_once: bool,
    store: Option<Box<dyn StateStore>>,
    topology: String,
    namespace: String,
    config: Config,
    arrivals: Arrivals,
    /// Whether the spout has been sent to its committed position since it started.
    positioned: bool,
    /// A tree of this epoch failed since the last checkpoint.
    failed: bool,
    epoch: u64,
    next_id: u64,
    /// The position recorded at the last PREPARE, with its txid.
    prepared: Option<(i64, S::Position)>,
    /// The last committed position, serialised (positions need not be comparable).
    committed: Option<Vec<u8>>,
}

impl<S: ReplayableSpout> Replayable<S> {
    pub(crate) fn new(spout: S, providers: Providers) -> Self {
        Replayable {
            spout,
            providers,
            exactly_once: false,
            store: None,
            topology: String::new(),
            namespace: String::new(),
            config: Config::new(),
            arrivals: Arrivals::new(1),
            positioned: false,
            failed: false,
            epoch: 0,
            next_id: 0,
            prepared: None,
            committed: None,
        }
    }

    fn store(&mut self) -> Result<&mut Box<dyn StateStore>, ComponentError> {
        if self.store.is_none() {
            let backend = self.providers.resolve(&self.config)?;
            self.store = Some(backend.open(&self.topology, &self.namespace)?);
        }
        self.store
            .as_mut()
            .ok_or_else(|| ComponentError::msg("no state store"))
    }

    fn committed_position(&mut self) -> Result<Option<S::Position>, ComponentError> {
        let key = serde_json::to_vec(POSITION_KEY)?;
        let loaded = self.store()?.load()?;
        match loaded.entries.into_iter().find(|(k, _)| *k == key) {
            Some((_, v)) => Ok(Some(serde_json::from_slice(&v)?)),
            None => Ok(None),
        }
    }

    /// Sends the spout back to its committed position and starts a new epoch.
    fn rewind(&mut self) -> Result<(), ComponentError> {
        let position = self.committed_position()?;
        self.spout.seek(position.as_ref())?;
        self.epoch += 1;
        self.failed = false;
        self.prepared = None;
        self.positioned = true;
        Ok(())
    }

    fn run_step(&mut self, step: Step) -> Result<(), ComponentError> {
        match step.action {
            // Every recovery ends here, and in exactly-once mode it sends every spout back to
            // its committed position (as every task's state goes back to its committed one):
            // a spout that lost tuples in a dead worker replays them, and those that did not
            // replay theirs too, since the state counting them is reloaded.
            Action::InitState => self.rewind()?,
            Action::Prepare => {
                if !self.positioned {
                    return Err(ComponentError::msg(format!(
                        "PREPARE {} arrived before the spout was positioned; the checkpoint recovers",
                        step.txid
                    )));
                }
                if self.failed {
                    return Err(ComponentError::msg(format!(
                        "a tree failed since the last checkpoint: PREPARE {} fails, and every task rewinds",
                        step.txid
                    )));
                }
                let position = self.spout.position();
                let change = (
                    serde_json::to_vec(POSITION_KEY)?,
                    Some(serde_json::to_vec(&position)?),
                );
                self.store()?.prepare(step.txid, &[change])?;
                self.prepared = Some((step.txid, position));
            }
            Action::Commit => {
                self.store()?.commit(step.txid)?;
                let position = match self.prepared.take() {
                    Some((txid, position)) if txid == step.txid => Some(position),
                    _ => self.committed_position()?,
                };
                if let Some(position) = position {
                    self.committed = serde_json::to_vec(&position).ok();
                    self.spout.committed(&position);
                }
            }
            Action::Rollback => {
                self.store()?.rollback()?;
                self.rewind()?;
            }
        }
        Ok(())
    }
}

/// Gives each tracked emit an id of the current epoch.
struct EpochIds<'a> {
    inner: &'a mut dyn SpoutOutput,
    epoch: u64,
    next_id: &'a mut u64,
}

impl SpoutOutput for EpochIds<'_> {
    fn emit(
        &mut self,
        stream: Option<&str>,
        values: Values,
        msg_id: Option<MessageId>,
        direct_task: Option<TaskId>,
    ) -> Result<&[TaskId], EmitError> {
        let id = msg_id.map(|_| {
            *self.next_id = (*self.next_id + 1) & ((1 << EPOCH_SHIFT) - 1);
            (epoch_bits(self.epoch) << EPOCH_SHIFT) | *self.next_id
        });
        self.inner.emit(stream, values, id, direct_task)
    }

    fn pending_count(&self) -> usize {
        self.inner.pending_count()
    }

    fn report_error(&mut self, error: &dyn std::fmt::Display) {
        self.inner.report_error(error);
    }
}

impl<S: ReplayableSpout> Spout for Replayable<S> {
    fn declare_outputs(&self, declarer: &mut OutputDeclarer) {
        self.spout.declare_outputs(declarer);
        declare_checkpoint_stream(declarer);
    }

    fn open(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        self.topology = topology_name(context.topology_id()).to_owned();
        self.namespace = format!("{}-{}", context.this_component_id(), context.this_task_id());
        self.config = context.config().clone();
        self.exactly_once = super::exactly_once(context);
        self.spout.open(context)?;
        if self.exactly_once {
            // A backend that is down now is opened again at the first checkpoint step.
            self.store()?;
        }
        Ok(())
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        if !self.exactly_once {
            return self.spout.next_tuple(out);
        }
        if !self.positioned {
            return Ok(()); // nothing before the committed position is known
        }
        let mut ids = EpochIds {
            inner: out.output(),
            epoch: self.epoch,
            next_id: &mut self.next_id,
        };
        self.spout.next_tuple(&mut SpoutCollector::new(&mut ids))
    }

    fn ack(&mut self, msg_id: MessageId) {
        if !self.exactly_once {
            self.spout.ack(msg_id);
        }
    }

    fn fail(&mut self, msg_id: MessageId) {
        if !self.exactly_once {
            self.spout.fail(msg_id);
        } else if msg_id >> EPOCH_SHIFT == epoch_bits(self.epoch) {
            self.failed = true;
        }
    }

    fn receive(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        if !self.exactly_once || input.source_component() != CHECKPOINT_COMPONENT_ID {
            out.ack(&input);
            return Ok(());
        }
        let Some(step) = step_of(&input) else {
            out.ack(&input);
            return Err(ComponentError::msg(
                "a malformed checkpoint tuple was dropped",
            ));
        };
        if self.arrivals.arrive(input.source_task(), step) != Arrival::Complete {
            out.ack(&input);
            return Ok(());
        }
        match self.run_step(step) {
            Ok(()) => {
                forward(&input, step, out);
                Ok(())
            }
            Err(e) => {
                out.fail(&input);
                Err(e)
            }
        }
    }

    fn activate(&mut self) {
        self.spout.activate();
    }

    fn deactivate(&mut self) {
        self.spout.deactivate();
    }

    fn close(&mut self) {
        self.spout.close();
    }

    fn component_config(&self) -> Config {
        self.spout.component_config()
    }

    /// In exactly-once mode, also everything emitted must be committed: until then a rollback
    /// could still send the spout back.
    fn is_exhausted(&self) -> bool {
        self.spout.is_exhausted()
            && (!self.exactly_once
                || self.committed == serde_json::to_vec(&self.spout.position()).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_keep_telling_epochs_apart_after_the_epoch_outgrows_them() {
        let epoch = (1u64 << 24) + 5;
        let id = (epoch_bits(epoch) << EPOCH_SHIFT) | 17;
        assert_eq!(id >> EPOCH_SHIFT, epoch_bits(epoch));
        assert_ne!(id >> EPOCH_SHIFT, epoch_bits(epoch + 1));
    }
}
