//! The topology as data: what `squall submit` sends to Nimbus and what validation checks.
//!
//! A [`TopologySpec`] is serializable and holds no code; a [`Topology`] pairs it with the
//! factories that create each task's spout or bolt and each custom grouping.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::validate::{InvalidTopology, validate};
use crate::{Bolt, Config, CustomGrouping, Grouping, Spout, StreamDeclaration};

/// Whether a component is a spout or a bolt.
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
/// # let mut b = TopologyBuilder::new();
/// # b.set_spout("words", || Source("word"), 1);
/// # b.set_bolt("count", || Sink, 2).fields_grouping("words", ["word"]);
/// # let topology = b.build().unwrap();
/// assert_eq!(topology.spec().component("words").unwrap().kind, ComponentKind::Spout);
/// assert_eq!(topology.spec().component("count").unwrap().kind, ComponentKind::Bolt);
/// assert_eq!(ComponentKind::Bolt.to_string(), "bolt");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentKind {
    /// A source of tuples.
    Spout,
    /// A processing step.
    Bolt,
}

impl fmt::Display for ComponentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ComponentKind::Spout => "spout",
            ComponentKind::Bolt => "bolt",
        })
    }
}

/// One subscription: a bolt consumes `stream` of `component` with `grouping`.
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
/// # let mut b = TopologyBuilder::new();
/// # b.set_spout("words", || Source("word"), 1);
/// # b.set_bolt("count", || Sink, 2).fields_grouping("words", ["word"]);
/// # let topology = b.build().unwrap();
/// let input: &InputSpec = &topology.spec().component("count").unwrap().inputs[0];
/// assert_eq!(input, &InputSpec {
///     component: "words".into(),
///     stream: "default".into(),
///     grouping: Grouping::Fields(Fields::new(["word"])),
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSpec {
    /// The emitting component.
    pub component: String,
    /// The stream consumed.
    pub stream: String,
    /// How the subscriber's tasks share it.
    pub grouping: Grouping,
}

/// One spout or bolt.
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
/// # let mut b = TopologyBuilder::new();
/// # b.set_spout("words", || Source("word"), 1);
/// # b.set_bolt("count", || Sink, 2).fields_grouping("words", ["word"]);
/// # let topology = b.build().unwrap();
/// let count: &ComponentSpec = topology.spec().component("count").unwrap();
/// assert_eq!(count.id, "count");
/// assert_eq!(count.kind, ComponentKind::Bolt);
/// assert_eq!((count.parallelism, count.tasks), (2, 2));
/// assert!(count.outputs.is_empty()); // a sink
/// assert_eq!(count.inputs[0].component, "words");
/// assert!(count.config.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentSpec {
    /// The component id.
    pub id: String,
    /// Spout or bolt.
    pub kind: ComponentKind,
    /// Executors (threads) to start with: Storm's parallelism hint.
    pub parallelism: u32,
    /// Tasks (instances), fixed for the topology's life.
    pub tasks: u32,
    /// Declared output streams.
    pub outputs: Vec<StreamDeclaration>,
    /// Subscriptions (bolts only).
    pub inputs: Vec<InputSpec>,
    /// The component's configuration overrides.
    pub config: Config,
}

/// A topology as data.
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
/// # let mut b = TopologyBuilder::new();
/// # b.set_spout("words", || Source("word"), 1);
/// # b.set_bolt("count", || Sink, 2).fields_grouping("words", ["word"]);
/// # let topology = b.build().unwrap();
/// let spec: &TopologySpec = topology.spec();
/// let ids: Vec<&str> = spec.components.iter().map(|c| c.id.as_str()).collect();
/// assert_eq!(ids, ["words", "count"]); // in the order they were added
/// assert!(spec.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TopologySpec {
    /// Components in the order they were added.
    pub components: Vec<ComponentSpec>,
    /// The directory of files its shell components run in (scripts, data), as the author named
    /// it: relative to where the binary runs. `squall submit` ships it with the binary unless
    /// `--resources DIR` names another; see [`TopologyBuilder::resources`](crate::TopologyBuilder::resources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<String>,
}

