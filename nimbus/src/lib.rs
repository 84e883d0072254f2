//! Nimbus, Squall's coordinator: stores topologies and binaries durably, places executors on
//! the slots of live supervisors, and answers clients. It is not on the data path: workers
//! keep running while it is down, and it recovers its state from disk when it comes back.
//!
//! Where things are: `store` (durable state), `topology` (a topology's record and lifecycle),
//! `scheduler` (the pure placement function), `state` (liveness and the scheduling pass),
//! `service` (the gRPC API), `error` (errors and their status codes).

pub mod audit;
pub mod authorize;
pub mod error;
pub mod http;
pub mod metrics;
pub mod scheduler;
pub mod service;
pub mod state;
pub mod store;
pub mod topology;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use squall_proto::{MAX_MESSAGE_BYTES, NimbusServer};
use squall_topology_api::Config;
use tokio_stream::wrappers::TcpListenerStream;

pub use error::NimbusError;
use service::NimbusService;
use state::{DEFAULT_SUPERVISOR_TIMEOUT_SECS, State};
use store::Store;

/// `nimbus.supervisor.timeout.secs`: a supervisor silent this long is dead.
pub const SUPERVISOR_TIMEOUT_KEY: &str = "nimbus.supervisor.timeout.secs";
/// `nimbus.max.upload.bytes`: the largest topology binary accepted.
pub const MAX_UPLOAD_KEY: &str = "nimbus.max.upload.bytes";
const DEFAULT_MAX_UPLOAD_BYTES: u64 = 1 << 30;
/// How often the metrics are saved: what a Nimbus crash can lose of the all-time figures (the
/// workers' next reports make up for what live workers counted meanwhile).
const SAVE_METRICS_EVERY: Duration = Duration::from_secs(5);

/// How to run Nimbus.
#[derive(Debug, Clone)]
pub struct NimbusOptions {
    /// Where state and binaries live.
    pub data_dir: PathBuf,
    /// Daemon configuration (`nimbus.*` keys).
    pub conf: Config,
    /// Serve the API over mutual TLS with these settings; `None`: security off.
    pub tls: Option<squall_security::TlsSettings>,
    /// Who may do what (used when `tls` is on).
    pub policy: authorize::Policy,
    /// The cluster CA's certificate and key (`squall.tls.ca.key`), to sign each topology's
    /// worker certificates; required with `tls`.
    pub worker_ca: Option<squall_security::pki::Issued>,
}

/// Recovers state from the data dir and serves the API on `listener`, and the web UI, REST API
/// and `/metrics` on `ui` when given, until the process ends.
///
/// # Errors
/// When the state cannot be opened or the server fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ui: Option<tokio::net::TcpListener>,
    options: NimbusOptions,
) -> Result<(), NimbusError> {
    let timeout = Duration::from_secs_f64(
        options
            .conf
            .get_f64(SUPERVISOR_TIMEOUT_KEY)
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or(DEFAULT_SUPERVISOR_TIMEOUT_SECS as f64),
    );
    let max_upload = options
        .conf
        .get_u64(MAX_UPLOAD_KEY)
        .unwrap_or(DEFAULT_MAX_UPLOAD_BYTES);
    let data_dir = options.data_dir.clone();
    let state = tokio::task::spawn_blocking(move || {
        let store = Store::open(&data_dir)?;
        State::recover(store, timeout)
    })
    .await
    .map_err(|e| NimbusError::Invalid(format!("startup failed: {e}")))??;
    let state = Arc::new(state);
    let saving = Arc::clone(&state);
    tokio::spawn(async move {
        // One write every few seconds, whatever the number of workers reporting.
        let mut every = tokio::time::interval(SAVE_METRICS_EVERY);
        every.tick().await;
        loop {
            every.tick().await;
            let s = Arc::clone(&saving);
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || s.save_metrics()).await {
                tracing::warn!(error = %e, "cannot save metrics");
            }
        }
    });
    let scheduling = Arc::clone(&state);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(500));
        loop {
            every.tick().await;
            let s = Arc::clone(&scheduling);
            let pass = tokio::task::spawn_blocking(move || {
                let mut inner = s.lock();
                s.reschedule(&mut inner)
            })
            .await;
            if let Ok(Err(e)) = pass {
                tracing::error!(error = %e, "scheduling pass failed");
            }
        }
    });
    let audit = audit::AuditLog::open(&options.data_dir)
        .map_err(|e| NimbusError::Invalid(format!("cannot open the audit log: {e}")))?;
    let service = NimbusService::new(
        Arc::clone(&state),
        max_upload,
        options
            .tls
            .is_some()
            .then(|| Arc::new(options.policy.clone())),
        Arc::new(audit),
        options
            .worker_ca
            .clone()
            .map(|ca| Arc::new(service::WorkerCerts::new(ca))),
    )
    .with_ui_addr(
        ui.as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.to_string()),
    );
    if let Some(ui_listener) = ui {
        let https = match &options.tls {
            Some(tls) => Some(Arc::new(tls.https_server().map_err(|e| {
                NimbusError::Invalid(format!("cannot serve the UI over HTTPS: {e}"))
            })?)),
            None => None,
        };
        let ui = http::Ui {
            state: Arc::clone(&state),
            service: service.clone(),
            policy: options
                .tls
                .is_some()
                .then(|| Arc::new(options.policy.clone())),
            sessions: service.sessions(),
            tls: options.tls.clone().map(Arc::new),
        };
        tokio::spawn(async move {
            if let Err(e) = http::serve(ui_listener, ui, https).await {
                tracing::error!(error = %e, "ui server stopped");
            }
        });
    }
    tracing::info!(addr = ?listener.local_addr().ok(), "nimbus serving");
    let mut server = tonic::transport::Server::builder();
    if let Some(tls) = &options.tls {
        server = server.tls_config(tls.server())?;
    }
    server
        .add_service(
            NimbusServer::new(service)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .serve_with_incoming(TcpListenerStream::new(listener))
        .await?;
    Ok(())
}
