//! Resources travel with the topology: `squall submit --resources DIR` (or the directory the
//! topology names with `TopologyBuilder::resources`) is uploaded with the binary, unpacked once
//! per hash on the supervisor, and shell components run inside it; local mode finds the
//! directory the topology names.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::time::Duration;

use squall_tests::cluster::{Cluster, binaries, eventually};

/// The working directories of the scripted bolt's live processes under `root` (this test's
/// cluster: other tests run scripts of their own).
fn script_cwds(root: &Path) -> Vec<PathBuf> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).contains("scripted_bolt.py")
        })
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
        })
        .filter_map(|pid| std::fs::read_link(format!("/proc/{pid}/cwd")).ok())
        .filter(|cwd| cwd.starts_with(root))
        .collect()
}

fn unpacked(data_dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(data_dir.join("resources"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

fn acked(cluster: &Cluster, name: &str) -> u64 {
    cluster
        .status_json(name)
        .and_then(|s| {
            s["components"]
                .as_array()?
                .iter()
                .find(|c| c["id"] == "sentences")?["acked"]
                .as_u64()
        })
        .unwrap_or(0)
}

#[test]
fn resources_are_shipped_unpacked_once_and_shell_components_run_inside_them() {
    let Some(python) = squall_tests::python::python3() else {
        return;
    };
    let tests_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cluster = Cluster::start(&["127.0.9.7"], 2);
    let topology = binaries().shell_topology.display().to_string();
    let resources = tempfile::tempdir().unwrap();
    std::fs::copy(
        tests_dir.join("multilang/scripted_bolt.py"),
        resources.path().join("scripted_bolt.py"),
    )
    .unwrap();

    // A directory that is not there: one line, nothing stored.
    let missing = cluster.squall(&[
        "submit",
        &topology,
        "--name",
        "nores",
        "--resources",
        "/nonexistent/squall-resources",
    ]);
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(
            "error: cannot read resources directory /nonexistent/squall-resources (named by --resources)"
        ),
        "{err}"
    );
    let list = cluster.squall(&["list"]);
    assert!(!String::from_utf8_lossy(&list.stdout).contains("nores"));

    // --resources wins over the directory the topology names (absent on this host).
    let submitted = cluster.squall(&[
        "submit",
        &topology,
        "--name",
        "shipped",
        "--resources",
        &resources.path().display().to_string(),
        "--",
        "--python",
        python,
        "--resources-named",
        "not-here",
    ]);
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    assert!(
        eventually(Duration::from_secs(60), || acked(&cluster, "shipped") > 50),
        "the topology with shipped resources acked nothing; logs in {}",
        cluster.dir.path().display()
    );
    let data_dir = &cluster.supervisors[0].data_dir;
    let dirs = unpacked(data_dir);
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    assert!(dirs[0].join("scripted_bolt.py").is_file());
    let cwds = script_cwds(cluster.dir.path());
    assert!(
        !cwds.is_empty() && cwds.iter().all(|c| c == &dirs[0]),
        "the scripts run in {cwds:?}, not in {}",
        dirs[0].display()
    );

    // Without --resources, the directory the topology names is shipped, taken from where
    // squall submit runs.
    let named = cluster
        .squall_command()
        .current_dir(tests_dir)
        .args([
            "submit",
            &topology,
            "--name",
            "named",
            "--",
            "--python",
            python,
            "--resources-named",
            "multilang",
        ])
        .output()
        .unwrap();
    assert!(
        named.status.success(),
        "{}",
        String::from_utf8_lossy(&named.stderr)
    );
    assert!(
        eventually(Duration::from_secs(60), || acked(&cluster, "named") > 50),
        "the topology naming its resources acked nothing; logs in {}",
        cluster.dir.path().display()
    );
    assert_eq!(unpacked(data_dir).len(), 2);

    // The same resources again: the host unpacks nothing new.
    for name in ["shipped", "named"] {
        let killed = cluster.squall(&["kill", name, "--wait", "0"]);
        assert!(killed.status.success());
    }
    let again = cluster.squall(&[
        "submit",
        &topology,
        "--name",
        "again",
        "--resources",
        &resources.path().display().to_string(),
        "--",
        "--python",
        python,
    ]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(eventually(Duration::from_secs(60), || acked(
        &cluster, "again"
    ) > 50));
    assert_eq!(unpacked(data_dir).len(), 2);
    // The scripts linger after end of input: the topology's kill must take them down.
    let killed = cluster.squall(&["kill", "again", "--wait", "0"]);
    assert!(killed.status.success());
    assert!(
        eventually(Duration::from_secs(30), || script_cwds(cluster.dir.path())
            .is_empty()),
        "scripts outlived the topology: {:?}",
        script_cwds(cluster.dir.path())
    );
}

#[test]
fn local_mode_runs_shell_components_in_the_directory_the_topology_names() {
    let Some(python) = squall_tests::python::python3() else {
        return;
    };
    let out = std::process::Command::new(&binaries().shell_topology)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["--python", python, "--resources-named", "multilang"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let acked: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("acked "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        out.status.success() && acked > 0,
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
