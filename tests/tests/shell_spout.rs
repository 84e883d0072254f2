//! The shell spout against a scripted process speaking Storm's multi-lang protocol by hand:
//! next/ack/fail ping-pong to `sync`, string message ids mapped both ways, `need_task_ids`
//! answered, an `error` reported, and a failed tree replayed by the script until every id is
//! acked.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use squall_worker::multilang::ShellSpout;
use squall_worker::prelude::*;

/// Fails the first tuple of sentence 3, acks everything else, and records what it saw.
struct Sink {
    seen: Arc<Mutex<BTreeSet<String>>>,
    failed_once: bool,
}

impl Bolt for Sink {
    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        let sentence = input.get_str("sentence")?.to_owned();
        if sentence == "sentence 3" && !self.failed_once {
            self.failed_once = true;
            out.fail(&input);
            return Ok(());
        }
        self.seen.lock().unwrap().insert(sentence);
        out.ack(&input);
        Ok(())
    }
}

#[test]
fn a_scripted_spout_emits_is_acked_and_replays_what_failed() {
    if squall_tests::python::python3().is_none() {
        return;
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("multilang/scripted_spout.py");
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let sink_seen = Arc::clone(&seen);
    let mut b = TopologyBuilder::new();
    b.set_spout(
        "sentences",
        move || {
            ShellSpout::new(["python3".to_owned(), script.display().to_string()])
                .output(Fields::new(["sentence"]))
        },
        1,
    );
    b.set_bolt(
        "sink",
        move || Sink {
            seen: Arc::clone(&sink_seen),
            failed_once: false,
        },
        1,
    )
    .shuffle_grouping("sentences");
    let topology = b.build().unwrap();
    let mut conf = Config::new();
    conf.set("scripted.sentences", 20);
    let running = LocalTopology::start("shell-spout", &conf, &topology).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while running.stats().spout_totals().acked < 20 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let stats = running.kill(Duration::from_millis(200));
    let spout = stats.component("sentences").unwrap();
    assert_eq!(stats.spout_totals().acked, 20, "every id acked: {stats:?}");
    assert_eq!(stats.spout_totals().failed, 1, "the one the sink failed");
    let expected: BTreeSet<String> = (0..20).map(|n| format!("sentence {n}")).collect();
    assert_eq!(*seen.lock().unwrap(), expected);
    let errors: Vec<&str> = spout.errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(errors, ["Shell Process Exception: scripted spout error"]);
}
