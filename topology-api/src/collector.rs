//! Output collectors: how spouts and bolts emit, ack and fail.
//!
//! The collectors are thin, concrete wrappers over a runtime-provided [`SpoutOutput`] or
//! [`BoltOutput`], so topology code depends on no runtime types, and the runtime can route,
//! track and batch however it likes behind them.

use std::fmt;

use crate::{DEFAULT_STREAM_ID, MessageId, TaskId, Tuple, Values};

/// Why an emit was refused. These are programming errors in the topology: the stream does not
/// match what the component declared.
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// let e = EmitError::UnknownStream { stream: "eror".into(), component: "parse".into() };
/// assert_eq!(e.to_string(), r#"unknown stream "eror" on component "parse""#);
/// // It is an error type, so `?` turns it into a `ComponentError` inside a component.
/// let as_component_error: ComponentError = e.clone().into();
/// assert_eq!(as_component_error.to_string(), e.to_string());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    /// The component did not declare this stream.
    #[error("unknown stream {stream:?} on component {component:?}")]
    UnknownStream {
        /// The stream emitted on.
        stream: String,
        /// The emitting component.
        component: String,
    },
    /// A plain emit on a direct stream.
    #[error("stream {stream:?} of component {component:?} is direct: use emit_direct")]
    DirectStream {
        /// The stream emitted on.
        stream: String,
        /// The emitting component.
        component: String,
    },
    /// `emit_direct` on a stream not declared direct.
    #[error("emit_direct on stream {stream:?} of component {component:?}, which is not direct")]
    NotDirect {
        /// The stream emitted on.
        stream: String,
        /// The emitting component.
        component: String,
    },
    /// An emit whose value count differs from the stream's declared fields (Storm refuses it:
    /// "Tuple created with wrong number of fields").
    #[error(
        "tuple created with wrong number of fields: stream {stream:?} of component {component:?} declares {expected}, got {got}"
    )]
    WrongFieldCount {
        /// The stream emitted on.
        stream: String,
        /// The emitting component.
        component: String,
        /// The number of fields the stream declares.
        expected: usize,
        /// The number of values emitted.
        got: usize,
    },
    /// `emit_direct` to a task that subscribes to the stream with another grouping.
    #[error("task {task} does not subscribe to stream {stream:?} with a direct grouping")]
    TaskNotDirectSubscriber {
        /// The task named.
        task: TaskId,
        /// The stream emitted on.
        stream: String,
    },
}

/// What the runtime provides behind a [`SpoutCollector`].
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// use std::fmt;
/// /// Records what a spout emits, as a test harness might.
/// #[derive(Default)]
/// struct Recorder { emitted: Vec<(String, Values, Option<MessageId>)>, errors: Vec<String> }
/// impl SpoutOutput for Recorder {
///     fn emit(&mut self, stream: Option<&str>, values: Values, msg_id: Option<MessageId>, _direct: Option<TaskId>)
///         -> Result<&[TaskId], EmitError> {
///         self.emitted.push((stream_or_default(stream).to_owned(), values, msg_id));
///         Ok(&[1]) // "sent to task 1"
///     }
///     fn pending_count(&self) -> usize { self.emitted.iter().filter(|e| e.2.is_some()).count() }
///     fn report_error(&mut self, error: &dyn fmt::Display) { self.errors.push(error.to_string()); }
/// }
/// let mut rec = Recorder::default();
/// let mut out = SpoutCollector::new(&mut rec);
/// assert_eq!(out.emit_with_id(values!["storm"], 7).unwrap(), &[1]);
/// out.emit_on("metrics", values![1], None).unwrap();
/// assert_eq!(out.pending_count(), 1);
/// assert_eq!(rec.emitted[0], ("default".to_owned(), values!["storm"], Some(7)));
/// assert_eq!(rec.emitted[1].0, "metrics");
/// ```
#[doc(hidden)]
pub trait SpoutOutput {
    /// Routes and sends one tuple; `stream` `None` is the default stream.
    fn emit(
        &mut self,
        stream: Option<&str>,
        values: Values,
        msg_id: Option<MessageId>,
        direct_task: Option<TaskId>,
    ) -> Result<&[TaskId], EmitError>;
    /// Trees in flight for the current task.
    fn pending_count(&self) -> usize;
    /// Records an error against the component.
    fn report_error(&mut self, error: &dyn fmt::Display);
}

/// What the runtime provides behind a [`BoltCollector`].
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// use std::fmt;
/// /// Records what a bolt does, as a test harness might.
/// #[derive(Default)]
/// struct Recorder { emitted: Vec<(String, usize, Values)>, acked: usize, failed: usize }
/// impl BoltOutput for Recorder {
///     fn emit(&mut self, stream: Option<&str>, anchors: &[&Tuple], values: Values, _direct: Option<TaskId>)
///         -> Result<&[TaskId], EmitError> {
///         self.emitted.push((stream_or_default(stream).to_owned(), anchors.len(), values));
///         Ok(&[2])
///     }
///     fn ack(&mut self, _input: &Tuple) { self.acked += 1; }
///     fn fail(&mut self, _input: &Tuple) { self.failed += 1; }
///     fn reset_timeout(&mut self, _input: &Tuple) {}
///     fn report_error(&mut self, _error: &dyn fmt::Display) {}
/// }
/// let input = Tuple::for_test("sentences", "default", Fields::new(["sentence"]), values!["a b"]);
/// let mut rec = Recorder::default();
/// let mut out = BoltCollector::new(&mut rec);
/// out.emit(&[&input], values!["a"]).unwrap();
/// out.emit_on("lengths", &[], values![3]).unwrap();
/// out.ack(&input);
/// assert_eq!(rec.emitted, [
///     ("default".to_owned(), 1, values!["a"]),
///     ("lengths".to_owned(), 0, values![3]),
/// ]);
/// assert_eq!((rec.acked, rec.failed), (1, 0));
/// ```
#[doc(hidden)]
pub trait BoltOutput {
    /// Routes and sends one tuple anchored to `anchors`; `stream` `None` is the default stream.
    fn emit(
        &mut self,
        stream: Option<&str>,
        anchors: &[&Tuple],
        values: Values,
        direct_task: Option<TaskId>,
    ) -> Result<&[TaskId], EmitError>;
    /// Acks an input.
    fn ack(&mut self, input: &Tuple);
    /// Fails an input.
    fn fail(&mut self, input: &Tuple);
    /// Restarts the timeout clock of the input's trees.
    fn reset_timeout(&mut self, input: &Tuple);
    /// Records an error against the component.
    fn report_error(&mut self, error: &dyn fmt::Display);
}

