//! `squall list` and `squall status`: tables for people, JSON for scripts.

use std::time::Duration;

use serde_json::json;
use squall_proto::pb::{Empty, NameRequest, TopologyInfo};

use crate::client::{connect, refused};

fn uptime(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{}s", secs / 60, secs % 60),
        _ => format!("{}h{}m", secs / 3600, secs % 3600 / 60),
    }
}

pub async fn list(nimbus: &str) -> anyhow::Result<()> {
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
            t.workers,
            uptime(t.uptime_secs)
        );
    }
    Ok(())
}

/// The `status NAME --json` object: the fields DESIGN.md fixes, and more.
pub fn topology_json(info: &TopologyInfo) -> serde_json::Value {
    let s = info.summary.clone().unwrap_or_default();
    json!({
        "name": s.name,
        "id": s.id,
        "status": s.status,
        "uptime_secs": s.uptime_secs,
        "workers": info.workers.iter().map(|w| json!({
            "host": w.host, "port": w.port, "pid": w.pid, "uptime_secs": w.uptime_secs,
            "supervisor_id": w.supervisor_id,
        })).collect::<Vec<_>>(),
        "components": info.components.iter().map(|c| {
            let mut o = json!({
                "id": c.id, "kind": c.kind, "executors": c.executors, "tasks": c.tasks,
                "emitted": c.emitted, "transferred": c.transferred, "acked": c.acked,
                "failed": c.failed, "executed": c.executed, "errors": c.errors,
                "last_error": if c.last_error.is_empty() { None } else { Some(&c.last_error) },
            });
            if c.kind == "spout" {
                o["complete_latency_ms"] = json!(c.complete_latency_ms);
            } else {
                o["execute_latency_ms"] = json!(c.execute_latency_ms);
                o["capacity"] = json!(c.capacity);
            }
            o
        }).collect::<Vec<_>>(),
    })
}

fn print_topology(info: &TopologyInfo) {
    let s = info.summary.clone().unwrap_or_default();
    println!(
        "{}  id={}  status={}  uptime={}",
        s.name,
        s.id,
        s.status,
        uptime(s.uptime_secs)
    );
    println!();
    println!(
        "{:<16} {:<6} {:>5} {:>5} {:>12} {:>12} {:>12} {:>8} {:>10}",
        "COMPONENT", "KIND", "EXEC", "TASKS", "EMITTED", "EXECUTED", "ACKED", "FAILED", "LATENCY"
    );
    for c in &info.components {
        let latency = if c.kind == "spout" {
            format!("{:.2}ms", c.complete_latency_ms)
        } else {
            "-".to_owned()
        };
        println!(
            "{:<16} {:<6} {:>5} {:>5} {:>12} {:>12} {:>12} {:>8} {:>10}",
            c.id, c.kind, c.executors, c.tasks, c.emitted, c.executed, c.acked, c.failed, latency
        );
        if !c.last_error.is_empty() {
            println!("    last error: {}", c.last_error);
        }
    }
    println!();
    println!(
        "{:<16} {:>6} {:>8} {:>9}",
        "WORKER HOST", "PORT", "PID", "UPTIME"
    );
    for w in &info.workers {
        println!(
            "{:<16} {:>6} {:>8} {:>9}",
            w.host,
            w.port,
            w.pid,
            uptime(w.uptime_secs)
        );
    }
}

async fn print_cluster(nimbus: &str, as_json: bool) -> anyhow::Result<()> {
    let c = connect(nimbus)
        .await?
        .get_cluster(Empty {})
        .await
        .map_err(refused)?
        .into_inner();
    if as_json {
        let topology = |t: &squall_proto::pb::TopologySummary| json!({"name": t.name, "id": t.id, "status": t.status, "workers": t.workers, "uptime_secs": t.uptime_secs});
        println!(
            "{}",
            json!({
                "nimbus_uptime_secs": c.nimbus_uptime_secs,
                "supervisors": c.supervisors.iter().map(|s| json!({
                    "id": s.id, "host": s.host, "slots_total": s.slots_total,
                    "slots_used": s.slots_used, "uptime_secs": s.uptime_secs, "alive": s.alive,
                })).collect::<Vec<_>>(),
                "topologies": c.topologies.iter().map(topology).collect::<Vec<_>>(),
            })
        );
        return Ok(());
    }
    println!("nimbus {nimbus}  uptime={}", uptime(c.nimbus_uptime_secs));
    println!();
    println!(
        "{:<36} {:<16} {:>6} {:>6} {:>9} {:>6}",
        "SUPERVISOR", "HOST", "USED", "FREE", "UPTIME", "ALIVE"
    );
    for s in &c.supervisors {
        println!(
            "{:<36} {:<16} {:>6} {:>6} {:>9} {:>6}",
            s.id,
            s.host,
            s.slots_used,
            s.slots_total.saturating_sub(s.slots_used),
            uptime(s.uptime_secs),
            if s.alive { "yes" } else { "no" }
        );
    }
    println!();
    println!(
        "{:<24} {:<36} {:<12} {:>7} {:>9}",
        "TOPOLOGY", "ID", "STATUS", "WORKERS", "UPTIME"
    );
    for t in &c.topologies {
        println!(
            "{:<24} {:<36} {:<12} {:>7} {:>9}",
            t.name,
            t.id,
            t.status,
            t.workers,
            uptime(t.uptime_secs)
        );
    }
    Ok(())
}

pub async fn status(
    nimbus: &str,
    name: Option<&str>,
    as_json: bool,
    watch: bool,
) -> anyhow::Result<()> {
    loop {
        if watch {
            // Clear the screen and go home, so each redraw replaces the last.
            print!("\x1b[2J\x1b[H");
        }
        match name {
            Some(name) => {
                let info = connect(nimbus)
                    .await?
                    .get_topology(NameRequest {
                        name: name.to_owned(),
                    })
                    .await
                    .map_err(refused)?
                    .into_inner();
                if as_json {
                    println!("{}", topology_json(&info));
                } else {
                    print_topology(&info);
                }
            }
            None => print_cluster(nimbus, as_json).await?,
        }
        if !watch {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
