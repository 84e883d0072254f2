//! Real pystorm components on a cluster of real daemons, as a Flux topology
//! (`tests/multilang/pystorm/topology.yaml`): a `ReliableSpout` and a plain `Spout`, a `Bolt`
//! that raises once and hangs once, a `BatchingBolt` on tick tuples. Every tree completes, the
//! failures replay, the hung script is killed and replaced, the raise shows in `squall status`,
//! and no Python process outlives a worker killed with -9 or the topology.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::time::Duration;

use squall_tests::cluster::{Cluster, component, eventually};

const SENTENCES: u64 = 200;
const PLAIN: u64 = 20;

/// Pids of live Python processes running inside `resources` (the supervisor's unpacked copies).
fn scripts_under(resources: &Path) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| !s.contains(") Z "));
            alive
                && std::fs::read_link(format!("/proc/{pid}/cwd"))
                    .is_ok_and(|cwd| cwd.starts_with(resources))
        })
        .collect()
}

#[test]
fn pystorm_components_run_as_a_flux_topology_on_a_cluster_and_recover_from_raise_and_hang() {
    let Some(python) = squall_tests::python::pystorm() else {
        return;
    };
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("multilang/pystorm");
    let copy = tempfile::tempdir().unwrap();
    let markers = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&source).unwrap().flatten() {
        std::fs::copy(entry.path(), copy.path().join(entry.file_name())).unwrap();
    }
    // Supervisors have the test's PATH, without the venv: its python by path. The markers
    // make the raise and the hang happen once across restarts.
    let yaml = std::fs::read_to_string(source.join("topology.yaml"))
        .unwrap()
        .replace("\"python3\"", &format!("\"{python}\""))
        .replace(
            "config:\n",
            &format!(
                "config:\n  pystorm.marker.dir: \"{}\"\n",
                markers.path().display()
            ),
        );
    let file = copy.path().join("topology.yaml");
    std::fs::write(&file, yaml).unwrap();

    let cluster = Cluster::start(&["127.0.9.9"], 1);
    let resources: PathBuf = cluster.supervisors[0].data_dir.join("resources");
    let submitted = cluster.squall(&["submit", &file.display().to_string()]);
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    let done = eventually(Duration::from_secs(120), || {
        cluster.status_json("pystorm").is_some_and(|s| {
            component(&s, "sentences")["acked"].as_u64() == Some(SENTENCES)
                && component(&s, "plain")["emitted"].as_u64() == Some(PLAIN)
        })
    });
    let status = cluster.status_json("pystorm").unwrap();
    assert!(
        done,
        "not every tree completed: {status}; logs in {}",
        cluster.dir.path().display()
    );
    let sentences = component(&status, "sentences");
    assert!(
        sentences["failed"].as_u64().unwrap() >= 2,
        "the raise and the hang failed trees, which replayed: {sentences}"
    );
    assert!(
        markers.path().join("boom").exists() && markers.path().join("hang").exists(),
        "the split bolt raised and hung"
    );
    let split = component(&status, "split");
    let errors = split["recent_errors"].to_string();
    assert!(
        errors.contains("boom in"),
        "the raise is in status: {split}"
    );
    assert!(
        errors.contains("topology.subprocess.timeout.secs"),
        "the hang is in status: {split}"
    );
    // The text status shows the last of them.
    let text = cluster.squall(&["status", "pystorm"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("boom in") || text.contains("has been silent for"),
        "{text}"
    );
    // The BatchingBolt counted on ticks.
    assert!(component(&status, "count")["emitted"].as_u64().unwrap() > 0);

    // kill -9 the worker: its Python processes go with it (the supervisor kills them).
    let before = scripts_under(&resources);
    assert_eq!(before.len(), 6, "2 spouts, 2 split, 2 count: {before:?}");
    let pid = status["workers"][0]["pid"].as_u64().unwrap();
    // Signalling pid 0 would hit this test's own process group.
    assert!(pid > 0, "{status}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(
        eventually(Duration::from_secs(30), || {
            let now = scripts_under(&resources);
            before.iter().all(|p| !now.contains(p))
        }),
        "Python processes outlived their worker: {:?}",
        scripts_under(&resources)
    );
    // After squall kill, none at all.
    assert!(eventually(Duration::from_secs(60), || scripts_under(
        &resources
    )
    .len()
        == 6));
    let killed = cluster.squall(&["kill", "pystorm", "--wait", "1"]);
    assert!(killed.status.success());
    assert!(
        eventually(Duration::from_secs(30), || scripts_under(&resources)
            .is_empty()),
        "Python processes outlived the topology: {:?}",
        scripts_under(&resources)
    );
}
