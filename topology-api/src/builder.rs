//! Wiring spouts and bolts into a topology (Storm's `TopologyBuilder`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

use crate::spec::{ComponentFactory, GroupingFactory, SubscriptionKey};
use crate::state::{self, BackendFactory, Providers, SharedBackend, StateError, StatefulBolt};
use crate::{
    BasicBolt, BasicBoltAdapter, Bolt, ComponentKind, ComponentSpec, Config, ConfigValue,
    CustomGrouping, DEFAULT_STREAM_ID, Fields, Grouping, InputSpec, InvalidTopology,
    OutputDeclarer, Spout, Topology, TopologySpec, config,
};

/// A stream to subscribe to: `"component"` is its `default` stream, `("component", "stream")`
/// a named one.
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// # struct Source(&'static str);
/// # impl Spout for Source {
/// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
/// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
/// # }
/// # struct Sink;
/// # impl Bolt for Sink {
/// #     fn execute(&mut self, t: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> { out.ack(&t); Ok(()) }
/// # }
/// assert_eq!(StreamSource::from("split"), StreamSource { component: "split".into(), stream: "default".into() });
/// assert_eq!(StreamSource::from(("split", "errors")).stream, "errors");
///
/// // Every subscription method takes either form.
/// let mut b = TopologyBuilder::new();
/// b.set_spout("lines", || Source("line"), 1);
/// b.set_bolt("store", || Sink, 1).shuffle_grouping("lines");
/// b.set_bolt("audit", || Sink, 1).shuffle_grouping(("lines", DEFAULT_STREAM_ID));
/// assert!(b.build().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSource {
    /// The emitting component.
    pub component: String,
    /// The stream.
    pub stream: String,
}

impl From<&str> for StreamSource {
    fn from(component: &str) -> Self {
        (component, DEFAULT_STREAM_ID).into()
    }
}

impl From<(&str, &str)> for StreamSource {
    fn from((component, stream): (&str, &str)) -> Self {
        StreamSource {
            component: component.to_owned(),
            stream: stream.to_owned(),
        }
    }
}

/// Builds a [`Topology`].
///
/// Factories are called once per task to create its instance (and once here, to learn the
/// component's output streams and configuration).
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// struct Words;
/// impl Spout for Words {
///     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new(["word"])); }
///     fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
///         out.emit(values!["storm"])?;
///         Ok(())
///     }
/// }
/// struct Print;
/// impl Bolt for Print {
///     fn execute(&mut self, t: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
///         out.ack(&t);
///         Ok(())
///     }
/// }
/// let mut b = TopologyBuilder::new();
/// b.set_spout("words", || Words, 1);
/// b.set_bolt("print", || Print, 2).num_tasks(4).fields_grouping("words", ["word"]);
/// let topology = b.build().unwrap();
/// assert_eq!(topology.spec().component("print").unwrap().tasks, 4);
///
/// let mut bad = TopologyBuilder::new();
/// bad.set_spout("words", || Words, 1);
/// bad.set_bolt("print", || Print, 1).fields_grouping("words", ["nope"]);
/// let err = bad.build().unwrap_err();
/// assert!(err.to_string().contains(r#"undeclared field "nope""#));
/// ```
#[derive(Default)]
pub struct TopologyBuilder {
    components: Vec<ComponentSpec>,
    explicit_tasks: Vec<bool>,
    factories: BTreeMap<String, ComponentFactory>,
    groupings: BTreeMap<SubscriptionKey, GroupingFactory>,
    resources: Option<String>,
    /// The stateful bolts' ids: with any, `build` wires checkpoints in.
    stateful: BTreeSet<String>,
    /// State backends the topology can name, beyond the built-in ones.
    providers: Providers,
    /// The final backends, handed to stateful tasks once `build` has them all.
    built_providers: Arc<OnceLock<Providers>>,
}

impl TopologyBuilder {
    /// An empty builder.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
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
    /// b.set_spout("lines", || Source("line"), 1);
    /// b.set_bolt("store", || Sink, 2).shuffle_grouping("lines");
    /// let topology = b.build().unwrap();
    /// assert_eq!(topology.spec().components.len(), 2);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Names the directory of files the topology's shell components need (scripts, a
    /// requirements file, data), as Storm's `resources/` in a jar: in local mode they run with
    /// it as their working directory (a relative path is taken from where the binary runs);
    /// `squall submit` uploads it with the binary, and each supervisor unpacks it once and runs
    /// them there. `squall submit --resources DIR` ships another directory instead.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// # struct Source(&'static str);
    /// # impl Spout for Source {
    /// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
    /// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
    /// # }
    /// let mut b = TopologyBuilder::new();
    /// b.set_spout("lines", || Source("line"), 1);
    /// b.resources("multilang");
    /// let topology = b.build().unwrap();
    /// assert_eq!(topology.spec().resources.as_deref(), Some("multilang"));
    /// ```
    pub fn resources(&mut self, dir: impl Into<String>) -> &mut Self {
        self.resources = Some(dir.into());
        self
    }

