//! What a windowed bolt's windows are: Storm's `withWindow`, `withTumblingWindow`,
//! `withTimestampField`, `withLag`, `withWatermarkInterval` and `withLateTupleStream`, plus
//! session windows, and the component config keys Storm stores them under.

use std::time::Duration;

use crate::Config;

/// `topology.bolts.window.length.count`.
///
/// # Examples
/// ```
/// use squall_topology_api::window::WINDOW_LENGTH_COUNT;
/// assert_eq!(WINDOW_LENGTH_COUNT, "topology.bolts.window.length.count");
/// ```
pub const WINDOW_LENGTH_COUNT: &str = "topology.bolts.window.length.count";
/// `topology.bolts.window.length.duration.ms`.
///
/// # Examples
/// ```
/// use squall_topology_api::window::WINDOW_LENGTH_DURATION_MS;
/// assert_eq!(WINDOW_LENGTH_DURATION_MS, "topology.bolts.window.length.duration.ms");
/// ```
pub const WINDOW_LENGTH_DURATION_MS: &str = "topology.bolts.window.length.duration.ms";
/// `topology.bolts.window.sliding.interval.count`.
///
/// # Examples
/// ```
/// use squall_topology_api::window::WINDOW_SLIDING_INTERVAL_COUNT;
/// assert_eq!(WINDOW_SLIDING_INTERVAL_COUNT, "topology.bolts.window.sliding.interval.count");
/// ```
pub const WINDOW_SLIDING_INTERVAL_COUNT: &str = "topology.bolts.window.sliding.interval.count";
/// `topology.bolts.window.sliding.interval.duration.ms`.
///
/// # Examples
/// ```
/// use squall_topology_api::window::WINDOW_SLIDING_INTERVAL_DURATION_MS;
/// assert_eq!(WINDOW_SLIDING_INTERVAL_DURATION_MS, "topology.bolts.window.sliding.interval.duration.ms");
/// ```
pub const WINDOW_SLIDING_INTERVAL_DURATION_MS: &str =
    "topology.bolts.window.sliding.interval.duration.ms";
/// Set in a stateful window's component configuration: its inputs are acked at
/// checkpoints, so [`check_against`] does not bound it by the message timeout.
pub(crate) const PERSISTENT_WINDOW_MARKER: &str = "topology.bolts.window.persistent";
/// `topology.bolts.tuple.timestamp.field.name`: event time from this field.
///
/// # Examples
/// ```
/// use squall_topology_api::window::TUPLE_TIMESTAMP_FIELD_NAME;
/// assert_eq!(TUPLE_TIMESTAMP_FIELD_NAME, "topology.bolts.tuple.timestamp.field.name");
/// ```
pub const TUPLE_TIMESTAMP_FIELD_NAME: &str = "topology.bolts.tuple.timestamp.field.name";
/// `topology.bolts.tuple.timestamp.max.lag.ms`: how far out of order event time may be.
///
/// # Examples
/// ```
/// use squall_topology_api::window::TUPLE_TIMESTAMP_MAX_LAG_MS;
/// assert_eq!(TUPLE_TIMESTAMP_MAX_LAG_MS, "topology.bolts.tuple.timestamp.max.lag.ms");
/// ```
pub const TUPLE_TIMESTAMP_MAX_LAG_MS: &str = "topology.bolts.tuple.timestamp.max.lag.ms";
/// `topology.bolts.watermark.event.interval.ms`: how often a watermark is computed (default
/// 1000).
///
/// # Examples
/// ```
/// use squall_topology_api::window::WATERMARK_EVENT_INTERVAL_MS;
/// assert_eq!(WATERMARK_EVENT_INTERVAL_MS, "topology.bolts.watermark.event.interval.ms");
/// ```
pub const WATERMARK_EVENT_INTERVAL_MS: &str = "topology.bolts.watermark.event.interval.ms";
/// `topology.bolts.late.tuple.stream`: where late tuples go (else they are acked and dropped).
///
/// # Examples
/// ```
/// use squall_topology_api::window::LATE_TUPLE_STREAM;
/// assert_eq!(LATE_TUPLE_STREAM, "topology.bolts.late.tuple.stream");
/// ```
pub const LATE_TUPLE_STREAM: &str = "topology.bolts.late.tuple.stream";
/// `topology.bolts.window.session.gap.ms` (Squall): a session closes after this much quiet.
///
/// # Examples
/// ```
/// use squall_topology_api::window::WINDOW_SESSION_GAP_MS;
/// assert_eq!(WINDOW_SESSION_GAP_MS, "topology.bolts.window.session.gap.ms");
/// ```
pub const WINDOW_SESSION_GAP_MS: &str = "topology.bolts.window.session.gap.ms";

