//! The topology the cluster tests submit: a finite reliable spout of ids `0..N` → `relay`
//! (shuffle) → `sink` (fields on the id). The spout appends every acked id to a file in the
//! output directory and, when (re)started, skips the ids already acked there, as a spout over
//! a durable source does; the sink appends every id it sees. Tests read the files.
//!
//! With `--error-every K` the sink reports an error (without failing anything) for every id
//! that is a multiple of K; with `--sink-delay-ms D` it takes D ms over each tuple. The spout
//! appends every id that fails to a `failed` file, and every id it emits to an `emitted` one;
//! each spout instance writes a line to an `opened` file when it opens.
//!
//! With `--source queue` the spout instead takes each id once from a queue whose cursor is on
//! disk (the `taken` files, as a broker keeps its consumer's position) and keeps what it took
//! only in memory until it is acked; a failed id goes back on the queue (the `requeued` files)
//! and is emitted again. That is a broker spout: an id taken and then neither acked nor failed
//! is lost for good, which is what a stop that drops trees in flight would do.
//!
//! The bolts check their routing: `relay` must only get tuples from `ids`, `sink` only from
//! `relay`, and each id must reach the sink task its key hashes to among the sink's tasks.
//! Every violation is a line in a `misrouted` file. Each sink task writes the task numbering
//! it runs under to a `layout` file when it starts.
//!
//!     ids_topology --ids 3000 --rate 1000 --out DIR [--parallelism 2] [--error-every K]
//!                  [--sink-delay-ms D] [--source durable|queue] [--sink-hang-at ID]
//!
//! With `--join` every id goes two ways, `ids` → `relay` and `ids` → `mirror`, and a `join`
//! bolt (fields on the id from both) emits it to the sink once both halves are in, anchored to
//! both: a tree with two paths and a multi-anchored tuple.
//!
//! With `--sink-hang-at ID` the sink task that gets id ID blocks for ever, once per run of
//! the topology (a `hung` marker file in the output dir says it happened).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use squall_tests::cluster::ids_in;
use squall_worker::prelude::*;

struct Args {
    ids: u64,
    rate: f64,
    out: PathBuf,
    parallelism: u32,
    error_every: Option<i64>,
    sink_delay: Duration,
    queue: bool,
    hang_at: Option<i64>,
    join: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        ids: 1000,
        rate: 1000.0,
        out: std::env::temp_dir(),
        parallelism: 2,
        error_every: None,
        sink_delay: Duration::ZERO,
        queue: false,
        hang_at: None,
        join: false,
    };
    let mut raw: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = raw.iter().position(|a| a == "--join") {
        raw.remove(i);
        a.join = true;
    }
    let mut it = raw.into_iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--ids" => a.ids = value.parse().map_err(|_| "bad --ids")?,
            "--rate" => a.rate = value.parse().map_err(|_| "bad --rate")?,
            "--out" => a.out = PathBuf::from(value),
            "--parallelism" => a.parallelism = value.parse().map_err(|_| "bad --parallelism")?,
            "--error-every" => {
                a.error_every = Some(value.parse().map_err(|_| "bad --error-every")?);
            }
            "--sink-delay-ms" => {
                a.sink_delay =
                    Duration::from_millis(value.parse().map_err(|_| "bad --sink-delay-ms")?);
            }
            "--sink-hang-at" => a.hang_at = Some(value.parse().map_err(|_| "bad --sink-hang-at")?),
            "--source" => {
                a.queue = match value.as_str() {
                    "queue" => true,
                    "durable" => false,
                    _ => return Err("--source is durable or queue".into()),
                };
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(a)
}

fn log_file(dir: &Path, prefix: &str) -> std::io::Result<File> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{prefix}-{}-{nanos}.log", std::process::id())))
}

struct IdSpout {
    ids: u64,
    rate: f64,
    out: PathBuf,
    todo: Vec<u64>,
    emitted: u64,
    started: Option<Instant>,
    acked: Option<File>,
    failed: Option<File>,
    emitted_log: Option<File>,
    /// `--source queue`: the queue's cursor (the next id never taken) and its files.
    queue: Option<Queue>,
}