    /// Adds a spout with `parallelism` executors (and as many tasks, unless set).
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// /// Emits 0, 1, 2, ... up to a limit given when the topology is built.
    /// struct Numbers { next: i64, limit: i64 }
    /// impl Spout for Numbers {
    ///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
    ///         out.declare(Fields::new(["n"]));
    ///     }
    ///     fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
    ///         if self.next < self.limit {
    ///             out.emit(values![self.next])?;
    ///             self.next += 1;
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// let limit = 1000;
    /// let mut b = TopologyBuilder::new();
    /// // The factory runs once per task, so each of the 2 tasks starts its own count.
    /// b.set_spout("numbers", move || Numbers { next: 0, limit }, 2);
    /// let topology = b.build().unwrap();
    /// let spout = topology.spec().component("numbers").unwrap();
    /// assert_eq!(spout.kind, ComponentKind::Spout);
    /// assert_eq!((spout.parallelism, spout.tasks), (2, 2));
    /// assert_eq!(spout.outputs[0].fields, Fields::new(["n"]));
    /// ```
    pub fn set_spout<S, F>(&mut self, id: &str, factory: F, parallelism: u32) -> SpoutDeclarer<'_>
    where
        S: Spout,
        F: Fn() -> S + Send + Sync + 'static,
    {
        let sample = factory();
        let mut outputs = OutputDeclarer::default();
        sample.declare_outputs(&mut outputs);
        let config = sample.component_config();
        let factory: Arc<dyn Fn() -> Box<dyn Spout> + Send + Sync> =
            Arc::new(move || Box::new(factory()));
        let index = self.push(
            id,
            ComponentKind::Spout,
            parallelism,
            outputs,
            config,
            ComponentFactory::Spout(factory),
        );
        SpoutDeclarer {
            builder: self,
            index,
        }
    }

    /// Adds a bolt with `parallelism` executors (and as many tasks, unless set).
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// # struct Source(&'static str);
    /// # impl Spout for Source {
    /// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
    /// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
    /// # }
    /// # struct Sink;
    /// # impl Bolt for Sink {
    /// #     fn execute(&mut self, t: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> { out.ack(&t); Ok(()) }
    /// # }
    /// /// Keeps a running count per word.
    /// #[derive(Default)]
    /// struct Count(std::collections::HashMap<String, i64>);
    /// impl Bolt for Count {
    ///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
    ///         out.declare(Fields::new(["word", "count"]));
    ///     }
    ///     fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
    ///         let word = input.get_str("word")?;
    ///         let n = self.0.entry(word.to_owned()).or_default();
    ///         *n += 1;
    ///         out.emit(&[&input], values![word, *n])?;
    ///         out.ack(&input);
    ///         Ok(())
    ///     }
    /// }
    /// let mut b = TopologyBuilder::new();
    /// b.set_spout("words", || Source("word"), 1);
    /// b.set_bolt("count", Count::default, 3).fields_grouping("words", ["word"]);
    /// let topology = b.build().unwrap();
    /// let count = topology.spec().component("count").unwrap();
    /// assert_eq!(count.kind, ComponentKind::Bolt);
    /// assert_eq!(count.tasks, 3);
    /// assert_eq!(count.inputs[0].component, "words");
    /// ```
    pub fn set_bolt<B, F>(&mut self, id: &str, factory: F, parallelism: u32) -> BoltDeclarer<'_>
    where
        B: Bolt,
        F: Fn() -> B + Send + Sync + 'static,
    {
        let sample = factory();
        let mut outputs = OutputDeclarer::default();
        sample.declare_outputs(&mut outputs);
        let config = sample.component_config();
        let factory: Arc<dyn Fn() -> Box<dyn Bolt> + Send + Sync> =
            Arc::new(move || Box::new(factory()));
        let index = self.push(
            id,
            ComponentKind::Bolt,
            parallelism,
            outputs,
            config,
            ComponentFactory::Bolt(factory),
        );
        BoltDeclarer {
            builder: self,
            index,
        }
    }