/// Emits a spout's tuples (Storm's `SpoutOutputCollector`).
///
/// Every emit returns the ids of the tasks the tuple was sent to.
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// /// Emits a counter, tracked, one tuple per call.
/// struct Counter(u64);
/// impl Spout for Counter {
///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
///         out.declare(Fields::new(["n"]));
///     }
///     fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
///         out.emit_with_id(values![self.0 as i64], self.0)?;
///         self.0 += 1;
///         Ok(())
///     }
/// }
/// let mut b = TopologyBuilder::new();
/// b.set_spout("counter", || Counter(0), 1);
/// assert!(b.build().is_ok());
/// ```
pub struct SpoutCollector<'a> {
    out: &'a mut dyn SpoutOutput,
}

impl<'a> SpoutCollector<'a> {
    /// Wraps the runtime's output.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// # use std::fmt;
    /// # #[derive(Default)]
    /// # struct Recorder { emitted: Vec<(String, Values, Option<MessageId>)>, errors: Vec<String> }
    /// # impl SpoutOutput for Recorder {
    /// #     fn emit(&mut self, stream: Option<&str>, values: Values, msg_id: Option<MessageId>, _: Option<TaskId>) -> Result<&[TaskId], EmitError> {
    /// #         self.emitted.push((stream_or_default(stream).to_owned(), values, msg_id));
    /// #         Ok(&[1])
    /// #     }
    /// #     fn pending_count(&self) -> usize { self.emitted.iter().filter(|e| e.2.is_some()).count() }
    /// #     fn report_error(&mut self, e: &dyn fmt::Display) { self.errors.push(e.to_string()); }
    /// # }
    /// # struct Counter(u64);
    /// # impl Spout for Counter {
    /// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new(["n"])); }
    /// #     fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
    /// #         out.emit_with_id(values![self.0 as i64], self.0)?;
    /// #         self.0 += 1;
    /// #         Ok(())
    /// #     }
    /// # }
    /// // How the runtime (or a test harness) drives a spout: `rec` implements `SpoutOutput`.
    /// let mut rec = Recorder::default();
    /// let mut spout = Counter(5);
    /// spout.next_tuple(&mut SpoutCollector::new(&mut rec)).unwrap();
    /// assert_eq!(rec.emitted, [("default".to_owned(), values![5], Some(5))]);
    /// ```
    #[doc(hidden)]
    pub fn new(out: &'a mut dyn SpoutOutput) -> Self {
        SpoutCollector { out }
    }

    /// What the collector emits through, for a runner that wraps a spout.
    pub(crate) fn output(&mut self) -> &mut dyn SpoutOutput {
        &mut *self.out
    }

    /// Emits on the default stream without a message id: the tuple is not tracked, and the
    /// spout hears nothing back about it.
    ///
    /// # Errors
    /// When the spout did not declare the default stream, declared it direct, or declared
    /// another number of fields than `values` has ([`EmitError::WrongFieldCount`]).
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// /// Emits lines, untracked: a lost line is not replayed.
    /// struct Lines(Vec<String>);
    /// impl Spout for Lines {
    ///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
    ///         out.declare(Fields::new(["line"]));
    ///     }
    ///     fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
    ///         if let Some(line) = self.0.pop() {
    ///             out.emit(values![line])?;
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// let mut b = TopologyBuilder::new();
    /// b.set_spout("lines", || Lines(vec!["a".into(), "b".into()]), 1);
    /// let topology = b.build().unwrap();
    /// assert_eq!(topology.spec().component("lines").unwrap().outputs[0].id, "default");
    /// ```
    pub fn emit(&mut self, values: Values) -> Result<&[TaskId], EmitError> {
        self.out.emit(None, values, None, None)
    }

    /// Emits on the default stream with a message id: the tuple's tree is tracked and the spout
    /// gets `ack(msg_id)` or `fail(msg_id)`.
    ///
    /// # Errors
    /// As [`emit`](Self::emit).
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// use std::collections::BTreeMap;
    /// /// Emits each order tracked by its id, and keeps it until acked so it can be replayed.
    /// struct Orders { next: u64, in_flight: BTreeMap<MessageId, String> }
    /// impl Spout for Orders {
    ///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
    ///         out.declare(Fields::new(["order"]));
    ///     }
    ///     fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
    ///         self.next += 1;
    ///         let order = format!("order-{}", self.next);
    ///         out.emit_with_id(values![order.as_str()], self.next)?;
    ///         self.in_flight.insert(self.next, order);
    ///         Ok(())
    ///     }
    ///     fn ack(&mut self, id: MessageId) {
    ///         self.in_flight.remove(&id);
    ///     }
    /// }
    /// let mut b = TopologyBuilder::new();
    /// b.set_spout("orders", || Orders { next: 0, in_flight: BTreeMap::new() }, 1)
    ///     .max_spout_pending(100);
    /// assert!(b.build().is_ok());
    /// ```
    pub fn emit_with_id(
        &mut self,
        values: Values,
        msg_id: MessageId,
    ) -> Result<&[TaskId], EmitError> {
        self.out.emit(None, values, Some(msg_id), None)
    }

