//! The tuple a bolt receives.

use std::cell::Cell;
use std::fmt;

use smallvec::SmallVec;

use crate::schema::StreamSchema;
use crate::{Fields, TaskId, Value, Values};

/// The tuple trees a tuple belongs to: pairs of (root id, XOR of this tuple's edge ids in that
/// tree). Storm calls this the tuple's `MessageId`; nearly every tuple belongs to one tree.
///
/// # Examples
/// ```
/// use squall_topology_api::{values, AnchorIds, Fields, StreamSchema, Tuple};
/// let mut anchors = AnchorIds::new();
/// anchors.push((0x5eed, 0b1010)); // (root id, edge XOR) in one tree
/// let schema = StreamSchema::intern("split", "default", Fields::new(["word"]));
/// let t = Tuple::from_parts(schema, 2, values!["storm"], anchors);
/// assert_eq!(t.anchor_ids().as_slice(), &[(0x5eed, 0b1010)]);
/// ```
pub type AnchorIds = SmallVec<[(u64, u64); 1]>;

/// A tuple received by a bolt: its values, where it came from, and (for the runtime) the tuple
/// trees it belongs to.
///
/// A tuple is not `Clone`: it is acked or failed exactly once, by whoever holds it.
///
/// # Examples
/// ```
/// use squall_topology_api::{values, Fields, Tuple};
/// let t = Tuple::for_test("split", "default", Fields::new(["word", "n"]), values!["storm", 2]);
/// assert_eq!(t.get_str("word").unwrap(), "storm");
/// assert_eq!(t.get_i64(1).unwrap(), 2);
/// assert_eq!(t.source_component(), "split");
/// ```
pub struct Tuple {
    values: Values,
    schema: &'static StreamSchema,
    source_task: TaskId,
    anchors: AnchorIds,
    /// XOR of the edge ids of the children anchored to this tuple so far (Storm's `ackVal`).
    ack_val: Cell<u64>,
    /// When the runtime samples this tuple's latency: its executor clock in microseconds
    /// (wrapping, never 0); 0 when not sampled. Sits in the padding after `source_task`.
    sample_stamp: Cell<u32>,
}

/// Why a value could not be read from a tuple.
///
/// # Examples
/// ```
/// use squall_topology_api::{values, Fields, Tuple, TupleError};
/// let t = Tuple::for_test("split", "default", Fields::new(["word"]), values!["storm"]);
/// assert!(matches!(t.get_str("count"), Err(TupleError::NoSuchField { .. })));
/// assert_eq!(t.get(&3).unwrap_err(), TupleError::IndexOutOfRange { index: 3, len: 1 });
/// let err = t.get_i64("word").unwrap_err();
/// assert_eq!(err.to_string(), "field word is string, not i64");
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TupleError {
    /// The stream has no field of that name.
    #[error("no field {field:?} on stream {stream:?} of component {component:?}")]
    NoSuchField {
        /// The field asked for.
        field: String,
        /// The tuple's stream.
        stream: String,
        /// The tuple's source component.
        component: String,
    },
    /// The index is past the last value.
    #[error("no value at index {index}: the tuple has {len} values")]
    IndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// How many values the tuple has.
        len: usize,
    },
    /// The value has another type.
    #[error("field {field} is {found}, not {expected}")]
    TypeMismatch {
        /// The field name or index.
        field: String,
        /// The type asked for.
        expected: &'static str,
        /// The value's type.
        found: &'static str,
    },
}

/// Names a value of a tuple: its index (`usize`) or its field name (`&str`).
///
/// # Examples
/// ```
/// use squall_topology_api::{values, FieldRef, Fields, Tuple};
/// let t = Tuple::for_test("count", "default", Fields::new(["word", "count"]), values!["storm", 3]);
/// assert_eq!("count".resolve(&t), Ok(1));
/// assert_eq!(1usize.resolve(&t), Ok(1));
/// assert!("sentence".resolve(&t).is_err());
///
/// // Generic code can take either form.
/// fn show(t: &Tuple, field: impl FieldRef) -> String {
///     format!("{field} = {}", t.get(&field).unwrap())
/// }
/// assert_eq!(show(&t, "word"), r#"word = "storm""#);
/// assert_eq!(show(&t, 1), "1 = 3");
/// ```
pub trait FieldRef: fmt::Display {
    /// The index this refers to in a tuple with these fields.
    ///
    /// # Errors
    /// [`TupleError::NoSuchField`] when a name is not among the fields.
    fn resolve(&self, tuple: &Tuple) -> Result<usize, TupleError>;
}

impl FieldRef for usize {
    fn resolve(&self, _tuple: &Tuple) -> Result<usize, TupleError> {
        Ok(*self)
    }
}