    /// Adds a [`BasicBolt`]: auto-anchored emits, acked on `Ok`, failed on `Err`.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// # struct Source(&'static str);
    /// # impl Spout for Source {
    /// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
    /// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
    /// # }
    /// # struct Sink;
    /// # impl Bolt for Sink {
    /// #     fn execute(&mut self, t: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> { out.ack(&t); Ok(()) }
    /// # }
    /// struct Lower;
    /// impl BasicBolt for Lower {
    ///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
    ///         out.declare(Fields::new(["word"]));
    ///     }
    ///     fn execute(&mut self, input: &Tuple, out: &mut BasicCollector<'_, '_>) -> Result<(), ComponentError> {
    ///         out.emit(values![input.get_str("word")?.to_lowercase()])?;
    ///         Ok(())
    ///     }
    /// }
    /// let mut b = TopologyBuilder::new();
    /// b.set_spout("words", || Source("word"), 1);
    /// b.set_basic_bolt("lower", || Lower, 2).shuffle_grouping("words");
    /// let topology = b.build().unwrap();
    /// assert_eq!(topology.spec().component("lower").unwrap().kind, ComponentKind::Bolt);
    /// ```
    pub fn set_basic_bolt<B, F>(
        &mut self,
        id: &str,
        factory: F,
        parallelism: u32,
    ) -> BoltDeclarer<'_>
    where
        B: BasicBolt,
        F: Fn() -> B + Send + Sync + 'static,
    {
        self.set_bolt(id, move || BasicBoltAdapter(factory()), parallelism)
    }

    /// Adds a [`StatefulBolt`]: a key/value state per task, checkpointed every
    /// `topology.state.checkpoint.interval.ms` and restored after a restart (Storm's
    /// `setBolt` with an `IStatefulBolt`). The first one makes `build` add the
    /// `$checkpointspout` spout and the `$checkpoint` streams; see [`state`](crate::state).
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// use squall_topology_api::state::{KeyValueState, StatefulBolt, CHECKPOINT_COMPONENT_ID};
    /// # struct Source(&'static str);
    /// # impl Spout for Source {
    /// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
    /// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
    /// # }
    /// struct Count;
    /// impl StatefulBolt for Count {
    ///     type Key = String;
    ///     type Value = u64;
    ///     fn execute(&mut self, input: &Tuple, state: &mut KeyValueState<String, u64>, _: &mut BasicCollector<'_, '_>)
    ///         -> Result<(), ComponentError> {
    ///         *state.entry(input.get_str("word")?.to_owned()).or_insert(0) += 1;
    ///         Ok(())
    ///     }
    /// }
    /// let mut b = TopologyBuilder::new();
    /// b.set_spout("words", || Source("word"), 1);
    /// b.set_stateful_bolt("count", || Count, 2).fields_grouping("words", ["word"]);
    /// let topology = b.build().unwrap();
    /// let count = topology.spec().component("count").unwrap();
    /// assert!(count.inputs.iter().any(|i| i.component == CHECKPOINT_COMPONENT_ID));
    /// assert_eq!(topology.spec().component(CHECKPOINT_COMPONENT_ID).unwrap().tasks, 1);
    /// ```
    pub fn set_stateful_bolt<B, F>(
        &mut self,
        id: &str,
        factory: F,
        parallelism: u32,
    ) -> BoltDeclarer<'_>
    where
        B: StatefulBolt,
        F: Fn() -> B + Send + Sync + 'static,
    {
        self.stateful.insert(id.to_owned());
        let providers = Arc::clone(&self.built_providers);
        self.set_bolt(
            id,
            move || {
                let providers = providers.get().cloned().unwrap_or_default();
                state::Stateful::new(factory(), providers)
            },
            parallelism,
        )
    }

