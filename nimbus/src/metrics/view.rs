//! The status of a topology as clients see it, over one window: summary, workers as their
//! supervisors report them, and per component the figures summed over its executors, their
//! latency distributions, capacity, queue depths, errors and per-executor rows.

use squall_proto::pb::{
    ComponentInfo, ExecutorInfo, InputStreamCounts, StreamCounts, TopologyInfo, TopologySummary,
    WorkerInfo,
};
use squall_topology_api::{ACKER_COMPONENT_ID, ComponentKind};

use super::window::Window;
use super::{ExecutorMetrics, TopologyMetrics};
use crate::state::{Inner, State, now_secs};
use crate::topology::TopologyRecord;

/// An executor whose last report is older than this no longer runs where it did (it moved or
/// its worker died); its row and gauges are left out.
const STALE_EXECUTOR_SECS: u64 = 10;

/// The one-line summary of a topology.
pub fn summary(r: &TopologyRecord) -> TopologySummary {
    TopologySummary {
        name: r.name.clone(),
        id: r.id.clone(),
        status: r.status.as_str().to_owned(),
        workers: r.assignment.as_ref().map_or(0, |a| a.slots().len() as u32),
        uptime_secs: now_secs().saturating_sub(r.submitted_at),
        workers_requested: r.workers,
        wait_secs_left: r.until.map_or(0, |u| u.saturating_sub(now_secs())),
    }
}

/// The workers of a topology's assignment, with pid, uptime and memory where their supervisor
/// reported them.
pub fn workers(state: &State, inner: &Inner, record: &TopologyRecord) -> Vec<WorkerInfo> {
    record
        .assignment
        .iter()
        .flat_map(|a| a.slots())
        .map(|slot| {
            let report = inner
                .supervisors
                .iter()
                .filter(|(_, s)| state.alive(s) && s.host == slot.host)
                .find_map(|(id, s)| {
                    s.workers
                        .iter()
                        .find(|w| w.topology_id == record.id && w.port == u32::from(slot.port))
                        .map(|w| (id, s, w))
                });
            WorkerInfo {
                host: slot.host.clone(),
                port: u32::from(slot.port),
                pid: report.map_or(0, |(_, _, w)| w.pid),
                uptime_secs: report.map_or(0, |(_, _, w)| w.uptime_secs),
                supervisor_id: report.map_or_else(String::new, |(id, _, _)| id.clone()),
                supervisor_url: report.map_or_else(String::new, |(_, s, _)| s.api_url.clone()),
                memory_bytes: report.map_or(0, |(_, _, w)| w.memory_bytes),
            }
        })
        .collect()
}

/// A topology's status over `window`.
pub fn topology_info(
    state: &State,
    inner: &Inner,
    record: &TopologyRecord,
    window: Window,
) -> TopologyInfo {
    let now = now_secs();
    let metrics = inner.metrics.topology(&record.id);
    let components = record
        .spec
        .components
        .iter()
        .map(|c| (c.id.as_str(), c.kind))
        .chain(std::iter::once((ACKER_COMPONENT_ID, ComponentKind::Bolt)))
        .map(|(id, kind)| component_info(record, metrics, id, kind, window, now))
        .filter(|c| c.id != ACKER_COMPONENT_ID || c.executors > 0)
        .collect();
    TopologyInfo {
        summary: Some(summary(record)),
        workers: workers(state, inner, record),
        components,
        window: window.as_str().to_owned(),
    }
}

fn component_info(
    record: &TopologyRecord,
    metrics: Option<&TopologyMetrics>,
    id: &str,
    kind: ComponentKind,
    window: Window,
    now: u64,
) -> ComponentInfo {
    let placed: Vec<_> = record
        .assignment
        .iter()
        .flat_map(|a| &a.executors)
        .filter(|e| e.component == id)
        .collect();
    let mut info = ComponentInfo {
        id: id.to_owned(),
        kind: kind.to_string(),
        executors: placed.len() as u32,
        tasks: placed.iter().map(|e| e.tasks.len() as u32).sum(),
        ..ComponentInfo::default()
    };
    let Some(m) = metrics else {
        return info;
    };
    if let Some(rolling) = m.components.get(id) {
        let (t, _) = rolling.window(window, now);
        info.emitted = t.emitted;
        info.transferred = t.transferred;
        info.acked = t.acked;
        info.failed = t.failed;
        info.executed = t.executed;
        info.errors = t.errors;
        info.complete_latency_ms = t.complete.mean() / 1e6;
        info.execute_latency_ms = t.execute.mean() / 1e6;
        info.process_latency_ms = t.process.mean() / 1e6;
        info.complete_latency = Some(t.complete.summary());
        info.execute_latency = Some(t.execute.summary());
        info.process_latency = Some(t.process.summary());
        info.streams = t
            .streams
            .iter()
            .map(|(stream, [e, tr])| StreamCounts {
                stream: stream.clone(),
                emitted: *e,
                transferred: *tr,
            })
            .collect();
        info.inputs = t
            .inputs
            .iter()
            .flat_map(|(component, streams)| {
                streams.iter().map(
                    move |(stream, [executed, acked, failed])| InputStreamCounts {
                        component: component.clone(),
                        stream: stream.clone(),
                        executed: *executed,
                        acked: *acked,
                        failed: *failed,
                    },
                )
            })
            .collect();
    }
    let live = m
        .executors
        .iter()
        .filter(|((c, _), e)| c == id && e.seen.elapsed().as_secs() < STALE_EXECUTOR_SECS);
    for (_, e) in live {
        let row = executor_row(e, window, now);
        info.capacity = info.capacity.max(row.capacity);
        info.queue_depth += row.queue_depth;
        info.pending += row.pending;
        info.executor_rows.push(row);
    }
    if let Some(errors) = m.errors.get(id) {
        info.recent_errors = errors.iter().cloned().collect();
        info.last_error = errors.back().cloned();
    }
    info
}

fn executor_row(e: &ExecutorMetrics, window: Window, now: u64) -> ExecutorInfo {
    let (t, span) = e.rolling.window(window, now);
    ExecutorInfo {
        tasks: e.tasks.clone(),
        host: e.host.clone(),
        port: e.port,
        emitted: t.emitted,
        transferred: t.transferred,
        acked: t.acked,
        failed: t.failed,
        executed: t.executed,
        complete_latency_ms: t.complete.mean() / 1e6,
        execute_latency_ms: t.execute.mean() / 1e6,
        process_latency_ms: t.process.mean() / 1e6,
        capacity: t.capacity(span),
        queue_depth: e.queue_depth,
        pending: e.pending,
        uptime_secs: e.uptime_secs,
    }
}
