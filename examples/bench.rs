//! The benchmark driver: the workloads of `docs/benchmarks.md`, in local mode or on a
//! one-machine cluster of real processes.
//!
//!     cargo run --release --example bench -- --workload wordcount --acking on
//!     cargo run --release --example bench -- --workload chain --acking off --rate 100000
//!     cargo build --release --bin squall --example bench &&
//!       target/release/examples/bench --mode cluster --workers 2 --workload wordcount --acking on
//!
//! Prints one line: `squall workload=<w> mode=<local|cluster> workers=<n> acking=<on|off>
//! records_per_sec=<x> cpu_cores=<x> p50_us=<x> p99_us=<x> p999_us=<x>`. Records are counted at
//! the last bolt during the window after the warm-up; latency is complete latency with acking
//! on, sink arrival with it off (sampled 1 in 16 in closed-loop runs, all at a fixed rate).
//!
//! `--memory-every 60 --seconds 600` adds a `memory t_s=<x> rss_mb=<x>` line a minute for the
//! ten-minute memory check.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use squall_examples::bench::{self, BenchConfig, Probe, Workload, read_histograms};
use squall_examples::cluster_run::DevCluster;
use squall_examples::cpu::process_cpu_secs;
use squall_worker::stats::{new_latency_histogram, resident_bytes};
use squall_worker::{Config, ConfigValue, LocalTopology, TopologyStats};

/// Every record of the chain is allocated by the spout's thread and freed by the sink's;
/// glibc's allocator makes that cross-thread free slow (a quarter of the chain's time in
/// perf), mimalloc does not. Choosing the allocator is the topology binary's call.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum WorkloadArg {
    Wordcount,
    Chain,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Local,
    Cluster,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FirstHop {
    Shuffle,
    LocalOrShuffle,
}

#[derive(Parser)]
#[command(about = "Squall benchmark driver")]
struct Args {
    #[arg(long, value_enum, default_value = "wordcount")]
    workload: WorkloadArg,
    #[arg(long, value_enum, default_value = "on")]
    acking: OnOff,
    /// Local mode (one process) or a one-machine cluster of real processes.
    #[arg(long, value_enum, default_value = "local")]
    mode: Mode,
    /// Worker processes, in cluster mode.
    #[arg(long, default_value_t = 1)]
    workers: u32,
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
    /// Grouping from the spout to the first bolt. `local-or-shuffle` with `--parallelism`
    /// equal to `--workers` runs the whole pipeline in each worker, only the words a fields
    /// grouping sends elsewhere crossing between processes: the dataflow of timely's `procs`.
    #[arg(long, value_enum, default_value = "shuffle")]
    first_hop: FirstHop,
    /// Word count with the counts in checkpointed state; choose the guarantee and interval
    /// with --conf topology.state.guarantee=exactly_once and
    /// --conf topology.state.checkpoint.interval.ms=100.
    #[arg(long, value_enum, default_value = "off")]
    state: OnOff,
    /// topology.max.spout.pending (default: adaptive, see the runtime's docs).
    #[arg(long)]
    max_spout_pending: Option<u64>,
    /// Extra topology configuration, key=value (JSON values).
    #[arg(long = "conf", value_parser = squall_worker::config::parse_setting)]
    conf: Vec<(String, ConfigValue)>,
    /// Print `memory t_s=<x> rss_mb=<x>` every this many seconds of the measuring window
    /// (resident memory of the process, or of all workers in cluster mode).
    #[arg(long)]
    memory_every: Option<f64>,
    /// Cluster mode: run the cluster without security (plaintext, no certificates), to
    /// measure what TLS costs.
    #[arg(long)]
    insecure: bool,
    /// Set by the driver for the bench's own worker processes: the directory it shares with
    /// them for the measuring window and latency dumps.
    #[arg(long, hide = true)]
    latency_dir: Option<PathBuf>,
}

struct Figures {
    records_per_sec: f64,
    cpu_cores: f64,
    latency: Histogram<u64>,
    failed: u64,
}

/// Waits out the measuring window, printing resident memory as it goes if asked to.
fn measuring_window(args: &Args, resident: impl Fn() -> u64) {
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(args.seconds);
    let every = args
        .memory_every
        .filter(|s| *s > 0.0)
        .map(Duration::from_secs_f64);
    let print = |at: Instant| {
        println!(
            "memory t_s={:.0} rss_mb={:.1}",
            at.duration_since(start).as_secs_f64(),
            resident() as f64 / f64::from(1 << 20)
        );
    };
    let Some(every) = every else {
        std::thread::sleep(end - start);
        return;
    };
    print(start);
    let mut next = start + every;
    while next <= end {
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        print(next);
        next += every;
    }
    std::thread::sleep(end.saturating_duration_since(Instant::now()));
}

fn sink_count(stats: &TopologyStats, sink: &str) -> u64 {
    stats.component(sink).map_or(0, |c| c.counters.executed)
}

fn run_local(
    args: &Args,
    conf: &Config,
    topology: &squall_worker::Topology,
    probe: &Probe,
    sink: &str,
) -> anyhow::Result<Figures> {
    let running = LocalTopology::start("bench", conf, topology)?;
    std::thread::sleep(Duration::from_secs_f64(args.warmup));
    let (count0, cpu0, t0) = (
        sink_count(&running.stats(), sink),
        process_cpu_secs(),
        Instant::now(),
    );
    probe.set_measuring(true);
    measuring_window(args, resident_bytes);
    probe.set_measuring(false);
    let (count1, cpu1, elapsed) = (
        sink_count(&running.stats(), sink),
        process_cpu_secs(),
        t0.elapsed(),
    );
    let stats = running.kill(Duration::ZERO);
    let secs = elapsed.as_secs_f64();
    Ok(Figures {
        records_per_sec: (count1 - count0) as f64 / secs,
        cpu_cores: (cpu1 - cpu0) / secs,
        latency: probe.latency_us(),
        failed: stats.spout_totals().failed,
    })
}