    /// Adds a [`StatefulWindowedBolt`](crate::window::StatefulWindowedBolt): windows as `spec`
    /// describes, whose contents are checkpointed with the task's key/value state, so a
    /// restarted task finds its windows as the last commit left them (Storm's `setBolt` with an
    /// `IStatefulWindowedBolt` and `withPersistence()`). Its inputs are acked when the checkpoint
    /// holding them commits; it counts as a stateful bolt (it adds checkpoints).
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// use squall_topology_api::state::{KeyValueState, CHECKPOINT_COMPONENT_ID};
    /// use squall_topology_api::window::*;
    /// # struct Source;
    /// # impl Spout for Source {
    /// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new(["n"])); }
    /// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
    /// # }
    /// struct Windows;
    /// impl StatefulWindowedBolt for Windows {
    ///     type Key = String;
    ///     type Value = u64;
    ///     fn execute(&mut self, _: &TupleWindow<'_>, state: &mut KeyValueState<String, u64>, _: &mut WindowCollector<'_, '_>)
    ///         -> Result<(), ComponentError> {
    ///         *state.entry("windows".into()).or_insert(0) += 1;
    ///         Ok(())
    ///     }
    /// }
    /// let mut b = TopologyBuilder::new();
    /// b.set_spout("numbers", || Source, 1);
    /// b.set_stateful_windowed_bolt("windows", || Windows, WindowSpec::tumbling(Extent::count(10)), 2)
    ///     .shuffle_grouping("numbers");
    /// let topology = b.build().unwrap();
    /// let windows = topology.spec().component("windows").unwrap();
    /// assert_eq!(windows.config.get_u64(WINDOW_LENGTH_COUNT), Some(10));
    /// assert!(windows.inputs.iter().any(|i| i.component == CHECKPOINT_COMPONENT_ID));
    /// ```
    pub fn set_stateful_windowed_bolt<B, F>(
        &mut self,
        id: &str,
        factory: F,
        spec: crate::window::WindowSpec,
        parallelism: u32,
    ) -> BoltDeclarer<'_>
    where
        B: crate::window::StatefulWindowedBolt,
        F: Fn() -> B + Send + Sync + 'static,
    {
        self.stateful.insert(id.to_owned());
        let providers = Arc::clone(&self.built_providers);
        self.set_bolt(
            id,
            move || {
                let providers = providers.get().cloned().unwrap_or_default();
                let windowed = crate::window::StatefulWindowed::new(
                    factory(),
                    spec.clone(),
                    providers.clone(),
                );
                state::Stateful::of(windowed, providers)
            },
            parallelism,
        )
    }

    /// Adds a [`ReplayableSpout`](crate::state::ReplayableSpout): a spout whose position is
    /// recorded at every checkpoint, so that with `topology.state.guarantee` = `exactly_once`
    /// it is rewound with the state after a failure. In Storm's mode it runs as a plain spout.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// use squall_topology_api::state::ReplayableSpout;
    /// struct Numbers { next: i64 }
    /// impl ReplayableSpout for Numbers {
    ///     type Position = i64;
    ///     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new(["n"])); }
    ///     fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
    ///         out.emit_with_id(values![self.next], 0)?;
    ///         self.next += 1;
    ///         Ok(())
    ///     }
    ///     fn position(&self) -> i64 { self.next }
    ///     fn seek(&mut self, to: Option<&i64>) -> Result<(), ComponentError> {
    ///         self.next = to.copied().unwrap_or(0);
    ///         Ok(())
    ///     }
    /// }
    /// let mut b = TopologyBuilder::new();
    /// b.set_replayable_spout("numbers", || Numbers { next: 0 }, 2);
    /// assert!(b.build().is_ok());
    /// ```
    pub fn set_replayable_spout<S, F>(
        &mut self,
        id: &str,
        factory: F,
        parallelism: u32,
    ) -> SpoutDeclarer<'_>
    where
        S: state::ReplayableSpout,
        F: Fn() -> S + Send + Sync + 'static,
    {
        let providers = Arc::clone(&self.built_providers);
        let index = self
            .set_spout(
                id,
                move || {
                    let providers = providers.get().cloned().unwrap_or_default();
                    state::Replayable::new(factory(), providers)
                },
                parallelism,
            )
            .index;
        self.components[index]
            .config
            .set(state::REPLAYABLE_MARKER, true);
        SpoutDeclarer {
            builder: self,
            index,
        }
    }

    /// Adds a [`TwoPhaseSink`](crate::state::TwoPhaseSink): a sink whose writes become
    /// visible only when the checkpoint covering them commits, so with
    /// `topology.state.guarantee` = `exactly_once` the external system never shows a
    /// duplicate or an uncommitted result. Counts as a stateful bolt (it adds checkpoints).
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// use squall_topology_api::state::{TwoPhaseSink, CHECKPOINT_COMPONENT_ID};
    /// # struct Source(&'static str);
    /// # impl Spout for Source {
    /// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
    /// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
    /// # }
    /// struct Lines;
    /// impl TwoPhaseSink for Lines {
    ///     type Transaction = Vec<String>;
    ///     fn write(&mut self, t: &Tuple, txn: &mut Vec<String>) -> Result<(), ComponentError> {
    ///         txn.push(t.get_str("line")?.to_owned());
    ///         Ok(())
    ///     }
    ///     fn commit(&mut self, _txid: i64, _txn: &Vec<String>) -> Result<(), ComponentError> { Ok(()) }
    /// }
    /// let mut b = TopologyBuilder::new();
    /// b.set_spout("lines", || Source("line"), 1);
    /// b.set_two_phase_sink("out", || Lines, 1).shuffle_grouping("lines");
    /// assert!(b.build().unwrap().spec().component(CHECKPOINT_COMPONENT_ID).is_some());
    /// ```
    pub fn set_two_phase_sink<S, F>(
        &mut self,
        id: &str,
        factory: F,
        parallelism: u32,
    ) -> BoltDeclarer<'_>
    where
        S: state::TwoPhaseSink,
        F: Fn() -> S + Send + Sync + 'static,
    {
        self.stateful.insert(id.to_owned());
        let providers = Arc::clone(&self.built_providers);
        self.set_bolt(
            id,
            move || {
                let providers = providers.get().cloned().unwrap_or_default();
                state::TwoPhase::new(factory(), providers)
            },
            parallelism,
        )
    }