/// The field of a late tuple emitted on the late-tuple stream: its values, as a list.
///
/// # Examples
/// ```
/// use squall_topology_api::window::LATE_TUPLE_FIELD;
/// assert_eq!(LATE_TUPLE_FIELD, "late_tuple");
/// ```
pub const LATE_TUPLE_FIELD: &str = "late_tuple";

/// Default `topology.bolts.watermark.event.interval.ms`.
///
/// # Examples
/// ```
/// use squall_topology_api::window::{DEFAULT_WATERMARK_INTERVAL, Extent, WindowSpec};
/// let spec = WindowSpec::tumbling(Extent::count(10)).timestamp_field("ts");
/// assert_eq!(spec.watermark_interval, DEFAULT_WATERMARK_INTERVAL);
/// ```
pub const DEFAULT_WATERMARK_INTERVAL: Duration = Duration::from_secs(1);

/// A window's length or slide: a number of tuples or a span of time.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use squall_topology_api::window::*;
/// assert_eq!(Extent::count(100), Extent::Count(100));
/// assert_eq!(Extent::duration(Duration::from_secs(1)), Extent::Duration(Duration::from_millis(1000)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// This many tuples.
    Count(u64),
    /// This span of (processing or event) time.
    Duration(Duration),
}

impl Extent {
    /// `n` tuples.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use squall_topology_api::window::*;
    /// assert!(matches!(Extent::count(5), Extent::Count(5)));
    /// ```
    pub fn count(n: u64) -> Extent {
        Extent::Count(n)
    }

    /// A span of time.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use squall_topology_api::window::*;
    /// assert!(matches!(Extent::duration(Duration::from_secs(2)), Extent::Duration(_)));
    /// ```
    pub fn duration(d: Duration) -> Extent {
        Extent::Duration(d)
    }

    /// Milliseconds, for durations: at least 1 (a shorter one would never move on).
    pub(crate) fn millis(self) -> Option<i64> {
        match self {
            Extent::Duration(d) => Some(i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1)),
            Extent::Count(_) => None,
        }
    }
}

/// How tuples are grouped into windows.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use squall_topology_api::window::*;
/// let spec = WindowSpec::session(Duration::from_secs(30), ["user"]);
/// assert!(matches!(spec.shape, Shape::Session { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// Windows of `length`, one every `slide` (tumbling when they are equal).
    Sliding {
        /// How much a window holds.
        length: Extent,
        /// How far apart windows start.
        slide: Extent,
    },
    /// Per key (the values of `key_fields`), all tuples with no gap longer than `gap` between
    /// them (Flink's session windows; Storm has none).
    Session {
        /// The quiet that closes a session.
        gap: Duration,
        /// The fields whose values are the key.
        key_fields: Vec<String>,
    },
}

/// A function giving a tuple's event time in milliseconds.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use squall_topology_api::window::*;
/// let spec = WindowSpec::tumbling(Extent::count(10)).timestamp_extractor(|t| t.get_i64("ts").ok());
/// assert!(matches!(spec.timestamps, Timestamps::Extractor(_)));
/// ```
pub type Extractor = std::sync::Arc<dyn Fn(&crate::Tuple) -> Option<i64> + Send + Sync>;

/// Where a tuple's timestamp comes from.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use squall_topology_api::window::*;
/// let spec = WindowSpec::tumbling(Extent::count(10));
/// assert!(matches!(spec.timestamps, Timestamps::Processing));
/// assert!(matches!(spec.timestamp_field("ts").timestamps, Timestamps::Field(_)));
/// ```
#[derive(Clone)]
pub enum Timestamps {
    /// Processing time: when the bolt received the tuple.
    Processing,
    /// Event time from an integer field of milliseconds (a missing or non-integer field is an
    /// error for that tuple, which fails).
    Field(String),
    /// Event time from a function of the tuple.
    Extractor(Extractor),
}

impl std::fmt::Debug for Timestamps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Timestamps::Processing => f.write_str("Processing"),
            Timestamps::Field(name) => f.debug_tuple("Field").field(name).finish(),
            Timestamps::Extractor(_) => f.write_str("Extractor(..)"),
        }
    }
}

