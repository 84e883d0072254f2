//! Windowed bolts (Storm's `IWindowedBolt`): the user's bolt sees whole windows, and
//! [`Windowed`] runs it as a plain [`Bolt`], as Storm's `WindowedBoltExecutor` does: it
//! stamps each input (processing or event time), keeps the windows, evaluates each when due,
//! anchors the window's emits to every tuple in it, and acks an input when it leaves its last
//! window. Late tuples are acked and dropped, or emitted on the late-tuple stream.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::session::Sessions;
use super::sliding::{Fired, Late, SlidingWindows};
use super::spec::{Extent, LATE_TUPLE_FIELD, Shape, Timestamps, WindowSpec};
use super::watermark::Watermarks;
use crate::{
    Bolt, BoltCollector, ComponentError, Config, EmitError, Fields, OutputDeclarer, TaskId,
    TopologyContext, Tuple, Value, Values,
};

/// A bolt that processes windows of tuples (Storm's `IWindowedBolt`); run it with
/// [`Windowed::new`].
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// use squall_topology_api::window::{Extent, TupleWindow, WindowCollector, WindowSpec, Windowed, WindowedBolt};
/// /// The sum of `n` over the last 10 tuples, every 5.
/// struct Sum;
/// impl WindowedBolt for Sum {
///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
///         out.declare(Fields::new(["sum"]));
///     }
///     fn execute(&mut self, window: &TupleWindow<'_>, out: &mut WindowCollector<'_, '_>) -> Result<(), ComponentError> {
///         let mut sum = 0;
///         for t in window.get() {
///             sum += t.get_i64("n")?;
///         }
///         out.emit(values![sum])?; // anchored to every tuple of the window
///         Ok(())
///     }
/// }
/// let mut b = TopologyBuilder::new();
/// # struct Numbers;
/// # impl Spout for Numbers {
/// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new(["n"])); }
/// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
/// # }
/// b.set_spout("numbers", || Numbers, 1);
/// let spec = WindowSpec::sliding(Extent::count(10), Extent::count(5));
/// b.set_bolt("sum", move || Windowed::new(Sum, spec.clone()), 1).shuffle_grouping("numbers");
/// let topology = b.build().unwrap();
/// let sum = topology.spec().component("sum").unwrap();
/// assert_eq!(sum.config.get_u64("topology.bolts.window.length.count"), Some(10));
/// ```
pub trait WindowedBolt: Send + 'static {
    /// Declares the streams this bolt emits on.
    fn declare_outputs(&self, declarer: &mut OutputDeclarer) {
        let _ = declarer;
    }

    /// Called once per task before the first window.
    ///
    /// # Errors
    /// An error is reported as the component's error; the task still runs.
    fn prepare(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        let _ = context;
        Ok(())
    }

    /// Processes one window. Its tuples are acked when they leave their last window, not
    /// here; emits are anchored to every tuple in the window.
    ///
    /// # Errors
    /// An error (or a panic) is reported as the component's error; the window's tuples are
    /// still acked when they expire.
    fn execute(
        &mut self,
        window: &TupleWindow<'_>,
        collector: &mut WindowCollector<'_, '_>,
    ) -> Result<(), ComponentError>;

    /// The topology is shutting down.
    fn cleanup(&mut self) {}
}

/// The tuples of one window (Storm's `TupleWindow`).
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// use squall_topology_api::window::*;
/// struct Report;
/// impl WindowedBolt for Report {
///     fn execute(&mut self, window: &TupleWindow<'_>, out: &mut WindowCollector<'_, '_>) -> Result<(), ComponentError> {
///         let _newest = window.get().last();
///         Ok(())
///     }
/// }
/// ```
#[derive(Debug)]
pub struct TupleWindow<'a> {
    tuples: Vec<&'a Tuple>,
    new: Vec<&'a Tuple>,
    expired: Vec<&'a Tuple>,
    start: i64,
    end: i64,
    key: Option<String>,
}

