//! The Nimbus gRPC API: what `squall` clients and supervisors call.
//!
//! State changes (which fsync the store) run on the blocking pool, never on the async workers.

use std::collections::{BTreeMap, BTreeSet};
use std::pin::Pin;
use std::sync::Arc;

use squall_proto::pb::{
    BinaryChunk, BinaryRequest, ClusterInfo, Empty, KillRequest, NameRequest, RebalanceRequest,
    SubmitChunk, SubmitReply, SupervisorHeartbeatReply, SupervisorHeartbeatRequest, SupervisorInfo,
    TopologyInfo, TopologyList, UiLoginReply, WorkerAssignment, submit_chunk,
};
use squall_proto::{Nimbus, TopologyStatus};
use squall_security::principal_of;
use squall_topology_api::limits::MAX_WORKERS;
use squall_topology_api::{Config, TopologySpec, config as keys};
use tokio::io::AsyncReadExt;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::audit::AuditLog;
use crate::authorize::{Caller, Policy, TopologyAcl, TopologyVerb};
use crate::error::NimbusError;
use crate::http::session::Sessions;
use crate::metrics::view::{summary, topology_info};
use crate::metrics::window::{UnknownWindow, Window};
use crate::state::{Inner, State, SupervisorEntry, now_secs};
use crate::topology::TopologyRecord;

/// Storm's default kill and rebalance wait: the message timeout.
const DEFAULT_WAIT_SECS: u64 = 30;
const CHUNK_BYTES: usize = 1 << 20;

/// The service.
#[derive(Clone)]
pub struct NimbusService {
    state: Arc<State>,
    max_upload_bytes: u64,
    /// Who may do what; `None`: security off, everyone may do everything.
    policy: Option<Arc<Policy>>,
    /// Where every state-changing request is recorded.
    audit: Arc<AuditLog>,
    /// With security on: signs each topology's worker certificates.
    worker_certs: Option<Arc<WorkerCerts>>,
    /// Web UI logins, shared with the UI server.
    sessions: Arc<std::sync::Mutex<Sessions>>,
    /// The UI's address, for login links.
    ui_addr: Option<String>,
}

/// The worker certificates Nimbus issues: one per (topology, host), signed by the cluster CA
/// and kept so that every heartbeat hands the same one (a new one would look like a changed
/// assignment to the supervisor).
pub struct WorkerCerts {
    ca: squall_security::pki::Issued,
    issued:
        std::sync::Mutex<std::collections::HashMap<(String, String), squall_security::pki::Issued>>,
}

impl WorkerCerts {
    /// Issues with the CA certificate and key given (PEM).
    pub fn new(ca: squall_security::pki::Issued) -> Self {
        WorkerCerts {
            ca,
            issued: Default::default(),
        }
    }

    /// The certificate of `topology`'s workers on `host`, issued on first use. Certificates
    /// of topologies no longer in `live` are forgotten.
    fn for_worker(
        &self,
        topology: &str,
        host: &str,
        live: &BTreeSet<String>,
    ) -> Result<squall_security::pki::Issued, NimbusError> {
        let mut issued = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        issued.retain(|(t, _), _| live.contains(t));
        let key = (topology.to_owned(), host.to_owned());
        if let Some(cert) = issued.get(&key) {
            return Ok(cert.clone());
        }
        let cert = squall_security::pki::issue(
            &self.ca,
            squall_security::Role::Worker,
            &squall_security::pki::worker_name(topology),
            &[host.to_owned()],
            squall_security::pki::LEAF_VALIDITY,
        )
        .map_err(|e| NimbusError::Invalid(format!("cannot issue a worker certificate: {e}")))?;
        issued.insert(key, cert.clone());
        Ok(cert)
    }
}

