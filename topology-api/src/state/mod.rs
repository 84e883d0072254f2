//! Stateful bolts and checkpoints (Storm 1.0+'s `IStatefulBolt`, §"State management").
//!
//! A [`StatefulBolt`] keeps a [`KeyValueState`] per task. When a topology has one, the
//! builder adds the `$checkpointspout` spout, which every `topology.state.checkpoint.interval.ms`
//! sends a checkpoint down the `$checkpoint` stream, wired with all grouping from it into every
//! bolt fed by a spout and from each bolt to the bolts it feeds. Each stateful task writes its
//! changes aside (PREPARE), then commits them (COMMIT) once every task has prepared; its
//! inputs are acked only then. After a failure the state is the last committed one and the
//! inputs since are replayed by their spouts: at-least-once state, as in Storm.
//!
//! - `checkpoint`: the coordinator's steps (a pure state machine).
//! - `arrivals`: when a bolt has every copy of a step.
//! - `spout`: the coordinator as a spout.
//! - `bolt`: the stateful bolt trait, its runner, and the forwarder for plain bolts.
//! - `task`: what the runner runs (a stateful bolt, or a stateful windowed bolt).
//! - `kv`: the key/value state a task sees.
//! - `store`, `memory`, `disk`, `provider`: where state is kept, and choosing it.

mod align;
mod arrivals;
mod bolt;
mod checkpoint;
mod disk;
mod guarantee;
mod kv;
mod memory;
mod provider;
mod replay;
mod sink;
mod spout;
mod store;
mod task;
mod wiring;

pub use bolt::StatefulBolt;
pub(crate) use bolt::{CheckpointForwarder, Stateful};
pub use disk::DiskBackend;
pub(crate) use guarantee::{GUARANTEES, Guarantee};
pub use guarantee::{TOPOLOGY_STATE_GUARANTEE, exactly_once};
pub use kv::{KeyValueState, StateData};
pub use memory::MemoryBackend;
pub(crate) use provider::Providers;
pub use provider::{BackendFactory, TOPOLOGY_STATE_PROVIDER, TOPOLOGY_STATE_PROVIDER_CONFIG};
pub(crate) use replay::Replayable;
pub use replay::ReplayableSpout;
pub(crate) use sink::TwoPhase;
pub use sink::TwoPhaseSink;
pub(crate) use spout::CheckpointSpout;
pub use spout::TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS;
pub use store::{Change, Loaded, SharedBackend, StateBackend, StateError, StateStore};
pub(crate) use task::StateTask;
pub(crate) use wiring::wire_checkpoints;

/// The spout the builder adds to a topology with stateful bolts (Storm's name).
///
/// # Examples
/// ```
/// use squall_topology_api::state::CHECKPOINT_COMPONENT_ID;
/// assert_eq!(CHECKPOINT_COMPONENT_ID, "$checkpointspout");
/// ```
pub const CHECKPOINT_COMPONENT_ID: &str = "$checkpointspout";

/// The stream checkpoints travel on (Storm's name), fields `txid` and `action` (Storm's) and
/// `seq`, which tells the tries of a retried step apart.
///
/// # Examples
/// ```
/// use squall_topology_api::state::CHECKPOINT_STREAM_ID;
/// assert_eq!(CHECKPOINT_STREAM_ID, "$checkpoint");
/// ```
pub const CHECKPOINT_STREAM_ID: &str = "$checkpoint";

/// The fields of the `$checkpoint` stream.
pub(crate) const CHECKPOINT_FIELDS: [&str; 3] = ["txid", "action", "seq"];

/// Set in a replayable spout's component configuration, so a submission can check that an
/// exactly-once topology reads only from replayable spouts.
pub(crate) const REPLAYABLE_MARKER: &str = "topology.state.replayable";

/// The name state is kept under, from the topology's id: a cluster's ids are
/// `<name>-<counter>-<submitted secs>`, and state is kept by name so it outlives a
/// resubmission; local mode's ids are `<name>-local`, kept whole, so a local run never reads
/// or writes a cluster topology's state.
pub(crate) fn topology_name(id: &str) -> &str {
    let mut parts = id.rsplitn(3, '-');
    let (Some(secs), Some(counter), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
        return id;
    };
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if numeric(secs) && numeric(counter) && !name.is_empty() {
        name
    } else {
        id
    }
}

#[cfg(test)]
mod tests {
    use super::topology_name;

    #[test]
    fn the_name_is_the_id_without_its_counter_and_time() {
        assert_eq!(topology_name("word-count-12-1700000000"), "word-count");
        assert_eq!(topology_name("wordcount"), "wordcount");
        assert_eq!(topology_name("a-b"), "a-b");
        assert_eq!(topology_name("run-2026-v2"), "run-2026-v2");
    }
}
