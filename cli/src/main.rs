//! `squall`: the command that runs the daemons and talks to Nimbus, as Storm's `storm` does.
//!
//! Exit status 0 on success; on any error, non-zero and one line on stderr.

mod certs;
mod client;
mod cluster_config;
#[cfg(test)]
mod config_reference;
mod dev;
mod logs;
mod output;
mod run;
mod status;
mod submit;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use client::Nimbus;
use cluster_config::ClusterConfig;
use squall_security::{Role, TlsSettings};
use squall_topology_api::{Config, ConfigValue};

#[derive(Parser)]
#[command(name = "squall", version, about = "Squall: Storm's model, in Rust")]
struct Cli {
    /// The cluster configuration file (default: $SQUALL_CONF, ~/.squall/squall.yaml,
    /// /etc/squall/squall.yaml).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Security off: plaintext, no certificates, anyone may do anything. For experiments only.
    #[arg(long, global = true)]
    insecure: bool,
    #[command(subcommand)]
    command: Command,
}

/// Where Nimbus is.
#[derive(Args, Clone)]
struct NimbusArg {
    /// Nimbus's URL (default: nimbus.url or nimbus.seeds from squall.yaml, else
    /// http://127.0.0.1:6627).
    #[arg(long, env = "SQUALL_NIMBUS")]
    nimbus: Option<String>,
}

/// Nimbus's URL when neither the flag, the variable nor the configuration file names one.
const DEFAULT_NIMBUS_URL: &str = "http://127.0.0.1:6627";

impl NimbusArg {
    fn resolve(&self, file: &ClusterConfig, tls: Option<&TlsSettings>) -> Nimbus {
        Nimbus {
            url: self
                .nimbus
                .clone()
                .or_else(|| file.nimbus_url())
                .unwrap_or_else(|| DEFAULT_NIMBUS_URL.to_owned()),
            tls: tls.cloned(),
        }
    }
}

/// This process's TLS settings from the configuration, checked: `None` with security off
/// (`--insecure`, `squall.insecure`, with a warning). Secure by default: no certificate
/// configured is an error.
/// `role`: the role a daemon's certificate must have.
fn security(
    file: &ClusterConfig,
    insecure: bool,
    role: Option<Role>,
) -> anyhow::Result<Option<TlsSettings>> {
    if file.insecure(insecure) {
        eprintln!(
            "warning: security is off (--insecure): plaintext, no identities, anyone who can reach a port may do anything"
        );
        return Ok(None);
    }
    let Some(files) = file.tls_files()? else {
        anyhow::bail!(
            "no certificate configured: set squall.tls.ca, squall.tls.cert and squall.tls.key in squall.yaml (squall certs init, squall certs issue; see the README's \"Securing a cluster\"), or pass --insecure to run without security"
        );
    };
    let tls = TlsSettings::load(&files)?;
    if let Some(role) = role
        && tls.principal.role != role
    {
        anyhow::bail!(
            "{} is a {} certificate; this daemon needs a {role} certificate (squall certs issue --role {role} NAME)",
            files.cert.display(),
            tls.principal.role
        );
    }
    Ok(Some(tls))
}

