//! What a supervisor keeps in its data dir so that a restart never takes its workers down:
//! the address of its API (its workers heartbeat to it, and a supervisor restarted on another
//! port would leave them talking to no one until they are killed as silent) and the last
//! assignments Nimbus gave it (so with Nimbus away it still knows what its workers should
//! run, instead of telling them they are unassigned).
//!
//! Both files are written to a temporary name and renamed into place: a `kill -9` leaves the
//! old version or the new one, never half of one.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use squall_proto::pb::WorkerAssignment;

const API_ADDRESS_FILE: &str = "api-address";
const ASSIGNMENTS_FILE: &str = "assignments.json";

/// The API address a supervisor on `host` last served on, if it is remembered in `data_dir`
/// and still on that host.
pub fn remembered_api_address(data_dir: &Path, host: &str) -> Option<SocketAddr> {
    let text = std::fs::read_to_string(data_dir.join(API_ADDRESS_FILE)).ok()?;
    let addr: SocketAddr = text.trim().parse().ok()?;
    let same_host = host
        .parse::<std::net::IpAddr>()
        .map_or(true, |ip| ip == addr.ip());
    same_host.then_some(addr)
}

/// Remembers the address the API serves on.
///
/// # Errors
/// When the file cannot be written.
pub fn remember_api_address(data_dir: &Path, addr: SocketAddr) -> std::io::Result<()> {
    write_atomically(
        &data_dir.join(API_ADDRESS_FILE),
        addr.to_string().as_bytes(),
    )
}

/// One slot's assignment as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stored {
    topology_id: String,
    port: u32,
    binary_sha256: String,
    assignment_json: String,
}

/// The last assignments Nimbus gave, kept in a data dir.
#[derive(Debug, Clone)]
pub struct AssignmentMemory {
    path: PathBuf,
}

impl AssignmentMemory {
    /// The memory in `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        AssignmentMemory {
            path: data_dir.join(ASSIGNMENTS_FILE),
        }
    }

    /// The assignments remembered, or `None` if none were ever stored (or the file is
    /// unreadable, which counts as knowing nothing).
    pub fn load(&self) -> Option<Vec<WorkerAssignment>> {
        let bytes = std::fs::read(&self.path).ok()?;
        let stored: Vec<Stored> = match serde_json::from_slice(&bytes) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "ignoring unreadable remembered assignments");
                return None;
            }
        };
        Some(
            stored
                .into_iter()
                .map(|s| WorkerAssignment {
                    topology_id: s.topology_id,
                    port: s.port,
                    binary_sha256: s.binary_sha256,
                    assignment_json: s.assignment_json,
                    // Worker credentials are not kept here: a worker restarted from memory
                    // reuses the ones written when it first started.
                    worker_cert_pem: String::new(),
                    worker_key_pem: String::new(),
                    log_readers: Vec::new(),
                })
                .collect(),
        )
    }

    /// Remembers `assigned`.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn store(&self, assigned: &[WorkerAssignment]) -> std::io::Result<()> {
        let stored: Vec<Stored> = assigned
            .iter()
            .map(|a| Stored {
                topology_id: a.topology_id.clone(),
                port: a.port,
                binary_sha256: a.binary_sha256.clone(),
                assignment_json: a.assignment_json.clone(),
            })
            .collect();
        let json = serde_json::to_vec(&stored).map_err(std::io::Error::other)?;
        write_atomically(&self.path, &json)
    }
}

/// The assignment JSON per (topology, port) of a list of assignments.
pub fn by_slot(assigned: &[WorkerAssignment]) -> BTreeMap<(String, u16), String> {
    assigned
        .iter()
        .filter_map(|a| {
            let port = u16::try_from(a.port).ok()?;
            Some(((a.topology_id.clone(), port), a.assignment_json.clone()))
        })
        .collect()
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_survive_a_restart_and_nothing_stored_means_unknown() {
        let dir = tempfile::tempdir().expect("temp dir");
        let memory = AssignmentMemory::new(dir.path());
        assert_eq!(memory.load(), None);
        let a = WorkerAssignment {
            topology_id: "t-1-0".into(),
            port: 6700,
            binary_sha256: "ab".into(),
            assignment_json: "{}".into(),
            ..Default::default()
        };
        memory.store(std::slice::from_ref(&a)).expect("stored");
        assert_eq!(AssignmentMemory::new(dir.path()).load(), Some(vec![a]));
        memory.store(&[]).expect("stored");
        assert_eq!(memory.load(), Some(vec![]));
    }

    #[test]
    fn the_api_address_is_remembered_for_the_same_host_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(remembered_api_address(dir.path(), "127.0.0.2"), None);
        let addr: SocketAddr = "127.0.0.2:41000".parse().expect("address");
        remember_api_address(dir.path(), addr).expect("stored");
        assert_eq!(remembered_api_address(dir.path(), "127.0.0.2"), Some(addr));
        assert_eq!(remembered_api_address(dir.path(), "127.0.0.3"), None);
    }
}
