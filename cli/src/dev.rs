//! `squall dev`: a one-machine cluster (Nimbus and one supervisor with four slots, as child
//! processes on loopback, state in a temporary directory) that can submit a binary and shows
//! its live status until interrupted.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use squall_proto::pb::Empty;
use squall_security::{Role, TlsSettings};
use squall_topology_api::Config;

use crate::client::{Nimbus, connect};
use crate::cluster_config::ClusterConfig;
use crate::status::status;
use crate::submit;

/// The dev cluster's supervisor: its certificate's name, and so its id.
const DEV_SUPERVISOR: &str = "dev-supervisor";
/// The dev cluster's user.
const DEV_USER: &str = "dev";

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn daemon(
    dir: &std::path::Path,
    log: &str,
    args: &[String],
) -> anyhow::Result<tokio::process::Child> {
    let exe = std::env::current_exe().context("cannot find the squall executable")?;
    let log = std::fs::File::create(dir.join(log))?;
    Ok(tokio::process::Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()?)
}

pub async fn run(
    binary: Option<PathBuf>,
    seconds: Option<u64>,
    port: u16,
    ui: Option<String>,
    args: Vec<String>,
    insecure: bool,
) -> anyhow::Result<()> {
    // A busy UI port must not stop the dev cluster from coming up: go on without the UI.
    let ui = ui.filter(|addr| {
        let free = std::net::TcpListener::bind(addr.as_str()).is_ok();
        if !free {
            eprintln!(
                "web UI: cannot listen on {addr}; going on without it (--ui ADDR picks another)"
            );
        }
        free
    });
    let dir = tempfile::Builder::new().prefix("squall-dev-").tempdir()?;
    let scheme = if insecure { "http" } else { "https" };
    let url = format!("{scheme}://127.0.0.1:{port}");
    let slots: Vec<u16> = (0..4).map(|_| free_port()).collect::<Result<_, _>>()?;
    // The dev cluster's own configuration files: its daemons read only these (not the
    // operator's ~/.squall/squall.yaml). Secure unless --insecure: a CA and a certificate
    // each for Nimbus, the supervisor and the user, in the temporary directory, so that
    // `squall --config DIR/squall.yaml status` talks to it as that user.
    let cluster = ClusterConfig {
        nimbus_url: Some(url.clone()),
        nimbus_listen: Some(format!("127.0.0.1:{port}")),
        nimbus_data_dir: Some(dir.path().join("nimbus")),
        ui_listen: ui.clone(),
        supervisor_host: Some("127.0.0.1".into()),
        supervisor_slots_ports: Some(slots),
        supervisor_data_dir: Some(dir.path().join("supervisor")),
        insecure: insecure.then_some(true),
        ..ClusterConfig::default()
    };
    let certs = dir.path().join("certs");
    let as_role = |name: &str| -> anyhow::Result<ClusterConfig> {
        if insecure {
            return Ok(cluster.clone());
        }
        let (cert, key) = (
            certs.join(format!("{name}.pem")),
            certs.join(format!("{name}.key")),
        );
        Ok(ClusterConfig {
            tls_ca: Some(certs.join(crate::certs::CA_CERT)),
            tls_cert: Some(cert),
            tls_key: Some(key),
            tls_ca_key: (name == "nimbus").then(|| certs.join(crate::certs::CA_KEY)),
            ..cluster.clone()
        })
    };
    if !insecure {
        crate::certs::init(&certs, "squall-dev")?;
        let hosts = ["127.0.0.1".to_owned(), "localhost".to_owned()];
        crate::certs::issue(&certs, Role::Nimbus, "nimbus", &hosts, 30)?;
        crate::certs::issue(&certs, Role::Supervisor, DEV_SUPERVISOR, &hosts, 30)?;
        crate::certs::issue(&certs, Role::User, DEV_USER, &[], 30)?;
    }
    let write = |file: &str, config: &ClusterConfig| -> anyhow::Result<String> {
        let path = dir.path().join(file);
        std::fs::write(
            &path,
            serde_saphyr::to_string(config)
                .context("cannot write the dev cluster's configuration")?,
        )?;
        Ok(path.display().to_string())
    };
    let nimbus_config = write("nimbus.yaml", &as_role("nimbus")?)?;
    let supervisor_config = write("supervisor.yaml", &as_role(DEV_SUPERVISOR)?)?;
    let user_config = as_role(DEV_USER)?;
    write("squall.yaml", &user_config)?;
    let tls = match user_config.tls_files()? {
        Some(files) => Some(TlsSettings::load(&files)?),
        None => None,
    };
    let nimbus_addr = Nimbus {
        url: url.clone(),
        tls,
    };
    let mut nimbus = daemon(
        dir.path(),
        "nimbus.log",
        &["--config".into(), nimbus_config, "nimbus".into()],
    )?;
    let mut supervisor = daemon(
        dir.path(),
        "supervisor.log",
        &["--config".into(), supervisor_config, "supervisor".into()],
    )?;
    let ui_note = ui
        .as_ref()
        .map_or_else(String::new, |u| format!(", web UI {scheme}://{u}"));
    println!(
        "dev cluster: nimbus {url}{ui_note}, logs and state in {}",
        dir.path().display()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(code) = nimbus.try_wait()? {
            bail!(
                "nimbus exited ({code}); see {}",
                dir.path().join("nimbus.log").display()
            );
        }
        if let Some(code) = supervisor.try_wait()? {
            bail!(
                "the supervisor exited ({code}); see {}",
                dir.path().join("supervisor.log").display()
            );
        }
        if let Ok(mut c) = connect(&nimbus_addr).await
            && let Ok(info) = c.get_cluster(Empty {}).await
            && info.into_inner().supervisors.iter().any(|s| s.alive)
        {
            // A secure UI needs a login: a one-time link for this shell's user.
            if ui.is_some() && !insecure {
                match crate::client::ui_login(&nimbus_addr).await {
                    Ok(link) => println!("web UI login (one-time link, two minutes): {link}"),
                    Err(e) => eprintln!("web UI login link: {e}"),
                }
            }
            break;
        }
        if Instant::now() > deadline {
            bail!("the dev cluster did not come up within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let name = match binary {
        Some(binary) => {
            let request = submit::Request {
                binary,
                name: None,
                workers: None,
                conf: Config::new(),
                args,
                resources: None,
            };
            let id = submit::submit(&nimbus_addr, &request, true).await?;
            println!("submitted {id}");
            let mut client = connect(&nimbus_addr).await?;
            let info = client.list_topologies(Empty {}).await?.into_inner();
            info.topologies
                .into_iter()
                .find(|t| t.id == id)
                .map(|t| t.name)
        }
        None => None,
    };
    // Clear once; the watch then redraws in place (on a terminal; a pipe gets plain snapshots).
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        print!("\x1b[2J");
    }
    let watch = status(&nimbus_addr, name.as_deref(), false, true, "all");
    match seconds {
        Some(s) => {
            let _ = tokio::time::timeout(Duration::from_secs(s), watch).await;
            if let Some(name) = &name {
                let info = crate::status::fetch_topology(&nimbus_addr, name, "all").await?;
                println!("{}", crate::status::topology_json(&info));
            }
        }
        None => {
            tokio::select! {
                r = watch => r?,
                _ = tokio::signal::ctrl_c() => {}
            }
        }
    }
    // Kill the topologies first so the supervisor stops their workers: none outlives dev.
    if let Ok(mut c) = connect(&nimbus_addr).await
        && let Ok(list) = c.list_topologies(Empty {}).await
    {
        for t in list.into_inner().topologies {
            let _ = c
                .kill_topology(squall_proto::pb::KillRequest {
                    name: t.name,
                    wait_secs: Some(0),
                })
                .await;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline
            && c.get_cluster(Empty {})
                .await
                .is_ok_and(|i| i.into_inner().supervisors.iter().any(|s| s.slots_used > 0))
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // One supervisor sync (1 s) after the slots are free, its workers are gone.
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    let _ = supervisor.kill().await;
    let _ = nimbus.kill().await;
    Ok(())
}
