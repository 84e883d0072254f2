//! What a task knows about itself and its topology (Storm's `TopologyContext`).

use std::sync::Arc;

use crate::{Config, Fields, TaskId, TaskLayout, TopologySpec};

/// A task's view of the topology, given to `open` and `prepare`. Cheap to clone.
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// # use std::sync::Arc;
/// # let shared = Arc::new(SharedContext {
/// #     topology_id: "wordcount-1-1700000000".into(),
/// #     spec: Arc::default(),
/// #     layout: Arc::new(TaskLayout::new([("__acker", 1), ("count", 2), ("words", 1)])),
/// #     worker_tasks: vec![1, 2, 3, 4],
/// #     worker_port: Some(6700),
/// # });
/// # let mut conf = Config::new();
/// # conf.set("count.flush.secs", 5);
/// # let context = TopologyContext::new(shared, "count", 3, Arc::new(conf));
/// /// Flushes every `count.flush.secs`; only the first task also logs.
/// #[derive(Default)]
/// struct Flusher { every_secs: u64, logs: bool }
/// impl Bolt for Flusher {
///     fn prepare(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
///         self.every_secs = context.config().get_u64("count.flush.secs").unwrap_or(60);
///         self.logs = context.this_task_index() == 0;
///         Ok(())
///     }
///     fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
///         out.ack(&input);
///         Ok(())
///     }
/// }
/// // The runtime calls `prepare` with each task's context; here, that of `count`'s second task.
/// let mut bolt = Flusher::default();
/// bolt.prepare(&context).unwrap();
/// assert_eq!(bolt.every_secs, 5);
/// assert!(!bolt.logs);
/// ```
#[derive(Debug, Clone)]
pub struct TopologyContext {
    shared: Arc<SharedContext>,
    component: String,
    task: TaskId,
    config: Arc<Config>,
}

/// The part of a context that all tasks of a worker share.
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// use std::sync::Arc;
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
/// let spec = topology.spec().clone();
/// let conf = Config::new();
/// let shared = Arc::new(SharedContext {
///     topology_id: "wordcount-1-1700000000".into(),
///     layout: Arc::new(spec.layout(&conf)),
///     spec,
///     worker_tasks: vec![1, 2, 3, 4],
///     worker_port: None, // local mode
/// });
/// // One context per task, all sharing `shared`.
/// let conf = Arc::new(conf);
/// let first = TopologyContext::new(shared.clone(), "count", 2, conf.clone());
/// let second = TopologyContext::new(shared, "count", 3, conf);
/// assert_eq!((first.this_task_index(), second.this_task_index()), (0, 1));
/// ```
#[derive(Debug)]
pub struct SharedContext {
    /// The topology's id.
    pub topology_id: String,
    /// The topology as submitted.
    pub spec: Arc<TopologySpec>,
    /// The task numbering, system components included.
    pub layout: Arc<TaskLayout>,
    /// The tasks this worker process runs.
    pub worker_tasks: Vec<TaskId>,
    /// The worker's port, when running in a cluster.
    pub worker_port: Option<u16>,
}

impl TopologyContext {
    /// The context of one task; built by the runtime.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// # use std::sync::Arc;
    /// # let shared = Arc::new(SharedContext {
    /// #     topology_id: "wordcount-1-1700000000".into(),
    /// #     spec: Arc::default(),
    /// #     layout: Arc::new(TaskLayout::new([("__acker", 1), ("count", 2), ("words", 1)])),
    /// #     worker_tasks: vec![1, 2, 3, 4],
    /// #     worker_port: Some(6700),
    /// # });
    /// # let mut conf = Config::new();
    /// # conf.set("count.flush.secs", 5);
    /// // `shared`: the `Arc<SharedContext>` of a topology with spout `words` (task 4) and bolt `count`.
    /// let context = TopologyContext::new(shared, "words", 4, Arc::new(Config::new()));
    /// assert_eq!(context.this_component_id(), "words");
    /// assert_eq!(context.this_task_id(), 4);
    /// assert_eq!(context.this_task_index(), 0);
    /// ```
    #[doc(hidden)]
    pub fn new(
        shared: Arc<SharedContext>,
        component: &str,
        task: TaskId,
        config: Arc<Config>,
    ) -> Self {
        TopologyContext {
            shared,
            component: component.to_owned(),
            task,
            config,
        }
    }