impl TopologySpec {
    /// A component by id.
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
    /// # let mut b = TopologyBuilder::new();
    /// # b.set_spout("words", || Source("word"), 1);
    /// # b.set_bolt("count", || Sink, 2).fields_grouping("words", ["word"]);
    /// # let topology = b.build().unwrap();
    /// let spec = topology.spec();
    /// assert_eq!(spec.component("count").map(|c| c.tasks), Some(2));
    /// assert!(spec.component("nope").is_none());
    /// ```
    pub fn component(&self, id: &str) -> Option<&ComponentSpec> {
        self.components.iter().find(|c| c.id == id)
    }

    /// Checks the topology; every problem found is named in the error.
    ///
    /// # Errors
    /// [`InvalidTopology`] listing cycles, unknown components or streams, undeclared grouping
    /// fields, zero parallelism, duplicate or reserved ids, and direct-grouping mismatches.
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
    /// # let mut b = TopologyBuilder::new();
    /// # b.set_spout("words", || Source("word"), 1);
    /// # b.set_bolt("count", || Sink, 2).fields_grouping("words", ["word"]);
    /// # let topology = b.build().unwrap();
    /// let mut spec = TopologySpec::clone(topology.spec());
    /// assert!(spec.validate().is_ok());
    ///
    /// // A spec edited by hand (or sent by a client) is checked the same way as a built one.
    /// spec.components[1].inputs[0].stream = "words".into();
    /// let err = spec.validate().unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     r#"invalid topology: component "count" subscribes to unknown stream "words" of component "words""#
    /// );
    /// ```
    pub fn validate(&self) -> Result<(), InvalidTopology> {
        validate(self)
    }
}

/// Creates one spout instance per task.
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// # struct Source(&'static str);
/// # impl Spout for Source {
/// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
/// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
/// # }
/// use std::sync::Arc;
/// let factory: SpoutFactory = Arc::new(|| -> Box<dyn Spout> { Box::new(Source("word")) });
/// // Called once per task:
/// let spout = factory();
/// let mut declared = OutputDeclarer::default();
/// spout.declare_outputs(&mut declared);
/// assert_eq!(declared.into_streams()[0].fields, Fields::new(["word"]));
/// ```
pub type SpoutFactory = Arc<dyn Fn() -> Box<dyn Spout> + Send + Sync>;
/// Creates one bolt instance per task.
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// # struct Sink;
/// # impl Bolt for Sink {
/// #     fn execute(&mut self, t: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> { out.ack(&t); Ok(()) }
/// # }
/// use std::sync::Arc;
/// let factory: BoltFactory = Arc::new(|| -> Box<dyn Bolt> { Box::new(Sink) });
/// let bolt = factory();
/// let mut declared = OutputDeclarer::default();
/// bolt.declare_outputs(&mut declared);
/// assert!(declared.into_streams().is_empty()); // a sink declares no streams
/// ```
pub type BoltFactory = Arc<dyn Fn() -> Box<dyn Bolt> + Send + Sync>;
/// Creates one custom grouping instance per emitting executor.
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// use std::sync::Arc;
/// /// Sends everything to the first task.
/// struct First(TaskId);
/// impl CustomGrouping for First {
///     fn prepare(&mut self, targets: &[TaskId]) { self.0 = targets[0]; }
///     fn choose_tasks(&mut self, _: TaskId, _: &[Value], out: &mut Vec<TaskId>) { out.push(self.0); }
/// }
/// let factory: GroupingFactory = Arc::new(|| -> Box<dyn CustomGrouping> { Box::new(First(0)) });
/// // One instance per emitting executor:
/// let mut grouping = factory();
/// grouping.prepare(&[4, 5, 6]);
/// let mut out = Vec::new();
/// grouping.choose_tasks(1, &[Value::from("x")], &mut out);
/// assert_eq!(out, [4]);
/// ```
pub type GroupingFactory = Arc<dyn Fn() -> Box<dyn CustomGrouping> + Send + Sync>;

