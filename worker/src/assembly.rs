//! Turning a topology into running executors: the task layout, one executor per task range,
//! their queues, and the routing from every task id to the queue that reaches it.
//!
//! Local mode starts every executor here; worker mode (a later layer) starts the executors an
//! assignment gives this process and points the other tasks at its network transport.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, bounded, unbounded};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use squall_topology_api::{
    ACKER_COMPONENT_ID, ComponentKind, Config, SharedContext, TaskId, TaskLayout, Topology,
    cap_parallelism, split_tasks,
};

use crate::anchoring::RootRange;
use crate::collector::{AckerTasks, EmitWatch, Emitter};
use crate::executor::pool::Pool;
use crate::executor::{ExecutorTask, Inbox, Report, Setup};
use crate::latency::{DEFAULT_SAMPLE_RATE, Latencies};
use crate::message::{Control, Rewiring};
use crate::outbox::{NO_PEER, Outbox, Peer};
use crate::router::{Locality, Router};
use crate::settings::{TopologySettings, executor_settings, locality_bounds};
use crate::stats::{ExecutorStats, Flow};
use crate::transport::sender::RemoteLink;
use crate::waker::QueueWaker;

/// What kind of executor runs a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutorKind {
    /// Runs spout tasks.
    Spout,
    /// Runs bolt tasks.
    Bolt,
    /// Runs an acker task.
    Acker,
}

/// One executor to start: a component and a contiguous range of its tasks.
#[derive(Debug, Clone)]
pub(crate) struct ExecutorPlan {
    pub component: String,
    pub kind: ExecutorKind,
    pub tasks: Vec<TaskId>,
}

/// The task numbering and executor split of a topology under a configuration.
pub(crate) struct Plan {
    pub layout: TaskLayout,
    pub executors: Vec<ExecutorPlan>,
}

impl Plan {
    /// Every executor of the topology, each component split by its parallelism.
    pub fn new(topology: &Topology, conf: &Config) -> Self {
        let spec = topology.spec();
        let layout = spec.layout(conf);
        let mut executors = Vec::new();
        for c in &spec.components {
            let tasks = layout.tasks_of(&c.id);
            for range in split_tasks(tasks, cap_parallelism(conf, c.parallelism)) {
                executors.push(ExecutorPlan {
                    component: c.id.clone(),
                    kind: kind_of(topology, &c.id),
                    tasks: range.to_vec(),
                });
            }
        }
        for &task in layout.tasks_of(ACKER_COMPONENT_ID) {
            executors.push(ExecutorPlan {
                component: ACKER_COMPONENT_ID.to_owned(),
                kind: ExecutorKind::Acker,
                tasks: vec![task],
            });
        }
        Plan { layout, executors }
    }
}

/// What runs a component's tasks.
pub(crate) fn kind_of(topology: &Topology, component: &str) -> ExecutorKind {
    match topology.spec().component(component).map(|c| c.kind) {
        Some(ComponentKind::Spout) => ExecutorKind::Spout,
        Some(ComponentKind::Bolt) => ExecutorKind::Bolt,
        None => ExecutorKind::Acker,
    }
}

/// A started executor.
pub(crate) struct RunningExecutor {
    pub plan: ExecutorPlan,
    /// How other executors of this process reach it.
    pub peer: Peer,
    pub stats: Arc<ExecutorStats>,
    /// Where its report arrives when it stops.
    pub done: Option<Receiver<Report>>,
}

impl RunningExecutor {
    /// Queues a lifecycle command and wakes the executor; false when it has stopped.
    pub fn command(&self, c: Control) -> bool {
        self.peer.command(c)
    }
}

/// Options for starting a topology's executors.
pub(crate) struct StartOptions {
    pub topology_id: String,
    pub start_active: bool,
    pub capture: bool,
    pub worker_port: Option<u16>,
    /// The threads the executors run on.
    pub pool: Arc<Pool>,
}

/// How this process reaches every task: its own executors' queues, and the network
/// transport for the tasks of other workers.
pub(crate) struct Wiring {
    pub peers: Arc<[Peer]>,
    /// Peer index of each task id.
    pub task_peer: Arc<[u32]>,
    /// The same, with the tasks of other workers unreachable: for batches that came from the
    /// network, which must never be sent back out.
    pub local_task_peer: Arc<[u32]>,
}

/// Started executors and how to reach them.
pub(crate) struct Started {
    pub executors: Vec<RunningExecutor>,
    pub flow: Arc<Flow>,
    pub wiring: Wiring,
    /// The threads they run on.
    pub pool: Arc<Pool>,
}