/// The arguments the bench's worker processes get: this run's, minus the driver's own flags,
/// pointing at `dir`.
fn worker_args(dir: &std::path::Path) -> Vec<String> {
    let mut out: Vec<String> = std::env::args().skip(1).collect();
    // Drop the driver-only flags; the workers get the shared directory instead.
    let mut i = 0;
    while i < out.len() {
        let flag = out[i].split('=').next().unwrap_or_default().to_owned();
        if [
            "--mode",
            "--workers",
            "--warmup",
            "--seconds",
            "--memory-every",
            "--latency-dir",
            "--insecure",
        ]
        .contains(&flag.as_str())
        {
            let takes_value = !out[i].contains('=') && flag != "--insecure";
            out.drain(i..(i + 1 + usize::from(takes_value)).min(out.len()));
        } else {
            i += 1;
        }
    }
    out.extend(["--latency-dir".to_owned(), dir.display().to_string()]);
    out
}

fn run_cluster(args: &Args, sink: &str) -> anyhow::Result<Figures> {
    let cluster = DevCluster::start(args.workers, args.insecure)?;
    let shared = cluster.dir.path().join("latency");
    std::fs::create_dir_all(&shared)?;
    let exe = std::env::current_exe()?.display().to_string();
    let mut submit = vec![
        "submit".to_owned(),
        exe,
        "--name".into(),
        "bench".into(),
        "--workers".into(),
        args.workers.to_string(),
        "--".into(),
    ];
    submit.extend(worker_args(&shared));
    let out = cluster.squall(&submit)?;
    if !out.status.success() {
        bail!(
            "submitting the bench failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while cluster.executed("bench", sink) == 0 {
        if Instant::now() > deadline {
            bail!(
                "the bench topology did not start; logs in {}",
                cluster.dir.path().display()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs_f64(args.warmup));
    let measuring = shared.join("measuring");
    std::fs::write(&measuring, b"")?;
    let (count0, cpu0, t0) = (
        cluster.executed("bench", sink),
        cluster.cpu_secs("bench"),
        Instant::now(),
    );
    measuring_window(args, || cluster.worker_memory_bytes("bench"));
    std::fs::remove_file(&measuring)?;
    let (count1, cpu1, elapsed) = (
        cluster.executed("bench", sink),
        cluster.cpu_secs("bench"),
        t0.elapsed(),
    );
    let failed = cluster
        .json(&["status", "bench", "--json"])
        .and_then(|s| {
            s["components"]
                .as_array()?
                .iter()
                .find(|c| c["id"] == "spout")?["failed"]
                .as_u64()
        })
        .unwrap_or(0);
    // The workers dump their histograms every 200 ms.
    std::thread::sleep(Duration::from_millis(600));
    let mut latency = new_latency_histogram();
    read_histograms(&shared, &mut latency);
    cluster.kill("bench");
    let secs = elapsed.as_secs_f64();
    Ok(Figures {
        records_per_sec: count1.saturating_sub(count0) as f64 / secs,
        cpu_cores: (cpu1 - cpu0) / secs,
        latency,
        failed,
    })
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let workload = match args.workload {
        WorkloadArg::Wordcount => Workload::WordCount,
        WorkloadArg::Chain => Workload::Chain,
    };
    let acking = args.acking == OnOff::On;
    if args.parallelism == 0 || args.workers == 0 {
        bail!("--parallelism and --workers must be at least 1");
    }
    let probe = Arc::new(Probe::default());
    let config = BenchConfig {
        workload,
        acking,
        parallelism: args.parallelism,
        rate: args.rate,
        state: args.state == OnOff::On,
        local_first_hop: args.first_hop == FirstHop::LocalOrShuffle,
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
    if let Some(dir) = &args.latency_dir {
        probe.follow_dir(dir.clone());
    }
    if squall_worker::serve_cluster_role(&topology, &conf)? {
        return Ok(());
    }
    let sink = workload.sink();
    let f = match args.mode {
        Mode::Local => run_local(&args, &conf, &topology, &probe, sink)?,
        Mode::Cluster => run_cluster(&args, sink)?,
    };
    let q = |p: f64| {
        if f.latency.is_empty() {
            0
        } else {
            f.latency.value_at_quantile(p)
        }
    };
    println!(
        "squall workload={} mode={} workers={} acking={} records_per_sec={:.0} cpu_cores={:.2} p50_us={} p99_us={} p999_us={}",
        match workload {
            Workload::WordCount => "wordcount",
            Workload::Chain => "chain",
        },
        if args.mode == Mode::Local {
            "local"
        } else {
            "cluster"
        },
        if args.mode == Mode::Local {
            1
        } else {
            args.workers
        },
        if acking { "on" } else { "off" },
        f.records_per_sec,
        f.cpu_cores,
        q(0.50),
        q(0.99),
        q(0.999),
    );
    if config.state {
        let guarantee = conf
            .get_str(squall_worker::state::TOPOLOGY_STATE_GUARANTEE)
            .unwrap_or("at_least_once");
        let interval = conf
            .get_u64(squall_worker::state::TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS)
            .unwrap_or(1000);
        println!("state guarantee={guarantee} checkpoint_ms={interval}");
    }
    if f.failed > 0 {
        eprintln!("note: {} trees failed during the run", f.failed);
    }
    Ok(())
}
