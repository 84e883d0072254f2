//! # Squall topology API
//!
//! What a topology author writes against: [`Spout`]s emit tuples, [`Bolt`]s process them, and
//! a [`TopologyBuilder`] wires them into a DAG with stream [`Grouping`]s. The runtime
//! (`squall-worker`) runs the result in one process or across a cluster; nothing here knows
//! about threads, queues or networks.
//!
//! Reliability is Storm's: a spout that emits with a message id hears `ack` once the whole
//! tree of tuples descending from it has been acked, or `fail` when any part fails or the tree
//! times out (`topology.message.timeout.secs`). Bolts anchor their emits to their inputs to grow
//! the tree, and ack or fail every input.
#![forbid(missing_docs)]

mod builder;
mod collector;
mod component;
pub mod config;
mod context;
mod error;
mod fields;
mod grouping;
mod layout;
pub mod limits;
mod schema;
mod spec;
mod tuple;
mod validate;
mod value;

pub use builder::{BoltDeclarer, SpoutDeclarer, StreamSource, TopologyBuilder};
pub use collector::{
    BasicCollector, BoltCollector, BoltOutput, EmitError, SpoutCollector, SpoutOutput,
    stream_or_default,
};
pub use component::{BasicBolt, BasicBoltAdapter, Bolt, OutputDeclarer, Spout, StreamDeclaration};
pub use config::{Config, ConfigValue};
pub use context::{SharedContext, TopologyContext};
pub use error::ComponentError;
pub use fields::Fields;
pub use grouping::{CustomGrouping, Grouping};
pub use layout::{ACKER_COMPONENT_ID, TaskLayout, acker_count, cap_parallelism, split_tasks};
pub use schema::{DEFAULT_STREAM_ID, SYSTEM_COMPONENT_ID, StreamSchema, TICK_STREAM_ID};
pub use spec::{
    BoltFactory, ComponentFactory, ComponentKind, ComponentSpec, GroupingFactory, InputSpec,
    SpoutFactory, SubscriptionKey, Topology, TopologySpec,
};
pub use tuple::{AnchorIds, FieldRef, Tuple, TupleError};
pub use validate::{InvalidTopology, TopologyProblem, valid_topology_name};
pub use value::{CompactString, Value, Values};

/// A task's id: unique within a topology, numbered from 1.
pub type TaskId = u32;

/// The task id that system tuples (ticks) carry. Storm uses -1; task ids are unsigned here and
/// start at 1, so 0 is free for the system.
pub const SYSTEM_TASK_ID: TaskId = 0;

/// The id a spout gives a tracked tuple; it comes back in `ack` and `fail`.
pub type MessageId = u64;

/// Everything a topology file usually needs.
pub mod prelude {
    pub use crate::{
        BasicBolt, BasicCollector, Bolt, BoltCollector, ComponentError, Config, Fields, MessageId,
        OutputDeclarer, Spout, SpoutCollector, TaskId, Topology, TopologyBuilder, TopologyContext,
        Tuple, Value, Values, values,
    };
}
