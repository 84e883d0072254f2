//! Workers' log files: serving their tail (and what is appended while following), and keeping
//! them from filling the disk.
//!
//! A worker writes its log through the stdout and stderr the supervisor opened for it in append
//! mode, so the supervisor rotates without the worker's help: past the size limit the content
//! is copied to `<log>.1` (older copies shift to `.2`, ...) and the file is truncated in place
//! (logrotate's copytruncate). The worker's appends then land at the new end. Lines written
//! between the copy and the truncation are lost; that window is one copy long.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::time::Duration;

use squall_proto::pb::LogChunk;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

const CHUNK_BYTES: usize = 64 * 1024;
const FOLLOW_POLL: Duration = Duration::from_millis(300);

/// A stream of the log at `path`, starting `tail_bytes` from its end (0: from the start).
///
/// # Errors
/// `not_found` when there is no such log.
pub async fn read(
    path: PathBuf,
    tail_bytes: u64,
    follow: bool,
) -> Result<ReceiverStream<Result<LogChunk, Status>>, Status> {
    let mut file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| Status::not_found("no log for that worker on this supervisor"))?;
    let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    if tail_bytes > 0 && tail_bytes < len {
        file.seek(SeekFrom::Start(len - tail_bytes))
            .await
            .map_err(|e| Status::internal(format!("reading log: {e}")))?;
    }
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        let mut buf = vec![0u8; CHUNK_BYTES];
        let mut caught_up = false;
        loop {
            match file.read(&mut buf).await {
                Ok(0) if !caught_up => {
                    caught_up = true;
                    let mark = LogChunk {
                        data: Vec::new(),
                        caught_up: true,
                    };
                    if tx.send(Ok(mark)).await.is_err() || !follow {
                        break;
                    }
                }
                Ok(0) if follow => {
                    tokio::time::sleep(FOLLOW_POLL).await;
                    // Rotated under us: the file is shorter than where we are; start over.
                    let at = file.stream_position().await.unwrap_or(0);
                    let len = file.metadata().await.map_or(at, |m| m.len());
                    if len < at {
                        let _ = file.seek(SeekFrom::Start(0)).await;
                    }
                }
                Ok(0) => break,
                Ok(n) => {
                    if tx
                        .send(Ok(LogChunk {
                            data: buf[..n].to_vec(),
                            caught_up: false,
                        }))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx
                        .send(Err(Status::internal(format!("reading log: {e}"))))
                        .await;
                    break;
                }
            }
        }
    });
    Ok(ReceiverStream::new(rx))
}

/// `supervisor.worker.log.max.bytes`: a worker log past this size is rotated.
pub const LOG_MAX_BYTES_KEY: &str = "supervisor.worker.log.max.bytes";
/// The default limit: 64 MiB, with [`KEPT_ROTATIONS`] older copies beside it.
pub const DEFAULT_LOG_MAX_BYTES: u64 = 64 << 20;
/// Rotated copies kept per worker log (`.1` newest).
pub const KEPT_ROTATIONS: usize = 3;

/// Rotates every `*.log` in `dir` that has grown past `max_bytes`; returns how many were.
///
/// # Errors
/// When the directory cannot be read; a log that cannot be rotated is skipped and logged.
pub fn rotate_logs(dir: &Path, max_bytes: u64) -> std::io::Result<usize> {
    let mut rotated = 0;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "log") {
            continue;
        }
        match rotate_if_large(&path, max_bytes) {
            Ok(true) => rotated += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(log = %path.display(), error = %e, "cannot rotate log"),
        }
    }
    Ok(rotated)
}

fn rotated(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// Copies the log to `.1` (shifting older copies) and truncates it, if it is over the limit.
fn rotate_if_large(path: &Path, max_bytes: u64) -> std::io::Result<bool> {
    if std::fs::metadata(path)?.len() <= max_bytes {
        return Ok(false);
    }
    for n in (1..KEPT_ROTATIONS).rev() {
        let from = rotated(path, n);
        if from.exists() {
            std::fs::rename(&from, rotated(path, n + 1))?;
        }
    }
    std::fs::copy(path, rotated(path, 1))?;
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .set_len(0)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn a_log_over_the_limit_is_copied_aside_and_truncated_while_its_writer_goes_on() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("topo-6700.log");
        // The worker's side: one append-mode handle held throughout, as a child's stderr is.
        let mut writer = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("open log");
        for round in 0..5 {
            writer.write_all(&[b'a' + round; 1100]).expect("write");
            rotate_logs(dir.path(), 1000).expect("rotate");
        }
        writer.write_all(b"last line\n").expect("write");
        let current = std::fs::read(&log).expect("read log");
        assert!(
            current.len() <= 1000 + 10,
            "the log kept growing: {}",
            current.len()
        );
        assert!(current.ends_with(b"last line\n"));
        // Appends after a truncation start at the new end, not at the old offset.
        assert!(!current.starts_with(&[0u8]));
        for n in 1..=KEPT_ROTATIONS {
            assert!(rotated(&log, n).exists(), "no .{n}");
        }
        assert!(!rotated(&log, KEPT_ROTATIONS + 1).exists());
        let newest = std::fs::read(rotated(&log, 1)).expect("read .1");
        assert!(
            newest.iter().all(|b| *b == b'e'),
            "newest copy holds the last round"
        );
    }
}
