//! Routing: from one emit to the tasks that receive it.
//!
//! Built once per executor from the topology: for each stream the component declares, its
//! interned schema and every subscription (the subscriber's sorted task ids and a grouping
//! [`Chooser`]). An emit resolves its stream by position (a scan of a handful of names, or none
//! for the default stream) and asks each subscription for its tasks; no map look-ups by string
//! and no locks.

use rand::RngExt;
use rand::rngs::SmallRng;
use squall_topology_api::{
    DEFAULT_STREAM_ID, EmitError, Grouping, StreamSchema, TaskId, TaskLayout, Topology, Value,
};

use crate::grouping::{Chooser, LocalityBounds};

struct Subscription {
    targets: Vec<TaskId>,
    chooser: Chooser,
}

struct StreamRoute {
    id: String,
    schema: &'static StreamSchema,
    /// The number of declared fields: every emit must carry exactly as many values.
    arity: usize,
    direct: bool,
    subscriptions: Vec<Subscription>,
    /// Emitted and transferred on this stream: counted here, on a line `choose` touches
    /// anyway, rather than in a table of their own.
    counts: [u64; 2],
}

/// The routes of one component's streams, owned by one executor.
pub(crate) struct Router {
    component: String,
    streams: Vec<StreamRoute>,
    default_stream: Option<usize>,
    /// Set when some shuffle is locality-aware (its subscriber has tasks here and elsewhere).
    locality: Option<LocalityBounds>,
}

/// Where the emitting executor runs, for the groupings that care.
pub(crate) struct Locality<'a> {
    /// The tasks in this worker process.
    pub worker_tasks: &'a [TaskId],
    /// Locality-aware shuffle's bounds; `None` with `topology.disable.loadaware.messaging`.
    pub bounds: Option<LocalityBounds>,
}

impl Router {
    /// Routes for `component`, running where `locality` says.
    pub fn new(
        topology: &Topology,
        layout: &TaskLayout,
        component: &str,
        locality: &Locality<'_>,
        rng: &mut SmallRng,
    ) -> Self {
        let spec = topology.spec();
        let outputs = spec
            .component(component)
            .map(|c| c.outputs.as_slice())
            .unwrap_or_default();
        let streams: Vec<StreamRoute> = outputs
            .iter()
            .map(|out| {
                let subscriptions = spec
                    .components
                    .iter()
                    .flat_map(|sub| sub.inputs.iter().map(move |input| (sub, input)))
                    .filter(|(_, input)| input.component == component && input.stream == out.id)
                    .map(|(sub, input)| {
                        let targets = layout.tasks_of(&sub.id).to_vec();
                        let key = (sub.id.clone(), component.to_owned(), out.id.clone());
                        let chooser = chooser_for(
                            topology,
                            &input.grouping,
                            &key,
                            &out.fields,
                            &targets,
                            locality,
                            rng,
                        );
                        Subscription { targets, chooser }
                    })
                    .filter(|s| !s.targets.is_empty())
                    .collect();
                StreamRoute {
                    id: out.id.clone(),
                    schema: StreamSchema::intern(component, &out.id, out.fields.clone()),
                    arity: out.fields.len(),
                    direct: out.direct,
                    subscriptions,
                    counts: [0; 2],
                }
            })
            .collect();
        let default_stream = streams.iter().position(|s| s.id == DEFAULT_STREAM_ID);
        let any_locality = streams
            .iter()
            .flat_map(|s| &s.subscriptions)
            .any(|s| matches!(s.chooser, Chooser::LocalityShuffle { .. }));
        Router {
            component: component.to_owned(),
            streams,
            default_stream,
            locality: locality.bounds.filter(|_| any_locality),
        }
    }

    /// Whether some shuffle here watches its local tasks' load.
    pub fn load_aware(&self) -> bool {
        self.locality.is_some()
    }

    /// Lets locality-aware shuffles pick their scope from the local tasks' queue fill.
    pub fn refresh_load(&mut self, fill: &dyn Fn(TaskId) -> f64) {
        let Some(bounds) = self.locality else {
            return;
        };
        for s in self.streams.iter_mut().flat_map(|r| &mut r.subscriptions) {
            s.chooser.refresh_load(fill, bounds);
        }
    }

    /// The index of a stream; `None` means the default stream.
    pub fn resolve(&self, stream: Option<&str>) -> Result<usize, EmitError> {
        let found = match stream {
            None => self.default_stream,
            Some(name) => self.streams.iter().position(|s| s.id == name),
        };
        found.ok_or_else(|| EmitError::UnknownStream {
            stream: stream.unwrap_or(DEFAULT_STREAM_ID).to_owned(),
            component: self.component.clone(),
        })
    }

