//! Turning a topology into running executors: the task layout, one executor per task range,
//! their queues, and the routing from every task id to the queue that reaches it.
//!
//! Local mode starts every executor here; worker mode (a later layer) starts the executors an
//! assignment gives this process and points the other tasks at its network transport.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Sender, bounded, unbounded};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use squall_topology_api::{
    ACKER_COMPONENT_ID, ComponentKind, Config, SharedContext, TaskId, TaskLayout, Topology,
    split_tasks,
};

use crate::collector::Emitter;
use crate::executor::{self, Inbox, Report, Setup};
use crate::message::Control;
use crate::outbox::{Outbox, Peer};
use crate::router::Router;
use crate::settings::{TopologySettings, executor_settings};
use crate::stats::{ExecutorStats, Flow};

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
    pub settings: TopologySettings,
}

impl Plan {
    pub fn new(topology: &Topology, conf: &Config) -> Self {
        let settings = TopologySettings::from_config(conf);
        let spec = topology.spec();
        let cap = |n: u32| settings.max_task_parallelism.map_or(n, |c| n.min(c));
        let mut counts: Vec<(String, u32)> = spec
            .components
            .iter()
            .map(|c| (c.id.clone(), cap(c.tasks)))
            .collect();
        counts.push((ACKER_COMPONENT_ID.to_owned(), settings.ackers));
        let layout = TaskLayout::new(counts);
        let mut executors = Vec::new();
        for c in &spec.components {
            let kind = match c.kind {
                ComponentKind::Spout => ExecutorKind::Spout,
                ComponentKind::Bolt => ExecutorKind::Bolt,
            };
            let tasks = layout.tasks_of(&c.id);
            for range in split_tasks(tasks, cap(c.parallelism)) {
                executors.push(ExecutorPlan {
                    component: c.id.clone(),
                    kind,
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
        Plan {
            layout,
            executors,
            settings,
        }
    }
}

/// A started executor.
pub(crate) struct RunningExecutor {
    pub plan: ExecutorPlan,
    pub control: Sender<Control>,
    pub stats: Arc<ExecutorStats>,
    pub thread: Option<JoinHandle<Report>>,
}

/// Options for starting a topology's executors.
pub(crate) struct StartOptions {
    pub topology_id: String,
    pub start_active: bool,
    pub capture: bool,
}

/// Starts every executor of the plan in this process.
pub(crate) fn start_all(
    topology: &Topology,
    conf: &Config,
    plan: Plan,
    options: &StartOptions,
) -> std::io::Result<(Vec<RunningExecutor>, Arc<Flow>)> {
    let n = plan.executors.len();
    let mut task_peer = vec![u32::MAX; plan.layout.max_task() as usize + 1];
    let mut peers = Vec::with_capacity(n);
    let mut inboxes = Vec::with_capacity(n);
    for (index, e) in plan.executors.iter().enumerate() {
        for &t in &e.tasks {
            task_peer[t as usize] = index as u32;
        }
        let (data_tx, data_rx) = bounded(plan.settings.receive_batches);
        let (control_tx, control_rx) = unbounded();
        peers.push(Peer {
            data: data_tx,
            control: control_tx,
            acks_on_control: e.kind == ExecutorKind::Spout,
        });
        inboxes.push(Inbox {
            data: data_rx,
            control: control_rx,
        });
    }
    let peers: Arc<[Peer]> = peers.into();
    let task_peer: Arc<[u32]> = task_peer.into();
    let all_tasks: Vec<TaskId> = (1..=plan.layout.max_task()).collect();
    let ackers = plan.layout.tasks_of(ACKER_COMPONENT_ID).to_vec();
    let context = Arc::new(SharedContext {
        topology_id: options.topology_id.clone(),
        spec: Arc::clone(topology.spec()),
        layout: Arc::new(plan.layout.clone()),
        worker_tasks: all_tasks.clone(),
        worker_port: None,
    });
    let flow = Arc::new(Flow::default());
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id()).rotate_left(32);
    let mut running = Vec::with_capacity(n);
    for (index, (e, inbox)) in plan.executors.into_iter().zip(inboxes).enumerate() {
        let component_conf = topology
            .spec()
            .component(&e.component)
            .map_or_else(|| conf.clone(), |c| conf.merged(&c.config));
        let mut rng = SmallRng::seed_from_u64(
            seed.wrapping_add((index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        );
        let router = Router::new(
            topology,
            &context.layout,
            &e.component,
            &all_tasks,
            &mut rng,
        );
        let stats = Arc::new(ExecutorStats::default());
        let emitter = Emitter::new(
            router,
            Outbox::new(
                Arc::clone(&peers),
                Arc::clone(&task_peer),
                plan.settings.batch_size,
                Arc::clone(&flow),
            ),
            rng,
            ackers.clone(),
            Arc::clone(&stats),
            options.capture,
            component_conf
                .get_bool(squall_topology_api::config::TOPOLOGY_DEBUG)
                .unwrap_or(false),
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
        let span = tracing::info_span!(
            "executor",
            topology = %options.topology_id,
            component = %e.component,
            task = e.tasks.first().copied().unwrap_or(0),
        );
        let kind = e.kind;
        let spawned = std::thread::Builder::new()
            .name(format!(
                "{}-{}",
                e.component,
                e.tasks.first().copied().unwrap_or(0)
            ))
            .spawn(move || {
                let _entered = span.enter();
                match kind {
                    ExecutorKind::Spout => executor::spout::run(setup),
                    ExecutorKind::Bolt => executor::bolt::run(setup),
                    ExecutorKind::Acker => executor::acker::run(setup),
                }
            });
        let thread = match spawned {
            Ok(thread) => thread,
            Err(e) => {
                stop_all(&mut running);
                return Err(e);
            }
        };
        running.push(RunningExecutor {
            control: peers[index].control.clone(),
            plan: e,
            stats,
            thread: Some(thread),
        });
    }
    Ok((running, flow))
}

/// Tells every executor to stop and waits for them; returns their reports.
pub(crate) fn stop_all(executors: &mut [RunningExecutor]) -> Vec<Option<Report>> {
    for e in executors.iter() {
        // An executor that already stopped has dropped its queue; nothing to tell it.
        let _ = e.control.send(Control::Shutdown);
    }
    executors
        .iter_mut()
        .map(|e| e.thread.take().and_then(|t| t.join().ok()))
        .collect()
}
