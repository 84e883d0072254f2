//! The cluster roles of a topology binary: describing itself to `squall submit`, and running
//! as a worker process started by a supervisor.

mod progress;
mod startup;
mod stats;
mod worker_process;

use std::io::Write;

use squall_proto::{Description, env};
use squall_topology_api::{Config, Topology};

/// Why a cluster role failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A local I/O failure (binding the port, starting threads, writing output).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A required environment variable is missing or malformed.
    #[error("worker environment: {0}")]
    Env(String),
    /// The gRPC server failed.
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Serves the role `squall submit` or a supervisor asked this binary to play, and returns
/// `true`: the caller's `main` should then return. Returns `false` when the binary was simply
/// run, so the caller goes on in local mode.
///
/// `conf` is the configuration the topology wants; a submitter's `--conf` is laid over it.
///
/// # Errors
/// When the worker cannot start (its port is taken, its environment is incomplete).
pub fn serve_cluster_role(topology: &Topology, conf: &Config) -> Result<bool, ClusterError> {
    if std::env::var_os(env::DESCRIBE).is_some() {
        let description = Description {
            spec: topology.spec().as_ref().clone(),
            conf: conf.clone(),
        };
        let json = serde_json::to_string(&description)
            .map_err(|e| ClusterError::Env(format!("cannot describe the topology: {e}")))?;
        let mut out = std::io::stdout().lock();
        out.write_all(json.as_bytes())?;
        out.write_all(b"\n")?;
        return Ok(true);
    }
    if std::env::var_os(env::WORKER_TOPOLOGY_ID).is_some() {
        worker_process::run(topology)?;
        return Ok(true);
    }
    Ok(false)
}

/// Called before local mode starts anything: a binary run by `squall submit` (to describe
/// itself) or by a supervisor (as a worker) that reaches local mode never called
/// [`serve_cluster_role`]. It must not run the topology on the submitter's machine, nor as an
/// unsupervised local topology on a cluster host: it says why on stderr and exits, and
/// `squall submit` turns that into an error naming the call to add.
pub(crate) fn refuse_local_mode_in_a_cluster_role() {
    if std::env::var_os(env::DESCRIBE).is_some()
        || std::env::var_os(env::WORKER_TOPOLOGY_ID).is_some()
    {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{}", env::NO_CLUSTER_ROLE);
        let _ = err.flush();
        std::process::exit(env::NO_CLUSTER_ROLE_EXIT);
    }
}