#[derive(Subcommand)]
enum Command {
    /// Run Nimbus, the coordinator.
    Nimbus {
        /// Address to serve the API on (default: nimbus.listen, else 127.0.0.1:6627).
        #[arg(long)]
        listen: Option<String>,
        /// Where state and binaries are kept (default: nimbus.data.dir).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Address to serve the web UI, REST API and /metrics on (default: ui.listen; off
        /// when neither is given).
        #[arg(long)]
        ui: Option<String>,
        /// Daemon configuration, key=value (e.g. nimbus.supervisor.timeout.secs=10).
        #[arg(long = "conf", value_parser = squall_topology_api::config::parse_setting)]
        conf: Vec<(String, ConfigValue)>,
    },
    /// Run a supervisor, the agent of one host.
    Supervisor {
        /// Nimbus's URL (default: nimbus.url or nimbus.seeds).
        #[arg(long)]
        nimbus: Option<String>,
        /// This host's address; workers serve on it (default: supervisor.host).
        #[arg(long)]
        host: Option<String>,
        /// Worker slot ports, comma separated (default: supervisor.slots.ports, else
        /// 6700,6701,6702,6703).
        #[arg(long, value_delimiter = ',')]
        slots: Option<Vec<u16>>,
        /// Where the binary cache, worker records and logs are kept (default:
        /// supervisor.data.dir).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Address of the supervisor's own API (default: supervisor.listen, else the address
        /// of the last run, else the host on any free port).
        #[arg(long)]
        listen: Option<String>,
        /// Daemon configuration, key=value (e.g. supervisor.worker.timeout.secs=10).
        #[arg(long = "conf", value_parser = squall_topology_api::config::parse_setting)]
        conf: Vec<(String, ConfigValue)>,
    },
    /// Submit a topology: a binary, or a Flux YAML file (its directory is its resources).
    Submit {
        /// The topology binary, or a .yaml/.yml Flux file.
        binary: PathBuf,
        /// The topology's name (default: the binary's file name).
        #[arg(long)]
        name: Option<String>,
        /// topology.workers.
        #[arg(long)]
        workers: Option<u32>,
        /// Topology configuration, key=value.
        #[arg(long = "conf", value_parser = squall_topology_api::config::parse_setting)]
        conf: Vec<(String, ConfigValue)>,
        /// A directory of files the shell components need (scripts, data), shipped with the
        /// binary; they run inside it (default: the directory the topology names, if any).
        #[arg(long)]
        resources: Option<PathBuf>,
        /// Arguments for the topology's main.
        #[arg(last = true)]
        args: Vec<String>,
        #[command(flatten)]
        nimbus: NimbusArg,
    },
    /// Run a Flux YAML topology in local mode; prints the spouts' totals last.
    Run {
        /// The Flux file (its directory holds the files it names).
        file: PathBuf,
        /// Stop after this many seconds (default: run until interrupted).
        #[arg(long)]
        seconds: Option<u64>,
    },
    /// List the topologies.
    List {
        #[command(flatten)]
        nimbus: NimbusArg,
    },
    /// Show the cluster, or one topology.
    Status {
        /// A topology's name.
        name: Option<String>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Redraw every few seconds.
        #[arg(long)]
        watch: bool,
        /// The window counters and latencies cover: 10m, 3h, 1d or all.
        #[arg(long, default_value = "all", value_parser = ["10m", "3h", "1d", "all"])]
        window: String,
        #[command(flatten)]
        nimbus: NimbusArg,
    },
    /// Kill a topology: deactivate, wait, remove.
    Kill {
        /// The topology's name.
        name: String,
        /// Seconds to wait between deactivation and removal (default: its message timeout).
        #[arg(long)]
        wait: Option<u32>,
        #[command(flatten)]
        nimbus: NimbusArg,
    },
    /// Resume a topology's spouts.
    Activate {
        /// The topology's name.
        name: String,
        #[command(flatten)]
        nimbus: NimbusArg,
    },
    /// Pause a topology's spouts.
    Deactivate {
        /// The topology's name.
        name: String,
        #[command(flatten)]
        nimbus: NimbusArg,
    },
    /// Change a topology's workers or executors.
    Rebalance {
        /// The topology's name.
        name: String,
        /// New worker count.
        #[arg(long)]
        workers: Option<u32>,
        /// New executor count for a component, COMPONENT=N (repeatable).
        #[arg(long = "executors", value_parser = parse_executors)]
        executors: Vec<(String, u32)>,
        /// Seconds the spouts pause while executors move (default: its message timeout).
        #[arg(long)]
        wait: Option<u32>,
        #[command(flatten)]
        nimbus: NimbusArg,
    },
    /// Show a topology's worker logs.
    Logs {
        /// The topology's name.
        name: String,
        /// Only lines of this component's executors.
        #[arg(long)]
        component: Option<String>,
        /// Only the last N lines (of all the workers' logs together), then what follows.
        #[arg(long, value_name = "N")]
        tail: Option<usize>,
        /// Keep printing as the logs grow.
        #[arg(long)]
        follow: bool,
        #[command(flatten)]
        nimbus: NimbusArg,
    },
    /// Log into the web UI as this user: prints a one-time link (valid two minutes).
    UiLogin {
        #[command(flatten)]
        nimbus: NimbusArg,
    },
    /// The cluster's certificate authority and certificates.
    Certs {
        #[command(subcommand)]
        command: CertsCommand,
    },
    /// A one-machine cluster (Nimbus and a supervisor) for trying things.
    Dev {
        /// A topology binary to submit once the cluster is up.
        #[arg(long)]
        submit: Option<PathBuf>,
        /// Stop after this many seconds (default: run until interrupted).
        #[arg(long)]
        seconds: Option<u64>,
        /// Nimbus port.
        #[arg(long, default_value_t = 6627)]
        port: u16,
        /// Where Nimbus serves the web UI ("off" for none).
        #[arg(long, default_value = "127.0.0.1:8080")]
        ui: String,
        /// Arguments for the submitted topology's main.
        #[arg(last = true)]
        args: Vec<String>,
    },
}

