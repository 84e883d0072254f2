//! Topology validation: every problem found, in one error.
//!
//! Runs when the builder builds, and again in Nimbus on the spec a binary describes, so a
//! topology that reaches a worker is known to be well formed.

use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::{ComponentKind, Grouping, TopologySpec};

/// One thing wrong with a topology.
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
    /// A spout subscribes to a stream.
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
    /// A component or custom grouping lacks the code to instantiate it.
    #[error("no factory of the right kind for {0:?}")]
    FactoryMismatch(String),
}

/// A topology that failed validation, with every problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTopology {
    problems: Vec<TopologyProblem>,
}

impl InvalidTopology {
    /// An error with one problem.
    pub fn single(problem: TopologyProblem) -> Self {
        InvalidTopology {
            problems: vec![problem],
        }
    }

    /// The problems, in the order found.
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
pub fn valid_topology_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['/', '.', ':', '\\'])
}

fn invalid_id(id: &str) -> bool {
    id.is_empty() || id.starts_with("__")
}

pub(crate) fn validate(spec: &TopologySpec) -> Result<(), InvalidTopology> {
    let mut problems = Vec::new();
    if !spec
        .components
        .iter()
        .any(|c| c.kind == ComponentKind::Spout)
    {
        problems.push(TopologyProblem::NoSpout);
    }
    let mut seen = HashSet::new();
    for c in &spec.components {
        if !seen.insert(c.id.as_str()) {
            problems.push(TopologyProblem::DuplicateComponent(c.id.clone()));
        }
        if invalid_id(&c.id) {
            problems.push(TopologyProblem::InvalidComponentId(c.id.clone()));
        }
        if c.parallelism == 0 {
            problems.push(TopologyProblem::ZeroParallelism(c.id.clone()));
        }
        if c.tasks == 0 {
            problems.push(TopologyProblem::ZeroTasks(c.id.clone()));
        }
        if c.kind == ComponentKind::Spout && !c.inputs.is_empty() {
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
            check_input(spec, &c.id, input, &mut problems);
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
    spec: &TopologySpec,
    component: &str,
    input: &crate::InputSpec,
    problems: &mut Vec<TopologyProblem>,
) {
    let Some(source) = spec.component(&input.component) else {
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

/// Each cycle once, as the path of component ids that closes it (first id repeated at the end).
fn find_cycles(spec: &TopologySpec) -> Vec<Vec<String>> {
    // Edges run from a source to its subscribers.
    let mut edges: HashMap<&str, Vec<&str>> = HashMap::new();
    for c in &spec.components {
        for input in &c.inputs {
            edges
                .entry(input.component.as_str())
                .or_default()
                .push(c.id.as_str());
        }
    }
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit<'a>(
        node: &'a str,
        edges: &HashMap<&'a str, Vec<&'a str>>,
        marks: &mut HashMap<&'a str, Mark>,
        path: &mut Vec<&'a str>,
        cycles: &mut Vec<Vec<String>>,
    ) {
        marks.insert(node, Mark::Open);
        path.push(node);
        for &next in edges.get(node).into_iter().flatten() {
            match marks.get(next) {
                Some(Mark::Open) => {
                    let start = path.iter().position(|&n| n == next).unwrap_or(0);
                    let mut cycle: Vec<String> =
                        path[start..].iter().map(|s| (*s).to_owned()).collect();
                    cycle.push(next.to_owned());
                    cycles.push(cycle);
                }
                Some(Mark::Done) => {}
                None => visit(next, edges, marks, path, cycles),
            }
        }
        path.pop();
        marks.insert(node, Mark::Done);
    }
    let mut marks = HashMap::new();
    let mut cycles = Vec::new();
    let mut ids: Vec<&str> = spec.components.iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    for id in ids {
        if !marks.contains_key(id) {
            visit(id, &edges, &mut marks, &mut Vec::new(), &mut cycles);
        }
    }
    cycles
}
