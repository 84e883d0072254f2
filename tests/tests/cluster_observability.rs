//! What operators see: the REST API, `/metrics`, `squall status` (tables, `--window`,
//! `--watch`), `squall logs` and the web UI in headless Chromium, checked against what the
//! topology itself did.
#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use squall_tests::browser;
use squall_tests::cluster::{Cluster, all_acked, binaries, eventually};

/// A row of the topology API's `spouts` or `bolts` list.
fn row(t: &Value, list: &str, key: &str, id: &str) -> Value {
    t[list]
        .as_array()
        .and_then(|s| s.iter().find(|c| c[key] == id))
        .cloned()
        .unwrap_or(Value::Null)
}

fn spout(t: &Value, id: &str) -> Value {
    row(t, "spouts", "spoutId", id)
}

fn bolt(t: &Value, id: &str) -> Value {
    row(t, "bolts", "boltId", id)
}

/// The value of a Prometheus sample whose line contains every one of `parts`.
fn sample(metrics: &str, name: &str, parts: &[&str]) -> Option<u64> {
    metrics
        .lines()
        .filter(|l| l.starts_with(name) && parts.iter().all(|p| l.contains(p)))
        .find_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
}

/// `key=N` in a log line.
fn logged(line: &str, key: &str) -> Option<u64> {
    let at = line.find(&format!("{key}="))? + key.len() + 1;
    line[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Reads `squall status NAME --watch` until it has drawn `frames` frames (or `limit` passes).
fn watch_frames(cluster: &Cluster, name: &str, frames: usize, limit: Duration) -> String {
    let mut child = cluster
        .squall_command()
        .args(["status", name, "--watch"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + limit;
    let mut text = String::new();
    let header = format!("{name}  id=");
    while text.matches(&header).count() < frames && Instant::now() < deadline {
        if let Ok(chunk) = rx.recv_timeout(Duration::from_millis(200)) {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    text
}

#[test]
fn word_count_figures_agree_with_the_spout_in_api_metrics_status_and_ui() {
    let cluster = Cluster::start(&["127.0.0.1"], 2);
    let wc = binaries().word_count.display().to_string();
    let submitted = cluster.squall(&["submit", &wc, "--name", "wc"]);
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    let topology = || cluster.api("/api/v1/topology/wc");
    assert!(
        eventually(Duration::from_secs(60), || topology().is_some_and(|t| {
            spout(&t, "sentences")["acked"].as_u64() > Some(1_000)
                && bolt(&t, "count")["executed"].as_u64() > Some(1_000)
        })),
        "word count did not get going; logs in {}",
        cluster.dir.path().display()
    );

    // The cluster and topology lists.
    let summary = cluster.api("/api/v1/cluster/summary").unwrap();
    assert_eq!(summary["supervisors"], 1);
    assert_eq!(summary["slotsUsed"], 1);
    let supervisors = cluster.api("/api/v1/supervisor/summary").unwrap();
    assert_eq!(supervisors["supervisors"][0]["host"], "127.0.0.1");
    let topologies = cluster.api("/api/v1/topology/summary").unwrap();
    assert_eq!(topologies["topologies"][0]["name"], "wc");
    let id = topologies["topologies"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Live figures: latencies measured, bolts busy, the worker's memory known.
    let t = cluster
        .api(&format!("/api/v1/topology/{id}?window=10m"))
        .unwrap();
    assert_eq!(t["window"], "10m");
    assert!(spout(&t, "sentences")["completeLatencyP99"].as_f64() > Some(0.0));
    assert!(bolt(&t, "split")["executeLatency"].as_f64() > Some(0.0));
    assert!(bolt(&t, "count")["capacity"].as_f64() > Some(0.0));
    assert!(t["workers"][0]["memoryBytes"].as_u64() > Some(1 << 20));
    let component = cluster
        .api(&format!("/api/v1/topology/{id}/component/split"))
        .unwrap();
    assert_eq!(component["componentType"], "bolt");
    assert_eq!(component["executorStats"].as_array().unwrap().len(), 2);
    assert_eq!(component["outputStats"][0]["stream"], "default");
    // A bolt's figures per input stream (equal to its own once the topology is still: below).
    let count = cluster
        .api(&format!("/api/v1/topology/{id}/component/count"))
        .unwrap();
    let inputs = count["inputStats"].as_array().unwrap();
    assert_eq!(inputs.len(), 1, "{inputs:?}");
    assert_eq!(inputs[0]["component"], "split");
    assert_eq!(inputs[0]["stream"], "default");
    assert!(inputs[0]["executed"].as_u64() > Some(0), "{count}");
    let dag = cluster
        .api(&format!("/api/v1/topology/{id}/visualization"))
        .unwrap();
    let edges = dag["edges"].as_array().unwrap();
    assert!(edges.iter().any(|e| e["source"] == "split"
        && e["target"] == "count"
        && e["grouping"] == "fields(word)"));

    // `squall status`: tables, a window, and --watch redrawing in place.
    let status = cluster.squall(&["status", "wc"]);
    let text = String::from_utf8_lossy(&status.stdout);
    for expected in [
        "SPOUT",
        "sentences",
        "BOLT",
        "split",
        "count",
        "CAPACITY",
        "WORKER HOST",
    ] {
        assert!(
            text.contains(expected),
            "no {expected:?} in status:\n{text}"
        );
    }
    let windowed = cluster.squall(&["status", "wc", "--json", "--window", "10m"]);
    let windowed: Value = serde_json::from_slice(&windowed.stdout).unwrap();
    assert_eq!(windowed["window"], "10m");
    let frames = watch_frames(&cluster, "wc", 2, Duration::from_secs(20));
    // Into a pipe, --watch writes plain snapshots one after another: no escape codes.
    assert!(
        frames.matches("wc  id=").count() >= 2 && frames.contains("sentences"),
        "--watch did not redraw:\n{frames}"
    );
    assert!(
        !frames.contains('\x1b'),
        "escape codes in a pipe:\n{frames:?}"
    );

    // The web UI: the topology page with non-zero rows and the DAG, saved as a CI artifact.
    if let Some(chromium) = browser::chromium() {
        // The charts leave out the bucket still filling: wait for two 10-second buckets.
        assert!(
            eventually(Duration::from_secs(40), || {
                cluster
                    .api(&format!("/api/v1/topology/{id}/series"))
                    .is_some_and(|s| {
                        s["series"].as_array().is_some_and(|all| {
                            all.iter()
                                .all(|c| c["points"].as_array().is_some_and(|p| p.len() >= 2))
                        })
                    })
            }),
            "the series never had two buckets"
        );
        let page = cluster.ui_page(&format!("/topology.html?id={id}"));
        let dom = browser::dump_dom(&chromium, &page);
        let row = |kind: &str, component: &str| {
            let start = dom
                .find(&format!(
                    "class=\"{kind}-row\" data-component=\"{component}\""
                ))
                .unwrap_or_else(|| panic!("no {kind} row for {component} in:\n{dom}"));
            dom[start..]
                .split("</tr>")
                .next()
                .unwrap_or_default()
                .to_owned()
        };
        let nonzero = |row: &str, field: &str| {
            let cell = format!("data-field=\"{field}\">");
            let at = row.find(&cell).unwrap() + cell.len();
            let digits: String = row[at..]
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == ',')
                .filter(char::is_ascii_digit)
                .collect();
            digits.parse::<u64>().unwrap_or(0) > 0
        };
        assert!(nonzero(&row("spout", "sentences"), "emitted"));
        assert!(nonzero(&row("spout", "sentences"), "acked"));
        assert!(nonzero(&row("bolt", "split"), "executed"));
        assert!(nonzero(&row("bolt", "count"), "executed"));
        assert!(dom.contains("id=\"dag\""), "no DAG drawing");
        assert!(
            dom.contains("class=\"node spout\" data-component=\"sentences\""),
            "no DAG node for the spout"
        );
        // Bolts are coloured by load, on the DAG and in their rows.
        for node in ["split", "count"] {
            let coloured = format!("data-component=\"{node}\" data-load=\"");
            assert!(
                dom.matches(&coloured).count() >= 2 && dom.contains("class=\"node bolt load-"),
                "no load colouring for {node} on the DAG and its row"
            );
        }
        // Throughput per component, failed lines included; the configuration; worker logs.
        for series in [
            "sentences emitted",
            "sentences failed",
            "split executed",
            "count executed",
        ] {
            assert!(
                dom.contains(&format!("data-series=\"{series}\"")),
                "no {series:?} line on the charts"
            );
        }
        assert!(
            dom.contains("data-key=\"topology.acker.executors\""),
            "no configuration table"
        );
        let link = format!("class=\"worker-log\" href=\"/api/v1/topology/{id}/log/127.0.0.1/");
        let at =
            dom.find(&link).expect("no worker log link") + "class=\"worker-log\" href=\"".len();
        let href = dom[at..].split('"').next().unwrap().to_owned();
        let log = cluster
            .http_get(&href)
            .expect("the worker log link answers");
        assert!(log.contains("executor started"), "{log}");

        // The count bolt's page: its input stream from split, with its own charts.
        let page = cluster.ui_page(&format!("/component.html?id={id}&component=count"));
        let dom = browser::dump_dom(&chromium, &page);
        let start = dom
            .find("class=\"input-row\" data-source=\"split\" data-stream=\"default\"")
            .unwrap_or_else(|| panic!("no input stream row on the count page:\n{dom}"));
        let input_row = dom[start..].split("</tr>").next().unwrap().to_owned();
        assert!(nonzero(&input_row, "executed"), "{input_row}");
        assert!(
            dom.contains("data-series=\"count executed\""),
            "no chart on the count page"
        );
        let shot = browser::artifact_path("topology.png");
        // A login link works once: a fresh one for the second browser run.
        let page = cluster.ui_page(&format!("/topology.html?id={id}"));
        browser::screenshot(&chromium, &page, &shot);
        eprintln!("screenshot saved to {}", shot.display());
    }

    // Stop the spout, and compare what it says it emitted with the API and /metrics.
    assert!(cluster.squall(&["deactivate", "wc"]).status.success());
    let mut spout_line = String::new();
    assert!(
        eventually(Duration::from_secs(30), || {
            let logs = cluster.squall(&["logs", "wc", "--component", "sentences"]);
            let text = String::from_utf8_lossy(&logs.stdout).into_owned();
            match text
                .lines()
                .find(|l| l.contains("sentence spout deactivated"))
            {
                Some(l) => {
                    spout_line = l.to_owned();
                    true
                }
                None => false,
            }
        }),
        "`squall logs` never showed the spout's totals; logs in {}",
        cluster.dir.path().display()
    );
    let emitted = logged(&spout_line, "emitted").unwrap();
    let spout_failed = logged(&spout_line, "failed").unwrap();
    assert!(emitted > 1_000, "{spout_line}");
    assert_eq!(spout_failed, 0, "{spout_line}");
    // Workers report every second and supervisors every second: within a few reports the
    // cluster's figures stop moving at exactly the spout's own count, and every tree in
    // flight at deactivation completes.
    assert!(
        eventually(Duration::from_secs(20), || topology().is_some_and(|t| {
            let s = spout(&t, "sentences");
            s["emitted"].as_u64() == Some(emitted) && s["acked"].as_u64() == Some(emitted)
        })),
        "API figures {:?} never matched the spout's {spout_line}",
        topology().map(|t| spout(&t, "sentences"))
    );
    // Still now: the count bolt's input-stream figures add up to its own (within a report).
    let count = || {
        cluster
            .api(&format!("/api/v1/topology/{id}/component/count"))
            .unwrap()
    };
    assert!(
        eventually(Duration::from_secs(10), || {
            let c = count();
            c["inputStats"][0]["executed"] == c["executed"]
        }),
        "input-stream figures never matched the bolt's: {}",
        count()
    );
    let metrics = cluster.http_get("/metrics").unwrap();
    let labels = ["topology=\"wc\"", "component=\"sentences\""];
    assert_eq!(
        sample(
            &metrics,
            "squall_emitted_total",
            &[&labels[..], &["stream=\"default\""]].concat()
        ),
        Some(emitted)
    );
    assert_eq!(
        sample(&metrics, "squall_acked_total", &labels),
        Some(emitted)
    );
    assert_eq!(sample(&metrics, "squall_failed_total", &labels), Some(0));
    let t = topology().unwrap();
    assert_eq!(
        sample(
            &metrics,
            "squall_executed_total",
            &["topology=\"wc\"", "component=\"count\""]
        ),
        bolt(&t, "count")["executed"].as_u64()
    );
}

#[test]
fn errors_a_bolt_reports_show_in_status_api_and_ui() {
    let cluster = Cluster::start(&["127.0.0.2"], 1);
    let out = cluster.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let ids = binaries().ids_topology.display().to_string();
    let out_dir = out.display().to_string();
    let submitted = cluster.squall(&[
        "submit",
        &ids,
        "--name",
        "errs",
        "--",
        "--ids",
        "400",
        "--rate",
        "400",
        "--out",
        &out_dir,
        "--error-every",
        "50",
    ]);
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    // Ids 0, 50, ..., 350: eight errors (more if a tree timed out and an id was replayed).
    assert!(
        all_acked(&out, 400, Duration::from_secs(60)),
        "not every id was acked; logs in {}",
        cluster.dir.path().display()
    );
    let errors = || {
        cluster
            .api("/api/v1/topology/errs/component/sink")
            .filter(|c| c["errors"].as_u64() >= Some(8))
    };
    assert!(
        eventually(Duration::from_secs(20), || errors().is_some()),
        "the sink's errors never reached the API; logs in {}",
        cluster.dir.path().display()
    );
    let c = errors().unwrap();
    let listed = c["componentErrors"].as_array().unwrap();
    // Storm keeps a component's newest 10.
    assert!((8..=10).contains(&listed.len()), "{listed:?}");
    assert!(listed.iter().all(|e| {
        e["errorHost"] == "127.0.0.2"
            && e["errorTime"].as_u64() > Some(1_700_000_000)
            && e["error"]
                .as_str()
                .is_some_and(|m| m.ends_with("is unlucky"))
    }));
    let t = cluster.api("/api/v1/topology/errs").unwrap();
    let sink = bolt(&t, "sink");
    assert!(sink["lastError"].as_str().unwrap().contains("is unlucky"));
    assert_eq!(sink["errorHost"], "127.0.0.2");

    let status = cluster.squall(&["status", "errs"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("last error") && text.contains("127.0.0.2") && text.contains("is unlucky"),
        "status shows no error:\n{text}"
    );
    let json = cluster.status_json("errs").unwrap();
    let sink = json["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "sink")
        .unwrap()
        .clone();
    assert!(sink["errors"].as_u64() >= Some(8));
    assert!(
        sink["last_error"]["message"]
            .as_str()
            .unwrap()
            .contains("is unlucky")
    );

    if let Some(chromium) = browser::chromium() {
        let page = cluster.ui_page("/component.html?id=errs&component=sink");
        let dom = browser::dump_dom(&chromium, &page);
        assert_eq!(
            dom.matches("class=\"error-row\"").count(),
            listed.len(),
            "the component page does not list the errors:\n{dom}"
        );
        assert!(dom.contains("is unlucky"));
        // A login link works once: a fresh one for the second browser run.
        browser::screenshot(
            &chromium,
            &cluster.ui_page("/component.html?id=errs&component=sink"),
            &browser::artifact_path("component-errors.png"),
        );
    }
}
