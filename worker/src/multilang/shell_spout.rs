//! A spout whose work is done by a subprocess speaking Storm's multi-lang protocol: each of
//! `next_tuple`, `ack`, `fail`, `activate` and `deactivate` sends one command and reads what the
//! process sends until its `sync` (Storm's `ShellSpout` ping-pong). The process's message ids
//! (any JSON value) are mapped to this runtime's `u64` ids and back. A process that exits or
//! stays silent past `topology.subprocess.timeout.secs` while a command waits is killed, the
//! error is reported, and a new one is started; acks and fails for what the old one emitted
//! are dropped (a replaying spout's timeouts are what replay them, as after a Storm restart).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;
use serde_json::Value as Json;
use squall_topology_api::{
    ComponentError, DEFAULT_STREAM_ID, Fields, MessageId, OutputDeclarer, Spout, SpoutCollector,
    TopologyContext, Values,
};

use super::command::ShellCommand;
use super::process::{ShellError, ShellProcess};
use super::protocol::{Emit, FromProcess, ProtocolError, from_json};

/// A command for a spout process.
#[derive(Debug, Serialize)]
struct SpoutCommand<'a> {
    command: &'a str,
    id: &'a Json,
}

/// A spout implemented by a subprocess (Storm's `ShellSpout`): the command, and the streams it
/// emits on.
///
/// # Examples
/// ```no_run
/// use squall_worker::prelude::*;
/// use squall_worker::multilang::ShellSpout;
///
/// let mut builder = TopologyBuilder::new();
/// builder.set_spout(
///     "sentences",
///     || ShellSpout::new(["python3", "sentences.py"]).output(Fields::new(["sentence"])),
///     1,
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ShellSpout {
    shell: ShellCommand,
    process: Option<ShellProcess>,
    /// The process's ids of the trees in flight, by this runtime's id.
    ids: HashMap<MessageId, Json>,
    next_id: MessageId,
    /// Emits (and errors) that came while answering `ack`, `fail` or (de)activation, which
    /// have no collector: emitted at the next `next_tuple`.
    deferred: Vec<Deferred>,
}

enum Deferred {
    Emit(Emit),
    Error(String),
}

impl ShellSpout {
    /// A spout that runs `command` (program and arguments).
    pub fn new<S: Into<String>>(command: impl IntoIterator<Item = S>) -> Self {
        ShellSpout {
            shell: ShellCommand::new(command.into_iter().map(Into::into).collect(), 1),
            process: None,
            ids: HashMap::new(),
            next_id: 0,
            deferred: Vec::new(),
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

    fn ensure_running(&mut self) -> Result<(), ShellError> {
        if self.process.is_none() {
            self.process = self.shell.start()?;
        }
        Ok(())
    }

    /// Sends one command and collects what the process sends until its `sync`.
    fn exchange(&mut self, command: &str, id: &Json) -> Result<Vec<Emit>, ShellError> {
        self.ensure_running()?;
        let Some(process) = self.process.as_mut() else {
            return Ok(Vec::new());
        };
        process.send(&SpoutCommand { command, id })?;
        let deadline = Instant::now() + self.shell.timeout;
        let mut emits = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = match process.recv_timeout(left) {
                Ok(Some(m)) => m,
                Ok(None) => return Err(ShellError::Silent(self.shell.timeout)),
                Err(ShellError::Protocol(e @ ProtocolError::Invalid { .. })) => {
                    self.deferred
                        .push(Deferred::Error(format!("Shell Process Exception: {e}")));
                    continue;
                }
                Err(e) => return Err(e),
            };
            match message {
                FromProcess::Sync => return Ok(emits),
                FromProcess::Emit(e) => {
                    // The process waits for the target tasks before it goes on: they are
                    // known only once emitted, so such an emit is made here and now.
                    emits.push(e);
                    if emits
                        .last()
                        .is_some_and(|e| e.need_task_ids && e.task.is_none())
                    {
                        return Ok(emits);
                    }
                }
                FromProcess::Log { msg, level } => super::log(level, &msg),
                FromProcess::Error(msg) => self
                    .deferred
                    .push(Deferred::Error(format!("Shell Process Exception: {msg}"))),
                FromProcess::Metrics { name, params } => {
                    tracing::debug!(target: "shell", metric = %name, %params, "metrics");
                }
                FromProcess::Pid(_) => {}
                FromProcess::Ack(_) | FromProcess::Fail(_) | FromProcess::Unknown(_) => {
                    self.deferred.push(Deferred::Error(format!(
                        "Shell Process Exception: a spout may not send {message:?} (only emit, log, error, metrics and sync)"
                    )));
                }
            }
        }
    }

    /// The process is gone or hopeless: drop it (a new one starts with the next command) and
    /// forget the ids of what it emitted.
    fn died(&mut self, why: &ShellError) {
        self.process = None;
        self.ids.clear();
        let message = format!("shell process died: {why}");
        tracing::error!("{message}");
        self.deferred.push(Deferred::Error(message));
    }

    /// Emits one tuple the process sent; answers its `need_task_ids`.
    fn emit(&mut self, e: Emit, out: &mut SpoutCollector<'_>) -> Result<(), ShellError> {
        let values: Values = e.tuple.iter().map(from_json).collect();
        let stream = e.stream.as_deref().unwrap_or(DEFAULT_STREAM_ID);
        let msg_id = e.id.map(|json| {
            self.next_id += 1;
            self.ids.insert(self.next_id, json);
            self.next_id
        });
        let result = match e.task {
            Some(task) => out.emit_direct(task, stream, values, msg_id),
            None => out.emit_on(stream, values, msg_id),
        };
        let targets = match result {
            Ok(t) => t.to_vec(),
            Err(err) => {
                if let Some(id) = msg_id {
                    self.ids.remove(&id);
                }
                out.report_error(&format!("Shell Process Exception: {err}"));
                Vec::new()
            }
        };
        if e.need_task_ids
            && e.task.is_none()
            && let Some(p) = &self.process
        {
            p.send(&targets)?;
        }
        Ok(())
    }

    /// Sends a command whose emits have no collector now: they wait for the next `next_tuple`.
    fn command_without_collector(&mut self, command: &str, id: &Json) {
        match self.exchange(command, id) {
            Ok(emits) => {
                let blocked = emits
                    .last()
                    .is_some_and(|e| e.need_task_ids && e.task.is_none());
                self.deferred.extend(emits.into_iter().map(Deferred::Emit));
                if blocked {
                    // It waits for task ids that only an emit can give: answer with none
                    // rather than hold the spout (Storm would emit here).
                    let reply = self
                        .process
                        .as_ref()
                        .map(|p| p.send(&Vec::<u32>::new()))
                        .unwrap_or(Ok(()))
                        .and_then(|()| self.finish_sync());
                    if let Err(e) = reply {
                        self.died(&e);
                    }
                }
            }
            Err(e) => self.died(&e),
        }
    }

    /// Reads on to the `sync` after an answered `need_task_ids`, deferring further emits.
    fn finish_sync(&mut self) -> Result<(), ShellError> {
        loop {
            let Some(process) = self.process.as_mut() else {
                return Ok(());
            };
            match process.recv_timeout(self.shell.timeout)? {
                Some(FromProcess::Sync) => return Ok(()),
                Some(FromProcess::Emit(e)) => {
                    let wants_ids = e.need_task_ids && e.task.is_none();
                    self.deferred.push(Deferred::Emit(e));
                    if wants_ids && let Some(p) = &self.process {
                        p.send(&Vec::<u32>::new())?;
                    }
                }
                Some(FromProcess::Log { msg, level }) => super::log(level, &msg),
                Some(FromProcess::Error(msg)) => self
                    .deferred
                    .push(Deferred::Error(format!("Shell Process Exception: {msg}"))),
                Some(_) => {}
                None => return Err(ShellError::Silent(self.shell.timeout)),
            }
        }
    }
}

impl Spout for ShellSpout {
    fn declare_outputs(&self, declarer: &mut OutputDeclarer) {
        self.shell.declare(declarer);
    }