impl TupleWindow<'_> {
    /// Every tuple in the window, oldest first.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// use squall_topology_api::window::*;
    /// struct Report;
    /// impl WindowedBolt for Report {
    ///     fn execute(&mut self, window: &TupleWindow<'_>, out: &mut WindowCollector<'_, '_>) -> Result<(), ComponentError> {
    ///         for t in window.get() {
    ///             let _ = t.values();
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn get(&self) -> &[&Tuple] {
        &self.tuples
    }

    /// The tuples in no earlier window (Storm's `getNew`).
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// use squall_topology_api::window::*;
    /// struct Report;
    /// impl WindowedBolt for Report {
    ///     fn execute(&mut self, window: &TupleWindow<'_>, out: &mut WindowCollector<'_, '_>) -> Result<(), ComponentError> {
    ///         let _arrived = window.new_tuples().len();
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn new_tuples(&self) -> &[&Tuple] {
        &self.new
    }

    /// The tuples that left the windows since the last one (Storm's `getExpired`).
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// use squall_topology_api::window::*;
    /// struct Report;
    /// impl WindowedBolt for Report {
    ///     fn execute(&mut self, window: &TupleWindow<'_>, out: &mut WindowCollector<'_, '_>) -> Result<(), ComponentError> {
    ///         let _left = window.expired().len();
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn expired(&self) -> &[&Tuple] {
        &self.expired
    }

    /// Time windows: where the window starts (exclusive), in milliseconds; count windows: its
    /// oldest tuple's time; sessions: the first tuple's time.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// use squall_topology_api::window::*;
    /// struct Report;
    /// impl WindowedBolt for Report {
    ///     fn execute(&mut self, window: &TupleWindow<'_>, out: &mut WindowCollector<'_, '_>) -> Result<(), ComponentError> {
    ///         assert!(window.start_timestamp() <= window.end_timestamp());
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn start_timestamp(&self) -> i64 {
        self.start
    }

    /// Time windows: where the window ends; count windows: its newest tuple's time;
    /// sessions: the last tuple's time plus the gap.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// use squall_topology_api::window::*;
    /// struct Report;
    /// impl WindowedBolt for Report {
    ///     fn execute(&mut self, window: &TupleWindow<'_>, out: &mut WindowCollector<'_, '_>) -> Result<(), ComponentError> {
    ///         let _end_ms = window.end_timestamp();
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn end_timestamp(&self) -> i64 {
        self.end
    }

    /// Session windows: the key's values, as text joined by `|` (a `|` or `\` in a value is
    /// escaped with `\`).
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// use squall_topology_api::window::*;
    /// struct Report;
    /// impl WindowedBolt for Report {
    ///     fn execute(&mut self, window: &TupleWindow<'_>, out: &mut WindowCollector<'_, '_>) -> Result<(), ComponentError> {
    ///         let _user = window.key().unwrap_or("");
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }
}

/// Emits a window's results, anchored to every tuple of the window.
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// use squall_topology_api::window::*;
/// struct Report;
/// impl WindowedBolt for Report {
///     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new(["n"])); }
///     fn execute(&mut self, window: &TupleWindow<'_>, out: &mut WindowCollector<'_, '_>) -> Result<(), ComponentError> {
///         out.emit(values![window.get().len() as i64])?;
///         Ok(())
///     }
/// }
/// ```
pub struct WindowCollector<'a, 'b> {
    inner: &'a mut BoltCollector<'b>,
    anchors: &'a [&'a Tuple],
}

impl WindowCollector<'_, '_> {
    /// Emits on the default stream.
    ///
    /// # Errors
    /// As [`BoltCollector::emit`].
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// use squall_topology_api::window::*;
    /// struct Report;
    /// impl WindowedBolt for Report {
    ///     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new(["n"])); }
    ///     fn execute(&mut self, window: &TupleWindow<'_>, out: &mut WindowCollector<'_, '_>) -> Result<(), ComponentError> {
    ///         out.emit(values![window.get().len() as i64])?; // anchored to the whole window
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn emit(&mut self, values: Values) -> Result<&[TaskId], EmitError> {
        self.inner.emit(self.anchors, values)
    }

    /// Emits on a named stream.
    ///
    /// # Errors
    /// As [`BoltCollector::emit_on`].
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// use squall_topology_api::window::*;
    /// struct Report;
    /// impl WindowedBolt for Report {
    ///     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new(["n"])); }
    ///     fn execute(&mut self, window: &TupleWindow<'_>, out: &mut WindowCollector<'_, '_>) -> Result<(), ComponentError> {
    ///         out.emit_on("default", values![1])?;
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn emit_on(&mut self, stream: &str, values: Values) -> Result<&[TaskId], EmitError> {
        self.inner.emit_on(stream, self.anchors, values)
    }

