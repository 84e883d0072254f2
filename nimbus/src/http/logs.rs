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
use super::api::{ApiError, read};
use crate::authorize::{Caller, TopologyVerb};
use crate::metrics::view::workers;

/// How much of the log's end the page shows.
const TAIL_BYTES: u64 = 256 * 1024;

/// Connecting to the supervisor, and the whole read, may take this long.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub async fn worker_log(
    Extract(ui): Extract<Ui>,
    Extension(caller): Extension<Caller>,
    Path((id, host, port)): Path<(String, String, u32)>,
) -> Result<Response, ApiError> {
    let policy = ui.policy.clone().unwrap_or_default();
    // The permission and the worker are looked up together, so the log served is that of the
    // topology whose permission was checked.
    let (topology_id, supervisor_url) = read(&ui, move |state, inner| {
        let record = super::api::find(inner, &id)?;
        crate::service::allowed(&policy, &caller, TopologyVerb::ReadLogs, record)
            .map_err(|e| ApiError::new(StatusCode::FORBIDDEN, e.to_string()))?;
        let worker = workers(state, inner, record)
            .into_iter()
            .find(|w| w.host == host && w.port == port && !w.supervisor_url.is_empty())
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("no running worker of {} on {host}:{port}", record.name),
                )
            })?;
        // Dial the host the supervisor's certificate vouches for (its slot's host), on the
        // port it reported: never an address a supervisor could point elsewhere.
        let api_port = worker
            .supervisor_url
            .rsplit_once(':')
            .and_then(|(_, p)| p.trim_end_matches('/').parse::<u16>().ok())
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    format!("the supervisor of {host} reported no usable address"),
                )
            })?;
        let host = match worker.host.contains(':') {
            true => format!("[{}]", worker.host),
            false => worker.host.clone(),
        };
        Ok((record.id.clone(), format!("http://{host}:{api_port}")))
    })
    .await?;
    let unavailable = |e: &dyn std::fmt::Display| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("the supervisor at {supervisor_url} did not serve the log: {e}"),
        )
    };
    let fetch = async {
        let endpoint = squall_security::endpoint(&supervisor_url, ui.tls.as_deref())
            .map_err(|e| unavailable(&e))?
            .connect_timeout(CONNECT_TIMEOUT);
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
        // The newest TAIL_BYTES, however much the supervisor sends (a log that grows while
        // being read has more than was asked for).
        let mut text: std::collections::VecDeque<u8> = std::collections::VecDeque::new();
        while let Some(chunk) = stream
            .message()
            .await
            .map_err(|e| unavailable(&e.message()))?
        {
            if chunk.caught_up {
                break;
            }
            text.extend(&chunk.data);
            let over = text.len().saturating_sub(TAIL_BYTES as usize);
            text.drain(..over);
        }
        Ok::<Vec<u8>, ApiError>(text.into())
    };
    let text = tokio::time::timeout(READ_TIMEOUT, fetch)
        .await
        .map_err(|_| unavailable(&"timed out"))??;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        String::from_utf8_lossy(&text).into_owned(),
    )
        .into_response())
}
