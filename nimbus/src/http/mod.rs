//! Nimbus's HTTP side (`squall nimbus --ui ADDR`): the web UI's pages, the REST API they read
//! (`api`), and `/metrics` for Prometheus (`prometheus`).

pub mod api;
pub mod auth;
pub mod logs;
pub mod prometheus;
pub mod session;
pub mod tls;

use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use crate::authorize::Policy;
use crate::service::NimbusService;
use crate::state::State;
use session::Sessions;
use std::sync::Mutex;

/// What the handlers share: the state to read and the service that performs actions.
#[derive(Clone)]
pub struct Ui {
    pub(crate) state: Arc<State>,
    pub(crate) service: NimbusService,
    /// Who may do what; `None`: security off.
    pub(crate) policy: Option<Arc<Policy>>,
    pub(crate) sessions: Arc<Mutex<Sessions>>,
    /// Nimbus's own TLS identity, to fetch worker logs from supervisors; `None`: security off.
    pub(crate) tls: Option<Arc<squall_security::TlsSettings>>,
}

impl Ui {
    pub(crate) fn sessions(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

const INDEX_HTML: &str = include_str!("../../ui/index.html");
const TOPOLOGY_HTML: &str = include_str!("../../ui/topology.html");
const COMPONENT_HTML: &str = include_str!("../../ui/component.html");
const SQUALL_JS: &str = include_str!("../../ui/squall.js");
const SQUALL_CSS: &str = include_str!("../../ui/squall.css");

async fn metrics(axum::extract::State(ui): axum::extract::State<Ui>) -> Response {
    let state = Arc::clone(&ui.state);
    match tokio::task::spawn_blocking(move || prometheus::render(&state)).await {
        Ok(Ok(text)) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "cannot render metrics").into_response(),
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The UI's routes.
pub fn router(ui: Ui) -> Router {
    Router::new()
        .route("/", get(|| async { Html(INDEX_HTML) }))
        .route("/index.html", get(|| async { Html(INDEX_HTML) }))
        .route("/topology.html", get(|| async { Html(TOPOLOGY_HTML) }))
        .route("/component.html", get(|| async { Html(COMPONENT_HTML) }))
        .route(
            "/squall.js",
            get(|| async { asset("text/javascript; charset=utf-8", SQUALL_JS) }),
        )
        .route(
            "/squall.css",
            get(|| async { asset("text/css; charset=utf-8", SQUALL_CSS) }),
        )
        .route("/metrics", get(metrics))
        .route("/login", get(auth::login))
        .route("/logout", post(auth::logout))
        .route("/api/v1/session", get(auth::session))
        .route("/api/v1/cluster/summary", get(api::cluster_summary))
        .route("/api/v1/supervisor/summary", get(api::supervisor_summary))
        .route("/api/v1/topology/summary", get(api::topology_summary))
        .route("/api/v1/topology/{id}", get(api::topology))
        .route(
            "/api/v1/topology/{id}/component/{component}",
            get(api::component),
        )
        .route(
            "/api/v1/topology/{id}/visualization",
            get(api::visualization),
        )
        .route("/api/v1/topology/{id}/series", get(api::series))
        .route(
            "/api/v1/topology/{id}/log/{host}/{port}",
            get(logs::worker_log),
        )
        .route("/api/v1/topology/{id}/activate", post(api::activate))
        .route("/api/v1/topology/{id}/deactivate", post(api::deactivate))
        .route("/api/v1/topology/{id}/kill/{wait}", post(api::kill))
        .route(
            "/api/v1/topology/{id}/rebalance/{wait}",
            post(api::rebalance),
        )
        .layer(axum::middleware::from_fn_with_state(
            ui.clone(),
            auth::authenticate,
        ))
        .with_state(ui)
}

/// Serves the UI on `listener` until the process ends: over HTTPS with `tls`, else plain
/// HTTP (security off).
///
/// # Errors
/// When the server fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ui: Ui,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> std::io::Result<()> {
    tracing::info!(addr = ?listener.local_addr().ok(), https = tls.is_some(), "ui serving");
    match tls {
        Some(config) => tls::serve(listener, config, router(ui)).await,
        None => axum::serve(listener, router(ui)).await,
    }
}
