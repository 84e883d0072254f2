use proptest::prelude::*;
use squall_topology_api::{
    Bolt, BoltCollector, ComponentError, Fields, OutputDeclarer, Spout, SpoutCollector,
    TopologyBuilder, Tuple,
};

use super::*;

struct S;
impl Spout for S {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["a", "b"]));
        out.declare_stream("other", Fields::new(["c"]));
    }
    fn next_tuple(&mut self, _out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        Ok(())
    }
}
struct B;
impl Bolt for B {
    fn execute(&mut self, _t: Tuple, _o: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        Ok(())
    }
}

fn table() -> StreamTable {
    let mut b = TopologyBuilder::new();
    b.set_spout("s", || S, 1);
    b.set_bolt("b", || B, 1)
        .shuffle_grouping("s")
        .shuffle_grouping(("s", "other"));
    StreamTable::new(&b.build().expect("valid"))
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::I64),
        any::<f64>()
            .prop_filter("NaN never equals itself", |f| !f.is_nan())
            .prop_map(Value::F64),
        ".{0,40}".prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            proptest::collection::btree_map(".{0,8}", inner, 0..4).prop_map(Value::Map),
        ]
    })
}

proptest! {
    #[test]
    fn tuples_survive_the_round_trip(
        values in proptest::collection::vec(value(), 0..4),
        ids in proptest::collection::vec(any::<(u64, u64)>(), 0..3),
        task in 1u32..1000, source in 1u32..1000, other_stream in any::<bool>(),
    ) {
        let t = table();
        let schema = t.schemas[usize::from(other_stream)];
        let d = Delivery {
            task,
            tuple: Tuple::from_parts(schema, source, values.clone().into(), ids.iter().copied().collect()),
        };
        let mut buf = Vec::new();
        encode_tuples(&t, &[&d], &mut buf);
        let batches = decode(&t, &buf).expect("decodes");
        prop_assert_eq!(batches.len(), 1);
        let Batch::Tuples(got) = &batches[0] else { panic!("not tuples") };
        prop_assert_eq!(got[0].task, task);
        prop_assert_eq!(got[0].tuple.source_task(), source);
        prop_assert!(std::ptr::eq(got[0].tuple.schema(), schema));
        prop_assert_eq!(&got[0].tuple.anchor_ids()[..], &ids[..]);
        prop_assert_eq!(&got[0].tuple.values()[..], &values[..]);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(&table(), &bytes);
    }
}

#[test]
fn acker_messages_survive_the_round_trip() {
    let msgs = [
        AckMsg {
            root: u64::MAX,
            value: 7,
            task: 3,
            dest: 9,
            kind: AckKind::Init,
        },
        AckMsg {
            root: 1,
            value: 0,
            task: 0,
            dest: 2,
            kind: AckKind::TimeoutReset,
        },
    ];
    let mut buf = Vec::new();
    encode_acks(&msgs.iter().collect::<Vec<_>>(), &mut buf);
    let batches = decode(&table(), &buf).expect("decodes");
    let [Batch::Acks(got)] = &batches[..] else {
        panic!("one ack batch")
    };
    assert_eq!(got, &msgs);
}

#[test]
fn a_huge_count_in_a_short_payload_is_refused() {
    let buf = [TUPLES, 0xff, 0xff, 0xff, 0xff, 0x0f];
    assert_eq!(decode(&table(), &buf).err(), Some(DecodeError::Truncated));
    assert_eq!(
        decode(&table(), &[9]).err(),
        Some(DecodeError::Invalid("unknown batch kind"))
    );
}
