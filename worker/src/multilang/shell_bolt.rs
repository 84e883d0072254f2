//! A bolt whose work is done by a subprocess speaking Storm's multi-lang protocol.
//!
//! Each input goes to the process as a tuple with an id of this bolt's own; the input waits in
//! `pending` until the process acks or fails that id. Whatever the process sends (emits
//! anchored to pending ids, acks, fails, logs, errors) is handled on the executor's thread,
//! after each input and from [`Bolt::poll`] between inputs. A heartbeat goes out every second;
//! a process silent past `topology.subprocess.timeout.secs`, or one that exits, is killed, its
//! pending inputs are failed (so their trees replay), the error is reported, and a new process
//! is started: the worker stays up.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use squall_topology_api::{
    Bolt, BoltCollector, ComponentError, DEFAULT_STREAM_ID, Fields, OutputDeclarer,
    TopologyContext, Tuple, Values, config as keys,
};

use super::command::ShellCommand;
use super::process::{ShellError, ShellProcess};
use super::protocol::{BoltTuple, Emit, FromProcess, from_json, to_json};

/// Storm's default for `topology.shellbolt.max.pending`: frames waiting to be written.
const DEFAULT_MAX_PENDING: usize = 100;
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// How often the executor lets a shell bolt read what its process sent between inputs.
const POLL_EVERY: Duration = Duration::from_millis(2);

/// A bolt implemented by a subprocess (Storm's `ShellBolt`): the command, and the streams it
/// emits on, declared here as the process cannot declare them.
///
/// # Examples
/// ```no_run
/// use squall_worker::prelude::*;
/// use squall_worker::multilang::ShellBolt;
///
/// let mut builder = TopologyBuilder::new();
/// # struct S;
/// # impl Spout for S {
/// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new(["sentence"])); }
/// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
/// # }
/// builder.set_spout("sentences", || S, 1);
/// builder
///     .set_bolt(
///         "split",
///         || ShellBolt::new(["python3", "splitsentence.py"]).output(Fields::new(["word"])),
///         2,
///     )
///     .shuffle_grouping("sentences");
/// let topology = builder.build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ShellBolt {
    shell: ShellCommand,
    process: Option<ShellProcess>,
    pending: HashMap<String, Tuple>,
    next_id: u64,
    last_heartbeat: Instant,
    heartbeats: u64,
}

impl ShellBolt {
    /// A bolt that runs `command` (program and arguments) in the worker's current directory
    /// (or [`current_dir`](Self::current_dir)).
    pub fn new<S: Into<String>>(command: impl IntoIterator<Item = S>) -> Self {
        ShellBolt {
            shell: ShellCommand::new(
                command.into_iter().map(Into::into).collect(),
                DEFAULT_MAX_PENDING,
            ),
            process: None,
            pending: HashMap::new(),
            next_id: 0,
            last_heartbeat: Instant::now(),
            heartbeats: 0,
        }
    }

    /// Declares the default stream's fields.
    #[must_use]
    pub fn output(mut self, fields: Fields) -> Self {
        self.shell.output(None, fields);
        self
    }

    /// Declares another stream.
    #[must_use]
    pub fn output_stream(mut self, stream: &str, fields: Fields) -> Self {
        self.shell.output(Some(stream), fields);
        self
    }

