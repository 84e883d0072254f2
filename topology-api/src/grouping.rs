//! How a subscribing bolt's tasks share a stream.

use serde::{Deserialize, Serialize};

use crate::{Fields, TaskId, Value};

/// A stream grouping: which of the subscriber's tasks receive each tuple.
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// # struct Words;
/// # impl Spout for Words {
/// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new(["word"])); }
/// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
/// # }
/// # struct Count;
/// # impl Bolt for Count {
/// #     fn execute(&mut self, t: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> { out.ack(&t); Ok(()) }
/// # }
/// let mut b = TopologyBuilder::new();
/// b.set_spout("words", || Words, 1);
/// // The same as `.fields_grouping("words", ["word"])`.
/// b.set_bolt("count", || Count, 4).grouping("words", Grouping::Fields(Fields::new(["word"])));
/// let topology = b.build().unwrap();
/// let input = &topology.spec().component("count").unwrap().inputs[0];
/// assert_eq!(input.grouping, Grouping::Fields(Fields::new(["word"])));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "fields")]
pub enum Grouping {
    /// Spread evenly over the tasks.
    Shuffle,
    /// Tuples with equal values in these fields go to the same task.
    Fields(Fields),
    /// Every task gets a copy.
    All,
    /// Everything goes to the task with the lowest id.
    Global,
    /// Don't care: currently a uniformly random task.
    None,
    /// The emitter names the task with `emit_direct`; the stream must be declared direct.
    Direct,
    /// Tasks in the emitter's own worker process if there are any, else shuffle.
    LocalOrShuffle,
    /// Key grouping with two candidate tasks per key, picking the less loaded one
    /// ("the power of two choices"), for skewed keys.
    PartialKey(Fields),
    /// A user grouping registered on the builder under this name.
    Custom(String),
}

impl Grouping {
    /// The grouping's short name, as the UI and errors show it.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{Fields, Grouping};
    /// assert_eq!(Grouping::Shuffle.name(), "shuffle");
    /// assert_eq!(Grouping::PartialKey(Fields::new(["user"])).name(), "partial_key");
    /// assert_eq!(Grouping::Custom("Parity".into()).name(), "Parity");
    /// ```
    pub fn name(&self) -> &str {
        match self {
            Grouping::Shuffle => "shuffle",
            Grouping::Fields(_) => "fields",
            Grouping::All => "all",
            Grouping::Global => "global",
            Grouping::None => "none",
            Grouping::Direct => "direct",
            Grouping::LocalOrShuffle => "local_or_shuffle",
            Grouping::PartialKey(_) => "partial_key",
            Grouping::Custom(name) => name,
        }
    }

    /// The fields the grouping keys on, if it keys on fields.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{Fields, Grouping};
    /// let by_word = Grouping::Fields(Fields::new(["word"]));
    /// assert_eq!(by_word.key_fields(), Some(&Fields::new(["word"])));
    /// assert_eq!(Grouping::Shuffle.key_fields(), None);
    /// ```
    pub fn key_fields(&self) -> Option<&Fields> {
        match self {
            Grouping::Fields(f) | Grouping::PartialKey(f) => Some(f),
            _ => None,
        }
    }
}

/// A user-defined grouping (Storm's `CustomStreamGrouping`). One instance runs in each emitting
/// executor, so it may keep state without locks.
///
/// # Examples
/// ```
/// use squall_topology_api::{CustomGrouping, TaskId, Value};
/// /// Sends even numbers to the first task and odd ones to every other task.
/// struct Parity { targets: Vec<TaskId> }
/// impl CustomGrouping for Parity {
///     fn prepare(&mut self, targets: &[TaskId]) { self.targets = targets.to_vec(); }
///     fn choose_tasks(&mut self, _source: TaskId, values: &[Value], out: &mut Vec<TaskId>) {
///         match values[0].as_i64() {
///             Some(n) if n % 2 == 0 => out.push(self.targets[0]),
///             _ => out.extend_from_slice(&self.targets[1..]),
///         }
///     }
/// }
/// ```
pub trait CustomGrouping: Send + 'static {
    /// Called once with the subscriber's task ids, sorted ascending.
    fn prepare(&mut self, target_tasks: &[TaskId]);

    /// Pushes the tasks that receive a tuple with these values onto `out`. Tasks not among the
    /// targets given to `prepare` are ignored.
    fn choose_tasks(&mut self, source_task: TaskId, values: &[Value], out: &mut Vec<TaskId>);
}
