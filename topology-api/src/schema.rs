//! Stream schemas: which component emitted a tuple, on which stream, with which fields.
//!
//! Every tuple points at its schema. Schemas are interned for the life of the process and
//! handed out as `&'static`, so a tuple carries one pointer instead of reference-counting a
//! shared object on every emit (an atomic per tuple, contended across executor threads). The
//! set of distinct schemas is bounded by the topologies a process runs, so interning does not
//! grow without bound.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use crate::Fields;

/// The component id of system tuples (ticks).
///
/// # Examples
/// ```
/// use squall_topology_api::{values, AnchorIds, StreamSchema, Tuple, SYSTEM_COMPONENT_ID, SYSTEM_TASK_ID};
/// assert_eq!(SYSTEM_COMPONENT_ID, "__system");
/// let tick = Tuple::from_parts(StreamSchema::tick(), SYSTEM_TASK_ID, values![30], AnchorIds::new());
/// assert_eq!(tick.source_component(), SYSTEM_COMPONENT_ID);
/// ```
pub const SYSTEM_COMPONENT_ID: &str = "__system";
/// The stream id of tick tuples.
///
/// # Examples
/// ```
/// use squall_topology_api::{values, AnchorIds, StreamSchema, Tuple, SYSTEM_TASK_ID, TICK_STREAM_ID};
/// assert_eq!(TICK_STREAM_ID, "__tick");
/// let tick = Tuple::from_parts(StreamSchema::tick(), SYSTEM_TASK_ID, values![30], AnchorIds::new());
/// assert_eq!(tick.source_stream(), TICK_STREAM_ID);
/// assert!(tick.is_tick());
/// ```
pub const TICK_STREAM_ID: &str = "__tick";
/// The default stream id.
///
/// # Examples
/// ```
/// use squall_topology_api::{values, Fields, Tuple, DEFAULT_STREAM_ID};
/// assert_eq!(DEFAULT_STREAM_ID, "default");
/// let t = Tuple::for_test("split", DEFAULT_STREAM_ID, Fields::new(["word"]), values!["storm"]);
/// assert_eq!(t.source_stream(), "default");
/// ```
pub const DEFAULT_STREAM_ID: &str = "default";

/// Where a tuple comes from and what its fields are called.
///
/// # Examples
/// ```
/// use squall_topology_api::{Fields, StreamSchema};
/// let schema = StreamSchema::intern("split", "words", Fields::new(["word"]));
/// assert_eq!(schema.component(), "split");
/// assert_eq!(schema.stream(), "words");
/// assert_eq!(schema.fields().index_of("word"), Some(0));
/// ```
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct StreamSchema {
    component: Box<str>,
    stream: Box<str>,
    fields: Fields,
    is_tick: bool,
}

impl StreamSchema {
    /// The interned schema for this component, stream and fields.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{Fields, StreamSchema};
    /// let a = StreamSchema::intern("split", "default", Fields::new(["word"]));
    /// let b = StreamSchema::intern("split", "default", Fields::new(["word"]));
    /// // Equal schemas are the same object, so they compare by address.
    /// assert!(std::ptr::eq(a, b));
    /// let c = StreamSchema::intern("split", "default", Fields::new(["token"]));
    /// assert!(!std::ptr::eq(a, c));
    /// ```
    pub fn intern(component: &str, stream: &str, fields: Fields) -> &'static StreamSchema {
        static SCHEMAS: OnceLock<Mutex<HashSet<&'static StreamSchema>>> = OnceLock::new();
        let schema = StreamSchema {
            is_tick: component == SYSTEM_COMPONENT_ID && stream == TICK_STREAM_ID,
            component: component.into(),
            stream: stream.into(),
            fields,
        };
        let mut set = SCHEMAS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(existing) = set.get(&schema) {
            return existing;
        }
        let leaked: &'static StreamSchema = Box::leak(Box::new(schema));
        set.insert(leaked);
        leaked
    }

    /// The schema of tick tuples: component `__system`, stream `__tick`, field `rate_secs`.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{StreamSchema, SYSTEM_COMPONENT_ID, TICK_STREAM_ID};
    /// let tick = StreamSchema::tick();
    /// assert!(tick.is_tick());
    /// assert_eq!((tick.component(), tick.stream()), (SYSTEM_COMPONENT_ID, TICK_STREAM_ID));
    /// assert_eq!(tick.fields().names(), ["rate_secs"]);
    /// ```
    pub fn tick() -> &'static StreamSchema {
        static TICK: OnceLock<&'static StreamSchema> = OnceLock::new();
        TICK.get_or_init(|| {
            StreamSchema::intern(
                SYSTEM_COMPONENT_ID,
                TICK_STREAM_ID,
                Fields::new(["rate_secs"]),
            )
        })
    }

    /// The emitting component's id.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{Fields, StreamSchema};
    /// let schema = StreamSchema::intern("split", "default", Fields::new(["word"]));
    /// assert_eq!(schema.component(), "split");
    /// ```
    pub fn component(&self) -> &str {
        &self.component
    }

    /// The stream id.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{Fields, StreamSchema};
    /// let schema = StreamSchema::intern("split", "errors", Fields::new(["line"]));
    /// assert_eq!(schema.stream(), "errors");
    /// ```
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The stream's fields.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{Fields, StreamSchema};
    /// let schema = StreamSchema::intern("count", "default", Fields::new(["word", "count"]));
    /// assert_eq!(schema.fields(), &Fields::new(["word", "count"]));
    /// ```
    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    /// Whether this is the tick stream.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{Fields, StreamSchema};
    /// assert!(StreamSchema::tick().is_tick());
    /// assert!(!StreamSchema::intern("split", "default", Fields::new(["word"])).is_tick());
    /// ```
    pub fn is_tick(&self) -> bool {
        self.is_tick
    }
}
