//! `/metrics`: the cluster and every topology's figures in Prometheus text format, labelled by
//! topology, component and (for emitted and transferred) stream. Counters are all-time totals;
//! latency quantiles, capacity and queue depths cover the last 10 minutes or the last report.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::metrics::view::topology_info;
use crate::metrics::window::Window;
use crate::state::{Inner, State};

type Labels = Vec<(&'static str, String)>;

/// One metric family: its samples, read under the state's lock.
#[derive(Debug)]
struct Family {
    name: &'static str,
    help: &'static str,
    counter: bool,
    samples: Vec<(Labels, f64)>,
}

/// Every family, ready to encode after the lock is released.
#[derive(Debug, Default)]
struct Snapshot {
    families: Vec<Family>,
}

impl Snapshot {
    fn family(&mut self, name: &'static str, help: &'static str, counter: bool) -> &mut Family {
        if let Some(i) = self.families.iter().position(|f| f.name == name) {
            return &mut self.families[i];
        }
        self.families.push(Family {
            name,
            help,
            counter,
            samples: Vec::new(),
        });
        self.families.last_mut().expect("just pushed")
    }

    fn counter(&mut self, name: &'static str, help: &'static str, labels: Labels, v: u64) {
        self.family(name, help, true)
            .samples
            .push((labels, v as f64));
    }

    fn gauge(&mut self, name: &'static str, help: &'static str, labels: Labels, v: f64) {
        self.family(name, help, false).samples.push((labels, v));
    }
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for f in &self.families {
            let kind = if f.counter {
                MetricType::Counter
            } else {
                MetricType::Gauge
            };
            let mut family = encoder.encode_descriptor(f.name, f.help, None, kind)?;
            for (labels, v) in &f.samples {
                let m = family.encode_family(labels)?;
                if f.counter {
                    ConstCounter::new(*v as u64).encode(m)?;
                } else {
                    ConstGauge::new(*v).encode(m)?;
                }
            }
        }
        Ok(())
    }
}

fn snapshot(state: &State, inner: &Inner) -> Snapshot {
    let mut s = Snapshot::default();
    let alive = inner.supervisors.values().filter(|v| state.alive(v));
    let (mut sups, mut slots, mut used) = (0, 0, 0);
    for v in alive {
        sups += 1;
        slots += v.ports.len();
        used += v.workers.len();
    }
    s.gauge(
        "squall_supervisors",
        "Live supervisors.",
        vec![],
        sups as f64,
    );
    s.gauge(
        "squall_slots",
        "Worker slots on live supervisors.",
        vec![],
        slots as f64,
    );
    s.gauge(
        "squall_slots_used",
        "Slots running a worker.",
        vec![],
        used as f64,
    );
    s.gauge(
        "squall_topologies",
        "Topologies submitted and not yet removed.",
        vec![],
        inner.topologies.len() as f64,
    );
    for record in inner.topologies.values() {
        let all = topology_info(state, inner, record, Window::All);
        let recent = topology_info(state, inner, record, Window::TenMinutes);
        let t = || {
            vec![
                ("topology", record.name.clone()),
                ("topology_id", record.id.clone()),
            ]
        };
        for w in &all.workers {
            let mut l = t();
            l.push(("host", w.host.clone()));
            l.push(("port", w.port.to_string()));
            s.gauge(
                "squall_worker_memory_bytes",
                "Resident memory of a worker process.",
                l.clone(),
                w.memory_bytes as f64,
            );
            s.gauge(
                "squall_worker_uptime_seconds",
                "Seconds since a worker process started.",
                l,
                w.uptime_secs as f64,
            );
        }
        for (c, r) in all.components.iter().zip(&recent.components) {
            let l = || {
                let mut l = t();
                l.push(("component", c.id.clone()));
                l
            };
            for st in &c.streams {
                let mut ls = l();
                ls.push(("stream", st.stream.clone()));
                s.counter("squall_emitted", "Tuples emitted.", ls.clone(), st.emitted);
                s.counter(
                    "squall_transferred",
                    "Tuples delivered to tasks (one per receiving task).",
                    ls,
                    st.transferred,
                );
            }
            s.counter(
                "squall_acked",
                "Spouts: tuple trees completed. Bolts: inputs acked.",
                l(),
                c.acked,
            );
            s.counter(
                "squall_failed",
                "Spouts: tuple trees failed or timed out. Bolts: inputs failed.",
                l(),
                c.failed,
            );
            s.counter("squall_executed", "Bolt inputs executed.", l(), c.executed);
            s.counter(
                "squall_errors",
                "Errors reported or panics caught.",
                l(),
                c.errors,
            );
            s.gauge(
                "squall_executors",
                "Executors (threads) of the component.",
                l(),
                f64::from(c.executors),
            );
            s.gauge(
                "squall_queue_depth",
                "Batches waiting in the component's input queues.",
                l(),
                c.queue_depth as f64,
            );
            let quantiles =
                |s: &mut Snapshot,
                 name: &'static str,
                 help: &'static str,
                 lat: Option<&squall_proto::pb::LatencySummary>| {
                    let lat = lat.copied().unwrap_or_default();
                    for (q, v) in [
                        ("0.5", lat.p50_ms),
                        ("0.99", lat.p99_ms),
                        ("0.999", lat.p999_ms),
                    ] {
                        let mut lq = l();
                        lq.push(("quantile", q.to_owned()));
                        s.gauge(name, help, lq, v / 1000.0);
                    }
                };
            if c.kind == "spout" {
                s.gauge(
                    "squall_pending",
                    "Tuple trees in flight.",
                    l(),
                    c.pending as f64,
                );
                quantiles(
                    &mut s,
                    "squall_complete_latency_seconds",
                    "Complete latency of tuple trees over the last 10 minutes.",
                    r.complete_latency.as_ref(),
                );
            } else {
                s.gauge(
                    "squall_capacity",
                    "Share of the last 10 minutes the busiest executor spent executing.",
                    l(),
                    r.capacity,
                );
                quantiles(
                    &mut s,
                    "squall_execute_latency_seconds",
                    "Sampled execute latency over the last 10 minutes.",
                    r.execute_latency.as_ref(),
                );
                quantiles(
                    &mut s,
                    "squall_process_latency_seconds",
                    "Sampled process latency over the last 10 minutes.",
                    r.process_latency.as_ref(),
                );
            }
        }
    }
    s
}

/// The exposition text.
pub fn render(state: &State) -> Result<String, std::fmt::Error> {
    let snap = {
        let inner = state.lock();
        snapshot(state, &inner)
    };
    let mut registry = Registry::default();
    registry.register_collector(Box::new(snap));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    Ok(out)
}
