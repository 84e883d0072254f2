//! The XOR bookkeeping against a model of the whole protocol: random tree shapes (fan-out and
//! multi-anchoring), messages delivered in random orders.

use proptest::prelude::*;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use squall_topology_api::{AnchorIds, Fields, StreamSchema, Tuple, Values};

use super::*;
use crate::anchoring::{anchor_copy, messages_for, random_id};

const SPOUT_TASK: TaskId = 7;

fn tuple(ids: AnchorIds) -> Tuple {
    let schema = StreamSchema::intern("bolt", "default", Fields::new(["x"]));
    Tuple::from_parts(schema, 3, Values::new(), ids)
}

/// Plays one tree through spout, bolts and acks; returns every acker message it produced.
fn play_tree(seed: u64, max_tuples: usize) -> (u64, Vec<AckMsg>) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let root = random_id(&mut rng);
    let fan_out = rng.random_range(0..4usize);
    let mut init = 0u64;
    let mut live: Vec<Tuple> = Vec::new();
    for _ in 0..fan_out {
        let edge = random_id(&mut rng);
        init ^= edge;
        live.push(tuple(AnchorIds::from_slice(&[(root, edge)])));
    }
    let mut msgs = vec![AckMsg {
        root,
        value: init,
        task: SPOUT_TASK,
        dest: 0,
        kind: AckKind::Init,
    }];
    let mut emitted = fan_out;
    while !live.is_empty() {
        if emitted < max_tuples && rng.random_bool(0.55) {
            // A child anchored to one or two live tuples (multi-anchoring joins them).
            let a = rng.random_range(0..live.len());
            let b = rng.random_range(0..live.len());
            let anchors: Vec<&Tuple> = if a == b {
                vec![&live[a]]
            } else {
                vec![&live[a], &live[b]]
            };
            let ids = anchor_copy(&anchors, &mut rng);
            live.push(tuple(ids));
            emitted += 1;
        } else {
            let i = rng.random_range(0..live.len());
            let done = live.swap_remove(i);
            msgs.extend(messages_for(&done, AckKind::Ack));
        }
    }
    (root, msgs)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_tree_completes_exactly_once_after_its_last_message(
        seed in any::<u64>(), order in any::<u64>(), size in 1usize..40
    ) {
        let (root, mut msgs) = play_tree(seed, size);
        msgs.shuffle(&mut SmallRng::seed_from_u64(order));
        let mut acker = AckerState::default();
        let mut answers = Vec::new();
        for (i, m) in msgs.iter().enumerate() {
            if let Some(out) = acker.apply(m) {
                answers.push((i, out));
            }
        }
        prop_assert_eq!(answers.len(), 1);
        let (at, out) = answers[0];
        prop_assert_eq!(at, msgs.len() - 1);
        prop_assert_eq!(out, AckMsg { root, value: 0, task: SPOUT_TASK, dest: 0, kind: AckKind::Completed });
        prop_assert_eq!(acker.len(), 0);
    }

    #[test]
    fn a_tree_missing_one_ack_never_completes_and_is_dropped_after_the_timeout(
        seed in any::<u64>(), order in any::<u64>(), size in 1usize..40, pick in any::<usize>()
    ) {
        let (_, mut msgs) = play_tree(seed, size);
        prop_assume!(msgs.len() > 1);
        let dropped = 1 + pick % (msgs.len() - 1);
        msgs.remove(dropped);
        msgs.shuffle(&mut SmallRng::seed_from_u64(order));
        let mut acker = AckerState::default();
        for m in &msgs {
            prop_assert_eq!(acker.apply(m), None);
        }
        prop_assert_eq!(acker.len(), 1);
        prop_assert_eq!(acker.rotate(), 0);
        prop_assert_eq!(acker.rotate(), 0);
        prop_assert_eq!(acker.rotate(), 1);
        prop_assert_eq!(acker.len(), 0);
    }
}

#[test]
fn a_fail_fails_the_tree_even_before_its_init() {
    let mut acker = AckerState::default();
    let fail = AckMsg {
        root: 9,
        value: 0,
        task: 0,
        dest: 0,
        kind: AckKind::Fail,
    };
    assert_eq!(acker.apply(&fail), None);
    let init = AckMsg {
        root: 9,
        value: 5,
        task: 2,
        dest: 0,
        kind: AckKind::Init,
    };
    let out = acker.apply(&init).expect("answer");
    assert_eq!((out.kind, out.task), (AckKind::Failed, 2));
    assert_eq!(acker.len(), 0);
}

#[test]
fn a_reset_is_passed_to_the_spout_and_keeps_the_tree() {
    let mut acker = AckerState::default();
    acker.apply(&AckMsg {
        root: 9,
        value: 5,
        task: 2,
        dest: 0,
        kind: AckKind::Init,
    });
    acker.rotate();
    acker.rotate();
    let out = acker.apply(&AckMsg {
        root: 9,
        value: 0,
        task: 0,
        dest: 0,
        kind: AckKind::Reset,
    });
    assert_eq!(out.map(|o| o.kind), Some(AckKind::TimeoutReset));
    // The reset moved the tree into the current epoch: two more rotations keep it.
    acker.rotate();
    acker.rotate();
    assert_eq!(acker.len(), 1);
}
