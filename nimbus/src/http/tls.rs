//! Serving the UI over HTTPS: rustls accepts each connection (plaintext fails the
//! handshake), the client certificate it verified, if any, goes with every request of that
//! connection, and hyper serves the router on it.

use std::sync::Arc;
use std::time::Duration;

use axum::{Extension, Router};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use squall_security::Principal;
use tokio_rustls::TlsAcceptor;

/// The principal of the connection's verified client certificate (`None`: none shown).
#[derive(Debug, Clone)]
pub struct PeerCert(pub Option<Principal>);

/// A TLS handshake that takes longer than this is dropped, so idle sockets cannot pile up.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts HTTPS connections on `listener` and serves `router` on each, until the process ends.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Arc<rustls::ServerConfig>,
    router: Router,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(config);
    loop {
        let (tcp, peer_addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait, do not spin.
                tracing::warn!(error = %e, "ui accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (acceptor, router) = (acceptor.clone(), router.clone());
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(%peer_addr, error = %e, "ui TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let peer = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|certs| certs.first())
                .and_then(|c| squall_security::principal_of(c.as_ref()));
            let service = TowerToHyperService::new(router.layer(Extension(PeerCert(peer))));
            let served = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(tls), service)
                .await;
            if let Err(e) = served {
                tracing::debug!(%peer_addr, error = %e, "ui connection ended");
            }
        });
    }
}
