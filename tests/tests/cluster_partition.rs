//! A supervisor cut off from the network and healed, with real network namespaces: Nimbus
//! and two supervisors each in a namespace of their own, joined by a bridge in a fourth. When
//! supervisor A's link goes down, Nimbus moves its workers to B; when it comes back, A kills
//! the workers it no longer runs; every id ends acked. Needs root (namespaces); skips with a
//! message otherwise.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use squall_security::Role;
use squall_tests::cluster::{all_acked, binaries, eventually, ids_in};
use squall_tests::pki::TestPki;

/// The namespaces and processes of one run; torn down on drop.
struct Net {
    tag: String,
    daemons: Vec<Child>,
    data: tempfile::TempDir,
    pki: TestPki,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Net {
    fn ns(&self, name: &str) -> String {
        format!("{}{name}", self.tag)
    }

    /// Namespaces hub (bridge), n (nimbus, .1), a (.2) and b (.3) on 10.210.<k>.0/24.
    fn create() -> Net {
        let k = std::process::id() % 200 + 20;
        let data = tempfile::Builder::new()
            .prefix("squall-netns-")
            .tempdir()
            .unwrap();
        let net = Net {
            tag: format!("sq{k}"),
            daemons: Vec::new(),
            pki: TestPki::new(&data.path().join("certs")),
            data,
        };
        let hub = net.ns("hub");
        ip(&["netns", "add", &hub]);
        ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &hub, "link", "set", "br0", "up"]);
        for (i, name) in ["n", "a", "b"].iter().enumerate() {
            let ns = net.ns(name);
            let (inside, port) = (format!("{}v{name}", net.tag), format!("{}p{name}", net.tag));
            ip(&["netns", "add", &ns]);
            ip(&[
                "link", "add", &inside, "type", "veth", "peer", "name", &port,
            ]);
            ip(&["link", "set", &inside, "netns", &ns]);
            ip(&["link", "set", &port, "netns", &hub]);
            ip(&["-n", &hub, "link", "set", &port, "master", "br0", "up"]);
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("10.210.{k}.{}/24", i + 1),
                "dev",
                &inside,
            ]);
            ip(&["-n", &ns, "link", "set", &inside, "up"]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        net
    }

    fn addr(&self, host: u8) -> String {
        let k = std::process::id() % 200 + 20;
        format!("10.210.{k}.{host}")
    }

    fn spawn(&mut self, ns: &str, args: &[String], log: &str) {
        let log = std::fs::File::create(self.data.path().join(log)).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns(ns)])
            .arg(&binaries().squall)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.daemons.push(child);
    }

    fn squall(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.ns("n")])
            .arg(&binaries().squall)
            .args(args)
            .env("SQUALL_NIMBUS", format!("http://{}:6627", self.addr(1)))
            .env("SQUALL_CONF", self.pki.user_config())
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> Option<serde_json::Value> {
        let out = self.squall(args);
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).ok())
            .flatten()
    }

    fn live_workers(&self, supervisor: &str) -> Vec<u32> {
        let dir = self.data.path().join(supervisor).join("workers");
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| {
                serde_json::from_slice::<serde_json::Value>(&std::fs::read(e.path()).ok()?).ok()
            })
            .filter_map(|v| v["pid"].as_u64().map(|p| p as u32))
            .filter(|pid| Path::new(&format!("/proc/{pid}")).exists())
            .collect()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for c in &mut self.daemons {
            let _ = c.kill();
            let _ = c.wait();
        }
        for s in ["a", "b"] {
            for pid in self.live_workers(s) {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        }
        for ns in ["n", "a", "b", "hub"] {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.ns(ns)])
                .status();
        }
    }
}

#[test]
fn a_cut_off_supervisor_loses_its_workers_to_the_other_and_heals_cleanly() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: network namespaces need root (CI runs as root)");
        return;
    }
    let mut net = Net::create();
    let data = net.data.path().to_owned();
    let nimbus_addr = net.addr(1);
    let nimbus_config = net
        .pki
        .config(Role::Nimbus, "nimbus", &[&nimbus_addr], "")
        .display()
        .to_string();
    net.spawn(
        "n",
        &[
            "--config".into(),
            nimbus_config,
            "nimbus".into(),
            "--listen".into(),
            format!("{nimbus_addr}:6627"),
            "--data-dir".into(),
            data.join("nimbus").display().to_string(),
            "--conf".into(),
            "nimbus.supervisor.timeout.secs=6".into(),
        ],
        "nimbus.log",
    );
    for (name, host) in [("a", 2), ("b", 3)] {
        let addr = net.addr(host);
        let config = net
            .pki
            .config(
                Role::Supervisor,
                &format!("supervisor-{name}"),
                &[&addr],
                "",
            )
            .display()
            .to_string();
        net.spawn(
            name,
            &[
                "--config".into(),
                config,
                "supervisor".into(),
                "--nimbus".into(),
                format!("http://{nimbus_addr}:6627"),
                "--host".into(),
                addr.clone(),
                "--slots".into(),
                "6700,6701".into(),
                "--data-dir".into(),
                data.join(name).display().to_string(),
            ],
            &format!("supervisor-{name}.log"),
        );
    }
    let alive = |net: &Net| {
        net.json(&["status", "--json"])
            .and_then(|c| {
                c["supervisors"]
                    .as_array()
                    .map(|s| s.iter().filter(|s| s["alive"] == true).count())
            })
            .unwrap_or(0)
    };
    assert!(
        eventually(Duration::from_secs(30), || alive(&net) == 2),
        "supervisors did not join; see {}",
        data.display()
    );

    let out = data.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let topology = binaries().ids_topology.display().to_string();
    let out_arg = out.display().to_string();
    let submitted = net.squall(&[
        "submit",
        &topology,
        "--name",
        "ids",
        "--workers",
        "2",
        "--",
        "--ids",
        "3000",
        "--rate",
        "300",
        "--out",
        &out_arg,
    ]);
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    assert!(eventually(Duration::from_secs(30), || ids_in(
        &out, "acked"
    )
    .len()
        > 200));
    assert!(eventually(Duration::from_secs(10), || !net
        .live_workers("a")
        .is_empty()));

    // Cut A off the network.
    ip(&[
        "-n",
        &net.ns("hub"),
        "link",
        "set",
        &format!("{}pa", net.tag),
        "down",
    ]);
    let b_host = net.addr(3);
    assert!(
        eventually(Duration::from_secs(30), || {
            net.json(&["status", "ids", "--json"]).is_some_and(|s| {
                let w = s["workers"].as_array().cloned().unwrap_or_default();
                w.len() == 2 && w.iter().all(|w| w["host"] == b_host.as_str())
            })
        }),
        "nimbus did not move A's worker to B"
    );

    // Heal: A hears its slot is no longer assigned and kills its worker.
    ip(&[
        "-n",
        &net.ns("hub"),
        "link",
        "set",
        &format!("{}pa", net.tag),
        "up",
    ]);
    assert!(
        eventually(Duration::from_secs(30), || net.live_workers("a").is_empty()),
        "A kept a worker it no longer runs"
    );
    assert!(
        all_acked(&out, 3000, Duration::from_secs(90)),
        "ids were lost; see {}",
        data.display()
    );
    assert_eq!(net.live_workers("b").len(), 2);
}
