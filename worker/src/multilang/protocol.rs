//! Storm's multi-lang protocol with its JSON serializer: how frames are cut, and the messages
//! each side sends (`STORM-REFERENCE` §8 in the project's notes; Storm's `JsonSerializer`).
//!
//! A frame is UTF-8 JSON text, possibly over several lines, followed by a line holding exactly
//! `end`. Pure functions and types only: the shell components do the I/O.

use std::io::BufRead;

use serde::Serialize;
use serde_json::Value as Json;
use squall_topology_api::Value;

/// Longest frame accepted from a process; a longer one is a protocol error, not an allocation.
pub(crate) const MAX_FRAME_BYTES: usize = 16 << 20;

/// Why the conversation with a process failed.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// The process closed its stdout (Storm: "Pipe to subprocess seems to be broken!").
    #[error("pipe to subprocess seems to be broken: it closed its output")]
    Eof,
    /// Reading or writing the pipe failed.
    #[error("pipe to subprocess failed: {0}")]
    Io(#[from] std::io::Error),
    /// A frame longer than [`MAX_FRAME_BYTES`].
    #[error("the subprocess sent a frame over {MAX_FRAME_BYTES} bytes")]
    TooLong,
    /// A frame that is not the JSON the protocol expects.
    #[error("the subprocess sent {what}: {frame}")]
    Invalid {
        /// What was wrong.
        what: String,
        /// The frame, shortened.
        frame: String,
    },
}

fn invalid(what: impl Into<String>, frame: &str) -> ProtocolError {
    let mut shown: String = frame.chars().take(200).collect();
    if shown.len() < frame.len() {
        shown.push('…');
    }
    ProtocolError::Invalid {
        what: what.into(),
        frame: shown,
    }
}

/// Reads the next frame: lines up to a line `end`, joined with `\n`. Blank lines between
/// frames are skipped (pystorm tolerates them; so does this). `Ok(None)` at end of input
/// between frames.
pub(crate) fn read_frame(reader: &mut impl BufRead) -> Result<Option<String>, ProtocolError> {
    let mut frame = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        let n = read_line_bounded(reader, &mut line, MAX_FRAME_BYTES - frame.len())?;
        if n == 0 {
            return if frame.trim().is_empty() {
                Ok(None)
            } else {
                Err(ProtocolError::Eof)
            };
        }
        let text = line.trim_end_matches(['\n', '\r']);
        if text == "end" {
            if frame.trim().is_empty() {
                // `end` with nothing before it: an empty frame, which no message is.
                return Err(invalid("an empty frame", ""));
            }
            return Ok(Some(frame));
        }
        if frame.is_empty() && text.trim().is_empty() {
            continue;
        }
        if !frame.is_empty() {
            frame.push('\n');
        }
        frame.push_str(text);
    }
}

/// `read_line` that gives up past `limit` bytes instead of growing without bound.
fn read_line_bounded(
    reader: &mut impl BufRead,
    line: &mut String,
    limit: usize,
) -> Result<usize, ProtocolError> {
    let mut bytes = Vec::new();
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if available.is_empty() {
            break;
        }
        let (take, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if bytes.len() + take > limit {
            return Err(ProtocolError::TooLong);
        }
        bytes.extend_from_slice(&available[..take]);
        reader.consume(take);
        if done {
            break;
        }
    }
    let n = bytes.len();
    line.push_str(&String::from_utf8(bytes).map_err(|_| invalid("a frame that is not UTF-8", ""))?);
    Ok(n)
}

/// Writes one frame: the JSON, a newline, `end`, a newline.
pub(crate) fn write_frame(
    writer: &mut impl std::io::Write,
    message: &impl Serialize,
) -> Result<(), ProtocolError> {
    serde_json::to_writer(&mut *writer, message)
        .map_err(|e| ProtocolError::Io(std::io::Error::other(e)))?;
    writer.write_all(b"\nend\n")?;
    writer.flush()?;
    Ok(())
}

/// A tuple value as JSON. Bytes have no JSON form: they travel as a list of numbers.
pub(crate) fn to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::I64(n) => Json::from(*n),
        Value::F64(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Str(s) => Json::String(s.to_string()),
        Value::Bytes(b) => Json::Array(b.iter().map(|&x| Json::from(x)).collect()),
        Value::List(l) => Json::Array(l.iter().map(to_json).collect()),
        Value::Map(m) => Json::Object(m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
    }
}

/// A JSON value from a process as a tuple value: integers that fit in 64 bits stay integers.
pub(crate) fn from_json(json: &Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::I64(i),
            None => Value::F64(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(a) => Value::List(a.iter().map(from_json).collect()),
        Json::Object(o) => Value::Map(o.iter().map(|(k, v)| (k.clone(), from_json(v))).collect()),
    }
}

/// An `emit` from a process.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Emit {
    /// The values.
    pub tuple: Vec<Json>,
    /// Spouts: the message id (any JSON value); `None` for an untracked emit.
    pub id: Option<Json>,
    /// Bolts: the ids (as this side handed them out) of the inputs to anchor to.
    pub anchors: Vec<String>,
    /// The stream; `None` for `default`.
    pub stream: Option<String>,
    /// A direct emit's task.
    pub task: Option<u32>,
    /// Whether the process waits for the target task ids (default true; never for direct).
    pub need_task_ids: bool,
}