    /// Records an error against the component.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// use squall_topology_api::window::*;
    /// struct Report;
    /// impl WindowedBolt for Report {
    ///     fn execute(&mut self, window: &TupleWindow<'_>, out: &mut WindowCollector<'_, '_>) -> Result<(), ComponentError> {
    ///         if window.get().is_empty() {
    ///             out.report_error(&"an empty window");
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn report_error(&mut self, error: &dyn std::fmt::Display) {
        self.inner.report_error(error);
    }
}

/// Milliseconds for processing time; a test gives its own.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use squall_topology_api::window::Clock;
/// let fixed: Clock = Arc::new(|| 1_000);
/// assert_eq!(fixed(), 1_000);
/// ```
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

fn wall_clock() -> Clock {
    Arc::new(|| {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
    })
}

/// The windows hold tuple numbers; the tuples themselves wait in [`Windowed::held`] (a tuple
/// is acked once, by its one owner, so it is not shared between windows).
enum Core {
    Sliding(SlidingWindows<u64>),
    Sessions {
        sessions: Sessions<String, u64>,
        key_fields: Vec<String>,
    },
}

/// Runs a [`WindowedBolt`] as a [`Bolt`] with the windows of a [`WindowSpec`].
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use squall_topology_api::*;
/// use squall_topology_api::window::*;
/// struct Count;
/// impl WindowedBolt for Count {
///     fn execute(&mut self, _: &TupleWindow<'_>, _: &mut WindowCollector<'_, '_>) -> Result<(), ComponentError> { Ok(()) }
/// }
/// let spec = WindowSpec::tumbling(Extent::duration(Duration::from_secs(1)));
/// let bolt = Windowed::new(Count, spec);
/// assert_eq!(bolt.component_config().get_u64(WINDOW_LENGTH_DURATION_MS), Some(1000));
/// ```
pub struct Windowed<B> {
    bolt: B,
    spec: WindowSpec,
    core: Core,
    /// Every tuple in a window still to come or to be evaluated, by number.
    held: HashMap<u64, Tuple>,
    next_number: u64,
    watermarks: Watermarks,
    clock: Clock,
    /// Processing time never goes back, whatever the wall clock does.
    last_now: i64,
    next_watermark_at: i64,
}

impl<B: WindowedBolt> Windowed<B> {
    /// `bolt` over the windows `spec` describes.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use squall_topology_api::*;
    /// use squall_topology_api::window::*;
    /// struct Count;
    /// impl WindowedBolt for Count {
    ///     fn execute(&mut self, _: &TupleWindow<'_>, _: &mut WindowCollector<'_, '_>) -> Result<(), ComponentError> { Ok(()) }
    /// }
    /// let spec = WindowSpec::tumbling(Extent::duration(Duration::from_secs(1)));
    /// let bolt = Windowed::new(Count, spec);
    /// assert_eq!(bolt.component_config().get_u64(WINDOW_LENGTH_DURATION_MS), Some(1000));
    /// ```
    pub fn new(bolt: B, spec: WindowSpec) -> Self {
        Windowed::with_clock(bolt, spec, wall_clock())
    }

    /// As [`new`](Self::new), with processing time read from `clock` (milliseconds): for
    /// tests on a controlled clock.
    ///
    /// # Examples
    /// ```
    /// use std::sync::Arc;
    /// use squall_topology_api::*;
    /// use squall_topology_api::window::*;
    /// struct Count;
    /// impl WindowedBolt for Count {
    ///     fn execute(&mut self, _: &TupleWindow<'_>, _: &mut WindowCollector<'_, '_>) -> Result<(), ComponentError> { Ok(()) }
    /// }
    /// // Processing time stands still at 1,000 ms unless the test moves it.
    /// let bolt = Windowed::with_clock(Count, WindowSpec::tumbling(Extent::count(3)), Arc::new(|| 1_000));
    /// assert_eq!(bolt.component_config().get_u64(WINDOW_LENGTH_COUNT), Some(3));
    /// ```
    pub fn with_clock(bolt: B, spec: WindowSpec, clock: Clock) -> Self {
        let event_time = spec.is_event_time();
        let core = match &spec.shape {
            Shape::Sliding { length, slide } => {
                Core::Sliding(SlidingWindows::new(*length, *slide, event_time))
            }
            Shape::Session { gap, key_fields } => Core::Sessions {
                sessions: Sessions::new(
                    i64::try_from(gap.as_millis()).unwrap_or(i64::MAX),
                    event_time,
                ),
                key_fields: key_fields.clone(),
            },
        };
        let lag = i64::try_from(spec.lag.as_millis()).unwrap_or(i64::MAX);
        Windowed {
            bolt,
            spec,
            core,
            held: HashMap::new(),
            next_number: 0,
            watermarks: Watermarks::new([], lag),
            clock,
            last_now: i64::MIN,
            next_watermark_at: i64::MIN,
        }
    }

