//! `squall logs NAME [--component C] [--tail N] [--follow]`: a topology's worker logs, fetched
//! from the supervisors that run the workers, each line prefixed with its worker's host:port.

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
    tail: Option<usize>,
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
    let workers_count = workers.len();
    let needle = component.map(|c| format!("component={c}"));
    let shown = |line: &str| needle.as_deref().is_none_or(|n| line.contains(n));
    let (tx, mut rx) = mpsc::channel::<Event>(256);
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
                        let line = format!("{prefix} {}", line.trim_end());
                        if tx.send(Event::Line(line)).await.is_err() {
                            return Ok(());
                        }
                    }
                    if chunk.caught_up && tx.send(Event::CaughtUp).await.is_err() {
                        return Ok(());
                    }
                }
                if !pending.is_empty() {
                    let _ = tx.send(Event::Line(format!("{prefix} {pending}"))).await;
                }
                Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
            }
            .await;
            if let Err(e) = result {
                let line = format!("{prefix} (log unavailable: {e})");
                let _ = tx.send(Event::Line(line)).await;
                let _ = tx.send(Event::CaughtUp).await;
            }
        });
    }
    drop(tx);
    // With --tail, what each log held when asked is cut to its last N lines (after the
    // component filter); with --follow, what comes after is printed as it arrives.
    let mut tails = Tail::new(tail, workers_count);
    while let Some(event) = rx.recv().await {
        match event {
            Event::Line(line) if shown(&line) => {
                if let Some(line) = tails.line(line) {
                    crate::output::println(&line)?;
                }
            }
            Event::Line(_) => {}
            Event::CaughtUp => tails.caught_up(),
        }
        for line in tails.ready() {
            crate::output::println(&line)?;
        }
    }
    for line in tails.finish() {
        crate::output::println(&line)?;
    }
    Ok(())
}

/// What a worker's log reader reports.
enum Event {
    Line(String),
    /// That worker's log is read up to where it was when asked.
    CaughtUp,
}

/// The last N lines over all workers' existing logs, held until every worker has caught up.
struct Tail {
    keep: Option<usize>,
    lines: std::collections::VecDeque<String>,
    waiting_for: usize,
}

impl Tail {
    fn new(keep: Option<usize>, workers: usize) -> Self {
        Tail {
            keep,
            lines: std::collections::VecDeque::new(),
            waiting_for: workers,
        }
    }

    /// A line to print now, or `None` when it is held for the tail.
    fn line(&mut self, line: String) -> Option<String> {
        match self.keep {
            Some(n) if self.waiting_for > 0 => {
                self.lines.push_back(line);
                if self.lines.len() > n {
                    self.lines.pop_front();
                }
                None
            }
            _ => Some(line),
        }
    }

    fn caught_up(&mut self) {
        self.waiting_for = self.waiting_for.saturating_sub(1);
    }

    /// The held lines, once every worker has caught up.
    fn ready(&mut self) -> Vec<String> {
        if self.waiting_for == 0 {
            self.lines.drain(..).collect()
        } else {
            Vec::new()
        }
    }

    fn finish(&mut self) -> Vec<String> {
        self.lines.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Tail;

    #[test]
    fn tail_keeps_the_last_lines_until_every_worker_caught_up_then_passes_lines_through() {
        let mut tail = Tail::new(Some(2), 2);
        for l in ["a", "b", "c"] {
            assert_eq!(tail.line(l.to_owned()), None);
        }
        tail.caught_up();
        assert!(tail.ready().is_empty(), "one worker is still reading");
        assert_eq!(tail.line("d".to_owned()), None);
        tail.caught_up();
        assert_eq!(tail.ready(), ["c", "d"]);
        assert_eq!(tail.line("e".to_owned()).as_deref(), Some("e"));
    }

    #[test]
    fn without_tail_every_line_passes() {
        let mut tail = Tail::new(None, 1);
        assert_eq!(tail.line("a".to_owned()).as_deref(), Some("a"));
    }
}