/// A windowed bolt's windows.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use squall_topology_api::window::{Extent, WindowSpec};
/// // Event time from field `ts`: 10 s windows every second, tuples up to 2 s out of order,
/// // later ones on stream `late`.
/// let spec = WindowSpec::sliding(
///     Extent::duration(Duration::from_secs(10)),
///     Extent::duration(Duration::from_secs(1)),
/// )
/// .timestamp_field("ts")
/// .lag(Duration::from_secs(2))
/// .late_tuple_stream("late");
/// let conf = spec.to_config();
/// assert_eq!(conf.get_u64("topology.bolts.window.length.duration.ms"), Some(10_000));
/// assert_eq!(conf.get_str("topology.bolts.late.tuple.stream"), Some("late"));
/// // Tumbling: the slide is the length.
/// let tumbling = WindowSpec::tumbling(Extent::count(100));
/// assert_eq!(tumbling.to_config().get_u64("topology.bolts.window.sliding.interval.count"), Some(100));
/// ```
#[derive(Debug, Clone)]
pub struct WindowSpec {
    /// The windows' shape.
    pub shape: Shape,
    /// Processing or event time.
    pub timestamps: Timestamps,
    /// Event time: how far out of order tuples may arrive (`withLag`).
    pub lag: Duration,
    /// Event time: how often the watermark is computed.
    pub watermark_interval: Duration,
    /// Event time: the stream late tuples are emitted on, if any.
    pub late_tuple_stream: Option<String>,
}

impl WindowSpec {
    fn of(shape: Shape) -> WindowSpec {
        WindowSpec {
            shape,
            timestamps: Timestamps::Processing,
            lag: Duration::ZERO,
            watermark_interval: DEFAULT_WATERMARK_INTERVAL,
            late_tuple_stream: None,
        }
    }

    /// Windows of `length`, one every `slide` (Storm's `withWindow(length, slide)`).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use squall_topology_api::window::*;
    /// let spec = WindowSpec::sliding(Extent::count(10), Extent::count(2));
    /// assert_eq!(spec.to_config().get_u64(WINDOW_SLIDING_INTERVAL_COUNT), Some(2));
    /// ```
    pub fn sliding(length: Extent, slide: Extent) -> WindowSpec {
        WindowSpec::of(Shape::Sliding { length, slide })
    }

    /// Back-to-back windows of `length` (Storm's `withTumblingWindow`).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use squall_topology_api::window::*;
    /// let spec = WindowSpec::tumbling(Extent::duration(Duration::from_secs(5)));
    /// assert_eq!(spec.to_config().get_u64(WINDOW_SLIDING_INTERVAL_DURATION_MS), Some(5000));
    /// ```
    pub fn tumbling(length: Extent) -> WindowSpec {
        WindowSpec::sliding(length, length)
    }

    /// Per-key sessions closed by `gap` of quiet, keyed by `key_fields`.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use squall_topology_api::window::*;
    /// let spec = WindowSpec::session(Duration::from_secs(30), ["user"]);
    /// assert_eq!(spec.to_config().get_u64(WINDOW_SESSION_GAP_MS), Some(30_000));
    /// ```
    pub fn session<S: Into<String>>(
        gap: Duration,
        key_fields: impl IntoIterator<Item = S>,
    ) -> WindowSpec {
        WindowSpec::of(Shape::Session {
            gap,
            key_fields: key_fields.into_iter().map(Into::into).collect(),
        })
    }

    /// Event time from this field, in milliseconds (`withTimestampField`).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use squall_topology_api::window::*;
    /// let spec = WindowSpec::tumbling(Extent::count(10)).timestamp_field("ts");
    /// assert!(spec.is_event_time());
    /// ```
    #[must_use]
    pub fn timestamp_field(mut self, name: impl Into<String>) -> Self {
        self.timestamps = Timestamps::Field(name.into());
        self
    }

    /// Event time from a function of the tuple (`withTimestampExtractor`); `None` fails the
    /// tuple.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use squall_topology_api::window::*;
    /// let spec = WindowSpec::tumbling(Extent::count(10)).timestamp_extractor(|t| t.get_i64(0).ok());
    /// assert!(spec.is_event_time());
    /// ```
    #[must_use]
    pub fn timestamp_extractor(
        mut self,
        f: impl Fn(&crate::Tuple) -> Option<i64> + Send + Sync + 'static,
    ) -> Self {
        self.timestamps = Timestamps::Extractor(std::sync::Arc::new(f));
        self
    }

    /// How far out of order event time may be (`withLag`).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use squall_topology_api::window::*;
    /// let spec = WindowSpec::tumbling(Extent::count(10)).timestamp_field("ts").lag(Duration::from_secs(2));
    /// assert_eq!(spec.to_config().get_u64(TUPLE_TIMESTAMP_MAX_LAG_MS), Some(2000));
    /// ```
    #[must_use]
    pub fn lag(mut self, lag: Duration) -> Self {
        self.lag = lag;
        self
    }

