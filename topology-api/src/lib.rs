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
/// Stateful bolts and checkpoints: see the module's docs.
///
/// ```
/// use squall_topology_api::state::{KeyValueState, CHECKPOINT_STREAM_ID};
/// let mut counts: KeyValueState<String, u64> = KeyValueState::detached();
/// counts.put("storm".into(), 1);
/// assert_eq!(CHECKPOINT_STREAM_ID, "$checkpoint");
/// ```
pub mod state;
mod tuple;
mod validate;
mod value;
/// Windowed bolts: see the module's docs.
///
/// ```
/// use squall_topology_api::window::{Extent, WindowSpec};
/// let spec = WindowSpec::tumbling(Extent::count(100));
/// assert!(spec.check().is_ok());
/// ```
pub mod window;

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
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// let layout = TaskLayout::new([("count", 3)]);
/// let tasks: &[TaskId] = layout.tasks_of("count");
/// assert_eq!(tasks, &[1, 2, 3]); // numbered from 1; 0 is SYSTEM_TASK_ID
/// // A tuple knows the task that emitted it.
/// let t = Tuple::for_test("split", "default", Fields::new(["word"]), values!["storm"]);
/// let from: TaskId = t.source_task();
/// assert_eq!(from, 1);
/// ```
pub type TaskId = u32;

/// The task id that system tuples (ticks) carry. Storm uses -1; task ids are unsigned here and
/// start at 1, so 0 is free for the system.
///
/// # Examples
/// ```
/// use squall_topology_api::{values, AnchorIds, StreamSchema, TaskLayout, Tuple, SYSTEM_TASK_ID};
/// assert_eq!(SYSTEM_TASK_ID, 0);
/// let tick = Tuple::from_parts(StreamSchema::tick(), SYSTEM_TASK_ID, values![30], AnchorIds::new());
/// assert_eq!(tick.source_task(), SYSTEM_TASK_ID);
/// // No component owns it.
/// assert_eq!(TaskLayout::new([("count", 2)]).component_of(SYSTEM_TASK_ID), None);
/// ```
pub const SYSTEM_TASK_ID: TaskId = 0;

/// The id a spout gives a tracked tuple; it comes back in `ack` and `fail`.
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// use std::collections::HashMap;
/// /// Emits lines tracked by their line number, and re-emits the ones that fail.
/// struct Lines { lines: Vec<String>, next: MessageId, retry: Vec<MessageId> }
/// impl Spout for Lines {
///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
///         out.declare(Fields::new(["line"]));
///     }
///     fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
///         let id = match self.retry.pop() {
///             Some(id) => id,
///             None if (self.next as usize) < self.lines.len() => { self.next += 1; self.next - 1 }
///             None => return Ok(()),
///         };
///         out.emit_with_id(values![self.lines[id as usize].as_str()], id)?;
///         Ok(())
///     }
///     fn fail(&mut self, id: MessageId) {
///         self.retry.push(id);
///     }
/// }
/// let mut spout = Lines { lines: vec!["a".into(), "b".into()], next: 0, retry: vec![] };
/// spout.fail(1);
/// assert_eq!(spout.retry, [1]);
/// ```
pub type MessageId = u64;

/// Everything a topology file usually needs.
///
/// # Examples
/// ```
/// use squall_topology_api::prelude::*;
///
/// struct Split;
/// impl Bolt for Split {
///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
///         out.declare(Fields::new(["word"]));
///     }
///     fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
///         for word in input.get_str("sentence")?.split_whitespace() {
///             out.emit(&[&input], values![word])?;
///         }
///         out.ack(&input);
///         Ok(())
///     }
/// }
/// # struct Sentences;
/// # impl Spout for Sentences {
/// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new(["sentence"])); }
/// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
/// # }
/// let mut b = TopologyBuilder::new();
/// b.set_spout("sentences", || Sentences, 1);
/// b.set_bolt("split", || Split, 2).shuffle_grouping("sentences");
/// let topology: Topology = b.build().unwrap();
/// assert_eq!(topology.spec().components.len(), 2);
/// ```
pub mod prelude {
    pub use crate::state::{KeyValueState, StatefulBolt};
    pub use crate::window::{
        Extent, StatefulWindowedBolt, TupleWindow, WindowCollector, WindowSpec, Windowed,
        WindowedBolt,
    };
    pub use crate::{
        BasicBolt, BasicCollector, Bolt, BoltCollector, ComponentError, Config, Fields, MessageId,
        OutputDeclarer, Spout, SpoutCollector, TaskId, Topology, TopologyBuilder, TopologyContext,
        Tuple, Value, Values, values,
    };
}