    /// Emits on a named stream, tracked when `msg_id` is given.
    ///
    /// # Errors
    /// When the stream is not declared, or is direct.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// /// Emits readings on `default` (tracked) and heartbeats on `heartbeat` (untracked).
    /// struct Sensor(u64);
    /// impl Spout for Sensor {
    ///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
    ///         out.declare(Fields::new(["reading"]))
    ///             .declare_stream("heartbeat", Fields::new(["seq"]));
    ///     }
    ///     fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
    ///         self.0 += 1;
    ///         out.emit_on(DEFAULT_STREAM_ID, values![20.5], Some(self.0))?;
    ///         out.emit_on("heartbeat", values![self.0 as i64], None)?;
    ///         Ok(())
    ///     }
    /// }
    /// # struct Sink;
    /// # impl Bolt for Sink {
    /// #     fn execute(&mut self, t: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> { out.ack(&t); Ok(()) }
    /// # }
    /// let mut b = TopologyBuilder::new();
    /// b.set_spout("sensor", || Sensor(0), 1);
    /// b.set_bolt("monitor", || Sink, 1).shuffle_grouping(("sensor", "heartbeat"));
    /// let topology = b.build().unwrap();
    /// assert_eq!(topology.spec().component("monitor").unwrap().inputs[0].stream, "heartbeat");
    /// ```
    pub fn emit_on(
        &mut self,
        stream: &str,
        values: Values,
        msg_id: Option<MessageId>,
    ) -> Result<&[TaskId], EmitError> {
        self.out.emit(Some(stream), values, msg_id, None)
    }

    /// Emits to one task on a direct stream. A task that does not subscribe to the stream
    /// gets nothing (the tuple is dropped, as in Storm).
    ///
    /// # Errors
    /// When the stream is not declared direct, or the task subscribes with another grouping.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// /// Deals jobs round-robin to the tasks of `worker` by naming each task itself.
    /// struct Dispatch { workers: Vec<TaskId>, next: usize }
    /// impl Spout for Dispatch {
    ///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
    ///         out.declare_direct_stream("jobs", Fields::new(["job"]));
    ///     }
    ///     fn open(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
    ///         self.workers = context.component_tasks("worker").to_vec();
    ///         Ok(())
    ///     }
    ///     fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
    ///         if self.workers.is_empty() {
    ///             return Ok(());
    ///         }
    ///         let task = self.workers[self.next % self.workers.len()];
    ///         out.emit_direct(task, "jobs", values![self.next as i64], Some(self.next as MessageId))?;
    ///         self.next += 1;
    ///         Ok(())
    ///     }
    /// }
    /// # struct Sink;
    /// # impl Bolt for Sink {
    /// #     fn execute(&mut self, t: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> { out.ack(&t); Ok(()) }
    /// # }
    /// let mut b = TopologyBuilder::new();
    /// b.set_spout("dispatch", || Dispatch { workers: vec![], next: 0 }, 1);
    /// b.set_bolt("worker", || Sink, 3).direct_grouping(("dispatch", "jobs"));
    /// let topology = b.build().unwrap();
    /// assert!(topology.spec().component("dispatch").unwrap().outputs[0].direct);
    /// ```
    pub fn emit_direct(
        &mut self,
        task: TaskId,
        stream: &str,
        values: Values,
        msg_id: Option<MessageId>,
    ) -> Result<&[TaskId], EmitError> {
        self.out.emit(Some(stream), values, msg_id, Some(task))
    }

    /// The number of this task's trees still in flight.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// /// Keeps at most 10 trees in flight on its own, without `topology.max.spout.pending`.
    /// struct Polite(u64);
    /// impl Spout for Polite {
    ///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
    ///         out.declare(Fields::new(["n"]));
    ///     }
    ///     fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
    ///         if out.pending_count() >= 10 {
    ///             return Ok(());
    ///         }
    ///         self.0 += 1;
    ///         out.emit_with_id(values![self.0 as i64], self.0)?;
    ///         Ok(())
    ///     }
    /// }
    /// # use std::fmt;
    /// # #[derive(Default)]
    /// # struct Recorder { emitted: Vec<(String, Values, Option<MessageId>)>, errors: Vec<String> }
    /// # impl SpoutOutput for Recorder {
    /// #     fn emit(&mut self, stream: Option<&str>, values: Values, msg_id: Option<MessageId>, _: Option<TaskId>) -> Result<&[TaskId], EmitError> {
    /// #         self.emitted.push((stream_or_default(stream).to_owned(), values, msg_id));
    /// #         Ok(&[1])
    /// #     }
    /// #     fn pending_count(&self) -> usize { self.emitted.iter().filter(|e| e.2.is_some()).count() }
    /// #     fn report_error(&mut self, e: &dyn fmt::Display) { self.errors.push(e.to_string()); }
    /// # }
    /// let mut rec = Recorder::default();
    /// let mut spout = Polite(0);
    /// for _ in 0..15 {
    ///     spout.next_tuple(&mut SpoutCollector::new(&mut rec)).unwrap();
    /// }
    /// assert_eq!(rec.emitted.len(), 10); // nothing was acked, so it stopped at 10
    /// ```
    pub fn pending_count(&self) -> usize {
        self.out.pending_count()
    }

