//! End-to-end at-least-once from NATS JetStream on a cluster of real daemons: 100,000
//! messages consumed by a two-worker topology whose bolt fails one in ten once (nak'ed,
//! delivered again), while a worker is killed with -9 twice; and the server stopped for 10 s
//! mid-run. At the end every message reached the sink's stream at least once and the consumer
//! has nothing pending or unacknowledged; the duplicates are printed.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::HashSet;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer, stream};
use squall_tests::cluster::{Cluster, binaries, component, eventually};
use squall_tests::nats_server::NatsServer;
use tokio_stream::StreamExt;

const MESSAGES: u64 = 100_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Messages in stream `name`.
fn stream_len(rt: &tokio::runtime::Runtime, js: &jetstream::Context, name: &str) -> u64 {
    rt.block_on(async {
        let mut s = js.get_stream(name).await.ok()?;
        Some(s.info().await.ok()?.state.messages)
    })
    .unwrap_or(0)
}

/// The `squall` consumer's messages not yet delivered, and delivered but unacknowledged.
fn pending(rt: &tokio::runtime::Runtime, js: &jetstream::Context) -> (u64, u64) {
    rt.block_on(async {
        let s = js.get_stream("IN").await.ok()?;
        let mut c: consumer::PullConsumer = s.get_consumer("squall").await.ok()?;
        let info = c.info().await.ok()?;
        Some((info.num_pending, info.num_ack_pending as u64))
    })
    .unwrap_or((u64::MAX, u64::MAX))
}

/// The distinct payloads in stream `OUT`, and how many were there more than once.
fn delivered(rt: &tokio::runtime::Runtime, js: &jetstream::Context) -> (HashSet<String>, u64) {
    let total = stream_len(rt, js, "OUT");
    rt.block_on(async {
        let s = js.get_stream("OUT").await.unwrap();
        let reader: consumer::PullConsumer = s
            .create_consumer(consumer::pull::Config {
                ack_policy: consumer::AckPolicy::None,
                ..Default::default()
            })
            .await
            .unwrap();
        let (mut seen, mut count) = (HashSet::new(), 0u64);
        while count < total {
            let mut batch = reader
                .fetch()
                .max_messages(10_000)
                .expires(Duration::from_secs(1))
                .messages()
                .await
                .unwrap();
            let mut got = 0;
            while let Some(m) = batch.next().await {
                let m = m.unwrap();
                seen.insert(String::from_utf8_lossy(&m.message.payload).into_owned());
                count += 1;
                got += 1;
            }
            if got == 0 {
                break;
            }
        }
        let duplicates = count - seen.len() as u64;
        (seen, duplicates)
    })
}

/// Streams `IN` (subject `in`, holding `messages` payloads 0..) and `OUT` (subject `out`).
fn streams_with(nats: &NatsServer, messages: u64) -> (tokio::runtime::Runtime, jetstream::Context) {
    let rt = runtime();
    let js = rt.block_on(async {
        let client = async_nats::connect(&nats.url).await.unwrap();
        let js = jetstream::new(client);
        for (name, subject) in [("IN", "in"), ("OUT", "out")] {
            js.create_stream(stream::Config {
                name: name.into(),
                subjects: vec![subject.into()],
                ..Default::default()
            })
            .await
            .unwrap();
        }
        // In windows below the client's 5,000 unacknowledged publishes.
        for chunk in 0..messages.div_ceil(2_000) {
            let mut acks = Vec::new();
            for i in chunk * 2_000..((chunk + 1) * 2_000).min(messages) {
                acks.push(js.publish("in", i.to_string().into()).await.unwrap());
            }
            for ack in acks {
                ack.await.unwrap();
            }
        }
        js
    });
    assert_eq!(stream_len(&rt, &js, "IN"), messages);
    (rt, js)
}

