//! Nimbus with security on (mutual TLS, certificates from `squall certs`), on real daemons:
//! no credential, a certificate from another CA or plaintext get nowhere and change nothing;
//! users act only on topologies their ACL allows; a supervisor cannot heartbeat as another
//! host or download a binary it was not assigned.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use squall_proto::NimbusClient;
use squall_proto::pb::{BinaryRequest, Empty, SupervisorHeartbeatRequest};
use squall_tests::cluster::{Daemons, binaries, eventually, free_port};

fn squall(args: &[&str]) -> Output {
    squall_at(None, args)
}

/// `squall ARGS`, finding Nimbus at `url` (`$SQUALL_NIMBUS`) when given.
fn squall_at(url: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(&binaries().squall);
    cmd.args(args).env_remove("SQUALL_CONF");
    match url {
        Some(url) => cmd.env("SQUALL_NIMBUS", url),
        None => cmd.env_remove("SQUALL_NIMBUS"),
    };
    cmd.output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A certificates directory with a CA and the given certificates.
fn pki(dir: &Path, certs: &[(&str, &str, &[&str])]) -> PathBuf {
    let d = dir.display().to_string();
    ok(&squall(&["certs", "init", "--dir", &d]));
    for (role, name, hosts) in certs {
        let mut args = vec!["certs", "issue", "--role", role, name, "--dir", &d];
        for h in *hosts {
            args.extend(["--host", h]);
        }
        ok(&squall(&args));
    }
    dir.to_owned()
}

/// A squall.yaml presenting `name`'s certificate from `certs`, trusting `ca_dir`'s CA.
fn config(at: &Path, ca_dir: &Path, certs: &Path, name: &str, extra: &str) -> String {
    std::fs::write(
        at,
        format!(
            "squall.tls.ca: {}\nsquall.tls.cert: {}\nsquall.tls.key: {}\n{extra}",
            ca_dir.join("ca.pem").display(),
            certs.join(format!("{name}.pem")).display(),
            certs.join(format!("{name}.key")).display(),
        ),
    )
    .unwrap();
    at.display().to_string()
}

struct Secure {
    dir: tempfile::TempDir,
    url: String,
    /// The UI's address (host:port), served over HTTPS.
    ui: String,
    _daemons: Daemons,
    certs: PathBuf,
}

impl Secure {
    /// `squall ARGS` as the user whose configuration is `user.yaml`.
    fn as_user(&self, user: &str, args: &[&str]) -> Output {
        let conf = self
            .dir
            .path()
            .join(format!("{user}.yaml"))
            .display()
            .to_string();
        let mut all = vec!["--config", conf.as_str()];
        all.extend_from_slice(args);
        squall_at(Some(&self.url), &all)
    }

    /// An HTTPS client of the UI that trusts the cluster CA and shows `who`'s certificate.
    fn https(&self, who: Option<&str>) -> ureq::Agent {
        use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};
        let read = |f: &str| std::fs::read(self.certs.join(f)).unwrap();
        let ca = Certificate::from_pem(&read("ca.pem")).unwrap().to_owned();
        let mut tls = TlsConfig::builder().root_certs(RootCerts::new_with_certs(&[ca]));
        if let Some(who) = who {
            let cert = Certificate::from_pem(&read(&format!("{who}.pem")))
                .unwrap()
                .to_owned();
            let key = PrivateKey::from_pem(&read(&format!("{who}.key")))
                .unwrap()
                .to_owned();
            tls = tls.client_cert(Some(ClientCert::new_with_certs(&[cert], key)));
        }
        ureq::Agent::config_builder()
            .tls_config(tls.build())
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .new_agent()
    }

    fn nimbus_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("nimbus.log")).unwrap_or_default()
    }

    fn stored_binaries(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("nimbus").join("binaries"))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// A gRPC client presenting `name`'s certificate.
    fn grpc(&self, name: &str) -> NimbusClient<tonic::transport::Channel> {
        let pem = |f: &str| std::fs::read_to_string(self.certs.join(f)).unwrap();
        let tls = tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(pem("ca.pem")))
            .identity(tonic::transport::Identity::from_pem(
                pem(&format!("{name}.pem")),
                pem(&format!("{name}.key")),
            ))
            .domain_name("127.0.0.1");
        let url = self.url.replace("http://", "https://");
        let channel = tonic::transport::Endpoint::from_shared(url)
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect_lazy();
        NimbusClient::new(channel)
    }
}

