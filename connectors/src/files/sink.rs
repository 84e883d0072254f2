//! The rolling file sink.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use squall_topology_api::{Bolt, BoltCollector, ComponentError, TopologyContext, Tuple, Value};

use super::FileError;

/// A file being written is named `PREFIX-TASK-SEQ.inprogress` and renamed `.log` when rolled.
const IN_PROGRESS: &str = ".inprogress";
const ROLLED: &str = ".log";
/// Inputs written per sync at most.
const MAX_BATCH: usize = 4096;
/// Default size at which a file is rolled.
const DEFAULT_ROLL_BYTES: u64 = 64 << 20;

/// Appends one input field per line to `DIR/PREFIX-TASK-SEQ.inprogress`, and acks the inputs
/// of a batch once their lines are synced to disk (a failed write fails them, so they replay).
/// At `roll_bytes` (64 MiB unless set) the file is renamed `.log` and a new one started; on
/// start, a task's files left `.inprogress` by a crash are cut back to their last complete
/// line and renamed `.log`. At least once: a line whose ack was lost is written again.
///
/// ```no_run
/// use squall_connectors::files::FileSink;
/// use squall_topology_api::TopologyBuilder;
/// # struct Lines;
/// # impl squall_topology_api::Spout for Lines {
/// #     fn declare_outputs(&self, out: &mut squall_topology_api::OutputDeclarer) { out.declare(squall_topology_api::Fields::new(["line"])); }
/// #     fn next_tuple(&mut self, _: &mut squall_topology_api::SpoutCollector<'_>) -> Result<(), squall_topology_api::ComponentError> { Ok(()) }
/// # }
///
/// let mut b = TopologyBuilder::new();
/// # b.set_spout("lines", || Lines, 1);
/// b.set_bolt("archive", || FileSink::new("/var/lib/archive", "events").field("line"), 1)
///     .shuffle_grouping("lines");
/// ```
pub struct FileSink {
    dir: PathBuf,
    prefix: String,
    field: String,
    roll_bytes: u64,
    task: usize,
    seq: u64,
    out: Option<(BufWriter<File>, u64)>,
    buffer: Vec<Tuple>,
}

impl FileSink {
    /// Writes files named `PREFIX-...` in `dir`.
    pub fn new(dir: impl Into<PathBuf>, prefix: impl Into<String>) -> Self {
        FileSink {
            dir: dir.into(),
            prefix: prefix.into(),
            field: "line".to_owned(),
            roll_bytes: DEFAULT_ROLL_BYTES,
            task: 0,
            seq: 0,
            out: None,
            buffer: Vec::new(),
        }
    }

    /// The input field written (default `line`).
    #[must_use]
    pub fn field(mut self, name: impl Into<String>) -> Self {
        self.field = name.into();
        self
    }

    /// Rolls to a new file once one reaches this size.
    #[must_use]
    pub fn roll_bytes(mut self, bytes: u64) -> Self {
        self.roll_bytes = bytes.max(1);
        self
    }

    fn name(&self, seq: u64, suffix: &str) -> PathBuf {
        self.dir
            .join(format!("{}-{}-{seq:06}{suffix}", self.prefix, self.task))
    }

