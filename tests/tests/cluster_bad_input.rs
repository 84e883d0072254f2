//! Bad input gets one clear error and changes nothing: refused uploads leave nothing stored,
//! and garbage bytes on Nimbus's and a supervisor's ports leave them serving.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use squall_proto::NimbusClient;
use squall_proto::pb::{SubmitChunk, SubmitHeader, submit_chunk};
use squall_tests::cluster::{Cluster, binaries, eventually};

const LIMIT: u64 = 4096;

fn header(spec_json: &str, size: u64, sha256: &str) -> SubmitHeader {
    SubmitHeader {
        name: "bad".into(),
        spec_json: spec_json.into(),
        conf_json: "{}".into(),
        binary_size: size,
        sha256: sha256.into(),
        args: Vec::new(),
    }
}

/// Submits a header and data chunks straight over gRPC; returns Nimbus's refusal message.
fn refusal(url: &str, header: SubmitHeader, data: Vec<Vec<u8>>) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut client = NimbusClient::connect(url.to_owned()).await.unwrap();
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
    let spec = valid_spec();
    let sha_of_abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    assert_eq!(
        refusal(&url, header(&spec, LIMIT + 1, sha_of_abc), vec![]),
        format!(
            "upload of {} bytes is over the limit of {LIMIT} bytes",
            LIMIT + 1
        )
    );
    assert_eq!(
        refusal(&url, header(&spec, 100, sha_of_abc), vec![vec![1; 50]]),
        "truncated upload: 50 of 100 bytes arrived"
    );
    assert!(
        refusal(
            &url,
            header(&spec, 3, &"0".repeat(64)),
            vec![b"abc".to_vec()]
        )
        .starts_with("checksum mismatch: the upload hashes to ba7816bf")
    );
    let invalid = spec.replace(r#""component":"ids""#, r#""component":"ghost""#);
    assert_ne!(invalid, spec, "the spec should name its spout as an input");
    assert!(
        refusal(&url, header(&invalid, 3, sha_of_abc), vec![b"abc".to_vec()])
            .contains(r#"subscribes to unknown component "ghost""#)
    );
    assert!(
        refusal(&url, header("{not json", 3, sha_of_abc), vec![])
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
        "error: /bin/true is not a squall topology binary"
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