    /// Registers a state backend under `name`, for `topology.state.provider` to choose;
    /// `memory` (the default) and `disk` are built in. `make` receives
    /// `topology.state.provider.config` and runs once per stateful task.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// use squall_topology_api::state::{MemoryBackend, SharedBackend};
    /// use std::sync::Arc;
    /// let mut b = TopologyBuilder::new();
    /// let shared: SharedBackend = Arc::new(MemoryBackend::new());
    /// b.state_backend("mine", move |_config| Ok(Arc::clone(&shared)));
    /// ```
    pub fn state_backend<F>(&mut self, name: &str, make: F) -> &mut Self
    where
        F: Fn(&serde_json::Value) -> Result<SharedBackend, StateError> + Send + Sync + 'static,
    {
        let factory: BackendFactory = Arc::new(make);
        self.providers.register(name, factory);
        self
    }

    fn push(
        &mut self,
        id: &str,
        kind: ComponentKind,
        parallelism: u32,
        outputs: OutputDeclarer,
        config: Config,
        factory: ComponentFactory,
    ) -> usize {
        self.components.push(ComponentSpec {
            id: id.to_owned(),
            kind,
            parallelism,
            tasks: parallelism,
            outputs: outputs.into_streams(),
            inputs: Vec::new(),
            config: config.component_overrides(),
        });
        self.explicit_tasks.push(false);
        self.factories.insert(id.to_owned(), factory);
        self.components.len() - 1
    }

    /// Validates the wiring and returns the topology.
    ///
    /// # Errors
    /// [`InvalidTopology`] naming every problem found.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
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
    /// b.set_bolt("count", || Sink, 2).fields_grouping("words", ["word"]);
    /// let topology = b.build().unwrap();
    /// assert!(topology.factory("count").is_some());
    ///
    /// // Every problem is reported at once.
    /// let mut bad = TopologyBuilder::new();
    /// bad.set_spout("words", || Source("word"), 1);
    /// bad.set_bolt("count", || Sink, 1).shuffle_grouping("wrds").fields_grouping("words", ["user"]);
    /// let err = bad.build().unwrap_err();
    /// assert_eq!(err.problems().len(), 2);
    /// assert!(err.problems().contains(&TopologyProblem::UnknownComponent {
    ///     component: "count".into(),
    ///     upstream: "wrds".into(),
    /// }));
    /// ```
    pub fn build(mut self) -> Result<Topology, InvalidTopology> {
        if !self.stateful.is_empty() {
            state::wire_checkpoints(
                &mut self.components,
                &mut self.factories,
                &self.stateful,
                &self.providers,
            );
        }
        // Only the first build of a builder sets it; a builder is consumed by `build`.
        let _ = self.built_providers.set(self.providers.clone());
        Topology::new(
            TopologySpec {
                components: self.components,
                resources: self.resources,
            },
            self.factories,
            self.groupings,
        )
    }
}

