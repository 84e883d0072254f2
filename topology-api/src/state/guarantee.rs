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
