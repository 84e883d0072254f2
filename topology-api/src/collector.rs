//! Output collectors: how spouts and bolts emit, ack and fail.
//!
//! The collectors are thin, concrete wrappers over a runtime-provided [`SpoutOutput`] or
//! [`BoltOutput`], so topology code depends on no runtime types, and the runtime can route,
//! track and batch however it likes behind them.

use std::fmt;

use crate::{DEFAULT_STREAM_ID, MessageId, TaskId, Tuple, Values};

/// Why an emit was refused. These are programming errors in the topology: the stream does not
/// match what the component declared.
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
pub struct SpoutCollector<'a> {
    out: &'a mut dyn SpoutOutput,
}

impl<'a> SpoutCollector<'a> {
    /// Wraps the runtime's output.
    #[doc(hidden)]
    pub fn new(out: &'a mut dyn SpoutOutput) -> Self {
        SpoutCollector { out }
    }

    /// Emits on the default stream without a message id: the tuple is not tracked, and the
    /// spout hears nothing back about it.
    ///
    /// # Errors
    /// When the spout did not declare the default stream, declared it direct, or declared
    /// another number of fields than `values` has ([`EmitError::WrongFieldCount`]).
    pub fn emit(&mut self, values: Values) -> Result<&[TaskId], EmitError> {
        self.out.emit(None, values, None, None)
    }

    /// Emits on the default stream with a message id: the tuple's tree is tracked and the spout
    /// gets `ack(msg_id)` or `fail(msg_id)`.
    ///
    /// # Errors
    /// As [`emit`](Self::emit).
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
    pub fn pending_count(&self) -> usize {
        self.out.pending_count()
    }

    /// Records an error against this component (shown as its last error).
    pub fn report_error(&mut self, error: &dyn fmt::Display) {
        self.out.report_error(error)
    }
}

/// Emits, acks and fails a bolt's tuples (Storm's `OutputCollector`).
///
/// Anchors are the input tuples the new tuple descends from: if it fails downstream, their
/// trees are failed and replayed. Pass `&[]` for an unanchored (untracked) emit.
pub struct BoltCollector<'a> {
    out: &'a mut dyn BoltOutput,
}

impl<'a> BoltCollector<'a> {
    /// Wraps the runtime's output.
    #[doc(hidden)]
    pub fn new(out: &'a mut dyn BoltOutput) -> Self {
        BoltCollector { out }
    }

    /// Emits on the default stream, anchored to `anchors`.
    ///
    /// # Errors
    /// When the bolt did not declare the default stream, declared it direct, or declared
    /// another number of fields than `values` has ([`EmitError::WrongFieldCount`]).
    pub fn emit(&mut self, anchors: &[&Tuple], values: Values) -> Result<&[TaskId], EmitError> {
        self.out.emit(None, anchors, values, None)
    }

    /// Emits on a named stream, anchored to `anchors`.
    ///
    /// # Errors
    /// When the stream is not declared, or is direct.
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
    pub fn ack(&mut self, input: &Tuple) {
        self.out.ack(input)
    }

    /// Fails an input: its trees fail at once and their spouts hear `fail`.
    pub fn fail(&mut self, input: &Tuple) {
        self.out.fail(input)
    }

    /// Restarts the `topology.message.timeout.secs` clock of the input's trees.
    pub fn reset_timeout(&mut self, input: &Tuple) {
        self.out.reset_timeout(input)
    }

    /// Records an error against this component (shown as its last error).
    pub fn report_error(&mut self, error: &dyn fmt::Display) {
        self.out.report_error(error)
    }
}

/// Emits a [`BasicBolt`](crate::BasicBolt)'s tuples, each anchored to the current input.
pub struct BasicCollector<'a, 'b> {
    inner: &'a mut BoltCollector<'b>,
    input: &'a Tuple,
}

impl<'a, 'b> BasicCollector<'a, 'b> {
    /// Anchors everything emitted through `inner` to `input`.
    pub fn new(inner: &'a mut BoltCollector<'b>, input: &'a Tuple) -> Self {
        BasicCollector { inner, input }
    }

    /// Emits on the default stream.
    ///
    /// # Errors
    /// When the bolt did not declare the default stream, or declared it direct.
    pub fn emit(&mut self, values: Values) -> Result<&[TaskId], EmitError> {
        self.inner.emit(&[self.input], values)
    }

    /// Emits on a named stream.
    ///
    /// # Errors
    /// When the stream is not declared, or is direct.
    pub fn emit_on(&mut self, stream: &str, values: Values) -> Result<&[TaskId], EmitError> {
        self.inner.emit_on(stream, &[self.input], values)
    }

    /// Emits to one task on a direct stream.
    ///
    /// # Errors
    /// When the stream is not declared direct.
    pub fn emit_direct(
        &mut self,
        task: TaskId,
        stream: &str,
        values: Values,
    ) -> Result<&[TaskId], EmitError> {
        self.inner.emit_direct(task, stream, &[self.input], values)
    }

    /// Restarts the timeout clock of the input's trees.
    pub fn reset_timeout(&mut self) {
        self.inner.reset_timeout(self.input)
    }

    /// Records an error against this component.
    pub fn report_error(&mut self, error: &dyn fmt::Display) {
        self.inner.report_error(error)
    }
}

/// Resolves an optional stream name against the default.
#[doc(hidden)]
pub fn stream_or_default(stream: Option<&str>) -> &str {
    stream.unwrap_or(DEFAULT_STREAM_ID)
}
