//! Topology validation: every problem found, in one error.
//!
//! Runs when the builder builds, and again in Nimbus on the spec a binary describes, so a
//! topology that reaches a worker is known to be well formed. Every walk is iterative and
//! near-linear in the size of the spec, which [`MAX_COMPONENTS`] bounds first: a spec from an
//! untrusted client can neither overflow the stack nor keep Nimbus busy.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::limits::{InvalidSetting, MAX_COMPONENTS, MAX_ID_BYTES, MAX_TASKS_PER_COMPONENT};
use crate::{ComponentKind, ComponentSpec, Grouping, TopologySpec};

/// At most this many cycles are named in one error: one is enough to fix, and a spec made of
/// cycles would otherwise make an error of quadratic size.
const MAX_REPORTED_CYCLES: usize = 10;

/// One thing wrong with a topology.
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
/// b.set_bolt("count", || Sink, 1).fields_grouping("words", ["user"]);
/// let err = b.build().unwrap_err();
/// match &err.problems()[0] {
///     TopologyProblem::UndeclaredField { component, field, .. } => {
///         assert_eq!((component.as_str(), field.as_str()), ("count", "user"));
///     }
///     other => panic!("unexpected {other}"),
/// }
/// assert_eq!(TopologyProblem::NoSpout.to_string(), "the topology has no spout");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyProblem {
    /// The topology has no spout.
    #[error("the topology has no spout")]
    NoSpout,
    /// Two components share an id.
    #[error("duplicate component id {0:?}")]
    DuplicateComponent(String),
    /// A component id is empty or reserved for the system.
    #[error("invalid component id {0:?}: ids must be non-empty and not start with \"__\"")]
    InvalidComponentId(String),
    /// A component has no executors.
    #[error("component {0:?} has parallelism 0")]
    ZeroParallelism(String),
    /// A component has no tasks.
    #[error("component {0:?} has 0 tasks")]
    ZeroTasks(String),
    /// A stream is declared twice by one component.
    #[error("stream {stream:?} is declared twice by component {component:?}")]
    DuplicateStream {
        /// The component.
        component: String,
        /// The stream.
        stream: String,
    },
    /// A stream id is empty or reserved for the system.
    #[error(
        "invalid stream id {stream:?} on component {component:?}: ids must be non-empty and not start with \"__\""
    )]
    InvalidStreamId {
        /// The component.
        component: String,
        /// The stream.
        stream: String,
    },
    /// A spout subscribes to a stream (other than a stateful topology's checkpoints).
    #[error("spout {0:?} has inputs: only bolts subscribe to streams")]
    SpoutWithInputs(String),
    /// A subscription names a component that does not exist.
    #[error("component {component:?} subscribes to unknown component {upstream:?}")]
    UnknownComponent {
        /// The subscriber.
        component: String,
        /// The missing upstream component.
        upstream: String,
    },
    /// A subscription names a stream its source does not declare.
    #[error(
        "component {component:?} subscribes to unknown stream {stream:?} of component {upstream:?}"
    )]
    UnknownStream {
        /// The subscriber.
        component: String,
        /// The source component.
        upstream: String,
        /// The missing stream.
        stream: String,
    },
    /// A fields or partial-key grouping names a field the stream does not declare.
    #[error(
        "{grouping} grouping of component {component:?} on stream {stream:?} of {upstream:?} names undeclared field {field:?}"
    )]
    UndeclaredField {
        /// The subscriber.
        component: String,
        /// The source component.
        upstream: String,
        /// The stream.
        stream: String,
        /// The grouping's name.
        grouping: String,
        /// The missing field.
        field: String,
    },
    /// A direct grouping on a stream not declared direct.
    #[error(
        "direct grouping of component {component:?} on stream {stream:?} of {upstream:?}, which is not a direct stream"
    )]
    DirectGroupingOnPlainStream {
        /// The subscriber.
        component: String,
        /// The source component.
        upstream: String,
        /// The stream.
        stream: String,
    },
    /// Another grouping on a direct stream.
    #[error(
        "{grouping} grouping of component {component:?} on direct stream {stream:?} of {upstream:?}: direct streams take a direct grouping"
    )]
    PlainGroupingOnDirectStream {
        /// The subscriber.
        component: String,
        /// The source component.
        upstream: String,
        /// The stream.
        stream: String,
        /// The grouping's name.
        grouping: String,
    },
    /// Components subscribe to each other in a loop.
    #[error("cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    /// More components than a topology may have.
    #[error("the topology has {0} components: at most {MAX_COMPONENTS} are allowed")]
    TooManyComponents(usize),
    /// A component with more tasks than one may have.
    #[error(
        "component {component:?} has {tasks} tasks: at most {MAX_TASKS_PER_COMPONENT} are allowed"
    )]
    TooManyTasks {
        /// The component.
        component: String,
        /// Its task count.
        tasks: u32,
    },
    /// A component or stream id longer than [`MAX_ID_BYTES`]; the id is shortened.
    #[error("id {id:?} is {bytes} bytes long: at most {MAX_ID_BYTES} are allowed")]
    IdTooLong {
        /// The id's first characters.
        id: String,
        /// Its length.
        bytes: usize,
    },
    /// A component's own configuration has a bad `topology.*` value.
    #[error("component {component:?}: {setting}")]
    ComponentSetting {
        /// The component.
        component: String,
        /// The setting.
        setting: InvalidSetting,
    },
    /// A component or custom grouping lacks the code to instantiate it.
    #[error("no factory of the right kind for {0:?}")]
    FactoryMismatch(String),
}