    /// How often the watermark is computed (`withWatermarkInterval`).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use squall_topology_api::window::*;
    /// let spec = WindowSpec::tumbling(Extent::count(10)).timestamp_field("ts").watermark_interval(Duration::from_millis(200));
    /// assert_eq!(spec.to_config().get_u64(WATERMARK_EVENT_INTERVAL_MS), Some(200));
    /// ```
    #[must_use]
    pub fn watermark_interval(mut self, interval: Duration) -> Self {
        self.watermark_interval = interval;
        self
    }

    /// Emits late tuples on this stream, one field [`LATE_TUPLE_FIELD`], instead of dropping
    /// them (`withLateTupleStream`).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use squall_topology_api::window::*;
    /// let spec = WindowSpec::tumbling(Extent::count(10)).timestamp_field("ts").late_tuple_stream("late");
    /// assert_eq!(spec.to_config().get_str(LATE_TUPLE_STREAM), Some("late"));
    /// ```
    #[must_use]
    pub fn late_tuple_stream(mut self, stream: impl Into<String>) -> Self {
        self.late_tuple_stream = Some(stream.into());
        self
    }

    /// Whether windows follow event time.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use squall_topology_api::window::*;
    /// assert!(!WindowSpec::tumbling(Extent::count(10)).is_event_time());
    /// ```
    pub fn is_event_time(&self) -> bool {
        !matches!(self.timestamps, Timestamps::Processing)
    }

    /// The component config Storm stores these settings under (what `squall status` and
    /// submit-time validation read).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use squall_topology_api::window::*;
    /// let conf = WindowSpec::sliding(Extent::count(10), Extent::count(5)).to_config();
    /// assert_eq!(conf.get_u64(WINDOW_LENGTH_COUNT), Some(10));
    /// ```
    pub fn to_config(&self) -> Config {
        let mut conf = Config::new();
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        match &self.shape {
            Shape::Sliding { length, slide } => {
                match length {
                    Extent::Count(n) => conf.set(WINDOW_LENGTH_COUNT, *n),
                    Extent::Duration(d) => conf.set(WINDOW_LENGTH_DURATION_MS, ms(*d)),
                };
                match slide {
                    Extent::Count(n) => conf.set(WINDOW_SLIDING_INTERVAL_COUNT, *n),
                    Extent::Duration(d) => conf.set(WINDOW_SLIDING_INTERVAL_DURATION_MS, ms(*d)),
                };
            }
            Shape::Session { gap, .. } => {
                conf.set(WINDOW_SESSION_GAP_MS, ms(*gap));
            }
        }
        if let Timestamps::Field(name) = &self.timestamps {
            conf.set(TUPLE_TIMESTAMP_FIELD_NAME, name.clone());
        }
        if self.is_event_time() {
            conf.set(TUPLE_TIMESTAMP_MAX_LAG_MS, ms(self.lag));
            conf.set(WATERMARK_EVENT_INTERVAL_MS, ms(self.watermark_interval));
        }
        if let Some(stream) = &self.late_tuple_stream {
            conf.set(LATE_TUPLE_STREAM, stream.clone());
        }
        conf
    }

    /// Whether the settings make sense on their own: lengths and slides of at least one tuple
    /// or millisecond, a late-tuple stream only with event time.
    ///
    /// # Errors
    /// One sentence naming the setting.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use squall_topology_api::window::*;
    /// assert!(WindowSpec::tumbling(Extent::count(0)).check().is_err());
    /// assert!(WindowSpec::tumbling(Extent::count(10)).late_tuple_stream("late").check().is_err()); // needs event time
    /// assert!(WindowSpec::tumbling(Extent::count(10)).check().is_ok());
    /// ```
    pub fn check(&self) -> Result<(), String> {
        let positive = |what: &str, e: &Extent| match e {
            Extent::Count(0) => Err(format!("the window {what} is 0 tuples; give at least 1")),
            Extent::Duration(d) if d.as_millis() == 0 => Err(format!(
                "the window {what} is under a millisecond; give at least 1 ms"
            )),
            _ => Ok(()),
        };
        match &self.shape {
            Shape::Sliding { length, slide } => {
                positive("length", length)?;
                positive("slide", slide)?;
            }
            Shape::Session { gap, key_fields } => {
                if gap.as_millis() == 0 {
                    return Err("the session gap is under a millisecond; give at least 1 ms".into());
                }
                if key_fields.is_empty() {
                    return Err("a session window needs the fields that key it".into());
                }
            }
        }
        if self.late_tuple_stream.is_some() && !self.is_event_time() {
            return Err(
                "a late-tuple stream needs event time (timestamp_field or timestamp_extractor)"
                    .into(),
            );
        }
        if self.is_event_time() && self.watermark_interval.as_millis() == 0 {
            return Err("the watermark interval is under a millisecond; give at least 1 ms".into());
        }
        Ok(())
    }
}

