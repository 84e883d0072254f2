//! `squall list` and `squall status`: tables for people, JSON for scripts.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use squall_proto::pb::{
    ClusterInfo, ComponentInfo, Empty, ErrorReport, LatencySummary, NameRequest, TopologyInfo,
};

use crate::client::{Nimbus, connect, refused};

fn uptime(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{}s", secs / 60, secs % 60),
        _ => format!("{}h{}m", secs / 3600, secs % 3600 / 60),
    }
}

fn megabytes(bytes: u64) -> String {
    if bytes == 0 {
        "-".to_owned()
    } else {
        format!("{:.1}MB", bytes as f64 / (1024.0 * 1024.0))
    }
}

fn ms(v: f64) -> String {
    match v {
        0.0 => "-".to_owned(),
        v if v < 10.0 => format!("{v:.3}"),
        v => format!("{v:.1}"),
    }
}

/// How long ago a Unix-milliseconds time was, for error lines.
fn ago(time_ms: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    format!("{} ago", uptime(now.saturating_sub(time_ms) / 1000))
}

/// Why a topology runs on fewer workers than requested: a worker needs at least one
/// executor, so a topology with fewer executors than workers asked for cannot fill them all;
/// otherwise the cluster lacks free slots.
fn short_of_workers(s: &squall_proto::pb::TopologySummary, info: &TopologyInfo) -> String {
    let executors: u32 = info.components.iter().map(|c| c.executors).sum();
    if executors > 0 && executors < s.workers_requested {
        format!(
            "{} worker(s) requested, {} assigned: the topology has only {executors} executor(s) and a worker needs at least one",
            s.workers_requested, s.workers
        )
    } else {
        let rebalance = match s.workers {
            0 => String::new(),
            n => format!(", or rebalance --workers {n}"),
        };
        format!(
            "{} worker(s) requested, {} assigned: the cluster has no free slot for the rest (add supervisors or slots{rebalance})",
            s.workers_requested, s.workers
        )
    }
}

/// Workers assigned, and `/requested` when fewer were assigned than requested.
fn workers_cell(assigned: u32, requested: u32) -> String {
    if assigned < requested {
        format!("{assigned}/{requested}")
    } else {
        assigned.to_string()
    }
}

pub async fn list(nimbus: &Nimbus) -> anyhow::Result<()> {
    let list = connect(nimbus)
        .await?
        .list_topologies(Empty {})
        .await
        .map_err(refused)?
        .into_inner();
    println!(
        "{:<24} {:<36} {:<12} {:>7} {:>9}",
        "NAME", "ID", "STATUS", "WORKERS", "UPTIME"
    );
    for t in list.topologies {
        println!(
            "{:<24} {:<36} {:<12} {:>7} {:>9}",
            t.name,
            t.id,
            t.status,
            workers_cell(t.workers, t.workers_requested),
            uptime(t.uptime_secs)
        );
    }
    Ok(())
}

fn latency_json(l: Option<&LatencySummary>) -> serde_json::Value {
    let l = l.copied().unwrap_or_default();
    json!({"count": l.count, "mean_ms": l.mean_ms, "p50_ms": l.p50_ms, "p99_ms": l.p99_ms,
           "p999_ms": l.p999_ms, "max_ms": l.max_ms})
}

fn error_json(e: &ErrorReport) -> serde_json::Value {
    json!({"time_ms": e.time_ms, "host": e.host, "port": e.port, "task": e.task,
           "message": e.message})
}