impl FieldRef for &str {
    fn resolve(&self, tuple: &Tuple) -> Result<usize, TupleError> {
        tuple
            .fields()
            .index_of(self)
            .ok_or_else(|| TupleError::NoSuchField {
                field: (*self).to_owned(),
                stream: tuple.source_stream().to_owned(),
                component: tuple.source_component().to_owned(),
            })
    }
}

macro_rules! typed_getter {
    ($(#[$doc:meta])* $name:ident -> $ret:ty, $expected:literal, $conv:expr) => {
        $(#[$doc])*
        ///
        /// # Errors
        /// When the field does not exist or holds another type.
        pub fn $name(&self, field: impl FieldRef) -> Result<$ret, TupleError> {
            let v = self.get(&field)?;
            let conv: fn(&Value) -> Option<$ret> = $conv;
            conv(v).ok_or_else(|| TupleError::TypeMismatch {
                field: field.to_string(),
                expected: $expected,
                found: v.type_name(),
            })
        }
    };
}

impl Tuple {
    /// A tuple as the runtime builds it. Not meant for topology code, which receives tuples.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{values, AnchorIds, Fields, StreamSchema, Tuple};
    /// let schema = StreamSchema::intern("split", "default", Fields::new(["word"]));
    /// let t = Tuple::from_parts(schema, 5, values!["storm"], AnchorIds::new());
    /// assert_eq!(t.source_task(), 5);
    /// assert_eq!(t.get_str("word").unwrap(), "storm");
    /// ```
    #[doc(hidden)]
    pub fn from_parts(
        schema: &'static StreamSchema,
        source_task: TaskId,
        values: Values,
        anchors: AnchorIds,
    ) -> Self {
        Tuple {
            values,
            schema,
            source_task,
            anchors,
            ack_val: Cell::new(0),
            sample_stamp: Cell::new(0),
        }
    }

    /// The runtime's latency-sampling stamp (0: not sampled). Not meant for topology code.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{values, Fields, Tuple};
    /// let t = Tuple::for_test("split", "default", Fields::new(["word"]), values!["storm"]);
    /// assert_eq!(t.sample_stamp(), 0); // not sampled
    /// t.set_sample_stamp(1234);
    /// assert_eq!(t.sample_stamp(), 1234);
    /// ```
    #[doc(hidden)]
    pub fn sample_stamp(&self) -> u32 {
        self.sample_stamp.get()
    }

    /// Marks the tuple as sampled at `stamp`, or unmarks it with 0. Not meant for topology code.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{values, Fields, Tuple};
    /// let t = Tuple::for_test("split", "default", Fields::new(["word"]), values!["storm"]);
    /// t.set_sample_stamp(99);
    /// assert_eq!(t.sample_stamp(), 99);
    /// t.set_sample_stamp(0);
    /// assert_eq!(t.sample_stamp(), 0);
    /// ```
    #[doc(hidden)]
    pub fn set_sample_stamp(&self, stamp: u32) {
        self.sample_stamp.set(stamp);
    }

    /// A tuple from a component and stream, for unit-testing a bolt's `execute` without running
    /// a topology (Storm's `Testing.testTuple`). It belongs to no tuple tree, so acking it does
    /// nothing.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{values, Fields, Tuple};
    /// let t = Tuple::for_test("sentences", "default", Fields::new(["sentence"]), values!["the cow"]);
    /// assert_eq!(t.source_component(), "sentences");
    /// assert_eq!(t.get_str("sentence").unwrap(), "the cow");
    /// assert!(t.anchor_ids().is_empty()); // belongs to no tree
    /// ```
    pub fn for_test(component: &str, stream: &str, fields: Fields, values: Values) -> Self {
        Tuple::from_parts(
            StreamSchema::intern(component, stream, fields),
            1,
            values,
            AnchorIds::new(),
        )
    }

    /// All values, in field order.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{values, Fields, Tuple};
    /// let t = Tuple::for_test("count", "default", Fields::new(["word", "count"]), values!["storm", 3]);
    /// assert_eq!(t.values(), &values!["storm", 3]);
    /// ```
    pub fn values(&self) -> &Values {
        &self.values
    }

    /// Takes the values out, leaving none; the tuple can still be acked, failed and anchored to.
    /// Lets a bolt re-emit (a modified copy of) its input without cloning it.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{values, Fields, Tuple, Value};
    /// let mut t = Tuple::for_test("count", "default", Fields::new(["word", "count"]), values!["storm", 3]);
    /// let mut v = t.take_values();
    /// v[1] = Value::from(4); // e.g. re-emit a modified copy, anchored to `t`
    /// assert_eq!(v, values!["storm", 4]);
    /// assert!(t.is_empty());
    /// ```
    pub fn take_values(&mut self) -> Values {
        std::mem::take(&mut self.values)
    }

    /// The value at an index or field name.
    ///
    /// # Errors
    /// When there is no such field or index.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{values, Fields, Tuple, Value};
    /// let t = Tuple::for_test("count", "default", Fields::new(["word", "count"]), values!["storm", 3]);
    /// assert_eq!(t.get(&"count").unwrap(), &Value::I64(3));
    /// assert_eq!(t.get(&0).unwrap(), &Value::from("storm"));
    /// assert!(t.get(&2).is_err());
    /// ```
    pub fn get(&self, field: &impl FieldRef) -> Result<&Value, TupleError> {
        let index = field.resolve(self)?;
        self.values.get(index).ok_or(TupleError::IndexOutOfRange {
            index,
            len: self.values.len(),
        })
    }

    typed_getter!(
        /// The string at an index or field name.
        ///
        /// # Examples
        /// ```
        /// use squall_topology_api::{values, Fields, Tuple};
        /// let t = Tuple::for_test("split", "default", Fields::new(["word", "n"]), values!["storm", 1]);
        /// assert_eq!(t.get_str("word").unwrap(), "storm");
        /// assert_eq!(t.get_str(0).unwrap(), "storm");
        /// assert!(t.get_str("n").is_err()); // an integer, not a string
        /// ```
        get_str -> &str, "string", |v| v.as_str()
    );
    typed_getter!(
        /// The integer at an index or field name.
        ///
        /// # Examples
        /// ```
        /// use squall_topology_api::{values, Fields, Tuple};
        /// let t = Tuple::for_test("count", "default", Fields::new(["word", "count"]), values!["storm", 3]);
        /// assert_eq!(t.get_i64("count").unwrap(), 3);
        /// assert!(t.get_i64("word").is_err());
        /// ```
        get_i64 -> i64, "i64", Value::as_i64
    );
    typed_getter!(
        /// The float at an index or field name (integers are widened).
        ///
        /// # Examples
        /// ```
        /// use squall_topology_api::{values, Fields, Tuple};
        /// let t = Tuple::for_test("sensor", "default", Fields::new(["temp", "count"]), values![21.5, 3]);
        /// assert_eq!(t.get_f64("temp").unwrap(), 21.5);
        /// assert_eq!(t.get_f64("count").unwrap(), 3.0);
        /// ```
        get_f64 -> f64, "f64", Value::as_f64
    );
    typed_getter!(
        /// The boolean at an index or field name.
        ///
        /// # Examples
        /// ```
        /// use squall_topology_api::{values, Fields, Tuple};
        /// let t = Tuple::for_test("login", "default", Fields::new(["user", "ok"]), values!["ann", true]);
        /// assert!(t.get_bool("ok").unwrap());
        /// assert!(t.get_bool("user").is_err());
        /// ```
        get_bool -> bool, "bool", Value::as_bool
    );
    typed_getter!(
        /// The bytes at an index or field name.
        ///
        /// # Examples
        /// ```
        /// use squall_topology_api::{values, Fields, Tuple};
        /// let t = Tuple::for_test("reader", "default", Fields::new(["blob"]), values![vec![0xCAu8, 0xFE]]);
        /// assert_eq!(t.get_bytes("blob").unwrap(), &[0xCA, 0xFE]);
        /// ```
        get_bytes -> &[u8], "bytes", |v| v.as_bytes()
    );

    /// The number of values.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{values, Fields, Tuple};
    /// let t = Tuple::for_test("count", "default", Fields::new(["word", "count"]), values!["storm", 3]);
    /// assert_eq!(t.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the tuple has no values.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{values, Fields, Tuple};
    /// let mut t = Tuple::for_test("split", "default", Fields::new(["word"]), values!["storm"]);
    /// assert!(!t.is_empty());
    /// t.take_values();
    /// assert!(t.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The field names of the tuple's stream.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{values, Fields, Tuple};
    /// let t = Tuple::for_test("count", "default", Fields::new(["word", "count"]), values!["storm", 3]);
    /// assert_eq!(t.fields().index_of("count"), Some(1));
    /// ```
    pub fn fields(&self) -> &Fields {
        self.schema.fields()
    }

    /// The id of the component that emitted the tuple (`__system` for ticks).
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{values, Fields, Tuple};
    /// let t = Tuple::for_test("split", "default", Fields::new(["word"]), values!["storm"]);
    /// assert_eq!(t.source_component(), "split");
    /// ```
    pub fn source_component(&self) -> &str {
        self.schema.component()
    }

    /// The stream the tuple was emitted on.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{values, Fields, Tuple};
    /// let t = Tuple::for_test("split", "errors", Fields::new(["line"]), values!["bad line"]);
    /// assert_eq!(t.source_stream(), "errors");
    /// ```
    pub fn source_stream(&self) -> &str {
        self.schema.stream()
    }

    /// The task that emitted the tuple ([`SYSTEM_TASK_ID`](crate::SYSTEM_TASK_ID) for ticks).
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{values, AnchorIds, StreamSchema, Tuple, SYSTEM_TASK_ID};
    /// let tick = Tuple::from_parts(StreamSchema::tick(), SYSTEM_TASK_ID, values![30], AnchorIds::new());
    /// assert_eq!(tick.source_task(), SYSTEM_TASK_ID);
    /// ```
    pub fn source_task(&self) -> TaskId {
        self.source_task
    }

    /// Whether this is a tick tuple (`topology.tick.tuple.freq.secs`).
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{values, AnchorIds, Fields, StreamSchema, Tuple, SYSTEM_TASK_ID};
    /// let tick = Tuple::from_parts(StreamSchema::tick(), SYSTEM_TASK_ID, values![30], AnchorIds::new());
    /// assert!(tick.is_tick());
    /// assert_eq!(tick.get_i64("rate_secs").unwrap(), 30);
    /// let word = Tuple::for_test("split", "default", Fields::new(["word"]), values!["storm"]);
    /// assert!(!word.is_tick());
    /// ```
    pub fn is_tick(&self) -> bool {
        self.schema.is_tick()
    }

    /// The interned schema; the runtime compares these by address.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{values, Fields, StreamSchema, Tuple};
    /// let t = Tuple::for_test("split", "default", Fields::new(["word"]), values!["storm"]);
    /// let same = StreamSchema::intern("split", "default", Fields::new(["word"]));
    /// assert!(std::ptr::eq(t.schema(), same));
    /// ```
    #[doc(hidden)]
    pub fn schema(&self) -> &'static StreamSchema {
        self.schema
    }

    /// The tuple trees this tuple belongs to (root id, edge XOR).
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{values, AnchorIds, Fields, StreamSchema, Tuple};
    /// let schema = StreamSchema::intern("split", "default", Fields::new(["word"]));
    /// let mut anchors = AnchorIds::new();
    /// anchors.push((7, 0b0110));
    /// let t = Tuple::from_parts(schema, 2, values!["storm"], anchors);
    /// assert_eq!(t.anchor_ids()[0], (7, 0b0110));
    /// ```
    #[doc(hidden)]
    pub fn anchor_ids(&self) -> &AnchorIds {
        &self.anchors
    }

    /// XOR of the edges of the children anchored to this tuple so far.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{values, Fields, Tuple};
    /// let t = Tuple::for_test("split", "default", Fields::new(["word"]), values!["storm"]);
    /// assert_eq!(t.ack_val(), 0); // no children yet
    /// t.xor_ack_val(0b1100);
    /// t.xor_ack_val(0b0100);
    /// assert_eq!(t.ack_val(), 0b1000);
    /// ```
    #[doc(hidden)]
    pub fn ack_val(&self) -> u64 {
        self.ack_val.get()
    }

    /// Records a child edge anchored to this tuple.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{values, Fields, Tuple};
    /// let t = Tuple::for_test("split", "default", Fields::new(["word"]), values!["storm"]);
    /// t.xor_ack_val(0xabc);
    /// t.xor_ack_val(0xabc); // the same edge twice cancels out
    /// assert_eq!(t.ack_val(), 0);
    /// ```
    #[doc(hidden)]
    pub fn xor_ack_val(&self, edge: u64) {
        self.ack_val.set(self.ack_val.get() ^ edge);
    }
}

impl fmt::Debug for Tuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tuple")
            .field("component", &self.source_component())
            .field("stream", &self.source_stream())
            .field("task", &self.source_task)
            .field("values", &self.values)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values;

    fn tuple() -> Tuple {
        Tuple::for_test("c", "s", Fields::new(["a", "b"]), values!["x", 1.5])
    }

    #[test]
    fn getters_by_index_and_name_agree() {
        let t = tuple();
        assert_eq!(t.get_str(0).unwrap(), "x");
        assert_eq!(t.get_str("a").unwrap(), "x");
        assert_eq!(t.get_f64("b").unwrap(), 1.5);
    }

    #[test]
    fn errors_name_the_problem() {
        let t = tuple();
        let err = t.get_str("nope").unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"no field "nope" on stream "s" of component "c""#
        );
        let err = t.get_i64("a").unwrap_err();
        assert_eq!(err.to_string(), "field a is string, not i64");
        let err = t.get(&5).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no value at index 5: the tuple has 2 values"
        );
    }

    #[test]
    fn schemas_are_interned() {
        let a = StreamSchema::intern("c", "s", Fields::new(["a"]));
        let b = StreamSchema::intern("c", "s", Fields::new(["a"]));
        assert!(std::ptr::eq(a, b));
        assert!(StreamSchema::tick().is_tick());
        assert!(!a.is_tick());
    }
}
