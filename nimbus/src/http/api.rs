//! The JSON REST API, in the shape of Storm's UI API (`/api/v1/...`): what the web pages and
//! scripts read, and the topology actions the pages' buttons post.

use std::collections::HashMap;

use axum::extract::{Path, Query, State as Extract};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};
use squall_proto::Nimbus;
use squall_proto::pb::{
    ComponentInfo, ErrorReport, ExecutorInfo, KillRequest, LatencySummary, NameRequest,
    RebalanceRequest, TopologyInfo,
};
use squall_topology_api::{ACKER_COMPONENT_ID, Grouping};

use super::Ui;
use crate::authorize::{Caller, TopologyVerb};
use crate::metrics::view::{summary, topology_info};
use crate::metrics::window::{FINE_SECS, Window};
use crate::state::{Inner, State, now_secs};
use crate::topology::TopologyRecord;

/// An API error: a status and one line, as JSON.
pub struct ApiError(StatusCode, String);

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: String) -> Self {
        ApiError(status, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<tonic::Status> for ApiError {
    fn from(s: tonic::Status) -> Self {
        let code = match s.code() {
            tonic::Code::NotFound => StatusCode::NOT_FOUND,
            tonic::Code::InvalidArgument => StatusCode::BAD_REQUEST,
            tonic::Code::FailedPrecondition | tonic::Code::AlreadyExists => StatusCode::CONFLICT,
            tonic::Code::PermissionDenied => StatusCode::FORBIDDEN,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(code, s.message().to_owned())
    }
}

type ApiResult = Result<Json<Value>, ApiError>;

/// `?window=10m|3h|1d|all` (Storm's `?window=600`, `:all-time` are understood too).
#[derive(Deserialize, Default)]
pub struct WindowQuery {
    #[serde(default)]
    window: String,
}

impl WindowQuery {
    fn window(&self) -> Result<Window, ApiError> {
        self.window
            .parse()
            .map_err(|e: crate::metrics::window::UnknownWindow| {
                ApiError(StatusCode::BAD_REQUEST, e.to_string())
            })
    }
}

/// A topology by id or, for convenience, by name.
pub(crate) fn find<'a>(inner: &'a Inner, key: &str) -> Result<&'a TopologyRecord, ApiError> {
    inner
        .topologies
        .get(key)
        .or_else(|| inner.topologies.values().find(|r| r.name == key))
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no topology {key:?}")))
}

/// Runs a read of the state on the blocking pool (the state's lock is a std mutex).
pub(crate) async fn read<T: Send + 'static>(
    ui: &Ui,
    f: impl FnOnce(&State, &Inner) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let state = ui.state.clone();
    tokio::task::spawn_blocking(move || {
        let inner = state.lock();
        f(&state, &inner)
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

pub async fn cluster_summary(Extract(ui): Extract<Ui>) -> ApiResult {
    read(&ui, |state, inner| {
        let used = State::slots_used(inner);
        let alive: Vec<_> = inner
            .supervisors
            .iter()
            .filter(|(_, s)| state.alive(s))
            .collect();
        let slots_total: usize = alive.iter().map(|(_, s)| s.ports.len()).sum();
        let slots_used: u32 = alive
            .iter()
            .map(|(id, _)| used.get(id.as_str()).copied().unwrap_or(0))
            .sum();
        let executors: usize = inner
            .topologies
            .values()
            .filter_map(|r| r.assignment.as_ref())
            .map(|a| a.executors.len())
            .sum();
        Ok(Json(json!({
            "nimbusUptimeSeconds": state.started.elapsed().as_secs(),
            "supervisors": alive.len(),
            "slotsTotal": slots_total,
            "slotsUsed": slots_used,
            "slotsFree": slots_total.saturating_sub(slots_used as usize),
            "topologies": inner.topologies.len(),
            "executorsTotal": executors,
        })))
    })
    .await
}

pub async fn supervisor_summary(Extract(ui): Extract<Ui>) -> ApiResult {
    read(&ui, |state, inner| {
        let used = State::slots_used(inner);
        let supervisors: Vec<Value> = inner
            .supervisors
            .iter()
            .map(|(id, s)| {
                let used = used.get(id.as_str()).copied().unwrap_or(0) as usize;
                json!({
                    "id": id,
                    "host": s.host,
                    "uptimeSeconds": s.uptime_secs,
                    "slotsTotal": s.ports.len(),
                    "slotsUsed": used,
                    "slotsFree": s.ports.len().saturating_sub(used),
                    "alive": state.alive(s),
                })
            })
            .collect();
        Ok(Json(json!({ "supervisors": supervisors })))
    })
    .await
}

/// Whether `caller` may `verb` the topology `key` (an id or a name).
pub(crate) async fn may(
    ui: &Ui,
    caller: &Caller,
    verb: TopologyVerb,
    key: String,
) -> Result<(), ApiError> {
    let (policy, caller) = (ui.policy.clone().unwrap_or_default(), caller.clone());
    read(ui, move |_, inner| {
        let record = find(inner, &key)?;
        crate::service::allowed(&policy, &caller, verb, record)
            .map_err(|e| ApiError(StatusCode::FORBIDDEN, e.to_string()))
    })
    .await
}

pub async fn topology_summary(
    Extract(ui): Extract<Ui>,
    Extension(caller): Extension<Caller>,
) -> ApiResult {
    let policy = ui.policy.clone().unwrap_or_default();
    read(&ui, move |_, inner| {
        let topologies: Vec<Value> = inner
            .topologies
            .values()
            .filter(|r| crate::service::allowed(&policy, &caller, TopologyVerb::See, r).is_ok())
            .map(|r| {
                let s = summary(r);
                let executors = r.assignment.as_ref().map_or(0, |a| a.executors.len());
                let tasks: usize = r
                    .assignment
                    .iter()
                    .flat_map(|a| &a.executors)
                    .map(|e| e.tasks.len())
                    .sum();
                json!({
                    "id": s.id, "name": s.name, "status": s.status,
                    "uptimeSeconds": s.uptime_secs, "workersTotal": s.workers,
                    "workersRequested": s.workers_requested,
                    "executorsTotal": executors, "tasksTotal": tasks,
                })
            })
            .collect();
        Ok(Json(json!({ "topologies": topologies })))
    })
    .await
}

fn latency_fields(o: &mut Value, prefix: &str, l: Option<&LatencySummary>) {
    let l = l.copied().unwrap_or_default();
    o[prefix] = json!(l.mean_ms);
    o[format!("{prefix}P50")] = json!(l.p50_ms);
    o[format!("{prefix}P99")] = json!(l.p99_ms);
    o[format!("{prefix}P999")] = json!(l.p999_ms);
}

fn error_fields(o: &mut Value, e: Option<&ErrorReport>) {
    let e = e.cloned().unwrap_or_default();
    o["lastError"] = json!(e.message);
    o["errorTime"] = json!(e.time_ms / 1000);
    o["errorHost"] = json!(e.host);
    o["errorPort"] = json!(e.port);
    o["errorTask"] = json!(e.task);
}

fn component_stats(c: &ComponentInfo) -> Value {
    let mut o = json!({
        "executors": c.executors, "tasks": c.tasks, "emitted": c.emitted,
        "transferred": c.transferred, "acked": c.acked, "failed": c.failed,
        "errors": c.errors, "queueDepth": c.queue_depth,
    });
    if c.kind == "spout" {
        o["spoutId"] = json!(c.id);
        o["pending"] = json!(c.pending);
        latency_fields(&mut o, "completeLatency", c.complete_latency.as_ref());
    } else {
        o["boltId"] = json!(c.id);
        o["executed"] = json!(c.executed);
        o["capacity"] = json!(c.capacity);
        latency_fields(&mut o, "executeLatency", c.execute_latency.as_ref());
        latency_fields(&mut o, "processLatency", c.process_latency.as_ref());
    }
    error_fields(&mut o, c.last_error.as_ref());
    o
}

fn topology_json(info: &TopologyInfo, record: &TopologyRecord) -> Value {
    let s = info.summary.clone().unwrap_or_default();
    let spouts: Vec<&ComponentInfo> = info
        .components
        .iter()
        .filter(|c| c.kind == "spout")
        .collect();
    let bolts: Vec<&ComponentInfo> = info
        .components
        .iter()
        .filter(|c| c.kind != "spout")
        .collect();
    let total = |f: fn(&ComponentInfo) -> u64| spouts.iter().map(|c| f(c)).sum::<u64>();
    json!({
        "id": s.id,
        "name": s.name,
        "status": s.status,
        "uptimeSeconds": s.uptime_secs,
        "window": info.window,
        "workersTotal": info.workers.len(),
        "workersRequested": s.workers_requested,
        "executorsTotal": info.components.iter().map(|c| c.executors).sum::<u32>(),
        "tasksTotal": info.components.iter().map(|c| c.tasks).sum::<u32>(),
        "topologyStats": {
            "emitted": total(|c| c.emitted),
            "transferred": total(|c| c.transferred),
            "acked": total(|c| c.acked),
            "failed": total(|c| c.failed),
        },
        "spouts": spouts.iter().map(|c| component_stats(c)).collect::<Vec<_>>(),
        "bolts": bolts.iter().map(|c| component_stats(c)).collect::<Vec<_>>(),
        "workers": info.workers.iter().map(|w| json!({
            "host": w.host, "port": w.port, "pid": w.pid, "uptimeSeconds": w.uptime_secs,
            "memoryBytes": w.memory_bytes, "supervisorId": w.supervisor_id,
        })).collect::<Vec<_>>(),
        "configuration": record.conf,
    })
}

pub async fn topology(
    Extract(ui): Extract<Ui>,
    Path(id): Path<String>,
    Query(q): Query<WindowQuery>,
) -> ApiResult {
    let window = q.window()?;
    read(&ui, move |state, inner| {
        let record = find(inner, &id)?;
        let info = topology_info(state, inner, record, window);
        Ok(Json(topology_json(&info, record)))
    })
    .await
}

fn executor_json(e: &ExecutorInfo, kind: &str) -> Value {
    let first = e.tasks.first().copied().unwrap_or(0);
    let last = e.tasks.last().copied().unwrap_or(0);
    let mut o = json!({
        "id": format!("[{first}-{last}]"), "tasks": e.tasks, "host": e.host, "port": e.port,
        "uptimeSeconds": e.uptime_secs, "emitted": e.emitted, "transferred": e.transferred,
        "acked": e.acked, "failed": e.failed, "queueDepth": e.queue_depth,
    });
    if kind == "spout" {
        o["completeLatency"] = json!(e.complete_latency_ms);
        o["pending"] = json!(e.pending);
    } else {
        o["executed"] = json!(e.executed);
        o["executeLatency"] = json!(e.execute_latency_ms);
        o["processLatency"] = json!(e.process_latency_ms);
        o["capacity"] = json!(e.capacity);
    }
    o
}

pub async fn component(
    Extract(ui): Extract<Ui>,
    Path((id, component)): Path<(String, String)>,
    Query(q): Query<WindowQuery>,
) -> ApiResult {
    let window = q.window()?;
    read(&ui, move |state, inner| {
        let record = find(inner, &id)?;
        let info = topology_info(state, inner, record, window);
        let c = info
            .components
            .iter()
            .find(|c| c.id == component)
            .ok_or_else(|| {
                ApiError(
                    StatusCode::NOT_FOUND,
                    format!("no component {component:?} in topology {:?}", record.name),
                )
            })?;
        let mut o = component_stats(c);
        o["id"] = json!(c.id);
        o["componentType"] = json!(c.kind);
        o["topologyId"] = json!(record.id);
        o["name"] = json!(record.name);
        o["window"] = json!(info.window);
        o["outputStats"] = json!(
            c.streams
                .iter()
                .map(|s| json!({"stream": s.stream, "emitted": s.emitted, "transferred": s.transferred}))
                .collect::<Vec<_>>()
        );
        // Storm's name and shape for a bolt's per-input-stream figures.
        o["inputStats"] = json!(
            c.inputs
                .iter()
                .map(|i| json!({"component": i.component, "stream": i.stream, "executed": i.executed, "acked": i.acked, "failed": i.failed}))
                .collect::<Vec<_>>()
        );
        o["executorStats"] = json!(
            c.executor_rows
                .iter()
                .map(|e| executor_json(e, &c.kind))
                .collect::<Vec<_>>()
        );
        o["componentErrors"] = json!(
            c.recent_errors
                .iter()
                .rev()
                .map(|e| json!({
                    "time": e.time_ms, "errorTime": e.time_ms / 1000, "errorHost": e.host,
                    "errorPort": e.port, "errorTask": e.task, "error": e.message,
                }))
                .collect::<Vec<_>>()
        );
        Ok(Json(o))
    })
    .await
}

fn grouping_label(g: &Grouping) -> String {
    match g {
        Grouping::Fields(f) | Grouping::PartialKey(f) => {
            format!("{}({})", g.name(), f.names().join(","))
        }
        other => other.name().to_owned(),
    }
}

/// The DAG: components with their depth from the spouts, and each subscription as an edge
/// with its grouping and its current rate (tuples per second over the last minute).
pub async fn visualization(Extract(ui): Extract<Ui>, Path(id): Path<String>) -> ApiResult {
    read(&ui, move |_, inner| {
        let record = find(inner, &id)?;
        let now = now_secs();
        let metrics = inner.metrics.topology(&record.id);
        let spec = &record.spec;
        // Longest path from a spout: the column a component is drawn in.
        let mut depth: HashMap<&str, usize> = HashMap::new();
        for _ in 0..spec.components.len() {
            for c in &spec.components {
                let d = c
                    .inputs
                    .iter()
                    .filter(|i| i.component != c.id)
                    .map(|i| depth.get(i.component.as_str()).map_or(1, |d| d + 1))
                    .max()
                    .unwrap_or(0);
                depth.insert(c.id.as_str(), d);
            }
        }
        let nodes: Vec<Value> = spec
            .components
            .iter()
            .map(|c| {
                json!({
                    "id": c.id, "kind": c.kind.to_string(), "parallelism": c.parallelism,
                    "tasks": c.tasks, "depth": depth.get(c.id.as_str()).copied().unwrap_or(0),
                })
            })
            .collect();
        let edges: Vec<Value> = spec
            .components
            .iter()
            .flat_map(|c| c.inputs.iter().map(move |i| (c, i)))
            .map(|(c, i)| {
                let rate = metrics
                    .and_then(|m| m.components.get(&i.component))
                    .map_or(0.0, |r| {
                        let (t, span) = r.recent(60, now);
                        t.streams.get(&i.stream).map_or(0.0, |s| s[0] as f64 / span)
                    });
                json!({
                    "source": i.component, "target": c.id, "stream": i.stream,
                    "grouping": grouping_label(&i.grouping), "ratePerSec": rate,
                })
            })
            .collect();
        Ok(Json(json!({ "nodes": nodes, "edges": edges })))
    })
    .await
}

/// The last hour per component in 10-second buckets, for the charts.
pub async fn series(Extract(ui): Extract<Ui>, Path(id): Path<String>) -> ApiResult {
    read(&ui, move |_, inner| {
        let record = find(inner, &id)?;
        let Some(m) = inner.metrics.topology(&record.id) else {
            return Ok(Json(json!({ "bucketSeconds": FINE_SECS, "series": [] })));
        };
        let series: Vec<Value> = record
            .spec
            .components
            .iter()
            .map(|c| (c.id.as_str(), c.kind.to_string()))
            .chain(std::iter::once((ACKER_COMPONENT_ID, "bolt".to_owned())))
            .filter_map(|(id, kind)| {
                let rolling = m.components.get(id)?;
                let points: Vec<Value> = rolling
                    .series()
                    .map(|(t, tally)| {
                        json!({
                            "t": t, "emitted": tally.emitted, "acked": tally.acked,
                            "failed": tally.failed, "executed": tally.executed,
                            "completeMeanMs": tally.complete.mean() / 1e6,
                            "completeP99Ms": tally.complete.quantile(0.99) as f64 / 1e6,
                            "executeMeanMs": tally.execute.mean() / 1e6,
                            "executeP99Ms": tally.execute.quantile(0.99) as f64 / 1e6,
                        })
                    })
                    .collect();
                Some(json!({ "component": id, "kind": kind, "points": points }))
            })
            .collect();
        Ok(Json(
            json!({ "bucketSeconds": FINE_SECS, "series": series }),
        ))
    })
    .await
}

/// The topology's name, for the actions (which the gRPC service takes by name).
async fn name_of(ui: &Ui, key: String) -> Result<String, ApiError> {
    read(ui, move |_, inner| Ok(find(inner, &key)?.name.clone())).await
}

fn done(action: &str, name: &str) -> ApiResult {
    Ok(Json(
        json!({ "topologyOperation": action, "topologyId": name, "status": "success" }),
    ))
}

/// A gRPC request on behalf of the UI's caller.
fn on_behalf<T>(caller: Caller, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.extensions_mut().insert(caller);
    request
}

async fn set_active(ui: &Ui, caller: Caller, id: String, active: bool) -> ApiResult {
    let name = name_of(ui, id).await?;
    let request = on_behalf(
        caller,
        NameRequest {
            name: name.clone(),
            window: String::new(),
        },
    );
    if active {
        ui.service.activate(request).await?;
        done("activate", &name)
    } else {
        ui.service.deactivate(request).await?;
        done("deactivate", &name)
    }
}

pub async fn activate(
    Extract(ui): Extract<Ui>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    set_active(&ui, caller, id, true).await
}

pub async fn deactivate(
    Extract(ui): Extract<Ui>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    set_active(&ui, caller, id, false).await
}

pub async fn kill(
    Extract(ui): Extract<Ui>,
    Extension(caller): Extension<Caller>,
    Path((id, wait)): Path<(String, u32)>,
) -> ApiResult {
    let name = name_of(&ui, id).await?;
    let request = KillRequest {
        name: name.clone(),
        wait_secs: Some(wait),
    };
    ui.service.kill_topology(on_behalf(caller, request)).await?;
    done("kill", &name)
}

/// Storm's rebalance body: `{"rebalanceOptions": {"numWorkers": N, "executors": {"c": n}}}`.
#[derive(Deserialize, Default)]
pub struct RebalanceBody {
    #[serde(default, rename = "rebalanceOptions")]
    options: RebalanceOptions,
}

#[derive(Deserialize, Default)]
struct RebalanceOptions {
    #[serde(default, rename = "numWorkers")]
    workers: Option<u32>,
    #[serde(default)]
    executors: HashMap<String, u32>,
}

pub async fn rebalance(
    Extract(ui): Extract<Ui>,
    Extension(caller): Extension<Caller>,
    Path((id, wait)): Path<(String, u32)>,
    body: Option<Json<RebalanceBody>>,
) -> ApiResult {
    let name = name_of(&ui, id).await?;
    let options = body.map(|b| b.0.options).unwrap_or_default();
    let request = RebalanceRequest {
        name: name.clone(),
        workers: options.workers,
        executors: options.executors,
        wait_secs: Some(wait),
    };
    ui.service.rebalance(on_behalf(caller, request)).await?;
    done("rebalance", &name)
}
