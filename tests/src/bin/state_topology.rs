//! A stateful topology for the state tests: keys from a Redis stream (field `key`, read through
//! a consumer group) or, with `--total N`, from a replayable generator (numbers 0..N dealt
//! over 2 spout tasks, key `k<n % --keys>`) → a stateful bolt counting per key, its state in
//! Redis (`squall:state:<name>:count-<task>`, key → count as JSON). With `--windows-ms W` the
//! counting bolt is a stateful window instead: tumbling processing-time windows of W ms, each
//! window's counts added to the state when it is evaluated.
//!
//!     state_topology --redis URL [--stream IN --group G | --total N [--keys 20]]
//!         [--guarantee at_least_once|exactly_once] [--workers 2] [--interval-ms 500]
//!         [--timeout-secs 10] [--rate NUMBERS_PER_SECOND] [--windows-ms W]

use std::collections::{BTreeMap, VecDeque};

use squall_connectors::redis::{RedisStateBackend, RedisStreamSpout};
use squall_tests::flaky::arg;
use squall_worker::prelude::*;
use squall_worker::state::{
    ReplayableSpout, TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS, TOPOLOGY_STATE_GUARANTEE,
    TOPOLOGY_STATE_PROVIDER, TOPOLOGY_STATE_PROVIDER_CONFIG,
};

/// Emits this task's share of 0..total (every `step`-th number from its index); its position
/// is the next number. In at-least-once mode it replays a failed number by itself.
struct Numbers {
    next: u64,
    step: u64,
    total: u64,
    keys: u64,
    in_flight: BTreeMap<MessageId, u64>,
    replay: VecDeque<u64>,
    /// Numbers per second for this task, if limited; counted from the first call.
    rate: Option<f64>,
    started: std::time::Instant,
    sent: u64,
}

impl ReplayableSpout for Numbers {
    type Position = u64;

    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["key"]));
    }

    fn open(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        self.step = context.component_tasks(context.this_component_id()).len() as u64;
        self.next = context.this_task_index() as u64;
        self.rate = self.rate.map(|r| r / self.step as f64);
        Ok(())
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        if self.sent == 0 {
            self.started = std::time::Instant::now();
        }
        if let Some(rate) = self.rate
            && self.sent as f64 >= self.started.elapsed().as_secs_f64() * rate
        {
            return Ok(());
        }
        self.sent += 1;
        let n = match self.replay.pop_front() {
            Some(n) => n,
            None if self.next < self.total => {
                self.next += self.step;
                self.next - self.step
            }
            None => return Ok(()),
        };
        self.in_flight.insert(n, n);
        out.emit_with_id(values![format!("k{}", n % self.keys)], n)?;
        Ok(())
    }

    fn position(&self) -> u64 {
        self.next
    }

    fn seek(&mut self, position: Option<&u64>) -> Result<(), ComponentError> {
        if let Some(&p) = position {
            self.next = p;
        } else {
            self.next %= self.step.max(1);
        }
        self.in_flight.clear();
        self.replay.clear();
        Ok(())
    }

    fn ack(&mut self, msg_id: MessageId) {
        self.in_flight.remove(&msg_id);
    }

    fn fail(&mut self, msg_id: MessageId) {
        if let Some(n) = self.in_flight.remove(&msg_id) {
            self.replay.push_back(n);
        }
    }
}

/// Counts entries per key.
struct Count;

impl StatefulBolt for Count {
    type Key = String;
    type Value = i64;

    fn execute(
        &mut self,
        input: &Tuple,
        state: &mut KeyValueState<String, i64>,
        _out: &mut BasicCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        *state.entry(input.get_str("key")?.to_owned()).or_insert(0) += 1;
        Ok(())
    }
}

/// Counts entries per key, a window at a time.
struct WindowCount;

impl StatefulWindowedBolt for WindowCount {
    type Key = String;
    type Value = i64;

    fn execute(
        &mut self,
        window: &TupleWindow<'_>,
        state: &mut KeyValueState<String, i64>,
        _out: &mut WindowCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        for t in window.get() {
            *state.entry(t.get_str("key")?.to_owned()).or_insert(0) += 1;
        }
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let url = arg(&args, "--redis").ok_or("--redis URL is required")?;
    let stream = arg(&args, "--stream").unwrap_or_else(|| "in".into());
    let group = arg(&args, "--group").unwrap_or_else(|| "squall".into());
    let workers: u32 = arg(&args, "--workers").map_or(Ok(2), |s| s.parse())?;
    let interval: u64 = arg(&args, "--interval-ms").map_or(Ok(500), |s| s.parse())?;
    let guarantee = arg(&args, "--guarantee").unwrap_or_else(|| "at_least_once".into());
    let mut builder = TopologyBuilder::new();
    if let Some(total) = arg(&args, "--total") {
        let total: u64 = total.parse()?;
        let keys: u64 = arg(&args, "--keys").map_or(Ok(20), |s| s.parse())?;
        let rate: Option<f64> = arg(&args, "--rate").map(|s| s.parse()).transpose()?;
        builder.set_replayable_spout(
            "entries",
            move || Numbers {
                next: 0,
                step: 1,
                total,
                keys,
                in_flight: BTreeMap::new(),
                replay: VecDeque::new(),
                rate,
                started: std::time::Instant::now(),
                sent: 0,
            },
            2,
        );
    } else {
        let spout_url = url.clone();
        builder.set_spout(
            "entries",
            move || RedisStreamSpout::new(&spout_url, &stream, &group).fields(["key"]),
            2,
        );
    }
    match arg(&args, "--windows-ms") {
        Some(ms) => {
            let length = std::time::Duration::from_millis(ms.parse()?);
            let spec = WindowSpec::tumbling(Extent::duration(length));
            builder
                .set_stateful_windowed_bolt("count", || WindowCount, spec, 2)
                .fields_grouping("entries", ["key"]);
        }
        None => {
            builder
                .set_stateful_bolt("count", || Count, 2)
                .fields_grouping("entries", ["key"]);
        }
    }
    builder.state_backend("redis", RedisStateBackend::from_config);
    let topology = builder.build()?;
    let mut conf = Config::new();
    conf.set_num_workers(workers)
        .set_max_spout_pending(1_000)
        .set_message_timeout_secs(arg(&args, "--timeout-secs").map_or(Ok(10), |s| s.parse())?);
    conf.set(TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS, interval);
    conf.set(TOPOLOGY_STATE_PROVIDER, "redis");
    conf.set(TOPOLOGY_STATE_GUARANTEE, guarantee);
    conf.set(
        TOPOLOGY_STATE_PROVIDER_CONFIG,
        serde_json::json!({ "url": url }),
    );
    if squall_worker::serve_cluster_role(&topology, &conf)? {
        return Ok(());
    }
    let running = LocalTopology::start("state", &conf, &topology)?;
    let seconds: u64 = arg(&args, "--seconds").map_or(Ok(10), |s| s.parse())?;
    std::thread::sleep(std::time::Duration::from_secs(seconds));
    let s = running
        .kill(std::time::Duration::from_millis(500))
        .spout_totals();
    println!(
        "emitted={} acked={} failed={}",
        s.emitted, s.acked, s.failed
    );
    Ok(())
}
