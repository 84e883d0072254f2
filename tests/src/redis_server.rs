//! A real `redis-server` for the connector tests: started on a free loopback port with no
//! persistence (but a dump on a requested stop, so it can be restarted with its data), ready
//! when it answers PING, killed when dropped. Missing on CI is a failure;
//! elsewhere the test is skipped with a message.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running Redis server.
pub struct RedisServer {
    child: Child,
    /// `redis://127.0.0.1:PORT`.
    pub url: String,
    port: u16,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts one; `None` (with a message) when `redis-server` is not installed outside CI.
    pub fn start() -> Option<RedisServer> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server is missing on CI: .ci/run should have installed it"
            );
            eprintln!("SKIPPED: redis-server is not installed (see .ci/run)");
            return None;
        }
        let port = crate::cluster::free_port("127.0.0.1");
        let dir = tempfile::tempdir().expect("temp dir");
        let server = RedisServer {
            child: spawn(port, dir.path()),
            url: format!("redis://127.0.0.1:{port}"),
            port,
            dir,
        };
        server.wait_ready();
        Some(server)
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let pong: Option<String> = self
                .try_conn()
                .and_then(|mut c| redis::cmd("PING").query(&mut c).ok());
            if pong.as_deref() == Some("PONG") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server after it saved its data (`SHUTDOWN SAVE`): clients see it gone.
    pub fn stop(&mut self) {
        let mut conn = self.conn();
        // The server closes the connection instead of answering.
        let _ = redis::cmd("SHUTDOWN").arg("SAVE").query::<()>(&mut conn);
        let status = self.child.wait().expect("wait for redis-server");
        assert!(status.success(), "redis-server stopped with {status}");
    }

    /// Starts it again on the same port, from the data [`stop`](Self::stop) saved.
    pub fn restart(&mut self) {
        self.child = spawn(self.port, self.dir.path());
        self.wait_ready();
    }

    fn try_conn(&self) -> Option<redis::Connection> {
        redis::Client::open(self.url.as_str())
            .ok()?
            .get_connection()
            .ok()
    }

    /// A connection to it.
    pub fn conn(&self) -> redis::Connection {
        self.try_conn().expect("connect to redis-server")
    }
}

fn spawn(port: u16, dir: &std::path::Path) -> Child {
    Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-server")
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Entries consumer group `group` holds as delivered and not acknowledged on `stream`;
/// `None` when Redis refuses the question (no such stream or group yet).
pub fn pending(conn: &mut redis::Connection, stream: &str, group: &str) -> Option<u64> {
    let summary: redis::Value = redis::cmd("XPENDING")
        .arg(stream)
        .arg(group)
        .query(conn)
        .ok()?;
    match summary {
        redis::Value::Array(items) => match items.first() {
            Some(redis::Value::Int(n)) => u64::try_from(*n).ok(),
            _ => Some(0),
        },
        _ => Some(0),
    }
}

/// Every key's committed count in the Redis state of `component`'s tasks in `topology`
/// (`squall:state:<topology>:<component>-<task>`, key → count as JSON), summed over the tasks.
/// Keys that do not decode as a string and a count are skipped.
pub fn committed_counts(
    conn: &mut redis::Connection,
    topology: &str,
    component: &str,
) -> std::collections::BTreeMap<String, i64> {
    let names: Vec<String> = redis::cmd("KEYS")
        .arg(format!("squall:state:{topology}:{component}-*"))
        .query(conn)
        .unwrap_or_default();
    let mut counts = std::collections::BTreeMap::new();
    // The committed hash is the one named by the task alone (not `:prepared` or `:meta`).
    for name in names
        .iter()
        .filter(|n| n.bytes().last().is_some_and(|b| b.is_ascii_digit()))
    {
        let entries: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(name)
            .query(conn)
            .unwrap_or_default();
        for (key, value) in entries {
            if let (Ok(key), Ok(n)) = (serde_json::from_str::<String>(&key), value.parse::<i64>()) {
                *counts.entry(key).or_insert(0) += n;
            }
        }
    }
    counts
}