fn component_json(c: &ComponentInfo) -> serde_json::Value {
    let mut o = json!({
        "id": c.id, "kind": c.kind, "executors": c.executors, "tasks": c.tasks,
        "emitted": c.emitted, "transferred": c.transferred, "acked": c.acked,
        "failed": c.failed, "executed": c.executed, "errors": c.errors,
        "queue_depth": c.queue_depth,
        "last_error": c.last_error.as_ref().map(error_json),
        "recent_errors": c.recent_errors.iter().map(error_json).collect::<Vec<_>>(),
        "streams": c.streams.iter().map(|s| json!({
            "stream": s.stream, "emitted": s.emitted, "transferred": s.transferred,
        })).collect::<Vec<_>>(),
        "inputs": c.inputs.iter().map(|i| json!({
            "component": i.component, "stream": i.stream, "executed": i.executed,
            "acked": i.acked, "failed": i.failed,
        })).collect::<Vec<_>>(),
        "executor_rows": c.executor_rows.iter().map(|e| json!({
            "tasks": e.tasks, "host": e.host, "port": e.port, "emitted": e.emitted,
            "transferred": e.transferred, "acked": e.acked, "failed": e.failed,
            "executed": e.executed, "complete_latency_ms": e.complete_latency_ms,
            "execute_latency_ms": e.execute_latency_ms,
            "process_latency_ms": e.process_latency_ms, "capacity": e.capacity,
            "queue_depth": e.queue_depth, "pending": e.pending, "uptime_secs": e.uptime_secs,
        })).collect::<Vec<_>>(),
    });
    if c.kind == "spout" {
        o["complete_latency_ms"] = json!(c.complete_latency_ms);
        o["complete_latency"] = latency_json(c.complete_latency.as_ref());
        o["pending"] = json!(c.pending);
    } else {
        o["execute_latency_ms"] = json!(c.execute_latency_ms);
        o["process_latency_ms"] = json!(c.process_latency_ms);
        o["execute_latency"] = latency_json(c.execute_latency.as_ref());
        o["process_latency"] = latency_json(c.process_latency.as_ref());
        o["capacity"] = json!(c.capacity);
    }
    o
}

/// The `status NAME --json` object: the fields DESIGN.md fixes, and more.
pub fn topology_json(info: &TopologyInfo) -> serde_json::Value {
    let s = info.summary.clone().unwrap_or_default();
    json!({
        "name": s.name,
        "id": s.id,
        "status": s.status,
        "uptime_secs": s.uptime_secs,
        "window": info.window,
        "workers_requested": s.workers_requested,
        "workers": info.workers.iter().map(|w| json!({
            "host": w.host, "port": w.port, "pid": w.pid, "uptime_secs": w.uptime_secs,
            "supervisor_id": w.supervisor_id, "memory_bytes": w.memory_bytes,
        })).collect::<Vec<_>>(),
        "components": info.components.iter().map(component_json).collect::<Vec<_>>(),
    })
}

/// The topology's tables, as one block of text.
fn topology_text(info: &TopologyInfo) -> String {
    let s = info.summary.clone().unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}  id={}  status={}  uptime={}  workers={}  window={}",
        s.name,
        s.id,
        s.status,
        uptime(s.uptime_secs),
        workers_cell(s.workers, s.workers_requested),
        info.window
    );
    if s.workers < s.workers_requested {
        let _ = writeln!(out, "note: {}", short_of_workers(&s, info));
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<16} {:>4} {:>5} {:>12} {:>12} {:>12} {:>8} {:>9} {:>9} {:>8}",
        "SPOUT",
        "EXEC",
        "TASKS",
        "EMITTED",
        "TRANSFERRED",
        "ACKED",
        "FAILED",
        "P50_MS",
        "P99_MS",
        "PENDING"
    );
    for c in info.components.iter().filter(|c| c.kind == "spout") {
        let l = c.complete_latency.unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<16} {:>4} {:>5} {:>12} {:>12} {:>12} {:>8} {:>9} {:>9} {:>8}",
            c.id,
            c.executors,
            c.tasks,
            c.emitted,
            c.transferred,
            c.acked,
            c.failed,
            ms(l.p50_ms),
            ms(l.p99_ms),
            c.pending
        );
        error_line(&mut out, c);
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<16} {:>4} {:>5} {:>12} {:>10} {:>10} {:>8} {:>12} {:>8} {:>6}",
        "BOLT",
        "EXEC",
        "TASKS",
        "EXECUTED",
        "EXEC_MS",
        "PROC_MS",
        "CAPACITY",
        "ACKED",
        "FAILED",
        "QUEUE"
    );
    for c in info.components.iter().filter(|c| c.kind != "spout") {
        let _ = writeln!(
            out,
            "{:<16} {:>4} {:>5} {:>12} {:>10} {:>10} {:>8.3} {:>12} {:>8} {:>6}",
            c.id,
            c.executors,
            c.tasks,
            c.executed,
            ms(c.execute_latency_ms),
            ms(c.process_latency_ms),
            c.capacity,
            c.acked,
            c.failed,
            c.queue_depth
        );
        error_line(&mut out, c);
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<16} {:>6} {:>8} {:>9} {:>10}",
        "WORKER HOST", "PORT", "PID", "UPTIME", "MEMORY"
    );
    for w in &info.workers {
        let _ = writeln!(
            out,
            "{:<16} {:>6} {:>8} {:>9} {:>10}",
            w.host,
            w.port,
            w.pid,
            uptime(w.uptime_secs),
            megabytes(w.memory_bytes)
        );
    }
    out
}

