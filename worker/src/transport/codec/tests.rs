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

/// This process's peak virtual memory, in kB (`VmPeak`); 0 where /proc is missing.
fn peak_virtual_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmPeak:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn nested_counts_reserve_no_more_than_the_payload_holds() {
    // One tuple whose value is a list nested 60 deep, each level claiming as many items as
    // there are bytes left; the payload then ends, so decoding fails, but only after every
    // level has been opened.
    let t = table();
    // One tuple: task 1, source 1, stream 0, no tree ids, one value.
    let mut buf = vec![TUPLES, 1, 1, 1, 0, 0, 1];
    let padding = 1 << 20;
    for _ in 0..60 {
        buf.push(7);
        // 3-byte varint, patched below to the bytes that follow it.
        buf.extend([0x80, 0x80, 0x00]);
    }
    buf.extend(std::iter::repeat_n(0u8, padding));
    let mut i = 7;
    while buf[i] == 7 {
        let left = (buf.len() - i - 4) as u32;
        buf[i + 1] = 0x80 | (left & 0x7f) as u8;
        buf[i + 2] = 0x80 | ((left >> 7) & 0x7f) as u8;
        buf[i + 3] = (left >> 14) as u8;
        i += 4;
    }
    let before = peak_virtual_kb();
    let decoded = decode(&t, &buf);
    let grown_mb = peak_virtual_kb().saturating_sub(before) / 1024;
    assert!(decoded.is_err());
    // Each level reserved ~32 bytes per claimed item before, all levels at once: ~2 GB of
    // address space for a 1 MB payload.
    assert!(
        grown_mb < 256,
        "decoding a 1 MB payload reserved {grown_mb} MB more"
    );
}
