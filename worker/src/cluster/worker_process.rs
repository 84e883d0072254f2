//! A worker process: runs the executors its assignment places on its slot, serves the tuple
//! transport on the slot's port, and follows the assignment as it changes.
//!
//! Every second it heartbeats its supervisor with its executors' counters and gets back its
//! topology's current assignment. When the executors placed on its slot change, it stops its
//! executors and starts the new set (trees caught in the move fail and are replayed); when
//! only other workers moved, it just re-points the transport. An empty answer means the
//! worker is no longer assigned, and it exits; so does a worker that cannot reach its
//! supervisor for twice the worker timeout, so none is left orphaned.

use std::sync::Arc;
use std::time::{Duration, Instant};

use squall_proto::pb::WorkerHeartbeatRequest;
use squall_proto::{Assignment, MAX_MESSAGE_BYTES, Slot, SupervisorClient, WorkerServer, env};
use squall_topology_api::{Config, Topology, config};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Server;

use super::ClusterError;
use super::progress::{Observation, ProgressWatch, Stall};
use super::startup::{WAIT_FOR_PEERS_CAP, all_listening, other_slots};
use super::stats::wire_stats;
use crate::assembly::{
    ExecutorKind, ExecutorPlan, StartOptions, Started, kind_of, start_executors, stop_all,
};
use crate::executor::pool::Pool;
use crate::message::Control;
use crate::outbox::Peer;
use crate::settings::executor_threads;
use crate::stats::{ReportedError, resident_bytes};
use crate::transport::codec::StreamTable;
use crate::transport::delivery::LocalTargets;
use crate::transport::receiver::{PlacementGate, TransferService};
use crate::transport::sender::{RemoteSender, Routes, WINDOW_BYTES};

const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// How often waiting spouts look whether the other workers listen yet.
const PEER_PROBE_EVERY: Duration = Duration::from_millis(100);
const DEFAULT_TIMEOUT_SECS: u64 = 30;

/// The worker's certificate when its supervisor runs with security on: from
/// `SQUALL_WORKER_TLS_DIR`, and it must be a worker certificate of this topology.
fn worker_tls(
    topology_id: &str,
) -> Result<Option<Arc<squall_security::TlsSettings>>, ClusterError> {
    let Some(dir) = std::env::var_os(env::WORKER_TLS_DIR) else {
        return Ok(None);
    };
    let dir = std::path::PathBuf::from(dir);
    let files = squall_security::TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    let tls =
        squall_security::TlsSettings::load(&files).map_err(|e| ClusterError::Env(e.to_string()))?;
    let p = &tls.principal;
    if p.role != squall_security::Role::Worker
        || p.name != squall_security::pki::worker_name(topology_id)
    {
        return Err(ClusterError::Env(format!(
            "the certificate in {} is for {p}, not a worker of topology {topology_id}",
            dir.display()
        )));
    }
    Ok(Some(Arc::new(tls)))
}

/// Routes what user code prints with `print!` to the log as lines with a time and the target
/// `stdout`, instead of bare text between the log's lines. (Which executor printed a line is
/// not knowable from a shared file descriptor: components that want their lines under their
/// component log with `squall_worker::tracing`.)
fn stdout_into_log() -> std::io::Result<()> {
    use std::io::BufRead;
    let (reader, writer) = std::io::pipe()?;
    nix::unistd::dup2_stdout(&writer).map_err(std::io::Error::from)?;
    drop(writer);
    std::thread::Builder::new()
        .name("stdout".into())
        .spawn(move || {
            // Byte lines, shown lossily: a line that is not UTF-8 must not end the reader (the
            // next print! would then fail on a closed pipe).
            let mut reader = std::io::BufReader::new(reader);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) => return,
                    Ok(_) => {
                        let text = String::from_utf8_lossy(&line);
                        tracing::info!(target: "stdout", "{}", text.trim_end_matches(['\n', '\r']));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => return,
                }
            }
        })?;
    Ok(())
}

fn var(name: &str) -> Result<String, ClusterError> {
    std::env::var(name).map_err(|_| ClusterError::Env(format!("{name} is not set")))
}