impl NimbusService {
    /// Serves `state`, refusing uploads over `max_upload_bytes`, authorising every call by
    /// `policy` (`None`: security off).
    pub fn new(
        state: Arc<State>,
        max_upload_bytes: u64,
        policy: Option<Arc<Policy>>,
        audit: Arc<AuditLog>,
        worker_certs: Option<Arc<WorkerCerts>>,
    ) -> Self {
        NimbusService {
            state,
            max_upload_bytes,
            policy,
            audit,
            worker_certs,
            sessions: Arc::default(),
            ui_addr: None,
        }
    }

    /// Tells login links where the UI listens.
    pub fn with_ui_addr(mut self, addr: Option<String>) -> Self {
        self.ui_addr = addr;
        self
    }

    /// The UI's logins.
    pub(crate) fn sessions(&self) -> Arc<std::sync::Mutex<Sessions>> {
        Arc::clone(&self.sessions)
    }

    /// Records a state-changing request's outcome in the audit log, and passes it on.
    fn audited<T>(
        &self,
        caller: &Caller,
        action: &str,
        topology: &str,
        result: Result<T, Status>,
    ) -> Result<T, Status> {
        self.audit.record(
            caller,
            action,
            topology,
            result.as_ref().map(|_| ()).map_err(Status::message),
        );
        result
    }

    /// Who sent `request`: the principal of the client certificate TLS verified.
    fn caller<T>(&self, request: &Request<T>) -> Caller {
        if self.policy.is_none() {
            return Caller::Anyone;
        }
        // A request the UI makes on behalf of its logged-in user (extensions never come
        // from the wire).
        if let Some(caller) = request.extensions().get::<Caller>() {
            return caller.clone();
        }
        request
            .peer_certs()
            .and_then(|certs| certs.first().and_then(|c| principal_of(c.as_ref())))
            .map_or(Caller::Unknown, Caller::Principal)
    }

    /// The policy, or an allow-all one with security off.
    fn policy(&self) -> Arc<Policy> {
        self.policy.clone().unwrap_or_default()
    }