/// Storm's check of a windowed bolt against the topology's settings: a tuple is acked only
/// when it leaves its last window, so with processing-time windows the window length plus
/// the slide must fit in `topology.message.timeout.secs` (else every tuple times out), and
/// with count windows in `topology.max.spout.pending` when it is set (else the spouts stop
/// before a window fills). `component` is the windowed bolt's config (see
/// [`WindowSpec::to_config`]), `conf` the topology's.
///
/// # Errors
/// One sentence naming the settings that conflict.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use squall_topology_api::Config;
/// use squall_topology_api::window::{Extent, WindowSpec, check_against};
/// let spec = WindowSpec::sliding(
///     Extent::duration(Duration::from_secs(25)),
///     Extent::duration(Duration::from_secs(10)),
/// );
/// let mut conf = Config::new();
/// conf.set_message_timeout_secs(30);
/// assert!(check_against(&spec.to_config(), &conf).is_err()); // 25 s + 10 s > 30 s
/// conf.set_message_timeout_secs(60);
/// assert!(check_against(&spec.to_config(), &conf).is_ok());
/// ```
pub fn check_against(component: &Config, conf: &Config) -> Result<(), String> {
    let merged = conf.merged(component);
    let get = |key| merged.get_u64(key);
    for key in [
        WINDOW_LENGTH_COUNT,
        WINDOW_LENGTH_DURATION_MS,
        WINDOW_SLIDING_INTERVAL_COUNT,
        WINDOW_SLIDING_INTERVAL_DURATION_MS,
        WINDOW_SESSION_GAP_MS,
    ] {
        if get(key) == Some(0) {
            return Err(format!("{key} is 0; give at least 1"));
        }
    }
    // A stateful window's inputs are acked at checkpoints, not when they leave the window:
    // neither the timeout nor max pending bounds its size.
    if component.get_bool(PERSISTENT_WINDOW_MARKER) == Some(true) {
        return Ok(());
    }
    let timeout_ms = match merged.get_f64(crate::config::TOPOLOGY_MESSAGE_TIMEOUT_SECS) {
        Some(secs) => secs * 1000.0,
        None => 30_000.0,
    };
    let timeouts_on = merged
        .get_bool(crate::config::TOPOLOGY_ENABLE_MESSAGE_TIMEOUTS)
        .unwrap_or(true);
    // As Storm: length plus slide when both are durations, else the length alone.
    let held_ms = match (
        get(WINDOW_LENGTH_DURATION_MS),
        get(WINDOW_SLIDING_INTERVAL_DURATION_MS),
    ) {
        (Some(length), Some(slide)) => Some((
            length.saturating_add(slide),
            format!("window length {length} ms + slide {slide} ms"),
        )),
        (Some(length), None) => Some((length, format!("window length {length} ms"))),
        _ => get(WINDOW_SESSION_GAP_MS).map(|gap| (gap, format!("session gap {gap} ms"))),
    };
    if let Some((ms, what)) = held_ms
        && timeouts_on
        && ms as f64 > timeout_ms
    {
        return Err(format!(
            "{what} is longer than topology.message.timeout.secs ({} s): every tuple would time out before its window is done; raise the timeout or shorten the window",
            timeout_ms / 1000.0
        ));
    }
    if let Some(pending) = get(crate::config::TOPOLOGY_MAX_SPOUT_PENDING) {
        let held = match (get(WINDOW_LENGTH_COUNT), get(WINDOW_SLIDING_INTERVAL_COUNT)) {
            (Some(length), Some(slide)) => Some((
                length.saturating_add(slide),
                format!("window length {length} + slide {slide} tuples"),
            )),
            (Some(length), None) => Some((length, format!("window length {length} tuples"))),
            _ => None,
        };
        if let Some((n, what)) = held
            && n > pending
        {
            return Err(format!(
                "{what} is more than topology.max.spout.pending ({pending}): the spouts would stop before a window fills; raise max pending or shorten the window"
            ));
        }
    }
    Ok(())
}