    /// Records an error against this component (shown as its last error).
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// /// Reads a queue; a bad message is reported and skipped rather than stopping the spout.
    /// struct Queue(Vec<String>);
    /// impl Spout for Queue {
    ///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
    ///         out.declare(Fields::new(["n"]));
    ///     }
    ///     fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
    ///         let Some(msg) = self.0.pop() else { return Ok(()) };
    ///         match msg.parse::<i64>() {
    ///             Ok(n) => { out.emit(values![n])?; }
    ///             Err(e) => out.report_error(&format_args!("skipped {msg:?}: {e}")),
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// # use std::fmt;
    /// # #[derive(Default)]
    /// # struct Recorder { emitted: Vec<(String, Values, Option<MessageId>)>, errors: Vec<String> }
    /// # impl SpoutOutput for Recorder {
    /// #     fn emit(&mut self, stream: Option<&str>, values: Values, msg_id: Option<MessageId>, _: Option<TaskId>) -> Result<&[TaskId], EmitError> {
    /// #         self.emitted.push((stream_or_default(stream).to_owned(), values, msg_id));
    /// #         Ok(&[1])
    /// #     }
    /// #     fn pending_count(&self) -> usize { self.emitted.iter().filter(|e| e.2.is_some()).count() }
    /// #     fn report_error(&mut self, e: &dyn fmt::Display) { self.errors.push(e.to_string()); }
    /// # }
    /// let mut rec = Recorder::default();
    /// let mut spout = Queue(vec!["x".into()]);
    /// spout.next_tuple(&mut SpoutCollector::new(&mut rec)).unwrap();
    /// assert_eq!(rec.errors, [r#"skipped "x": invalid digit found in string"#]);
    /// ```
    pub fn report_error(&mut self, error: &dyn fmt::Display) {
        self.out.report_error(error)
    }
}

/// Emits, acks and fails a bolt's tuples (Storm's `OutputCollector`).
///
/// Anchors are the input tuples the new tuple descends from: if it fails downstream, their
/// trees are failed and replayed. Pass `&[]` for an unanchored (untracked) emit.
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// /// Splits sentences into words, anchored to the sentence, and acks it.
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
/// # struct Source(&'static str);
/// # impl Spout for Source {
/// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
/// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
/// # }
/// let mut b = TopologyBuilder::new();
/// b.set_spout("sentences", || Source("sentence"), 1);
/// b.set_bolt("split", || Split, 4).shuffle_grouping("sentences");
/// assert!(b.build().is_ok());
/// ```
pub struct BoltCollector<'a> {
    out: &'a mut dyn BoltOutput,
}

impl<'a> BoltCollector<'a> {
    /// Wraps the runtime's output.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// # use std::fmt;
    /// # #[derive(Default)]
    /// # struct Recorder { emitted: Vec<(String, usize, Values)>, acked: usize, failed: usize }
    /// # impl BoltOutput for Recorder {
    /// #     fn emit(&mut self, stream: Option<&str>, anchors: &[&Tuple], values: Values, _: Option<TaskId>) -> Result<&[TaskId], EmitError> {
    /// #         self.emitted.push((stream_or_default(stream).to_owned(), anchors.len(), values));
    /// #         Ok(&[2])
    /// #     }
    /// #     fn ack(&mut self, _: &Tuple) { self.acked += 1; }
    /// #     fn fail(&mut self, _: &Tuple) { self.failed += 1; }
    /// #     fn reset_timeout(&mut self, _: &Tuple) {}
    /// #     fn report_error(&mut self, _: &dyn fmt::Display) {}
    /// # }
    /// # struct Split;
    /// # impl Bolt for Split {
    /// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new(["word"])); }
    /// #     fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
    /// #         for word in input.get_str("sentence")?.split_whitespace() {
    /// #             out.emit(&[&input], values![word])?;
    /// #         }
    /// #         out.ack(&input);
    /// #         Ok(())
    /// #     }
    /// # }
    /// // How the runtime (or a test harness) drives a bolt: `rec` implements `BoltOutput`.
    /// let mut rec = Recorder::default();
    /// let input = Tuple::for_test("sentences", "default", Fields::new(["sentence"]), values!["a b"]);
    /// Split.execute(input, &mut BoltCollector::new(&mut rec)).unwrap();
    /// assert_eq!(rec.emitted.len(), 2);
    /// assert_eq!(rec.acked, 1);
    /// ```
    #[doc(hidden)]
    pub fn new(out: &'a mut dyn BoltOutput) -> Self {
        BoltCollector { out }
    }

    /// What the collector sends through, for a runner that wraps a bolt.
    pub(crate) fn output(&mut self) -> &mut dyn BoltOutput {
        &mut *self.out
    }

