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
    for (worker, w) in workers.into_iter().enumerate() {
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
                        if tx.send(Event::Line(worker, line)).await.is_err() {
                            return Ok(());
                        }
                    }
                    if chunk.caught_up && tx.send(Event::CaughtUp(worker)).await.is_err() {
                        return Ok(());
                    }
                }
                if !pending.is_empty() {
                    let _ = tx
                        .send(Event::Line(worker, format!("{prefix} {pending}")))
                        .await;
                }
                Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
            }
            .await;
            if let Err(e) = result {
                let line = format!("{prefix} (log unavailable: {e})");
                let _ = tx.send(Event::Line(worker, line)).await;
            }
            // Whatever happened, this worker has nothing more from before: a stream that
            // ended (or an older supervisor that never says) counts as caught up.
            let _ = tx.send(Event::CaughtUp(worker)).await;
        });
    }
    drop(tx);
    // With --tail, what each log held when asked is cut to its last N lines (after the
    // component filter); with --follow, what comes after is printed as it arrives.
    let mut tails = Tail::new(tail, workers_count);
    while let Some(event) = rx.recv().await {
        match event {
            Event::Line(worker, line) if shown(&line) => {
                if let Some(line) = tails.line(worker, line) {
                    crate::output::println(&line)?;
                }
            }
            Event::Line(..) => {}
            Event::CaughtUp(worker) => tails.caught_up(worker),
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

/// What a worker's log reader reports, by worker.
enum Event {
    Line(usize, String),
    /// That worker's log is read up to where it was when asked (sent once or more).
    CaughtUp(usize),
}

/// With `--tail N`: the last N lines of each worker's existing log, held until every worker
/// has caught up, then the newest N of them all by their time stamp; after that, lines pass.
struct Tail {
    keep: Option<usize>,
    per_worker: Vec<std::collections::VecDeque<String>>,
    caught_up: Vec<bool>,
    released: bool,
}

impl Tail {
    fn new(keep: Option<usize>, workers: usize) -> Self {
        Tail {
            keep,
            per_worker: vec![std::collections::VecDeque::new(); workers],
            caught_up: vec![false; workers],
            released: keep.is_none(),
        }
    }

    /// A line to print now, or `None` when it is held for the tail.
    fn line(&mut self, worker: usize, line: String) -> Option<String> {
        match (self.keep, self.per_worker.get_mut(worker)) {
            (Some(n), Some(held)) if !self.released => {
                held.push_back(line);
                if held.len() > n {
                    held.pop_front();
                }
                None
            }
            _ => Some(line),
        }
    }

    fn caught_up(&mut self, worker: usize) {
        if let Some(c) = self.caught_up.get_mut(worker) {
            *c = true;
        }
    }

    /// The tail, once every worker has caught up (then nothing more is held).
    fn ready(&mut self) -> Vec<String> {
        if self.released || !self.caught_up.iter().all(|&c| c) {
            return Vec::new();
        }
        self.finish()
    }

    /// The newest N held lines of all workers, oldest first, by each line's time stamp (the
    /// field after the `[host:port]` prefix; the same clock format in every worker's log).
    fn finish(&mut self) -> Vec<String> {
        self.released = true;
        let mut all: Vec<String> = self
            .per_worker
            .iter_mut()
            .flat_map(|w| w.drain(..))
            .collect();
        all.sort_by(|a, b| stamp(a).cmp(stamp(b)));
        let n = self.keep.unwrap_or(all.len());
        let skip = all.len().saturating_sub(n);
        all.into_iter().skip(skip).collect()
    }
}

fn stamp(line: &str) -> &str {
    line.split_whitespace().nth(1).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::Tail;

    #[test]
    fn tail_keeps_the_newest_lines_of_all_workers_by_time_once_all_caught_up() {
        let mut tail = Tail::new(Some(2), 2);
        for (w, l) in [
            (0, "[a] 2026-01-01T00:00:01Z one"),
            (0, "[a] 2026-01-01T00:00:04Z four"),
            (1, "[b] 2026-01-01T00:00:02Z two"),
            (1, "[b] 2026-01-01T00:00:03Z three"),
        ] {
            assert_eq!(tail.line(w, l.to_owned()), None);
        }
        tail.caught_up(0);
        tail.caught_up(0);
        assert!(tail.ready().is_empty(), "worker 1 is still reading");
        tail.caught_up(1);
        assert_eq!(
            tail.ready(),
            [
                "[b] 2026-01-01T00:00:03Z three",
                "[a] 2026-01-01T00:00:04Z four"
            ]
        );
        assert_eq!(tail.line(1, "new".to_owned()).as_deref(), Some("new"));
        assert!(tail.ready().is_empty());
    }

    #[test]
    fn without_tail_every_line_passes() {
        let mut tail = Tail::new(None, 1);
        assert_eq!(tail.line(0, "a".to_owned()).as_deref(), Some("a"));
    }
}
