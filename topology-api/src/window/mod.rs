//! Windows: Storm 2's windowed bolts (sliding and tumbling windows by count or duration, in
//! processing or event time, with lag, watermarks and a late-tuple stream) and session
//! windows, which Storm lacks.
//!
//! A [`WindowedBolt`] sees whole windows; [`Windowed`] runs it as a plain bolt. Its input is
//! acked when it leaves its last window and everything it emits for a window is anchored to
//! every tuple of that window, so a failure downstream replays the window's inputs.
//!
//! - `spec`: what the windows are ([`WindowSpec`]) and Storm's config keys and checks.
//! - `sliding`: which tuples each sliding or tumbling window holds and when it is evaluated.
//! - `session`: per-key sessions.
//! - `watermark`: event time's progress over the input streams.
//! - `windows`: one task's windows, whatever runs them.
//! - `bolt`: the adapter that runs a windowed bolt as a bolt.
//! - `stateful`: stateful windows, whose contents are checkpointed with the task's state.
//! - `persist`: how a stateful window's contents are stored.

mod bolt;
mod persist;
mod session;
mod sliding;
mod spec;
mod stateful;
mod watermark;
mod windows;

pub use bolt::{Clock, TupleWindow, WindowCollector, Windowed, WindowedBolt};
pub use spec::{
    DEFAULT_WATERMARK_INTERVAL, Extent, Extractor, LATE_TUPLE_FIELD, LATE_TUPLE_STREAM, Shape,
    TUPLE_TIMESTAMP_FIELD_NAME, TUPLE_TIMESTAMP_MAX_LAG_MS, Timestamps,
    WATERMARK_EVENT_INTERVAL_MS, WINDOW_LENGTH_COUNT, WINDOW_LENGTH_DURATION_MS,
    WINDOW_SESSION_GAP_MS, WINDOW_SLIDING_INTERVAL_COUNT, WINDOW_SLIDING_INTERVAL_DURATION_MS,
    WindowSpec, check_against,
};
pub(crate) use stateful::StatefulWindowed;
pub use stateful::StatefulWindowedBolt;
