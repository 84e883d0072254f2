//! Shell components' processes never outlive their worker on a cluster: after the worker is
//! killed with -9 (its script set to linger rather than exit on end of input), the supervisor
//! kills what the worker's pid directory lists; after `squall kill`, none is left.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::time::Duration;

use squall_tests::cluster::{Cluster, binaries, eventually};

/// Pids of the scripted shell bolt's processes started for worker slot `port`.
fn shell_pids(port: u64) -> Vec<u32> {
    let wanted = format!("SQUALL_WORKER_PORT={port}");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).contains("scripted_bolt.py")
                && environ.split(|&b| b == 0).any(|kv| kv == wanted.as_bytes())
        })
        .collect()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

#[test]
fn shell_processes_die_with_their_worker_and_with_the_topology() {
    if squall_tests::python::python3().is_none() {
        return;
    }
    let cluster = Cluster::start(&["127.0.9.6"], 1);
    let topology = binaries().shell_topology.display().to_string();
    let submitted = cluster.squall(&["submit", &topology, "--name", "shell"]);
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    let acked = || {
        cluster.status_json("shell").and_then(|s| {
            s["components"]
                .as_array()?
                .iter()
                .find(|c| c["id"] == "sentences")?["acked"]
                .as_u64()
        })
    };
    assert!(
        eventually(Duration::from_secs(60), || acked().unwrap_or(0) > 50),
        "the shell topology acked nothing; logs in {}",
        cluster.dir.path().display()
    );
    let status = cluster.status_json("shell").unwrap();
    let worker = &status["workers"][0];
    let (pid, port) = (
        worker["pid"].as_u64().unwrap() as i32,
        worker["port"].as_u64().unwrap(),
    );
    // Signalling pid 0 would hit this test's own process group.
    assert!(pid > 0, "{status}");
    let before = shell_pids(port);
    assert_eq!(before.len(), 2, "one process per split task: {before:?}");

    // kill -9 the worker: its scripts linger, and the supervisor kills them.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(
        eventually(Duration::from_secs(30), || before
            .iter()
            .all(|&p| !alive(p))),
        "shell processes outlived their worker: {:?}",
        before.iter().filter(|&&p| alive(p)).collect::<Vec<_>>()
    );
    // The replacement worker runs new ones and the topology goes on.
    let then = acked().unwrap_or(0);
    assert!(
        eventually(Duration::from_secs(60), || acked().unwrap_or(0) > then + 50),
        "the topology did not recover"
    );
    let after_restart = shell_pids(port);
    assert_eq!(after_restart.len(), 2, "{after_restart:?}");

    // squall kill: nothing is left.
    let killed = cluster.squall(&["kill", "shell", "--wait", "0"]);
    assert!(killed.status.success());
    assert!(
        eventually(Duration::from_secs(30), || after_restart
            .iter()
            .all(|&p| !alive(p))),
        "shell processes outlived the topology"
    );
}
