//! The benchmark driver for local mode: the workloads of `shared/BENCHMARKS.md`.
//!
//!     cargo run --release --example bench -- --workload wordcount --acking on
//!     cargo run --release --example bench -- --workload chain --acking off --rate 100000
//!
//! Prints one line: `squall workload=<w> mode=local acking=<on|off> records_per_sec=<x>
//! cpu_cores=<x> p50_us=<x> p99_us=<x> p999_us=<x>`. Records are counted at the last bolt
//! during the window after the warm-up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use squall_examples::bench::{self, BenchConfig, Probe, Workload};
use squall_examples::cpu::process_cpu_secs;
use squall_worker::{Config, ConfigValue, LocalTopology, TopologyStats};

#[derive(Clone, Copy, ValueEnum)]
enum WorkloadArg {
    Wordcount,
    Chain,
}

#[derive(Clone, Copy, ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(Parser)]
#[command(about = "Squall benchmark driver (local mode)")]
struct Args {
    #[arg(long, value_enum, default_value = "wordcount")]
    workload: WorkloadArg,
    #[arg(long, value_enum, default_value = "on")]
    acking: OnOff,
    /// Seconds to run before measuring.
    #[arg(long, default_value_t = 5.0)]
    warmup: f64,
    /// Seconds to measure.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Offered load, open loop: sentences/s for wordcount, records/s for chain.
    #[arg(long)]
    rate: Option<f64>,
    /// Executors per component.
    #[arg(long, default_value_t = 1)]
    parallelism: u32,
    /// topology.max.spout.pending (default: unbounded, backpressure only).
    #[arg(long)]
    max_spout_pending: Option<u64>,
    /// Extra topology configuration, key=value (JSON values).
    #[arg(long = "conf", value_parser = squall_worker::config::parse_setting)]
    conf: Vec<(String, ConfigValue)>,
}

fn sink_count(stats: &TopologyStats, sink: &str) -> u64 {
    stats.component(sink).map_or(0, |c| c.counters.executed)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let workload = match args.workload {
        WorkloadArg::Wordcount => Workload::WordCount,
        WorkloadArg::Chain => Workload::Chain,
    };
    let acking = matches!(args.acking, OnOff::On);
    if args.parallelism == 0 {
        anyhow::bail!("--parallelism must be at least 1");
    }
    let probe = Arc::new(Probe::default());
    let config = BenchConfig {
        workload,
        acking,
        parallelism: args.parallelism,
        rate: args.rate,
    };
    let topology = bench::topology(&config, &probe)?;
    let mut conf = Config::new();
    if !acking {
        conf.set_num_ackers(0);
    }
    if let Some(n) = args.max_spout_pending {
        conf.set_max_spout_pending(n);
    }
    for (k, v) in &args.conf {
        conf.set(k.clone(), v.clone());
    }
    let running = LocalTopology::start("bench", &conf, &topology)?;
    std::thread::sleep(Duration::from_secs_f64(args.warmup));

    let sink = workload.sink();
    let (count0, cpu0, t0) = (
        sink_count(&running.stats(), sink),
        process_cpu_secs(),
        Instant::now(),
    );
    probe.set_measuring(true);
    std::thread::sleep(Duration::from_secs_f64(args.seconds));
    probe.set_measuring(false);
    let (count1, cpu1, elapsed) = (
        sink_count(&running.stats(), sink),
        process_cpu_secs(),
        t0.elapsed(),
    );
    let stats = running.kill(Duration::ZERO);

    let secs = elapsed.as_secs_f64();
    let latency = probe.latency_us();
    let q = |p: f64| {
        if latency.is_empty() {
            0
        } else {
            latency.value_at_quantile(p)
        }
    };
    let failed = stats.spout_totals().failed;
    println!(
        "squall workload={} mode=local acking={} records_per_sec={:.0} cpu_cores={:.2} p50_us={} p99_us={} p999_us={}",
        match workload {
            Workload::WordCount => "wordcount",
            Workload::Chain => "chain",
        },
        if acking { "on" } else { "off" },
        (count1 - count0) as f64 / secs,
        (cpu1 - cpu0) / secs,
        q(0.50),
        q(0.99),
        q(0.999),
    );
    if failed > 0 {
        eprintln!("note: {failed} trees failed during the run");
    }
    Ok(())
}