    /// Runs `f` on the state on the blocking pool.
    async fn with_state<T: Send + 'static>(
        &self,
        f: impl FnOnce(&State, &mut Inner) -> Result<T, NimbusError> + Send + 'static,
    ) -> Result<T, Status> {
        let state = Arc::clone(&self.state);
        tokio::task::spawn_blocking(move || {
            let mut inner = state.lock();
            f(&state, &mut inner)
        })
        .await
        .joined()
    }

    /// A submission, for [`Nimbus::submit_topology`] to audit; `name` is filled in as soon
    /// as the header names the topology.
    async fn submit(
        &self,
        caller: &Caller,
        request: Request<Streaming<SubmitChunk>>,
        name_out: &mut String,
    ) -> Result<Response<SubmitReply>, Status> {
        self.policy()
            .user_verb(caller, "submit a topology")
            .map_err(NimbusError::from)?;
        let owner = match caller {
            Caller::Principal(p) => Some(p.name.clone()),
            _ => None,
        };
        let mut stream = request.into_inner();
        let mut header = match stream.message().await? {
            Some(SubmitChunk {
                part: Some(submit_chunk::Part::Header(h)),
            }) => h,
            _ => {
                return Err(Status::invalid_argument(
                    "an upload must start with its header",
                ));
            }
        };
        name_out.clone_from(&header.name);
        squall_topology_api::limits::check_topology_name(&header.name)
            .map_err(|e| NimbusError::Invalid(e.to_string()))?;
        let total = header.binary_size.saturating_add(header.resources_size);
        if total > self.max_upload_bytes {
            return Err(NimbusError::TooLarge {
                size: total,
                limit: self.max_upload_bytes,
            }
            .into());
        }
        // Parsing and walking a large spec takes milliseconds: off the async workers.
        let (spec_json, conf_json) = (
            std::mem::take(&mut header.spec_json),
            std::mem::take(&mut header.conf_json),
        );
        let (spec, mut conf) =
            tokio::task::spawn_blocking(move || read_submission(&spec_json, &conf_json))
                .await
                .joined()?;
        crate::topology::fix_task_layout(&mut conf);
        let name = header.name.clone();
        let taken = self
            .with_state(move |_, inner| Ok(inner.topologies.values().any(|r| r.name == name)))
            .await?;
        if taken {
            return Err(NimbusError::NameTaken(header.name).into());
        }

        let mut binary = Part::new(
            &self.state.store,
            "binary",
            header.binary_size,
            &header.sha256,
        )?;
        let mut resources = match header.resources_size {
            0 => None,
            size => Some(Part::new(
                &self.state.store,
                "resources",
                size,
                &header.resources_sha256,
            )?),
        };
        let received = async {
            while let Some(chunk) = stream.message().await? {
                let Some(submit_chunk::Part::Data(data)) = chunk.part else {
                    return Err(Status::invalid_argument("a second header in one upload"));
                };
                // The binary's bytes come first, then the resources'.
                let rest = binary.take(&data)?;
                if !rest.is_empty() {
                    match &mut resources {
                        Some(r) => {
                            let extra = r.take(rest)?;
                            if !extra.is_empty() {
                                return Err(r.too_long());
                            }
                        }
                        None => return Err(binary.too_long()),
                    }
                }
            }
            binary.check()?;
            if let Some(r) = &resources {
                r.check()?;
            }
            Ok(())
        }
        .await;
        if let Err(status) = received {
            binary.upload.abandon();
            if let Some(r) = resources {
                r.upload.abandon();
            }
            return Err(status);
        }
        let (upload, resources) = tokio::task::spawn_blocking(move || {
            let synced = binary.upload.sync().and_then(|()| match &resources {
                Some(r) => r.upload.sync(),
                None => Ok(()),
            });
            match synced {
                Ok(()) => Ok((binary.upload, resources.map(|r| r.upload))),
                Err(e) => {
                    binary.upload.abandon();
                    if let Some(r) = resources {
                        r.upload.abandon();
                    }
                    Err(NimbusError::from(e))
                }
            }
        })
        .await
        .joined()?;
        let id = self
            .with_state(move |state, inner| {
                if inner.topologies.values().any(|r| r.name == header.name) {
                    upload.abandon();
                    if let Some(r) = resources {
                        r.abandon();
                    }
                    return Err(NimbusError::NameTaken(header.name));
                }
                let sha = upload.commit(&state.store)?;
                let resources_sha256 = resources.map(|r| r.commit(&state.store)).transpose()?;
                let submitted_at = now_secs();
                let counter = state.store.next("topology")?;
                let id = format!("{}-{counter}-{submitted_at}", header.name);
                // Checked at submit: within 1..=MAX_WORKERS when set.
                let workers = conf
                    .get_u64(keys::TOPOLOGY_WORKERS)
                    .map_or(1, |n| n.clamp(1, u64::from(MAX_WORKERS)) as u32);
                let record = TopologyRecord {
                    id: id.clone(),
                    name: header.name,
                    status: TopologyStatus::Active,
                    resume: None,
                    until: None,
                    spec,
                    conf,
                    args: header.args,
                    binary_sha256: sha,
                    resources_sha256,
                    submitted_at,
                    workers,
                    executors: BTreeMap::new(),
                    assignment: None,
                    owner,
                };
                // Placing it stores it; stored here only when it could not be placed, so a
                // large record is written once while the lock is held.
                inner.topologies.insert(id.clone(), record);
                if let Err(e) = state.reschedule(inner) {
                    inner.topologies.remove(&id);
                    return Err(e);
                }
                if let Some(r) = inner.topologies.get(&id)
                    && r.assignment.is_none()
                {
                    state.store.put(r)?;
                }
                tracing::info!(topology = %id, "topology submitted");
                Ok(id)
            })
            .await?;
        Ok(Response::new(SubmitReply { id }))
    }
}