    /// Emits on the default stream, anchored to `anchors`.
    ///
    /// # Errors
    /// When the bolt did not declare the default stream, declared it direct, or declared
    /// another number of fields than `values` has ([`EmitError::WrongFieldCount`]).
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// /// Upper-cases words; the emit is anchored, so a failure downstream replays the input's tree.
    /// struct Upper;
    /// impl Bolt for Upper {
    ///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
    ///         out.declare(Fields::new(["word"]));
    ///     }
    ///     fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
    ///         let word = input.get_str("word")?.to_uppercase();
    ///         out.emit(&[&input], values![word])?;
    ///         out.ack(&input);
    ///         Ok(())
    ///     }
    /// }
    /// # use std::fmt;
    /// # #[derive(Default)]
    /// # struct Recorder { emitted: Vec<(String, usize, Values)>, acked: usize, failed: usize }
    /// # impl BoltOutput for Recorder {
    /// #     fn emit(&mut self, stream: Option<&str>, anchors: &[&Tuple], values: Values, _: Option<TaskId>) -> Result<&[TaskId], EmitError> {
    /// #         self.emitted.push((stream_or_default(stream).to_owned(), anchors.len(), values));
    /// #         Ok(&[2])
    /// #     }
    /// #     fn ack(&mut self, _: &Tuple) { self.acked += 1; }
    /// #     fn fail(&mut self, _: &Tuple) { self.failed += 1; }
    /// #     fn reset_timeout(&mut self, _: &Tuple) {}
    /// #     fn report_error(&mut self, _: &dyn fmt::Display) {}
    /// # }
    /// let mut rec = Recorder::default();
    /// let input = Tuple::for_test("split", "default", Fields::new(["word"]), values!["storm"]);
    /// Upper.execute(input, &mut BoltCollector::new(&mut rec)).unwrap();
    /// assert_eq!(rec.emitted, [("default".to_owned(), 1, values!["STORM"])]);
    /// ```
    pub fn emit(&mut self, anchors: &[&Tuple], values: Values) -> Result<&[TaskId], EmitError> {
        self.out.emit(None, anchors, values, None)
    }

    /// Emits on a named stream, anchored to `anchors`.
    ///
    /// # Errors
    /// When the stream is not declared, or is direct.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// /// Parses numbers; lines that are not numbers go to the `errors` stream.
    /// struct Parse;
    /// impl Bolt for Parse {
    ///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
    ///         out.declare(Fields::new(["n"]))
    ///             .declare_stream("errors", Fields::new(["line"]));
    ///     }
    ///     fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
    ///         let line = input.get_str("line")?;
    ///         match line.trim().parse::<i64>() {
    ///             Ok(n) => out.emit(&[&input], values![n])?,
    ///             Err(_) => out.emit_on("errors", &[&input], values![line])?,
    ///         };
    ///         out.ack(&input);
    ///         Ok(())
    ///     }
    /// }
    /// # use std::fmt;
    /// # #[derive(Default)]
    /// # struct Recorder { emitted: Vec<(String, usize, Values)>, acked: usize, failed: usize }
    /// # impl BoltOutput for Recorder {
    /// #     fn emit(&mut self, stream: Option<&str>, anchors: &[&Tuple], values: Values, _: Option<TaskId>) -> Result<&[TaskId], EmitError> {
    /// #         self.emitted.push((stream_or_default(stream).to_owned(), anchors.len(), values));
    /// #         Ok(&[2])
    /// #     }
    /// #     fn ack(&mut self, _: &Tuple) { self.acked += 1; }
    /// #     fn fail(&mut self, _: &Tuple) { self.failed += 1; }
    /// #     fn reset_timeout(&mut self, _: &Tuple) {}
    /// #     fn report_error(&mut self, _: &dyn fmt::Display) {}
    /// # }
    /// let mut rec = Recorder::default();
    /// let input = Tuple::for_test("lines", "default", Fields::new(["line"]), values!["twelve"]);
    /// Parse.execute(input, &mut BoltCollector::new(&mut rec)).unwrap();
    /// assert_eq!(rec.emitted, [("errors".to_owned(), 1, values!["twelve"])]);
    /// ```
    pub fn emit_on(
        &mut self,
        stream: &str,
        anchors: &[&Tuple],
        values: Values,
    ) -> Result<&[TaskId], EmitError> {
        self.out.emit(Some(stream), anchors, values, None)
    }

    /// Emits to one task on a direct stream, anchored to `anchors`.
    ///
    /// # Errors
    /// When the stream is not declared direct, or the task subscribes with another grouping.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// /// Sends each word to the `count` task chosen by its length.
    /// #[derive(Default)]
    /// struct Route { counters: Vec<TaskId> }
    /// impl Bolt for Route {
    ///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
    ///         out.declare_direct_stream("by_length", Fields::new(["word"]));
    ///     }
    ///     fn prepare(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
    ///         self.counters = context.component_tasks("count").to_vec();
    ///         Ok(())
    ///     }
    ///     fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
    ///         let word = input.get_str("word")?;
    ///         let task = self.counters[word.len() % self.counters.len()];
    ///         out.emit_direct(task, "by_length", &[&input], values![word])?;
    ///         out.ack(&input);
    ///         Ok(())
    ///     }
    /// }
    /// # struct Source(&'static str);
    /// # impl Spout for Source {
    /// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
    /// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
    /// # }
    /// # struct Sink;
    /// # impl Bolt for Sink {
    /// #     fn execute(&mut self, t: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> { out.ack(&t); Ok(()) }
    /// # }
    /// let mut b = TopologyBuilder::new();
    /// b.set_spout("words", || Source("word"), 1);
    /// b.set_bolt("route", Route::default, 2).shuffle_grouping("words");
    /// b.set_bolt("count", || Sink, 3).direct_grouping(("route", "by_length"));
    /// assert!(b.build().is_ok());
    /// ```
    pub fn emit_direct(
        &mut self,
        task: TaskId,
        stream: &str,
        anchors: &[&Tuple],
        values: Values,
    ) -> Result<&[TaskId], EmitError> {
        self.out.emit(Some(stream), anchors, values, Some(task))
    }

