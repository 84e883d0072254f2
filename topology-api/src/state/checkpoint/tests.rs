use proptest::prelude::*;

use super::*;

/// `(txid, action)` of a step, its sequence number aside.
fn of(s: Option<Step>) -> Option<(i64, Action)> {
    s.map(|s| (s.txid, s.action))
}

/// `(txid, phase)` of the coordinator's progress.
fn at(c: &Coordinator) -> (i64, Phase) {
    (c.progress().txid, c.progress().phase)
}

/// Drives a coordinator through its start-up recovery.
fn started() -> Coordinator {
    let mut c = Coordinator::resume(Progress::default());
    let init = c.next(false).unwrap();
    assert_eq!(of(Some(init)), Some((-1, Action::InitState)));
    c.acked(init);
    c
}

#[test]
fn a_checkpoint_is_prepare_then_commit_when_the_interval_elapses() {
    let mut c = started();
    assert_eq!(c.next(false), None, "nothing is due before the interval");
    let prepare = c.next(true).unwrap();
    assert_eq!(of(Some(prepare)), Some((0, Action::Prepare)));
    assert_eq!(at(&c), (0, Phase::Preparing));
    assert_eq!(c.next(true), None, "one step in flight at a time");
    assert!(!c.acked(prepare));
    let commit = c.next(false).unwrap();
    assert_eq!(
        of(Some(commit)),
        Some((0, Action::Commit)),
        "commit follows without waiting"
    );
    assert!(commit.seq > prepare.seq);
    assert!(c.acked(commit));
    assert_eq!(at(&c), (0, Phase::Committed));
    assert_eq!(of(c.next(true)), Some((1, Action::Prepare)));
}

#[test]
fn a_failed_prepare_is_rolled_back_and_the_state_reloaded() {
    let mut c = started();
    let prepare = c.next(true).unwrap();
    c.failed(prepare);
    assert!(c.is_recovering());
    let rollback = c.next(false).unwrap();
    assert_eq!(of(Some(rollback)), Some((0, Action::Rollback)));
    c.acked(rollback);
    assert_eq!(at(&c), (-1, Phase::Committed));
    let init = c.next(false).unwrap();
    assert_eq!(of(Some(init)), Some((-1, Action::InitState)));
    c.acked(init);
    assert!(!c.is_recovering());
    assert_eq!(
        of(c.next(true)),
        Some((0, Action::Prepare)),
        "txid 0 is tried again"
    );
}

#[test]
fn a_failed_commit_is_finished_not_undone_and_each_try_has_its_own_sequence_number() {
    let mut c = started();
    let prepare = c.next(true).unwrap();
    c.acked(prepare);
    let commit = c.next(false).unwrap();
    c.failed(commit);
    let again = c.next(false).unwrap();
    assert_eq!(of(Some(again)), Some((0, Action::Commit)));
    assert_ne!(
        again, commit,
        "a retry is told apart from the try it replaces"
    );
    c.acked(commit); // a late answer for the abandoned try changes nothing
    assert_eq!(at(&c), (0, Phase::Committing));
    c.acked(again);
    assert_eq!(at(&c), (0, Phase::Committed));
    assert_eq!(of(c.next(false)), Some((0, Action::InitState)));
}

#[test]
fn a_restart_resolves_the_step_it_was_in_with_later_sequence_numbers() {
    let preparing = Progress {
        txid: 7,
        phase: Phase::Preparing,
        seq: 40,
    };
    let step = Coordinator::resume(preparing).next(false).unwrap();
    assert_eq!(of(Some(step)), Some((7, Action::Rollback)));
    assert_eq!(step.seq, 41);
    let committing = Progress {
        txid: 7,
        phase: Phase::Committing,
        seq: 3,
    };
    assert_eq!(
        of(Coordinator::resume(committing).next(false)),
        Some((7, Action::Commit))
    );
}

#[test]
fn answers_for_a_step_no_longer_in_flight_change_nothing() {
    let mut c = started();
    let prepare = c.next(true).unwrap();
    c.failed(prepare);
    c.acked(prepare); // a late ack of the failed step
    assert!(c.is_recovering());
    let rollback = c.next(false).unwrap();
    assert_eq!(of(Some(rollback)), Some((0, Action::Rollback)));
    c.failed(prepare); // a late fail of an old step does not abort the rollback in flight
    assert_eq!(c.next(false), None);
}

#[test]
fn action_names_round_trip() {
    for a in [
        Action::Prepare,
        Action::Commit,
        Action::Rollback,
        Action::InitState,
    ] {
        assert_eq!(Action::parse(a.as_str()), Some(a));
    }
    assert_eq!(Action::parse("prepare"), None);
}

proptest! {
    /// Whatever is acked, failed or lost, and however often the coordinator restarts from
    /// its persisted progress: a txid is committed only after its PREPARE was acked, a txid
    /// once committed is never rolled back, committed txids only grow, and every step emitted
    /// has a sequence number above every earlier one.
    #[test]
    fn commits_follow_acked_prepares_and_are_never_undone(
        events in proptest::collection::vec(0u8..5, 1..200)
    ) {
        let mut c = Coordinator::resume(Progress::default());
        let mut in_flight: Option<Step> = None;
        let mut prepared_acked: Option<i64> = None;
        let mut committed: i64 = -1;
        let mut last_seq = 0;
        for e in events {
            if in_flight.is_none() {
                in_flight = c.next(true);
                if let Some(s) = in_flight {
                    prop_assert!(s.seq > last_seq, "sequence numbers must grow");
                    last_seq = s.seq;
                }
            }
            let Some(s) = in_flight else { continue };
            match e {
                0..=2 => {
                    match s.action {
                        Action::Prepare => prepared_acked = Some(s.txid),
                        Action::Commit => {
                            prop_assert_eq!(prepared_acked, Some(s.txid), "commit without an acked prepare");
                            prop_assert!(s.txid >= committed);
                            committed = s.txid;
                        }
                        Action::Rollback => {
                            prop_assert!(s.txid > committed, "rolled back a committed txid");
                        }
                        Action::InitState => {}
                    }
                    c.acked(s);
                    in_flight = None;
                }
                3 => { c.failed(s); in_flight = None; }
                _ => {
                    // The coordinator's process dies: only the persisted progress survives.
                    c = Coordinator::resume(c.progress());
                    in_flight = None;
                }
            }
            let p = c.progress();
            if p.phase == Phase::Committed {
                prop_assert!(p.txid >= committed);
            }
        }
    }
}