struct Queue {
    next: u64,
    taken: File,
    requeued: File,
}

fn misrouted(dir: &Path, what: &str) {
    if let Ok(mut f) = log_file(dir, "misrouted") {
        let _ = writeln!(f, "{what}");
    }
}

impl Spout for IdSpout {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["id"]));
    }

    fn open(&mut self, _ctx: &TopologyContext) -> Result<(), ComponentError> {
        let done = ids_in(&self.out, "acked");
        if let Some(queue) = &mut self.queue {
            // The queue hands out what was put back and not acked since, then new ids.
            queue.next = ids_in(&self.out, "taken").iter().max().map_or(0, |m| m + 1);
            let mut back: Vec<u64> = ids_in(&self.out, "requeued")
                .into_iter()
                .filter(|i| !done.contains(i))
                .collect();
            back.sort_unstable_by(|a, b| b.cmp(a));
            self.todo = back;
        } else {
            self.todo = (0..self.ids).rev().filter(|i| !done.contains(i)).collect();
        }
        self.acked = Some(log_file(&self.out, "acked")?);
        self.failed = Some(log_file(&self.out, "failed")?);
        self.emitted_log = Some(log_file(&self.out, "emitted")?);
        // One line per spout instance opened: a spout kept across a rebalance opens once.
        writeln!(log_file(&self.out, "opened")?, "{}", std::process::id())?;
        Ok(())
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        let started = *self.started.get_or_insert_with(Instant::now);
        if self.emitted as f64 >= started.elapsed().as_secs_f64() * self.rate {
            return Ok(());
        }
        let next = match (self.todo.pop(), &mut self.queue) {
            (Some(id), _) => Some(id),
            (None, Some(q)) if q.next < self.ids => {
                let id = q.next;
                q.next += 1;
                writeln!(q.taken, "{id}")?;
                Some(id)
            }
            (None, _) => None,
        };
        if let Some(id) = next {
            self.emitted += 1;
            out.emit_with_id(values![id as i64], id)?;
            if let Some(f) = &mut self.emitted_log {
                writeln!(f, "{id}")?;
            }
        }
        Ok(())
    }

    fn ack(&mut self, id: MessageId) {
        if let Some(f) = &mut self.acked {
            let _ = writeln!(f, "{id}");
        }
    }

    fn fail(&mut self, id: MessageId) {
        if let Some(f) = &mut self.failed {
            let _ = writeln!(f, "{id}");
        }
        if let Some(q) = &mut self.queue {
            let _ = writeln!(q.requeued, "{id}");
        }
        self.todo.push(id);
    }
}

struct Relay {
    out: PathBuf,
}

impl Bolt for Relay {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["id"]));
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        if input.source_component() != "ids" {
            misrouted(
                &self.out,
                &format!("relay got a tuple from {}", input.source_component()),
            );
        }
        out.emit(&[&input], values![input.get_i64("id")?])?;
        out.ack(&input);
        Ok(())
    }
}

/// Emits an id once both its halves (from `relay` and `mirror`) are in, anchored to both.
struct Join {
    halves: std::collections::HashMap<i64, [Option<Tuple>; 2]>,
}

impl Bolt for Join {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["id"]));
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        let id = input.get_i64("id")?;
        let side = usize::from(input.source_component() == "mirror");
        let halves = self.halves.entry(id).or_default();
        // A replayed half replaces one from a tree that failed: fail that one, never ack it
        // (its tree must not complete without reaching the sink).
        if let Some(stale) = halves[side].replace(input) {
            out.fail(&stale);
        }
        if halves.iter().all(Option::is_some) {
            let [Some(left), Some(right)] = self.halves.remove(&id).unwrap_or_default() else {
                return Ok(());
            };
            out.emit(&[&left, &right], values![id])?;
            out.ack(&left);
            out.ack(&right);
        }
        Ok(())
    }
}

