//! What a new user meets in the first hour, on real daemons: submit's errors and paths, the
//! requested-vs-assigned worker count, verbs that wait for what they ask, connection errors
//! with a hint, logs by tail, and workers named after their topology in `ps`.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::process::Output;
use std::time::{Duration, Instant};

use squall_tests::browser;
use squall_tests::cluster::{Cluster, binaries, eventually, free_port};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The single `error: ...` line a failed command prints.
fn error_line(o: &Output) -> String {
    assert!(!o.status.success(), "expected a failure: {}", stdout(o));
    let err = stderr(o);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "one error line, got:\n{err}");
    lines[0].to_owned()
}

#[test]
fn submit_names_the_missing_cluster_role_runs_none_of_it_and_takes_a_bare_file_name() {
    let cluster = Cluster::start(&["127.0.9.2"], 1);
    let bins = binaries();
    let dir = bins.ids_topology.parent().unwrap();

    // A binary that goes straight to local mode: the error says what to add, and its
    // topology never started (its spout would have created the marker when opened).
    let marker = cluster.dir.path().join("marker");
    let o = cluster
        .squall_command()
        .current_dir(dir)
        .env("SQUALL_TEST_MARKER", &marker)
        .args(["submit", "local_only_topology"])
        .output()
        .unwrap();
    let line = error_line(&o);
    assert!(
        line.contains("never calls serve_cluster_role")
            && line.contains("squall_worker::serve_cluster_role(&topology, &conf)"),
        "{line}"
    );
    assert!(!marker.exists(), "the topology ran during submit");

    // A bare file name is the file in the current directory, not a program on $PATH.
    let out = cluster.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let o = cluster
        .squall_command()
        .current_dir(dir)
        .args(["submit", "ids_topology", "--name", "bare", "--"])
        .args(["--ids", "10", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("submitted bare-"), "{}", stdout(&o));

    // A file that is not a binary: one line saying so.
    let text = cluster.dir.path().join("topology.txt");
    std::fs::write(&text, "not a program").unwrap();
    let o = cluster.squall(&["submit", text.to_str().unwrap()]);
    assert!(
        error_line(&o).contains("is not an executable file"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn requested_and_assigned_workers_differ_visibly_and_verbs_wait_for_what_they_ask() {
    // One slot: a topology asking for 3 workers gets 1.
    let cluster = Cluster::start(&["127.0.9.3"], 1);
    let out = cluster.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let submitted = cluster.submit_ids("ids", 3, 1_000_000, 200, &out);
    assert!(submitted.status.success(), "{}", stderr(&submitted));
    assert!(
        stderr(&submitted).contains(
            "warning: 3 worker(s) requested but the cluster has 1 free slot(s): it runs on 1"
        ),
        "{}",
        stderr(&submitted)
    );
    assert!(
        eventually(Duration::from_secs(30), || !squall_tests::cluster::ids_in(
            &out, "acked"
        )
        .is_empty()),
        "the topology did not get going"
    );

    let text = stdout(&cluster.squall(&["status", "ids"]));
    assert!(text.contains("workers=1/3"), "{text}");
    assert!(text.contains("3 worker(s) requested, 1 assigned"), "{text}");
    let json = cluster.status_json("ids").unwrap();
    assert_eq!(json["workers_requested"], 3, "{json}");
    assert_eq!(json["workers"].as_array().unwrap().len(), 1);
    let list = stdout(&cluster.squall(&["list"]));
    assert!(list.contains(" 1/3 "), "{list}");
    let api = cluster.api("/api/v1/topology/ids").unwrap();
    assert_eq!(api["workersRequested"], 3, "{api}");
    assert_eq!(api["workersTotal"], 1, "{api}");
    if let Some(chromium) = browser::chromium() {
        let id = api["id"].as_str().unwrap().to_owned();
        let dom = browser::dump_dom(
            &chromium,
            &cluster.ui_page(&format!("/topology.html?id={id}")),
        );
        assert!(
            dom.contains("data-field=\"workers-short\"") && dom.contains("1 of 3 requested"),
            "the UI does not say 3 workers were requested and 1 assigned:\n{dom}"
        );
    }

    // More executors than tasks: refused with the reason, nothing changed.
    let o = cluster.squall(&["rebalance", "ids", "--executors", "sink=5"]);
    let line = error_line(&o);
    assert!(
        line.contains("\"sink\" has 2 task(s), so at most 2 executor(s)"),
        "{line}"
    );

    // Rebalance returns once the topology runs again, saying what it got.
    let o = cluster.squall(&["rebalance", "ids", "--workers", "1", "--wait", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "rebalanced ids: 1 worker(s), ACTIVE");
    let json = cluster.status_json("ids").unwrap();
    assert_eq!(json["status"], "ACTIVE", "{json}");
    assert_eq!(json["workers_requested"], 1, "{json}");

    // The worker is named after its topology in ps (arguments) and top (command name).
    let id = json["id"].as_str().unwrap().to_owned();
    let pid = json["workers"][0]["pid"].as_u64().unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let argv0 = String::from_utf8_lossy(cmdline.split(|&b| b == 0).next().unwrap()).into_owned();
    assert!(
        argv0.starts_with(&format!("squall-worker {id} port=")),
        "{argv0}"
    );
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert!(id.starts_with(comm.trim()), "comm {comm:?} for {id}");

    // Logs: what the sink printed is in its worker's log with a time, and --tail N keeps N.
    assert!(
        eventually(Duration::from_secs(20), || {
            stdout(&cluster.squall(&["logs", "ids"])).contains("sink saw id")
        }),
        "no printed line in the logs"
    );
    let logs = stdout(&cluster.squall(&["logs", "ids"]));
    let printed = logs.lines().find(|l| l.contains("sink saw id")).unwrap();
    assert!(printed.contains(" stdout: "), "{printed}");
    assert!(
        printed
            .split_whitespace()
            .nth(1)
            .is_some_and(|t| t.starts_with("20")),
        "a time stamp: {printed}"
    );
    assert!(
        !logs.lines().any(|l| l.matches(&id).count() > 1),
        "a line names the topology twice:\n{logs}"
    );
    let tail = stdout(&cluster.squall(&["logs", "ids", "--tail", "3"]));
    assert_eq!(tail.lines().count(), 3, "{tail}");

    // A reader that goes away (`| head`) ends --watch quietly, with no panic.
    let mut watch = cluster
        .squall_command()
        .args(["status", "ids", "--watch"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    std::io::Read::read(watch.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(watch.stdout.take());
    assert!(
        eventually(Duration::from_secs(15), || watch
            .try_wait()
            .unwrap()
            .is_some()),
        "--watch kept running after its reader went away"
    );
    let ended = watch.wait_with_output().unwrap();
    assert!(ended.status.success(), "{}", stderr(&ended));
    assert!(!stderr(&ended).contains("panicked"), "{}", stderr(&ended));

    // Kill returns once the topology is gone, not when it is asked to go.
    let started = Instant::now();
    let o = cluster.squall(&["kill", "ids", "--wait", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "killed ids");
    // (Nimbus counts the wait in whole seconds, so it may end a little short of two.)
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "returned before the wait"
    );
    let list = stdout(&cluster.squall(&["list"]));
    assert!(
        !list.contains("ids"),
        "still listed after kill returned:\n{list}"
    );
}

#[test]
fn connection_errors_are_one_line_with_a_hint_and_a_bare_address_is_accepted() {
    let cluster = Cluster::start(&["127.0.9.4"], 1);

    // Nothing listening: one line, each cause once, and what to try.
    let nowhere = format!("127.0.0.1:{}", free_port("127.0.0.1"));
    let o = cluster.squall(&["list", "--nimbus", &nowhere]);
    let line = error_line(&o);
    assert_eq!(line.matches("tcp connect error").count(), 1, "{line}");
    assert!(
        line.contains("squall dev") && line.contains("SQUALL_NIMBUS"),
        "{line}"
    );

    // host:port without a scheme reaches Nimbus.
    let bare = cluster.nimbus_url.trim_start_matches("http://").to_owned();
    let o = cluster.squall(&["list", "--nimbus", &bare]);
    assert!(o.status.success(), "{}", stderr(&o));

    // The web UI's port is named as the likely mistake.
    let ui = cluster.ui_url.trim_start_matches("https://").to_owned();
    let o = cluster.squall(&["list", "--nimbus", &ui]);
    let line = error_line(&o);
    assert!(line.contains("is it the web UI's port?"), "{line}");
}