pub(crate) fn run(topology: &Topology) -> Result<(), ClusterError> {
    let topology_id = var(env::WORKER_TOPOLOGY_ID)?;
    let host = var(env::WORKER_HOST)?;
    let port: u16 = var(env::WORKER_PORT)?
        .parse()
        .map_err(|_| ClusterError::Env(format!("{} is not a port", env::WORKER_PORT)))?;
    let supervisor_url = var(env::SUPERVISOR_URL)?;
    let timeout = Duration::from_secs(
        std::env::var(env::WORKER_TIMEOUT_SECS)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(DEFAULT_TIMEOUT_SECS),
    );
    let progress_timeout = Duration::from_secs(
        std::env::var(env::WORKER_PROGRESS_TIMEOUT_SECS)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(env::DEFAULT_WORKER_PROGRESS_TIMEOUT_SECS),
    );
    // Worker output goes to the supervisor's log file for this slot; if the topology's main
    // set up no logging, log at info there.
    let ours = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .try_init()
        .is_ok();
    let span = tracing::info_span!("worker", topology = %topology_id, port);
    let _entered = span.enter();
    // Only with our own subscriber, which writes to stderr: one the topology's main set up may
    // write to stdout, and re-logging stdout into it would feed it back for ever.
    if ours && let Err(e) = stdout_into_log() {
        tracing::warn!(error = %e, "print! output goes to the log without a time stamp");
    }

    let tls = worker_tls(&topology_id)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("worker-io")
        .enable_all()
        .build()?;
    let table = Arc::new(StreamTable::new(topology));
    let (targets_tx, targets_rx) = tokio::sync::watch::channel(None);
    let gate = Arc::new(PlacementGate::default());
    let mut service = TransferService::new(
        Arc::clone(&table),
        targets_rx,
        &topology_id,
        Arc::clone(&gate),
    );
    if tls.is_some() {
        service = service.secure();
    }
    let mut server = Server::builder();
    if let Some(tls) = &tls {
        server = server
            .tls_config(tls.server())
            .map_err(|e| ClusterError::Env(format!("cannot serve over TLS: {e}")))?;
    }
    let listener = runtime.block_on(tokio::net::TcpListener::bind((host.as_str(), port)))?;
    runtime.spawn(async move {
        let served = server
            .initial_stream_window_size(Some(WINDOW_BYTES))
            .initial_connection_window_size(Some(WINDOW_BYTES))
            .tcp_nodelay(true)
            .add_service(
                WorkerServer::new(service)
                    .max_decoding_message_size(MAX_MESSAGE_BYTES)
                    .max_encoding_message_size(MAX_MESSAGE_BYTES),
            )
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "transport server stopped");
        }
    });
    let sender = RemoteSender::new(table, runtime.handle().clone(), &topology_id, tls.clone());
    let _runtime_context = runtime.enter();
    let channel = squall_security::endpoint(&supervisor_url, tls.as_deref())
        .map_err(|e| ClusterError::Env(e.to_string()))?
        .connect_timeout(Duration::from_secs(1))
        .timeout(Duration::from_secs(5))
        .connect_lazy();
    let mut supervisor = SupervisorClient::new(channel);
    tracing::info!("worker started");

    let me = Slot {
        host: host.clone(),
        port,
    };
    let mut current: Option<(Assignment, Started)> = None;
    let mut last_contact = Instant::now();
    // Since when freshly started spouts have been waiting for the other workers.
    let mut waiting_for_peers: Option<Instant> = None;
    let mut next_heartbeat = Instant::now();
    let mut refused_logged = 0;
    let mut progress = ProgressWatch::default();
    let mut stuck = String::new();
    loop {
        if let (Some(since), Some((assignment, started))) = (waiting_for_peers, &current) {
            let peers = other_slots(assignment, &me);
            let ready = all_listening(&peers);
            if ready || since.elapsed() >= WAIT_FOR_PEERS_CAP {
                if assignment.status.spouts_active() {
                    tracing::info!(ready, "activating spouts");
                    for e in started
                        .executors
                        .iter()
                        .filter(|e| e.plan.kind == ExecutorKind::Spout)
                    {
                        e.command(Control::Activate);
                    }
                }
                waiting_for_peers = None;
            }
        }
        let now = Instant::now();
        if now < next_heartbeat {
            std::thread::sleep((next_heartbeat - now).min(PEER_PROBE_EVERY));
            continue;
        }
        next_heartbeat = now + HEARTBEAT_EVERY;
        let refused = gate.refused();
        if refused != refused_logged {
            tracing::warn!(
                refused,
                "batches routed under another placement, or to tasks not here, were refused (their trees replay)"
            );
            refused_logged = refused;
        }
        // A progress timeout of 0 turns the check off.
        if stuck.is_empty()
            && !progress_timeout.is_zero()
            && let Some((_, started)) = &current
            && let Some(reason) = stuck_reason(&mut progress, started, progress_timeout)
        {
            tracing::error!(reason = %reason, "executors make no progress; asking to be restarted");
            stuck = reason;
        }
        let request = WorkerHeartbeatRequest {
            topology_id: topology_id.clone(),
            port: u32::from(port),
            pid: std::process::id(),
            executors: current
                .as_ref()
                .map(|(_, s)| wire_stats(&s.executors))
                .unwrap_or_default(),
            memory_bytes: resident_bytes(),
            stuck: stuck.clone(),
        };
        match runtime.block_on(supervisor.worker_heartbeat(request)) {
            Ok(reply) => {
                last_contact = Instant::now();
                let json = reply.into_inner().assignment_json;
                if json.is_empty() {
                    tracing::info!("no longer assigned; exiting");
                    break;
                }
                match serde_json::from_str::<Assignment>(&json) {
                    Ok(assignment) => {
                        // Admitted from now on: by the time the new executors are reachable
                        // (follow publishes them) their placement's batches are let in.
                        gate.set(assignment.placement_version);
                        let (next, restarted) =
                            follow(topology, &me, assignment, current, &sender, &targets_tx)?;
                        current = next;
                        let gated = current
                            .as_ref()
                            .is_some_and(|(a, _)| !other_slots(a, &me).is_empty());
                        if restarted && gated {
                            waiting_for_peers = Some(Instant::now());
                        }
                        if restarted {
                            progress = ProgressWatch::default();
                            stuck.clear();
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "unreadable assignment; keeping the last one")
                    }
                }
            }
            Err(status) => {
                if last_contact.elapsed() > timeout * 2 {
                    tracing::error!(%status, "supervisor unreachable for too long; exiting");
                    break;
                }
                tracing::warn!(%status, "heartbeat failed");
            }
        }
    }
    if let Some((_, mut started)) = current {
        // The worker is going away for good (unassigned, or its supervisor is gone): its
        // spouts' trees are failed back to them, as in a planned restart.
        stop_all(&mut started.executors, true);
    }
    Ok(())
}