    /// Emitted and transferred per output stream, in index order.
    pub fn stream_counts(&self) -> impl Iterator<Item = [u64; 2]> + '_ {
        self.streams.iter().map(|s| s.counts)
    }

    /// The output stream ids, in index order.
    pub fn stream_ids(&self) -> Vec<String> {
        self.streams.iter().map(|s| s.id.clone()).collect()
    }

    /// The schema tuples on a stream carry.
    pub fn schema(&self, stream: usize) -> &'static StreamSchema {
        self.streams[stream].schema
    }

    /// Pushes the tasks that receive a tuple onto `out` (which the caller cleared). Inlined
    /// into the emit path: it runs once per emitted tuple.
    #[inline]
    pub fn choose(
        &mut self,
        stream: usize,
        source_task: TaskId,
        values: &[Value],
        direct_task: Option<TaskId>,
        rng: &mut SmallRng,
        out: &mut Vec<TaskId>,
    ) -> Result<(), EmitError> {
        let route = &mut self.streams[stream];
        if values.len() != route.arity {
            return Err(EmitError::WrongFieldCount {
                stream: route.id.clone(),
                component: self.component.clone(),
                expected: route.arity,
                got: values.len(),
            });
        }
        let chosen = match (route.direct, direct_task) {
            (true, None) => Err(EmitError::DirectStream {
                stream: route.id.clone(),
                component: self.component.clone(),
            }),
            (false, Some(_)) => Err(EmitError::NotDirect {
                stream: route.id.clone(),
                component: self.component.clone(),
            }),
            (true, Some(task)) => {
                // Validation guarantees every subscriber of a direct stream groups directly;
                // a task that does not subscribe gets nothing, as in Storm.
                if route
                    .subscriptions
                    .iter()
                    .any(|s| s.targets.binary_search(&task).is_ok())
                {
                    out.push(task);
                }
                Ok(())
            }
            (false, None) => {
                for s in &mut route.subscriptions {
                    s.chooser.choose(source_task, values, &s.targets, rng, out);
                }
                Ok(())
            }
        };
        if chosen.is_ok() {
            route.counts[0] += 1;
            route.counts[1] += out.len() as u64;
        }
        chosen
    }
}

fn chooser_for(
    topology: &Topology,
    grouping: &Grouping,
    key: &squall_topology_api::SubscriptionKey,
    fields: &squall_topology_api::Fields,
    targets: &[TaskId],
    locality: &Locality<'_>,
    rng: &mut SmallRng,
) -> Chooser {
    let worker_tasks = locality.worker_tasks;
    let indices = |f: &squall_topology_api::Fields| -> Vec<usize> {
        // Validation checked that every key field exists on the stream.
        f.names()
            .iter()
            .filter_map(|n| fields.index_of(n))
            .collect()
    };
    match grouping {
        Grouping::Shuffle => {
            let local: Vec<TaskId> = targets
                .iter()
                .copied()
                .filter(|t| worker_tasks.contains(t))
                .collect();
            if locality.bounds.is_some() && !local.is_empty() && local.len() < targets.len() {
                Chooser::LocalityShuffle {
                    next_local: rng.random_range(0..local.len()),
                    next_all: rng.random_range(0..targets.len()),
                    local,
                    everywhere: false,
                }
            } else {
                Chooser::shuffle(rng, targets.len())
            }
        }
        Grouping::Fields(f) => Chooser::Fields {
            indices: indices(f),
        },
        Grouping::All => Chooser::All,
        Grouping::Global => Chooser::Global,
        Grouping::None => Chooser::Random,
        Grouping::Direct => Chooser::Direct,
        Grouping::LocalOrShuffle => {
            let local: Vec<TaskId> = targets
                .iter()
                .copied()
                .filter(|t| worker_tasks.contains(t))
                .collect();
            let pool = if local.is_empty() {
                targets.len()
            } else {
                local.len()
            };
            Chooser::LocalOrShuffle {
                next: rng.random_range(0..pool.max(1)),
                local,
            }
        }
        Grouping::PartialKey(f) => Chooser::PartialKey {
            indices: indices(f),
            sent: vec![0; targets.len()],
        },
        Grouping::Custom(_) => match topology.grouping_factory(key) {
            Some(factory) => {
                let mut custom = factory();
                custom.prepare(targets);
                Chooser::Custom(custom)
            }
            // A spec that came without code for its custom grouping: deliver nowhere rather
            // than guess; its trees fail and the missing factory is visible in the spec.
            None => Chooser::Direct,
        },
    }
}
