//! An emit must carry as many values as its stream declares fields: otherwise `emit` returns
//! an error and nothing is delivered (Storm: "Tuple created with wrong number of fields").
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::sync::{Arc, Mutex};

use squall_worker::prelude::*;
use squall_worker::testing::CompleteTopology;
use squall_worker::{EmitError, TaskId};

type Refusals = Arc<Mutex<Vec<EmitError>>>;

/// Emits one tuple with a value too many, then a good one.
struct Ids {
    done: bool,
    refusals: Refusals,
}

impl Spout for Ids {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["id"]));
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        if !self.done {
            self.done = true;
            if let Err(e) = out.emit_with_id(values![1, "extra"], 1) {
                self.refusals.lock().unwrap().push(e);
            }
            out.emit_with_id(values![2], 2)?;
        }
        Ok(())
    }

    fn is_exhausted(&self) -> bool {
        self.done
    }
}

/// Emits each input with a value missing, then as declared.
struct Pair {
    refusals: Refusals,
}

impl Bolt for Pair {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["a", "b"]));
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        let id = input.get_i64("id")?;
        let refused: Result<&[TaskId], EmitError> = out.emit(&[&input], values![id]);
        if let Err(e) = refused {
            self.refusals.lock().unwrap().push(e);
        }
        out.emit(&[&input], values![id, id])?;
        out.ack(&input);
        Ok(())
    }
}

#[test]
fn an_emit_with_the_wrong_value_count_is_an_error_and_delivers_nothing() {
    let refusals = Refusals::default();
    let mut b = TopologyBuilder::new();
    let r = Arc::clone(&refusals);
    b.set_spout(
        "ids",
        move || Ids {
            done: false,
            refusals: Arc::clone(&r),
        },
        1,
    );
    let r = Arc::clone(&refusals);
    b.set_bolt(
        "pair",
        move || Pair {
            refusals: Arc::clone(&r),
        },
        1,
    )
    .shuffle_grouping("ids");
    let run = CompleteTopology::new()
        .run(&b.build().unwrap())
        .expect("runs");
    assert!(run.is_complete());
    assert_eq!(run.emitted("ids", "default"), [&values![2]]);
    assert_eq!(run.emitted("pair", "default"), [&values![2, 2]]);
    assert_eq!(run.spout_acked(), 1, "the refused emit started no tree");
    let refusals = refusals.lock().unwrap();
    assert_eq!(
        *refusals,
        [
            EmitError::WrongFieldCount {
                stream: "default".into(),
                component: "ids".into(),
                expected: 1,
                got: 2,
            },
            EmitError::WrongFieldCount {
                stream: "default".into(),
                component: "pair".into(),
                expected: 2,
                got: 1,
            },
        ]
    );
    assert_eq!(
        refusals[0].to_string(),
        r#"tuple created with wrong number of fields: stream "default" of component "ids" declares 1, got 2"#
    );
}
