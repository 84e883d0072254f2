//! The supervisor, Squall's host agent: registers its slots with Nimbus by heartbeating,
//! downloads topology binaries into a content-addressed cache, starts one worker process per
//! assigned slot, restarts workers that die or stop heartbeating, and kills the ones no
//! longer assigned. With Nimbus unreachable it keeps its workers as they are; restarted, it
//! adopts them, serves them on the API address they know, and answers them from the
//! assignments it last had (see [`memory`]).

pub mod authorize;
pub mod cache;
pub mod logs;
pub mod memory;
pub mod workers;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use squall_proto::pb::{
    LogChunk, ReadLogRequest, RunningWorker, SupervisorHeartbeatRequest, WorkerAssignment,
    WorkerHeartbeatReply, WorkerHeartbeatRequest,
};
use squall_proto::{MAX_MESSAGE_BYTES, NimbusClient, Supervisor, SupervisorServer};
use squall_topology_api::Config;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use cache::BinaryCache;
use memory::AssignmentMemory;
use workers::{StartSpec, Workers};

/// How often worker logs are checked against `supervisor.worker.log.max.bytes`.
const LOG_ROTATION_CHECK: Duration = Duration::from_secs(5);

/// `supervisor.worker.timeout.secs`: a worker silent this long is restarted (Storm: 30).
pub const WORKER_TIMEOUT_KEY: &str = "supervisor.worker.timeout.secs";
const DEFAULT_WORKER_TIMEOUT_SECS: u64 = 30;
/// `supervisor.worker.progress.timeout.secs`: a worker whose executor has had input queued and
/// done nothing this long is restarted (a deadlock, a bolt stuck in a call that never returns);
/// 0 turns the check off.
pub const WORKER_PROGRESS_TIMEOUT_KEY: &str = "supervisor.worker.progress.timeout.secs";
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