/// Starts `executors` in this process beside the `kept` ones, which go on running and are
/// told the new wiring. Tasks that none of them runs are reached through `remote` (the
/// transport) when given.
pub(crate) fn start_executors(
    topology: &Topology,
    conf: &Config,
    layout: &TaskLayout,
    kept: Vec<RunningExecutor>,
    executors: Vec<ExecutorPlan>,
    remote: Option<RemoteLink>,
    options: &StartOptions,
) -> std::io::Result<Started> {
    let n = kept.len() + executors.len();
    let first_new = kept.len();
    let TopologySettings {
        batch_size,
        receive_batches,
    } = TopologySettings::from_config(conf);
    let mut local_task_peer = vec![NO_PEER; layout.max_task() as usize + 1];
    let mut peers = Vec::with_capacity(n + 1);
    let mut inboxes = Vec::with_capacity(n);
    let mut wakes = Vec::with_capacity(n);
    for (index, k) in kept.iter().enumerate() {
        for &t in &k.plan.tasks {
            if let Some(slot) = local_task_peer.get_mut(t as usize) {
                *slot = index as u32;
            }
        }
        peers.push(k.peer.clone());
    }
    for (index, e) in executors.iter().enumerate() {
        let index = first_new + index;
        for &t in &e.tasks {
            if let Some(slot) = local_task_peer.get_mut(t as usize) {
                *slot = index as u32;
            }
        }
        let (data_tx, data_rx) = bounded(receive_batches);
        let (control_tx, control_rx) = unbounded();
        let waker = Arc::new(QueueWaker::default());
        // A root span: under the worker's span every line would name the topology twice.
        let span = tracing::info_span!(
            parent: None,
            "executor",
            topology = %options.topology_id,
            component = %e.component,
            task = e.tasks.first().copied().unwrap_or(0),
        );
        let wake = options.pool.entry(span);
        peers.push(Peer::Local {
            data: data_tx,
            control: control_tx,
            waker: Arc::clone(&waker),
            wake: wake.clone(),
            acks_on_control: e.kind == ExecutorKind::Spout,
        });
        wakes.push(wake);
        inboxes.push(Inbox {
            data: data_rx,
            control: control_rx,
            waker,
        });
    }
    let mut task_peer = local_task_peer.clone();
    if let Some(remote) = remote {
        let remote_index = peers.len() as u32;
        peers.push(Peer::Remote(remote));
        for p in task_peer.iter_mut().skip(1) {
            if *p == NO_PEER {
                *p = remote_index;
            }
        }
    }
    let worker_tasks: Vec<TaskId> = kept
        .iter()
        .map(|k| &k.plan)
        .chain(&executors)
        .flat_map(|e| e.tasks.iter().copied())
        .collect();
    let wiring = Wiring {
        peers: peers.into(),
        task_peer: task_peer.into(),
        local_task_peer: local_task_peer.into(),
    };
    let all_ackers = layout.tasks_of(ACKER_COMPONENT_ID).to_vec();
    let ackers = AckerTasks {
        here: (0..all_ackers.len())
            .filter(|&i| worker_tasks.contains(&all_ackers[i]))
            .map(|i| RootRange::of_bucket(i, all_ackers.len()))
            .collect(),
        all: all_ackers,
    };
    let context = Arc::new(SharedContext {
        topology_id: options.topology_id.clone(),
        spec: Arc::clone(topology.spec()),
        layout: Arc::new(layout.clone()),
        worker_tasks: worker_tasks.clone(),
        worker_port: options.worker_port,
    });
    let flow = Arc::new(Flow::default());
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id()).rotate_left(32);
    let mut running: Vec<RunningExecutor> = Vec::with_capacity(n);
    running.extend(kept);
    for (index, ((e, inbox), wake)) in executors.into_iter().zip(inboxes).zip(wakes).enumerate() {
        let index = first_new + index;
        let component_conf = topology
            .spec()
            .component(&e.component)
            .map_or_else(|| conf.clone(), |c| conf.merged(&c.config));
        let mut rng = SmallRng::seed_from_u64(
            seed.wrapping_add((index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        );
        let locality = Locality {
            worker_tasks: &worker_tasks,
            bounds: locality_bounds(&component_conf),
        };
        let router = Router::new(topology, &context.layout, &e.component, &locality, &mut rng);
        let stats = Arc::new(ExecutorStats::new(router.stream_ids()));
        let latencies = Latencies::new(
            component_conf
                .get_f64(squall_topology_api::config::TOPOLOGY_STATS_SAMPLE_RATE)
                .unwrap_or(DEFAULT_SAMPLE_RATE),
            &mut rng,
        );
        let emitter = Emitter::new(
            router,
            Outbox::new(
                Arc::clone(&wiring.peers),
                Arc::clone(&wiring.task_peer),
                batch_size,
                Arc::clone(&flow),
                wake.clone(),
            ),
            rng,
            ackers.clone(),
            Arc::clone(&stats),
            latencies,
            EmitWatch {
                capture: options.capture,
                debug: component_conf
                    .get_bool(squall_topology_api::config::TOPOLOGY_DEBUG)
                    .unwrap_or(false),
            },
        );
        let setup = Setup {
            topology: topology.clone(),
            context: Arc::clone(&context),
            component: e.component.clone(),
            tasks: e.tasks.clone(),
            settings: executor_settings(&component_conf, options.start_active),
            config: Arc::new(component_conf),
            inbox,
            emitter,
        };
        let (done_tx, done_rx) = crossbeam_channel::bounded(1);
        options
            .pool
            .start(&wake, Box::new(ExecutorTask::new(setup, e.kind, done_tx)));
        running.push(RunningExecutor {
            peer: wiring.peers[index].clone(),
            plan: e,
            stats,
            done: Some(done_rx),
        });
    }
    for k in &running[..first_new] {
        // A kept executor that stopped meanwhile has dropped its queue; nothing to tell it.
        k.command(Control::Rewire(Rewiring {
            peers: Arc::clone(&wiring.peers),
            task_peer: Arc::clone(&wiring.task_peer),
        }));
    }
    Ok(Started {
        executors: running,
        flow,
        wiring,
        pool: Arc::clone(&options.pool),
    })
}

/// Tells every executor to stop and waits for them; returns their reports. With
/// `fail_pending`, spouts fail their trees in flight back to themselves before `close`.
pub(crate) fn stop_all(
    executors: &mut [RunningExecutor],
    fail_pending: bool,
) -> Vec<Option<Report>> {
    for e in executors.iter() {
        // An executor that already stopped has dropped its queue; nothing to tell it.
        e.command(Control::Shutdown { fail_pending });
    }
    executors
        .iter_mut()
        .map(|e| e.done.take().and_then(|done| done.recv().ok()))
        .collect()
}
