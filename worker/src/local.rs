//! Local mode: a whole topology in this process, its executors on a pool of about one thread
//! per core (Storm's `LocalCluster`). What runs here is the same engine a worker process runs.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use squall_topology_api::{Config, Topology, Values, valid_topology_name};

use crate::assembly::{
    ExecutorKind, Plan, RunningExecutor, StartOptions, start_executors, stop_all,
};
use crate::executor::pool::Pool;
use crate::message::Control;
use crate::settings::executor_threads;
use crate::stats::{Counters, Flow, LatencyKind, ReportedError, new_metrics_histogram};

/// Why a topology could not be run.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The topology name is not allowed (Storm: no `/ . : \`).
    #[error("invalid topology name {0:?}: names must be non-empty and not contain / . : or \\")]
    InvalidName(String),
    /// A topology of that name is already running here.
    #[error("a topology named {0:?} is already running")]
    NameTaken(String),
    /// No topology of that name is running here.
    #[error("no topology named {0:?} is running")]
    NotFound(String),
    /// The executors' threads could not be started.
    #[error("could not start the executor threads: {0}")]
    Spawn(#[from] std::io::Error),
}

/// The totals of one component, summed over its executors.
#[derive(Debug, Clone)]
pub struct ComponentStats {
    /// The component id (`__acker` for the ackers).
    pub id: String,
    /// What runs it.
    pub kind: ExecutorKind,
    /// Executors (threads).
    pub executors: usize,
    /// Tasks.
    pub tasks: usize,
    /// Summed counters.
    pub counters: Counters,
    /// Whether every spout task says it has emitted all it ever will.
    pub exhausted: bool,
    /// The newest errors, oldest first.
    pub errors: Vec<ReportedError>,
    /// Complete latency of the component's trees in nanoseconds (spouts).
    pub complete_latency_ns: Histogram<u64>,
    /// Sampled execute latency in nanoseconds (bolts).
    pub execute_latency_ns: Histogram<u64>,
    /// Sampled process latency in nanoseconds (bolts).
    pub process_latency_ns: Histogram<u64>,
}

/// A snapshot of a running topology.
#[derive(Debug, Clone)]
pub struct TopologyStats {
    /// One entry per component, in the order executors were started.
    pub components: Vec<ComponentStats>,
}

impl TopologyStats {
    /// A component's totals.
    pub fn component(&self, id: &str) -> Option<&ComponentStats> {
        self.components.iter().find(|c| c.id == id)
    }

    /// The data spouts' totals summed (not `$checkpointspout`'s): emitted, acked (trees completed) and
    /// failed (trees failed).
    pub fn spout_totals(&self) -> Counters {
        let mut total = Counters::default();
        for c in self
            .components
            .iter()
            .filter(|c| c.kind == ExecutorKind::Spout)
            // The checkpoint spout's steps are not data: its trees are not the topology's.
            .filter(|c| c.id != squall_topology_api::state::CHECKPOINT_COMPONENT_ID)
        {
            total.emitted += c.counters.emitted;
            total.transferred += c.counters.transferred;
            total.acked += c.counters.acked;
            total.failed += c.counters.failed;
            total.pending += c.counters.pending;
            total.errors += c.counters.errors;
        }
        total
    }
}

/// What the components emitted, kept when a topology was started with capture on.
pub type Emitted = BTreeMap<String, Vec<(String, Values)>>;

/// A topology running in this process.
pub struct LocalTopology {
    name: String,
    executors: Vec<RunningExecutor>,
    flow: std::sync::Arc<Flow>,
    started: Instant,
    /// The threads the executors run on; stopped after them (fields drop after `drop`).
    _pool: std::sync::Arc<Pool>,
}

impl LocalTopology {
    /// Starts a topology: `conf` is the topology configuration (Storm's keys).
    ///
    /// # Errors
    /// When the name is invalid or a thread cannot be started.
    pub fn start(name: &str, conf: &Config, topology: &Topology) -> Result<Self, RuntimeError> {
        Self::start_with(name, conf, topology, true, false)
    }

    pub(crate) fn start_with(
        name: &str,
        conf: &Config,
        topology: &Topology,
        start_active: bool,
        capture: bool,
    ) -> Result<Self, RuntimeError> {
        crate::cluster::refuse_local_mode_in_a_cluster_role();
        if !valid_topology_name(name) {
            return Err(RuntimeError::InvalidName(name.to_owned()));
        }
        let plan = Plan::new(topology, conf);
        let pool = Pool::new(executor_threads(conf, plan.executors.len()), name)?;
        let options = StartOptions {
            topology_id: format!("{name}-local"),
            start_active,
            capture,
            worker_port: None,
            pool,
        };
        let started = start_executors(
            topology,
            conf,
            &plan.layout,
            Vec::new(),
            plan.executors,
            None,
            &options,
        )?;
        let (executors, flow, pool) = (started.executors, started.flow, started.pool);
        tracing::info!(
            topology = name,
            executors = executors.len(),
            "topology started"
        );
        Ok(LocalTopology {
            name: name.to_owned(),
            executors,
            flow,
            started: Instant::now(),
            _pool: pool,
        })
    }