/// Why the supervisor failed.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// A local file or process operation failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Nimbus refused or failed a request.
    #[error("nimbus: {}", .0.message())]
    Rpc(#[from] Status),
    /// A binary could not be fetched or verified.
    #[error("{0}")]
    Binary(String),
    /// The gRPC server failed.
    #[error("server: {0}")]
    Server(#[from] tonic::transport::Error),
    /// An address or option is malformed.
    #[error("{0}")]
    Invalid(String),
}

/// How to run a supervisor.
#[derive(Debug, Clone)]
pub struct SupervisorOptions {
    /// Nimbus's URL.
    pub nimbus: String,
    /// This host's address: workers serve on it and Nimbus hands it to peers.
    pub host: String,
    /// Slot ports.
    pub slots: Vec<u16>,
    /// Where the cache, worker records and logs live.
    pub data_dir: PathBuf,
    /// Daemon configuration (`supervisor.*` keys).
    pub conf: Config,
    /// Talk to Nimbus over mutual TLS with this supervisor certificate, whose name is then
    /// the supervisor's id; `None`: security off.
    pub tls: Option<squall_security::TlsSettings>,
}

struct Shared {
    workers: Workers,
    /// Assignment JSON by (topology, port), as Nimbus last gave it.
    assigned: BTreeMap<(String, u16), String>,
    /// Who may read each topology's logs here (with security on), as Nimbus last said.
    log_readers: BTreeMap<String, Vec<String>>,
    /// Whether `assigned` says anything: false from a first start until Nimbus answers. Until
    /// then a worker's heartbeat gets "unavailable", never "unassigned", which would make it
    /// exit.
    known: bool,
}

type SharedRef = Arc<Mutex<Shared>>;

fn lock(shared: &SharedRef) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// The gRPC side: workers' heartbeats, and their logs for `squall logs`.
struct SupervisorService {
    shared: SharedRef,
    /// Whether the API runs over mutual TLS (callers then have certificates to check).
    secure: bool,
}

/// The principal of a request's verified client certificate.
fn caller<T>(request: &Request<T>) -> Option<squall_security::Principal> {
    request.peer_certs().and_then(|certs| {
        certs
            .first()
            .and_then(|c| squall_security::principal_of(c.as_ref()))
    })
}

fn denied(d: authorize::Denied) -> Status {
    Status::permission_denied(d.to_string())
}

type LogStream =
    std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<LogChunk, Status>> + Send>>;

#[tonic::async_trait]
impl Supervisor for SupervisorService {
    async fn worker_heartbeat(
        &self,
        request: Request<WorkerHeartbeatRequest>,
    ) -> Result<Response<WorkerHeartbeatReply>, Status> {
        let who = caller(&request);
        let hb = request.into_inner();
        authorize::worker_heartbeat(who.as_ref(), self.secure, &hb.topology_id).map_err(denied)?;
        let port = u16::try_from(hb.port)
            .map_err(|_| Status::invalid_argument(format!("invalid port {}", hb.port)))?;
        let mut shared = lock(&self.shared);
        if !shared.known {
            return Err(Status::unavailable(
                "this supervisor has not heard from nimbus yet; keep running and retry",
            ));
        }
        if let Some(w) = shared.workers.by_port.get_mut(&port)
            && w.topology_id == hb.topology_id
        {
            w.last_heartbeat = Some(Instant::now());
            w.stats = hb.executors;
            w.memory_bytes = hb.memory_bytes;
            w.stuck = (!hb.stuck.is_empty()).then_some(hb.stuck);
        }
        let assignment_json = shared
            .assigned
            .get(&(hb.topology_id, port))
            .cloned()
            .unwrap_or_default();
        Ok(Response::new(WorkerHeartbeatReply { assignment_json }))
    }

    type ReadLogStream = LogStream;

    async fn read_log(
        &self,
        request: Request<ReadLogRequest>,
    ) -> Result<Response<Self::ReadLogStream>, Status> {
        let who = caller(&request);
        let req = request.into_inner();
        let readers = lock(&self.shared)
            .log_readers
            .get(&req.topology_id)
            .cloned()
            .unwrap_or_default();
        authorize::read_log(who.as_ref(), self.secure, &req.topology_id, &readers)
            .map_err(denied)?;
        let port = u16::try_from(req.port)
            .map_err(|_| Status::invalid_argument(format!("invalid port {}", req.port)))?;
        if !squall_topology_api::valid_topology_name(&req.topology_id) {
            return Err(Status::invalid_argument(format!(
                "invalid topology id {:?}",
                req.topology_id
            )));
        }
        let path = lock(&self.shared).workers.log_path(&req.topology_id, port);
        let stream = logs::read(path, req.tail_bytes, req.follow).await?;
        Ok(Response::new(Box::pin(stream)))
    }
}

/// This supervisor's id, kept in its data dir so it survives restarts.
fn identity(data_dir: &std::path::Path) -> Result<String, SupervisorError> {
    let path = data_dir.join("supervisor-id");
    if let Ok(id) = std::fs::read_to_string(&path)
        && !id.trim().is_empty()
    {
        return Ok(id.trim().to_owned());
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let id = format!(
        "supervisor-{:x}",
        nanos ^ (u128::from(std::process::id()) << 64)
    );
    std::fs::write(&path, &id)?;
    Ok(id)
}

/// Serves the supervisor API on `listener` and keeps this host's workers in line with Nimbus
/// until the process ends.
///
/// # Errors
/// When the data dir cannot be set up or the server fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    options: SupervisorOptions,
) -> Result<(), SupervisorError> {
    std::fs::create_dir_all(&options.data_dir)?;
    // With TLS the id is the certificate's name: Nimbus accepts heartbeats for that id only.
    let id = match &options.tls {
        Some(tls) => tls.principal.name.clone(),
        None => identity(&options.data_dir)?,
    };
    let timeout = Duration::from_secs(
        options
            .conf
            .get_u64(WORKER_TIMEOUT_KEY)
            .unwrap_or(DEFAULT_WORKER_TIMEOUT_SECS),
    );
    let progress_timeout = Duration::from_secs(
        options
            .conf
            .get_u64(WORKER_PROGRESS_TIMEOUT_KEY)
            .unwrap_or(squall_proto::env::DEFAULT_WORKER_PROGRESS_TIMEOUT_SECS),
    );
    let workers = Workers::recover(&options.data_dir.join("workers"))?;
    let cache = BinaryCache::open(&options.data_dir.join("cache"))?;
    let memory = AssignmentMemory::new(&options.data_dir);
    let remembered = memory.load();
    let shared: SharedRef = Arc::new(Mutex::new(Shared {
        workers,
        assigned: remembered
            .as_deref()
            .map(memory::by_slot)
            .unwrap_or_default(),
        log_readers: BTreeMap::new(),
        known: remembered.is_some(),
    }));
    let local = listener.local_addr()?;
    memory::remember_api_address(&options.data_dir, local)?;
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    // Listening on every address, the API is reached at the host's own address, which is
    // also the name its certificate holds.
    let supervisor_url = if local.ip().is_unspecified() {
        format!("{scheme}://{}:{}", options.host, local.port())
    } else {
        format!("{scheme}://{local}")
    };
    let channel = squall_security::endpoint(&options.nimbus, options.tls.as_ref())
        .map_err(|e| SupervisorError::Invalid(e.to_string()))?
        .connect_timeout(Duration::from_secs(1))
        .timeout(Duration::from_secs(10))
        .connect_lazy();
    let nimbus = NimbusClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let reconciler = Reconciler {
        id,
        options,
        timeout,
        progress_timeout,
        supervisor_url,
        shared: Arc::clone(&shared),
        cache,
        nimbus,
        started: Instant::now(),
        memory,
    };
    let log_dir = reconciler.options.data_dir.join("workers");
    let log_max = reconciler
        .options
        .conf
        .get_u64(logs::LOG_MAX_BYTES_KEY)
        .unwrap_or(logs::DEFAULT_LOG_MAX_BYTES);
    let tls = reconciler.options.tls.clone();
    tokio::spawn(reconciler.run());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(LOG_ROTATION_CHECK).await;
            let dir = log_dir.clone();
            match tokio::task::spawn_blocking(move || logs::rotate_logs(&dir, log_max)).await {
                Ok(Ok(n)) if n > 0 => tracing::info!(logs = n, "rotated worker logs"),
                Ok(Err(e)) => tracing::warn!(error = %e, "cannot scan worker logs"),
                _ => {}
            }
        }
    });
    tracing::info!(addr = %local, "supervisor serving");
    let mut server = tonic::transport::Server::builder();
    if let Some(tls) = &tls {
        server = server.tls_config(tls.server())?;
    }
    server
        .add_service(SupervisorServer::new(SupervisorService {
            shared,
            secure: tls.is_some(),
        }))
        .serve_with_incoming(TcpListenerStream::new(listener))
        .await?;
    Ok(())
}

