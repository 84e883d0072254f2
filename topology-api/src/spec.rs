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
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TopologySpec {
    /// Components in the order they were added.
    pub components: Vec<ComponentSpec>,
}

impl TopologySpec {
    /// A component by id.
    pub fn component(&self, id: &str) -> Option<&ComponentSpec> {
        self.components.iter().find(|c| c.id == id)
    }

    /// Checks the topology; every problem found is named in the error.
    ///
    /// # Errors
    /// [`InvalidTopology`] listing cycles, unknown components or streams, undeclared grouping
    /// fields, zero parallelism, duplicate or reserved ids, and direct-grouping mismatches.
    pub fn validate(&self) -> Result<(), InvalidTopology> {
        validate(self)
    }
}

/// Creates one spout instance per task.
pub type SpoutFactory = Arc<dyn Fn() -> Box<dyn Spout> + Send + Sync>;
/// Creates one bolt instance per task.
pub type BoltFactory = Arc<dyn Fn() -> Box<dyn Bolt> + Send + Sync>;
/// Creates one custom grouping instance per emitting executor.
pub type GroupingFactory = Arc<dyn Fn() -> Box<dyn CustomGrouping> + Send + Sync>;

/// How the runtime creates a component's task instances.
#[derive(Clone)]
pub enum ComponentFactory {
    /// A spout factory.
    Spout(SpoutFactory),
    /// A bolt factory.
    Bolt(BoltFactory),
}

/// Identifies one subscription: (subscriber, source component, stream).
pub type SubscriptionKey = (String, String, String);

/// A validated topology: its spec and the code that instantiates it.
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
    /// When the spec is invalid, or a component or custom grouping has no factory.
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
    pub fn spec(&self) -> &Arc<TopologySpec> {
        &self.spec
    }

    /// The factory of a component.
    pub fn factory(&self, component: &str) -> Option<&ComponentFactory> {
        self.factories.get(component)
    }

    /// The factory of a custom grouping, by (subscriber, source, stream).
    pub fn grouping_factory(&self, key: &SubscriptionKey) -> Option<&GroupingFactory> {
        self.groupings.get(key)
    }

    /// This topology with a component's factory replaced, keeping its spec. The testing kit uses
    /// it to feed mocked data through a topology's own wiring.
    ///
    /// # Errors
    /// When there is no such component or the kinds differ.
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