/// One file of a submission (the binary or the resources) as it arrives: its declared size and
/// hash, checked once the stream ends.
struct Part {
    what: &'static str,
    upload: crate::store::BinaryUpload,
    size: u64,
    sha256: String,
}

impl Part {
    fn new(
        store: &crate::store::Store,
        what: &'static str,
        size: u64,
        sha256: &str,
    ) -> Result<Self, Status> {
        Ok(Part {
            what,
            upload: store.begin_binary().map_err(NimbusError::from)?,
            size,
            sha256: sha256.to_owned(),
        })
    }

    /// Writes what of `data` fits in the declared size; returns the rest.
    fn take<'a>(&mut self, data: &'a [u8]) -> Result<&'a [u8], Status> {
        let room = usize::try_from(self.size - self.upload.size()).unwrap_or(usize::MAX);
        let (mine, rest) = data.split_at(room.min(data.len()));
        self.upload.write(mine).map_err(NimbusError::from)?;
        Ok(rest)
    }

    /// " of resources" for the resources; nothing for the binary (the upload proper).
    fn of(&self) -> &'static str {
        if self.what == "binary" {
            ""
        } else {
            " of resources"
        }
    }

    fn too_long(&self) -> Status {
        Status::invalid_argument(format!(
            "upload is longer than its declared {} bytes{}",
            self.size,
            self.of()
        ))
    }

    fn check(&self) -> Result<(), Status> {
        if self.upload.size() != self.size {
            return Err(Status::invalid_argument(format!(
                "truncated upload: {} of {} bytes{} arrived",
                self.upload.size(),
                self.size,
                self.of()
            )));
        }
        if self.upload.sha256() != self.sha256 {
            return Err(Status::invalid_argument(format!(
                "checksum mismatch: the upload{} hashes to {}, not {}",
                self.of(),
                self.upload.sha256(),
                self.sha256
            )));
        }
        Ok(())
    }
}

fn by_name<'a>(inner: &'a mut Inner, name: &str) -> Result<&'a mut TopologyRecord, NimbusError> {
    inner
        .topologies
        .values_mut()
        .find(|r| r.name == name)
        .ok_or_else(|| NimbusError::NotFound(name.to_owned()))
}