#[test]
fn every_message_reaches_the_sink_through_two_worker_kills_and_nothing_stays_pending() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let (rt, js) = streams_with(&nats, MESSAGES);
    let cluster = Cluster::start(&["127.0.10.3"], 2);
    let topology = binaries().nats_topology.display().to_string();
    let submitted = cluster.squall(&[
        "submit",
        &topology,
        "--name",
        "nats",
        "--",
        "--nats",
        &nats.url,
        "--fail-every",
        "10",
        "--workers",
        "2",
    ]);
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    let started = Instant::now();
    for (kill, at) in [(1, MESSAGES / 10), (2, MESSAGES * 3 / 10)] {
        assert!(
            eventually(Duration::from_secs(120), || stream_len(&rt, &js, "OUT")
                >= at),
            "the sink published {} of {at} before kill {kill}; logs in {}",
            stream_len(&rt, &js, "OUT"),
            cluster.dir.path().display()
        );
        let pid = cluster.live_worker_pid("nats", 2, kill);
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        println!("kill {kill}: worker {pid} at {:?}", started.elapsed());
    }
    // Messages of the killed workers come back after the ack wait (2 × the 10 s timeout).
    let all_in = eventually(Duration::from_secs(240), || {
        stream_len(&rt, &js, "OUT") >= MESSAGES && pending(&rt, &js) == (0, 0)
    });
    let (seen, duplicates) = delivered(&rt, &js);
    println!(
        "messages={MESSAGES} reached_sink={} duplicates={duplicates} pending={:?} after {:?}",
        seen.len(),
        pending(&rt, &js),
        started.elapsed()
    );
    assert!(
        all_in && seen.len() as u64 == MESSAGES,
        "{} of {MESSAGES} reached the sink, pending {:?}; logs in {}",
        seen.len(),
        pending(&rt, &js),
        cluster.dir.path().display()
    );
    let killed = cluster.squall(&["kill", "nats", "--wait", "1"]);
    assert!(killed.status.success());
}

#[test]
fn the_spout_reports_nats_going_away_backs_off_and_resumes_losing_nothing() {
    const N: u64 = 20_000;
    let Some(mut nats) = NatsServer::start() else {
        return;
    };
    let (rt, js) = streams_with(&nats, N);
    let cluster = Cluster::start(&["127.0.10.5"], 1);
    let topology = binaries().nats_topology.display().to_string();
    let submitted = cluster.squall(&[
        "submit",
        &topology,
        "--name",
        "outage",
        "--",
        "--nats",
        &nats.url,
        "--fail-every",
        "10",
        "--workers",
        "1",
    ]);
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    assert!(
        eventually(Duration::from_secs(120), || stream_len(&rt, &js, "OUT")
            >= N / 10),
        "the sink published {} of {} before the outage; logs in {}",
        stream_len(&rt, &js, "OUT"),
        N / 10,
        cluster.dir.path().display()
    );
    let errors = |status: &serde_json::Value| {
        component(status, "messages")["errors"]
            .as_u64()
            .unwrap_or(0)
    };
    let errors_before = errors(&cluster.status_json("outage").unwrap());

    // NATS goes away for 10 s, mid-run: the sink has not written everything yet.
    let written_before = stream_len(&rt, &js, "OUT");
    assert!(written_before < N, "the run was over before the outage");
    nats.stop();
    let stopped = Instant::now();
    let reported = eventually(Duration::from_secs(9), || {
        cluster.status_json("outage").is_some_and(|s| {
            component(&s, "messages")["recent_errors"]
                .to_string()
                .contains("nats at")
        })
    });
    std::thread::sleep(Duration::from_secs(10).saturating_sub(stopped.elapsed()));
    let status = cluster.status_json("outage").unwrap();
    let errors_during = errors(&status) - errors_before;
    nats.restart();
    println!(
        "nats away for {:?}; the spouts reported {errors_during} errors",
        stopped.elapsed()
    );
    assert!(reported, "the spout did not report the outage: {status}");
    // Two spout tasks retrying for 10 s with a backoff from 100 ms up to 5 s try about seven
    // times each; a loop without one would report thousands.
    assert!(
        (1..=40).contains(&errors_during),
        "{errors_during} errors in 10 s: {status}"
    );

    // Messages in flight at the outage come back after the ack wait (2 × the 10 s timeout).
    let all_in = eventually(Duration::from_secs(240), || {
        stream_len(&rt, &js, "OUT") >= N && pending(&rt, &js) == (0, 0)
    });
    let (seen, duplicates) = delivered(&rt, &js);
    println!(
        "messages={N} reached_sink={} duplicates={duplicates} after the outage",
        seen.len()
    );
    assert!(
        all_in && seen.len() as u64 == N,
        "{} of {N} reached the sink, pending {:?}; logs in {}",
        seen.len(),
        pending(&rt, &js),
        cluster.dir.path().display()
    );
    let killed = cluster.squall(&["kill", "outage", "--wait", "1"]);
    assert!(killed.status.success());
}