/// A topology that failed validation, with every problem found.
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
/// b.set_spout("__words", || Source("word"), 1);
/// b.set_bolt("count", || Sink, 1).fields_grouping("__words", ["user"]);
/// let err: InvalidTopology = b.build().unwrap_err();
/// assert_eq!(err.problems().len(), 2); // a reserved id, and a field `__words` lacks
/// assert_eq!(err.problems()[0], TopologyProblem::InvalidComponentId("__words".into()));
/// assert!(err.to_string().starts_with(r#"invalid topology: invalid component id "__words""#));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTopology {
    problems: Vec<TopologyProblem>,
}

impl InvalidTopology {
    /// An error with one problem.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{InvalidTopology, TopologyProblem};
    /// let err = InvalidTopology::single(TopologyProblem::FactoryMismatch("words".into()));
    /// assert_eq!(err.problems().len(), 1);
    /// assert_eq!(err.to_string(), r#"invalid topology: no factory of the right kind for "words""#);
    /// ```
    pub fn single(problem: TopologyProblem) -> Self {
        InvalidTopology {
            problems: vec![problem],
        }
    }

    /// The problems, in the order found.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::*;
    /// # struct Sink;
    /// # impl Bolt for Sink {
    /// #     fn execute(&mut self, t: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> { out.ack(&t); Ok(()) }
    /// # }
    /// let mut b = TopologyBuilder::new();
    /// b.set_bolt("count", || Sink, 0);
    /// let err = b.build().unwrap_err();
    /// assert!(err.problems().contains(&TopologyProblem::NoSpout));
    /// assert!(err.problems().contains(&TopologyProblem::ZeroParallelism("count".into())));
    /// ```
    pub fn problems(&self) -> &[TopologyProblem] {
        &self.problems
    }
}

impl fmt::Display for InvalidTopology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid topology: ")?;
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InvalidTopology {}

/// Whether `name` is a valid topology name: non-empty, without `/ . : \\` (Storm's rule, as
/// names become file and URL parts).
///
/// # Examples
/// ```
/// use squall_topology_api::valid_topology_name;
/// assert!(valid_topology_name("wordcount"));
/// assert!(!valid_topology_name(""));
/// assert!(!valid_topology_name("word.count"));
/// assert!(!valid_topology_name("a/b"));
/// ```
pub fn valid_topology_name(name: &str) -> bool {
    // `%` too: names travel in URL paths, where a percent-encoded name must never be
    // mistaken for another.
    !name.is_empty() && !name.contains(['/', '.', ':', '\\', '%'])
}

fn invalid_id(id: &str) -> bool {
    id.is_empty() || id.starts_with("__")
}

fn id_too_long(id: &str) -> Option<TopologyProblem> {
    (id.len() > MAX_ID_BYTES).then(|| TopologyProblem::IdTooLong {
        id: id.chars().take(40).collect(),
        bytes: id.len(),
    })
}