    /// Acks an input: this bolt is done with it. Ack each input once.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// /// A sink: stores each input, then acks it so its tree can complete.
    /// struct Store(Vec<String>);
    /// impl Bolt for Store {
    ///     fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
    ///         self.0.push(input.get_str(0)?.to_owned());
    ///         out.ack(&input);
    ///         Ok(())
    ///     }
    /// }
    /// # use std::fmt;
    /// # #[derive(Default)]
    /// # struct Recorder { emitted: Vec<(String, usize, Values)>, acked: usize, failed: usize }
    /// # impl BoltOutput for Recorder {
    /// #     fn emit(&mut self, stream: Option<&str>, anchors: &[&Tuple], values: Values, _: Option<TaskId>) -> Result<&[TaskId], EmitError> {
    /// #         self.emitted.push((stream_or_default(stream).to_owned(), anchors.len(), values));
    /// #         Ok(&[2])
    /// #     }
    /// #     fn ack(&mut self, _: &Tuple) { self.acked += 1; }
    /// #     fn fail(&mut self, _: &Tuple) { self.failed += 1; }
    /// #     fn reset_timeout(&mut self, _: &Tuple) {}
    /// #     fn report_error(&mut self, _: &dyn fmt::Display) {}
    /// # }
    /// let mut rec = Recorder::default();
    /// let mut store = Store(vec![]);
    /// let input = Tuple::for_test("split", "default", Fields::new(["word"]), values!["storm"]);
    /// store.execute(input, &mut BoltCollector::new(&mut rec)).unwrap();
    /// assert_eq!(store.0, ["storm"]);
    /// assert_eq!(rec.acked, 1);
    /// ```
    pub fn ack(&mut self, input: &Tuple) {
        self.out.ack(input)
    }

    /// Fails an input: its trees fail at once and their spouts hear `fail`.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// /// Fails inputs it cannot handle yet, so that their spouts replay them.
    /// struct Deliver { up: bool }
    /// impl Bolt for Deliver {
    ///     fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
    ///         if self.up {
    ///             out.ack(&input);
    ///         } else {
    ///             out.fail(&input);
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// # use std::fmt;
    /// # #[derive(Default)]
    /// # struct Recorder { emitted: Vec<(String, usize, Values)>, acked: usize, failed: usize }
    /// # impl BoltOutput for Recorder {
    /// #     fn emit(&mut self, stream: Option<&str>, anchors: &[&Tuple], values: Values, _: Option<TaskId>) -> Result<&[TaskId], EmitError> {
    /// #         self.emitted.push((stream_or_default(stream).to_owned(), anchors.len(), values));
    /// #         Ok(&[2])
    /// #     }
    /// #     fn ack(&mut self, _: &Tuple) { self.acked += 1; }
    /// #     fn fail(&mut self, _: &Tuple) { self.failed += 1; }
    /// #     fn reset_timeout(&mut self, _: &Tuple) {}
    /// #     fn report_error(&mut self, _: &dyn fmt::Display) {}
    /// # }
    /// let mut rec = Recorder::default();
    /// let input = Tuple::for_test("orders", "default", Fields::new(["order"]), values!["o-1"]);
    /// Deliver { up: false }.execute(input, &mut BoltCollector::new(&mut rec)).unwrap();
    /// assert_eq!((rec.acked, rec.failed), (0, 1));
    /// ```
    pub fn fail(&mut self, input: &Tuple) {
        self.out.fail(input)
    }

    /// Restarts the `topology.message.timeout.secs` clock of the input's trees.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// /// Holds inputs until 100 have arrived; on each tick it keeps the held trees from timing out.
    /// #[derive(Default)]
    /// struct Batch(Vec<Tuple>);
    /// impl Bolt for Batch {
    ///     fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
    ///         if input.is_tick() {
    ///             for held in &self.0 {
    ///                 out.reset_timeout(held);
    ///             }
    ///             return Ok(());
    ///         }
    ///         self.0.push(input);
    ///         if self.0.len() == 100 {
    ///             for done in self.0.drain(..) {
    ///                 out.ack(&done);
    ///             }
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// # struct Source(&'static str);
    /// # impl Spout for Source {
    /// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
    /// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
    /// # }
    /// let mut b = TopologyBuilder::new();
    /// b.set_spout("sentences", || Source("sentence"), 1);
    /// b.set_bolt("batch", Batch::default, 1).shuffle_grouping("sentences").tick_tuple_freq_secs(10);
    /// assert!(b.build().is_ok());
    /// ```
    pub fn reset_timeout(&mut self, input: &Tuple) {
        self.out.reset_timeout(input)
    }

    /// Records an error against this component (shown as its last error).
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// /// Skips lines it cannot parse, acking them (no replay) but reporting each one.
    /// struct Parse;
    /// impl Bolt for Parse {
    ///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
    ///         out.declare(Fields::new(["n"]));
    ///     }
    ///     fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
    ///         match input.get_str("line")?.parse::<i64>() {
    ///             Ok(n) => { out.emit(&[&input], values![n])?; }
    ///             Err(e) => out.report_error(&e),
    ///         }
    ///         out.ack(&input);
    ///         Ok(())
    ///     }
    /// }
    /// # struct Source(&'static str);
    /// # impl Spout for Source {
    /// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
    /// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
    /// # }
    /// let mut b = TopologyBuilder::new();
    /// b.set_spout("lines", || Source("line"), 1);
    /// b.set_bolt("parse", || Parse, 2).shuffle_grouping("lines");
    /// assert!(b.build().is_ok());
    /// ```
    pub fn report_error(&mut self, error: &dyn fmt::Display) {
        self.out.report_error(error)
    }
}

