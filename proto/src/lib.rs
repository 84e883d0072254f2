//! Squall's wire contracts.
//!
//! The gRPC services (generated from `proto/squall.proto`): [`nimbus`] for clients and
//! supervisors, [`supervisor`] for a supervisor's workers, [`worker`] for the tuple transport.
//! And the [`Assignment`] a topology runs under, which Nimbus computes, supervisors carry to
//! their workers, and workers follow.

mod assignment;
pub mod resources;

pub use assignment::{Assignment, ExecutorAssignment, Slot, TopologyStatus};

/// The generated messages and services.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod pb {
    tonic::include_proto!("squall");
}

pub use pb::nimbus_client::NimbusClient;
pub use pb::nimbus_server::{Nimbus, NimbusServer};
pub use pb::supervisor_client::SupervisorClient;
pub use pb::supervisor_server::{Supervisor, SupervisorServer};
pub use pb::worker_client::WorkerClient;
pub use pb::worker_server::{Worker, WorkerServer};

/// Largest gRPC message we accept or send: batches and binary chunks stay well below it.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// The metadata key of a `Transfer` call that names the sending worker's topology.
pub const TRANSFER_TOPOLOGY_HEADER: &str = "squall-topology-bin";

/// How a supervisor tells a topology binary to run as a worker, and `squall submit` asks it
/// to describe itself: environment variables, so the topology's own arguments stay its own.
pub mod env {
    /// Set (to anything) to make the binary print its topology as JSON and exit.
    pub const DESCRIBE: &str = "SQUALL_DESCRIBE";
    /// The topology id; its presence selects worker mode.
    pub const WORKER_TOPOLOGY_ID: &str = "SQUALL_WORKER_TOPOLOGY_ID";
    /// The host address the worker serves its transport on.
    pub const WORKER_HOST: &str = "SQUALL_WORKER_HOST";
    /// The worker's slot port.
    pub const WORKER_PORT: &str = "SQUALL_WORKER_PORT";
    /// With security on: the directory holding the worker's `ca.pem`, `cert.pem` and `key.pem`.
    pub const WORKER_TLS_DIR: &str = "SQUALL_WORKER_TLS_DIR";
    /// The supervisor's URL, for heartbeats.
    pub const SUPERVISOR_URL: &str = "SQUALL_SUPERVISOR_URL";
    /// Seconds without reaching the supervisor after which a worker exits.
    pub const WORKER_TIMEOUT_SECS: &str = "SQUALL_WORKER_TIMEOUT_SECS";
    /// Seconds an executor may have input queued and do nothing before the worker reports
    /// itself stuck (`supervisor.worker.progress.timeout.secs`).
    pub const WORKER_PROGRESS_TIMEOUT_SECS: &str = "SQUALL_WORKER_PROGRESS_TIMEOUT_SECS";
    /// The directory where a worker's shell components' processes leave their pid files
    /// (Storm's `pidDir`): the supervisor kills what is listed there when the worker goes.
    pub const WORKER_PIDS_DIR: &str = "SQUALL_WORKER_PIDS_DIR";
    /// The directory the topology's resources were unpacked in: its shell components run
    /// there, and `squall run` finds a YAML topology's file there.
    pub const RESOURCES_DIR: &str = "SQUALL_RESOURCES_DIR";
    /// What a binary asked to describe itself (or to run as a worker) prints on stderr when its
    /// `main` went on to local mode without calling `serve_cluster_role`: it then exits with
    /// [`NO_CLUSTER_ROLE_EXIT`] before starting any of the topology.
    pub const NO_CLUSTER_ROLE: &str =
        "squall: this binary starts its topology in local mode without calling serve_cluster_role";
    /// The exit status that goes with [`NO_CLUSTER_ROLE`] (EX_CONFIG).
    pub const NO_CLUSTER_ROLE_EXIT: i32 = 78;
    /// `supervisor.worker.progress.timeout.secs` when not set.
    pub const DEFAULT_WORKER_PROGRESS_TIMEOUT_SECS: u64 = 60;
}

/// What a topology binary prints when asked to describe itself.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Description {
    /// The topology.
    pub spec: squall_topology_api::TopologySpec,
    /// The configuration the binary's `main` chose (the submitter's `--conf` goes on top).
    pub conf: squall_topology_api::Config,
}
