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
pub const SYSTEM_COMPONENT_ID: &str = "__system";
/// The stream id of tick tuples.
pub const TICK_STREAM_ID: &str = "__tick";
/// The default stream id.
pub const DEFAULT_STREAM_ID: &str = "default";

/// Where a tuple comes from and what its fields are called.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct StreamSchema {
    component: Box<str>,
    stream: Box<str>,
    fields: Fields,
    is_tick: bool,
}

impl StreamSchema {
    /// The interned schema for this component, stream and fields.
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
    pub fn component(&self) -> &str {
        &self.component
    }

    /// The stream id.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The stream's fields.
    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    /// Whether this is the tick stream.
    pub fn is_tick(&self) -> bool {
        self.is_tick
    }
}
