//! The shell bolt against a scripted process speaking Storm's multi-lang protocol by hand:
//! every command in both directions, frames split across writes, blank lines between frames,
//! an unknown command, an ack of an unknown id and garbage JSON are each handled (or reported
//! as one error) without taking the topology down; a process that dies or hangs is replaced
//! and the inputs it held are failed, so their trees replay.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::PathBuf;
use std::time::Duration;

use squall_worker::multilang::ShellBolt;
use squall_worker::prelude::*;
use squall_worker::testing::CompleteTopology;
use squall_worker::values;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("multilang/scripted_bolt.py")
}

struct Sink;

impl Bolt for Sink {
    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        out.ack(&input);
        Ok(())
    }
}

fn topology(python: &'static str) -> Topology {
    let script = script();
    let mut b = TopologyBuilder::new();
    b.set_spout(
        "sentences",
        || squall_worker::testing::FixedSpout::new(Fields::new(["sentence"]), Vec::new()),
        1,
    );
    b.set_bolt(
        "split",
        move || {
            ShellBolt::new([python.to_owned(), script.display().to_string()])
                .output(Fields::new(["word"]))
        },
        1,
    )
    .shuffle_grouping("sentences");
    b.set_bolt("sink", || Sink, 1).shuffle_grouping("split");
    b.build().unwrap()
}

fn errors(run: &squall_worker::testing::CompletedRun, component: &str) -> Vec<String> {
    run.stats()
        .component(component)
        .map(|c| c.errors.iter().map(|e| e.message.clone()).collect())
        .unwrap_or_default()
}

#[test]
fn every_command_and_malformed_frame_is_handled_without_losing_a_tree() {
    let Some(python) = squall_tests::python::python3() else {
        return;
    };
    let markers = tempfile::tempdir().unwrap();
    let mut conf = Config::new();
    conf.set("scripted.marker.dir", markers.path().display().to_string());
    let inputs = [
        "plain two words",
        "split frame pieces",
        "blank lines first",
        "needids asks for targets",
        "unknown command then",
        "ackunknown id then",
        "garbage json then",
        "error reported then",
        "fail this once",
    ];
    let run = CompleteTopology::new()
        .capture(true)
        .conf(conf)
        .timeout(Duration::from_secs(30))
        .mock("sentences", inputs.iter().map(|s| values![*s]))
        .run(&topology(python))
        .unwrap();
    assert!(
        run.is_complete(),
        "acked {} failed {} errors {:?}",
        run.spout_acked(),
        run.spout_failed(),
        errors(&run, "split"),
    );
    assert_eq!(run.spout_failed(), 1, "the input the script failed, once");
    assert_eq!(
        run.spout_acked(),
        inputs.len() as u64,
        "its replay completed"
    );
    let mut words: Vec<String> = run
        .emitted("split", "default")
        .iter()
        .map(|v| v[0].as_str().unwrap().to_owned())
        .collect();
    let mut expected: Vec<&str> = inputs.iter().flat_map(|s| s.split(' ')).collect();
    words.sort();
    expected.sort_unstable();
    assert_eq!(words, expected, "every emit delivered once");
    let errors = errors(&run, "split");
    for reported in [
        "ack of unknown tuple id 123456789",
        "invalid JSON",
        "scripted error",
    ] {
        assert!(
            errors.iter().any(|e| e.contains(reported)),
            "{reported:?} not among the errors: {errors:?}"
        );
    }
    assert_eq!(errors.len(), 3, "{errors:?}");
}

#[test]
fn a_process_that_dies_or_hangs_is_replaced_and_its_inputs_replay() {
    let Some(python) = squall_tests::python::python3() else {
        return;
    };
    let markers = tempfile::tempdir().unwrap();
    let mut conf = Config::new();
    conf.set("scripted.marker.dir", markers.path().display().to_string());
    conf.set("topology.subprocess.timeout.secs", 2);
    let run = CompleteTopology::new()
        .capture(true)
        .conf(conf)
        .timeout(Duration::from_secs(60))
        .mock(
            "sentences",
            ["before", "die now", "after death", "hang now", "after hang"].map(|s| values![s]),
        )
        .run(&topology(python))
        .unwrap();
    let errors = errors(&run, "split");
    assert!(
        run.is_complete(),
        "acked {} failed {} errors {errors:?}",
        run.spout_acked(),
        run.spout_failed()
    );
    // At least the input each process held when it died; inputs already written to it fail
    // with it. All of them complete on replay.
    assert!(run.spout_failed() >= 2, "failed {}", run.spout_failed());
    assert_eq!(
        run.spout_acked(),
        5,
        "new processes took them on replay, and the rest"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("shell process died") && e.contains("closed its output")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("silent for")),
        "{errors:?}"
    );
}
