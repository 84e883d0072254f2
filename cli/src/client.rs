//! Talking to Nimbus: connecting, and the small verbs.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use squall_proto::pb::{KillRequest, NameRequest, RebalanceRequest};
use squall_proto::{MAX_MESSAGE_BYTES, NimbusClient};
use tonic::transport::{Channel, Endpoint};

/// A client of the Nimbus at `url`.
pub async fn connect(url: &str) -> anyhow::Result<NimbusClient<Channel>> {
    let channel = Endpoint::from_shared(url.to_owned())
        .with_context(|| format!("invalid nimbus url {url:?}"))?
        .connect_timeout(Duration::from_secs(3))
        .connect()
        .await
        .with_context(|| format!("cannot reach nimbus at {url}"))?;
    Ok(NimbusClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

/// A Nimbus refusal as one line: its message.
pub fn refused(status: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{}", status.message())
}

pub async fn kill(url: &str, name: &str, wait: Option<u32>) -> anyhow::Result<()> {
    connect(url)
        .await?
        .kill_topology(KillRequest {
            name: name.to_owned(),
            wait_secs: wait,
        })
        .await
        .map_err(refused)?;
    Ok(())
}

pub async fn activate(url: &str, name: &str, active: bool) -> anyhow::Result<()> {
    let mut client = connect(url).await?;
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
    url: &str,
    name: &str,
    workers: Option<u32>,
    executors: Vec<(String, u32)>,
    wait: Option<u32>,
) -> anyhow::Result<()> {
    connect(url)
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
