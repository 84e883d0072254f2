//! A shell component's subprocess: started in its working directory, spoken to in frames over
//! its stdin and stdout by two threads (so a process that stops reading never blocks the
//! executor), its stderr copied into the worker log, its pid file written as Storm's `pidDir`
//! asks, and killed when dropped.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use serde::Serialize;

use super::protocol::{FromProcess, Handshake, ProtocolError, parse, read_frame, write_frame};

/// Environment variable a supervisor sets to the directory where a worker's shell processes
/// leave their pid files, so it can kill them if the worker dies without doing so.
pub const PID_DIR_ENV: &str = squall_proto::env::WORKER_PIDS_DIR;

/// What a shell component's process did wrong, or why it could not start.
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    /// The command could not be started.
    #[error("cannot start {command}: {source}")]
    Start {
        /// The command line.
        command: String,
        /// Why.
        source: std::io::Error,
    },
    /// No answer to the handshake in time.
    #[error("{0} did not answer the handshake within the subprocess timeout")]
    Handshake(String),
    /// The process stopped talking, or talked nonsense that desynchronised the stream.
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
    /// The process stopped reading what it is sent.
    #[error("the subprocess has not read its input for {0:?} (topology.subprocess.timeout.secs)")]
    NotReading(Duration),
    /// The process went silent for longer than `topology.subprocess.timeout.secs`.
    #[error("the subprocess has been silent for {0:?} (topology.subprocess.timeout.secs)")]
    Silent(Duration),
}

/// How to start a shell component's process.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    pub command: Vec<String>,
    pub dir: Option<PathBuf>,
    /// Frames that may wait to be written to the process (Storm's
    /// `topology.shellbolt.max.pending`): past it, sending blocks, so a process that reads
    /// slowly slows its executor down as a slow bolt would.
    pub max_pending: usize,
}

impl Launch {
    fn line(&self) -> String {
        self.command.join(" ")
    }
}

/// A running subprocess.
pub(crate) struct ShellProcess {
    child: Child,
    pub pid: u32,
    /// Longest a frame may wait for room before the process counts as stuck.
    send_timeout: Duration,
    to_process: Option<Sender<Vec<u8>>>,
    from_process: Receiver<Result<FromProcess, ProtocolError>>,
    pid_file: Option<PathBuf>,
    /// When the process last sent anything.
    pub last_heard: Instant,
}

