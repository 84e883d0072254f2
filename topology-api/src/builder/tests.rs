use super::*;
use crate::{BoltCollector, ComponentError, SpoutCollector, TopologyProblem, Tuple, Value, values};

struct Src(Vec<(&'static str, &'static [&'static str], bool)>);
impl Spout for Src {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        for (stream, fields, direct) in &self.0 {
            if *direct {
                out.declare_direct_stream(*stream, Fields::new(fields.iter().copied()));
            } else {
                out.declare_stream(*stream, Fields::new(fields.iter().copied()));
            }
        }
    }
    fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        out.emit(values![1])?;
        Ok(())
    }
}

struct Pass;
impl Bolt for Pass {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["x"]));
    }
    fn execute(&mut self, t: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        out.ack(&t);
        Ok(())
    }
}

fn words() -> Src {
    Src(vec![
        ("default", &["word"], false),
        ("direct", &["word"], true),
    ])
}

fn problems(b: TopologyBuilder) -> Vec<TopologyProblem> {
    b.build()
        .expect_err("topology should be invalid")
        .problems()
        .to_vec()
}

#[test]
fn a_valid_topology_keeps_its_wiring() {
    let mut b = TopologyBuilder::new();
    b.set_spout("s", words, 2).max_spout_pending(5);
    b.set_bolt("a", || Pass, 3)
        .num_tasks(6)
        .shuffle_grouping("s")
        .direct_grouping(("s", "direct"));
    b.set_bolt("b", || Pass, 1).fields_grouping("a", ["x"]);
    let t = b.build().expect("valid");
    let a = t.spec().component("a").expect("a");
    assert_eq!((a.parallelism, a.tasks), (3, 6));
    assert_eq!(a.inputs.len(), 2);
    assert_eq!(a.inputs[1].stream, "direct");
    let s = t.spec().component("s").expect("s");
    assert_eq!(
        s.config.get_u64(config::TOPOLOGY_MAX_SPOUT_PENDING),
        Some(5)
    );
    assert_eq!(s.tasks, 2);
}

#[test]
fn every_problem_is_named_in_one_error() {
    let mut b = TopologyBuilder::new();
    b.set_spout("s", words, 1);
    b.set_bolt("a", || Pass, 0).fields_grouping("s", ["nope"]);
    b.set_bolt("a", || Pass, 1).shuffle_grouping("ghost");
    b.set_bolt("c", || Pass, 1)
        .shuffle_grouping(("s", "missing"))
        .direct_grouping("s")
        .shuffle_grouping(("s", "direct"));
    let found = problems(b);
    let expected = [
        TopologyProblem::DuplicateComponent("a".into()),
        TopologyProblem::ZeroParallelism("a".into()),
        TopologyProblem::UndeclaredField {
            component: "a".into(),
            upstream: "s".into(),
            stream: "default".into(),
            grouping: "fields".into(),
            field: "nope".into(),
        },
        TopologyProblem::UnknownComponent {
            component: "a".into(),
            upstream: "ghost".into(),
        },
        TopologyProblem::UnknownStream {
            component: "c".into(),
            upstream: "s".into(),
            stream: "missing".into(),
        },
        TopologyProblem::DirectGroupingOnPlainStream {
            component: "c".into(),
            upstream: "s".into(),
            stream: "default".into(),
        },
        TopologyProblem::PlainGroupingOnDirectStream {
            component: "c".into(),
            upstream: "s".into(),
            stream: "direct".into(),
            grouping: "shuffle".into(),
        },
    ];
    for p in &expected {
        assert!(found.contains(p), "missing {p:?} in {found:?}");
    }
}

#[test]
fn cycles_are_rejected_with_their_path() {
    let mut b = TopologyBuilder::new();
    b.set_spout("s", words, 1);
    b.set_bolt("a", || Pass, 1)
        .shuffle_grouping("s")
        .shuffle_grouping("b");
    b.set_bolt("b", || Pass, 1).shuffle_grouping("a");
    let err = b.build().expect_err("cycle");
    assert_eq!(
        err.problems(),
        &[TopologyProblem::Cycle(vec![
            "a".into(),
            "b".into(),
            "a".into()
        ])]
    );
    assert_eq!(err.to_string(), "invalid topology: cycle: a -> b -> a");
}

#[test]
fn reserved_ids_zero_tasks_and_no_spout_are_rejected() {
    let mut b = TopologyBuilder::new();
    b.set_bolt("__acker", || Pass, 1).num_tasks(0);
    let found = problems(b);
    assert!(found.contains(&TopologyProblem::NoSpout));
    assert!(found.contains(&TopologyProblem::InvalidComponentId("__acker".into())));
    assert!(found.contains(&TopologyProblem::ZeroTasks("__acker".into())));

    let mut b = TopologyBuilder::new();
    b.set_spout(
        "s",
        || Src(vec![("__x", &["a"], false), ("", &["a"], false)]),
        1,
    );
    let found = problems(b);
    assert_eq!(found.len(), 2, "{found:?}");
}

#[test]
fn a_spec_round_trips_through_json() {
    let mut b = TopologyBuilder::new();
    b.set_spout("s", words, 1);
    b.set_bolt("a", || Pass, 2)
        .partial_key_grouping("s", ["word"])
        .config("my.key", Value::from("v").to_string());
    let t = b.build().expect("valid");
    let json = serde_json::to_string(t.spec().as_ref()).expect("serialize");
    let back: TopologySpec = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(&back, t.spec().as_ref());
}