/// Emits a [`BasicBolt`](crate::BasicBolt)'s tuples, each anchored to the current input.
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// /// Emits each word's length; `BasicCollector` anchors every emit to the input.
/// struct Length;
/// impl BasicBolt for Length {
///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
///         out.declare(Fields::new(["word", "length"]));
///     }
///     fn execute(&mut self, input: &Tuple, out: &mut BasicCollector<'_, '_>) -> Result<(), ComponentError> {
///         let word = input.get_str("word")?;
///         out.emit(values![word, word.len() as i64])?;
///         Ok(())
///     }
/// }
/// # struct Source(&'static str);
/// # impl Spout for Source {
/// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
/// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
/// # }
/// let mut b = TopologyBuilder::new();
/// b.set_spout("words", || Source("word"), 1);
/// b.set_basic_bolt("length", || Length, 2).shuffle_grouping("words");
/// assert!(b.build().is_ok());
/// ```
pub struct BasicCollector<'a, 'b> {
    inner: &'a mut BoltCollector<'b>,
    input: &'a Tuple,
}

impl<'a, 'b> BasicCollector<'a, 'b> {
    /// Anchors everything emitted through `inner` to `input`.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// /// A plain bolt that anchors a run of emits to its input through a `BasicCollector`.
    /// struct Split;
    /// impl Bolt for Split {
    ///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
    ///         out.declare(Fields::new(["word"]));
    ///     }
    ///     fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
    ///         let mut anchored = BasicCollector::new(out, &input);
    ///         for word in input.get_str("sentence")?.split_whitespace() {
    ///             anchored.emit(values![word])?;
    ///         }
    ///         out.ack(&input);
    ///         Ok(())
    ///     }
    /// }
    /// # use std::fmt;
    /// # #[derive(Default)]
    /// # struct Recorder { emitted: Vec<(String, usize, Values)>, acked: usize, failed: usize }
    /// # impl BoltOutput for Recorder {
    /// #     fn emit(&mut self, stream: Option<&str>, anchors: &[&Tuple], values: Values, _: Option<TaskId>) -> Result<&[TaskId], EmitError> {
    /// #         self.emitted.push((stream_or_default(stream).to_owned(), anchors.len(), values));
    /// #         Ok(&[2])
    /// #     }
    /// #     fn ack(&mut self, _: &Tuple) { self.acked += 1; }
    /// #     fn fail(&mut self, _: &Tuple) { self.failed += 1; }
    /// #     fn reset_timeout(&mut self, _: &Tuple) {}
    /// #     fn report_error(&mut self, _: &dyn fmt::Display) {}
    /// # }
    /// let mut rec = Recorder::default();
    /// let input = Tuple::for_test("sentences", "default", Fields::new(["sentence"]), values!["a b"]);
    /// Split.execute(input, &mut BoltCollector::new(&mut rec)).unwrap();
    /// assert_eq!(rec.emitted, [
    ///     ("default".to_owned(), 1, values!["a"]),
    ///     ("default".to_owned(), 1, values!["b"]),
    /// ]);
    /// ```
    pub fn new(inner: &'a mut BoltCollector<'b>, input: &'a Tuple) -> Self {
        BasicCollector { inner, input }
    }

    /// Emits on the default stream.
    ///
    /// # Errors
    /// When the bolt did not declare the default stream, or declared it direct.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// struct Upper;
    /// impl BasicBolt for Upper {
    ///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
    ///         out.declare(Fields::new(["word"]));
    ///     }
    ///     fn execute(&mut self, input: &Tuple, out: &mut BasicCollector<'_, '_>) -> Result<(), ComponentError> {
    ///         out.emit(values![input.get_str("word")?.to_uppercase()])?;
    ///         Ok(())
    ///     }
    /// }
    /// # use std::fmt;
    /// # #[derive(Default)]
    /// # struct Recorder { emitted: Vec<(String, usize, Values)>, acked: usize, failed: usize }
    /// # impl BoltOutput for Recorder {
    /// #     fn emit(&mut self, stream: Option<&str>, anchors: &[&Tuple], values: Values, _: Option<TaskId>) -> Result<&[TaskId], EmitError> {
    /// #         self.emitted.push((stream_or_default(stream).to_owned(), anchors.len(), values));
    /// #         Ok(&[2])
    /// #     }
    /// #     fn ack(&mut self, _: &Tuple) { self.acked += 1; }
    /// #     fn fail(&mut self, _: &Tuple) { self.failed += 1; }
    /// #     fn reset_timeout(&mut self, _: &Tuple) {}
    /// #     fn report_error(&mut self, _: &dyn fmt::Display) {}
    /// # }
    /// let mut rec = Recorder::default();
    /// let input = Tuple::for_test("split", "default", Fields::new(["word"]), values!["storm"]);
    /// BasicBoltAdapter(Upper).execute(input, &mut BoltCollector::new(&mut rec)).unwrap();
    /// assert_eq!(rec.emitted, [("default".to_owned(), 1, values!["STORM"])]);
    /// assert_eq!(rec.acked, 1); // acked because `execute` returned `Ok`
    /// ```
    pub fn emit(&mut self, values: Values) -> Result<&[TaskId], EmitError> {
        self.inner.emit(&[self.input], values)
    }