/// Settings shared by spout and bolt declarers.
macro_rules! common_declarer_methods {
    () => {
        /// Sets the number of tasks (instances); fixed for the topology's life, while the
        /// executors running them can change on rebalance.
        ///
        /// # Examples
        /// ```
        /// use squall_topology_api::*;
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
        /// b.set_spout("words", || Source("word"), 1).num_tasks(2);
        /// // 8 instances on 2 executors now; a rebalance can spread them over up to 8 later.
        /// b.set_bolt("count", || Sink, 2).num_tasks(8).fields_grouping("words", ["word"]);
        /// let topology = b.build().unwrap();
        /// let count = topology.spec().component("count").unwrap();
        /// assert_eq!((count.parallelism, count.tasks), (2, 8));
        /// ```
        pub fn num_tasks(&mut self, tasks: u32) -> &mut Self {
            let c = &mut self.builder.components[self.index];
            c.tasks = tasks;
            self.builder.explicit_tasks[self.index] = true;
            self
        }

        /// Sets a configuration key for this component only. Of Storm's `topology.*` keys only
        /// the per-component ones apply (for example `topology.max.spout.pending`).
        ///
        /// # Examples
        /// ```
        /// use squall_topology_api::*;
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
        /// b.set_spout("words", || Source("word"), 1)
        ///     .config(config::TOPOLOGY_DEBUG, true);
        /// b.set_bolt("store", || Sink, 1)
        ///     .shuffle_grouping("words")
        ///     .config("store.batch.size", 50) // the bolt reads it from `context.config()`
        ///     .config(config::TOPOLOGY_WORKERS, 4); // not per component: dropped
        /// let topology = b.build().unwrap();
        /// let spec = topology.spec();
        /// assert_eq!(spec.component("words").unwrap().config.get_bool(config::TOPOLOGY_DEBUG), Some(true));
        /// let store = &spec.component("store").unwrap().config;
        /// assert_eq!(store.get_u64("store.batch.size"), Some(50));
        /// assert_eq!(store.get_u64(config::TOPOLOGY_WORKERS), None);
        /// ```
        pub fn config(&mut self, key: &str, value: impl Into<ConfigValue>) -> &mut Self {
            let mut one = Config::new();
            one.set(key, value);
            let c = &mut self.builder.components[self.index];
            c.config = c.config.merged(&one.component_overrides());
            self
        }

        /// Sends this component's tasks a tick tuple every `secs` seconds.
        ///
        /// # Examples
        /// ```
        /// use squall_topology_api::*;
        /// # struct Source(&'static str);
        /// # impl Spout for Source {
        /// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
        /// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
        /// # }
        /// # struct Sink;
        /// # impl Bolt for Sink {
        /// #     fn execute(&mut self, t: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> { out.ack(&t); Ok(()) }
        /// # }
        /// /// Flushes what it holds once a minute, on each tick.
        /// #[derive(Default)]
        /// struct Flush(Vec<Tuple>);
        /// impl Bolt for Flush {
        ///     fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        ///         if input.is_tick() {
        ///             for t in self.0.drain(..) {
        ///                 out.ack(&t);
        ///             }
        ///         } else {
        ///             self.0.push(input);
        ///         }
        ///         Ok(())
        ///     }
        /// }
        /// let mut b = TopologyBuilder::new();
        /// b.set_spout("events", || Source("event"), 1);
        /// b.set_bolt("flush", Flush::default, 1).shuffle_grouping("events").tick_tuple_freq_secs(60);
        /// let topology = b.build().unwrap();
        /// let conf = &topology.spec().component("flush").unwrap().config;
        /// assert_eq!(conf.get_u64(config::TOPOLOGY_TICK_TUPLE_FREQ_SECS), Some(60));
        /// ```
        pub fn tick_tuple_freq_secs(&mut self, secs: u64) -> &mut Self {
            self.config(config::TOPOLOGY_TICK_TUPLE_FREQ_SECS, secs)
        }
    };
}

/// Configures a spout added with [`TopologyBuilder::set_spout`].
///
/// # Examples
/// ```
/// use squall_topology_api::*;
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
/// let _: &mut SpoutDeclarer<'_> = b.set_spout("words", || Source("word"), 2)
///     .num_tasks(4)
///     .max_spout_pending(1000);
/// let topology = b.build().unwrap();
/// assert_eq!(topology.spec().component("words").unwrap().tasks, 4);
/// ```
pub struct SpoutDeclarer<'a> {
    builder: &'a mut TopologyBuilder,
    index: usize,
}

impl SpoutDeclarer<'_> {
    common_declarer_methods!();

    /// Bounds this spout's trees in flight per task (`topology.max.spout.pending`).
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
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
    /// b.set_spout("words", || Source("word"), 1).max_spout_pending(500);
    /// let topology = b.build().unwrap();
    /// let conf = &topology.spec().component("words").unwrap().config;
    /// assert_eq!(conf.get_u64(config::TOPOLOGY_MAX_SPOUT_PENDING), Some(500));
    /// ```
    pub fn max_spout_pending(&mut self, n: u64) -> &mut Self {
        self.config(config::TOPOLOGY_MAX_SPOUT_PENDING, n)
    }
}

/// Configures a bolt added with [`TopologyBuilder::set_bolt`] and subscribes it to streams.
///
/// # Examples
/// ```
/// use squall_topology_api::*;
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
/// b.set_spout("clicks", || Source("user"), 1);
/// b.set_spout("rules", || Source("rule"), 1);
/// let _: &mut BoltDeclarer<'_> = b.set_bolt("filter", || Sink, 4)
///     .num_tasks(8)
///     .fields_grouping("clicks", ["user"])
///     .all_grouping("rules");
/// let topology = b.build().unwrap();
/// assert_eq!(topology.spec().component("filter").unwrap().inputs.len(), 2);
/// ```
pub struct BoltDeclarer<'a> {
    builder: &'a mut TopologyBuilder,
    index: usize,
}