#[derive(Subcommand)]
enum CertsCommand {
    /// Create the cluster CA: DIR/ca.pem and DIR/ca.key (keep ca.key on the Nimbus host only).
    Init {
        /// Where to write them.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The CA's name.
        #[arg(long, default_value = "squall-cluster")]
        name: String,
    },
    /// Issue a certificate signed by DIR's CA: DIR/NAME.pem and DIR/NAME.key.
    Issue {
        /// What the holder is.
        #[arg(long, value_parser = ["nimbus", "supervisor", "worker", "user"])]
        role: String,
        /// The holder: a supervisor's id, a user's name, Nimbus's name.
        name: String,
        /// An address the holder serves on (IP or DNS name), for daemons; repeatable.
        #[arg(long = "host")]
        hosts: Vec<String>,
        /// Where the CA is and the certificate goes.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Days the certificate is valid.
        #[arg(long, default_value_t = 365)]
        days: u32,
    },
}

fn parse_executors(s: &str) -> Result<(String, u32), String> {
    let (c, n) = s
        .split_once('=')
        .ok_or_else(|| format!("expected COMPONENT=N, got {s:?}"))?;
    let n = n
        .parse()
        .map_err(|_| format!("expected a number of executors, got {n:?}"))?;
    Ok((c.to_owned(), n))
}

fn config(pairs: Vec<(String, ConfigValue)>) -> Config {
    pairs.into_iter().collect()
}

/// The CA Nimbus signs worker certificates with: `squall.tls.ca.key`, the key of
/// `squall.tls.ca`.
fn worker_ca(
    file: &ClusterConfig,
    tls: &TlsSettings,
) -> anyhow::Result<squall_security::pki::Issued> {
    let path = file.tls_ca_key.as_deref().map(|p| file.resolve(p)).ok_or_else(|| {
        anyhow::anyhow!(
            "squall.tls.ca.key is required on nimbus with TLS: nimbus signs each topology's worker certificates with the cluster CA's key"
        )
    })?;
    let key_pem = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("cannot read the CA key {}: {e}", path.display()))?;
    anyhow::ensure!(
        squall_security::tls::key_matches(tls.ca_pem(), &key_pem),
        "the key {} is not the key of the CA certificate (squall.tls.ca)",
        path.display()
    );
    Ok(squall_security::pki::Issued {
        cert_pem: tls.ca_pem().to_owned(),
        key_pem,
    })
}

/// Worker slot ports when neither `--slots` nor `supervisor.slots.ports` gives them (Storm's).
const DEFAULT_SLOTS: [u16; 4] = [6700, 6701, 6702, 6703];

/// A setting a daemon cannot start without, from its flag or the configuration file.
fn required<T>(value: Option<T>, flag: &str, key: &str) -> anyhow::Result<T> {
    value.ok_or_else(|| {
        anyhow::anyhow!("{flag} is required: pass it, or set {key} in squall.yaml (--config FILE)")
    })
}