/// The loop that heartbeats Nimbus and reconciles this host's workers.
struct Reconciler {
    id: String,
    options: SupervisorOptions,
    timeout: Duration,
    progress_timeout: Duration,
    supervisor_url: String,
    shared: SharedRef,
    cache: BinaryCache,
    nimbus: NimbusClient<Channel>,
    started: Instant,
    memory: AssignmentMemory,
}

impl Reconciler {
    async fn run(mut self) {
        // Until Nimbus answers, the assignments remembered from before a restart stand.
        let mut last: Option<Vec<WorkerAssignment>> = self.memory.load();
        loop {
            let request = self.heartbeat();
            match self.nimbus.supervisor_heartbeat(request).await {
                Ok(reply) => {
                    let workers = reply.into_inner().workers;
                    if last.as_ref() != Some(&workers) {
                        self.remember(&workers).await;
                    }
                    last = Some(workers);
                }
                Err(status) => {
                    tracing::warn!(error = %status.message(), "nimbus heartbeat failed; keeping workers as they are")
                }
            }
            if let Some(assigned) = &last {
                self.reconcile(assigned).await;
            }
            tokio::time::sleep(HEARTBEAT_EVERY).await;
        }
    }

    /// Writes the assignments to the data dir (off the async threads: it fsyncs).
    async fn remember(&self, assigned: &[WorkerAssignment]) {
        let memory = self.memory.clone();
        let assigned = assigned.to_vec();
        match tokio::task::spawn_blocking(move || memory.store(&assigned)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot remember the assignments"),
            Err(e) => tracing::warn!(error = %e, "cannot remember the assignments"),
        }
    }

    fn heartbeat(&self) -> SupervisorHeartbeatRequest {
        let mut shared = lock(&self.shared);
        for w in shared.workers.by_port.values_mut() {
            w.stuck_forwarded = w.stuck.is_some();
        }
        SupervisorHeartbeatRequest {
            supervisor_id: self.id.clone(),
            host: self.options.host.clone(),
            slots: self.options.slots.iter().map(|&p| u32::from(p)).collect(),
            workers: shared
                .workers
                .by_port
                .values()
                .map(|w| RunningWorker {
                    topology_id: w.topology_id.clone(),
                    port: u32::from(w.port),
                    pid: w.pid,
                    uptime_secs: w.started.elapsed().as_secs(),
                    executors: w.stats.clone(),
                    memory_bytes: w.memory_bytes,
                })
                .collect(),
            uptime_secs: self.started.elapsed().as_secs(),
            api_url: self.supervisor_url.clone(),
        }
    }