    /// Runs the command in `dir` (a relative `dir` is taken inside the topology's resources
    /// directory, see [`TopologyBuilder::resources`](squall_topology_api::TopologyBuilder::resources)).
    /// Without it the command runs in the resources directory, else where the worker runs.
    #[must_use]
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.shell.dir = Some(dir.into());
        self
    }

    fn start(&mut self) -> Result<(), ShellError> {
        if let Some(process) = self.shell.start()? {
            self.last_heartbeat = Instant::now();
            self.process = Some(process);
        }
        Ok(())
    }

    /// The process is gone or hopeless: kill it, fail what it held (so those trees replay),
    /// and say why. A new one starts with the next input or poll.
    fn died(&mut self, why: &ShellError, out: &mut BoltCollector<'_>) {
        self.process = None;
        let held = self.pending.len();
        for (_, tuple) in self.pending.drain() {
            out.fail(&tuple);
        }
        let message = format!("shell process died, {held} pending input(s) failed: {why}");
        tracing::error!("{message}");
        out.report_error(&message);
    }

    /// Handles everything the process has sent so far; with `wait`, waits up to that long for
    /// the first message.
    fn drain(
        &mut self,
        out: &mut BoltCollector<'_>,
        wait: Option<Duration>,
    ) -> Result<(), ShellError> {
        let mut wait = wait;
        loop {
            let Some(process) = self.process.as_mut() else {
                return Ok(());
            };
            let next = match wait.take() {
                Some(w) => process.recv_timeout(w),
                None => process.try_recv(),
            };
            match next {
                Ok(Some(m)) => self.handle(m, out)?,
                Ok(None) => return Ok(()),
                // A frame that could not be read is reported; the stream goes on.
                Err(ShellError::Protocol(e @ super::protocol::ProtocolError::Invalid { .. })) => {
                    out.report_error(&format!("Shell Process Exception: {e}"));
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn handle(
        &mut self,
        message: FromProcess,
        out: &mut BoltCollector<'_>,
    ) -> Result<(), ShellError> {
        match message {
            FromProcess::Emit(emit) => self.emit(emit, out)?,
            FromProcess::Ack(id) => match self.pending.remove(&id_text(&id)) {
                Some(tuple) => out.ack(&tuple),
                None => out.report_error(&format!(
                    "Shell Process Exception: ack of unknown tuple id {}",
                    id_text(&id)
                )),
            },
            FromProcess::Fail(id) => match self.pending.remove(&id_text(&id)) {
                Some(tuple) => out.fail(&tuple),
                None => out.report_error(&format!(
                    "Shell Process Exception: fail of unknown tuple id {}",
                    id_text(&id)
                )),
            },
            FromProcess::Log { msg, level } => super::log(level, &msg),
            FromProcess::Error(msg) => out.report_error(&format!("Shell Process Exception: {msg}")),
            FromProcess::Metrics { name, params } => {
                tracing::debug!(target: "shell", metric = %name, %params, "metrics");
            }
            // The answer to a heartbeat: hearing anything is what counts.
            FromProcess::Sync | FromProcess::Pid(_) => {}
            FromProcess::Unknown(command) => {
                tracing::debug!(target: "shell", %command, "ignoring an unknown command, as Storm's ShellBolt does");
            }
        }
        Ok(())
    }

    fn emit(&mut self, emit: Emit, out: &mut BoltCollector<'_>) -> Result<(), ShellError> {
        let Emit {
            tuple,
            anchors,
            stream,
            task,
            need_task_ids,
            ..
        } = emit;
        let mut anchored = Vec::with_capacity(anchors.len());
        for id in &anchors {
            match self.pending.get(id) {
                Some(t) => anchored.push(t),
                None => out.report_error(&format!(
                    "Shell Process Exception: emit anchored to unknown or completed tuple id {id}"
                )),
            }
        }
        let values: Values = tuple.iter().map(from_json).collect();
        let stream = stream.as_deref().unwrap_or(DEFAULT_STREAM_ID);
        let result = match task {
            Some(task) => out.emit_direct(task, stream, &anchored, values),
            None => out.emit_on(stream, &anchored, values),
        };
        match result {
            Ok(targets) => {
                if need_task_ids && task.is_none() {
                    let targets = targets.to_vec();
                    if let Some(p) = &self.process {
                        p.send(&targets)?;
                    }
                }
            }
            Err(e) => {
                out.report_error(&format!("Shell Process Exception: {e}"));
                if need_task_ids
                    && task.is_none()
                    && let Some(p) = &self.process
                {
                    // The process waits for an answer: an empty one keeps it going.
                    p.send(&Vec::<u32>::new())?;
                }
            }
        }
        Ok(())
    }

    /// Keeps the process alive and heard from: a heartbeat each second, and death when it has
    /// been silent longer than the timeout.
    fn keep_alive(&mut self) -> Result<(), ShellError> {
        let Some(process) = &self.process else {
            return Ok(());
        };
        if let Some(silent) = process.silent_for(self.shell.timeout) {
            return Err(ShellError::Silent(silent));
        }
        if self.last_heartbeat.elapsed() >= HEARTBEAT_EVERY {
            self.last_heartbeat = Instant::now();
            // Heartbeats are never acked, so any id does; they count down from -1.
            self.heartbeats += 1;
            let id = format!("-{}", self.heartbeats);
            process.send(&BoltTuple {
                id: &id,
                comp: None,
                stream: "__heartbeat",
                task: -1,
                tuple: Vec::new(),
            })?;
        }
        Ok(())
    }

    fn ensure_running(&mut self, out: &mut BoltCollector<'_>) -> bool {
        if self.process.is_some() {
            return true;
        }
        match self.start() {
            Ok(()) => self.process.is_some(),
            Err(e) => {
                self.died(&e, out);
                false
            }
        }
    }
}

/// A process's id for one of our tuples: we hand out strings, some clients echo numbers.
fn id_text(id: &Json) -> String {
    match id {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Bolt for ShellBolt {
    fn declare_outputs(&self, declarer: &mut OutputDeclarer) {
        self.shell.declare(declarer);
    }

    fn prepare(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        self.shell.prepare(context);
        self.shell.launch.max_pending = context
            .config()
            .get_u64(keys::TOPOLOGY_SHELLBOLT_MAX_PENDING)
            .map_or(DEFAULT_MAX_PENDING, |n| n.max(1) as usize);
        self.start()?;
        Ok(())
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        if !self.ensure_running(out) {
            out.fail(&input);
            return Ok(());
        }
        self.next_id += 1;
        let id = self.next_id.to_string();
        let message = BoltTuple {
            id: &id,
            comp: Some(input.source_component()),
            stream: input.source_stream(),
            task: if input.is_tick() {
                -1
            } else {
                i64::from(input.source_task())
            },
            tuple: input.values().iter().map(to_json).collect(),
        };
        let sent = self.process.as_ref().map(|p| p.send(&message));
        self.pending.insert(id, input);
        // Sending blocks while `topology.shellbolt.max.pending` frames wait to be written: a
        // slow script backpressures like a slow bolt. Its answers are read as they come.
        let outcome = match sent {
            Some(r) => r.and_then(|()| self.drain(out, None)),
            None => Ok(()),
        };
        if let Err(e) = outcome {
            self.died(&e, out);
        }
        Ok(())
    }

    fn poll_interval(&self) -> Option<Duration> {
        Some(POLL_EVERY)
    }

    fn poll(&mut self, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        if !self.ensure_running(out) {
            return Ok(());
        }
        if let Err(e) = self.keep_alive().and_then(|()| self.drain(out, None)) {
            self.died(&e, out);
        }
        Ok(())
    }

    fn cleanup(&mut self) {
        self.process = None;
    }
}