fn init_logs() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // Clients read the file too: for Nimbus's address, and so that a broken file is reported
    // by whatever command meets it first. Daemons read it with their --conf settings below.
    let (file, tls) = match &cli.command {
        Command::Nimbus { .. }
        | Command::Supervisor { .. }
        | Command::Certs { .. }
        | Command::Run { .. }
        | Command::Dev { .. } => (ClusterConfig::default(), None),
        _ => {
            let file = ClusterConfig::load(cli.config.as_deref(), &[])?;
            let tls = security(&file, cli.insecure, None)?;
            (file, tls)
        }
    };
    let tls = tls.as_ref();
    match cli.command {
        // `main` runs it before starting this runtime (it starts its own).
        Command::Run { .. } => anyhow::bail!("squall run cannot run inside the client runtime"),
        Command::Nimbus {
            listen,
            data_dir,
            ui,
            conf,
        } => {
            let file = ClusterConfig::load(cli.config.as_deref(), &conf)?;
            let listen = listen
                .or(file.nimbus_listen.clone())
                .unwrap_or_else(|| "127.0.0.1:6627".to_owned());
            let data_dir = required(
                data_dir.or(file.nimbus_data_dir.clone()),
                "--data-dir",
                "nimbus.data.dir",
            )?;
            let ui = ui.or(file.ui_listen.clone());
            let tls = security(&file, cli.insecure, Some(Role::Nimbus))?;
            let worker_ca = match &tls {
                Some(tls) => Some(worker_ca(&file, tls)?),
                None => None,
            };
            init_logs();
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
            let ui_listener = match ui {
                Some(addr) => Some(
                    tokio::net::TcpListener::bind(&addr)
                        .await
                        .map_err(|e| anyhow::anyhow!("cannot serve the UI on {addr}: {e}"))?,
                ),
                None => None,
            };
            squall_nimbus::serve(
                listener,
                ui_listener,
                squall_nimbus::NimbusOptions {
                    data_dir,
                    conf: file.daemon_conf(),
                    tls,
                    policy: squall_nimbus::authorize::Policy {
                        admins: file.nimbus_admins.clone().unwrap_or_default(),
                        groups: file.auth_groups.clone().unwrap_or_default(),
                    },
                    worker_ca,
                },
            )
            .await?;
        }
        Command::Supervisor {
            nimbus,
            host,
            slots,
            data_dir,
            listen,
            conf,
        } => {
            let file = ClusterConfig::load(cli.config.as_deref(), &conf)?;
            let nimbus = required(
                nimbus.or_else(|| file.nimbus_url()),
                "--nimbus",
                "nimbus.url or nimbus.seeds",
            )?;
            let host = required(
                host.or(file.supervisor_host.clone()),
                "--host",
                "supervisor.host",
            )?;
            let data_dir = required(
                data_dir.or(file.supervisor_data_dir.clone()),
                "--data-dir",
                "supervisor.data.dir",
            )?;
            let slots = slots
                .or(file.supervisor_slots_ports.clone())
                .unwrap_or_else(|| DEFAULT_SLOTS.to_vec());
            let listen = listen.or(file.supervisor_listen.clone());
            let tls = security(&file, cli.insecure, Some(Role::Supervisor))?;
            init_logs();
            let listener = match listen {
                Some(listen) => tokio::net::TcpListener::bind(&listen)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?,
                None => supervisor_api_listener(&data_dir, &host).await?,
            };
            squall_supervisor::serve(
                listener,
                squall_supervisor::SupervisorOptions {
                    nimbus,
                    host,
                    slots,
                    data_dir,
                    conf: file.daemon_conf(),
                    tls,
                },
            )
            .await?;
        }
        Command::Submit {
            binary,
            name,
            workers,
            conf,
            resources,
            args,
            nimbus,
        } => {
            let request = submit::Request {
                binary,
                name,
                workers,
                conf: config(conf),
                args,
                resources,
            };
            let id = submit::submit(&nimbus.resolve(&file, tls), &request, true).await?;
            println!("submitted {id}");
        }
        Command::List { nimbus } => status::list(&nimbus.resolve(&file, tls)).await?,
        Command::Status {
            name,
            json,
            watch,
            window,
            nimbus,
        } => {
            status::status(
                &nimbus.resolve(&file, tls),
                name.as_deref(),
                json,
                watch,
                &window,
            )
            .await?
        }
        Command::Kill { name, wait, nimbus } => {
            client::kill(&nimbus.resolve(&file, tls), &name, wait).await?;
            println!("killed {name}");
        }
        Command::Activate { name, nimbus } => {
            client::activate(&nimbus.resolve(&file, tls), &name, true).await?;
            println!("activated {name}");
        }
        Command::Deactivate { name, nimbus } => {
            client::activate(&nimbus.resolve(&file, tls), &name, false).await?;
            println!("deactivated {name}");
        }
        Command::Rebalance {
            name,
            workers,
            executors,
            wait,
            nimbus,
        } => {
            let t = client::rebalance(&nimbus.resolve(&file, tls), &name, workers, executors, wait)
                .await?;
            println!(
                "rebalanced {name}: {} worker(s){}, {}",
                t.workers,
                if t.workers < t.workers_requested {
                    format!(
                        " of {} requested (squall status {name} says why)",
                        t.workers_requested
                    )
                } else {
                    String::new()
                },
                t.status
            );
        }
        Command::Logs {
            name,
            component,
            tail,
            follow,
            nimbus,
        } => {
            logs::logs(
                &nimbus.resolve(&file, tls),
                &name,
                component.as_deref(),
                tail,
                follow,
            )
            .await?
        }
        Command::UiLogin { nimbus } => {
            let link = client::ui_login(&nimbus.resolve(&file, tls)).await?;
            println!("{link}");
        }
        Command::Certs { command } => match command {
            CertsCommand::Init { dir, name } => {
                let (cert, key) = certs::init(&dir, &name)?;
                println!(
                    "created the cluster CA: {} and {} (keep the key on the Nimbus host only)",
                    cert.display(),
                    key.display()
                );
            }
            CertsCommand::Issue {
                role,
                name,
                hosts,
                dir,
                days,
            } => {
                let role: squall_security::Role = role.parse()?;
                let (cert, key) = certs::issue(&dir, role, &name, &hosts, days)?;
                println!(
                    "issued a {role} certificate for {name}: {} and {}",
                    cert.display(),
                    key.display()
                );
            }
        },
        Command::Dev {
            submit,
            seconds,
            port,
            ui,
            args,
        } => {
            let ui = (ui != "off").then_some(ui);
            dev::run(submit, seconds, port, ui, args, cli.insecure).await?
        }
    }
    Ok(())
}

