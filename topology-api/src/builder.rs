//! Wiring spouts and bolts into a topology (Storm's `TopologyBuilder`).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::spec::{ComponentFactory, GroupingFactory, SubscriptionKey};
use crate::{
    BasicBolt, BasicBoltAdapter, Bolt, ComponentKind, ComponentSpec, Config, ConfigValue,
    CustomGrouping, DEFAULT_STREAM_ID, Fields, Grouping, InputSpec, InvalidTopology,
    OutputDeclarer, Spout, Topology, TopologySpec, config,
};

/// A stream to subscribe to: `"component"` is its `default` stream, `("component", "stream")`
/// a named one.
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
}

impl TopologyBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a spout with `parallelism` executors (and as many tasks, unless set).
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
    pub fn build(self) -> Result<Topology, InvalidTopology> {
        Topology::new(
            TopologySpec {
                components: self.components,
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
        pub fn num_tasks(&mut self, tasks: u32) -> &mut Self {
            let c = &mut self.builder.components[self.index];
            c.tasks = tasks;
            self.builder.explicit_tasks[self.index] = true;
            self
        }

        /// Sets a configuration key for this component only. Of Storm's `topology.*` keys only
        /// the per-component ones apply (for example `topology.max.spout.pending`).
        pub fn config(&mut self, key: &str, value: impl Into<ConfigValue>) -> &mut Self {
            let mut one = Config::new();
            one.set(key, value);
            let c = &mut self.builder.components[self.index];
            c.config = c.config.merged(&one.component_overrides());
            self
        }

        /// Sends this component's tasks a tick tuple every `secs` seconds.
        pub fn tick_tuple_freq_secs(&mut self, secs: u64) -> &mut Self {
            self.config(config::TOPOLOGY_TICK_TUPLE_FREQ_SECS, secs)
        }
    };
}

/// Configures a spout added with [`TopologyBuilder::set_spout`].
pub struct SpoutDeclarer<'a> {
    builder: &'a mut TopologyBuilder,
    index: usize,
}

impl SpoutDeclarer<'_> {
    common_declarer_methods!();

    /// Bounds this spout's trees in flight per task (`topology.max.spout.pending`).
    pub fn max_spout_pending(&mut self, n: u64) -> &mut Self {
        self.config(config::TOPOLOGY_MAX_SPOUT_PENDING, n)
    }
}

/// Configures a bolt added with [`TopologyBuilder::set_bolt`] and subscribes it to streams.
pub struct BoltDeclarer<'a> {
    builder: &'a mut TopologyBuilder,
    index: usize,
}

impl BoltDeclarer<'_> {
    common_declarer_methods!();

    /// Subscribes to a stream with any grouping.
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
    pub fn shuffle_grouping(&mut self, source: impl Into<StreamSource>) -> &mut Self {
        self.grouping(source, Grouping::Shuffle)
    }

    /// Tuples with equal values in `fields` go to the same task.
    pub fn fields_grouping(
        &mut self,
        source: impl Into<StreamSource>,
        fields: impl Into<Fields>,
    ) -> &mut Self {
        self.grouping(source, Grouping::Fields(fields.into()))
    }

    /// Every task gets every tuple.
    pub fn all_grouping(&mut self, source: impl Into<StreamSource>) -> &mut Self {
        self.grouping(source, Grouping::All)
    }

    /// Every tuple goes to the task with the lowest id.
    pub fn global_grouping(&mut self, source: impl Into<StreamSource>) -> &mut Self {
        self.grouping(source, Grouping::Global)
    }

    /// Any task will do (currently random).
    pub fn none_grouping(&mut self, source: impl Into<StreamSource>) -> &mut Self {
        self.grouping(source, Grouping::None)
    }

    /// The emitter chooses the task with `emit_direct`; the stream must be declared direct.
    pub fn direct_grouping(&mut self, source: impl Into<StreamSource>) -> &mut Self {
        self.grouping(source, Grouping::Direct)
    }

    /// Tasks in the emitter's worker process when there are any, else shuffle.
    pub fn local_or_shuffle_grouping(&mut self, source: impl Into<StreamSource>) -> &mut Self {
        self.grouping(source, Grouping::LocalOrShuffle)
    }

    /// Each key goes to the less loaded of two tasks chosen by the key.
    pub fn partial_key_grouping(
        &mut self,
        source: impl Into<StreamSource>,
        fields: impl Into<Fields>,
    ) -> &mut Self {
        self.grouping(source, Grouping::PartialKey(fields.into()))
    }

    /// A user grouping; `factory` creates one instance per emitting executor.
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
