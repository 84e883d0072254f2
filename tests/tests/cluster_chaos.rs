//! Chaos on real daemons: while a topology with a multi-anchored join runs, a seeded random
//! schedule kills workers, kills and restarts a supervisor and Nimbus, and rebalances. Every
//! id must be acked, with no tuple misrouted; duplicates (at-least-once) are counted and
//! printed. `SQUALL_CHAOS_SEED=N` replays a schedule; the seed is printed either way.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::HashSet;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use squall_tests::cluster::{Cluster, acked_but_unseen, all_acked, ids_in, lines_in};

const IDS: u64 = 6000;

#[derive(Debug, Clone, Copy)]
enum Event {
    KillWorker,
    RestartSupervisor,
    RestartNimbus,
    Rebalance,
}

#[test]
fn seeded_chaos_loses_no_id_of_a_joining_topology() {
    let seed: u64 = std::env::var("SQUALL_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("chaos seed {seed} (SQUALL_CHAOS_SEED={seed} replays this schedule)");
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut cluster = Cluster::start(&["127.0.7.2", "127.0.7.3", "127.0.7.4"], 2);
    let out = cluster.run_ids_with("ids", 2, IDS, 250, 200, &["--join"]);

    let mut events = vec![
        Event::KillWorker,
        Event::KillWorker,
        Event::RestartSupervisor,
        Event::RestartNimbus,
        Event::Rebalance,
    ];
    events.shuffle(&mut rng);
    let start = Instant::now();
    for event in events {
        std::thread::sleep(Duration::from_millis(rng.random_range(1500..4000)));
        match event {
            Event::KillWorker => {
                let live = cluster.live_workers();
                if let Some(&pid) = live.get(rng.random_range(0..live.len().max(1))) {
                    let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
                }
                println!(
                    "{:>5.1} s: killed worker {live:?}",
                    start.elapsed().as_secs_f64()
                );
            }
            Event::RestartSupervisor => {
                let i = rng.random_range(0..cluster.supervisors.len());
                cluster.kill_supervisor(i, false);
                std::thread::sleep(Duration::from_millis(rng.random_range(500..3000)));
                cluster.start_supervisor(i);
                println!(
                    "{:>5.1} s: restarted supervisor {i}",
                    start.elapsed().as_secs_f64()
                );
            }
            Event::RestartNimbus => {
                cluster.kill_nimbus();
                std::thread::sleep(Duration::from_millis(rng.random_range(500..3000)));
                cluster.start_nimbus(&[]);
                println!("{:>5.1} s: restarted nimbus", start.elapsed().as_secs_f64());
            }
            Event::Rebalance => {
                let r = cluster.squall(&["rebalance", "ids", "--workers", "3", "--wait", "1"]);
                assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
                println!(
                    "{:>5.1} s: rebalanced to 3 workers",
                    start.elapsed().as_secs_f64()
                );
            }
        }
    }

    let done = all_acked(&out, IDS, Duration::from_secs(180));
    let acked = ids_in(&out, "acked");
    let seen = lines_in(&out, "seen");
    let distinct: HashSet<&String> = seen.iter().collect();
    println!(
        "{} of {IDS} ids acked; the sink saw {} tuples, {} of them duplicates",
        acked.len(),
        seen.len(),
        seen.len() - distinct.len()
    );
    assert!(
        done,
        "ids lost (seed {seed}): first missing {:?}; logs in {}",
        (0..IDS)
            .filter(|i| !acked.contains(i))
            .take(10)
            .collect::<Vec<_>>(),
        cluster.dir.path().display()
    );
    assert_eq!(
        acked_but_unseen(&out),
        Vec::<u64>::new(),
        "acked without reaching the sink (seed {seed})"
    );
    let misrouted = lines_in(&out, "misrouted");
    assert!(
        misrouted.is_empty(),
        "misrouted (seed {seed}): {misrouted:?}"
    );
}
