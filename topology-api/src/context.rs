//! What a task knows about itself and its topology (Storm's `TopologyContext`).

use std::sync::Arc;

use crate::{Config, Fields, TaskId, TaskLayout, TopologySpec};

/// A task's view of the topology, given to `open` and `prepare`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TopologyContext {
    shared: Arc<SharedContext>,
    component: String,
    task: TaskId,
    config: Arc<Config>,
}

/// The part of a context that all tasks of a worker share.
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
    pub fn topology_id(&self) -> &str {
        &self.shared.topology_id
    }

    /// This task's id.
    pub fn this_task_id(&self) -> TaskId {
        self.task
    }

    /// This task's position among its component's tasks (0-based): use it to partition work.
    pub fn this_task_index(&self) -> usize {
        self.component_tasks(&self.component)
            .iter()
            .position(|&t| t == self.task)
            .unwrap_or(0)
    }

    /// This task's component id.
    pub fn this_component_id(&self) -> &str {
        &self.component
    }

    /// The task ids of a component, ascending (empty if there is no such component).
    pub fn component_tasks(&self, component: &str) -> &[TaskId] {
        self.shared.layout.tasks_of(component)
    }

    /// The component a task belongs to.
    pub fn component_id(&self, task: TaskId) -> Option<&str> {
        self.shared.layout.component_of(task)
    }

    /// Every component id, system components included, sorted.
    pub fn component_ids(&self) -> impl Iterator<Item = &str> {
        self.shared.layout.component_ids()
    }

    /// The fields of one of this component's output streams.
    pub fn this_output_fields(&self, stream: &str) -> Option<&Fields> {
        self.component_output_fields(&self.component, stream)
    }

    /// The fields of any component's output stream.
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
    pub fn this_worker_tasks(&self) -> &[TaskId] {
        &self.shared.worker_tasks
    }

    /// This worker's port, in a cluster.
    pub fn this_worker_port(&self) -> Option<u16> {
        self.shared.worker_port
    }

    /// This component's effective configuration (topology config with component overrides).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The topology as submitted.
    pub fn spec(&self) -> &TopologySpec {
        &self.shared.spec
    }
}