    /// The topology's id.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// # use std::sync::Arc;
    /// # let shared = Arc::new(SharedContext {
    /// #     topology_id: "wordcount-1-1700000000".into(),
    /// #     spec: Arc::default(),
    /// #     layout: Arc::new(TaskLayout::new([("__acker", 1), ("count", 2), ("words", 1)])),
    /// #     worker_tasks: vec![1, 2, 3, 4],
    /// #     worker_port: Some(6700),
    /// # });
    /// # let mut conf = Config::new();
    /// # conf.set("count.flush.secs", 5);
    /// # let context = TopologyContext::new(shared, "count", 3, Arc::new(conf));
    /// // `context`: task 3, the second of the 2 tasks of bolt `count` (tasks: `__acker` 1, `count` 2-3, `words` 4).
    /// assert_eq!(context.topology_id(), "wordcount-1-1700000000");
    /// ```
    pub fn topology_id(&self) -> &str {
        &self.shared.topology_id
    }

    /// This task's id.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// # use std::sync::Arc;
    /// # let shared = Arc::new(SharedContext {
    /// #     topology_id: "wordcount-1-1700000000".into(),
    /// #     spec: Arc::default(),
    /// #     layout: Arc::new(TaskLayout::new([("__acker", 1), ("count", 2), ("words", 1)])),
    /// #     worker_tasks: vec![1, 2, 3, 4],
    /// #     worker_port: Some(6700),
    /// # });
    /// # let mut conf = Config::new();
    /// # conf.set("count.flush.secs", 5);
    /// # let context = TopologyContext::new(shared, "count", 3, Arc::new(conf));
    /// // `context`: task 3, the second of the 2 tasks of bolt `count` (tasks: `__acker` 1, `count` 2-3, `words` 4).
    /// assert_eq!(context.this_task_id(), 3);
    /// ```
    pub fn this_task_id(&self) -> TaskId {
        self.task
    }

    /// This task's position among its component's tasks (0-based): use it to partition work.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// # use std::sync::Arc;
    /// # let shared = Arc::new(SharedContext {
    /// #     topology_id: "wordcount-1-1700000000".into(),
    /// #     spec: Arc::default(),
    /// #     layout: Arc::new(TaskLayout::new([("__acker", 1), ("count", 2), ("words", 1)])),
    /// #     worker_tasks: vec![1, 2, 3, 4],
    /// #     worker_port: Some(6700),
    /// # });
    /// # let mut conf = Config::new();
    /// # conf.set("count.flush.secs", 5);
    /// # let context = TopologyContext::new(shared, "count", 3, Arc::new(conf));
    /// // `context`: task 3, the second of the 2 tasks of bolt `count` (tasks: `__acker` 1, `count` 2-3, `words` 4).
    /// // Split 10 partitions between the component's tasks: this one takes 1, 3, 5, 7, 9.
    /// let tasks = context.component_tasks(context.this_component_id()).len();
    /// let mine: Vec<usize> = (0..10).filter(|p| p % tasks == context.this_task_index()).collect();
    /// assert_eq!(mine, [1, 3, 5, 7, 9]);
    /// ```
    pub fn this_task_index(&self) -> usize {
        self.component_tasks(&self.component)
            .iter()
            .position(|&t| t == self.task)
            .unwrap_or(0)
    }

