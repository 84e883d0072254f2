//! Bad input gets one clear error and changes nothing: refused uploads leave nothing stored,
//! garbage bytes on Nimbus's and a supervisor's ports leave them serving, out-of-range settings
//! and oversized topologies are refused at submit, and the largest topology allowed is placed
//! without Nimbus ever stopping to answer.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::io::Write;
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use squall_proto::NimbusClient;
use squall_proto::pb::{SubmitChunk, SubmitHeader, submit_chunk};
use squall_tests::cluster::{Cluster, binaries, eventually};
use squall_worker::api::limits::{MAX_ACKER_EXECUTORS, MAX_COMPONENTS, MAX_TOTAL_TASKS};
use squall_worker::api::{
    ComponentKind, ComponentSpec, Config, DEFAULT_STREAM_ID, Fields, Grouping, InputSpec,
    StreamDeclaration, TopologySpec,
};

const LIMIT: u64 = 4096;

fn header(spec_json: &str, size: u64, sha256: &str) -> SubmitHeader {
    SubmitHeader {
        name: "bad".into(),
        spec_json: spec_json.into(),
        conf_json: "{}".into(),
        binary_size: size,
        sha256: sha256.into(),
        args: Vec::new(),
        ..Default::default()
    }
}

/// Submits a header and data chunks straight over gRPC; returns Nimbus's refusal message.
fn refusal(
    endpoint: &tonic::transport::Endpoint,
    header: SubmitHeader,
    data: Vec<Vec<u8>>,
) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut client = NimbusClient::new(endpoint.connect().await.unwrap());
        let chunks: Vec<SubmitChunk> = std::iter::once(submit_chunk::Part::Header(header))
            .chain(data.into_iter().map(submit_chunk::Part::Data))
            .map(|p| SubmitChunk { part: Some(p) })
            .collect();
        match client.submit_topology(tokio_stream_iter(chunks)).await {
            Ok(r) => panic!("accepted as {}", r.into_inner().id),
            Err(status) => status.message().to_owned(),
        }
    })
}

fn tokio_stream_iter(
    items: Vec<SubmitChunk>,
) -> impl tonic::codegen::tokio_stream::Stream<Item = SubmitChunk> {
    tonic::codegen::tokio_stream::iter(items)
}

/// A valid one-spout spec, as JSON.
fn valid_spec() -> String {
    let out = std::process::Command::new(&binaries().ids_topology)
        .env(squall_proto::env::DESCRIBE, "1")
        .output()
        .unwrap();
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    d["spec"].to_string()
}

