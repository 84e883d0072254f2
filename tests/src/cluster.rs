//! A cluster of real `squall` daemons on loopback for tests: one Nimbus and supervisors on
//! distinct 127.0.0.N addresses (each address acts as its own host), free ports picked by
//! binding, readiness awaited rather than slept for, and every process (workers included)
//! killed when the `Cluster` is dropped.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use squall_proto::NimbusClient;
use squall_security::Role;

use crate::pki::TestPki;
use squall_proto::pb::{ClusterInfo, Empty};

pub use crate::eventually;

/// The binaries the cluster runs: `squall` and the test topologies.
pub struct Binaries {
    /// The `squall` command.
    pub squall: PathBuf,
    /// The `ids_topology` test topology.
    pub ids_topology: PathBuf,
    /// The `flow_topology` test topology (word count's shape, flat out).
    pub flow_topology: PathBuf,
    /// The `chain_topology` test topology (a chain of any size).
    pub chain_topology: PathBuf,
    /// The word-count example.
    pub word_count: PathBuf,
    /// The `shell_topology` test topology (a Python shell bolt).
    pub shell_topology: PathBuf,
    /// The `redis_topology` test topology (a Redis stream through a flaky bolt to a stream).
    pub redis_topology: PathBuf,
    /// The `state_topology` test topology (a Redis stream into a stateful counting bolt).
    pub state_topology: PathBuf,
    /// The `nats_topology` test topology (a JetStream stream through a flaky bolt to a subject).
    pub nats_topology: PathBuf,
    /// The `kafka_topology` test topology (a Kafka topic through a flaky bolt to a topic).
    pub kafka_topology: PathBuf,
    /// The Redis word-count example.
    pub redis_word_count: PathBuf,
    /// The files word-count example.
    pub file_word_count: PathBuf,
    /// The Kafka word-count example.
    pub kafka_word_count: PathBuf,
    /// The exactly-once counting example.
    pub exact_counts: PathBuf,
}

/// Builds the binaries once per test process (a no-op when they are up to date) in the same
/// profile as the running test.
pub fn binaries() -> &'static Binaries {
    static BINARIES: OnceLock<Binaries> = OnceLock::new();
    BINARIES.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        // target/<profile>/deps/<test> → target/<profile>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test executable under target/<profile>/deps")
            .to_owned();
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args([
            "build",
            "-q",
            "-p",
            "squall-cli",
            "-p",
            "squall-tests",
            "--bins",
        ]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "building the squall binaries failed");
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args([
            "build",
            "-q",
            "-p",
            "squall-examples",
            "--example",
            "word_count",
            "--example",
            "redis_word_count",
            "--example",
            "file_word_count",
            "--example",
            "kafka_word_count",
            "--example",
            "exact_counts",
        ]);
        if release {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "building the word-count examples failed");
        Binaries {
            squall: profile_dir.join("squall"),
            ids_topology: profile_dir.join("ids_topology"),
            flow_topology: profile_dir.join("flow_topology"),
            chain_topology: profile_dir.join("chain_topology"),
            word_count: profile_dir.join("examples").join("word_count"),
            shell_topology: profile_dir.join("shell_topology"),
            redis_topology: profile_dir.join("redis_topology"),
            state_topology: profile_dir.join("state_topology"),
            nats_topology: profile_dir.join("nats_topology"),
            kafka_topology: profile_dir.join("kafka_topology"),
            redis_word_count: profile_dir.join("examples").join("redis_word_count"),
            file_word_count: profile_dir.join("examples").join("file_word_count"),
            kafka_word_count: profile_dir.join("examples").join("kafka_word_count"),
            exact_counts: profile_dir.join("examples").join("exact_counts"),
        }
    })
}

/// Daemons started by hand, killed when the test ends, however it ends.
pub struct Daemons(pub Vec<Child>);

