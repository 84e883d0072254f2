//! `squall.yaml`: daemons and the CLI take their settings from the file (no flags), a bad file
//! stops a daemon before it listens with one line naming the problem, and a misspelt
//! `topology.*` key on submit is warned about with the nearest known key.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use squall_security::Role;
use squall_tests::cluster::{Daemons, binaries, eventually, free_port};
use squall_tests::pki::TestPki;

fn daemon(args: &[&str], log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    Command::new(&binaries().squall)
        .args(args)
        .env_remove("SQUALL_NIMBUS")
        .env_remove("SQUALL_CONF")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Runs `squall ARGS` with only `SQUALL_CONF` to find the cluster.
fn squall_with_conf(conf: &Path, args: &[&str]) -> std::process::Output {
    Command::new(&binaries().squall)
        .args(args)
        .env_remove("SQUALL_NIMBUS")
        .env("SQUALL_CONF", conf)
        .output()
        .unwrap()
}

#[test]
fn daemons_and_the_cli_take_every_setting_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port("127.0.0.1");
    let slots = [free_port("127.0.0.2"), free_port("127.0.0.2")];
    // One file for the whole cluster, as storm.yaml; the certificate it names differs per
    // process (each daemon's own), so each process gets the shared lines plus its TLS lines.
    let pki = TestPki::new(&dir.path().join("certs"));
    let shared = dir.path().join("shared.yaml");
    std::fs::write(
        &shared,
        format!(
            "# the whole cluster in one file, as storm.yaml\n\
             nimbus.seeds: [\"127.0.0.1\"]\n\
             nimbus.port: {port}\n\
             nimbus.listen: 127.0.0.1:{port}\n\
             nimbus.data.dir: {nimbus}\n\
             nimbus.supervisor.timeout.secs: 10\n\
             supervisor.host: 127.0.0.2\n\
             supervisor.slots.ports: [{}, {}]\n\
             supervisor.data.dir: {supervisor}\n\
             supervisor.worker.timeout.secs: 10\n",
            slots[0],
            slots[1],
            nimbus = dir.path().join("nimbus").display(),
            supervisor = dir.path().join("supervisor").display(),
        ),
    )
    .unwrap();
    let shared_text = std::fs::read_to_string(&shared).unwrap();
    let with_shared = |role, name: &str, hosts: &[&str]| {
        pki.config(role, name, hosts, &shared_text)
            .display()
            .to_string()
    };
    let nimbus_conf = with_shared(Role::Nimbus, "nimbus", &["127.0.0.1"]);
    let supervisor_conf = with_shared(Role::Supervisor, "supervisor-a", &["127.0.0.2"]);
    let conf = PathBuf::from(with_shared(Role::User, "tester", &[]));
    let _daemons = Daemons(vec![
        daemon(
            &["--config", &nimbus_conf, "nimbus"],
            &dir.path().join("nimbus.log"),
        ),
        daemon(
            &["--config", &supervisor_conf, "supervisor"],
            &dir.path().join("supervisor.log"),
        ),
    ]);
    // The CLI finds Nimbus through $SQUALL_CONF's nimbus.seeds and nimbus.port, and the
    // supervisor registered the host and the two slots the file gives.
    let mut last = String::new();
    let up = eventually(Duration::from_secs(30), || {
        let out = squall_with_conf(&conf, &["status", "--json"]);
        last = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let Ok(status) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
            return false;
        };
        status["supervisors"].as_array().is_some_and(|s| {
            s.iter()
                .any(|s| s["host"] == "127.0.0.2" && s["slots_total"] == 2 && s["alive"] == true)
        })
    });
    assert!(
        up,
        "no supervisor with the file's host and slots: {last}\nnimbus log:\n{}\nsupervisor log:\n{}",
        std::fs::read_to_string(dir.path().join("nimbus.log")).unwrap_or_default(),
        std::fs::read_to_string(dir.path().join("supervisor.log")).unwrap_or_default()
    );
    assert!(dir.path().join("nimbus").is_dir(), "nimbus.data.dir used");
    assert!(
        dir.path().join("supervisor").is_dir(),
        "supervisor.data.dir used"
    );

    // A misspelt topology key is warned about on submit, naming the key it resembles.
    let out = squall_with_conf(
        &conf,
        &[
            "submit",
            binaries().word_count.to_str().unwrap(),
            "--name",
            "typo",
            "--conf",
            "topology.wrokers=1",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "warning: unknown key topology.wrokers: Squall does not read it; did you mean topology.workers?"
        ),
        "{stderr}"
    );
}