/// The supervisor's API listener when no `--listen` is given: the address it served on last
/// time (its adopted workers heartbeat there), else any free port on the host.
async fn supervisor_api_listener(
    data_dir: &std::path::Path,
    host: &str,
) -> anyhow::Result<tokio::net::TcpListener> {
    if let Some(addr) = squall_supervisor::memory::remembered_api_address(data_dir, host) {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => return Ok(listener),
            Err(e) => {
                tracing::warn!(%addr, error = %e, "cannot listen on the API address of the last run; workers it left running will be replaced")
            }
        }
    }
    let any = format!("{host}:0");
    tokio::net::TcpListener::bind(&any)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {any}: {e}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Local mode and the worker role run their own runtimes: before this one starts.
    if let Command::Run { file, seconds } = &cli.command {
        return match run::run(file, *seconds) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if output::reader_gone(&e) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!(
                    "error: {}",
                    client::chain_line(e.as_ref()).replace('\n', " ")
                );
                ExitCode::FAILURE
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        // Piped into `head` or `less`: the reader went away, which ends the output quietly,
        // as with other Unix tools.
        Err(e) if output::reader_gone(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let line = client::chain_line(e.as_ref()).replace('\n', " ");
            eprintln!("error: {line}");
            ExitCode::FAILURE
        }
    }
}