    fn now(&mut self) -> i64 {
        self.last_now = self.last_now.max((self.clock)());
        self.last_now
    }

    /// The input's time: now, or its event time.
    fn timestamp(&mut self, input: &Tuple) -> Result<i64, ComponentError> {
        match &self.spec.timestamps {
            Timestamps::Processing => Ok(self.now()),
            Timestamps::Field(name) => match input.get(&name.as_str()) {
                Ok(Value::I64(ts)) => Ok(*ts),
                Ok(other) => Err(ComponentError::msg(format!(
                    "timestamp field {name:?} holds a {}, not an integer of milliseconds",
                    other.type_name()
                ))),
                Err(_) => Err(ComponentError::msg(format!(
                    "the tuple from {} has no timestamp field {name:?}",
                    input.source_component()
                ))),
            },
            Timestamps::Extractor(f) => f(input).ok_or_else(|| {
                ComponentError::msg(format!(
                    "the timestamp extractor gave no time for a tuple from {}",
                    input.source_component()
                ))
            }),
        }
    }

    /// A late tuple: emitted on the late-tuple stream (anchored to it), then acked.
    fn late(&self, input: &Tuple, late: &Late<u64>, collector: &mut BoltCollector<'_>) {
        if let Some(stream) = &self.spec.late_tuple_stream {
            let values = Values::from(vec![Value::List(input.values().to_vec())]);
            if let Err(e) = collector.emit_on(stream, &[input], values) {
                collector.report_error(&e);
            }
        } else {
            tracing::debug!(
                ts = late.ts,
                watermark = late.watermark,
                "late tuple acked and dropped"
            );
        }
        collector.ack(input);
    }

    /// Evaluates windows, then acks what expired.
    fn run(
        &mut self,
        fired: impl IntoIterator<Item = (Option<String>, Fired<u64>)>,
        collector: &mut BoltCollector<'_>,
    ) {
        for (key, fired) in fired {
            if !fired.tuples.is_empty() {
                let held = &self.held;
                let resolve = |numbers: &[u64]| -> Vec<&Tuple> {
                    numbers.iter().filter_map(|n| held.get(n)).collect()
                };
                let window = TupleWindow {
                    tuples: resolve(&fired.tuples),
                    new: resolve(&fired.new),
                    expired: resolve(&fired.expired),
                    start: fired.start,
                    end: fired.end,
                    key,
                };
                let mut out = WindowCollector {
                    inner: collector,
                    anchors: &window.tuples,
                };
                let bolt = &mut self.bolt;
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    bolt.execute(&window, &mut out)
                }));
                match result {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => collector.report_error(&e),
                    Err(_) => collector.report_error(&"the windowed bolt panicked"),
                }
            }
            for number in &fired.expired {
                if let Some(tuple) = self.held.remove(number) {
                    collector.ack(&tuple);
                }
            }
        }
    }

    fn sliding(fired: Vec<Fired<u64>>) -> impl Iterator<Item = (Option<String>, Fired<u64>)> {
        fired.into_iter().map(|f| (None, f))
    }

    fn sessions(
        fired: Vec<(String, Fired<u64>)>,
    ) -> impl Iterator<Item = (Option<String>, Fired<u64>)> {
        fired.into_iter().map(|(k, f)| (Some(k), f))
    }
}

/// A session key: the key fields' values as text, joined by `|`.
fn session_key(input: &Tuple, key_fields: &[String]) -> Result<String, ComponentError> {
    let mut key = String::new();
    for (i, name) in key_fields.iter().enumerate() {
        let value = input.get(&name.as_str()).map_err(|_| {
            ComponentError::msg(format!("the tuple has no session key field {name:?}"))
        })?;
        if i > 0 {
            key.push('|');
        }
        let text = match value {
            Value::Str(s) => s.to_string(),
            other => other.to_string(),
        };
        // Escaped, so ("a|b", "c") and ("a", "b|c") stay two keys.
        key.push_str(&text.replace('\\', "\\\\").replace('|', "\\|"));
    }
    Ok(key)
}

impl<B: WindowedBolt> Bolt for Windowed<B> {
    fn declare_outputs(&self, declarer: &mut OutputDeclarer) {
        self.bolt.declare_outputs(declarer);
        if let Some(stream) = &self.spec.late_tuple_stream {
            declarer.declare_stream(stream.clone(), Fields::new([LATE_TUPLE_FIELD]));
        }
    }

