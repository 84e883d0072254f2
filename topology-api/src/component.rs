//! The traits topology code implements: [`Spout`], [`Bolt`] and [`BasicBolt`].
//!
//! The callbacks of one task never run at the same time (its executor runs them one after the
//! other, on one pool thread at a time), so components need no locks.

use crate::collector::{BasicCollector, BoltCollector, SpoutCollector};
use crate::{ComponentError, Config, Fields, MessageId, TopologyContext, Tuple};

/// A source of tuples (Storm's `IRichSpout`).
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// /// Emits the numbers 0..n, each tracked, re-emitting any that fail.
/// struct Numbers { next: u64, n: u64, failed: Vec<u64> }
/// impl Spout for Numbers {
///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
///         out.declare(Fields::new(["n"]));
///     }
///     fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
///         let id = match self.failed.pop() {
///             Some(id) => id,
///             None if self.next < self.n => { self.next += 1; self.next - 1 }
///             None => return Ok(()),
///         };
///         out.emit_with_id(values![id as i64], id)?;
///         Ok(())
///     }
///     fn fail(&mut self, id: MessageId) { self.failed.push(id); }
/// }
/// ```
pub trait Spout: Send + 'static {
    /// Declares the streams this spout emits on.
    fn declare_outputs(&self, declarer: &mut OutputDeclarer);

    /// Called once per task before anything else, when the topology first becomes active.
    ///
    /// # Errors
    /// An error is reported as the component's error; the task still runs.
    fn open(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        let _ = context;
        Ok(())
    }

    /// Emits zero or more tuples. Called in a loop while the topology is active and fewer than
    /// `topology.max.spout.pending` trees are in flight; must not block.
    ///
    /// # Errors
    /// An error (or a panic) is counted and kept as the component's last error; the loop goes on.
    fn next_tuple(&mut self, collector: &mut SpoutCollector<'_>) -> Result<(), ComponentError>;

    /// The tree of the tuple emitted with this message id completed.
    fn ack(&mut self, msg_id: MessageId) {
        let _ = msg_id;
    }

    /// The tree of the tuple emitted with this message id failed or timed out. Replaying is the
    /// spout's decision: emit it again to get at-least-once delivery.
    fn fail(&mut self, msg_id: MessageId) {
        let _ = msg_id;
    }

    /// Called with a tuple sent to this spout. Only the runtime sends spouts tuples: in a
    /// topology with stateful bolts each spout receives the checkpoints (stream
    /// [`$checkpoint`](crate::state::CHECKPOINT_STREAM_ID)), which an exactly-once
    /// [`ReplayableSpout`](crate::state::ReplayableSpout) acts on. The default acks the tuple.
    ///
    /// # Errors
    /// Reported against the component.
    fn receive(
        &mut self,
        input: Tuple,
        collector: &mut BoltCollector<'_>,
    ) -> Result<(), ComponentError> {
        collector.ack(&input);
        Ok(())
    }

    /// The topology was activated (also called after `open`).
    fn activate(&mut self) {}

    /// The topology was deactivated: `next_tuple` stops being called, acks keep arriving.
    fn deactivate(&mut self) {}

    /// The topology is shutting down (best effort outside local mode).
    fn close(&mut self) {}

    /// How often [`housekeep`](Spout::housekeep) runs, read once after `open`; `None` (the
    /// default): never. For work
    /// that must not wait for `next_tuple`, which stops being called while
    /// `topology.max.spout.pending` trees are in flight or the topology is deactivated:
    /// committing what completed, or noticing that the source went away (a spout whose
    /// trees are all stuck behind an unreachable broker is never asked for more, so it would
    /// otherwise never find out).
    fn housekeeping_interval(&self) -> Option<std::time::Duration> {
        None
    }

    /// Called every [`housekeeping_interval`](Spout::housekeeping_interval) once the spout is
    /// open, whether `next_tuple` is being called or not; it cannot emit, and like
    /// `next_tuple` it should not block for long (acks wait meanwhile).
    ///
    /// # Errors
    /// An error is reported as the component's error; the spout goes on.
    fn housekeep(&mut self) -> Result<(), ComponentError> {
        Ok(())
    }

    /// This component's own configuration (Storm's `getComponentConfiguration`).
    fn component_config(&self) -> Config {
        Config::new()
    }

    /// Whether this spout has emitted all it ever will. The testing kit uses it to know when a
    /// run is complete (Storm's `CompletableSpout`); an endless spout keeps the default `false`.
    fn is_exhausted(&self) -> bool {
        false
    }
}