struct Sink {
    file: Option<File>,
    /// The component it must get its tuples from.
    upstream: &'static str,
    out: PathBuf,
    error_every: Option<i64>,
    delay: Duration,
    /// This task and the sink's tasks, to check that fields grouping kept every key on its task.
    task: TaskId,
    tasks: Vec<TaskId>,
    hang_at: Option<i64>,
}

impl Bolt for Sink {
    fn prepare(&mut self, ctx: &TopologyContext) -> Result<(), ComponentError> {
        self.file = Some(log_file(&self.out, "seen")?);
        self.task = ctx.this_task_id();
        self.tasks = ctx.component_tasks("sink").to_vec();
        // The task numbering this worker runs under: it must never change (rebalance moves
        // tasks, it does not renumber them).
        let layout: Vec<String> = ctx
            .component_ids()
            .map(|c| format!("{c}={:?}", ctx.component_tasks(c)))
            .collect();
        writeln!(log_file(&self.out, "layout")?, "{}", layout.join(" "))?;
        Ok(())
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        let id = input.get_i64("id")?;
        if input.source_component() != self.upstream {
            misrouted(
                &self.out,
                &format!("sink got id {id} from {}", input.source_component()),
            );
        }
        if id % 100 == 0 {
            // What a topology author prints lands in the worker log (as a timed `stdout` line).
            println!("sink saw id {id}");
        }
        let marker = self.out.join("hung");
        if self.hang_at == Some(id) && !marker.exists() {
            File::create(&marker)?;
            // A call that never returns.
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        let owner = squall_worker::fields_target(&[Value::I64(id)], &self.tasks);
        if owner != Some(self.task) {
            misrouted(
                &self.out,
                &format!(
                    "id {id} reached sink task {} but hashes to {owner:?}",
                    self.task
                ),
            );
        }
        if !self.delay.is_zero() {
            std::thread::sleep(self.delay);
        }
        if let Some(f) = &mut self.file {
            writeln!(f, "{id}")?;
        }
        if self.error_every.is_some_and(|k| id % k == 0) {
            out.report_error(&format!("id {id} is unlucky"));
        }
        out.ack(&input);
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let (ids, rate, out, queue) = (args.ids, args.rate, args.out.clone(), args.queue);
    let mut b = TopologyBuilder::new();
    b.set_spout(
        "ids",
        move || {
            let files = || -> std::io::Result<Queue> {
                Ok(Queue {
                    next: 0,
                    taken: log_file(&out, "taken")?,
                    requeued: log_file(&out, "requeued")?,
                })
            };
            IdSpout {
                ids,
                rate,
                out: out.clone(),
                todo: Vec::new(),
                emitted: 0,
                started: None,
                acked: None,
                failed: None,
                emitted_log: None,
                queue: if queue { files().ok() } else { None },
            }
        },
        1,
    );
    let out = args.out.clone();
    b.set_bolt(
        "relay",
        move || Relay { out: out.clone() },
        args.parallelism,
    )
    .shuffle_grouping("ids");
    if args.join {
        let out = args.out.clone();
        b.set_bolt(
            "mirror",
            move || Relay { out: out.clone() },
            args.parallelism,
        )
        .shuffle_grouping("ids");
        b.set_bolt(
            "join",
            || Join {
                halves: Default::default(),
            },
            args.parallelism,
        )
        .fields_grouping("relay", ["id"])
        .fields_grouping("mirror", ["id"]);
    }
    let upstream = if args.join { "join" } else { "relay" };
    let out = args.out.clone();
    let (error_every, delay, hang_at) = (args.error_every, args.sink_delay, args.hang_at);
    b.set_bolt(
        "sink",
        move || Sink {
            file: None,
            upstream,
            out: out.clone(),
            error_every,
            delay,
            task: 0,
            tasks: Vec::new(),
            hang_at,
        },
        args.parallelism,
    )
    .fields_grouping(upstream, ["id"]);
    let topology = b.build()?;
    let mut conf = Config::new();
    conf.set_message_timeout_secs(3);
    if squall_worker::serve_cluster_role(&topology, &conf)? {
        return Ok(());
    }
    Err("run me with `squall submit`".into())
}
