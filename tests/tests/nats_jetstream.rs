//! The JetStream connectors against a real `nats-server`, in local mode: every message reaches
//! the sink's stream through a bolt that fails one in ten once (nak'ed with a delay and
//! delivered again by JetStream), and the consumer ends with nothing pending.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use async_nats::jetstream::{self, consumer, stream};
use squall_connectors::nats::JetStreamSink;
use squall_tests::cluster::binaries;
use squall_tests::nats_server::NatsServer;
use squall_worker::prelude::{Fields, TopologyBuilder, values};
use squall_worker::testing::{CompleteTopology, CompletedRun, FixedSpout};

#[test]
fn failed_messages_are_nakd_delivered_again_and_end_acked() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let js = rt.block_on(async {
        let js = jetstream::new(async_nats::connect(&nats.url).await.unwrap());
        for (name, subject) in [("IN", "in"), ("OUT", "out")] {
            js.create_stream(stream::Config {
                name: name.into(),
                subjects: vec![subject.into()],
                ..Default::default()
            })
            .await
            .unwrap();
        }
        let mut acks = Vec::new();
        for i in 0..1_000 {
            acks.push(js.publish("in", i.to_string().into()).await.unwrap());
        }
        for ack in acks {
            ack.await.unwrap();
        }
        js
    });
    let out = std::process::Command::new(&binaries().nats_topology)
        .args(["--nats", &nats.url, "--fail-every", "10", "--seconds", "6"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    let (published, pending, unacked) = rt.block_on(async {
        let mut out = js.get_stream("OUT").await.unwrap();
        let published = out.info().await.unwrap().state.messages;
        let s = js.get_stream("IN").await.unwrap();
        let mut c: consumer::PullConsumer = s.get_consumer("squall").await.unwrap();
        let info = c.info().await.unwrap();
        (published, info.num_pending, info.num_ack_pending)
    });
    let last = stdout.lines().last().unwrap_or_default();
    assert_eq!(published, 1_000, "{stdout}{stderr}");
    assert_eq!((pending, unacked), (0, 0), "{stdout}");
    let failed: u64 = last
        .rsplit_once("failed=")
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(0);
    assert!(failed >= 100, "one in ten failed once: {last}");
}

/// Two inputs with the field `field`, through a sink whose server is not there, for `secs`.
fn through_a_sink_without_its_server(field: &str, secs: u64) -> CompletedRun {
    // Nothing listens there.
    let url = format!(
        "nats://127.0.0.1:{}",
        squall_tests::cluster::free_port("127.0.0.1")
    );
    let fields = Fields::new([field]);
    let mut b = TopologyBuilder::new();
    b.set_spout("lines", move || FixedSpout::new(fields.clone(), vec![]), 1);
    b.set_bolt("publish", move || JetStreamSink::new(url.clone(), "out"), 1)
        .shuffle_grouping("lines");
    CompleteTopology::new()
        .timeout(std::time::Duration::from_secs(secs))
        .mock("lines", [values!["a"], values!["b"]])
        .run(&b.build().unwrap())
        .unwrap()
}

/// A sink that cannot reach its server holds its inputs, to publish them once it can,
/// instead of failing them at every attempt to connect (which replays them from the spout
/// only to fail them again).
#[test]
fn a_sink_without_its_server_holds_its_inputs_instead_of_failing_them() {
    let run = through_a_sink_without_its_server("payload", 3);
    assert!(!run.is_complete());
    assert_eq!(run.stats().spout_totals().emitted, 2, "the sink got both");
    assert_eq!((run.spout_acked(), run.spout_failed()), (0, 0));
}

/// An input without the field a sink writes fails (and is reported) rather than being
/// written as an empty message and acked; it fails before any attempt to publish.
#[test]
fn an_input_without_the_sinks_field_fails_instead_of_publishing_nothing() {
    let run = through_a_sink_without_its_server("body", 2);
    // The mock spout emits a failed tuple again, so they fail over and over.
    assert_eq!(run.spout_acked(), 0);
    assert!(run.spout_failed() >= 2, "failed {}", run.spout_failed());
}
