//! Topologies in YAML (Storm Flux's format) with no Rust of their own: the multilang word
//! count (`examples/multilang/word_count.yaml`, all pystorm) runs in local mode with `squall
//! run` and on a cluster of real daemons with `squall submit`, where the `squall` binary is the
//! worker; broken files are one clear line naming the problem, with nothing stored.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use squall_tests::cluster::{Cluster, binaries, eventually};

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/multilang")
}

/// `PATH` with the pystorm venv first, so the YAML's `python3` has pystorm.
fn path_with(python: &str) -> String {
    let bin = Path::new(python).parent().unwrap().display().to_string();
    format!("{bin}:{}", std::env::var("PATH").unwrap_or_default())
}

/// The example's files in a fresh directory, its `python3` replaced by `python` (supervisors
/// started by the test have the test's PATH, without the venv).
fn example_copy(python: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(example_dir()).unwrap().flatten() {
        let name = entry.file_name();
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let text = if name == "word_count.yaml" {
            text.replace("\"python3\"", &format!("\"{python}\""))
        } else {
            text
        };
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn totals(stdout: &str) -> Option<(u64, u64, u64)> {
    let last = stdout.lines().last()?;
    let mut n = last.split(' ').map(|kv| kv.split_once('='));
    let mut next = |key: &str| match n.next()? {
        Some((k, v)) if k == key => v.parse().ok(),
        _ => None,
    };
    Some((next("emitted")?, next("acked")?, next("failed")?))
}

#[test]
fn squall_run_runs_the_yaml_word_count_locally_and_prints_the_totals_last() {
    let Some(python) = squall_tests::python::pystorm() else {
        return;
    };
    let out = Command::new(&binaries().squall)
        .args(["run", "word_count.yaml", "--seconds", "4"])
        .current_dir(example_dir())
        .env("PATH", path_with(&python))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (emitted, acked, failed) = totals(&stdout).unwrap_or_else(|| panic!("{stdout}"));
    assert!(acked > 100, "{stdout}");
    assert!(acked <= emitted, "{stdout}");
    assert_eq!(failed, 0, "{stdout}");
}

#[test]
fn the_yaml_word_count_runs_on_a_cluster_with_the_squall_binary_as_its_worker() {
    let Some(python) = squall_tests::python::pystorm() else {
        return;
    };
    let example = example_copy(&python);
    let yaml = example.path().join("word_count.yaml");
    let cluster = Cluster::start(&["127.0.9.8"], 2);

    // Broken files: one line naming the problem, nothing stored.
    let original = std::fs::read_to_string(&yaml).unwrap();
    let broken = [
        (
            "to: \"count\"",
            "to: \"cuont\"",
            "stream \"split --> count\": to: no bolt has the id \"cuont\"",
        ),
        (
            "type: SHUFFLE",
            "type: SHUFLE",
            "stream \"sentences --> split\": grouping.type: SHUFLE is not a Flux grouping Squall runs",
        ),
        (
            "wordcount.py\"]",
            "MISSING",
            "bolt \"count\": constructorArgs[0]: the command is empty (for example [python3, split.py])",
        ),
        (
            "org.apache.storm.flux.wrappers.spouts.FluxShellSpout",
            "org.apache.storm.kafka.spout.KafkaSpout",
            "spout \"sentences\": className: org.apache.storm.kafka.spout.KafkaSpout is a Java class, which Squall cannot run",
        ),
    ];
    let bad = example.path().join("bad.yaml");
    for (from, to, want) in broken {
        assert!(original.contains(from), "{from}");
        let text = if to == "MISSING" {
            // The count bolt's command line emptied.
            let line = original
                .lines()
                .find(|l| l.contains(from))
                .unwrap()
                .to_owned();
            original.replace(&line, "      - []")
        } else {
            original.replace(from, to)
        };
        std::fs::write(&bad, text).unwrap();
        let out = cluster.squall(&["submit", &bad.display().to_string()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{want}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!("error: {}: {want}", bad.display())),
            "{err}"
        );
    }
    let list = cluster.squall(&["list"]);
    assert!(
        !String::from_utf8_lossy(&list.stdout).contains("word-count"),
        "{}",
        String::from_utf8_lossy(&list.stdout)
    );
    std::fs::remove_file(&bad).unwrap();

    let submitted = cluster.squall(&["submit", &yaml.display().to_string()]);
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    let acked = || {
        cluster
            .status_json("multilang-word-count")
            .and_then(|s| {
                s["components"]
                    .as_array()?
                    .iter()
                    .find(|c| c["id"] == "sentences")?["acked"]
                    .as_u64()
            })
            .unwrap_or(0)
    };
    assert!(
        eventually(Duration::from_secs(90), || acked() > 500),
        "the YAML word count acked nothing on the cluster; logs in {}",
        cluster.dir.path().display()
    );
    let status = cluster.status_json("multilang-word-count").unwrap();
    let counted = status["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "count")
        .unwrap()["executed"]
        .as_u64()
        .unwrap_or(0);
    assert!(counted > 0, "{status}");
    // The worker is the squall binary itself, fetched from Nimbus like any topology binary.
    let pid = status["workers"][0]["pid"].as_u64().unwrap();
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert_eq!(
        std::fs::read(&exe).unwrap().len(),
        std::fs::read(&binaries().squall).unwrap().len(),
        "worker runs {}",
        exe.display()
    );
    let killed = cluster.squall(&["kill", "multilang-word-count", "--wait", "1"]);
    assert!(killed.status.success());
}
