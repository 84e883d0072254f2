//! Worker processes: started from a cached binary in worker mode, watched, restarted, killed.
//!
//! Each slot's worker is recorded in `workers/<port>.json` (topology, pid), so a restarted
//! supervisor adopts the workers it left running (after checking the pid really is that
//! worker) or kills them: never an orphan, never two workers on one slot.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use squall_proto::env;
use squall_proto::pb::ExecutorStats;

use crate::SupervisorError;

/// What is written down about a slot's worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    topology_id: String,
    port: u16,
    pid: u32,
}

/// One worker process.
pub struct WorkerProcess {
    /// Its topology.
    pub topology_id: String,
    /// Its slot port.
    pub port: u16,
    /// Its process id.
    pub pid: u32,
    /// Our child handle, when we started it (not when adopted).
    child: Option<Child>,
    /// When it was started or adopted.
    pub started: Instant,
    /// When it last heartbeat.
    pub last_heartbeat: Option<Instant>,
    /// Its executors' counters, from its last heartbeat.
    pub stats: Vec<ExecutorStats>,
    /// Its resident memory at its last heartbeat.
    pub memory_bytes: u64,
    /// Why it says its executors are stuck, if it does.
    pub stuck: Option<String>,
    /// Whether a heartbeat to Nimbus has carried its stats since it said so: it is killed only
    /// then, so the reason (an error of the stuck executor) reaches status.
    pub stuck_forwarded: bool,
}

impl WorkerProcess {
    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => Path::new(&format!("/proc/{}", self.pid)).exists(),
        }
    }

    /// Kills the process (SIGKILL, as Storm does) and reaps it.
    pub fn kill(&mut self) {
        let _ = kill(Pid::from_raw(self.pid as i32), Signal::SIGKILL);
        if let Some(child) = &mut self.child {
            let _ = child.wait();
        }
    }
}

/// The workers of one supervisor, by slot port.
pub struct Workers {
    dir: PathBuf,
    /// Running workers by port.
    pub by_port: BTreeMap<u16, WorkerProcess>,
}