    /// This task's files: (sequence number, path, still in progress).
    fn own_files(&self) -> Result<Vec<(u64, PathBuf, bool)>, FileError> {
        let mine = format!("{}-{}-", self.prefix, self.task);
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir)
            .map_err(|e| FileError::io(&self.dir, e))?
            .flatten()
        {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let Some(rest) = name.strip_prefix(&mine) else {
                continue;
            };
            let (seq, in_progress) =
                match (rest.strip_suffix(IN_PROGRESS), rest.strip_suffix(ROLLED)) {
                    (Some(s), _) => (s, true),
                    (None, Some(s)) => (s, false),
                    _ => continue,
                };
            if let Ok(seq) = seq.parse() {
                out.push((seq, entry.path(), in_progress));
            }
        }
        Ok(out)
    }

    fn roll(&mut self) -> Result<(), FileError> {
        if let Some((mut writer, _)) = self.out.take() {
            let from = self.name(self.seq, IN_PROGRESS);
            writer.flush().map_err(|e| FileError::io(&from, e))?;
            let to = self.name(self.seq, ROLLED);
            std::fs::rename(&from, &to).map_err(|e| FileError::io(&from, e))?;
            self.seq += 1;
        }
        Ok(())
    }

    fn write_batch(&mut self) -> Result<(), FileError> {
        if self.out.is_none() {
            let path = self.name(self.seq, IN_PROGRESS);
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| FileError::io(&path, e))?;
            let len = file.metadata().map_err(|e| FileError::io(&path, e))?.len();
            self.out = Some((BufWriter::new(file), len));
        }
        let path = self.name(self.seq, IN_PROGRESS);
        let field = self.field.clone();
        let Some((writer, written)) = self.out.as_mut() else {
            return Ok(());
        };
        for input in &self.buffer {
            let line = match input.get(&field.as_str()) {
                Ok(Value::Str(s)) => s.as_bytes().to_vec(),
                Ok(Value::Bytes(b)) => b.clone(),
                Ok(other) => other.to_string().into_bytes(),
                Err(_) => Vec::new(),
            };
            writer
                .write_all(&line)
                .map_err(|e| FileError::io(&path, e))?;
            writer
                .write_all(b"\n")
                .map_err(|e| FileError::io(&path, e))?;
            *written += line.len() as u64 + 1;
        }
        writer.flush().map_err(|e| FileError::io(&path, e))?;
        writer
            .get_ref()
            .sync_data()
            .map_err(|e| FileError::io(&path, e))?;
        if *written >= self.roll_bytes {
            self.roll()?;
        }
        Ok(())
    }

    fn flush(&mut self, collector: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let result = self.write_batch();
        let buffer = std::mem::take(&mut self.buffer);
        match result {
            Ok(()) => {
                for input in &buffer {
                    collector.ack(input);
                }
                Ok(())
            }
            Err(e) => {
                // What reached the file may be half a batch: start a new file.
                self.out = None;
                self.seq += 1;
                for input in &buffer {
                    collector.fail(input);
                }
                Err(e.into())
            }
        }
    }
}

/// Cuts a file after its last newline (what a crash mid-write left beyond it is not acked).
fn cut_to_last_line(path: &Path) -> std::io::Result<()> {
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let len = file.metadata()?.len();
    let mut keep = len;
    let mut buf = [0u8; 4096];
    while keep > 0 {
        let chunk = keep.min(buf.len() as u64);
        file.seek(SeekFrom::Start(keep - chunk))?;
        let part = &mut buf[..chunk as usize];
        file.read_exact(part)?;
        match part.iter().rposition(|&b| b == b'\n') {
            Some(i) => {
                keep = keep - chunk + i as u64 + 1;
                break;
            }
            None => keep -= chunk,
        }
    }
    if keep != len {
        file.set_len(keep)?;
    }
    file.sync_all()
}

impl Bolt for FileSink {
    fn prepare(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        self.task = context.this_task_index();
        std::fs::create_dir_all(&self.dir).map_err(|e| FileError::io(&self.dir, e))?;
        let files = self.own_files()?;
        for (seq, path, in_progress) in &files {
            if *in_progress {
                cut_to_last_line(path).map_err(|e| FileError::io(path, e))?;
                let to = self.name(*seq, ROLLED);
                std::fs::rename(path, &to).map_err(|e| FileError::io(path, e))?;
            }
        }
        self.seq = files.iter().map(|(s, _, _)| s + 1).max().unwrap_or(0);
        Ok(())
    }

    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut BoltCollector<'_>,
    ) -> Result<(), ComponentError> {
        // Failed (the error fails this input), not written as an empty line and acked.
        if input.get(&self.field.as_str()).is_err() {
            return Err(ComponentError::msg(format!(
                "input has no field {:?} to write",
                self.field
            )));
        }
        self.buffer.push(input);
        if self.buffer.len() >= MAX_BATCH {
            self.flush(collector)?;
        }
        Ok(())
    }

    fn poll_interval(&self) -> Option<Duration> {
        Some(Duration::from_millis(5))
    }

    fn poll(&mut self, collector: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        self.flush(collector)
    }

    fn cleanup(&mut self) {
        if let Err(e) = self.roll() {
            tracing::warn!(error = %e, "could not roll the last file; it is renamed at the next start");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "one\ntwo\nthr").unwrap();
        cut_to_last_line(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
        std::fs::write(&path, "partial").unwrap();
        cut_to_last_line(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    }
}