/// Whether two confs run executors the same way. `topology.workers` is left out: a
/// rebalance changes it, but executors never read it (the acker count is fixed at submit), and
/// restarting them all for it would fail every tree in flight at the start of the drain.
fn same_running_conf(a: &Config, b: &Config) -> bool {
    let running = |c: &Config| {
        c.iter()
            .filter(|(k, _)| *k != config::TOPOLOGY_WORKERS)
            .map(|(k, v)| (k.to_owned(), v.clone()))
            .collect::<Vec<_>>()
    };
    running(a) == running(b)
}

/// Looks at the executors' progress; when one has had input queued and done nothing for
/// `timeout`, records why as that executor's error (so status shows it) and returns it.
fn stuck_reason(watch: &mut ProgressWatch, started: &Started, timeout: Duration) -> Option<String> {
    let observations: Vec<Observation> = started
        .executors
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let c = e.stats.snapshot();
            let queued = match started.wiring.peers.get(i) {
                Some(Peer::Local { data, control, .. }) => data.len() + control.len(),
                _ => 0,
            };
            Observation {
                progress: c.executed + c.emitted + c.acked + c.failed + c.transferred,
                queued,
            }
        })
        .collect();
    let stalls: Vec<Stall> = watch
        .observe(Instant::now(), &observations)
        .into_iter()
        .filter(|s| s.stalled_for >= timeout)
        .collect();
    if stalls.is_empty() {
        return None;
    }
    let name = |s: &Stall| {
        let e = &started.executors[s.index];
        let task = e.plan.tasks.first().copied().unwrap_or(0);
        (format!("{}[{task}]", e.plan.component), task)
    };
    let named: Vec<String> = stalls.iter().map(|s| name(s).0).collect();
    let reason = format!(
        "executors {} made no progress for {} s with input queued; restarting their worker \
         (supervisor.worker.progress.timeout.secs)",
        named.join(", "),
        timeout.as_secs()
    );
    for s in &stalls {
        let (executor, task) = name(s);
        started.executors[s.index]
            .stats
            .record_error(ReportedError {
                time: std::time::SystemTime::now(),
                task,
                message: format!(
                    "executor {executor} made no progress for {} s with {} messages queued; \
                 restarting its worker (supervisor.worker.progress.timeout.secs)",
                    s.stalled_for.as_secs(),
                    s.queued
                ),
            });
    }
    Some(reason)
}

