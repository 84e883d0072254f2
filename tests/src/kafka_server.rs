//! A real Kafka-protocol broker for the connector tests: Tansu (a Kafka-compatible broker
//! from crates.io, installed by `.ci/run` under `target/tansu`), started on a free loopback
//! port with in-memory storage, ready when it answers a metadata request, killed when
//! dropped. Missing on CI is a failure; elsewhere the test is skipped with a message. The
//! helpers produce and read topics and report a group's lag through librdkafka.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::tcp_proxy::TcpProxy;

const TIMEOUT: Duration = Duration::from_secs(10);

/// A running broker.
pub struct KafkaServer {
    child: Child,
    binary: PathBuf,
    /// `127.0.0.1:PORT`, for `bootstrap.servers`.
    pub brokers: String,
    /// With [`KafkaServer::start_cuttable`]: the forwarder every client goes through.
    proxy: Option<TcpProxy>,
}

/// The `tansu` binary: `$SQUALL_TANSU`, else `target/tansu/bin/tansu`, else on the PATH.
fn tansu() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("SQUALL_TANSU").map(PathBuf::from),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/tansu/bin/tansu")),
        Some(PathBuf::from("tansu")),
    ];
    candidates.into_iter().flatten().find(|p| {
        Command::new(p)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

impl KafkaServer {
    /// Starts one; `None` (with a message) when Tansu is not installed outside CI.
    pub fn start() -> Option<KafkaServer> {
        Self::start_with(false)
    }

    /// Starts one that every client reaches through a [`TcpProxy`] (the broker advertises the
    /// proxy's address), so that [`KafkaServer::cut`] can take it away while it keeps its
    /// records: a real Tansu restart would lose them, its storage being in memory.
    pub fn start_cuttable() -> Option<KafkaServer> {
        Self::start_with(true)
    }

    /// Clients see the broker go away: connections refused, open ones closed.
    pub fn cut(&mut self) {
        self.proxy.as_mut().expect("started cuttable").cut();
    }

    /// The broker is back, at the same address.
    pub fn restore(&mut self) {
        self.proxy.as_mut().expect("started cuttable").restore();
    }

    fn start_with(cuttable: bool) -> Option<KafkaServer> {
        let Some(binary) = tansu() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "tansu is missing on CI: .ci/run should have installed it"
            );
            eprintln!("SKIPPED: tansu is not installed (see .ci/run: cargo install tansu)");
            return None;
        };
        let port = crate::cluster::free_port("127.0.0.1");
        let url = format!("tcp://127.0.0.1:{port}");
        let proxy = cuttable
            .then(|| TcpProxy::start("127.0.0.1", format!("127.0.0.1:{port}").parse().unwrap()));
        let advertised = proxy
            .as_ref()
            .map_or_else(|| url.clone(), |p| format!("tcp://{}", p.addr));
        let child = Command::new(&binary)
            .arg("broker")
            .args([
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &advertised,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .env_remove("STORAGE_ENGINE")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tansu");
        let server = KafkaServer {
            child,
            binary,
            brokers: advertised.trim_start_matches("tcp://").to_owned(),
            proxy,
        };
        let deadline = Instant::now() + TIMEOUT;
        while server
            .consumer("ready")
            .fetch_metadata(None, Duration::from_secs(1))
            .is_err()
        {
            assert!(Instant::now() < deadline, "tansu did not answer");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(server)
    }

    fn consumer(&self, group: &str) -> BaseConsumer {
        ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()
            .unwrap()
    }

    /// Creates `topic` with `partitions` partitions.
    pub fn create_topic(&self, topic: &str, partitions: u32) {
        let out = Command::new(&self.binary)
            .args([
                "topic",
                "create",
                topic,
                "--partitions",
                &partitions.to_string(),
            ])
            .args(["--broker", &format!("tcp://{}", self.brokers)])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tansu topic create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Produces `values` to `topic` (acks=all), dealt round-robin over its partitions.
    pub fn produce(&self, topic: &str, values: impl IntoIterator<Item = String>) {
        let partitions = self.partitions(topic);
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .set("acks", "all")
            .set("linger.ms", "20")
            // One record per batch: Tansu 0.6 answers a fetch from inside a batch with the
            // batches after it, so a consumer resuming from a committed offset that is not a
            // batch's first would skip the rest of that batch.
            .set("batch.num.messages", "1")
            .create()
            .unwrap();
        for (i, v) in values.into_iter().enumerate() {
            let mut record = BaseRecord::<(), String>::to(topic)
                .payload(&v)
                .partition(partitions[i % partitions.len()]);
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((_, back)) => {
                        record = back;
                        producer.poll(Duration::from_millis(10));
                    }
                }
            }
            producer.poll(Duration::ZERO);
        }
        producer.flush(Duration::from_secs(60)).unwrap();
    }

    /// The partitions of `topic`.
    pub fn partitions(&self, topic: &str) -> Vec<i32> {
        let metadata = self
            .consumer("partitions")
            .fetch_metadata(Some(topic), TIMEOUT)
            .unwrap();
        metadata
            .topics()
            .iter()
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect()
    }

    /// A reader of every partition of `topic` from its start.
    pub fn reader(&self, topic: &str) -> TopicReader {
        let consumer = self.consumer("squall-tests-reader");
        let mut list = TopicPartitionList::new();
        for p in self.partitions(topic) {
            list.add_partition_offset(topic, p, Offset::Beginning)
                .unwrap();
        }
        consumer.assign(&list).unwrap();
        TopicReader {
            consumer,
            values: Vec::new(),
            ends: BTreeMap::new(),
            connected: false,
        }
    }

    /// Records `group` has yet to commit past on the topic `reader` has read: the sum over
    /// partitions of the end the reader saw minus the committed offset (all of it where
    /// nothing is committed). One request: call [`TopicReader::catch_up`] first to see new
    /// records.
    pub fn lag(&self, reader: &TopicReader, topic: &str, group: &str) -> i64 {
        let mut ask = TopicPartitionList::new();
        for p in reader.ends.keys() {
            ask.add_partition(topic, *p);
        }
        let committed = self
            .consumer(group)
            .committed_offsets(ask, TIMEOUT)
            .unwrap();
        reader
            .ends
            .iter()
            .map(|(p, end)| {
                let at = committed
                    .find_partition(topic, *p)
                    .and_then(|e| match e.offset() {
                        Offset::Offset(n) => Some(n),
                        _ => None,
                    })
                    .unwrap_or(0);
                end - at
            })
            .sum()
    }
}

/// Reads a topic to its end, again and again. The ends are the offsets read, not the
/// brokers' high watermarks: Tansu 0.6 answers ListOffsets with the last batch's first offset
/// plus one, short of the real end.
pub struct TopicReader {
    consumer: BaseConsumer,
    /// Every value read so far.
    pub values: Vec<String>,
    /// Per partition, one past the last offset read.
    pub ends: BTreeMap<i32, i64>,
    connected: bool,
}

impl TopicReader {
    /// Reads until nothing new arrives for half a second (three seconds the first time, while
    /// the consumer connects).
    pub fn catch_up(&mut self) -> &[String] {
        let quiet = if self.connected {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(3)
        };
        self.connected = true;
        let mut quiet_since = Instant::now();
        while quiet_since.elapsed() < quiet {
            match self.consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    quiet_since = Instant::now();
                    self.ends.insert(m.partition(), m.offset() + 1);
                    self.values.push(
                        String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
                    );
                }
                Some(Err(e)) => eprintln!("reading the topic: {e}"),
                None => {}
            }
        }
        &self.values
    }
}

impl Drop for KafkaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