/// A processing step (Storm's `IRichBolt`): it acks or fails every input itself.
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// /// Splits sentences into words, anchored to the sentence.
/// struct Split;
/// impl Bolt for Split {
///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
///         out.declare(Fields::new(["word"]));
///     }
///     fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
///         for word in input.get_str(0)?.split(' ') {
///             out.emit(&[&input], values![word])?;
///         }
///         out.ack(&input);
///         Ok(())
///     }
/// }
/// ```
pub trait Bolt: Send + 'static {
    /// Declares the streams this bolt emits on; a sink declares none.
    fn declare_outputs(&self, declarer: &mut OutputDeclarer) {
        let _ = declarer;
    }

    /// Called once per task before the first `execute`.
    ///
    /// # Errors
    /// An error is reported as the component's error; the task still runs.
    fn prepare(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        let _ = context;
        Ok(())
    }

    /// Processes one input. The bolt must ack or fail it, now or later.
    ///
    /// # Errors
    /// An error (or a panic) is counted, kept as the component's last error, and fails the input
    /// so that its tree is replayed; return it only if the input was not acked yet.
    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut BoltCollector<'_>,
    ) -> Result<(), ComponentError>;

    /// The topology is shutting down (best effort outside local mode).
    fn cleanup(&mut self) {}

    /// This component's own configuration (Storm's `getComponentConfiguration`).
    fn component_config(&self) -> Config {
        Config::new()
    }

    /// How often [`poll`](Bolt::poll) must run while no input arrives; `None` (the default):
    /// never. For a bolt with work of its own between inputs, such as a subprocess that emits
    /// and acks on its own time (Storm's `ShellBolt` runs a thread for that; here the
    /// executor calls `poll` on its thread, so the collector stays single-threaded).
    fn poll_interval(&self) -> Option<std::time::Duration> {
        None
    }

    /// Called after each batch of inputs and, while none arrive, every
    /// [`poll_interval`](Bolt::poll_interval): emit, ack or fail what has become ready.
    ///
    /// # Errors
    /// An error is reported as the component's error; the bolt goes on.
    fn poll(&mut self, collector: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        let _ = collector;
        Ok(())
    }
}

/// A bolt whose emits are anchored to the input and whose input is acked when `execute`
/// returns `Ok` and failed when it returns `Err` (Storm's `IBasicBolt`).
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// use std::collections::HashMap;
/// #[derive(Default)]
/// struct Count(HashMap<String, i64>);
/// impl BasicBolt for Count {
///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
///         out.declare(Fields::new(["word", "count"]));
///     }
///     fn execute(&mut self, input: &Tuple, out: &mut BasicCollector<'_, '_>) -> Result<(), ComponentError> {
///         let word = input.get_str("word")?;
///         let n = self.0.entry(word.to_owned()).or_default();
///         *n += 1;
///         out.emit(values![word, *n])?;
///         Ok(())
///     }
/// }
/// ```
pub trait BasicBolt: Send + 'static {
    /// Declares the streams this bolt emits on.
    fn declare_outputs(&self, declarer: &mut OutputDeclarer) {
        let _ = declarer;
    }

    /// Called once per task before the first `execute`.
    ///
    /// # Errors
    /// An error is reported as the component's error; the task still runs.
    fn prepare(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        let _ = context;
        Ok(())
    }

    /// Processes one input; its emits are anchored to it.
    ///
    /// # Errors
    /// An error fails the input (its tree is replayed) and is reported.
    fn execute(
        &mut self,
        input: &Tuple,
        collector: &mut BasicCollector<'_, '_>,
    ) -> Result<(), ComponentError>;

    /// The topology is shutting down.
    fn cleanup(&mut self) {}

    /// This component's own configuration.
    fn component_config(&self) -> Config {
        Config::new()
    }
}

/// Runs a [`BasicBolt`] as a [`Bolt`]: anchors its emits, acks on `Ok`, fails on `Err`.
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// # use std::fmt;
/// # #[derive(Default)]
/// # struct Recorder { emitted: Vec<(usize, Values)>, acked: usize, failed: usize, errors: Vec<String> }
/// # impl BoltOutput for Recorder {
/// #     fn emit(&mut self, _: Option<&str>, anchors: &[&Tuple], values: Values, _: Option<TaskId>) -> Result<&[TaskId], EmitError> {
/// #         self.emitted.push((anchors.len(), values));
/// #         Ok(&[])
/// #     }
/// #     fn ack(&mut self, _: &Tuple) { self.acked += 1; }
/// #     fn fail(&mut self, _: &Tuple) { self.failed += 1; }
/// #     fn reset_timeout(&mut self, _: &Tuple) {}
/// #     fn report_error(&mut self, e: &dyn fmt::Display) { self.errors.push(e.to_string()); }
/// # }
/// struct Double;
/// impl BasicBolt for Double {
///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
///         out.declare(Fields::new(["n"]));
///     }
///     fn execute(&mut self, input: &Tuple, out: &mut BasicCollector<'_, '_>) -> Result<(), ComponentError> {
///         out.emit(values![input.get_i64("n")? * 2])?;
///         Ok(())
///     }
/// }
/// // `TopologyBuilder::set_basic_bolt` wraps a basic bolt like this; the runtime sees a `Bolt`.
/// let mut bolt = BasicBoltAdapter(Double);
/// # let mut rec = Recorder::default();
/// # let mut out = BoltCollector::new(&mut rec);
/// let ok = Tuple::for_test("numbers", "default", Fields::new(["n"]), values![21]);
/// let bad = Tuple::for_test("numbers", "default", Fields::new(["n"]), values!["x"]);
/// bolt.execute(ok, &mut out).unwrap();
/// bolt.execute(bad, &mut out).unwrap(); // the error fails the input instead
/// # drop(out);
/// assert_eq!(rec.emitted, [(1, values![42])]); // anchored to its one input
/// assert_eq!((rec.acked, rec.failed), (1, 1));
/// assert_eq!(rec.errors, ["field n is string, not i64"]);
/// ```
pub struct BasicBoltAdapter<B>(pub B);

