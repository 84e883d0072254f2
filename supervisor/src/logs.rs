//! Serving a worker's log file: its tail, and what is appended while following.

use std::io::SeekFrom;
use std::path::PathBuf;
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
        loop {
            match file.read(&mut buf).await {
                Ok(0) if follow => tokio::time::sleep(FOLLOW_POLL).await,
                Ok(0) => break,
                Ok(n) => {
                    if tx
                        .send(Ok(LogChunk {
                            data: buf[..n].to_vec(),
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