fn start() -> Secure {
    start_with(&[("host-a", "127.0.0.2")])
}

/// A secure cluster with supervisors (certificate name, host), one slot each.
fn start_with(supervisors: &[(&str, &str)]) -> Secure {
    let dir = tempfile::tempdir().unwrap();
    let certs = pki(
        &dir.path().join("certs"),
        &[
            ("nimbus", "nimbus", &["127.0.0.1"]),
            ("supervisor", "host-a", &["127.0.0.2"]),
            ("supervisor", "host-b", &["127.0.0.3"]),
            ("user", "alice", &[]),
            ("user", "bob", &[]),
            ("user", "root", &[]),
        ],
    );
    let evil = pki(&dir.path().join("evil"), &[("user", "alice", &[])]);
    let port = free_port("127.0.0.1");
    let url = format!("http://127.0.0.1:{port}");
    let ui = format!("127.0.0.1:{}", free_port("127.0.0.1"));
    let nimbus_conf = config(
        &dir.path().join("nimbus.yaml"),
        &certs,
        &certs,
        "nimbus",
        &format!(
            "nimbus.listen: 127.0.0.1:{port}\nui.listen: {ui}\nnimbus.data.dir: {}\nnimbus.admins: [root]\nnimbus.supervisor.timeout.secs: 10\nsquall.tls.ca.key: {}\n",
            dir.path().join("nimbus").display(),
            certs.join("ca.key").display()
        ),
    );
    let supervisor_confs: Vec<(String, String)> = supervisors
        .iter()
        .map(|(name, host)| {
            let slot = free_port(host);
            let conf = config(
                &dir.path().join(format!("{name}.yaml")),
                &certs,
                &certs,
                name,
                &format!(
                    "nimbus.url: {url}\nsupervisor.host: {host}\nsupervisor.slots.ports: [{slot}]\nsupervisor.data.dir: {}\n",
                    dir.path().join(name).display()
                ),
            );
            (name.to_string(), conf)
        })
        .collect();
    for user in ["alice", "bob", "root"] {
        config(
            &dir.path().join(format!("{user}.yaml")),
            &certs,
            &certs,
            user,
            "",
        );
    }
    // Alice's name, certificate from another CA (but trusting the real one for the server).
    config(&dir.path().join("mallory.yaml"), &certs, &evil, "alice", "");
    let spawn = |conf: &str, role: &str, log: &str| {
        let log = std::fs::File::create(dir.path().join(log)).unwrap();
        Command::new(&binaries().squall)
            .args(["--config", conf, role])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap()
    };
    let mut daemons = Daemons(vec![spawn(&nimbus_conf, "nimbus", "nimbus.log")]);
    for (name, conf) in &supervisor_confs {
        daemons
            .0
            .push(spawn(conf, "supervisor", &format!("supervisor-{name}.log")));
    }
    let secure = Secure {
        dir,
        url,
        ui,
        _daemons: daemons,
        certs,
    };
    let up = eventually(Duration::from_secs(30), || {
        let out = secure.as_user("root", &["status", "--json"]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).is_ok_and(|s| {
            s["supervisors"].as_array().is_some_and(|s| {
                supervisors
                    .iter()
                    .all(|(name, _)| s.iter().any(|s| s["id"] == *name && s["alive"] == true))
            })
        })
    });
    assert!(
        up,
        "secure cluster did not come up:\n{}",
        secure.nimbus_log()
    );
    secure
}