impl BoltDeclarer<'_> {
    common_declarer_methods!();

    /// Subscribes to a stream with any grouping.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
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
    /// b.set_spout("clicks", || Source("user"), 1);
    /// b.set_bolt("sessions", || Sink, 4).grouping("clicks", Grouping::PartialKey(Fields::new(["user"])));
    /// let topology = b.build().unwrap();
    /// let input = &topology.spec().component("sessions").unwrap().inputs[0];
    /// assert_eq!(input.grouping.name(), "partial_key");
    /// ```
    pub fn grouping(&mut self, source: impl Into<StreamSource>, grouping: Grouping) -> &mut Self {
        let source = source.into();
        self.builder.components[self.index].inputs.push(InputSpec {
            component: source.component,
            stream: source.stream,
            grouping,
        });
        self
    }

    /// Tuples spread evenly over this bolt's tasks.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
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
    /// b.set_spout("lines", || Source("line"), 1);
    /// b.set_bolt("parse", || Sink, 4).shuffle_grouping("lines");
    /// let topology = b.build().unwrap();
    /// assert_eq!(topology.spec().component("parse").unwrap().inputs[0].grouping, Grouping::Shuffle);
    /// ```
    pub fn shuffle_grouping(&mut self, source: impl Into<StreamSource>) -> &mut Self {
        self.grouping(source, Grouping::Shuffle)
    }

    /// Tuples with equal values in `fields` go to the same task.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
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
    /// // Each word is always counted by the same task.
    /// b.set_bolt("count", || Sink, 4).fields_grouping("words", ["word"]);
    /// let topology = b.build().unwrap();
    /// let grouping = &topology.spec().component("count").unwrap().inputs[0].grouping;
    /// assert_eq!(grouping, &Grouping::Fields(Fields::new(["word"])));
    ///
    /// // Fields the stream does not declare are refused when the topology is built.
    /// let mut bad = TopologyBuilder::new();
    /// bad.set_spout("words", || Source("word"), 1);
    /// bad.set_bolt("count", || Sink, 4).fields_grouping("words", ["user"]);
    /// assert!(bad.build().is_err());
    /// ```
    pub fn fields_grouping(
        &mut self,
        source: impl Into<StreamSource>,
        fields: impl Into<Fields>,
    ) -> &mut Self {
        self.grouping(source, Grouping::Fields(fields.into()))
    }

    /// Every task gets every tuple.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
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
    /// b.set_spout("events", || Source("event"), 1);
    /// b.set_spout("rules", || Source("rule"), 1);
    /// // Every filter task needs every rule; events are spread over them.
    /// b.set_bolt("filter", || Sink, 4).shuffle_grouping("events").all_grouping("rules");
    /// let topology = b.build().unwrap();
    /// assert_eq!(topology.spec().component("filter").unwrap().inputs[1].grouping, Grouping::All);
    /// ```
    pub fn all_grouping(&mut self, source: impl Into<StreamSource>) -> &mut Self {
        self.grouping(source, Grouping::All)
    }

    /// Every tuple goes to the task with the lowest id.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
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
    /// b.set_spout("counts", || Source("count"), 4);
    /// // One total: every tuple goes to a single task, whatever the parallelism.
    /// b.set_bolt("total", || Sink, 1).global_grouping("counts");
    /// let topology = b.build().unwrap();
    /// assert_eq!(topology.spec().component("total").unwrap().inputs[0].grouping, Grouping::Global);
    /// ```
    pub fn global_grouping(&mut self, source: impl Into<StreamSource>) -> &mut Self {
        self.grouping(source, Grouping::Global)
    }

    /// Any task will do (currently random).
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
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
    /// b.set_spout("lines", || Source("line"), 1);
    /// b.set_bolt("log", || Sink, 2).none_grouping("lines");
    /// let topology = b.build().unwrap();
    /// assert_eq!(topology.spec().component("log").unwrap().inputs[0].grouping, Grouping::None);
    /// ```
    pub fn none_grouping(&mut self, source: impl Into<StreamSource>) -> &mut Self {
        self.grouping(source, Grouping::None)
    }

    /// The emitter chooses the task with `emit_direct`; the stream must be declared direct.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// # struct Source(&'static str);
    /// # impl Spout for Source {
    /// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
    /// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
    /// # }
    /// # struct Sink;
    /// # impl Bolt for Sink {
    /// #     fn execute(&mut self, t: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> { out.ack(&t); Ok(()) }
    /// # }
    /// /// Emits jobs on a direct stream (each `emit_direct` names its task).
    /// struct Jobs;
    /// impl Spout for Jobs {
    ///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
    ///         out.declare_direct_stream("jobs", Fields::new(["job"]));
    ///     }
    ///     fn next_tuple(&mut self, _out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
    ///         Ok(())
    ///     }
    /// }
    /// let mut b = TopologyBuilder::new();
    /// b.set_spout("dispatch", || Jobs, 1);
    /// b.set_bolt("worker", || Sink, 3).direct_grouping(("dispatch", "jobs"));
    /// assert!(b.build().is_ok());
    ///
    /// // A direct grouping on a plain stream is refused.
    /// let mut bad = TopologyBuilder::new();
    /// bad.set_spout("lines", || Source("line"), 1);
    /// bad.set_bolt("worker", || Sink, 3).direct_grouping("lines");
    /// assert!(bad.build().is_err());
    /// ```
    pub fn direct_grouping(&mut self, source: impl Into<StreamSource>) -> &mut Self {
        self.grouping(source, Grouping::Direct)
    }

    /// Tasks in the emitter's worker process when there are any, else shuffle.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
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
    /// b.set_spout("lines", || Source("line"), 4);
    /// // Avoids the network when a `parse` task runs in the same worker as the emitting task.
    /// b.set_bolt("parse", || Sink, 4).local_or_shuffle_grouping("lines");
    /// let topology = b.build().unwrap();
    /// let grouping = &topology.spec().component("parse").unwrap().inputs[0].grouping;
    /// assert_eq!(grouping, &Grouping::LocalOrShuffle);
    /// ```
    pub fn local_or_shuffle_grouping(&mut self, source: impl Into<StreamSource>) -> &mut Self {
        self.grouping(source, Grouping::LocalOrShuffle)
    }

    /// Each key goes to the less loaded of two tasks chosen by the key.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
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
    /// b.set_spout("clicks", || Source("user"), 2);
    /// // A few very active users are spread over two tasks each instead of swamping one.
    /// b.set_bolt("per_user", || Sink, 8).partial_key_grouping("clicks", ["user"]);
    /// let topology = b.build().unwrap();
    /// let grouping = &topology.spec().component("per_user").unwrap().inputs[0].grouping;
    /// assert_eq!(grouping.key_fields(), Some(&Fields::new(["user"])));
    /// ```
    pub fn partial_key_grouping(
        &mut self,
        source: impl Into<StreamSource>,
        fields: impl Into<Fields>,
    ) -> &mut Self {
        self.grouping(source, Grouping::PartialKey(fields.into()))
    }

    /// A user grouping; `factory` creates one instance per emitting executor.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// # struct Source(&'static str);
    /// # impl Spout for Source {
    /// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
    /// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
    /// # }
    /// # struct Sink;
    /// # impl Bolt for Sink {
    /// #     fn execute(&mut self, t: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> { out.ack(&t); Ok(()) }
    /// # }
    /// /// Sends every tuple to the subscriber's last task.
    /// struct Last(TaskId);
    /// impl CustomGrouping for Last {
    ///     fn prepare(&mut self, targets: &[TaskId]) {
    ///         self.0 = *targets.last().unwrap();
    ///     }
    ///     fn choose_tasks(&mut self, _source: TaskId, _values: &[Value], out: &mut Vec<TaskId>) {
    ///         out.push(self.0);
    ///     }
    /// }
    /// let mut b = TopologyBuilder::new();
    /// b.set_spout("lines", || Source("line"), 1);
    /// b.set_bolt("store", || Sink, 3).custom_grouping("lines", || Last(0));
    /// let topology = b.build().unwrap();
    /// let input = &topology.spec().component("store").unwrap().inputs[0];
    /// assert_eq!(input.grouping, Grouping::Custom("Last".into()));
    /// let key = ("store".to_owned(), "lines".to_owned(), "default".to_owned());
    /// assert!(topology.grouping_factory(&key).is_some());
    /// ```
    pub fn custom_grouping<G, F>(
        &mut self,
        source: impl Into<StreamSource>,
        factory: F,
    ) -> &mut Self
    where
        G: CustomGrouping,
        F: Fn() -> G + Send + Sync + 'static,
    {
        let source = source.into();
        let key = (
            self.builder.components[self.index].id.clone(),
            source.component.clone(),
            source.stream.clone(),
        );
        let factory: GroupingFactory = Arc::new(move || Box::new(factory()));
        self.builder.groupings.insert(key, factory);
        let name = std::any::type_name::<G>()
            .rsplit("::")
            .next()
            .unwrap_or("custom")
            .to_owned();
        self.grouping(source, Grouping::Custom(name))
    }
}

#[cfg(test)]
mod tests;
