//! A real `nats-server` with JetStream for the connector tests: started on a free loopback
//! port with its store in a temporary directory (so it can be stopped and started again with
//! its streams), ready when it greets a client, killed when dropped. Missing on CI is a failure; elsewhere the test is skipped with a message.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running NATS server.
pub struct NatsServer {
    child: Child,
    /// `nats://127.0.0.1:PORT`.
    pub url: String,
    port: u16,
    dir: tempfile::TempDir,
}

impl NatsServer {
    /// Starts one; `None` (with a message) when `nats-server` is not installed outside CI.
    pub fn start() -> Option<NatsServer> {
        if Command::new("nats-server")
            .arg("--version")
            .output()
            .is_err()
        {
            assert!(
                std::env::var_os("CI").is_none(),
                "nats-server is missing on CI: .ci/run should have installed it"
            );
            eprintln!("SKIPPED: nats-server is not installed (see .ci/run)");
            return None;
        }
        let port = crate::cluster::free_port("127.0.0.1");
        let dir = tempfile::tempdir().expect("temp dir");
        let server = NatsServer {
            child: spawn(port, dir.path()),
            url: format!("nats://127.0.0.1:{port}"),
            port,
            dir,
        };
        server.wait_ready();
        Some(server)
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.greets() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (SIGTERM: it flushes its store and exits): clients see it gone.
    pub fn stop(&mut self) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .expect("signal nats-server");
        self.child.wait().expect("wait for nats-server");
    }

    /// Starts it again on the same port, with the streams [`stop`](Self::stop) left.
    pub fn restart(&mut self) {
        self.child = spawn(self.port, self.dir.path());
        self.wait_ready();
    }

    /// Whether the server sends its INFO line to a new connection.
    fn greets(&self) -> bool {
        let Ok(stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with("INFO")
    }
}

fn spawn(port: u16, dir: &std::path::Path) -> Child {
    Command::new("nats-server")
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string()])
        .arg("-sd")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nats-server")
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
