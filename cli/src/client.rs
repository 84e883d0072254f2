//! Talking to Nimbus: connecting, and the small verbs.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use squall_proto::pb::{KillRequest, NameRequest, RebalanceRequest};
use squall_proto::{MAX_MESSAGE_BYTES, NimbusClient};
use tonic::transport::Channel;

/// Where Nimbus is and how to reach it: its URL, and this user's TLS settings (`None`: the
/// cluster runs with security off).
#[derive(Debug, Clone)]
pub struct Nimbus {
    pub url: String,
    pub tls: Option<squall_security::TlsSettings>,
}

impl std::fmt::Display for Nimbus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

/// A client of Nimbus.
pub async fn connect(nimbus: &Nimbus) -> anyhow::Result<NimbusClient<Channel>> {
    let url = &nimbus.url;
    let channel = squall_security::endpoint(url, nimbus.tls.as_ref())?
        .connect_timeout(Duration::from_secs(3))
        .connect()
        .await
        .with_context(|| format!("cannot reach nimbus at {url}"))?;
    Ok(NimbusClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

/// A Nimbus refusal as one line: its message; a connection that failed under the call (a
/// plaintext client on a TLS port, a certificate the server does not accept) says so.
pub fn refused(status: tonic::Status) -> anyhow::Error {
    // A status Nimbus sent has no source; one made from a failed connection carries the
    // transport's error.
    if std::error::Error::source(&status).is_some() {
        anyhow::anyhow!(
            "nimbus closed the connection ({}): a plaintext client on a TLS port, or a certificate it does not accept? (check squall.tls.* in squall.yaml)",
            status.message()
        )
    } else {
        anyhow::anyhow!("{}", status.message())
    }
}

pub async fn kill(nimbus: &Nimbus, name: &str, wait: Option<u32>) -> anyhow::Result<()> {
    connect(nimbus)
        .await?
        .kill_topology(KillRequest {
            name: name.to_owned(),
            wait_secs: wait,
        })
        .await
        .map_err(refused)?;
    Ok(())
}

pub async fn activate(nimbus: &Nimbus, name: &str, active: bool) -> anyhow::Result<()> {
    let mut client = connect(nimbus).await?;
    let request = NameRequest {
        name: name.to_owned(),
        window: String::new(),
    };
    if active {
        client.activate(request).await
    } else {
        client.deactivate(request).await
    }
    .map_err(refused)?;
    Ok(())
}

pub async fn rebalance(
    nimbus: &Nimbus,
    name: &str,
    workers: Option<u32>,
    executors: Vec<(String, u32)>,
    wait: Option<u32>,
) -> anyhow::Result<()> {
    connect(nimbus)
        .await?
        .rebalance(RebalanceRequest {
            name: name.to_owned(),
            workers,
            executors: executors.into_iter().collect::<HashMap<_, _>>(),
            wait_secs: wait,
        })
        .await
        .map_err(refused)?;
    Ok(())
}

/// A one-time link that logs this user into the web UI.
pub async fn ui_login(nimbus: &Nimbus) -> anyhow::Result<String> {
    let reply = connect(nimbus)
        .await?
        .ui_login(squall_proto::pb::Empty {})
        .await
        .map_err(refused)?
        .into_inner();
    // A UI listening on every address is reached at Nimbus's own host.
    let addr = match reply.ui_addr.parse::<std::net::SocketAddr>() {
        Ok(a) if a.ip().is_unspecified() => {
            let host = tonic::codegen::http::Uri::try_from(nimbus.url.as_str())
                .ok()
                .and_then(|u| u.host().map(str::to_owned))
                .unwrap_or_else(|| "127.0.0.1".to_owned());
            format!("{host}:{}", a.port())
        }
        _ => reply.ui_addr,
    };
    Ok(format!("https://{addr}/login?ticket={}", reply.ticket))
}