    fn open(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        self.shell.prepare(context);
        self.ensure_running()?;
        Ok(())
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        for d in std::mem::take(&mut self.deferred) {
            match d {
                Deferred::Emit(e) => {
                    let e = Emit {
                        need_task_ids: false,
                        ..e
                    };
                    if let Err(err) = self.emit(e, out) {
                        self.died(&err);
                    }
                }
                Deferred::Error(msg) => out.report_error(&msg),
            }
        }
        let emits = match self.exchange("next", &Json::String(String::new())) {
            Ok(emits) => emits,
            Err(e) => {
                self.died(&e);
                return Ok(());
            }
        };
        let blocked = emits
            .last()
            .is_some_and(|e| e.need_task_ids && e.task.is_none());
        for e in emits {
            if let Err(err) = self.emit(e, out) {
                self.died(&err);
                return Ok(());
            }
        }
        // The task ids went out with that emit; the process goes on to its `sync`.
        if blocked && let Err(e) = self.continue_after_task_ids(out) {
            self.died(&e);
        }
        Ok(())
    }

    fn ack(&mut self, msg_id: MessageId) {
        if let Some(id) = self.ids.remove(&msg_id) {
            self.command_without_collector("ack", &id);
        }
    }

    fn fail(&mut self, msg_id: MessageId) {
        if let Some(id) = self.ids.remove(&msg_id) {
            self.command_without_collector("fail", &id);
        }
    }

    fn activate(&mut self) {
        self.command_without_collector("activate", &Json::String(String::new()));
    }

    fn deactivate(&mut self) {
        self.command_without_collector("deactivate", &Json::String(String::new()));
    }

    fn close(&mut self) {
        self.process = None;
    }
}

impl ShellSpout {
    /// After an emit whose task ids were sent: read on to the `sync`, emitting what comes.
    fn continue_after_task_ids(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ShellError> {
        loop {
            let Some(process) = self.process.as_mut() else {
                return Ok(());
            };
            match process.recv_timeout(self.shell.timeout)? {
                Some(FromProcess::Sync) => return Ok(()),
                Some(FromProcess::Emit(e)) => self.emit(e, out)?,
                Some(FromProcess::Log { msg, level }) => super::log(level, &msg),
                Some(FromProcess::Error(msg)) => {
                    out.report_error(&format!("Shell Process Exception: {msg}"));
                }
                Some(_) => {}
                None => return Err(ShellError::Silent(self.shell.timeout)),
            }
        }
    }
}
