//! Components in any language, through Storm's multi-lang protocol: a [`ShellBolt`] runs a
//! command (`python3 split.py`) as a subprocess and speaks JSON frames with it over
//! stdin/stdout, as Storm's `ShellBolt` does, so pystorm and `storm.py` components run
//! unmodified.
//!
//! `protocol` cuts and parses frames, `context` builds the handshake, `process` owns the
//! subprocess and its pipes, `shell_bolt` maps the protocol onto a bolt.

pub(crate) mod context;
pub(crate) mod process;
pub(crate) mod protocol;
mod shell_bolt;

pub use process::{PID_DIR_ENV, ShellError};
pub use protocol::ProtocolError;
pub use shell_bolt::ShellBolt;

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