/// What a process may send.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FromProcess {
    /// The handshake's answer.
    Pid(u32),
    Emit(Emit),
    Ack(Json),
    Fail(Json),
    /// A log line: level 0 trace … 4 error (2 when absent).
    Log {
        msg: String,
        level: u8,
    },
    /// An error to report as the component's (Storm: "Shell Process Exception: …").
    Error(String),
    Metrics {
        name: String,
        params: Json,
    },
    Sync,
    /// A command Storm does not know; bolts ignore it, spouts refuse it.
    Unknown(String),
}

/// Reads one message from a frame.
pub(crate) fn parse(frame: &str) -> Result<FromProcess, ProtocolError> {
    let json: Json =
        serde_json::from_str(frame).map_err(|e| invalid(format!("invalid JSON ({e})"), frame))?;
    let Json::Object(map) = &json else {
        return Err(invalid("a message that is not a JSON object", frame));
    };
    let Some(command) = map.get("command") else {
        return match map.get("pid").and_then(Json::as_u64) {
            Some(pid) => u32::try_from(pid)
                .map(FromProcess::Pid)
                .map_err(|_| invalid("a pid out of range", frame)),
            None => Err(invalid("a message with no command", frame)),
        };
    };
    let text = |key: &str| map.get(key).and_then(Json::as_str).map(str::to_owned);
    let id = || {
        map.get("id")
            .cloned()
            .ok_or_else(|| invalid("an ack or fail with no id", frame))
    };
    Ok(match command.as_str() {
        Some("emit") => {
            let tuple = match map.get("tuple") {
                Some(Json::Array(values)) => values.clone(),
                _ => return Err(invalid("an emit whose tuple is not a list", frame)),
            };
            let anchors = match map.get("anchors") {
                None | Some(Json::Null) => Vec::new(),
                Some(Json::String(one)) => vec![one.clone()],
                Some(Json::Array(many)) => many
                    .iter()
                    .map(|a| match a {
                        Json::String(s) => Ok(s.clone()),
                        other => Ok(other.to_string()),
                    })
                    .collect::<Result<_, ProtocolError>>()?,
                Some(_) => return Err(invalid("an emit with malformed anchors", frame)),
            };
            let task = match map.get("task") {
                None | Some(Json::Null) => None,
                Some(t) => Some(
                    t.as_u64()
                        .and_then(|t| u32::try_from(t).ok())
                        .ok_or_else(|| invalid("an emit with a malformed task", frame))?,
                ),
            };
            FromProcess::Emit(Emit {
                tuple,
                id: map.get("id").filter(|v| !v.is_null()).cloned(),
                anchors,
                stream: text("stream"),
                task,
                need_task_ids: map
                    .get("need_task_ids")
                    .and_then(Json::as_bool)
                    .unwrap_or(true),
            })
        }
        Some("ack") => FromProcess::Ack(id()?),
        Some("fail") => FromProcess::Fail(id()?),
        Some("log") => FromProcess::Log {
            msg: text("msg").unwrap_or_default(),
            level: map
                .get("level")
                .and_then(Json::as_u64)
                .map_or(2, |l| l.min(4) as u8),
        },
        Some("error") => FromProcess::Error(text("msg").unwrap_or_default()),
        Some("metrics") => FromProcess::Metrics {
            name: text("name").ok_or_else(|| invalid("metrics with no name", frame))?,
            params: map.get("params").cloned().unwrap_or(Json::Null),
        },
        Some("sync") => FromProcess::Sync,
        Some(other) => FromProcess::Unknown(other.to_owned()),
        None => return Err(invalid("a command that is not a string", frame)),
    })
}

/// The first frame a process reads.
#[derive(Debug, Serialize)]
pub(crate) struct Handshake<'a> {
    #[serde(rename = "pidDir")]
    pub pid_dir: &'a str,
    pub conf: &'a Json,
    pub context: &'a Context,
}

/// The topology context a process gets in the handshake, with Storm's keys.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Context {
    #[serde(rename = "task->component")]
    pub task_component: std::collections::BTreeMap<String, String>,
    pub taskid: u32,
    pub componentid: String,
    pub streams: Vec<String>,
    #[serde(rename = "stream->outputfields")]
    pub stream_outputfields: std::collections::BTreeMap<String, Vec<String>>,
    #[serde(rename = "stream->target->grouping")]
    pub stream_target_grouping:
        std::collections::BTreeMap<String, std::collections::BTreeMap<String, Json>>,
    #[serde(rename = "source->stream->grouping")]
    pub source_stream_grouping:
        std::collections::BTreeMap<String, std::collections::BTreeMap<String, Json>>,
    #[serde(rename = "source->stream->fields")]
    pub source_stream_fields:
        std::collections::BTreeMap<String, std::collections::BTreeMap<String, Vec<String>>>,
}

/// An input tuple (or a heartbeat) for a bolt process.
#[derive(Debug, Serialize)]
pub(crate) struct BoltTuple<'a> {
    pub id: &'a str,
    pub comp: Option<&'a str>,
    pub stream: &'a str,
    pub task: i64,
    pub tuple: Vec<Json>,
}

#[cfg(test)]
mod tests;