/// How the runtime creates a component's task instances.
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
/// # let mut b = TopologyBuilder::new();
/// # b.set_spout("words", || Source("word"), 1);
/// # b.set_bolt("count", || Sink, 2).fields_grouping("words", ["word"]);
/// # let topology = b.build().unwrap();
/// // What the runtime does for each task of a component.
/// let mut declared = OutputDeclarer::default();
/// match topology.factory("words") {
///     Some(ComponentFactory::Spout(make)) => make().declare_outputs(&mut declared),
///     Some(ComponentFactory::Bolt(make)) => make().declare_outputs(&mut declared),
///     None => unreachable!(),
/// }
/// assert_eq!(declared.into_streams()[0].fields, Fields::new(["word"]));
/// ```
#[derive(Clone)]
pub enum ComponentFactory {
    /// A spout factory.
    Spout(SpoutFactory),
    /// A bolt factory.
    Bolt(BoltFactory),
}

/// Identifies one subscription: (subscriber, source component, stream).
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
/// # struct ToFirst;
/// # impl CustomGrouping for ToFirst {
/// #     fn prepare(&mut self, _: &[TaskId]) {}
/// #     fn choose_tasks(&mut self, _: TaskId, _: &[Value], _: &mut Vec<TaskId>) {}
/// # }
/// let mut b = TopologyBuilder::new();
/// b.set_spout("lines", || Source("line"), 1);
/// b.set_bolt("store", || Sink, 2).custom_grouping("lines", || ToFirst);
/// let topology = b.build().unwrap();
/// // (subscriber, source component, stream)
/// let key: SubscriptionKey = ("store".into(), "lines".into(), "default".into());
/// assert!(topology.grouping_factory(&key).is_some());
/// ```
pub type SubscriptionKey = (String, String, String);

/// A validated topology: its spec and the code that instantiates it.
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
/// let topology: Topology = b.build().unwrap();
/// assert_eq!(topology.spec().components.len(), 2);
/// assert!(matches!(topology.factory("count"), Some(ComponentFactory::Bolt(_))));
/// ```
#[derive(Clone)]
pub struct Topology {
    spec: Arc<TopologySpec>,
    factories: BTreeMap<String, ComponentFactory>,
    groupings: BTreeMap<SubscriptionKey, GroupingFactory>,
}

impl Topology {
    /// Pairs a spec with its factories, validating the spec.
    ///
    /// # Errors
    /// When the spec is invalid.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// # struct Source(&'static str);
    /// # impl Spout for Source {
    /// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
    /// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
    /// # }
    /// use std::collections::BTreeMap;
    /// use std::sync::Arc;
    /// let spec = TopologySpec {
    ///     resources: None,
    ///     components: vec![ComponentSpec {
    ///         id: "words".into(),
    ///         kind: ComponentKind::Spout,
    ///         parallelism: 1,
    ///         tasks: 1,
    ///         outputs: vec![StreamDeclaration { id: "default".into(), fields: Fields::new(["word"]), direct: false }],
    ///         inputs: vec![],
    ///         config: Config::new(),
    ///     }],
    /// };
    /// let mut factories = BTreeMap::new();
    /// factories.insert(
    ///     "words".to_owned(),
    ///     ComponentFactory::Spout(Arc::new(|| -> Box<dyn Spout> { Box::new(Source("word")) })),
    /// );
    /// let topology = Topology::new(spec.clone(), factories.clone(), BTreeMap::new()).unwrap();
    /// assert_eq!(topology.spec().components[0].id, "words");
    ///
    /// let mut zero = spec;
    /// zero.components[0].parallelism = 0;
    /// assert!(Topology::new(zero, factories, BTreeMap::new()).is_err());
    /// ```
    pub fn new(
        spec: TopologySpec,
        factories: BTreeMap<String, ComponentFactory>,
        groupings: BTreeMap<SubscriptionKey, GroupingFactory>,
    ) -> Result<Self, InvalidTopology> {
        spec.validate()?;
        Ok(Topology {
            spec: Arc::new(spec),
            factories,
            groupings,
        })
    }

    /// The topology as data.
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
    /// # let mut b = TopologyBuilder::new();
    /// # b.set_spout("words", || Source("word"), 1);
    /// # b.set_bolt("count", || Sink, 2).fields_grouping("words", ["word"]);
    /// # let topology = b.build().unwrap();
    /// let spec = topology.spec();
    /// assert_eq!(spec.component("count").unwrap().tasks, 2);
    /// // Shared, not copied: the runtime hands the same `Arc` to every task's context.
    /// let shared = std::sync::Arc::clone(spec);
    /// assert_eq!(&*shared, &**spec);
    /// ```
    pub fn spec(&self) -> &Arc<TopologySpec> {
        &self.spec
    }