#[test]
fn refused_uploads_store_nothing_and_garbage_leaves_the_daemons_serving() {
    let limit = format!("nimbus.max.upload.bytes={LIMIT}");
    let cluster = Cluster::start_with(&["127.0.5.2"], 1, &[&limit]);
    let url = cluster.nimbus_url.clone();
    let endpoint = cluster.nimbus_endpoint();
    let spec = valid_spec();
    let sha_of_abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    assert_eq!(
        refusal(&endpoint, header(&spec, LIMIT + 1, sha_of_abc), vec![]),
        format!(
            "upload of {} bytes is over the limit of {LIMIT} bytes",
            LIMIT + 1
        )
    );
    assert_eq!(
        refusal(&endpoint, header(&spec, 100, sha_of_abc), vec![vec![1; 50]]),
        "truncated upload: 50 of 100 bytes arrived"
    );
    assert!(
        refusal(
            &endpoint,
            header(&spec, 3, &"0".repeat(64)),
            vec![b"abc".to_vec()]
        )
        .starts_with("checksum mismatch: the upload hashes to ba7816bf")
    );
    // Resources follow the binary in the same chunks, checked the same way.
    let with_resources = |size: u64, sha: &str| SubmitHeader {
        resources_size: size,
        resources_sha256: sha.into(),
        ..header(&spec, 3, sha_of_abc)
    };
    assert_eq!(
        refusal(
            &endpoint,
            with_resources(100, sha_of_abc),
            vec![b"abc".to_vec(), vec![1; 50]]
        ),
        "truncated upload: 50 of 100 bytes of resources arrived"
    );
    assert!(
        refusal(
            &endpoint,
            with_resources(3, &"0".repeat(64)),
            vec![b"abcabc".to_vec()]
        )
        .starts_with("checksum mismatch: the upload of resources hashes to ba7816bf")
    );
    assert_eq!(
        refusal(
            &endpoint,
            header(&spec, 3, sha_of_abc),
            vec![b"abcd".to_vec()]
        ),
        "upload is longer than its declared 3 bytes"
    );
    assert_eq!(
        refusal(&endpoint, with_resources(LIMIT, sha_of_abc), vec![]),
        format!(
            "upload of {} bytes is over the limit of {LIMIT} bytes",
            LIMIT + 3
        )
    );
    let invalid = spec.replace(r#""component":"ids""#, r#""component":"ghost""#);
    assert_ne!(invalid, spec, "the spec should name its spout as an input");
    assert!(
        refusal(
            &endpoint,
            header(&invalid, 3, sha_of_abc),
            vec![b"abc".to_vec()]
        )
        .contains(r#"subscribes to unknown component "ghost""#)
    );
    assert!(
        refusal(&endpoint, header("{not json", 3, sha_of_abc), vec![])
            .starts_with("unreadable topology spec")
    );

    // The CLI gives the same refusals as one line, and refuses binaries that are not
    // topologies before uploading anything.
    let too_big = cluster.squall(&["submit", &binaries().ids_topology.display().to_string()]);
    assert!(!too_big.status.success());
    let err = String::from_utf8_lossy(&too_big.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("over the limit of 4096 bytes"), "{err}");
    let not_topology = cluster.squall(&["submit", "/bin/true"]);
    assert_eq!(
        String::from_utf8_lossy(&not_topology.stderr).trim(),
        "error: /bin/true is not a squall topology binary (it printed no description; does its main call squall_worker::serve_cluster_role?)"
    );

    // Garbage on the daemons' ports.
    for addr in [
        url.trim_start_matches("http://").to_owned(),
        cluster.supervisors[0].listen.clone(),
    ] {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = s.write_all(b"\x00\xffGET / HTTP/1.1\r\n\r\n\x16\x03\x01garbage garbage garbage");
    }

    // Nothing was stored, and both daemons still serve.
    let binaries_dir = cluster.dir.path().join("nimbus").join("binaries");
    let stored: Vec<_> = std::fs::read_dir(&binaries_dir)
        .unwrap()
        .flatten()
        .collect();
    assert!(
        stored.is_empty(),
        "files left in {}: {stored:?}",
        binaries_dir.display()
    );
    let info = cluster.cluster_info().expect("nimbus still serves");
    assert!(info.topologies.is_empty());
    let uptime = |c: &Cluster| c.cluster_info().map_or(0, |i| i.supervisors[0].uptime_secs);
    let before = uptime(&cluster);
    assert!(
        eventually(Duration::from_secs(10), || uptime(&cluster) > before),
        "the supervisor stopped heartbeating"
    );
}

/// A chain of `n` components as JSON, declared from the sink back to the spout.
fn chain_spec(n: usize) -> String {
    let components = (0..n)
        .rev()
        .map(|i| ComponentSpec {
            id: format!("c{i}"),
            kind: if i == 0 {
                ComponentKind::Spout
            } else {
                ComponentKind::Bolt
            },
            parallelism: 1,
            tasks: 1,
            outputs: vec![StreamDeclaration {
                id: DEFAULT_STREAM_ID.into(),
                fields: Fields::new(["x"]),
                direct: false,
            }],
            inputs: (i > 0)
                .then(|| InputSpec {
                    component: format!("c{}", i - 1),
                    stream: DEFAULT_STREAM_ID.into(),
                    grouping: Grouping::Shuffle,
                })
                .into_iter()
                .collect(),
            config: Config::new(),
        })
        .collect();
    serde_json::to_string(&TopologySpec {
        components,
        resources: None,
    })
    .unwrap()
}

/// Runs `squall submit` with `args`; returns its one-line error, checking there is exactly one.
fn cli_refusal(cluster: &Cluster, args: &[&str]) -> String {
    let out = cluster.squall(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "accepted: {args:?}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    err
}

#[test]
fn bad_values_are_refused_with_one_line_and_nothing_is_stored() {
    let cluster = Cluster::start(&["127.0.5.3"], 1);
    let endpoint = cluster.nimbus_endpoint();
    let ids = binaries().ids_topology.display().to_string();
    let chain = binaries().chain_topology.display().to_string();
    let long_name = "n".repeat(10_000);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--workers", "0"],
            "invalid value 0 for topology.workers: expected an integer from 1 to 1024",
        ),
        (
            vec!["--workers", "100000"],
            "invalid value 100000 for topology.workers",
        ),
        (
            vec!["--conf", "topology.workers=4000000000"],
            "invalid value 4000000000 for topology.workers",
        ),
        (
            vec!["--conf", "topology.workers=abc"],
            r#"invalid value "abc" for topology.workers"#,
        ),
        (
            vec!["--conf", "topology.message.timeout.secs=1e30"],
            "for topology.message.timeout.secs: expected a number of seconds from 0.001 to 86400",
        ),
        (
            vec!["--conf", "topology.message.timeout.secs=-1"],
            "invalid value -1 for topology.message.timeout.secs",
        ),
        (
            vec!["--conf", "topology.max.spout.pending=lots"],
            r#"invalid value "lots" for topology.max.spout.pending"#,
        ),
        (
            vec!["--conf", "topology.acker.executors=100000"],
            "invalid value 100000 for topology.acker.executors",
        ),
        (vec!["--name", &long_name], "(10000 bytes)"),
    ];
    for (extra, expected) in &cases {
        let mut args = vec!["submit", ids.as_str()];
        if !extra.contains(&"--name") {
            args.extend(["--name", "bad"]);
        }
        args.extend(extra.iter().copied());
        let err = cli_refusal(&cluster, &args);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    // Too many components: the topology binary itself refuses to describe them, at once.
    for n in ["20000", "50000"] {
        let started = Instant::now();
        let err = cli_refusal(
            &cluster,
            &[
                "submit",
                &chain,
                "--name",
                "long",
                "--",
                "--components",
                n,
                "--reverse",
                "true",
            ],
        );
        assert!(
            err.contains(&format!(
                "the topology has {n} components: at most 5000 are allowed"
            )),
            "{err}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }
    let err = cli_refusal(
        &cluster,
        &[
            "submit",
            &chain,
            "--name",
            "wide",
            "--",
            "--components",
            "3",
            "--tasks",
            "30000",
        ],
    );
    assert!(
        err.contains("the topology has 30001 tasks (ackers included): at most 20000 are allowed"),
        "{err}"
    );

    // Nimbus refuses the same on its own: a raw client can bypass the CLI.
    let spec = valid_spec();
    let sha_of_abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    let with = |name: &str, spec: &str, conf: &str| {
        let mut h = header(spec, 3, sha_of_abc);
        h.name = name.into();
        h.conf_json = conf.into();
        refusal(&endpoint, h, vec![b"abc".to_vec()])
    };
    assert_eq!(
        with("bad", &spec, r#"{"topology.workers":4000000000}"#),
        "invalid value 4000000000 for topology.workers: expected an integer from 1 to 1024"
    );
    assert_eq!(
        with("bad", &spec, r#"{"topology.message.timeout.secs":1e30}"#),
        "invalid value 1e+30 for topology.message.timeout.secs: expected a number of seconds from 0.001 to 86400"
    );
    assert!(with(&long_name, &spec, "{}").starts_with("invalid topology name \"nnnn"));
    assert!(
        with("bad", &chain_spec(20_000), "{}")
            .contains("the topology has 20000 components: at most 5000 are allowed")
    );

    // Nothing was stored, and Nimbus still answers every client.
    let binaries_dir = cluster.dir.path().join("nimbus").join("binaries");
    let stored: Vec<_> = std::fs::read_dir(&binaries_dir)
        .into_iter()
        .flatten()
        .flatten()
        .collect();
    assert!(stored.is_empty(), "files left: {stored:?}");
    let info = cluster.cluster_info().expect("nimbus still serves");
    assert!(info.topologies.is_empty(), "{:?}", info.topologies);
    assert!(cluster.squall(&["list"]).status.success());
}

/// `squall list`: whether it succeeded, and how long it took.
fn timed_list(cluster: &Cluster) -> (bool, Duration) {
    let started = Instant::now();
    let ok = cluster.squall(&["list"]).status.success();
    (ok, started.elapsed())
}

#[test]
fn the_largest_allowed_topology_is_placed_while_nimbus_keeps_answering() {
    // The supervisor stops before the submit, so no worker starts (thousands of executor
    // threads on a test machine), while Nimbus, with a long supervisor timeout, still counts
    // it alive and places the topology on its slots.
    let timeout = "nimbus.supervisor.timeout.secs=600";
    let mut cluster = Cluster::start_with(&["127.0.5.4"], 4, &[timeout]);
    cluster.kill_supervisor(0, true);
    let chain = binaries().chain_topology.display().to_string();
    let tasks = (MAX_TOTAL_TASKS - u64::from(MAX_ACKER_EXECUTORS)).to_string();
    let components = MAX_COMPONENTS.to_string();
    let ackers = format!("topology.acker.executors={MAX_ACKER_EXECUTORS}");
    let mut submit = cluster
        .squall_command()
        .args([
            "submit",
            &chain,
            "--name",
            "largest",
            "--workers",
            "1024",
            "--conf",
            &ackers,
            "--",
            "--components",
            &components,
            "--tasks",
            &tasks,
            "--reverse",
            "true",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let (mut lists, mut slowest) = (0, Duration::ZERO);
    loop {
        let finished = submit.try_wait().unwrap().is_some();
        let (ok, took) = timed_list(&cluster);
        assert!(ok, "squall list failed during the submit");
        lists += 1;
        slowest = slowest.max(took);
        if finished {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the submit hangs"
        );
    }
    let submitted = submit.wait_with_output().unwrap();
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    eprintln!(
        "submit took {:?}; {lists} lists meanwhile, the slowest {slowest:?}",
        started.elapsed()
    );
    assert!(
        slowest < Duration::from_secs(1),
        "squall list took {slowest:?}"
    );
    let info = cluster.cluster_info().unwrap();
    let [largest] = &info.topologies[..] else {
        panic!("{:?}", info.topologies)
    };
    assert_eq!((largest.status.as_str(), largest.workers), ("ACTIVE", 4));

    // A restarted Nimbus recovers and places it again without stopping to answer.
    cluster.kill_nimbus();
    cluster.start_nimbus(&[timeout]);
    let (ok, took) = timed_list(&cluster);
    assert!(
        ok && took < Duration::from_secs(1),
        "list after a restart: {took:?}"
    );
    let started = Instant::now();
    let killed = cluster.squall(&["kill", "largest", "--wait", "0"]);
    assert!(
        killed.status.success(),
        "{}",
        String::from_utf8_lossy(&killed.stderr)
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "kill took {:?}",
        started.elapsed()
    );
}