#[test]
fn without_a_cluster_certificate_nothing_gets_through_and_nothing_changes() {
    let cluster = start();
    let binary = binaries().word_count.display().to_string();
    let submit = ["submit", binary.as_str(), "--name", "wc"];

    // Plaintext (security off on the client) to the TLS port.
    let mut plain = vec!["--insecure"];
    plain.extend_from_slice(&submit);
    let e = stderr(&squall_at(Some(&cluster.url), &plain));
    let errors: Vec<&str> = e.lines().filter(|l| !l.starts_with("warning: ")).collect();
    assert_eq!(errors.len(), 1, "{e}");
    assert!(
        errors[0].starts_with("error: nimbus closed the connection"),
        "{e}"
    );
    let e = stderr(&squall_at(Some(&cluster.url), &["--insecure", "list"]));
    assert!(e.contains("nimbus closed the connection"), "{e}");

    // TLS without a client certificate: trusts the CA, presents nothing.
    let ca_only = cluster.dir.path().join("ca-only.yaml");
    std::fs::write(
        &ca_only,
        format!(
            "squall.tls.ca: {}\n",
            cluster.certs.join("ca.pem").display()
        ),
    )
    .unwrap();
    let e = stderr(&squall_at(
        Some(&cluster.url),
        &["--config", ca_only.to_str().unwrap(), "list"],
    ));
    assert!(
        e.contains("squall.tls.cert, squall.tls.key"),
        "a half TLS configuration is refused before dialling: {e}"
    );
    let anonymous = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(
            std::fs::read_to_string(cluster.certs.join("ca.pem")).unwrap(),
        ))
        .domain_name("127.0.0.1");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let refused = runtime.block_on(async {
        let channel =
            tonic::transport::Endpoint::from_shared(cluster.url.replace("http:", "https:"))
                .unwrap()
                .tls_config(anonymous)
                .unwrap()
                .connect()
                .await;
        match channel {
            Err(_) => true,
            Ok(channel) => NimbusClient::new(channel)
                .list_topologies(Empty {})
                .await
                .is_err(),
        }
    });
    assert!(refused, "a TLS client without a certificate was answered");

    // A certificate for "alice" from another CA.
    let e = stderr(&cluster.as_user("mallory", &submit));
    assert!(e.starts_with("error: "), "{e}");
    let e = stderr(&cluster.as_user("mallory", &["list"]));
    assert!(
        e.starts_with("error: cannot reach nimbus")
            || e.starts_with("error: nimbus closed the connection"),
        "{e}"
    );

    // The supervisor's API: plaintext, no certificate, another CA's certificate.
    let addr = supervisor_api(&cluster);
    runtime.block_on(async {
        let read_log = squall_proto::pb::ReadLogRequest {
            topology_id: "wc".into(),
            port: 1,
            follow: false,
            tail_bytes: 0,
        };
        if let Ok(channel) = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
        {
            let r = squall_proto::SupervisorClient::new(channel)
                .read_log(read_log.clone())
                .await;
            assert!(r.is_err(), "plaintext to the supervisor was answered");
        }
        let evil_pem =
            |f: &str| std::fs::read_to_string(cluster.dir.path().join("evil").join(f)).unwrap();
        for identity in [None, Some(("alice.pem", "alice.key"))] {
            let mut tls = tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(
                    std::fs::read_to_string(cluster.certs.join("ca.pem")).unwrap(),
                ))
                .domain_name("127.0.0.2");
            if let Some((cert, key)) = identity {
                tls = tls.identity(tonic::transport::Identity::from_pem(
                    evil_pem(cert),
                    evil_pem(key),
                ));
            }
            let refused = match tonic::transport::Endpoint::from_shared(format!("https://{addr}"))
                .unwrap()
                .tls_config(tls)
                .unwrap()
                .connect()
                .await
            {
                Err(_) => true,
                Ok(channel) => squall_proto::SupervisorClient::new(channel)
                    .read_log(read_log.clone())
                    .await
                    .is_err(),
            };
            assert!(refused, "the supervisor answered {identity:?}");
        }
    });

    // Nothing was stored, nothing runs.
    assert_eq!(cluster.stored_binaries(), 0);
    assert!(
        !cluster
            .dir
            .path()
            .join("host-a")
            .join("workers")
            .join("tls")
            .exists(),
        "no worker was started"
    );
    let list = ok(&cluster.as_user("root", &["list"]));
    assert!(!list.contains("wc"), "{list}");
}