    /// This task's component id.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// # use std::sync::Arc;
    /// # let shared = Arc::new(SharedContext {
    /// #     topology_id: "wordcount-1-1700000000".into(),
    /// #     spec: Arc::default(),
    /// #     layout: Arc::new(TaskLayout::new([("__acker", 1), ("count", 2), ("words", 1)])),
    /// #     worker_tasks: vec![1, 2, 3, 4],
    /// #     worker_port: Some(6700),
    /// # });
    /// # let mut conf = Config::new();
    /// # conf.set("count.flush.secs", 5);
    /// # let context = TopologyContext::new(shared, "count", 3, Arc::new(conf));
    /// // `context`: task 3, the second of the 2 tasks of bolt `count` (tasks: `__acker` 1, `count` 2-3, `words` 4).
    /// assert_eq!(context.this_component_id(), "count");
    /// ```
    pub fn this_component_id(&self) -> &str {
        &self.component
    }

    /// The task ids of a component, ascending (empty if there is no such component).
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// # use std::sync::Arc;
    /// # let shared = Arc::new(SharedContext {
    /// #     topology_id: "wordcount-1-1700000000".into(),
    /// #     spec: Arc::default(),
    /// #     layout: Arc::new(TaskLayout::new([("__acker", 1), ("count", 2), ("words", 1)])),
    /// #     worker_tasks: vec![1, 2, 3, 4],
    /// #     worker_port: Some(6700),
    /// # });
    /// # let mut conf = Config::new();
    /// # conf.set("count.flush.secs", 5);
    /// # let context = TopologyContext::new(shared, "count", 3, Arc::new(conf));
    /// // `context`: task 3, the second of the 2 tasks of bolt `count` (tasks: `__acker` 1, `count` 2-3, `words` 4).
    /// assert_eq!(context.component_tasks("count"), &[2, 3]);
    /// assert_eq!(context.component_tasks("words"), &[4]);
    /// assert!(context.component_tasks("nope").is_empty());
    /// ```
    pub fn component_tasks(&self, component: &str) -> &[TaskId] {
        self.shared.layout.tasks_of(component)
    }

    /// The component a task belongs to.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// # use std::sync::Arc;
    /// # let shared = Arc::new(SharedContext {
    /// #     topology_id: "wordcount-1-1700000000".into(),
    /// #     spec: Arc::default(),
    /// #     layout: Arc::new(TaskLayout::new([("__acker", 1), ("count", 2), ("words", 1)])),
    /// #     worker_tasks: vec![1, 2, 3, 4],
    /// #     worker_port: Some(6700),
    /// # });
    /// # let mut conf = Config::new();
    /// # conf.set("count.flush.secs", 5);
    /// # let context = TopologyContext::new(shared, "count", 3, Arc::new(conf));
    /// // `context`: task 3, the second of the 2 tasks of bolt `count` (tasks: `__acker` 1, `count` 2-3, `words` 4).
    /// assert_eq!(context.component_id(4), Some("words"));
    /// assert_eq!(context.component_id(1), Some("__acker"));
    /// assert_eq!(context.component_id(99), None);
    /// ```
    pub fn component_id(&self, task: TaskId) -> Option<&str> {
        self.shared.layout.component_of(task)
    }

    /// Every component id, system components included, sorted.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// # use std::sync::Arc;
    /// # let shared = Arc::new(SharedContext {
    /// #     topology_id: "wordcount-1-1700000000".into(),
    /// #     spec: Arc::default(),
    /// #     layout: Arc::new(TaskLayout::new([("__acker", 1), ("count", 2), ("words", 1)])),
    /// #     worker_tasks: vec![1, 2, 3, 4],
    /// #     worker_port: Some(6700),
    /// # });
    /// # let mut conf = Config::new();
    /// # conf.set("count.flush.secs", 5);
    /// # let context = TopologyContext::new(shared, "count", 3, Arc::new(conf));
    /// // `context`: task 3, the second of the 2 tasks of bolt `count` (tasks: `__acker` 1, `count` 2-3, `words` 4).
    /// let ids: Vec<&str> = context.component_ids().collect();
    /// assert_eq!(ids, ["__acker", "count", "words"]);
    /// ```
    pub fn component_ids(&self) -> impl Iterator<Item = &str> {
        self.shared.layout.component_ids()
    }

