//! The benchmark driver's cluster mode: a one-machine cluster of real processes (Nimbus and
//! a supervisor started from the `squall` binary beside the bench binary), with the bench
//! binary itself submitted as the topology.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::cpu::pid_cpu_secs;

/// A running one-machine cluster; its processes are killed on drop.
pub struct DevCluster {
    squall: PathBuf,
    url: String,
    /// Arguments every `squall` run gets: `--config <file>` of the process's role, or
    /// `--insecure`.
    user_args: Vec<String>,
    daemons: Vec<Child>,
    /// Where state, logs and the latency dumps live.
    pub dir: tempfile::TempDir,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl DevCluster {
    /// Starts Nimbus and one supervisor with `slots` slots, secure (a CA and certificates
    /// made with `squall certs`, as a real cluster) unless `insecure`; waits until the
    /// supervisor joined.
    pub fn start(slots: u32, insecure: bool) -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let squall = exe
            .parent()
            .and_then(Path::parent)
            .map(|d| d.join("squall"))
            .filter(|p| p.exists())
            .context("cluster mode runs the squall binary of the same build: cargo build --release --bin squall --example bench")?;
        let dir = tempfile::Builder::new().prefix("squall-bench-").tempdir()?;
        let url = format!("http://127.0.0.1:{}", free_port()?);
        let slots: Vec<String> = (0..slots)
            .map(|_| free_port().map(|p| p.to_string()))
            .collect::<Result<_, _>>()?;
        let d = dir.path().to_owned();
        let role_args = |name: &str| -> anyhow::Result<Vec<String>> {
            if insecure {
                return Ok(vec!["--insecure".to_owned()]);
            }
            let certs = d.join("certs");
            let mut yaml = format!(
                "squall.tls.ca: {0}/ca.pem\nsquall.tls.cert: {0}/{name}.pem\nsquall.tls.key: {0}/{name}.key\n",
                certs.display()
            );
            if name == "nimbus" {
                yaml.push_str(&format!("squall.tls.ca.key: {}/ca.key\n", certs.display()));
            }
            let path = d.join(format!("{name}.yaml"));
            std::fs::write(&path, yaml)?;
            Ok(vec!["--config".to_owned(), path.display().to_string()])
        };
        if !insecure {
            let certs = d.join("certs").display().to_string();
            let run = |args: &[&str]| -> anyhow::Result<()> {
                let out = Command::new(&squall).args(args).output()?;
                if !out.status.success() {
                    bail!("squall {args:?}: {}", String::from_utf8_lossy(&out.stderr));
                }
                Ok(())
            };
            run(&["certs", "init", "--dir", &certs])?;
            for (role, name) in [("nimbus", "nimbus"), ("supervisor", "bench-supervisor")] {
                run(&[
                    "certs",
                    "issue",
                    "--role",
                    role,
                    name,
                    "--host",
                    "127.0.0.1",
                    "--dir",
                    &certs,
                ])?;
            }
            run(&["certs", "issue", "--role", "user", "bench", "--dir", &certs])?;
        }
        let nimbus_args = role_args("nimbus")?;
        let supervisor_args = role_args("bench-supervisor")?;
        let mut cluster = DevCluster {
            squall,
            url: url.clone(),
            user_args: role_args("bench")?,
            daemons: Vec::new(),
            dir,
        };
        cluster.spawn(
            &nimbus_args,
            &[
                "nimbus",
                "--listen",
                url.trim_start_matches("http://"),
                "--data-dir",
                &d.join("nimbus").display().to_string(),
            ],
            "nimbus.log",
        )?;
        cluster.spawn(
            &supervisor_args,
            &[
                "supervisor",
                "--nimbus",
                &url,
                "--host",
                "127.0.0.1",
                "--slots",
                &slots.join(","),
                "--data-dir",
                &d.join("supervisor").display().to_string(),
            ],
            "supervisor.log",
        )?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while !cluster.json(&["status", "--json"]).is_some_and(|c| {
            c["supervisors"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s["alive"] == true))
        }) {
            if Instant::now() > deadline {
                bail!("the bench cluster did not come up; logs in {}", d.display());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(cluster)
    }

    fn spawn(&mut self, role: &[String], args: &[&str], log: &str) -> anyhow::Result<()> {
        let log = std::fs::File::create(self.dir.path().join(log))?;
        self.daemons.push(
            Command::new(&self.squall)
                .args(role)
                .args(args)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()?,
        );
        Ok(())
    }

    /// Runs `squall ARGS` against the cluster.
    pub fn squall(&self, args: &[String]) -> anyhow::Result<std::process::Output> {
        Ok(Command::new(&self.squall)
            .args(&self.user_args)
            .args(args)
            .env("SQUALL_NIMBUS", &self.url)
            .output()?)
    }

    /// `squall ARGS` whose output is one JSON object.
    pub fn json(&self, args: &[&str]) -> Option<serde_json::Value> {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let out = self.squall(&args).ok()?;
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).ok())
            .flatten()
    }

    /// The records a component has executed, as Nimbus last heard.
    pub fn executed(&self, topology: &str, component: &str) -> u64 {
        self.json(&["status", topology, "--json"])
            .and_then(|s| {
                s["components"]
                    .as_array()?
                    .iter()
                    .find(|c| c["id"] == component)?["executed"]
                    .as_u64()
            })
            .unwrap_or(0)
    }

    /// One field of each of the topology's workers, as `status --json` has it.
    fn worker_field(&self, topology: &str, field: &str) -> Vec<u64> {
        self.json(&["status", topology, "--json"])
            .and_then(|s| {
                s["workers"]
                    .as_array()
                    .map(|w| w.iter().filter_map(|w| w[field].as_u64()).collect())
            })
            .unwrap_or_default()
    }

    /// Resident memory of the topology's workers, summed, as their last heartbeats gave it.
    pub fn worker_memory_bytes(&self, topology: &str) -> u64 {
        self.worker_field(topology, "memory_bytes").iter().sum()
    }

    /// CPU seconds used so far by the daemons and the topology's workers.
    pub fn cpu_secs(&self, topology: &str) -> f64 {
        let workers: Vec<u32> = self
            .worker_field(topology, "pid")
            .into_iter()
            .map(|p| p as u32)
            .collect();
        self.daemons
            .iter()
            .map(Child::id)
            .chain(workers)
            .map(pid_cpu_secs)
            .sum()
    }

    /// Kills the topology and waits until its workers are gone.
    pub fn kill(&self, topology: &str) {
        let _ = self.squall(&["kill".into(), topology.into(), "--wait".into(), "0".into()]);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline
            && self.json(&["status", "--json"]).is_some_and(|c| {
                c["supervisors"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|s| s["slots_used"] != 0))
            })
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        // One supervisor pass (1 s) after the slots are free, the workers are gone.
        std::thread::sleep(Duration::from_millis(1500));
    }
}

impl Drop for DevCluster {
    fn drop(&mut self) {
        for d in &mut self.daemons {
            let _ = d.kill();
            let _ = d.wait();
        }
    }
}