    /// Emits on a named stream.
    ///
    /// # Errors
    /// When the stream is not declared, or is direct.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// /// Sends short words on `default` and long ones on `long`.
    /// struct Sort;
    /// impl BasicBolt for Sort {
    ///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
    ///         out.declare(Fields::new(["word"]))
    ///             .declare_stream("long", Fields::new(["word"]));
    ///     }
    ///     fn execute(&mut self, input: &Tuple, out: &mut BasicCollector<'_, '_>) -> Result<(), ComponentError> {
    ///         let word = input.get_str("word")?;
    ///         if word.len() > 8 {
    ///             out.emit_on("long", values![word])?;
    ///         } else {
    ///             out.emit(values![word])?;
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// # use std::fmt;
    /// # #[derive(Default)]
    /// # struct Recorder { emitted: Vec<(String, usize, Values)>, acked: usize, failed: usize }
    /// # impl BoltOutput for Recorder {
    /// #     fn emit(&mut self, stream: Option<&str>, anchors: &[&Tuple], values: Values, _: Option<TaskId>) -> Result<&[TaskId], EmitError> {
    /// #         self.emitted.push((stream_or_default(stream).to_owned(), anchors.len(), values));
    /// #         Ok(&[2])
    /// #     }
    /// #     fn ack(&mut self, _: &Tuple) { self.acked += 1; }
    /// #     fn fail(&mut self, _: &Tuple) { self.failed += 1; }
    /// #     fn reset_timeout(&mut self, _: &Tuple) {}
    /// #     fn report_error(&mut self, _: &dyn fmt::Display) {}
    /// # }
    /// let mut rec = Recorder::default();
    /// let input = Tuple::for_test("split", "default", Fields::new(["word"]), values!["topologies"]);
    /// BasicBoltAdapter(Sort).execute(input, &mut BoltCollector::new(&mut rec)).unwrap();
    /// assert_eq!(rec.emitted, [("long".to_owned(), 1, values!["topologies"])]);
    /// ```
    pub fn emit_on(&mut self, stream: &str, values: Values) -> Result<&[TaskId], EmitError> {
        self.inner.emit_on(stream, &[self.input], values)
    }

    /// Emits to one task on a direct stream.
    ///
    /// # Errors
    /// When the stream is not declared direct.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// /// Sends each word to the `count` task its first letter picks.
    /// #[derive(Default)]
    /// struct Route(Vec<TaskId>);
    /// impl BasicBolt for Route {
    ///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
    ///         out.declare_direct_stream("by_letter", Fields::new(["word"]));
    ///     }
    ///     fn prepare(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
    ///         self.0 = context.component_tasks("count").to_vec();
    ///         Ok(())
    ///     }
    ///     fn execute(&mut self, input: &Tuple, out: &mut BasicCollector<'_, '_>) -> Result<(), ComponentError> {
    ///         let word = input.get_str("word")?;
    ///         let first = word.bytes().next().unwrap_or(0) as usize;
    ///         out.emit_direct(self.0[first % self.0.len()], "by_letter", values![word])?;
    ///         Ok(())
    ///     }
    /// }
    /// # struct Source(&'static str);
    /// # impl Spout for Source {
    /// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
    /// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
    /// # }
    /// # struct Sink;
    /// # impl Bolt for Sink {
    /// #     fn execute(&mut self, t: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> { out.ack(&t); Ok(()) }
    /// # }
    /// let mut b = TopologyBuilder::new();
    /// b.set_spout("words", || Source("word"), 1);
    /// b.set_basic_bolt("route", Route::default, 2).shuffle_grouping("words");
    /// b.set_bolt("count", || Sink, 4).direct_grouping(("route", "by_letter"));
    /// assert!(b.build().is_ok());
    /// ```
    pub fn emit_direct(
        &mut self,
        task: TaskId,
        stream: &str,
        values: Values,
    ) -> Result<&[TaskId], EmitError> {
        self.inner.emit_direct(task, stream, &[self.input], values)
    }

    /// Restarts the timeout clock of the input's trees.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// /// Calls a slow service in chunks, restarting the input's timeout clock after each.
    /// struct Enrich;
    /// impl BasicBolt for Enrich {
    ///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
    ///         out.declare(Fields::new(["item"]));
    ///     }
    ///     fn execute(&mut self, input: &Tuple, out: &mut BasicCollector<'_, '_>) -> Result<(), ComponentError> {
    ///         for item in input.get_str("items")?.split(',') {
    ///             // ... a slow lookup of `item` ...
    ///             out.reset_timeout();
    ///             out.emit(values![item])?;
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// # struct Source(&'static str);
    /// # impl Spout for Source {
    /// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
    /// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
    /// # }
    /// let mut b = TopologyBuilder::new();
    /// b.set_spout("batches", || Source("items"), 1);
    /// b.set_basic_bolt("enrich", || Enrich, 2).shuffle_grouping("batches");
    /// assert!(b.build().is_ok());
    /// ```
    pub fn reset_timeout(&mut self) {
        self.inner.reset_timeout(self.input)
    }

    /// Records an error against this component.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// /// Reports a suspicious value but still passes it on (the input is acked).
    /// struct Check;
    /// impl BasicBolt for Check {
    ///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
    ///         out.declare(Fields::new(["temp"]));
    ///     }
    ///     fn execute(&mut self, input: &Tuple, out: &mut BasicCollector<'_, '_>) -> Result<(), ComponentError> {
    ///         let temp = input.get_f64("temp")?;
    ///         if temp > 100.0 {
    ///             out.report_error(&format_args!("implausible temperature {temp}"));
    ///         }
    ///         out.emit(values![temp])?;
    ///         Ok(())
    ///     }
    /// }
    /// # struct Source(&'static str);
    /// # impl Spout for Source {
    /// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
    /// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
    /// # }
    /// let mut b = TopologyBuilder::new();
    /// b.set_spout("sensor", || Source("temp"), 1);
    /// b.set_basic_bolt("check", || Check, 1).shuffle_grouping("sensor");
    /// assert!(b.build().is_ok());
    /// ```
    pub fn report_error(&mut self, error: &dyn fmt::Display) {
        self.inner.report_error(error)
    }
}

/// Resolves an optional stream name against the default.
///
/// # Examples
/// ```
/// use squall_topology_api::stream_or_default;
/// assert_eq!(stream_or_default(None), "default");
/// assert_eq!(stream_or_default(Some("errors")), "errors");
/// ```
#[doc(hidden)]
pub fn stream_or_default(stream: Option<&str>) -> &str {
    stream.unwrap_or(DEFAULT_STREAM_ID)
}