fn error_line(out: &mut String, c: &ComponentInfo) {
    if let Some(e) = &c.last_error {
        let _ = writeln!(
            out,
            "    last error ({}, {}:{} task {}; {} in all): {}",
            ago(e.time_ms),
            e.host,
            e.port,
            e.task,
            c.errors,
            e.message
        );
    }
}

fn cluster_json(c: &ClusterInfo) -> serde_json::Value {
    let topology = |t: &squall_proto::pb::TopologySummary| json!({"name": t.name, "id": t.id, "status": t.status, "workers": t.workers, "workers_requested": t.workers_requested, "uptime_secs": t.uptime_secs});
    json!({
        "nimbus_uptime_secs": c.nimbus_uptime_secs,
        "supervisors": c.supervisors.iter().map(|s| json!({
            "id": s.id, "host": s.host, "slots_total": s.slots_total,
            "slots_used": s.slots_used, "uptime_secs": s.uptime_secs, "alive": s.alive,
        })).collect::<Vec<_>>(),
        "topologies": c.topologies.iter().map(topology).collect::<Vec<_>>(),
    })
}

fn cluster_text(nimbus: &Nimbus, c: &ClusterInfo) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "nimbus {nimbus}  uptime={}",
        uptime(c.nimbus_uptime_secs)
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<36} {:<16} {:>6} {:>6} {:>9} {:>6}",
        "SUPERVISOR", "HOST", "USED", "FREE", "UPTIME", "ALIVE"
    );
    for s in &c.supervisors {
        let _ = writeln!(
            out,
            "{:<36} {:<16} {:>6} {:>6} {:>9} {:>6}",
            s.id,
            s.host,
            s.slots_used,
            s.slots_total.saturating_sub(s.slots_used),
            uptime(s.uptime_secs),
            if s.alive { "yes" } else { "no" }
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<24} {:<36} {:<12} {:>7} {:>9}",
        "TOPOLOGY", "ID", "STATUS", "WORKERS", "UPTIME"
    );
    for t in &c.topologies {
        let _ = writeln!(
            out,
            "{:<24} {:<36} {:<12} {:>7} {:>9}",
            t.name,
            t.id,
            t.status,
            workers_cell(t.workers, t.workers_requested),
            uptime(t.uptime_secs)
        );
    }
    out
}

/// Fetches a topology's status over a window (10m, 3h, 1d, all).
pub async fn fetch_topology(
    nimbus: &Nimbus,
    name: &str,
    window: &str,
) -> anyhow::Result<TopologyInfo> {
    Ok(connect(nimbus)
        .await?
        .get_topology(NameRequest {
            name: name.to_owned(),
            window: window.to_owned(),
        })
        .await
        .map_err(refused)?
        .into_inner())
}

pub async fn status(
    nimbus: &Nimbus,
    name: Option<&str>,
    as_json: bool,
    watch: bool,
    window: &str,
) -> anyhow::Result<()> {
    loop {
        let text = match name {
            Some(name) => {
                let info = fetch_topology(nimbus, name, window).await?;
                if as_json {
                    format!("{}\n", topology_json(&info))
                } else {
                    topology_text(&info)
                }
            }
            None => {
                let c = connect(nimbus)
                    .await?
                    .get_cluster(Empty {})
                    .await
                    .map_err(refused)?
                    .into_inner();
                if as_json {
                    format!("{}\n", cluster_json(&c))
                } else {
                    cluster_text(nimbus, &c)
                }
            }
        };
        if watch && !std::io::stdout().is_terminal() {
            // Into a pipe or a file: plain snapshots one after another, no escape codes.
            crate::output::println(&text)?;
        } else if watch {
            // Home, draw, then clear whatever the last frame left below: a redraw in place
            // without the flicker of clearing first.
            crate::output::print(&format!("\x1b[H{}\x1b[J", text.replace('\n', "\x1b[K\n")))?;
        } else {
            crate::output::print(&text)?;
        }
        if !watch {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
