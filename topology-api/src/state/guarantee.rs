//! `topology.state.guarantee`: Storm's at-least-once state, or exactly-once state with the
//! checkpoints as barriers that travel with the data and spouts that rewind.

use crate::{ComponentKind, Config, TopologyContext, TopologySpec};

use super::{CHECKPOINT_COMPONENT_ID, CHECKPOINT_STREAM_ID};

/// `topology.state.guarantee`: `at_least_once` (the default, Storm's: after a failure the
/// state is the last committed one and the inputs since are replayed, so some may count
/// twice) or `exactly_once` (every spout must be a
/// [`ReplayableSpout`](super::ReplayableSpout); after a failure every state and every spout
/// goes back to the last checkpoint, so each input counts once).
///
/// # Examples
/// ```
/// use squall_topology_api::{Config, state::TOPOLOGY_STATE_GUARANTEE};
/// let mut conf = Config::new();
/// conf.set(TOPOLOGY_STATE_GUARANTEE, "exactly_once");
/// ```
pub const TOPOLOGY_STATE_GUARANTEE: &str = "topology.state.guarantee";

/// Whether the task runs with exactly-once state: `topology.state.guarantee` is `exactly_once`
/// and the topology has stateful bolts (so checkpoints run). A [`ReplayableSpout`](super::ReplayableSpout)
/// that also serves at-least-once topologies asks this in `open` to know whether its
/// `ack`/`fail` or its `committed` will be called.
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// use squall_topology_api::state::exactly_once;
/// # use std::sync::Arc;
/// # let shared = Arc::new(SharedContext {
/// #     topology_id: "t-1-1".into(),
/// #     spec: Arc::default(),
/// #     layout: Arc::new(TaskLayout::new([("words", 1)])),
/// #     worker_tasks: vec![1],
/// #     worker_port: None,
/// # });
/// let context = TopologyContext::new(shared, "words", 1, Arc::new(Config::new()));
/// assert!(!exactly_once(&context)); // at_least_once unless configured, and no checkpoints here
/// ```
pub fn exactly_once(context: &TopologyContext) -> bool {
    Guarantee::of(context.config()) == Guarantee::ExactlyOnce
        && context.spec().component(CHECKPOINT_COMPONENT_ID).is_some()
}

/// The values `topology.state.guarantee` takes.
pub(crate) const GUARANTEES: &[&str] = &["at_least_once", "exactly_once"];

/// Which state guarantee a topology runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Guarantee {
    AtLeastOnce,
    ExactlyOnce,
}

impl Guarantee {
    pub(crate) fn of(conf: &Config) -> Guarantee {
        match conf.get_str(TOPOLOGY_STATE_GUARANTEE) {
            Some("exactly_once") => Guarantee::ExactlyOnce,
            _ => Guarantee::AtLeastOnce,
        }
    }

    /// Whether `component`'s copies of each checkpoint step count: in exactly-once mode those
    /// that came down the data's edges (not the checkpoint spout's direct ones); in Storm's
    /// mode those of the checkpoint spout and of bolts (not the spouts').
    pub(crate) fn counts(self, spec: &TopologySpec, component: &str) -> bool {
        let is_checkpoint_spout = component == CHECKPOINT_COMPONENT_ID;
        match self {
            Guarantee::ExactlyOnce => !is_checkpoint_spout,
            Guarantee::AtLeastOnce => {
                is_checkpoint_spout
                    || spec
                        .component(component)
                        .is_some_and(|c| c.kind == ComponentKind::Bolt)
            }
        }
    }

    /// How many upstream tasks send this task each checkpoint step that counts.
    pub(crate) fn senders(self, context: &TopologyContext) -> usize {
        let spec = context.spec();
        let Some(me) = spec.component(context.this_component_id()) else {
            return 1;
        };
        me.inputs
            .iter()
            .filter(|i| i.stream == CHECKPOINT_STREAM_ID && self.counts(spec, &i.component))
            .map(|i| context.component_tasks(&i.component).len())
            .sum()
    }
}
