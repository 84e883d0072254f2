//! Talking to Nimbus: connecting, and the small verbs.

use std::collections::HashMap;
use std::time::Duration;

use indicatif::ProgressBar;
use squall_proto::pb::{Empty, KillRequest, NameRequest, RebalanceRequest, TopologySummary};
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
        .map_err(|e| unreachable(url, &e))?;
    Ok(NimbusClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

/// An error's chain as one line, each cause once: transports wrap an error in one that
/// repeats its text ("tcp connect error: tcp connect error: ...").
pub fn chain_line(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// Nimbus could not be reached: why, and what to try.
fn unreachable(url: &str, error: &tonic::transport::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "cannot reach nimbus at {url}: {} (is it running? `squall dev` starts a one-machine cluster; --nimbus URL or SQUALL_NIMBUS points elsewhere)",
        chain_line(error)
    )
}

/// A Nimbus refusal as one line: its message; a connection that failed under the call (a
/// plaintext client on a TLS port, a certificate the server does not accept) says so, and so
/// does an address that answers HTTP but is not Nimbus's API (the web UI's port).
pub fn refused(status: tonic::Status) -> anyhow::Error {
    // What tonic makes of an HTTP answer that is not gRPC (an HTML or JSON page).
    let message = status.message();
    if ["grpc-status header missing", "invalid compression flag"]
        .iter()
        .any(|m| message.contains(m))
    {
        let http = message
            .rsplit_once("status: ")
            .or_else(|| message.rsplit_once("mapped from "))
            .map_or("", |(_, s)| s);
        return anyhow::anyhow!(
            "that address answers HTTP ({http}) but is not nimbus's API: is it the web UI's port? The API is on nimbus.port (6627 unless set)"
        );
    }
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

/// How often `kill` and `rebalance` look at the topology while they wait.
const POLL: Duration = Duration::from_millis(500);
/// How long past the topology's own wait they keep looking before giving up.
const GRACE: Duration = Duration::from_secs(60);

/// A spinner on stderr while a verb waits (hidden when stderr is not a terminal).
fn spinner() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// The topologies Nimbus lists.
async fn list(client: &mut NimbusClient<Channel>) -> anyhow::Result<Vec<TopologySummary>> {
    Ok(client
        .list_topologies(Empty {})
        .await
        .map_err(refused)?
        .into_inner()
        .topologies)
}

/// The id of the topology named `name` right after a request on it was accepted (so Nimbus,
/// not this lookup, decides who may act on it): the waits below then follow that topology, not
/// the name, which a new submission may take while they wait. `None`: already gone.
async fn id_of(client: &mut NimbusClient<Channel>, name: &str) -> Option<String> {
    list(client)
        .await
        .ok()?
        .into_iter()
        .find(|t| t.name == name)
        .map(|t| t.id)
}

/// Watches topology `id` until `progress` says it is done (returns `Ok(None)`), showing what it
/// says meanwhile; a failed look is retried until the deadline, since the request itself was
/// accepted.
async fn watch(
    client: &mut NimbusClient<Channel>,
    id: &str,
    mut progress: impl FnMut(Option<&TopologySummary>) -> anyhow::Result<Option<String>>,
) -> anyhow::Result<Option<TopologySummary>> {
    let bar = spinner();
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let now = tokio::time::Instant::now();
        match list(client).await {
            Ok(all) => {
                let t = all.into_iter().find(|t| t.id == id);
                let left = Duration::from_secs(t.as_ref().map_or(0, |t| t.wait_secs_left));
                let until = *deadline.get_or_insert(now + left + GRACE);
                match progress(t.as_ref())? {
                    None => {
                        bar.finish_and_clear();
                        return Ok(t);
                    }
                    Some(_) if now >= until => {
                        bar.finish_and_clear();
                        anyhow::bail!(
                            "nimbus has not finished after {} s: check nimbus's log",
                            (left + GRACE).as_secs()
                        );
                    }
                    Some(message) => bar.set_message(message),
                }
            }
            Err(e) if deadline.is_some_and(|d| now >= d) => {
                bar.finish_and_clear();
                return Err(e);
            }
            Err(_) => {}
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Kills a topology and returns once Nimbus has removed it: its spouts are paused at once, its
/// trees in flight get `wait` seconds (default: its message timeout) to finish, then its
/// workers stop.
pub async fn kill(nimbus: &Nimbus, name: &str, wait: Option<u32>) -> anyhow::Result<()> {
    let mut client = connect(nimbus).await?;
    client
        .kill_topology(KillRequest {
            name: name.to_owned(),
            wait_secs: wait,
        })
        .await
        .map_err(refused)?;
    let Some(id) = id_of(&mut client, name).await else {
        return Ok(());
    };
    watch(&mut client, &id, |t| {
        Ok(t.map(|t| {
            format!(
                "killing {name}: spouts paused, trees in flight finishing; removed in {} s",
                t.wait_secs_left
            )
        }))
    })
    .await?;
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
) -> anyhow::Result<TopologySummary> {
    let mut client = connect(nimbus).await?;
    client
        .rebalance(RebalanceRequest {
            name: name.to_owned(),
            workers,
            executors: executors.into_iter().collect::<HashMap<_, _>>(),
            wait_secs: wait,
        })
        .await
        .map_err(refused)?;
    let id = id_of(&mut client, name)
        .await
        .ok_or_else(|| anyhow::anyhow!("{name} was removed while it rebalanced"))?;
    // Storm's order: spouts paused, trees in flight get the wait, executors move, spouts
    // resume. Returns once it has resumed.
    let resumed = watch(&mut client, &id, |t| match t {
        None => anyhow::bail!("{name} was removed while it rebalanced"),
        Some(t) if t.status != "REBALANCING" => Ok(None),
        Some(t) => Ok(Some(format!(
            "rebalancing {name}: spouts paused, trees in flight finishing; executors move in {} s",
            t.wait_secs_left
        ))),
    })
    .await?;
    resumed.ok_or_else(|| anyhow::anyhow!("{name} was removed while it rebalanced"))
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
