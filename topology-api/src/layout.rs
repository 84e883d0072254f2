//! Task ids and executors: Storm's deterministic numbering.
//!
//! Components (system ones such as `__acker` included) are sorted by id and given consecutive
//! task ids from 1, as many as each has tasks. A component's executors each run a contiguous
//! range of its tasks, larger ranges first (10 tasks on 3 executors: 4, 3, 3). Every process
//! that computes the layout of the same topology gets the same numbers, so task ids can cross
//! the network.

use crate::{Config, TaskId, TopologySpec, config};

/// The component id of the acker bolt that tracks tuple trees.
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
/// assert_eq!(ACKER_COMPONENT_ID, "__acker");
/// // Every layout includes the ackers, numbered with the other components.
/// let layout = topology.spec().layout(&Config::new());
/// assert_eq!(layout.tasks_of(ACKER_COMPONENT_ID), &[1]);
/// ```
pub const ACKER_COMPONENT_ID: &str = "__acker";

/// Which tasks each component has.
///
/// # Examples
/// ```
/// use squall_topology_api::TaskLayout;
/// let layout = TaskLayout::new([("words", 1), ("count", 2), ("__acker", 1)]);
/// // Sorted by id, numbered from 1.
/// assert_eq!(layout.tasks_of("__acker"), &[1]);
/// assert_eq!(layout.tasks_of("count"), &[2, 3]);
/// assert_eq!(layout.component_of(4), Some("words"));
/// assert_eq!(layout.max_task(), 4);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskLayout {
    /// (component id, its task ids) sorted by component id.
    components: Vec<(String, Vec<TaskId>)>,
    /// Component index by task id; task 0 is the system task and has none.
    task_component: Vec<u32>,
}

impl TaskLayout {
    /// Numbers the tasks of components given as (id, task count).
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::TaskLayout;
    /// let l = TaskLayout::new([("spout", 2), ("count", 3), ("__acker", 1), ("split", 2)]);
    /// assert_eq!(l.tasks_of("__acker"), &[1]);
    /// assert_eq!(l.tasks_of("count"), &[2, 3, 4]);
    /// assert_eq!(l.tasks_of("split"), &[5, 6]);
    /// assert_eq!(l.component_of(8), Some("spout"));
    /// ```
    pub fn new<I, S>(counts: I) -> Self
    where
        I: IntoIterator<Item = (S, u32)>,
        S: Into<String>,
    {
        let mut counts: Vec<(String, u32)> =
            counts.into_iter().map(|(c, n)| (c.into(), n)).collect();
        counts.sort_by(|a, b| a.0.cmp(&b.0));
        let mut next: TaskId = 1;
        let mut task_component = vec![u32::MAX];
        let components = counts
            .into_iter()
            .enumerate()
            .map(|(index, (id, n))| {
                let tasks: Vec<TaskId> = (next..next + n).collect();
                next += n;
                task_component.extend(std::iter::repeat_n(index as u32, n as usize));
                (id, tasks)
            })
            .collect();
        TaskLayout {
            components,
            task_component,
        }
    }

    /// The task ids of a component, ascending; empty for an unknown component.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::TaskLayout;
    /// let layout = TaskLayout::new([("words", 1), ("count", 3)]);
    /// assert_eq!(layout.tasks_of("count"), &[1, 2, 3]);
    /// assert_eq!(layout.tasks_of("words"), &[4]);
    /// assert!(layout.tasks_of("nope").is_empty());
    /// ```
    pub fn tasks_of(&self, component: &str) -> &[TaskId] {
        self.components
            .binary_search_by(|(id, _)| id.as_str().cmp(component))
            .map(|i| self.components[i].1.as_slice())
            .unwrap_or(&[])
    }

    /// The component a task belongs to.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{TaskLayout, SYSTEM_TASK_ID};
    /// let layout = TaskLayout::new([("words", 1), ("count", 3)]);
    /// assert_eq!(layout.component_of(2), Some("count"));
    /// assert_eq!(layout.component_of(4), Some("words"));
    /// assert_eq!(layout.component_of(5), None);
    /// assert_eq!(layout.component_of(SYSTEM_TASK_ID), None);
    /// ```
    pub fn component_of(&self, task: TaskId) -> Option<&str> {
        let index = *self.task_component.get(task as usize)?;
        self.components
            .get(index as usize)
            .map(|(id, _)| id.as_str())
    }

    /// Every component id, sorted.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::TaskLayout;
    /// let layout = TaskLayout::new([("words", 1), ("count", 3), ("__acker", 1)]);
    /// let ids: Vec<&str> = layout.component_ids().collect();
    /// assert_eq!(ids, ["__acker", "count", "words"]);
    /// ```
    pub fn component_ids(&self) -> impl Iterator<Item = &str> {
        self.components.iter().map(|(id, _)| id.as_str())
    }