/// Starts `squall ARGS` and waits for it to exit on its own; a daemon still running after
/// the limit has started half-configured, which is the failure this guards against.
fn refused(args: &[&str], env_conf: Option<&Path>) -> String {
    let mut cmd = Command::new(&binaries().squall);
    cmd.args(args)
        .env_remove("SQUALL_NIMBUS")
        .env_remove("SQUALL_CONF")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(conf) = env_conf {
        cmd.env("SQUALL_CONF", conf);
    }
    let mut child = Daemons(vec![cmd.spawn().unwrap()]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.0[0].try_wait().unwrap() {
            assert!(!status.success(), "{args:?} succeeded");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{args:?} kept running with a bad configuration"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.0[0].stderr.as_mut().unwrap(), &mut stderr).unwrap();
    stderr
}

#[test]
fn a_bad_file_stops_every_daemon_with_one_line_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port("127.0.0.1");
    let data = dir.path().join("data").display().to_string();
    let listen = format!("127.0.0.1:{port}");
    let cases = [
        (
            "nimbus.listen: 127.0.0.1:1\nnimbus.data.dirr: /tmp/x\n",
            "unknown key nimbus.data.dirr (did you mean nimbus.data.dir?)",
        ),
        (
            "supervisor.slots.ports: six-seven-hundred\n",
            "invalid value for supervisor.slots.ports",
        ),
        (
            "nimbus.supervisor.timeout.secs: [1]\n",
            "invalid value for nimbus.supervisor.timeout.secs",
        ),
        ("nimbus.seeds: [a\n", "not valid YAML"),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let conf = dir.path().join(format!("bad-{i}.yaml"));
        std::fs::write(&conf, text).unwrap();
        let conf_arg = conf.display().to_string();
        for role in [
            vec![
                "--config",
                &conf_arg,
                "nimbus",
                "--listen",
                &listen,
                "--data-dir",
                &data,
            ],
            vec![
                "--config",
                &conf_arg,
                "supervisor",
                "--nimbus",
                "http://127.0.0.1:1",
                "--host",
                "127.0.0.1",
                "--data-dir",
                &data,
            ],
            vec!["--config", &conf_arg, "list"],
        ] {
            let stderr = refused(&role, None);
            assert_eq!(stderr.trim_end().lines().count(), 1, "{role:?}: {stderr}");
            assert!(
                stderr.starts_with(&format!("error: {conf_arg}: ")) && stderr.contains(expected),
                "{role:?}: {stderr}"
            );
        }
        // Nothing started: the port Nimbus would have listened on is still free.
        assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
        assert!(!dir.path().join("data").exists(), "{text}: state written");
    }

    // A file named by --config or $SQUALL_CONF must exist.
    let missing = dir.path().join("missing.yaml");
    let stderr = refused(
        &[
            "--config",
            missing.to_str().unwrap(),
            "nimbus",
            "--data-dir",
            &data,
        ],
        None,
    );
    assert!(
        stderr.starts_with(&format!(
            "error: cannot read the configuration file {}",
            missing.display()
        )),
        "{stderr}"
    );
    let stderr = refused(&["list"], Some(&missing));
    assert!(
        stderr.contains("cannot read the configuration file"),
        "{stderr}"
    );

    // TLS files that cannot be used: missing, expired, a key that is not the certificate's,
    // another role's certificate, half the keys. Each stops the daemon with one line.
    let certs = dir.path().join("certs");
    let d = certs.display().to_string();
    let squall = |args: &[&str]| {
        let out = Command::new(&binaries().squall)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    squall(&["certs", "init", "--dir", &d]);
    squall(&[
        "certs",
        "issue",
        "--role",
        "nimbus",
        "nimbus",
        "--host",
        "127.0.0.1",
        "--dir",
        &d,
    ]);
    squall(&[
        "certs", "issue", "--role", "nimbus", "old", "--days", "0", "--dir", &d,
    ]);
    squall(&["certs", "issue", "--role", "user", "alice", "--dir", &d]);
    let tls = |cert: &str, key: &str| {
        format!(
            "squall.tls.ca: {d}/ca.pem\nsquall.tls.cert: {d}/{cert}\nsquall.tls.key: {d}/{key}\nsquall.tls.ca.key: {d}/ca.key\n"
        )
    };
    // Issued with zero days: its validity ended as it was made.
    std::thread::sleep(Duration::from_millis(1100));
    for (i, (text, expected)) in [
        (tls("gone.pem", "nimbus.key"), "cannot read the certificate"),
        (tls("old.pem", "old.key"), "old.pem expired on"),
        (
            tls("nimbus.pem", "alice.key"),
            "does not belong to the certificate",
        ),
        (
            tls("alice.pem", "alice.key"),
            "is a user certificate; this daemon needs a nimbus certificate",
        ),
        (
            format!("squall.tls.ca: {d}/ca.pem\n"),
            "TLS needs squall.tls.ca, squall.tls.cert and squall.tls.key together",
        ),
        (String::new(), "no certificate configured"),
    ]
    .iter()
    .enumerate()
    {
        let conf = dir.path().join(format!("tls-{i}.yaml"));
        std::fs::write(&conf, text).unwrap();
        let conf_arg = conf.display().to_string();
        let stderr = refused(
            &[
                "--config",
                &conf_arg,
                "nimbus",
                "--listen",
                &listen,
                "--data-dir",
                &data,
            ],
            None,
        );
        assert_eq!(stderr.trim_end().lines().count(), 1, "{text}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(expected),
            "{text}: {stderr}"
        );
        assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
        assert!(!dir.path().join("data").exists(), "{text}: state written");
    }

    // A misspelt daemon setting on the command line is refused the same way.
    let stderr = refused(
        &[
            "nimbus",
            "--listen",
            &listen,
            "--data-dir",
            &data,
            "--conf",
            "nimbus.supervisor.timeout=5",
        ],
        None,
    );
    assert!(
        stderr.contains(
            "unknown key nimbus.supervisor.timeout (did you mean nimbus.supervisor.timeout.secs?)"
        ),
        "{stderr}"
    );
    // And a daemon with neither flag nor key for a required setting names both.
    let stderr = refused(&["nimbus", "--listen", &listen], None);
    assert!(
        stderr.contains("--data-dir is required") && stderr.contains("nimbus.data.dir"),
        "{stderr}"
    );
}
