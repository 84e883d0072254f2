//! What the stateful runner runs: a [`StatefulBolt`] (through [`Plain`]), or a stateful
//! windowed bolt, whose windows are checkpointed beside its key/value state. The runner owns
//! the key/value state and the checkpoint protocol; a task adds its work and any store of its
//! own, which it prepares, commits and rolls back in the same steps.

use std::hash::Hash;
use std::time::Duration;

use super::bolt::StatefulBolt;
use super::kv::{KeyValueState, StateData};
use crate::{
    BasicCollector, BoltCollector, ComponentError, Config, OutputDeclarer, TopologyContext, Tuple,
};

/// A task run by [`Stateful`](super::Stateful).
pub(crate) trait StateTask: Send + 'static {
    /// The key/value state's keys.
    type Key: StateData + Eq + Hash + Clone;
    /// The key/value state's values.
    type Value: StateData;

    fn declare_outputs(&self, declarer: &mut OutputDeclarer);

    fn component_config(&self) -> Config;

    /// Before the state is loaded.
    fn prepare(&mut self, context: &TopologyContext) -> Result<(), ComponentError>;

    /// The committed state is loaded, before the first input.
    fn init_state(
        &mut self,
        state: &mut KeyValueState<Self::Key, Self::Value>,
    ) -> Result<(), ComponentError>;

    /// Processes one input; the runner acks or fails it.
    fn execute(
        &mut self,
        input: &Tuple,
        state: &mut KeyValueState<Self::Key, Self::Value>,
        out: &mut BoltCollector<'_>,
    ) -> Result<(), ComponentError>;

    /// Before the key/value state's changes are prepared as `txid`'s.
    fn pre_prepare(
        &mut self,
        txid: i64,
        state: &mut KeyValueState<Self::Key, Self::Value>,
    ) -> Result<(), ComponentError>;

    /// Before the key/value state commits `txid` (whether or not it is loaded).
    fn pre_commit(&mut self, txid: i64) -> Result<(), ComponentError>;

    /// Before the key/value state goes back to its last commit (whether or not it is loaded).
    fn pre_rollback(&mut self) -> Result<(), ComponentError>;

    /// How often [`poll`](Self::poll) runs; `None`: never.
    fn poll_interval(&self) -> Option<Duration> {
        None
    }

    /// Time-driven work, once the state is loaded.
    fn poll(
        &mut self,
        state: &mut KeyValueState<Self::Key, Self::Value>,
        out: &mut BoltCollector<'_>,
    ) -> Result<(), ComponentError> {
        let _ = (state, out);
        Ok(())
    }

    fn cleanup(&mut self);
}

/// A [`StatefulBolt`] as a [`StateTask`]: its emits are anchored to the input.
pub(crate) struct Plain<B>(pub(crate) B);

impl<B: StatefulBolt> StateTask for Plain<B> {
    type Key = B::Key;
    type Value = B::Value;

    fn declare_outputs(&self, declarer: &mut OutputDeclarer) {
        self.0.declare_outputs(declarer);
    }

    fn component_config(&self) -> Config {
        self.0.component_config()
    }

    fn prepare(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        self.0.prepare(context)
    }

    fn init_state(
        &mut self,
        state: &mut KeyValueState<B::Key, B::Value>,
    ) -> Result<(), ComponentError> {
        self.0.init_state(state);
        Ok(())
    }

    fn execute(
        &mut self,
        input: &Tuple,
        state: &mut KeyValueState<B::Key, B::Value>,
        out: &mut BoltCollector<'_>,
    ) -> Result<(), ComponentError> {
        self.0
            .execute(input, state, &mut BasicCollector::new(out, input))
    }

    fn pre_prepare(
        &mut self,
        txid: i64,
        state: &mut KeyValueState<B::Key, B::Value>,
    ) -> Result<(), ComponentError> {
        self.0.pre_prepare(txid, state);
        Ok(())
    }

    fn pre_commit(&mut self, txid: i64) -> Result<(), ComponentError> {
        self.0.pre_commit(txid);
        Ok(())
    }

    fn pre_rollback(&mut self) -> Result<(), ComponentError> {
        self.0.pre_rollback();
        Ok(())
    }

    fn cleanup(&mut self) {
        self.0.cleanup();
    }
}