/// Applies a (possibly unchanged) assignment; returns the new current state and whether the
/// executors were (re)started. Restarted spouts start inactive when other workers take part:
/// the caller activates them once those listen.
fn follow(
    topology: &Topology,
    me: &Slot,
    assignment: Assignment,
    current: Option<(Assignment, Started)>,
    sender: &RemoteSender,
    targets: &tokio::sync::watch::Sender<Option<Arc<LocalTargets>>>,
) -> Result<(Option<(Assignment, Started)>, bool), ClusterError> {
    let mine = |a: &Assignment| -> Vec<ExecutorPlan> {
        a.executors_on(me)
            .map(|e| ExecutorPlan {
                component: e.component.clone(),
                kind: kind_of(topology, &e.component),
                tasks: e.tasks.clone(),
            })
            .collect()
    };
    sender.set_routes(
        Routes::new(
            assignment
                .executors
                .iter()
                .filter(|e| e.slot != *me)
                .map(|e| (&e.slot, e.tasks.as_slice())),
        ),
        assignment.placement_version,
    );
    if let Some((old, started)) = &current {
        let same_executors = mine(old)
            .iter()
            .map(|e| &e.tasks)
            .eq(mine(&assignment).iter().map(|e| &e.tasks));
        if same_executors && same_running_conf(&old.conf, &assignment.conf) {
            if old.status.spouts_active() != assignment.status.spouts_active() {
                let command = || {
                    if assignment.status.spouts_active() {
                        Control::Activate
                    } else {
                        Control::Deactivate
                    }
                };
                for e in started
                    .executors
                    .iter()
                    .filter(|e| e.plan.kind == ExecutorKind::Spout)
                {
                    e.command(command());
                }
            }
            let started = current.map(|(_, s)| s);
            return Ok((started.map(|s| (assignment, s)), false));
        }
    }
    // Executors that stay on this slot keep running (their spouts keep what they hold in
    // memory); the ones that move away stop, failing their trees in flight back to their
    // spouts; the ones that arrive start. A new conf restarts them all.
    let wanted = mine(&assignment);
    let old_pool = current.as_ref().map(|(_, s)| Arc::clone(&s.pool));
    let same =
        |a: &ExecutorPlan, b: &ExecutorPlan| a.component == b.component && a.tasks == b.tasks;
    let kept = match current {
        Some((old, started)) if same_running_conf(&old.conf, &assignment.conf) => {
            let (kept, mut leaving): (Vec<_>, Vec<_>) = started
                .executors
                .into_iter()
                .partition(|e| wanted.iter().any(|w| same(w, &e.plan)));
            tracing::info!(
                kept = kept.len(),
                stopped = leaving.len(),
                "placement changed; keeping the executors that stay here"
            );
            stop_all(&mut leaving, true);
            kept
        }
        Some((_, mut started)) => {
            tracing::info!("configuration changed; restarting this worker's executors");
            stop_all(&mut started.executors, true);
            Vec::new()
        }
        None => Vec::new(),
    };
    let arriving: Vec<ExecutorPlan> = wanted
        .into_iter()
        .filter(|w| !kept.iter().any(|k| same(w, &k.plan)))
        .collect();
    let kept_spouts: Vec<_> = kept
        .iter()
        .filter(|e| e.plan.kind == ExecutorKind::Spout)
        .map(|e| e.peer.clone())
        .collect();
    let conf = assignment.conf.clone();
    let layout = topology.spec().layout(&conf);
    let alone = other_slots(&assignment, me).is_empty();
    // Kept executors stay on their threads; a full restart gets threads sized for it.
    let pool = match old_pool {
        Some(pool) if !kept.is_empty() => pool,
        _ => Pool::new(
            executor_threads(&conf, kept.len() + arriving.len()),
            "executor",
        )?,
    };
    let options = StartOptions {
        topology_id: assignment.topology_id.clone(),
        start_active: assignment.status.spouts_active() && alone,
        capture: false,
        worker_port: Some(me.port),
        pool,
    };
    let started = start_executors(
        topology,
        &conf,
        &layout,
        kept,
        arriving,
        Some(sender.link()),
        &options,
    )?;
    // Kept spouts follow the status now; with other workers taking part the caller activates
    // every spout once they listen.
    for spout in kept_spouts {
        if !assignment.status.spouts_active() {
            spout.command(Control::Deactivate);
        } else if alone {
            spout.command(Control::Activate);
        }
    }
    targets.send_replace(Some(Arc::new(LocalTargets::new(&started.wiring))));
    tracing::info!(executors = started.executors.len(), "executors started");
    Ok((Some((assignment, started)), true))
}
