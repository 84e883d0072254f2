//! A worker's log for the web UI (`GET /api/v1/topology/{id}/log/{host}/{port}`): its tail,
//! fetched from the supervisor that runs the worker (as Storm's UI links to each supervisor's
//! logviewer). Nimbus asks with its own certificate after checking that the UI's user may read
//! the topology's logs; the supervisor serves Nimbus as it serves the users Nimbus lists.

use axum::Extension;
use axum::extract::{Path, State as Extract};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use squall_proto::SupervisorClient;
use squall_proto::pb::ReadLogRequest;

use super::Ui;
use super::api::{ApiError, may, read};
use crate::authorize::{Caller, TopologyVerb};
use crate::metrics::view::workers;

/// How much of the log's end the page shows.
const TAIL_BYTES: u64 = 256 * 1024;

pub async fn worker_log(
    Extract(ui): Extract<Ui>,
    Extension(caller): Extension<Caller>,
    Path((id, host, port)): Path<(String, String, u32)>,
) -> Result<Response, ApiError> {
    may(&ui, &caller, TopologyVerb::ReadLogs, id.clone()).await?;
    let (topology_id, supervisor_url) = read(&ui, move |state, inner| {
        let record = super::api::find(inner, &id)?;
        let worker = workers(state, inner, record)
            .into_iter()
            .find(|w| w.host == host && w.port == port && !w.supervisor_url.is_empty())
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("no running worker of {} on {host}:{port}", record.name),
                )
            })?;
        Ok((record.id.clone(), worker.supervisor_url))
    })
    .await?;
    let unavailable = |e: &dyn std::fmt::Display| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("the supervisor at {supervisor_url} did not serve the log: {e}"),
        )
    };
    let endpoint = squall_security::endpoint(&supervisor_url, ui.tls.as_deref())
        .map_err(|e| unavailable(&e))?;
    let channel = endpoint.connect().await.map_err(|e| unavailable(&e))?;
    let mut stream = SupervisorClient::new(channel)
        .read_log(ReadLogRequest {
            topology_id,
            port,
            follow: false,
            tail_bytes: TAIL_BYTES,
        })
        .await
        .map_err(|e| unavailable(&e.message()))?
        .into_inner();
    let mut text = Vec::new();
    while let Some(chunk) = stream
        .message()
        .await
        .map_err(|e| unavailable(&e.message()))?
    {
        if chunk.caught_up {
            break;
        }
        // Bounded by what was asked for, whatever the supervisor sends.
        let room = (TAIL_BYTES as usize).saturating_sub(text.len());
        text.extend_from_slice(&chunk.data[..chunk.data.len().min(room)]);
    }
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        String::from_utf8_lossy(&text).into_owned(),
    )
        .into_response())
}