    /// The highest task id (the number of tasks).
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::TaskLayout;
    /// let layout = TaskLayout::new([("words", 1), ("count", 3)]);
    /// assert_eq!(layout.max_task(), 4);
    /// assert_eq!(TaskLayout::new::<_, &str>([]).max_task(), 0);
    /// ```
    pub fn max_task(&self) -> TaskId {
        (self.task_component.len() - 1) as TaskId
    }
}

/// The number of acker tasks under a configuration: `topology.acker.executors`, or one per
/// worker (`topology.workers`, default 1) when unset; 0 turns tracking off.
///
/// # Examples
/// ```
/// use squall_topology_api::{acker_count, Config};
/// let mut conf = Config::new();
/// assert_eq!(acker_count(&conf), 1); // one worker by default, so one acker
/// conf.set_num_workers(4);
/// assert_eq!(acker_count(&conf), 4);
/// conf.set_num_ackers(0); // tracking off
/// assert_eq!(acker_count(&conf), 0);
/// ```
pub fn acker_count(conf: &Config) -> u32 {
    let workers = conf
        .get_u64(config::TOPOLOGY_WORKERS)
        .map_or(1, |n| n.clamp(1, u64::from(u32::MAX)) as u32);
    conf.get_u64(config::TOPOLOGY_ACKER_EXECUTORS)
        .map_or(workers, |n| n.min(u64::from(u32::MAX)) as u32)
}

/// `topology.max.task.parallelism` applied to a task or executor count.
///
/// # Examples
/// ```
/// use squall_topology_api::{cap_parallelism, config, Config};
/// let mut conf = Config::new();
/// assert_eq!(cap_parallelism(&conf, 10), 10); // no cap set
/// conf.set(config::TOPOLOGY_MAX_TASK_PARALLELISM, 4);
/// assert_eq!(cap_parallelism(&conf, 10), 4);
/// assert_eq!(cap_parallelism(&conf, 2), 2);
/// ```
pub fn cap_parallelism(conf: &Config, n: u32) -> u32 {
    conf.get_u64(config::TOPOLOGY_MAX_TASK_PARALLELISM)
        .map_or(n, |cap| n.min(cap.clamp(1, u64::from(u32::MAX)) as u32))
}

impl TopologySpec {
    /// The task numbering of this topology under `conf`, the acker included. Nimbus and
    /// every worker compute it the same way.
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
    /// // `words` has 1 task and `count` 2.
    /// let mut conf = Config::new();
    /// let layout = topology.spec().layout(&conf);
    /// assert_eq!(layout.tasks_of("__acker"), &[1]);
    /// assert_eq!(layout.tasks_of("count"), &[2, 3]);
    /// assert_eq!(layout.tasks_of("words"), &[4]);
    ///
    /// conf.set_num_ackers(2);
    /// let layout = topology.spec().layout(&conf);
    /// assert_eq!(layout.tasks_of("count"), &[3, 4]);
    /// assert_eq!(layout.max_task(), 5);
    /// ```
    pub fn layout(&self, conf: &Config) -> TaskLayout {
        let mut counts: Vec<(String, u32)> = self
            .components
            .iter()
            .map(|c| (c.id.clone(), cap_parallelism(conf, c.tasks)))
            .collect();
        counts.push((ACKER_COMPONENT_ID.to_owned(), acker_count(conf)));
        TaskLayout::new(counts)
    }
}

/// Splits a component's tasks among `executors` executors: contiguous ranges, larger first.
/// With more executors than tasks, each task gets its own executor.
///
/// # Examples
/// ```
/// use squall_topology_api::split_tasks;
/// let tasks: Vec<u32> = (1..=10).collect();
/// let sizes: Vec<usize> = split_tasks(&tasks, 3).iter().map(|e| e.len()).collect();
/// assert_eq!(sizes, [4, 3, 3]);
/// ```
pub fn split_tasks(tasks: &[TaskId], executors: u32) -> Vec<&[TaskId]> {
    let n = (executors as usize).clamp(1, tasks.len().max(1));
    let (base, extra) = (tasks.len() / n, tasks.len() % n);
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    for i in 0..n {
        let len = base + usize::from(i < extra);
        out.push(&tasks[start..start + len]);
        start += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_matches_storm_examples() {
        let nine: Vec<TaskId> = (1..=9).collect();
        let sizes: Vec<usize> = split_tasks(&nine, 5).iter().map(|e| e.len()).collect();
        assert_eq!(sizes, [2, 2, 2, 2, 1]);
        let two: Vec<TaskId> = vec![7, 8];
        assert_eq!(split_tasks(&two, 5), vec![&[7][..], &[8][..]]);
    }

    #[test]
    fn unknown_tasks_and_components_have_no_answer() {
        let l = TaskLayout::new([("a", 1)]);
        assert_eq!(l.component_of(0), None);
        assert_eq!(l.component_of(2), None);
        assert!(l.tasks_of("b").is_empty());
        assert_eq!(l.max_task(), 1);
    }
}