    /// The fields of one of this component's output streams.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// # use std::sync::Arc;
    /// # struct Source(&'static str);
    /// # impl Spout for Source {
    /// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
    /// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
    /// # }
    /// # struct Count;
    /// # impl Bolt for Count {
    /// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new(["word", "count"])); }
    /// #     fn execute(&mut self, t: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> { out.ack(&t); Ok(()) }
    /// # }
    /// # let mut b = TopologyBuilder::new();
    /// # b.set_spout("words", || Source("word"), 1);
    /// # b.set_bolt("count", || Count, 2).fields_grouping("words", ["word"]);
    /// # let spec = b.build().unwrap().spec().clone();
    /// # let mut conf = Config::new();
    /// # conf.set("count.flush.secs", 5);
    /// # let shared = Arc::new(SharedContext {
    /// #     topology_id: "wordcount-1-1700000000".into(),
    /// #     layout: Arc::new(spec.layout(&conf)),
    /// #     spec,
    /// #     worker_tasks: vec![1, 2, 3, 4],
    /// #     worker_port: Some(6700),
    /// # });
    /// # let context = TopologyContext::new(shared, "count", 3, Arc::new(conf));
    /// // `context`: task 3, the second of the 2 tasks of bolt `count` (tasks: `__acker` 1, `count` 2-3, `words` 4).
    /// assert_eq!(context.this_output_fields("default"), Some(&Fields::new(["word", "count"])));
    /// assert_eq!(context.this_output_fields("errors"), None);
    /// ```
    pub fn this_output_fields(&self, stream: &str) -> Option<&Fields> {
        self.component_output_fields(&self.component, stream)
    }

    /// The fields of any component's output stream.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// # use std::sync::Arc;
    /// # struct Source(&'static str);
    /// # impl Spout for Source {
    /// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
    /// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
    /// # }
    /// # struct Count;
    /// # impl Bolt for Count {
    /// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new(["word", "count"])); }
    /// #     fn execute(&mut self, t: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> { out.ack(&t); Ok(()) }
    /// # }
    /// # let mut b = TopologyBuilder::new();
    /// # b.set_spout("words", || Source("word"), 1);
    /// # b.set_bolt("count", || Count, 2).fields_grouping("words", ["word"]);
    /// # let spec = b.build().unwrap().spec().clone();
    /// # let mut conf = Config::new();
    /// # conf.set("count.flush.secs", 5);
    /// # let shared = Arc::new(SharedContext {
    /// #     topology_id: "wordcount-1-1700000000".into(),
    /// #     layout: Arc::new(spec.layout(&conf)),
    /// #     spec,
    /// #     worker_tasks: vec![1, 2, 3, 4],
    /// #     worker_port: Some(6700),
    /// # });
    /// # let context = TopologyContext::new(shared, "count", 3, Arc::new(conf));
    /// // `context`: task 3, the second of the 2 tasks of bolt `count` (tasks: `__acker` 1, `count` 2-3, `words` 4).
    /// assert_eq!(context.component_output_fields("words", "default"), Some(&Fields::new(["word"])));
    /// assert_eq!(context.component_output_fields("nope", "default"), None);
    /// ```
    pub fn component_output_fields(&self, component: &str, stream: &str) -> Option<&Fields> {
        self.shared
            .spec
            .component(component)?
            .outputs
            .iter()
            .find(|s| s.id == stream)
            .map(|s| &s.fields)
    }

    /// The tasks running in this worker process.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// # use std::sync::Arc;
    /// # let shared = Arc::new(SharedContext {
    /// #     topology_id: "wordcount-1-1700000000".into(),
    /// #     spec: Arc::default(),
    /// #     layout: Arc::new(TaskLayout::new([("__acker", 1), ("count", 2), ("words", 1)])),
    /// #     worker_tasks: vec![1, 2, 3, 4],
    /// #     worker_port: Some(6700),
    /// # });
    /// # let mut conf = Config::new();
    /// # conf.set("count.flush.secs", 5);
    /// # let context = TopologyContext::new(shared, "count", 3, Arc::new(conf));
    /// // `context`: task 3, the second of the 2 tasks of bolt `count` (tasks: `__acker` 1, `count` 2-3, `words` 4).
    /// // This worker runs every task here (a single-worker topology).
    /// assert_eq!(context.this_worker_tasks(), &[1, 2, 3, 4]);
    /// ```
    pub fn this_worker_tasks(&self) -> &[TaskId] {
        &self.shared.worker_tasks
    }