impl ShellProcess {
    /// Starts the process and does the handshake: `pidDir`, `conf` and `context` out, `pid`
    /// back within `timeout`.
    pub fn start(
        launch: &Launch,
        pid_dir: &Path,
        conf: &serde_json::Value,
        context: &super::protocol::Context,
        timeout: Duration,
    ) -> Result<Self, ShellError> {
        let (program, args) = launch
            .command
            .split_first()
            .ok_or_else(|| ShellError::Start {
                command: String::new(),
                source: std::io::Error::other("the command is empty"),
            })?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = &launch.dir {
            cmd.current_dir(dir);
        }
        let start_error = |source| ShellError::Start {
            command: launch.line(),
            source,
        };
        std::fs::create_dir_all(pid_dir).map_err(start_error)?;
        let mut child = cmd.spawn().map_err(start_error)?;
        let pid = child.id();
        let span = tracing::Span::current();
        let (stdin, stdout, stderr) =
            match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
                (Some(i), Some(o), Some(e)) => (i, o, e),
                _ => {
                    let _ = child.kill();
                    return Err(start_error(std::io::Error::other(
                        "no pipes to the process",
                    )));
                }
            };
        let (to_process, writer_rx) =
            crossbeam_channel::bounded::<Vec<u8>>(launch.max_pending.max(1));
        let (reader_tx, from_process) = crossbeam_channel::unbounded();
        spawn_writer(stdin, writer_rx, span.clone());
        spawn_reader(stdout, reader_tx, span.clone());
        spawn_stderr(stderr, span);
        let mut process = ShellProcess {
            child,
            pid,
            send_timeout: timeout,
            to_process: Some(to_process),
            from_process,
            pid_file: None,
            last_heard: Instant::now(),
        };
        process.send(&Handshake {
            pid_dir: &pid_dir.to_string_lossy(),
            conf,
            context,
        })?;
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match process.recv_timeout(left)? {
                Some(FromProcess::Pid(p)) => {
                    if p != pid {
                        tracing::warn!(
                            said = p,
                            actual = pid,
                            "the subprocess reported another pid"
                        );
                    }
                    process.pid_file = Some(pid_dir.join(pid.to_string()));
                    return Ok(process);
                }
                Some(FromProcess::Log { msg, level }) => super::log(level, &msg),
                Some(other) => {
                    return Err(ShellError::Protocol(ProtocolError::Invalid {
                        what: "something other than its pid in answer to the handshake".into(),
                        frame: format!("{other:?}"),
                    }));
                }
                None => return Err(ShellError::Handshake(launch.line())),
            }
        }
    }

    /// Queues a frame for the process; an error when the process can no longer read.
    pub fn send(&self, message: &impl Serialize) -> Result<(), ShellError> {
        let mut frame = Vec::new();
        write_frame(&mut frame, message)?;
        let Some(tx) = &self.to_process else {
            return Err(ProtocolError::Eof.into());
        };
        match tx.send_timeout(frame, self.send_timeout) {
            Ok(()) => Ok(()),
            Err(crossbeam_channel::SendTimeoutError::Timeout(_)) => {
                Err(ShellError::NotReading(self.send_timeout))
            }
            Err(crossbeam_channel::SendTimeoutError::Disconnected(_)) => {
                Err(ProtocolError::Eof.into())
            }
        }
    }

    /// The next message, if one is waiting.
    pub fn try_recv(&mut self) -> Result<Option<FromProcess>, ShellError> {
        match self.from_process.try_recv() {
            Ok(m) => self.heard(m).map(Some),
            Err(crossbeam_channel::TryRecvError::Empty) => Ok(None),
            Err(crossbeam_channel::TryRecvError::Disconnected) => Err(ProtocolError::Eof.into()),
        }
    }

    /// The next message within `timeout`, or `None` when none came.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<FromProcess>, ShellError> {
        match self.from_process.recv_timeout(timeout) {
            Ok(m) => self.heard(m).map(Some),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(ProtocolError::Eof.into()),
        }
    }

    fn heard(&mut self, m: Result<FromProcess, ProtocolError>) -> Result<FromProcess, ShellError> {
        self.last_heard = Instant::now();
        Ok(m?)
    }

    /// Whether the process has been silent longer than `timeout`.
    pub fn silent_for(&self, timeout: Duration) -> Option<Duration> {
        let silent = self.last_heard.elapsed();
        (silent > timeout).then_some(silent)
    }
}

impl Drop for ShellProcess {
    fn drop(&mut self) {
        self.to_process = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(f) = &self.pid_file {
            let _ = std::fs::remove_file(f);
        }
    }
}

fn spawn_writer(
    mut stdin: std::process::ChildStdin,
    frames: Receiver<Vec<u8>>,
    span: tracing::Span,
) {
    let _ = std::thread::Builder::new()
        .name("shell-writer".into())
        .spawn(move || {
            let _entered = span.enter();
            for frame in frames {
                if stdin
                    .write_all(&frame)
                    .and_then(|()| stdin.flush())
                    .is_err()
                {
                    return;
                }
            }
        });
}

fn spawn_reader(
    stdout: std::process::ChildStdout,
    messages: Sender<Result<FromProcess, ProtocolError>>,
    span: tracing::Span,
) {
    let _ = std::thread::Builder::new()
        .name("shell-reader".into())
        .spawn(move || {
            let _entered = span.enter();
            let mut reader = BufReader::new(stdout);
            loop {
                let message = match read_frame(&mut reader) {
                    Ok(Some(frame)) => parse(&frame),
                    Ok(None) => Err(ProtocolError::Eof),
                    Err(e) => Err(e),
                };
                // A bad frame is reported and skipped; a broken stream ends the reader.
                let fatal = matches!(
                    message,
                    Err(ProtocolError::Eof | ProtocolError::Io(_) | ProtocolError::TooLong)
                );
                if messages.send(message).is_err() || fatal {
                    return;
                }
            }
        });
}

fn spawn_stderr(stderr: std::process::ChildStderr, span: tracing::Span) {
    let _ = std::thread::Builder::new()
        .name("shell-stderr".into())
        .spawn(move || {
            let _entered = span.enter();
            for line in BufReader::new(stderr).lines() {
                match line {
                    Ok(line) => tracing::info!(target: "shell_stderr", "{line}"),
                    Err(_) => return,
                }
            }
        });
}
