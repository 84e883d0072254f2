//! Components in any language, through Storm's multi-lang protocol: a [`ShellBolt`] runs a
//! command (`python3 split.py`) as a subprocess and speaks JSON frames with it over
//! stdin/stdout, as Storm's `ShellBolt` does, so pystorm and `storm.py` components run
//! unmodified; a [`ShellSpout`] does the same for spouts.
//!
//! `protocol` cuts and parses frames, `context` builds the handshake, `process` owns the
//! subprocess and its pipes, `command` is what both components share (command, streams,
//! starting a process), `shell_bolt` and `shell_spout` map the protocol onto a bolt and a spout.

mod command;
pub(crate) mod context;
pub(crate) mod process;
pub(crate) mod protocol;
mod shell_bolt;
mod shell_spout;

pub use process::{PID_DIR_ENV, ShellError};
pub use protocol::ProtocolError;
pub use shell_bolt::ShellBolt;
pub use shell_spout::ShellSpout;

use std::path::PathBuf;
use std::time::Duration;

use squall_topology_api::{TopologyContext, config as keys};

/// Storm's default subprocess timeout (`supervisor.worker.timeout.secs`).
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A shell component's subprocess timeout (`topology.subprocess.timeout.secs`) and the
/// directory its process writes its pid file in: the supervisor's (so it can kill what a dead
/// worker left), else one under the temp dir.
pub(crate) fn settings(context: &TopologyContext) -> (Duration, PathBuf) {
    let timeout = context
        .config()
        .get_f64(keys::TOPOLOGY_SUBPROCESS_TIMEOUT_SECS)
        .filter(|s| *s > 0.0)
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs_f64);
    let root = std::env::var_os(PID_DIR_ENV).map_or_else(
        || std::env::temp_dir().join(format!("squall-shell-{}", std::process::id())),
        PathBuf::from,
    );
    let pid_dir = root.join(format!(
        "{}-{}",
        context.this_component_id(),
        context.this_task_id()
    ));
    (timeout, pid_dir)
}

/// The directory shell components run in: where the supervisor unpacked the topology's
/// resources, else (local mode) the directory the topology names with
/// [`TopologyBuilder::resources`](squall_topology_api::TopologyBuilder::resources), taken from
/// where the binary runs; `None` when it names none.
pub(crate) fn resources_dir(context: &TopologyContext) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(squall_proto::env::RESOURCES_DIR) {
        return Some(PathBuf::from(dir));
    }
    let named = PathBuf::from(context.spec().resources.as_ref()?);
    Some(match std::env::current_dir() {
        Ok(cwd) if named.is_relative() => cwd.join(named),
        _ => named,
    })
}

/// A `log` command's line, at its level (0 trace … 4 error), under the component's span.
pub(crate) fn log(level: u8, msg: &str) {
    match level {
        0 => tracing::trace!(target: "shell", "{msg}"),
        1 => tracing::debug!(target: "shell", "{msg}"),
        2 => tracing::info!(target: "shell", "{msg}"),
        3 => tracing::warn!(target: "shell", "{msg}"),
        _ => tracing::error!(target: "shell", "{msg}"),
    }
}
