//! What a shell bolt and a shell spout share: the command, the streams it emits on (declared
//! here, since a process cannot declare them), and starting its process for a task with the
//! handshake that task's context gives.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value as Json;
use squall_topology_api::{Fields, OutputDeclarer, TopologyContext};

use super::context::{handshake_conf, handshake_context};
use super::process::{Launch, ShellError, ShellProcess};
use super::protocol::Context;

pub(crate) struct ShellCommand {
    pub launch: Launch,
    /// The working directory the author chose, if any.
    pub dir: Option<PathBuf>,
    outputs: Vec<(Option<String>, Fields)>,
    /// Set by [`prepare`](Self::prepare); no process starts before.
    handshake: Option<(Json, Context)>,
    pid_dir: PathBuf,
    /// `topology.subprocess.timeout.secs`.
    pub timeout: Duration,
}

impl ShellCommand {
    pub fn new(command: Vec<String>, max_pending: usize) -> Self {
        ShellCommand {
            launch: Launch {
                command,
                dir: None,
                max_pending,
            },
            dir: None,
            outputs: Vec::new(),
            handshake: None,
            pid_dir: std::env::temp_dir(),
            timeout: super::DEFAULT_TIMEOUT,
        }
    }

    pub fn output(&mut self, stream: Option<&str>, fields: Fields) {
        self.outputs.push((stream.map(str::to_owned), fields));
    }

    pub fn declare(&self, declarer: &mut OutputDeclarer) {
        for (stream, fields) in &self.outputs {
            match stream {
                Some(s) => {
                    declarer.declare_stream(s, fields.clone());
                }
                None => {
                    declarer.declare(fields.clone());
                }
            }
        }
    }

    /// Takes what the task's process will be told, and the timeout and pid directory.
    pub fn prepare(&mut self, context: &TopologyContext) {
        let (timeout, pid_dir) = super::settings(context);
        self.timeout = timeout;
        self.pid_dir = pid_dir;
        let resources = super::resources_dir(context);
        self.launch.dir = match (&self.dir, resources) {
            (Some(dir), Some(resources)) => Some(resources.join(dir)),
            (Some(dir), None) => Some(dir.clone()),
            (None, resources) => resources,
        };
        self.handshake = Some((handshake_conf(context), handshake_context(context)));
    }

    /// Starts a process and does the handshake; `None` before [`prepare`](Self::prepare).
    pub fn start(&self) -> Result<Option<ShellProcess>, ShellError> {
        let Some((conf, context)) = &self.handshake else {
            return Ok(None);
        };
        let process =
            ShellProcess::start(&self.launch, &self.pid_dir, conf, context, self.timeout)?;
        tracing::info!(pid = process.pid, command = %self.launch.command.join(" "), "shell process started");
        Ok(Some(process))
    }
}