    async fn reconcile(&mut self, assigned: &[WorkerAssignment]) {
        let wanted: BTreeMap<u16, &WorkerAssignment> = assigned
            .iter()
            .filter_map(|a| u16::try_from(a.port).ok().map(|p| (p, a)))
            .filter(|(p, _)| self.options.slots.contains(p))
            .collect();
        let missing: Vec<&WorkerAssignment> = {
            let mut shared = lock(&self.shared);
            shared.known = true;
            shared.assigned = wanted
                .iter()
                .map(|(p, a)| ((a.topology_id.clone(), *p), a.assignment_json.clone()))
                .collect();
            // An assignment remembered from before a restart carries no readers: keep the
            // ones Nimbus gave last, if any.
            for a in wanted.values().filter(|a| !a.log_readers.is_empty()) {
                shared
                    .log_readers
                    .insert(a.topology_id.clone(), a.log_readers.clone());
            }
            let ports: Vec<u16> = shared.workers.by_port.keys().copied().collect();
            for port in ports {
                let Some(w) = shared.workers.by_port.get_mut(&port) else {
                    continue;
                };
                let why = match wanted.get(&port) {
                    None => Some("no longer assigned".to_owned()),
                    Some(a) if a.topology_id != w.topology_id => Some("slot reassigned".to_owned()),
                    _ if !w.is_running() => Some("process exited".to_owned()),
                    _ if w.last_heartbeat.unwrap_or(w.started).elapsed() > self.timeout => {
                        Some("no heartbeat within the worker timeout".to_owned())
                    }
                    _ if w.stuck_forwarded => w.stuck.clone(),
                    _ => None,
                };
                if let Some(why) = why {
                    shared.workers.stop(port, &why);
                }
            }
            wanted
                .iter()
                .filter(|(p, _)| !shared.workers.by_port.contains_key(p))
                .map(|(_, a)| *a)
                .collect()
        };
        for a in missing {
            if let Err(e) = self.start(a).await {
                tracing::error!(topology = %a.topology_id, port = a.port, error = %e, "cannot start worker");
            }
        }
    }

    /// Writes the worker's credentials (the topology's certificate from Nimbus, its key and the
    /// cluster CA) where only this user can read them; returns the directory.
    fn worker_credentials(
        &self,
        tls: &squall_security::TlsSettings,
        a: &WorkerAssignment,
        port: u16,
    ) -> Result<PathBuf, SupervisorError> {
        let dir = self
            .options
            .data_dir
            .join("workers")
            .join("tls")
            .join(format!("{}-{port}", a.topology_id));
        if a.worker_cert_pem.is_empty() || a.worker_key_pem.is_empty() {
            // An assignment remembered while Nimbus is away: the credentials written when
            // this worker first started still hold.
            if dir.join("cert.pem").exists() && dir.join("key.pem").exists() {
                return Ok(dir);
            }
            return Err(SupervisorError::Invalid(
                "nimbus sent no worker certificate for this topology (is squall.tls.ca.key set on nimbus?)".into(),
            ));
        }
        std::fs::create_dir_all(&dir)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        for (name, text) in [
            ("ca.pem", tls.ca_pem()),
            ("cert.pem", a.worker_cert_pem.as_str()),
            ("key.pem", a.worker_key_pem.as_str()),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(dir)
    }

    async fn start(&mut self, a: &WorkerAssignment) -> Result<(), SupervisorError> {
        let binary = self.cache.get(&mut self.nimbus, &a.binary_sha256).await?;
        let assignment: squall_proto::Assignment = serde_json::from_str(&a.assignment_json)
            .map_err(|e| SupervisorError::Invalid(format!("unreadable assignment: {e}")))?;
        let port = u16::try_from(a.port)
            .map_err(|_| SupervisorError::Invalid(format!("invalid port {}", a.port)))?;
        let tls_dir = match &self.options.tls {
            Some(tls) => Some(self.worker_credentials(tls, a, port)?),
            None => None,
        };
        let resources = match &assignment.resources_sha256 {
            Some(sha) => Some(self.resources(sha).await?),
            None => None,
        };
        let mut shared = lock(&self.shared);
        shared.workers.start(&StartSpec {
            tls_dir: tls_dir.as_deref(),
            binary: &binary,
            args: &assignment.args,
            topology_id: &a.topology_id,
            host: &self.options.host,
            port,
            supervisor_url: &self.supervisor_url,
            timeout: self.timeout,
            progress_timeout: self.progress_timeout,
            resources: resources.as_deref(),
        })
    }

    /// The directory a topology's resources are unpacked in: fetched and unpacked once per
    /// hash on this host, then shared by every worker of every topology that ships them.
    async fn resources(&mut self, sha256: &str) -> Result<PathBuf, SupervisorError> {
        let archive = self.cache.get(&mut self.nimbus, sha256).await?;
        let dest = self.options.data_dir.join("resources").join(sha256);
        tokio::task::spawn_blocking(move || squall_proto::resources::unpack_once(&archive, &dest))
            .await
            .map_err(|e| SupervisorError::Invalid(format!("unpacking resources: {e}")))?
            .map_err(|e| SupervisorError::Binary(format!("resources {sha256}: {e}")))
    }
}