impl<B: BasicBolt> Bolt for BasicBoltAdapter<B> {
    fn declare_outputs(&self, declarer: &mut OutputDeclarer) {
        self.0.declare_outputs(declarer);
    }

    fn prepare(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        self.0.prepare(context)
    }

    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut BoltCollector<'_>,
    ) -> Result<(), ComponentError> {
        let result = self
            .0
            .execute(&input, &mut BasicCollector::new(collector, &input));
        match result {
            Ok(()) => collector.ack(&input),
            Err(e) => {
                // Failed here, not by the runtime, so the input is failed exactly once.
                collector.fail(&input);
                collector.report_error(&e);
            }
        }
        Ok(())
    }

    fn cleanup(&mut self) {
        self.0.cleanup();
    }

    fn component_config(&self) -> Config {
        self.0.component_config()
    }
}

/// One declared output stream.
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// let mut out = OutputDeclarer::default();
/// out.declare(Fields::new(["word"]));
/// out.declare_direct_stream("control", Fields::new(["command"]));
/// let streams: Vec<StreamDeclaration> = out.into_streams();
/// assert_eq!(streams[0], StreamDeclaration { id: "default".into(), fields: Fields::new(["word"]), direct: false });
/// assert!(streams[1].direct);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StreamDeclaration {
    /// The stream id.
    pub id: String,
    /// Its fields.
    pub fields: Fields,
    /// Whether it is a direct stream (consumed with direct grouping, emitted with `emit_direct`).
    pub direct: bool,
}

/// Collects a component's output streams (Storm's `OutputFieldsDeclarer`).
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// struct Parse;
/// impl Bolt for Parse {
///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
///         out.declare(Fields::new(["user", "amount"]))
///             .declare_stream("errors", Fields::new(["line", "reason"]));
///     }
///     fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
///         out.ack(&input);
///         Ok(())
///     }
/// }
/// let mut declarer = OutputDeclarer::default();
/// Parse.declare_outputs(&mut declarer);
/// let ids: Vec<String> = declarer.into_streams().into_iter().map(|s| s.id).collect();
/// assert_eq!(ids, ["default", "errors"]);
/// ```
#[derive(Debug, Default)]
pub struct OutputDeclarer {
    streams: Vec<StreamDeclaration>,
}

impl OutputDeclarer {
    /// Declares the `default` stream.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// let mut out = OutputDeclarer::default();
    /// out.declare(Fields::new(["word", "count"]));
    /// let streams = out.into_streams();
    /// assert_eq!(streams[0].id, DEFAULT_STREAM_ID);
    /// assert_eq!(streams[0].fields, Fields::new(["word", "count"]));
    /// ```
    pub fn declare(&mut self, fields: Fields) -> &mut Self {
        self.declare_stream(crate::DEFAULT_STREAM_ID, fields)
    }

    /// Declares a named stream.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// let mut out = OutputDeclarer::default();
    /// out.declare_stream("errors", Fields::new(["line", "reason"]));
    /// let streams = out.into_streams();
    /// assert_eq!(streams[0].id, "errors");
    /// assert!(!streams[0].direct);
    /// ```
    pub fn declare_stream(&mut self, id: impl Into<String>, fields: Fields) -> &mut Self {
        self.push(id.into(), fields, false)
    }

    /// Declares a named direct stream.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// let mut out = OutputDeclarer::default();
    /// out.declare_direct_stream("jobs", Fields::new(["job"]));
    /// let streams = out.into_streams();
    /// assert_eq!(streams[0].id, "jobs");
    /// assert!(streams[0].direct); // consumed with `direct_grouping`, emitted with `emit_direct`
    /// ```
    pub fn declare_direct_stream(&mut self, id: impl Into<String>, fields: Fields) -> &mut Self {
        self.push(id.into(), fields, true)
    }

    fn push(&mut self, id: String, fields: Fields, direct: bool) -> &mut Self {
        self.streams.push(StreamDeclaration { id, fields, direct });
        self
    }

    /// The streams declared so far, in declaration order.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// let mut out = OutputDeclarer::default();
    /// out.declare(Fields::new(["word"])).declare_stream("errors", Fields::new(["line"]));
    /// let streams = out.into_streams();
    /// assert_eq!(streams.len(), 2);
    /// assert_eq!((streams[0].id.as_str(), streams[1].id.as_str()), ("default", "errors"));
    /// ```
    pub fn into_streams(self) -> Vec<StreamDeclaration> {
        self.streams
    }
}
