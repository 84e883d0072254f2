//! The README's first command: `squall dev --submit word_count` brings up a one-machine
//! cluster that is secure by default (its own CA and certificates, TLS to Nimbus), runs word
//! count, and shows its status.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::process::Command;

use squall_tests::cluster::{binaries, free_port};

#[test]
fn squall_dev_runs_word_count_on_a_secure_cluster() {
    let port = free_port("127.0.0.1").to_string();
    let out = Command::new(&binaries().squall)
        .args([
            "dev",
            "--seconds",
            "12",
            "--ui",
            "off",
            "--port",
            &port,
            "--submit",
            binaries().word_count.to_str().unwrap(),
        ])
        .env_remove("SQUALL_CONF")
        .env_remove("SQUALL_NIMBUS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        !stderr.contains("warning: security is off")
            && !stderr.contains("running without security"),
        "{stderr}"
    );
    let first = stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("dev cluster: nimbus https://127.0.0.1:{port}")),
        "{first}"
    );
    // The last line is the topology's status as JSON, with trees acked.
    // The JSON follows the live view's last escape codes on the same line.
    let last = stdout.lines().last().unwrap_or_default();
    let last = &last[last.find('{').unwrap_or(0)..];
    let status: serde_json::Value =
        serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {last}"));
    let acked: u64 = status["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["acked"].as_u64())
        .sum();
    assert!(acked > 0, "nothing acked: {last}");
}