    fn component_config(&self) -> Config {
        self.spec.to_config()
    }

    fn prepare(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        // Reported after the bolt is prepared: a bad spec is refused at submit already.
        let checked = self.spec.check().map_err(ComponentError::msg);
        if let Some(me) = context.spec().component(context.this_component_id()) {
            let inputs = me
                .inputs
                .iter()
                .map(|i| (i.component.clone(), i.stream.clone()));
            let lag = i64::try_from(self.spec.lag.as_millis()).unwrap_or(i64::MAX);
            self.watermarks = Watermarks::new(inputs, lag);
        }
        let now = self.now();
        match &mut self.core {
            // Starts the processing-time slide's schedule.
            Core::Sliding(windows) => {
                windows.tick(now);
            }
            // A session is cut before its first tuple would time out.
            Core::Sessions { sessions, .. } => {
                let config = context.config();
                let timeouts_on = config
                    .get_bool(crate::config::TOPOLOGY_ENABLE_MESSAGE_TIMEOUTS)
                    .unwrap_or(true);
                let timeout_ms = config
                    .get_f64(crate::config::TOPOLOGY_MESSAGE_TIMEOUT_SECS)
                    .map_or(30_000, |secs| (secs * 1000.0) as i64);
                if timeouts_on && let Shape::Session { gap, .. } = &self.spec.shape {
                    let gap = i64::try_from(gap.as_millis()).unwrap_or(i64::MAX);
                    sessions.set_max_span(timeout_ms.saturating_sub(gap));
                }
            }
        }
        self.bolt.prepare(context)?;
        checked
    }

    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut BoltCollector<'_>,
    ) -> Result<(), ComponentError> {
        if input.is_tick() {
            collector.ack(&input);
            return Ok(());
        }
        // An error here fails the input (its tree replays), as Storm fails a tuple without a
        // timestamp.
        let ts = self.timestamp(&input)?;
        if self.spec.is_event_time() {
            self.watermarks
                .observe(input.source_component(), input.source_stream(), ts);
        }
        let number = self.next_number;
        let added = match &mut self.core {
            Core::Sliding(windows) => windows.add(ts, number),
            Core::Sessions {
                sessions,
                key_fields,
            } => {
                let key = session_key(&input, key_fields)?;
                sessions.add(key, ts, number).map(|()| Vec::new())
            }
        };
        match added {
            Ok(fired) => {
                self.next_number += 1;
                self.held.insert(number, input);
                self.run(Self::sliding(fired), collector);
            }
            Err(late) => self.late(&input, &late, collector),
        }
        Ok(())
    }

    fn poll_interval(&self) -> Option<Duration> {
        let timed = match &self.spec.shape {
            Shape::Sliding { slide, .. } => matches!(slide, Extent::Duration(_)),
            Shape::Session { .. } => true,
        };
        if self.spec.is_event_time() {
            Some(self.spec.watermark_interval.min(Duration::from_millis(10)))
        } else if timed {
            Some(Duration::from_millis(5))
        } else {
            None
        }
    }

    fn poll(&mut self, collector: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        let now = self.now();
        if self.spec.is_event_time() {
            if now < self.next_watermark_at {
                return Ok(());
            }
            let interval = i64::try_from(self.spec.watermark_interval.as_millis()).unwrap_or(1);
            self.next_watermark_at = now.saturating_add(interval.max(1));
            let Some(watermark) = self.watermarks.advance() else {
                return Ok(());
            };
            match &mut self.core {
                Core::Sliding(windows) => {
                    let fired = windows.advance(watermark);
                    self.run(Self::sliding(fired), collector);
                }
                Core::Sessions { sessions, .. } => {
                    let fired = sessions.advance(watermark);
                    self.run(Self::sessions(fired), collector);
                }
            }
            return Ok(());
        }
        match &mut self.core {
            Core::Sliding(windows) => {
                let fired = windows.tick(now);
                self.run(Self::sliding(fired), collector);
            }
            Core::Sessions { sessions, .. } => {
                let fired = sessions.advance(now);
                self.run(Self::sessions(fired), collector);
            }
        }
        Ok(())
    }

    /// Windows still open are not evaluated; their tuples time out and replay, as in Storm.
    fn cleanup(&mut self) {
        self.bolt.cleanup();
    }
}

#[cfg(test)]
mod tests;