pub(crate) fn validate(spec: &TopologySpec) -> Result<(), InvalidTopology> {
    if spec.components.len() > MAX_COMPONENTS {
        return Err(InvalidTopology::single(TopologyProblem::TooManyComponents(
            spec.components.len(),
        )));
    }
    let mut problems = Vec::new();
    if !spec
        .components
        .iter()
        .any(|c| c.kind == ComponentKind::Spout)
    {
        problems.push(TopologyProblem::NoSpout);
    }
    // The first component of each id: what subscriptions refer to.
    let mut by_id: HashMap<&str, &ComponentSpec> = HashMap::with_capacity(spec.components.len());
    for c in &spec.components {
        match by_id.entry(c.id.as_str()) {
            Entry::Occupied(_) => {
                problems.push(TopologyProblem::DuplicateComponent(c.id.clone()));
            }
            Entry::Vacant(slot) => {
                slot.insert(c);
            }
        }
        problems.extend(id_too_long(&c.id));
        if invalid_id(&c.id) {
            problems.push(TopologyProblem::InvalidComponentId(c.id.clone()));
        }
        if c.parallelism == 0 {
            problems.push(TopologyProblem::ZeroParallelism(c.id.clone()));
        }
        if c.tasks == 0 {
            problems.push(TopologyProblem::ZeroTasks(c.id.clone()));
        }
        if c.tasks > MAX_TASKS_PER_COMPONENT {
            problems.push(TopologyProblem::TooManyTasks {
                component: c.id.clone(),
                tasks: c.tasks,
            });
        }
        if let Err(setting) = crate::limits::check_config(&c.config) {
            problems.push(TopologyProblem::ComponentSetting {
                component: c.id.clone(),
                setting,
            });
        }
        // The one exception: a stateful topology's spouts receive its checkpoints.
        let checkpoints = |i: &crate::InputSpec| {
            i.component == crate::state::CHECKPOINT_COMPONENT_ID
                && i.stream == crate::state::CHECKPOINT_STREAM_ID
        };
        if c.kind == ComponentKind::Spout && !c.inputs.iter().all(checkpoints) {
            problems.push(TopologyProblem::SpoutWithInputs(c.id.clone()));
        }
        let mut streams = HashSet::new();
        for s in &c.outputs {
            if !streams.insert(s.id.as_str()) {
                problems.push(TopologyProblem::DuplicateStream {
                    component: c.id.clone(),
                    stream: s.id.clone(),
                });
            }
            problems.extend(id_too_long(&s.id));
            if invalid_id(&s.id) {
                problems.push(TopologyProblem::InvalidStreamId {
                    component: c.id.clone(),
                    stream: s.id.clone(),
                });
            }
        }
    }
    for c in &spec.components {
        for input in &c.inputs {
            check_input(&by_id, &c.id, input, &mut problems);
        }
    }
    problems.extend(find_cycles(spec).into_iter().map(TopologyProblem::Cycle));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(InvalidTopology { problems })
    }
}

fn check_input(
    by_id: &HashMap<&str, &ComponentSpec>,
    component: &str,
    input: &crate::InputSpec,
    problems: &mut Vec<TopologyProblem>,
) {
    let Some(source) = by_id.get(input.component.as_str()) else {
        problems.push(TopologyProblem::UnknownComponent {
            component: component.to_owned(),
            upstream: input.component.clone(),
        });
        return;
    };
    let Some(stream) = source.outputs.iter().find(|s| s.id == input.stream) else {
        problems.push(TopologyProblem::UnknownStream {
            component: component.to_owned(),
            upstream: input.component.clone(),
            stream: input.stream.clone(),
        });
        return;
    };
    let is_direct_grouping = input.grouping == Grouping::Direct;
    if is_direct_grouping && !stream.direct {
        problems.push(TopologyProblem::DirectGroupingOnPlainStream {
            component: component.to_owned(),
            upstream: input.component.clone(),
            stream: input.stream.clone(),
        });
    }
    if !is_direct_grouping && stream.direct {
        problems.push(TopologyProblem::PlainGroupingOnDirectStream {
            component: component.to_owned(),
            upstream: input.component.clone(),
            stream: input.stream.clone(),
            grouping: input.grouping.name().to_owned(),
        });
    }
    for field in input
        .grouping
        .key_fields()
        .into_iter()
        .flat_map(|f| f.names())
    {
        if !stream.fields.contains(field) {
            problems.push(TopologyProblem::UndeclaredField {
                component: component.to_owned(),
                upstream: input.component.clone(),
                stream: input.stream.clone(),
                grouping: input.grouping.name().to_owned(),
                field: field.clone(),
            });
        }
    }
}