    /// This worker's port, in a cluster.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// # use std::sync::Arc;
    /// # let shared = Arc::new(SharedContext {
    /// #     topology_id: "wordcount-1-1700000000".into(),
    /// #     spec: Arc::default(),
    /// #     layout: Arc::new(TaskLayout::new([("__acker", 1), ("count", 2), ("words", 1)])),
    /// #     worker_tasks: vec![1, 2, 3, 4],
    /// #     worker_port: Some(6700),
    /// # });
    /// # let mut conf = Config::new();
    /// # conf.set("count.flush.secs", 5);
    /// # let context = TopologyContext::new(shared, "count", 3, Arc::new(conf));
    /// // `context`: task 3, the second of the 2 tasks of bolt `count` (tasks: `__acker` 1, `count` 2-3, `words` 4).
    /// assert_eq!(context.this_worker_port(), Some(6700)); // `None` in local mode
    /// ```
    pub fn this_worker_port(&self) -> Option<u16> {
        self.shared.worker_port
    }

    /// This component's effective configuration (topology config with component overrides).
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// # use std::sync::Arc;
    /// # let shared = Arc::new(SharedContext {
    /// #     topology_id: "wordcount-1-1700000000".into(),
    /// #     spec: Arc::default(),
    /// #     layout: Arc::new(TaskLayout::new([("__acker", 1), ("count", 2), ("words", 1)])),
    /// #     worker_tasks: vec![1, 2, 3, 4],
    /// #     worker_port: Some(6700),
    /// # });
    /// # let mut conf = Config::new();
    /// # conf.set("count.flush.secs", 5);
    /// # let context = TopologyContext::new(shared, "count", 3, Arc::new(conf));
    /// // `context`: task 3, the second of the 2 tasks of bolt `count` (tasks: `__acker` 1, `count` 2-3, `words` 4).
    /// // The topology's `count.flush.secs` with `count`'s own overrides laid over it.
    /// assert_eq!(context.config().get_u64("count.flush.secs"), Some(5));
    /// assert_eq!(context.config().get_u64(config::TOPOLOGY_WORKERS), None);
    /// ```
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The topology as submitted.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// # use std::sync::Arc;
    /// # struct Source(&'static str);
    /// # impl Spout for Source {
    /// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
    /// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
    /// # }
    /// # struct Count;
    /// # impl Bolt for Count {
    /// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new(["word", "count"])); }
    /// #     fn execute(&mut self, t: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> { out.ack(&t); Ok(()) }
    /// # }
    /// # let mut b = TopologyBuilder::new();
    /// # b.set_spout("words", || Source("word"), 1);
    /// # b.set_bolt("count", || Count, 2).fields_grouping("words", ["word"]);
    /// # let spec = b.build().unwrap().spec().clone();
    /// # let mut conf = Config::new();
    /// # conf.set("count.flush.secs", 5);
    /// # let shared = Arc::new(SharedContext {
    /// #     topology_id: "wordcount-1-1700000000".into(),
    /// #     layout: Arc::new(spec.layout(&conf)),
    /// #     spec,
    /// #     worker_tasks: vec![1, 2, 3, 4],
    /// #     worker_port: Some(6700),
    /// # });
    /// # let context = TopologyContext::new(shared, "count", 3, Arc::new(conf));
    /// // `context`: task 3, the second of the 2 tasks of bolt `count` (tasks: `__acker` 1, `count` 2-3, `words` 4).
    /// let spout = context.spec().component("words").unwrap();
    /// assert_eq!(spout.kind, ComponentKind::Spout);
    /// assert_eq!(context.spec().components.len(), 2);
    /// ```
    pub fn spec(&self) -> &TopologySpec {
        &self.shared.spec
    }
}