    /// The topology's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How long it has run.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    fn tell_spouts(&self, make: impl Fn() -> Control) {
        for e in self
            .executors
            .iter()
            .filter(|e| e.plan.kind == ExecutorKind::Spout)
        {
            e.command(make());
        }
    }

    /// Resumes calling the spouts' `next_tuple` (and calls their `activate`).
    pub fn activate(&self) {
        self.tell_spouts(|| Control::Activate);
    }

    /// Stops calling the spouts' `next_tuple` (and calls their `deactivate`); acks still flow.
    pub fn deactivate(&self) {
        self.tell_spouts(|| Control::Deactivate);
    }

    /// Whether no batch is in flight between executors right now.
    pub(crate) fn is_quiet(&self) -> bool {
        self.flow.is_quiet()
    }

    /// The counters of every component, as last published by their executors.
    pub fn stats(&self) -> TopologyStats {
        let mut components: Vec<ComponentStats> = Vec::new();
        for e in &self.executors {
            let snapshot = e.stats.snapshot();
            let idx = match components.iter().position(|c| c.id == e.plan.component) {
                Some(i) => i,
                None => {
                    components.push(ComponentStats {
                        id: e.plan.component.clone(),
                        kind: e.plan.kind,
                        executors: 0,
                        tasks: 0,
                        counters: Counters::default(),
                        exhausted: true,
                        errors: Vec::new(),
                        complete_latency_ns: new_metrics_histogram(),
                        execute_latency_ns: new_metrics_histogram(),
                        process_latency_ns: new_metrics_histogram(),
                    });
                    components.len() - 1
                }
            };
            let c = &mut components[idx];
            c.executors += 1;
            c.tasks += e.plan.tasks.len();
            let t = &mut c.counters;
            t.emitted += snapshot.emitted;
            t.transferred += snapshot.transferred;
            t.acked += snapshot.acked;
            t.failed += snapshot.failed;
            t.executed += snapshot.executed;
            t.pending += snapshot.pending;
            t.errors += snapshot.errors;
            c.exhausted &= e.stats.exhausted();
            c.errors.extend(e.stats.errors());
            let _ = c
                .complete_latency_ns
                .add(e.stats.latency_ns(LatencyKind::Complete));
            let _ = c
                .execute_latency_ns
                .add(e.stats.latency_ns(LatencyKind::Execute));
            let _ = c
                .process_latency_ns
                .add(e.stats.latency_ns(LatencyKind::Process));
        }
        for c in &mut components {
            c.errors.sort_by_key(|e| e.time);
        }
        TopologyStats { components }
    }

    /// Deactivates the spouts, waits `wait` so trees in flight can finish, then stops every
    /// executor, calling `close` and `cleanup`. Returns the final stats.
    pub fn kill(self, wait: Duration) -> TopologyStats {
        self.kill_capturing(wait).0
    }

    pub(crate) fn kill_capturing(mut self, wait: Duration) -> (TopologyStats, Emitted) {
        self.deactivate();
        std::thread::sleep(wait);
        let reports = stop_all(&mut self.executors, false);
        let mut emitted = Emitted::new();
        for (e, report) in self.executors.iter().zip(reports) {
            if let Some(captured) = report.and_then(|r| r.captured) {
                emitted
                    .entry(e.plan.component.clone())
                    .or_default()
                    .extend(captured);
            }
        }
        tracing::info!(topology = %self.name, "topology killed");
        (self.stats(), emitted)
    }
}

impl Drop for LocalTopology {
    fn drop(&mut self) {
        stop_all(&mut self.executors, false);
    }
}

/// Several named topologies in this process, as Storm's `LocalCluster` offers them.
#[derive(Default)]
pub struct LocalCluster {
    topologies: Mutex<BTreeMap<String, LocalTopology>>,
}

impl LocalCluster {
    /// An empty local cluster.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, name: &str, f: impl FnOnce(&LocalTopology) -> T) -> Result<T, RuntimeError> {
        let topologies = self.topologies.lock().unwrap_or_else(|p| p.into_inner());
        topologies
            .get(name)
            .map(f)
            .ok_or_else(|| RuntimeError::NotFound(name.to_owned()))
    }

    /// Starts a topology under a name not already in use.
    ///
    /// # Errors
    /// When the name is taken or invalid, or a thread cannot be started.
    pub fn submit_topology(
        &self,
        name: &str,
        conf: &Config,
        topology: &Topology,
    ) -> Result<(), RuntimeError> {
        let mut topologies = self.topologies.lock().unwrap_or_else(|p| p.into_inner());
        if topologies.contains_key(name) {
            return Err(RuntimeError::NameTaken(name.to_owned()));
        }
        let running = LocalTopology::start(name, conf, topology)?;
        topologies.insert(name.to_owned(), running);
        Ok(())
    }

    /// Kills a topology (see [`LocalTopology::kill`]).
    ///
    /// # Errors
    /// When no topology has that name.
    pub fn kill_topology(&self, name: &str, wait: Duration) -> Result<TopologyStats, RuntimeError> {
        let running = self
            .topologies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name)
            .ok_or_else(|| RuntimeError::NotFound(name.to_owned()))?;
        Ok(running.kill(wait))
    }

    /// Activates a topology.
    ///
    /// # Errors
    /// When no topology has that name.
    pub fn activate(&self, name: &str) -> Result<(), RuntimeError> {
        self.with(name, LocalTopology::activate)
    }

    /// Deactivates a topology.
    ///
    /// # Errors
    /// When no topology has that name.
    pub fn deactivate(&self, name: &str) -> Result<(), RuntimeError> {
        self.with(name, LocalTopology::deactivate)
    }

    /// A topology's stats.
    ///
    /// # Errors
    /// When no topology has that name.
    pub fn stats(&self, name: &str) -> Result<TopologyStats, RuntimeError> {
        self.with(name, LocalTopology::stats)
    }

    /// The names of the running topologies.
    pub fn topology_names(&self) -> Vec<String> {
        self.topologies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }
}
