//! Windowed bolts (Storm's `IWindowedBolt`): the user's bolt sees whole windows, and
//! [`Windowed`] runs it as a plain [`Bolt`], as Storm's `WindowedBoltExecutor` does: it
//! stamps each input (processing or event time), keeps the windows, evaluates each when due,
//! anchors the window's emits to every tuple in it, and acks an input when it leaves its last
//! window. Late tuples are acked and dropped, or emitted on the late-tuple stream.

use std::sync::Arc;
use std::time::Duration;

use super::sliding::Late;
use super::spec::{Extent, LATE_TUPLE_FIELD, Shape, WindowSpec};
use super::windows::{Due, Inserted, TaskWindows, wall_clock};
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
    pub(super) tuples: Vec<&'a Tuple>,
    pub(super) new: Vec<&'a Tuple>,
    pub(super) expired: Vec<&'a Tuple>,
    pub(super) start: i64,
    pub(super) end: i64,
    pub(super) key: Option<String>,
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
    pub(super) inner: &'a mut BoltCollector<'b>,
    /// Every tuple of the window; none for a stateful window, whose inputs are acked when
    /// the checkpoint holding them commits.
    pub(super) anchors: &'a [&'a Tuple],
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
    windows: TaskWindows,
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
        Windowed {
            bolt,
            windows: TaskWindows::new(spec, clock),
        }
    }

    /// A late tuple: emitted on the late-tuple stream (anchored to it), then acked.
    fn late(&self, input: &Tuple, late: &Late<u64>, collector: &mut BoltCollector<'_>) {
        late_tuple(self.windows.spec(), input, late, collector);
        collector.ack(input);
    }

    /// Evaluates the due windows, anchoring each one's emits to its tuples, then acks what
    /// expired.
    fn run(&mut self, due: Due, collector: &mut BoltCollector<'_>) {
        let bolt = &mut self.bolt;
        let mut expired = Vec::new();
        self.windows.evaluate(
            due,
            |window| {
                let mut out = WindowCollector {
                    inner: collector,
                    anchors: &window.tuples,
                };
                if let Err(e) = guarded(|| bolt.execute(window, &mut out)) {
                    out.report_error(&e);
                }
            },
            |tuple| expired.push(tuple),
        );
        for tuple in &expired {
            collector.ack(tuple);
        }
    }
}

/// Runs a windowed bolt's `execute`; a panic becomes an error.
pub(super) fn guarded(
    f: impl FnOnce() -> Result<(), ComponentError>,
) -> Result<(), ComponentError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(_) => Err(ComponentError::msg("the windowed bolt panicked")),
    }
}

/// Emits a late tuple on the late-tuple stream if the spec has one (anchored to it), else
/// logs it; the caller acks it.
pub(super) fn late_tuple(
    spec: &WindowSpec,
    input: &Tuple,
    late: &Late<u64>,
    collector: &mut BoltCollector<'_>,
) {
    if let Some(stream) = &spec.late_tuple_stream {
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
}

impl<B: WindowedBolt> Bolt for Windowed<B> {
    fn declare_outputs(&self, declarer: &mut OutputDeclarer) {
        self.bolt.declare_outputs(declarer);
        declare_late_stream(self.windows.spec(), declarer);
    }

    fn component_config(&self) -> Config {
        self.windows.spec().to_config()
    }

    fn prepare(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        // Reported after the bolt is prepared: a bad spec is refused at submit already.
        let checked = self.windows.spec().check().map_err(ComponentError::msg);
        // A session is cut before its first tuple would time out.
        let config = context.config();
        let timeouts_on = config
            .get_bool(crate::config::TOPOLOGY_ENABLE_MESSAGE_TIMEOUTS)
            .unwrap_or(true);
        let timeout_ms = config
            .get_f64(crate::config::TOPOLOGY_MESSAGE_TIMEOUT_SECS)
            .map_or(30_000, |secs| (secs * 1000.0) as i64);
        self.windows
            .prepare(context, timeouts_on.then_some(timeout_ms));
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
        let stamp = self.windows.stamp(&input)?;
        match self.windows.insert(stamp, input) {
            Inserted::Held(due) => self.run(due, collector),
            Inserted::Late(input, late) => self.late(&input, &late, collector),
        }
        Ok(())
    }

    fn poll_interval(&self) -> Option<Duration> {
        poll_interval(self.windows.spec())
    }

    fn poll(&mut self, collector: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        let due = self.windows.poll();
        self.run(due, collector);
        Ok(())
    }

    /// Windows still open are not evaluated; their tuples time out and replay, as in Storm.
    fn cleanup(&mut self) {
        self.bolt.cleanup();
    }
}

/// Declares the late-tuple stream, if the spec has one.
pub(super) fn declare_late_stream(spec: &WindowSpec, declarer: &mut OutputDeclarer) {
    if let Some(stream) = &spec.late_tuple_stream {
        declarer.declare_stream(stream.clone(), Fields::new([LATE_TUPLE_FIELD]));
    }
}

/// How often a windowed task must look at the time: for watermarks, time slides and
/// session gaps; never for count windows in processing time.
pub(super) fn poll_interval(spec: &WindowSpec) -> Option<Duration> {
    let timed = match &spec.shape {
        Shape::Sliding { slide, .. } => matches!(slide, Extent::Duration(_)),
        Shape::Session { .. } => true,
    };
    if spec.is_event_time() {
        Some(spec.watermark_interval.min(Duration::from_millis(10)))
    } else if timed {
        Some(Duration::from_millis(5))
    } else {
        None
    }
}

#[cfg(test)]
mod tests;
