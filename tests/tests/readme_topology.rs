//! The README's "A complete topology", followed word for word as a new user would: its
//! `Cargo.toml` lines and its `main.rs` become a new cargo project (the dependency pointed at
//! this checkout's `worker/`), which is built, run in local mode, and submitted to a real
//! cluster. If the README's code stops compiling, running or being submittable, this fails.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use squall_tests::cluster::{Cluster, eventually};

/// The fenced blocks of `lang` in the README section that starts with `heading`.
fn blocks(readme: &str, heading: &str, lang: &str) -> Vec<String> {
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with(heading))
        .unwrap_or_else(|| panic!("no README section {heading:?}"));
    let open = format!("```{lang}\n");
    section
        .split(&open)
        .skip(1)
        .map(|b| b.split("\n```").next().unwrap().to_owned() + "\n")
        .collect()
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The workspace's target directory for this test's profile (target/debug or target/release),
/// so the new project reuses the runtime already compiled there.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_owned()
}

#[test]
fn the_readme_topology_builds_runs_locally_and_submits_to_a_cluster() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let toml = blocks(&readme, "A complete topology", "toml");
    let rust = blocks(&readme, "A complete topology", "rust");
    assert_eq!(toml.len(), 1, "one Cargo.toml block in the section");
    assert_eq!(rust.len(), 1, "one main.rs block in the section");

    // The dependency line as the README gives it, pointed at this checkout.
    let deps = toml[0].replace(
        "../squall/worker",
        &root.join("worker").display().to_string(),
    );
    assert!(
        deps.contains(&root.join("worker").display().to_string()),
        "the README's dependency line no longer names ../squall/worker:\n{}",
        toml[0]
    );
    let project = tempfile::Builder::new()
        .prefix("readme-topology-")
        .tempdir()
        .unwrap();
    let manifest = format!(
        "[package]\nname = \"readme-topology\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n{deps}\n\
         # The workspace's profiles, so the runtime compiled for the suite is reused.\n\
         [profile.release]\ndebug = \"line-tables-only\"\ncodegen-units = 4\n\n[workspace]\n"
    );
    std::fs::write(project.path().join("Cargo.toml"), manifest).unwrap();
    std::fs::copy(root.join("Cargo.lock"), project.path().join("Cargo.lock")).unwrap();
    std::fs::create_dir_all(project.path().join("src")).unwrap();
    std::fs::write(project.path().join("src/main.rs"), &rust[0]).unwrap();

    let profile = profile_dir();
    let release = profile.file_name().is_some_and(|n| n == "release");
    let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    build
        .current_dir(project.path())
        .env("CARGO_TARGET_DIR", profile.parent().unwrap())
        .args(["build", "-q"]);
    if release {
        build.arg("--release");
    }
    let built = build.output().unwrap();
    assert!(
        built.status.success(),
        "the README's topology does not build:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let binary = profile.join("readme-topology");

    // Local mode: it runs, and its trees complete.
    let local = Command::new(&binary).output().unwrap();
    assert!(
        local.status.success(),
        "{}",
        String::from_utf8_lossy(&local.stderr)
    );
    let printed = String::from_utf8_lossy(&local.stdout);
    let acked: u64 = printed
        .trim()
        .strip_prefix("acked ")
        .and_then(|s| s.strip_suffix(" sentence trees"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected output: {printed}"));
    assert!(acked > 0, "{printed}");

    // A cluster: submitted as the README says, it runs and its spout's trees are acked.
    let cluster = Cluster::start(&["127.0.9.5"], 1);
    let submitted = cluster.squall(&["submit", binary.to_str().unwrap(), "--name", "wc"]);
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    let spout_acked = || {
        cluster.status_json("wc").and_then(|s| {
            s["components"]
                .as_array()?
                .iter()
                .find(|c| c["id"] == "sentences")?["acked"]
                .as_u64()
        })
    };
    assert!(
        eventually(Duration::from_secs(60), || spout_acked().unwrap_or(0) > 100),
        "the submitted README topology acked nothing; logs in {}",
        cluster.dir.path().display()
    );
    let killed = cluster.squall(&["kill", "wc", "--wait", "0"]);
    assert!(killed.status.success());
}