impl Workers {
    /// Loads the records in `dir`, adopting the workers still alive and cleaning up the rest.
    ///
    /// # Errors
    /// When the directory cannot be read.
    pub fn recover(dir: &Path) -> Result<Self, SupervisorError> {
        std::fs::create_dir_all(dir)?;
        let mut by_port = BTreeMap::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let record: Option<Record> = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            match record {
                Some(r) if is_our_worker(r.pid, r.port) => {
                    tracing::info!(port = r.port, pid = r.pid, topology = %r.topology_id, "adopted worker");
                    by_port.insert(
                        r.port,
                        WorkerProcess {
                            topology_id: r.topology_id,
                            port: r.port,
                            pid: r.pid,
                            child: None,
                            started: Instant::now(),
                            last_heartbeat: None,
                            stats: Vec::new(),
                            memory_bytes: 0,
                            stuck: None,
                            stuck_forwarded: false,
                        },
                    );
                }
                _ => {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        Ok(Workers {
            dir: dir.to_owned(),
            by_port,
        })
    }

    fn record_path(&self, port: u16) -> PathBuf {
        self.dir.join(format!("{port}.json"))
    }

    /// The log file of a slot's worker for a topology.
    pub fn log_path(&self, topology_id: &str, port: u16) -> PathBuf {
        self.dir.join(format!("{topology_id}-{port}.log"))
    }

    /// A link to the cached binary named after the topology, started in its place so that `ps`
    /// and `top` (which show the executable's file name) tell which topology a worker runs,
    /// rather than the SHA-256 the cache names it by. Replaced atomically, so a concurrent
    /// start of another slot never sees it missing.
    fn named_link(&self, topology_id: &str, binary: &Path) -> Result<PathBuf, SupervisorError> {
        // The id becomes a file name: Nimbus only makes valid ones, but this is the boundary.
        if !squall_topology_api::valid_topology_name(topology_id) {
            return Err(SupervisorError::Binary(format!(
                "invalid topology id {topology_id:?}"
            )));
        }
        let dir = self.dir.join("bin");
        std::fs::create_dir_all(&dir)?;
        let link = dir.join(topology_id);
        let binary = std::path::absolute(binary)?;
        if std::fs::read_link(&link).is_ok_and(|target| target == binary) {
            return Ok(link);
        }
        let tmp = dir.join(format!(".{topology_id}.{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&binary, &tmp)?;
        std::fs::rename(&tmp, &link)?;
        Ok(link)
    }

    /// Starts a worker of `binary` on `port`.
    ///
    /// # Errors
    /// When the process cannot be started or recorded.
    pub fn start(&mut self, spec: &StartSpec<'_>) -> Result<(), SupervisorError> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(spec.topology_id, spec.port))?;
        let program = self.named_link(spec.topology_id, spec.binary)?;
        // Shell processes a previous worker on this slot left behind go first.
        self.kill_shell_processes(spec.port);
        let pids_dir = self.pids_dir(spec.port);
        std::fs::create_dir_all(&pids_dir)?;
        let child = Command::new(&program)
            .arg0(format!(
                "squall-worker {} port={}",
                spec.topology_id, spec.port
            ))
            .args(spec.args)
            .env(env::WORKER_TOPOLOGY_ID, spec.topology_id)
            .env(env::WORKER_HOST, spec.host)
            .env(env::WORKER_PORT, spec.port.to_string())
            .env(env::WORKER_PIDS_DIR, &pids_dir)
            .env(env::SUPERVISOR_URL, spec.supervisor_url)
            .env(env::WORKER_TIMEOUT_SECS, spec.timeout.as_secs().to_string())
            .env(
                env::WORKER_PROGRESS_TIMEOUT_SECS,
                spec.progress_timeout.as_secs().to_string(),
            )
            .envs(
                spec.tls_dir
                    .map(|d| (env::WORKER_TLS_DIR, d.as_os_str().to_owned())),
            )
            .envs(
                spec.resources
                    .map(|d| (env::RESOURCES_DIR, d.as_os_str().to_owned())),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let pid = child.id();
        let record = Record {
            topology_id: spec.topology_id.to_owned(),
            port: spec.port,
            pid,
        };
        let json = serde_json::to_vec(&record)
            .map_err(|e| SupervisorError::Binary(format!("cannot record worker: {e}")))?;
        let tmp = self.dir.join(format!(".{}.json", spec.port));
        std::fs::write(&tmp, json)?;
        std::fs::rename(&tmp, self.record_path(spec.port))?;
        tracing::info!(port = spec.port, pid, topology = %spec.topology_id, "worker started");
        self.by_port.insert(
            spec.port,
            WorkerProcess {
                topology_id: spec.topology_id.to_owned(),
                port: spec.port,
                pid,
                child: Some(child),
                started: Instant::now(),
                last_heartbeat: None,
                stats: Vec::new(),
                memory_bytes: 0,
                stuck: None,
                stuck_forwarded: false,
            },
        );
        Ok(())
    }

    /// Kills and forgets the worker on `port`, and the shell processes it started.
    pub fn stop(&mut self, port: u16, why: &str) {
        if let Some(mut w) = self.by_port.remove(&port) {
            tracing::info!(port, pid = w.pid, topology = %w.topology_id, why, "killing worker");
            w.kill();
        }
        self.kill_shell_processes(port);
        let _ = std::fs::remove_file(self.record_path(port));
    }

    /// Where the worker on `port` has its shell components' processes write their pid files.
    fn pids_dir(&self, port: u16) -> PathBuf {
        self.dir.join("pids").join(port.to_string())
    }

    /// Kills the shell processes a worker on `port` left (their pid files, one directory per
    /// shell task, as Storm's `pidDir`), so none outlives its worker, even one killed with -9.
    /// A pid is killed only if that process still carries this slot's worker environment: a
    /// pid reused by an unrelated process is left alone.
    fn kill_shell_processes(&self, port: u16) {
        let dir = self.pids_dir(port);
        let files = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|task_dir| {
                std::fs::read_dir(task_dir.path())
                    .into_iter()
                    .flatten()
                    .flatten()
            });
        for file in files {
            let Some(pid) = file
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if is_our_worker(pid, port) {
                tracing::info!(port, pid, "killing a shell process its worker left");
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// How to start one worker.
pub struct StartSpec<'a> {
    /// With security on: the directory of the worker's certificate, key and CA.
    pub tls_dir: Option<&'a Path>,
    /// The cached binary.
    pub binary: &'a Path,
    /// Arguments for its `main`.
    pub args: &'a [String],
    /// The topology.
    pub topology_id: &'a str,
    /// The host address to serve on.
    pub host: &'a str,
    /// The slot port.
    pub port: u16,
    /// Where to heartbeat.
    pub supervisor_url: &'a str,
    /// `supervisor.worker.timeout.secs`.
    pub timeout: Duration,
    /// `supervisor.worker.progress.timeout.secs`.
    pub progress_timeout: Duration,
    /// Where the topology's resources were unpacked, when it has any.
    pub resources: Option<&'a Path>,
}

/// Whether `pid` is a live worker process for slot `port` (its environment says so).
fn is_our_worker(pid: u32, port: u16) -> bool {
    let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    let wanted = format!("{}={port}", env::WORKER_PORT);
    environ.split(|&b| b == 0).any(|kv| kv == wanted.as_bytes())
}