#[test]
fn users_act_only_on_topologies_their_acl_allows_and_supervisors_only_as_themselves() {
    let cluster = start();
    let binary = binaries().word_count.display().to_string();
    ok(&cluster.as_user(
        "alice",
        &[
            "submit",
            &binary,
            "--name",
            "wc",
            "--conf",
            "topology.message.timeout.secs=5",
        ],
    ));
    // Alice owns it and sees it; bob does not even see it listed.
    assert!(ok(&cluster.as_user("alice", &["list"])).contains("wc"));
    assert!(!ok(&cluster.as_user("bob", &["list"])).contains("wc"));
    for verb in [
        vec!["status", "wc"],
        vec!["deactivate", "wc"],
        vec!["activate", "wc"],
        vec!["rebalance", "wc", "--workers", "1", "--wait", "0"],
        vec!["kill", "wc", "--wait", "0"],
    ] {
        let e = stderr(&cluster.as_user("bob", &verb));
        assert!(
            e.contains("permission denied: user bob may not") && e.contains("topology wc"),
            "{verb:?}: {e}"
        );
    }
    assert!(ok(&cluster.as_user("alice", &["list"])).contains("ACTIVE"));
    // An admin may.
    ok(&cluster.as_user("root", &["deactivate", "wc"]));
    ok(&cluster.as_user("alice", &["activate", "wc"]));

    // A supervisor certificate is no user, and a user certificate no supervisor.
    let e = stderr(&squall_at(
        Some(&cluster.url),
        &[
            "--config",
            cluster.dir.path().join("host-a.yaml").to_str().unwrap(),
            "list",
        ],
    ));
    assert!(
        e.contains("a supervisor certificate may not list topologies"),
        "{e}"
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        // host-a's certificate claiming host-b's id.
        let forged = cluster
            .grpc("host-a")
            .supervisor_heartbeat(SupervisorHeartbeatRequest {
                supervisor_id: "host-b".into(),
                host: "127.0.0.3".into(),
                slots: vec![6700],
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(forged.code(), tonic::Code::PermissionDenied);
        assert!(
            forged.message().contains(
                "the certificate of supervisor host-a may not heartbeat as supervisor host-b"
            ),
            "{forged:?}"
        );
        // Its own id, but a host its certificate is not for (worker certificates for that
        // host would follow).
        let elsewhere = cluster
            .grpc("host-a")
            .supervisor_heartbeat(SupervisorHeartbeatRequest {
                supervisor_id: "host-a".into(),
                host: "127.0.0.1".into(),
                slots: vec![6700],
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(
            elsewhere.code(),
            tonic::Code::PermissionDenied,
            "{elsewhere:?}"
        );
        let as_user = cluster
            .grpc("alice")
            .supervisor_heartbeat(SupervisorHeartbeatRequest {
                supervisor_id: "alice".into(),
                host: "127.0.0.9".into(),
                slots: vec![6700],
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(as_user.code(), tonic::Code::PermissionDenied);

        // The binary goes to host-a (assigned) but not to host-b (valid, not assigned) or a user.
        let sha = std::fs::read_dir(cluster.dir.path().join("nimbus").join("binaries"))
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.len() == 64)
            .expect("the stored binary");
        let mut assigned = false;
        for _ in 0..100 {
            if cluster
                .grpc("host-a")
                .download_binary(BinaryRequest {
                    sha256: sha.clone(),
                })
                .await
                .is_ok()
            {
                assigned = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(assigned, "host-a could not download its assigned binary");
        for who in ["host-b", "alice"] {
            let e = cluster
                .grpc(who)
                .download_binary(BinaryRequest {
                    sha256: sha.clone(),
                })
                .await
                .err()
                .unwrap_or_else(|| panic!("{who} downloaded the binary"));
            assert_eq!(e.code(), tonic::Code::PermissionDenied, "{who}: {e:?}");
        }
    });

    // Only root and alice are left to kill it; alice does.
    ok(&cluster.as_user("alice", &["kill", "wc", "--wait", "0"]));

    // Every state-changing request is in the audit log, refusals included, in order.
    let audit =
        std::fs::read_to_string(cluster.dir.path().join("nimbus").join("audit.log")).unwrap();
    let entries: Vec<(String, String, String)> = audit
        .lines()
        .map(|l| {
            let field = |k: &str| {
                l.split(&format!(" {k}="))
                    .nth(1)
                    .map(|v| v.split(' ').next().unwrap_or_default().to_owned())
                    .unwrap_or_default()
            };
            (field("principal"), field("action"), field("result"))
        })
        .collect();
    let expected = [
        ("user:alice", "submit", "ok"),
        ("user:bob", "deactivate", "\"refused:"),
        ("user:bob", "activate", "\"refused:"),
        ("user:bob", "rebalance", "\"refused:"),
        ("user:bob", "kill", "\"refused:"),
        ("user:root", "deactivate", "ok"),
        ("user:alice", "activate", "ok"),
        ("user:alice", "kill", "ok"),
    ];
    let got: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|(p, a, r)| (p.as_str(), a.as_str(), r.as_str()))
        .collect();
    assert_eq!(got, expected, "{audit}");
    assert!(
        audit
            .lines()
            .all(|l| l.starts_with("time=20") && l.contains(" topology=wc ")),
        "{audit}"
    );
}

#[test]
fn workers_exchange_tuples_over_tls_and_refuse_peers_of_other_topologies() {
    let cluster = start_with(&[("host-a", "127.0.0.2"), ("host-b", "127.0.0.3")]);
    let out = cluster.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let topology = binaries().ids_topology.display().to_string();
    let out_arg = out.display().to_string();
    ok(&cluster.as_user(
        "alice",
        &[
            "submit",
            &topology,
            "--name",
            "ids",
            "--workers",
            "2",
            "--",
            "--ids",
            "2000",
            "--rate",
            "1000",
            "--out",
            &out_arg,
        ],
    ));
    assert!(
        squall_tests::cluster::all_acked(&out, 2000, Duration::from_secs(90)),
        "not every id was acked over the TLS transport; nimbus log:\n{}",
        cluster.nimbus_log()
    );
    let status: serde_json::Value =
        serde_json::from_str(&ok(&cluster.as_user("alice", &["status", "ids", "--json"]))).unwrap();
    let workers = status["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 2, "{workers:?}");
    let hosts: std::collections::BTreeSet<&str> =
        workers.iter().filter_map(|w| w["host"].as_str()).collect();
    assert_eq!(hosts.len(), 2, "one worker per host: {workers:?}");

    // The owner reads the workers' logs through their supervisors (over TLS); bob may not.
    let logs = ok(&cluster.as_user("alice", &["logs", "ids"]));
    assert!(logs.contains("worker started"), "{logs}");
    let e = stderr(&cluster.as_user("bob", &["logs", "ids"]));
    assert!(e.contains("permission denied: user bob may not"), "{e}");

    // A certificate of another topology, valid and from the cluster CA, gets no stream in;
    // nor does a user's, nor plaintext.
    let d = cluster.certs.display().to_string();
    ok(&squall(&[
        "certs",
        "issue",
        "--role",
        "worker",
        "other-1-1",
        "--host",
        "127.0.0.9",
        "--dir",
        &d,
    ]));
    let worker = &workers[0];
    let (host, port) = (
        worker["host"].as_str().unwrap().to_owned(),
        worker["port"].as_u64().unwrap(),
    );
    let pem = |f: &str| std::fs::read_to_string(cluster.certs.join(f)).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        // Straight to a supervisor, past Nimbus: bob still may not read ids' logs.
        let info = cluster
            .grpc("alice")
            .get_topology(squall_proto::pb::NameRequest {
                name: "ids".into(),
                window: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        let w = &info.workers[0];
        for (who, allowed) in [("bob", false), ("alice", true)] {
            let tls = tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(pem("ca.pem")))
                .identity(tonic::transport::Identity::from_pem(
                    pem(&format!("{who}.pem")),
                    pem(&format!("{who}.key")),
                ))
                .domain_name(w.host.clone());
            let channel = tonic::transport::Endpoint::from_shared(w.supervisor_url.clone())
                .unwrap()
                .tls_config(tls)
                .unwrap()
                .connect()
                .await
                .unwrap();
            let read = squall_proto::SupervisorClient::new(channel)
                .read_log(squall_proto::pb::ReadLogRequest {
                    topology_id: info.summary.as_ref().unwrap().id.clone(),
                    port: w.port,
                    follow: false,
                    tail_bytes: 0,
                })
                .await;
            match read {
                Ok(_) => assert!(allowed, "{who} read the logs"),
                Err(e) => {
                    assert!(!allowed, "{who}: {e:?}");
                    assert_eq!(e.code(), tonic::Code::PermissionDenied);
                }
            }
        }
        for who in ["other-1-1", "alice"] {
            let tls = tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(pem("ca.pem")))
                .identity(tonic::transport::Identity::from_pem(
                    pem(&format!("{who}.pem")),
                    pem(&format!("{who}.key")),
                ))
                .domain_name(host.clone());
            let channel = tonic::transport::Endpoint::from_shared(format!("https://{host}:{port}"))
                .unwrap()
                .tls_config(tls)
                .unwrap()
                .connect()
                .await
                .unwrap();
            let mut request =
                tonic::Request::new(tokio_stream::iter(vec![squall_proto::pb::TransferBatch {
                    payload: vec![1, 2, 3],
                    placement_version: 0,
                }]));
            request.metadata_mut().insert_bin(
                "squall-topology-bin",
                tonic::metadata::MetadataValue::from_bytes(b"ids"),
            );
            let refused = squall_proto::WorkerClient::new(channel)
                .transfer(request)
                .await
                .unwrap_err();
            assert_eq!(
                refused.code(),
                tonic::Code::PermissionDenied,
                "{who}: {refused:?}"
            );
        }
        let plaintext = tonic::transport::Endpoint::from_shared(format!("http://{host}:{port}"))
            .unwrap()
            .connect()
            .await;
        if let Ok(channel) = plaintext {
            let request = tonic::Request::new(tokio_stream::iter(Vec::<
                squall_proto::pb::TransferBatch,
            >::new()));
            assert!(
                squall_proto::WorkerClient::new(channel)
                    .transfer(request)
                    .await
                    .is_err(),
                "plaintext to a worker's TLS port was answered"
            );
        }
    });
}

/// `(status, body)` of a UI request.
fn answer(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, String) {
    let mut r = r.unwrap();
    let status = r.status().as_u16();
    (status, r.body_mut().read_to_string().unwrap_or_default())
}

#[test]
fn the_ui_is_https_only_needs_a_login_or_a_certificate_and_refuses_posts_without_the_csrf_token() {
    let cluster = start();
    let binary = binaries().word_count.display().to_string();
    ok(&cluster.as_user("alice", &["submit", &binary, "--name", "wc"]));
    let base = format!("https://{}", cluster.ui);

    // Plaintext to the HTTPS port gets no answer.
    let plain = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
        .get(&format!("http://{}/api/v1/topology/summary", cluster.ui))
        .call();
    assert!(plain.is_err(), "plaintext answered: {plain:?}");

    // No certificate, no session: the data and the actions are refused; the pages load.
    let anonymous = cluster.https(None);
    let (status, body) = answer(
        anonymous
            .get(&format!("{base}/api/v1/topology/summary"))
            .call(),
    );
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("squall ui-login"), "{body}");
    assert_eq!(
        answer(anonymous.get(&format!("{base}/metrics")).call()).0,
        401
    );
    let (status, _) = answer(
        anonymous
            .post(&format!("{base}/api/v1/topology/wc/kill/0"))
            .send_empty(),
    );
    assert_eq!(status, 401);
    assert_eq!(answer(anonymous.get(&format!("{base}/")).call()).0, 200);

    // Bob's certificate: alice's topology is neither listed nor shown.
    let bob = cluster.https(Some("bob"));
    let (status, body) = answer(bob.get(&format!("{base}/api/v1/topology/summary")).call());
    assert_eq!(status, 200);
    assert!(!body.contains("\"wc\""), "{body}");
    let (status, body) = answer(bob.get(&format!("{base}/api/v1/topology/wc")).call());
    assert_eq!(status, 403, "{body}");
    // /metrics covers every topology: admins only.
    assert_eq!(answer(bob.get(&format!("{base}/metrics")).call()).0, 403);
    assert_eq!(
        answer(
            cluster
                .https(Some("root"))
                .get(&format!("{base}/metrics"))
                .call()
        )
        .0,
        200
    );

    // Alice's certificate: the POST needs her CSRF token.
    let alice = cluster.https(Some("alice"));
    let deactivate = format!("{base}/api/v1/topology/wc/deactivate");
    let (status, body) = answer(alice.post(&deactivate).send_empty());
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("CSRF"), "{body}");
    let (_, session) = answer(alice.get(&format!("{base}/api/v1/session")).call());
    let session: serde_json::Value = serde_json::from_str(&session).unwrap();
    assert_eq!(session["user"], "alice");
    let token = session["csrfToken"].as_str().unwrap().to_owned();
    assert_eq!(
        answer(
            alice
                .post(&deactivate)
                .header("x-csrf-token", "forged")
                .send_empty()
        )
        .0,
        403
    );
    assert!(ok(&cluster.as_user("alice", &["list"])).contains("ACTIVE"));
    let (status, body) = answer(
        alice
            .post(&deactivate)
            .header("x-csrf-token", &token)
            .send_empty(),
    );
    assert_eq!(status, 200, "{body}");
    assert!(ok(&cluster.as_user("alice", &["list"])).contains("INACTIVE"));

    // A browser: `squall ui-login` prints a one-time link that sets a strict session cookie.
    let link = ok(&cluster.as_user("alice", &["ui-login"]))
        .trim()
        .to_owned();
    assert!(link.starts_with(&format!("{base}/login?ticket=")), "{link}");
    let browser = cluster.https(None);
    let login = browser.get(&link).call().unwrap();
    assert_eq!(login.status().as_u16(), 303);
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap()
        .to_owned();
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let session_cookie = cookie.split(';').next().unwrap().to_owned();
    assert_eq!(
        answer(browser.get(&link).call()).0,
        401,
        "a link works once"
    );
    let (status, body) = answer(
        browser
            .get(&format!("{base}/api/v1/topology/wc"))
            .header("cookie", &session_cookie)
            .call(),
    );
    assert_eq!(status, 200, "{body}");
    let activate = format!("{base}/api/v1/topology/wc/activate");
    // The cookie alone, as a cross-site form would send it, does not act.
    assert_eq!(
        answer(
            browser
                .post(&activate)
                .header("cookie", &session_cookie)
                .send_empty()
        )
        .0,
        403
    );
    let (_, session) = answer(
        browser
            .get(&format!("{base}/api/v1/session"))
            .header("cookie", &session_cookie)
            .call(),
    );
    let token = serde_json::from_str::<serde_json::Value>(&session).unwrap()["csrfToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = answer(
        browser
            .post(&activate)
            .header("cookie", &session_cookie)
            .header("x-csrf-token", &token)
            .send_empty(),
    );
    assert_eq!(status, 200, "{body}");

    // Both UI actions are in the audit log under alice.
    let audit =
        std::fs::read_to_string(cluster.dir.path().join("nimbus").join("audit.log")).unwrap();
    assert!(
        audit.contains("principal=user:alice action=deactivate topology=wc result=ok"),
        "{audit}"
    );
    assert!(
        audit.contains("principal=user:alice action=activate topology=wc result=ok"),
        "{audit}"
    );
}

/// The API address host-a's supervisor serves on (it keeps it in its data dir).
fn supervisor_api(cluster: &Secure) -> String {
    const API_ADDRESS_FILE: &str = "api-address";
    let file = cluster.dir.path().join("host-a").join(API_ADDRESS_FILE);
    std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .trim()
        .to_owned()
}