impl Drop for Daemons {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port free on `host` right now.
pub fn free_port(host: &str) -> u16 {
    std::net::TcpListener::bind((host, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One supervisor of the cluster.
pub struct SupervisorHandle {
    /// Its host address.
    pub host: String,
    /// Its own API address; empty: none given, the supervisor picks (and remembers) one.
    pub listen: String,
    /// Its slot ports.
    pub slots: Vec<u16>,
    /// Its data dir.
    pub data_dir: PathBuf,
    /// More `--conf key=value` settings for its next start.
    pub conf: Vec<String>,
    child: Option<Child>,
}

/// A running test cluster.
pub struct Cluster {
    /// Temporary directory holding every daemon's state and logs.
    pub dir: tempfile::TempDir,
    /// Nimbus's URL.
    pub nimbus_url: String,
    /// Nimbus's web UI, REST API and `/metrics` (`http://127.0.0.1:PORT`).
    pub ui_url: String,
    nimbus_listen: String,
    ui_listen: String,
    nimbus: Option<Child>,
    /// The supervisors, in the order given.
    pub supervisors: Vec<SupervisorHandle>,
    /// The cluster's CA and certificates: every daemon and the test user run with TLS.
    pub pki: TestPki,
}

/// A supervisor silent this long is dead to Nimbus. Generous, so a CI machine busy compiling
/// does not make a slow heartbeat look like a dead host.
pub const SUPERVISOR_TIMEOUT_SECS: u64 = 8;
/// A worker silent this long is restarted by its supervisor.
pub const WORKER_TIMEOUT_SECS: u64 = 5;

/// A daemon's log, kept across its restarts.
fn append_to(path: &Path) -> File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("log file")
}

fn spawn(bin: &Path, args: &[String], log: &Path) -> Child {
    let log = File::create(log).expect("log file");
    Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .spawn()
        .expect("start daemon")
}

impl Cluster {
    /// Starts Nimbus on 127.0.0.1 and one supervisor with `slots` slots per host in `hosts`,
    /// and waits until Nimbus sees every supervisor alive.
    pub fn start(hosts: &[&str], slots: usize) -> Cluster {
        Self::start_with(hosts, slots, &[])
    }

    /// As [`start`](Self::start), with extra Nimbus `--conf` settings.
    pub fn start_with(hosts: &[&str], slots: usize, nimbus_conf: &[&str]) -> Cluster {
        let bins = binaries();
        let dir = tempfile::Builder::new()
            .prefix("squall-cluster-")
            .tempdir()
            .expect("temp dir");
        let nimbus_listen = format!("127.0.0.1:{}", free_port("127.0.0.1"));
        let ui_listen = format!("127.0.0.1:{}", free_port("127.0.0.1"));
        let pki = TestPki::new(&dir.path().join("certs"));
        let mut cluster = Cluster {
            pki,
            nimbus_url: format!("http://{nimbus_listen}"),
            ui_url: format!("https://{ui_listen}"),
            nimbus_listen,
            ui_listen,
            nimbus: None,
            supervisors: Vec::new(),
            dir,
        };
        cluster.start_nimbus(nimbus_conf);
        for host in hosts {
            let data_dir = cluster.dir.path().join(format!("supervisor-{host}"));
            let s = SupervisorHandle {
                host: (*host).to_owned(),
                listen: format!("{host}:{}", free_port(host)),
                slots: (0..slots).map(|_| free_port(host)).collect(),
                data_dir,
                conf: Vec::new(),
                child: None,
            };
            cluster.supervisors.push(s);
            let i = cluster.supervisors.len() - 1;
            cluster.start_supervisor(i);
        }
        let n = hosts.len();
        assert!(
            eventually(Duration::from_secs(30), || cluster.alive_supervisors() == n),
            "supervisors did not register with nimbus; logs in {}",
            cluster.dir.path().display()
        );
        let _ = bins;
        cluster
    }

    /// Starts (or restarts) Nimbus on its data dir and waits until it answers.
    pub fn start_nimbus(&mut self, conf: &[&str]) {
        let config = self.pki.config(Role::Nimbus, "nimbus", &["127.0.0.1"], "");
        let mut args = vec![
            "--config".to_owned(),
            config.display().to_string(),
            "nimbus".to_owned(),
            "--listen".into(),
            self.nimbus_listen.clone(),
            "--data-dir".into(),
            self.dir.path().join("nimbus").display().to_string(),
            "--ui".into(),
            self.ui_listen.clone(),
            "--conf".into(),
            format!("nimbus.supervisor.timeout.secs={SUPERVISOR_TIMEOUT_SECS}"),
        ];
        for c in conf {
            args.extend(["--conf".to_owned(), (*c).to_owned()]);
        }
        let log = self.dir.path().join("nimbus.log");
        self.nimbus = Some(spawn(&binaries().squall, &args, &log));
        assert!(
            eventually(Duration::from_secs(30), || self.cluster_info().is_some()),
            "nimbus did not come up; see {}",
            log.display()
        );
    }

    /// Starts (or restarts) supervisor `i` on its data dir.
    pub fn start_supervisor(&mut self, i: usize) {
        let s = &self.supervisors[i];
        let config = self.pki.config(
            Role::Supervisor,
            &format!("supervisor-{}", s.host),
            &[s.host.as_str()],
            "",
        );
        let mut args = vec![
            "--config".to_owned(),
            config.display().to_string(),
            "supervisor".to_owned(),
            "--nimbus".into(),
            self.nimbus_url.clone(),
            "--host".into(),
            s.host.clone(),
        ];
        if !s.listen.is_empty() {
            args.extend(["--listen".to_owned(), s.listen.clone()]);
        }
        args.extend([
            "--slots".into(),
            s.slots
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(","),
            "--data-dir".into(),
            s.data_dir.display().to_string(),
            "--conf".into(),
            format!("supervisor.worker.timeout.secs={WORKER_TIMEOUT_SECS}"),
        ]);
        for c in &s.conf {
            args.extend(["--conf".to_owned(), c.clone()]);
        }
        let log = self.dir.path().join(format!("supervisor-{}.log", s.host));
        let log = append_to(&log);
        let child = Command::new(&binaries().squall)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start supervisor");
        self.supervisors[i].child = Some(child);
    }

    /// Nimbus's view of the cluster, if it answers.
    pub fn cluster_info(&self) -> Option<ClusterInfo> {
        let endpoint =
            squall_security::endpoint(&self.nimbus_url, Some(&self.pki.user_tls())).ok()?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        rt.block_on(async move {
            let mut c = NimbusClient::new(endpoint.connect().await.ok()?);
            c.get_cluster(Empty {})
                .await
                .ok()
                .map(tonic::Response::into_inner)
        })
    }

    /// Supervisors Nimbus considers alive.
    pub fn alive_supervisors(&self) -> usize {
        self.cluster_info()
            .map_or(0, |c| c.supervisors.iter().filter(|s| s.alive).count())
    }

    /// Runs `squall ARGS` against this cluster.
    pub fn squall(&self, args: &[&str]) -> Output {
        self.squall_command()
            .args(args)
            .output()
            .expect("run squall")
    }

    /// A `squall` command set up to talk to this cluster as the test user.
    pub fn squall_command(&self) -> Command {
        let mut cmd = Command::new(&binaries().squall);
        cmd.env("SQUALL_NIMBUS", &self.nimbus_url)
            .env("SQUALL_CONF", self.pki.user_config());
        cmd
    }

    /// An endpoint to Nimbus over TLS as the test user, for raw gRPC calls.
    pub fn nimbus_endpoint(&self) -> tonic::transport::Endpoint {
        squall_security::endpoint(&self.nimbus_url, Some(&self.pki.user_tls()))
            .expect("nimbus endpoint")
    }

    /// The pid of one of topology `name`'s live workers (`index` modulo their number), once
    /// it has at least `min` of them. Status lists a worker with pid 0 until it has reported
    /// one: never signal that, it is the caller's own process group.
    pub fn live_worker_pid(&self, name: &str, min: usize, index: usize) -> u32 {
        let mut found = 0;
        let ok = eventually(Duration::from_secs(60), || {
            let Some(status) = self.status_json(name) else {
                return false;
            };
            let pids: Vec<u32> = status["workers"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter_map(|w| w["pid"].as_u64())
                .filter(|&p| p > 0)
                .map(|p| p as u32)
                .filter(|p| {
                    std::fs::read(format!("/proc/{p}/cmdline"))
                        .is_ok_and(|c| String::from_utf8_lossy(&c).starts_with("squall-worker"))
                })
                .collect();
            if pids.len() < min.max(1) {
                return false;
            }
            found = pids[index % pids.len()];
            true
        });
        assert!(ok, "{name} never had {min} live workers");
        found
    }

    /// Submits the test topology; returns the CLI's output.
    pub fn submit_ids(&self, name: &str, workers: u32, ids: u64, rate: u64, out: &Path) -> Output {
        self.submit_ids_with(name, workers, ids, rate, out, &[])
    }

    /// Submits the test topology with more of its flags (`--sink-delay-ms 1`, ...).
    pub fn submit_ids_with(
        &self,
        name: &str,
        workers: u32,
        ids: u64,
        rate: u64,
        out: &Path,
        extra: &[&str],
    ) -> Output {
        let topology = binaries().ids_topology.display().to_string();
        let (workers, ids, rate, out) = (
            workers.to_string(),
            ids.to_string(),
            rate.to_string(),
            out.display().to_string(),
        );
        let mut args = vec![
            "submit",
            &topology,
            "--name",
            name,
            "--workers",
            &workers,
            "--",
            "--ids",
            &ids,
            "--rate",
            &rate,
            "--out",
            &out,
        ];
        args.extend_from_slice(extra);
        self.squall(&args)
    }

    /// Submits the test topology as `name` with output in `<cluster dir>/out`, checks the
    /// submission succeeded, and waits until `started` ids are acked; returns the output dir.
    pub fn run_ids(
        &self,
        name: &str,
        workers: u32,
        ids: u64,
        rate: u64,
        started: usize,
    ) -> PathBuf {
        self.run_ids_with(name, workers, ids, rate, started, &[])
    }

    /// As [`run_ids`](Self::run_ids), with more `ids_topology` arguments.
    pub fn run_ids_with(
        &self,
        name: &str,
        workers: u32,
        ids: u64,
        rate: u64,
        started: usize,
        extra: &[&str],
    ) -> PathBuf {
        let out = self.dir.path().join("out");
        std::fs::create_dir_all(&out).expect("output dir");
        let submitted = self.submit_ids_with(name, workers, ids, rate, &out, extra);
        assert!(
            submitted.status.success(),
            "{}",
            String::from_utf8_lossy(&submitted.stderr)
        );
        assert!(
            eventually(Duration::from_secs(30), || ids_in(&out, "acked").len()
                >= started),
            "the topology did not get going; logs in {}",
            self.dir.path().display()
        );
        out
    }

    /// GETs a path of the UI server (`/api/v1/...`, `/metrics`) over HTTPS, showing the test
    /// user's certificate; `None` on any failure.
    pub fn http_get(&self, path: &str) -> Option<String> {
        self.https_agent(true)
            .get(&format!("{}{path}", self.ui_url))
            .call()
            .ok()?
            .body_mut()
            .read_to_string()
            .ok()
    }

    /// An HTTPS client that trusts the cluster CA and, with `as_user`, shows the test user's
    /// certificate.
    pub fn https_agent(&self, as_user: bool) -> ureq::Agent {
        use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};
        let read = |p: PathBuf| std::fs::read(p).expect("read pem");
        let ca = Certificate::from_pem(&read(self.pki.ca_path()))
            .expect("CA pem")
            .to_owned();
        let mut tls = TlsConfig::builder().root_certs(RootCerts::new_with_certs(&[ca]));
        if as_user {
            self.pki.user_config();
            let (cert, key) = self.pki.user_files();
            let cert = Certificate::from_pem(&read(cert))
                .expect("cert pem")
                .to_owned();
            let key = PrivateKey::from_pem(&read(key))
                .expect("key pem")
                .to_owned();
            tls = tls.client_cert(Some(ClientCert::new_with_certs(&[cert], key)));
        }
        ureq::Agent::config_builder()
            .tls_config(tls.build())
            .http_status_as_error(false)
            .build()
            .new_agent()
    }

    /// A UI page as a browser reaches it: a one-time login link (from `UiLogin`, as
    /// `squall ui-login` prints it) that leads to `page` (`/topology.html?id=...`).
    pub fn ui_page(&self, page: &str) -> String {
        let endpoint = self.nimbus_endpoint();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let ticket = rt.block_on(async move {
            let mut c = NimbusClient::new(endpoint.connect().await.expect("connect"));
            c.ui_login(Empty {})
                .await
                .expect("ui login")
                .into_inner()
                .ticket
        });
        let next: String = page
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'.' | b'-' | b'_' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        format!("{}/login?ticket={ticket}&next={next}", self.ui_url)
    }

    /// GETs a REST API path and parses the JSON.
    pub fn api(&self, path: &str) -> Option<serde_json::Value> {
        serde_json::from_str(&self.http_get(path)?).ok()
    }

    /// `squall status NAME --json`, parsed.
    pub fn status_json(&self, name: &str) -> Option<serde_json::Value> {
        let out = self.squall(&["status", name, "--json"]);
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// (port, pid) of the workers supervisor `i` has recorded.
    pub fn worker_pids(&self, i: usize) -> Vec<(u16, u32)> {
        recorded_workers(&self.supervisors[i].data_dir)
    }

    /// Every worker process of every supervisor that is still alive.
    pub fn live_workers(&self) -> Vec<u32> {
        (0..self.supervisors.len())
            .flat_map(|i| self.worker_pids(i))
            .map(|(_, pid)| pid)
            .filter(|pid| Path::new(&format!("/proc/{pid}")).exists())
            .collect()
    }

    /// `kill -9` of supervisor `i`, and of its workers when `with_workers`.
    pub fn kill_supervisor(&mut self, i: usize, with_workers: bool) {
        if with_workers {
            for (_, pid) in self.worker_pids(i) {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
        }
        if let Some(mut child) = self.supervisors[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `kill -9` of Nimbus.
    pub fn kill_nimbus(&mut self) {
        if let Some(mut child) = self.nimbus.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// (port, pid) pairs from a supervisor's worker records.
fn recorded_workers(data_dir: &Path) -> Vec<(u16, u32)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(data_dir.join("workers"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "json")
            && let Ok(v) = serde_json::from_slice::<serde_json::Value>(
                &std::fs::read(&path).unwrap_or_default(),
            )
            && let (Some(port), Some(pid)) = (v["port"].as_u64(), v["pid"].as_u64())
        {
            out.push((port as u16, pid as u32));
        }
    }
    out
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.kill_nimbus();
        for i in 0..self.supervisors.len() {
            self.kill_supervisor(i, true);
        }
    }
}

/// The ids listed in the files of `dir` whose names start with `prefix` ("acked", "seen" or
/// "failed").
pub fn ids_in(dir: &Path, prefix: &str) -> HashSet<u64> {
    let mut out = HashSet::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with(prefix)
            && let Ok(f) = File::open(entry.path())
        {
            out.extend(
                BufReader::new(f)
                    .lines()
                    .map_while(Result::ok)
                    .filter_map(|l| l.parse::<u64>().ok()),
            );
        }
    }
    out
}

/// The lines of the files of `dir` whose names start with `prefix`.
pub fn lines_in(dir: &Path, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with(prefix)
            && let Ok(f) = File::open(entry.path())
        {
            out.extend(BufReader::new(f).lines().map_while(Result::ok));
        }
    }
    out
}

/// Acked ids that never reached the sink: silent loss, a tree completed without its work.
pub fn acked_but_unseen(out: &Path) -> Vec<u64> {
    let seen = ids_in(out, "seen");
    let mut lost: Vec<u64> = ids_in(out, "acked")
        .into_iter()
        .filter(|id| !seen.contains(id))
        .collect();
    lost.sort_unstable();
    lost
}

/// Waits until every id in `0..n` has been acked (listed in the output dir).
pub fn all_acked(out: &Path, n: u64, limit: Duration) -> bool {
    eventually(limit, || ids_in(out, "acked").len() as u64 >= n)
}

/// One component's entry in a `status --json` document (null when absent).
pub fn component(status: &serde_json::Value, id: &str) -> serde_json::Value {
    status["components"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == id))
        .cloned()
        .unwrap_or_default()
}