    /// The factory of a component.
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
    /// # let mut b = TopologyBuilder::new();
    /// # b.set_spout("words", || Source("word"), 1);
    /// # b.set_bolt("count", || Sink, 2).fields_grouping("words", ["word"]);
    /// # let topology = b.build().unwrap();
    /// assert!(matches!(topology.factory("words"), Some(ComponentFactory::Spout(_))));
    /// assert!(matches!(topology.factory("count"), Some(ComponentFactory::Bolt(_))));
    /// assert!(topology.factory("nope").is_none());
    /// ```
    pub fn factory(&self, component: &str) -> Option<&ComponentFactory> {
        self.factories.get(component)
    }

    /// The factory of a custom grouping, by (subscriber, source, stream).
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
    /// # struct ToFirst;
    /// # impl CustomGrouping for ToFirst {
    /// #     fn prepare(&mut self, _: &[TaskId]) {}
    /// #     fn choose_tasks(&mut self, _: TaskId, _: &[Value], _: &mut Vec<TaskId>) {}
    /// # }
    /// let mut b = TopologyBuilder::new();
    /// b.set_spout("lines", || Source("line"), 1);
    /// b.set_bolt("store", || Sink, 2).custom_grouping("lines", || ToFirst);
    /// let topology = b.build().unwrap();
    /// let key = ("store".to_owned(), "lines".to_owned(), "default".to_owned());
    /// let make = topology.grouping_factory(&key).unwrap();
    /// let _one_per_executor: Box<dyn CustomGrouping> = make();
    /// let other = ("store".to_owned(), "lines".to_owned(), "errors".to_owned());
    /// assert!(topology.grouping_factory(&other).is_none());
    /// ```
    pub fn grouping_factory(&self, key: &SubscriptionKey) -> Option<&GroupingFactory> {
        self.groupings.get(key)
    }

    /// This topology with a component's factory replaced, keeping its spec. The testing kit uses
    /// it to feed mocked data through a topology's own wiring.
    ///
    /// # Errors
    /// When there is no such component or the kinds differ.
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
    /// # let mut b = TopologyBuilder::new();
    /// # b.set_spout("words", || Source("word"), 1);
    /// # b.set_bolt("count", || Sink, 2).fields_grouping("words", ["word"]);
    /// # let topology = b.build().unwrap();
    /// use std::sync::Arc;
    /// /// Stands in for `words` in a test: emits a fixed list of words.
    /// struct Fixed(Vec<&'static str>);
    /// impl Spout for Fixed {
    ///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
    ///         out.declare(Fields::new(["word"]));
    ///     }
    ///     fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
    ///         if let Some(w) = self.0.pop() {
    ///             out.emit(values![w])?;
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// let mocked = topology
    ///     .clone()
    ///     .with_factory("words", ComponentFactory::Spout(Arc::new(|| -> Box<dyn Spout> {
    ///         Box::new(Fixed(vec!["a", "b"]))
    ///     })))
    ///     .unwrap();
    /// assert_eq!(mocked.spec(), topology.spec()); // same wiring
    ///
    /// // A bolt cannot stand in for a spout.
    /// let err = topology
    ///     .with_factory("words", ComponentFactory::Bolt(Arc::new(|| -> Box<dyn Bolt> { Box::new(Sink) })))
    ///     .unwrap_err();
    /// assert_eq!(err.problems(), [TopologyProblem::FactoryMismatch("words".into())]);
    /// ```
    pub fn with_factory(
        mut self,
        component: &str,
        factory: ComponentFactory,
    ) -> Result<Self, InvalidTopology> {
        let same_kind = matches!(
            (self.factories.get(component), &factory),
            (Some(ComponentFactory::Spout(_)), ComponentFactory::Spout(_))
                | (Some(ComponentFactory::Bolt(_)), ComponentFactory::Bolt(_))
        );
        if !same_kind {
            return Err(InvalidTopology::single(
                crate::TopologyProblem::FactoryMismatch(component.to_owned()),
            ));
        }
        self.factories.insert(component.to_owned(), factory);
        Ok(self)
    }
}

impl fmt::Debug for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Topology")
            .field("spec", &self.spec)
            .finish()
    }
}
