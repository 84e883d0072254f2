//! `squall logs NAME [--component C] [--follow]`: a topology's worker logs, fetched from the
//! supervisors that run the workers, each line prefixed with its worker's host:port.

use anyhow::{Context, bail};
use squall_proto::SupervisorClient;
use squall_proto::pb::{NameRequest, ReadLogRequest};
use tokio::sync::mpsc;

use crate::client::{Nimbus, connect, refused};

/// How much of each log to show when not following from the start.
const TAIL_BYTES: u64 = 1 << 20;

pub async fn logs(
    nimbus: &Nimbus,
    name: &str,
    component: Option<&str>,
    follow: bool,
) -> anyhow::Result<()> {
    let info = connect(nimbus)
        .await?
        .get_topology(NameRequest {
            name: name.to_owned(),
            window: String::new(),
        })
        .await
        .map_err(refused)?
        .into_inner();
    let topology_id = info
        .summary
        .map(|s| s.id)
        .context("nimbus sent no topology summary")?;
    let workers: Vec<_> = info
        .workers
        .into_iter()
        .filter(|w| !w.supervisor_url.is_empty())
        .collect();
    if workers.is_empty() {
        bail!("no running worker of {name:?} has reported yet");
    }
    let needle = component.map(|c| format!("component={c}"));
    let (tx, mut rx) = mpsc::channel::<String>(256);
    for w in workers {
        let (tx, topology_id) = (tx.clone(), topology_id.clone());
        let tls = nimbus.tls.clone();
        tokio::spawn(async move {
            let prefix = format!("[{}:{}]", w.host, w.port);
            let result = async {
                let channel = squall_security::endpoint(&w.supervisor_url, tls.as_ref())?
                    .connect()
                    .await?;
                let mut client = SupervisorClient::new(channel);
                let mut stream = client
                    .read_log(ReadLogRequest {
                        topology_id,
                        port: w.port,
                        follow,
                        tail_bytes: TAIL_BYTES,
                    })
                    .await?
                    .into_inner();
                let mut pending = String::new();
                while let Some(chunk) = stream.message().await? {
                    pending.push_str(&String::from_utf8_lossy(&chunk.data));
                    while let Some(end) = pending.find('\n') {
                        let line: String = pending.drain(..=end).collect();
                        if tx
                            .send(format!("{prefix} {}", line.trim_end()))
                            .await
                            .is_err()
                        {
                            return Ok(());
                        }
                    }
                }
                if !pending.is_empty() {
                    let _ = tx.send(format!("{prefix} {pending}")).await;
                }
                Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
            }
            .await;
            if let Err(e) = result {
                let _ = tx.send(format!("{prefix} (log unavailable: {e})")).await;
            }
        });
    }
    drop(tx);
    while let Some(line) = rx.recv().await {
        if needle.as_deref().is_none_or(|n| line.contains(n)) {
            println!("{line}");
        }
    }
    Ok(())
}