/// A list of names in a topology setting (`topology.users`, `topology.groups`).
fn names(conf: &Config, key: &str) -> Vec<String> {
    conf.get(key)
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Runs `f` on the ACL of `record`: its owner and its `topology.users`/`topology.groups`.
fn with_acl<T>(record: &TopologyRecord, f: impl FnOnce(TopologyAcl<'_>) -> T) -> T {
    let users = names(&record.conf, keys::TOPOLOGY_USERS);
    let groups = names(&record.conf, keys::TOPOLOGY_GROUPS);
    f(TopologyAcl {
        name: &record.name,
        owner: record.owner.as_deref(),
        users: &users,
        groups: &groups,
    })
}

/// The users who may act on `record` by name.
fn acl_users(policy: &Policy, record: &TopologyRecord) -> Vec<String> {
    with_acl(record, |acl| policy.users_of(acl))
}

/// Whether `caller` may `verb` the topology `record`.
pub(crate) fn allowed(
    policy: &Policy,
    caller: &Caller,
    verb: TopologyVerb,
    record: &TopologyRecord,
) -> Result<(), NimbusError> {
    Ok(with_acl(record, |acl| {
        policy.topology_verb(caller, verb, acl)
    })?)
}

/// Applies a change to a named topology, if `caller` may, stores it, and reschedules.
fn change(
    state: &State,
    inner: &mut Inner,
    name: &str,
    (policy, caller, verb): (&Policy, &Caller, TopologyVerb),
    f: impl FnOnce(&mut TopologyRecord) -> Result<(), NimbusError>,
) -> Result<(), NimbusError> {
    let record = by_name(inner, name)?;
    allowed(policy, caller, verb, record)?;
    let mut updated = record.clone();
    f(&mut updated)?;
    state.store.put(&updated)?;
    *record = updated;
    state.reschedule(inner)
}

/// Reads a submission's spec and configuration and checks them against the topology rules
/// and the cluster's bounds (`limits`): nothing out of bounds is ever stored.
pub(crate) fn read_submission(
    spec_json: &str,
    conf_json: &str,
) -> Result<(TopologySpec, Config), NimbusError> {
    let spec: TopologySpec = serde_json::from_str(spec_json)
        .map_err(|e| NimbusError::Invalid(format!("unreadable topology spec: {e}")))?;
    spec.validate()
        .map_err(|e| NimbusError::Invalid(e.to_string()))?;
    let conf: Config = serde_json::from_str(conf_json)
        .map_err(|e| NimbusError::Invalid(format!("unreadable topology config: {e}")))?;
    check_record(&spec, &conf)?;
    Ok((spec, conf))
}

/// The checks of [`read_submission`] on a spec and configuration already read (a stored
/// record's, at recovery).
pub(crate) fn check_record(spec: &TopologySpec, conf: &Config) -> Result<(), NimbusError> {
    squall_topology_api::limits::check_config_for(spec, conf)
        .map_err(|e| NimbusError::Invalid(e.to_string()))
}

fn wait_secs(conf: &Config, wait: Option<u32>) -> u64 {
    wait.map(u64::from).unwrap_or_else(|| {
        conf.get_u64(keys::TOPOLOGY_MESSAGE_TIMEOUT_SECS)
            .unwrap_or(DEFAULT_WAIT_SECS)
    })
}

/// The result of work run on the blocking pool, as a gRPC answer: a task that panicked is an
/// internal error, a refusal keeps its own status.
trait Joined<T> {
    fn joined(self) -> Result<T, Status>;
}

impl<T, E: Into<Status>> Joined<T> for Result<Result<T, E>, tokio::task::JoinError> {
    fn joined(self) -> Result<T, Status> {
        self.map_err(|e| Status::internal(format!("nimbus task failed: {e}")))?
            .map_err(Into::into)
    }
}

/// The summaries of the topologies `caller` may see.
fn visible(
    policy: &Policy,
    caller: &Caller,
    inner: &Inner,
) -> Vec<squall_proto::pb::TopologySummary> {
    inner
        .topologies
        .values()
        .filter(|r| allowed(policy, caller, TopologyVerb::See, r).is_ok())
        .map(summary)
        .collect()
}

type BinaryStream = Pin<Box<dyn Stream<Item = Result<BinaryChunk, Status>> + Send>>;

#[tonic::async_trait]
impl Nimbus for NimbusService {
    async fn submit_topology(
        &self,
        request: Request<Streaming<SubmitChunk>>,
    ) -> Result<Response<SubmitReply>, Status> {
        let caller = self.caller(&request);
        let mut name = String::new();
        let result = self.submit(&caller, request, &mut name).await;
        self.audited(&caller, "submit", &name, result)
    }

    async fn kill_topology(
        &self,
        request: Request<KillRequest>,
    ) -> Result<Response<Empty>, Status> {
        let (caller, policy) = (self.caller(&request), self.policy());
        let req = request.into_inner();
        let name = req.name.clone();
        let who = caller.clone();
        let result = self
            .with_state(move |state, inner| {
                let who = (&*policy, &who, TopologyVerb::Kill);
                change(state, inner, &req.name, who, |r| {
                    r.kill(now_secs() + wait_secs(&r.conf, req.wait_secs));
                    Ok(())
                })
            })
            .await;
        self.audited(
            &caller,
            "kill",
            &name,
            result.map(|()| Response::new(Empty {})),
        )
    }

    async fn activate(&self, request: Request<NameRequest>) -> Result<Response<Empty>, Status> {
        let (caller, policy) = (self.caller(&request), self.policy());
        let name = request.into_inner().name;
        let (topology, who) = (name.clone(), caller.clone());
        let result = self
            .with_state(move |state, inner| {
                let who = (&*policy, &who, TopologyVerb::Activate);
                change(state, inner, &name, who, |r| Ok(r.activate()?))
            })
            .await;
        self.audited(
            &caller,
            "activate",
            &topology,
            result.map(|()| Response::new(Empty {})),
        )
    }

    async fn deactivate(&self, request: Request<NameRequest>) -> Result<Response<Empty>, Status> {
        let (caller, policy) = (self.caller(&request), self.policy());
        let name = request.into_inner().name;
        let (topology, who) = (name.clone(), caller.clone());
        let result = self
            .with_state(move |state, inner| {
                let who = (&*policy, &who, TopologyVerb::Deactivate);
                change(state, inner, &name, who, |r| Ok(r.deactivate()?))
            })
            .await;
        self.audited(
            &caller,
            "deactivate",
            &topology,
            result.map(|()| Response::new(Empty {})),
        )
    }

    async fn rebalance(
        &self,
        request: Request<RebalanceRequest>,
    ) -> Result<Response<Empty>, Status> {
        let (caller, policy) = (self.caller(&request), self.policy());
        let req = request.into_inner();
        let (topology, caller_in) = (req.name.clone(), caller.clone());
        let result = self.with_state(move |state, inner| {
            let who = (&*policy, &caller_in, TopologyVerb::Rebalance);
            change(state, inner, &req.name, who, |r| {
                for (component, &n) in &req.executors {
                    let Some(c) = r.spec.component(component) else {
                        return Err(NimbusError::Invalid(format!(
                            "no component {component:?} in topology {:?}",
                            r.name
                        )));
                    };
                    if n == 0 {
                        return Err(NimbusError::Invalid(format!(
                            "component {component:?} needs at least one executor"
                        )));
                    }
                    if n > c.tasks {
                        return Err(NimbusError::Invalid(format!(
                            "component {component:?} has {} task(s), so at most {} executor(s): tasks are fixed at submit (raise them with .num_tasks(N) on the component)",
                            c.tasks, c.tasks
                        )));
                    }
                    r.executors.insert(component.clone(), n);
                }
                if let Some(w) = req.workers {
                    if !(1..=MAX_WORKERS).contains(&w) {
                        return Err(NimbusError::Invalid(format!(
                            "invalid number of workers {w}: expected an integer from 1 to {MAX_WORKERS}"
                        )));
                    }
                    r.workers = w;
                    r.conf.set(keys::TOPOLOGY_WORKERS, w);
                }
                r.rebalance(now_secs() + wait_secs(&r.conf, req.wait_secs))?;
                Ok(())
            })
        })
        .await;
        self.audited(
            &caller,
            "rebalance",
            &topology,
            result.map(|()| Response::new(Empty {})),
        )
    }

    async fn list_topologies(
        &self,
        request: Request<Empty>,
    ) -> Result<Response<TopologyList>, Status> {
        let (caller, policy) = (self.caller(&request), self.policy());
        policy
            .user_verb(&caller, "list topologies")
            .map_err(NimbusError::from)?;
        let topologies = self
            .with_state(move |_, inner| Ok(visible(&policy, &caller, inner)))
            .await?;
        Ok(Response::new(TopologyList { topologies }))
    }

    async fn get_topology(
        &self,
        request: Request<NameRequest>,
    ) -> Result<Response<TopologyInfo>, Status> {
        let (caller, policy) = (self.caller(&request), self.policy());
        let request = request.into_inner();
        let window: Window = request
            .window
            .parse()
            .map_err(|e: UnknownWindow| Status::invalid_argument(e.to_string()))?;
        let name = request.name;
        let info = self
            .with_state(move |state, inner| {
                let record = by_name(inner, &name)?.clone();
                allowed(&policy, &caller, TopologyVerb::See, &record)?;
                Ok(topology_info(state, inner, &record, window))
            })
            .await?;
        Ok(Response::new(info))
    }

    async fn get_cluster(&self, request: Request<Empty>) -> Result<Response<ClusterInfo>, Status> {
        let (caller, policy) = (self.caller(&request), self.policy());
        policy
            .user_verb(&caller, "see the cluster")
            .map_err(NimbusError::from)?;
        let info = self
            .with_state(move |state, inner| {
                let used = State::slots_used(inner);
                Ok(ClusterInfo {
                    supervisors: inner
                        .supervisors
                        .iter()
                        .map(|(id, s)| SupervisorInfo {
                            id: id.clone(),
                            host: s.host.clone(),
                            slots_total: s.ports.len() as u32,
                            slots_used: used.get(id.as_str()).copied().unwrap_or(0),
                            uptime_secs: s.uptime_secs,
                            alive: state.alive(s),
                        })
                        .collect(),
                    topologies: visible(&policy, &caller, inner),
                    nimbus_uptime_secs: state.started.elapsed().as_secs(),
                })
            })
            .await?;
        Ok(Response::new(info))
    }

    async fn supervisor_heartbeat(
        &self,
        request: Request<SupervisorHeartbeatRequest>,
    ) -> Result<Response<SupervisorHeartbeatReply>, Status> {
        let caller = self.caller(&request);
        let cert_hosts = request
            .peer_certs()
            .and_then(|certs| {
                certs
                    .first()
                    .map(|c| squall_security::identity::hosts_of(c.as_ref()))
            })
            .unwrap_or_default();
        let hb = request.into_inner();
        self.policy()
            .supervisor_heartbeat(&caller, &hb.supervisor_id, &hb.host, &cert_hosts)
            .map_err(NimbusError::from)?;
        let host = hb.host.clone();
        let policy = self.policy.clone();
        if hb.supervisor_id.is_empty() || hb.host.is_empty() {
            return Err(Status::invalid_argument(
                "a heartbeat needs a supervisor id and host",
            ));
        }
        let ports: Vec<u16> = hb
            .slots
            .iter()
            .map(|&p| {
                u16::try_from(p)
                    .map_err(|_| Status::invalid_argument(format!("invalid slot port {p}")))
            })
            .collect::<Result<_, _>>()?;
        let here = self
            .with_state(move |state, inner| {
                let known = inner.supervisors.contains_key(&hb.supervisor_id);
                inner.supervisors.insert(
                    hb.supervisor_id.clone(),
                    SupervisorEntry {
                        host: hb.host.clone(),
                        ports,
                        last_seen: std::time::Instant::now(),
                        uptime_secs: hb.uptime_secs,
                        workers: hb.workers,
                        api_url: hb.api_url,
                    },
                );
                if let Some(s) = inner.supervisors.get(&hb.supervisor_id) {
                    inner.metrics.ingest(&s.host, &s.workers, now_secs());
                }
                if !known {
                    tracing::info!(supervisor = %hb.supervisor_id, host = %hb.host, "supervisor joined");
                    state.reschedule(inner)?;
                }
                // The assignments with a slot here; encoded after the lock is released.
                let mut here = Vec::new();
                for r in inner.topologies.values() {
                    let Some(a) = &r.assignment else { continue };
                    let ports: BTreeSet<u16> = a
                        .executors
                        .iter()
                        .filter(|e| e.supervisor_id == hb.supervisor_id)
                        .map(|e| e.slot.port)
                        .collect();
                    if !ports.is_empty() {
                        let readers = match &policy {
                            Some(policy) => acl_users(policy, r),
                            None => Vec::new(),
                        };
                        here.push((a.clone(), r.binary_sha256.clone(), ports, readers));
                    }
                }
                let live: BTreeSet<String> = inner.topologies.keys().cloned().collect();
                Ok((here, live))
            })
            .await?;
        let (here, live) = here;
        let certs = self.worker_certs.clone();
        let workers = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for (a, binary_sha256, ports, readers) in here {
                let json = serde_json::to_string(&a)
                    .map_err(|e| NimbusError::Invalid(format!("cannot encode assignment: {e}")))?;
                // A certificate that cannot be issued fails this assignment only: the
                // supervisor reports the worker it cannot start, the rest of the host goes on.
                let cert = match &certs {
                    Some(certs) => match certs.for_worker(&a.topology_id, &host, &live) {
                        Ok(cert) => Some(cert),
                        Err(e) => {
                            tracing::error!(topology = %a.topology_id, %host, error = %e, "cannot issue a worker certificate");
                            None
                        }
                    },
                    None => None,
                };
                for port in ports {
                    out.push(WorkerAssignment {
                        topology_id: a.topology_id.clone(),
                        port: u32::from(port),
                        binary_sha256: binary_sha256.clone(),
                        assignment_json: json.clone(),
                        worker_cert_pem: cert
                            .as_ref()
                            .map(|c| c.cert_pem.clone())
                            .unwrap_or_default(),
                        worker_key_pem: cert
                            .as_ref()
                            .map(|c| c.key_pem.clone())
                            .unwrap_or_default(),
                        log_readers: readers.clone(),
                    });
                }
            }
            Ok::<_, NimbusError>(out)
        })
        .await
        .joined()?;
        Ok(Response::new(SupervisorHeartbeatReply { workers }))
    }

    async fn ui_login(&self, request: Request<Empty>) -> Result<Response<UiLoginReply>, Status> {
        let caller = self.caller(&request);
        let user = match &caller {
            Caller::Principal(p) if p.role == squall_security::Role::User => p.name.clone(),
            Caller::Anyone => {
                return Err(Status::failed_precondition(
                    "security is off: the UI needs no login",
                ));
            }
            _ => {
                return Err(NimbusError::from(crate::authorize::Denied(
                    "only a user certificate may log into the UI".into(),
                ))
                .into());
            }
        };
        let Some(ui_addr) = self.ui_addr.clone() else {
            return Err(Status::failed_precondition(
                "nimbus serves no UI (start it with --ui ADDR)",
            ));
        };
        let ticket = self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .ticket(&user, std::time::Instant::now())
            .ok_or_else(|| Status::internal("cannot make a random login ticket"))?;
        Ok(Response::new(UiLoginReply { ticket, ui_addr }))
    }

    type DownloadBinaryStream = BinaryStream;

    async fn download_binary(
        &self,
        request: Request<BinaryRequest>,
    ) -> Result<Response<Self::DownloadBinaryStream>, Status> {
        let (caller, policy) = (self.caller(&request), self.policy());
        let sha = request.into_inner().sha256;
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Status::invalid_argument(format!(
                "invalid binary hash {sha:?}"
            )));
        }
        let wanted = sha.clone();
        self.with_state(move |_, inner| {
            let assigned_to = |supervisor: &str| {
                inner.topologies.values().any(|r| {
                    (r.binary_sha256 == wanted
                        || r.resources_sha256.as_deref() == Some(wanted.as_str()))
                        && r.assignment.as_ref().is_some_and(|a| {
                            a.executors.iter().any(|e| e.supervisor_id == supervisor)
                        })
                })
            };
            Ok(policy.download_binary(&caller, assigned_to)?)
        })
        .await?;
        let path = self.state.store.binary_path(&sha);
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(|_| Status::not_found(format!("no binary {sha}")))?;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let mut buf = vec![0u8; CHUNK_BYTES];
            loop {
                match file.read(&mut buf).await {
                    Ok(0) => break,
                    Ok(n) => {
                        if tx
                            .send(Ok(BinaryChunk {
                                data: buf[..n].to_vec(),
                            }))
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = tx
                            .send(Err(Status::internal(format!("reading binary: {e}"))))
                            .await;
                        break;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}