/// Each cycle once (up to [`MAX_REPORTED_CYCLES`]), as the path of component ids that closes it
/// (first id repeated at the end). A depth-first search with an explicit stack: linear in the
/// components and subscriptions, whatever the depth of the graph.
fn find_cycles(spec: &TopologySpec) -> Vec<Vec<String>> {
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(spec.components.len());
    for (i, c) in spec.components.iter().enumerate() {
        index.entry(c.id.as_str()).or_insert(i);
    }
    // Edges run from a source to its subscribers.
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); spec.components.len()];
    for (i, c) in spec.components.iter().enumerate() {
        for input in &c.inputs {
            if let Some(&from) = index.get(input.component.as_str()) {
                edges[from].push(i);
            }
        }
    }
    const NEW: usize = usize::MAX;
    const DONE: usize = usize::MAX - 1;
    // For each component: NEW, DONE, or its position on the current path.
    let mut state = vec![NEW; spec.components.len()];
    let mut path: Vec<usize> = Vec::new();
    // (component, next edge to follow) for each component on the path.
    let mut stack: Vec<(usize, usize)> = Vec::new();
    let mut cycles = Vec::new();
    let mut roots: Vec<usize> = index.values().copied().collect();
    roots.sort_unstable_by_key(|&i| spec.components[i].id.as_str());
    let id = |i: usize| spec.components[i].id.clone();
    for root in roots {
        if state[root] != NEW {
            continue;
        }
        state[root] = 0;
        path.push(root);
        stack.push((root, 0));
        while let Some(top) = stack.last_mut() {
            let (node, next_edge) = *top;
            let Some(&next) = edges[node].get(next_edge) else {
                stack.pop();
                path.pop();
                state[node] = DONE;
                continue;
            };
            top.1 += 1;
            match state[next] {
                NEW => {
                    state[next] = path.len();
                    path.push(next);
                    stack.push((next, 0));
                }
                DONE => {}
                start => {
                    if cycles.len() < MAX_REPORTED_CYCLES {
                        let mut cycle: Vec<String> = path[start..].iter().map(|&n| id(n)).collect();
                        cycle.push(id(next));
                        cycles.push(cycle);
                    }
                }
            }
        }
    }
    cycles
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::{Config, Fields, InputSpec, StreamDeclaration};

    fn component(id: String, inputs: Vec<String>) -> ComponentSpec {
        ComponentSpec {
            kind: if inputs.is_empty() {
                ComponentKind::Spout
            } else {
                ComponentKind::Bolt
            },
            id,
            parallelism: 1,
            tasks: 1,
            outputs: vec![StreamDeclaration {
                id: crate::DEFAULT_STREAM_ID.to_owned(),
                fields: Fields::new(["x"]),
                direct: false,
            }],
            inputs: inputs
                .into_iter()
                .map(|component| InputSpec {
                    component,
                    stream: crate::DEFAULT_STREAM_ID.to_owned(),
                    grouping: Grouping::Shuffle,
                })
                .collect(),
            config: Config::new(),
        }
    }

    /// A chain of `n` components c0 → c1 → ..., declared from the sink back to the spout.
    fn reversed_chain(n: usize) -> TopologySpec {
        TopologySpec {
            resources: None,
            components: (0..n)
                .rev()
                .map(|i| {
                    let inputs = if i == 0 {
                        vec![]
                    } else {
                        vec![format!("c{}", i - 1)]
                    };
                    component(format!("c{i}"), inputs)
                })
                .collect(),
        }
    }

    #[test]
    fn the_longest_allowed_chain_validates_quickly_and_a_longer_one_is_refused() {
        let started = Instant::now();
        assert_eq!(reversed_chain(MAX_COMPONENTS).validate(), Ok(()));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        let err = reversed_chain(50_000).validate().unwrap_err();
        assert_eq!(
            err.problems(),
            &[TopologyProblem::TooManyComponents(50_000)]
        );
    }

    #[test]
    fn a_deep_cycle_is_found_without_recursion() {
        let mut spec = reversed_chain(MAX_COMPONENTS);
        // The spout's successor also consumes from the sink: one cycle through 4,999 bolts.
        let mut back = spec.components[1].inputs[0].clone();
        back.component = format!("c{}", MAX_COMPONENTS - 1);
        spec.components[MAX_COMPONENTS - 2].inputs.push(back);
        let err = spec.validate().unwrap_err();
        let [TopologyProblem::Cycle(path)] = err.problems() else {
            panic!("{err}");
        };
        assert_eq!(path.len(), MAX_COMPONENTS);
        assert_eq!(path.first(), path.last());
    }

    #[test]
    fn oversized_ids_tasks_and_component_settings_are_named() {
        let mut spec = reversed_chain(2);
        spec.components[0].tasks = MAX_TASKS_PER_COMPONENT + 1;
        spec.components[1]
            .config
            .set(crate::config::TOPOLOGY_MAX_SPOUT_PENDING, "lots");
        spec.components[1].outputs[0].id = "s".repeat(1000);
        let message = spec.validate().unwrap_err().to_string();
        assert!(
            message.contains(r#"component "c1" has 10001 tasks"#),
            "{message}"
        );
        assert!(
            message
                .contains(r#"component "c0": invalid value "lots" for topology.max.spout.pending"#),
            "{message}"
        );
        assert!(message.contains("is 1000 bytes long"), "{message}");
    }
}
