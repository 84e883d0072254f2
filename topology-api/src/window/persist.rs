//! How a stateful window's contents are written to a state store: each held tuple under its
//! own key (written once, deleted when it expires), and the windows' progress (which tuples are
//! in which window, what was evaluated, the watermark) under one key, rewritten at every
//! checkpoint. A pure codec: the runner decides when.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::session::SessionsProgress;
use super::sliding::SlidingProgress;
use super::watermark::WatermarkProgress;
use crate::state::StateError;
use crate::{AnchorIds, Fields, StreamSchema, TaskId, Tuple, Value, Values};

/// The key of the windows' progress.
pub(super) const PROGRESS_KEY: &[u8] = b"windows";

/// The key of held tuple number `n`.
pub(super) fn tuple_key(n: u64) -> Vec<u8> {
    format!("tuple/{n}").into_bytes()
}

/// The number in a held tuple's key, or `None` for another key.
pub(super) fn tuple_number(key: &[u8]) -> Option<u64> {
    std::str::from_utf8(key.strip_prefix(b"tuple/")?)
        .ok()?
        .parse()
        .ok()
}

/// A value as stored: as [`Value`], with floats kept bit for bit (JSON has no NaN).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum StoredValue {
    Null,
    Bool(bool),
    I64(i64),
    F64Bits(u64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<StoredValue>),
    Map(BTreeMap<String, StoredValue>),
}

impl From<&Value> for StoredValue {
    fn from(v: &Value) -> Self {
        match v {
            Value::Null => StoredValue::Null,
            Value::Bool(b) => StoredValue::Bool(*b),
            Value::I64(n) => StoredValue::I64(*n),
            Value::F64(f) => StoredValue::F64Bits(f.to_bits()),
            Value::Str(s) => StoredValue::Str(s.to_string()),
            Value::Bytes(b) => StoredValue::Bytes(b.clone()),
            Value::List(l) => StoredValue::List(l.iter().map(StoredValue::from).collect()),
            Value::Map(m) => StoredValue::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), StoredValue::from(v)))
                    .collect(),
            ),
        }
    }
}

impl From<StoredValue> for Value {
    fn from(v: StoredValue) -> Self {
        match v {
            StoredValue::Null => Value::Null,
            StoredValue::Bool(b) => Value::Bool(b),
            StoredValue::I64(n) => Value::I64(n),
            StoredValue::F64Bits(bits) => Value::F64(f64::from_bits(bits)),
            StoredValue::Str(s) => Value::Str(s.into()),
            StoredValue::Bytes(b) => Value::Bytes(b),
            StoredValue::List(l) => Value::List(l.into_iter().map(Value::from).collect()),
            StoredValue::Map(m) => {
                Value::Map(m.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
            }
        }
    }
}

/// A held tuple as stored: where it came from and its values. It belongs to no tuple tree: a
/// stateful window's inputs are acked when the checkpoint holding them commits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoredTuple {
    component: String,
    stream: String,
    task: TaskId,
    fields: Fields,
    values: Vec<StoredValue>,
}

/// A copy of `input` that belongs to no tuple tree, as a stateful window holds it.
pub(super) fn detached(input: &Tuple) -> Tuple {
    Tuple::from_parts(
        input.schema(),
        input.source_task(),
        input.values().clone(),
        AnchorIds::new(),
    )
}

/// `tuple` as stored bytes.
pub(super) fn encode_tuple(tuple: &Tuple) -> Result<Vec<u8>, StateError> {
    let stored = StoredTuple {
        component: tuple.source_component().to_owned(),
        stream: tuple.source_stream().to_owned(),
        task: tuple.source_task(),
        fields: tuple.fields().clone(),
        values: tuple.values().iter().map(StoredValue::from).collect(),
    };
    serde_json::to_vec(&stored)
        .map_err(|e| StateError::new(format!("a window's tuple does not encode: {e}")))
}

/// The tuple stored as `bytes`.
pub(super) fn decode_tuple(bytes: &[u8]) -> Result<Tuple, StateError> {
    let stored: StoredTuple = serde_json::from_slice(bytes)
        .map_err(|e| StateError::new(format!("a window's stored tuple does not decode: {e}")))?;
    if stored.values.len() != stored.fields.len() {
        return Err(StateError::new(format!(
            "a window's stored tuple has {} values for {} fields",
            stored.values.len(),
            stored.fields.len()
        )));
    }
    let schema = StreamSchema::intern(&stored.component, &stored.stream, stored.fields);
    let values: Values = stored.values.into_iter().map(Value::from).collect();
    Ok(Tuple::from_parts(
        schema,
        stored.task,
        values,
        AnchorIds::new(),
    ))
}

/// The windows' shape as it stood.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) enum CoreProgress {
    Sliding(SlidingProgress<u64>),
    Sessions(SessionsProgress<String, u64>),
}

/// Everything but the tuples: where a task's windows stood at a checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Progress {
    pub(super) core: CoreProgress,
    pub(super) watermarks: WatermarkProgress,
    pub(super) next_number: u64,
    pub(super) last_now: i64,
}

pub(super) fn encode_progress(progress: &Progress) -> Result<Vec<u8>, StateError> {
    serde_json::to_vec(progress)
        .map_err(|e| StateError::new(format!("a window's progress does not encode: {e}")))
}

pub(super) fn decode_progress(bytes: &[u8]) -> Result<Progress, StateError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StateError::new(format!("a window's stored progress does not decode: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values;

    #[test]
    fn a_tuple_comes_back_with_its_source_and_every_value_exactly() {
        let mut map = BTreeMap::new();
        map.insert("k".to_owned(), Value::F64(f64::NAN));
        let fields = Fields::new(["s", "n", "f", "b", "l", "m", "z"]);
        let values = values![
            "storm",
            -7,
            1.5,
            Value::Bytes(vec![0, 255]),
            Value::List(vec![Value::Bool(true), Value::F64(f64::INFINITY)]),
            Value::Map(map),
            Value::Null
        ];
        let t = Tuple::from_parts(
            StreamSchema::intern("events", "clicks", fields.clone()),
            9,
            values.clone(),
            AnchorIds::new(),
        );
        let back = decode_tuple(&encode_tuple(&t).unwrap()).unwrap();
        assert_eq!(back.source_component(), "events");
        assert_eq!(back.source_stream(), "clicks");
        assert_eq!(back.source_task(), 9);
        assert_eq!(back.fields(), &fields);
        // NaN is not equal to itself: compare the stored forms.
        let stored = |v: &Values| v.iter().map(StoredValue::from).collect::<Vec<_>>();
        assert_eq!(
            format!("{:?}", stored(back.values())),
            format!("{:?}", stored(&values))
        );
        assert!(back.anchor_ids().is_empty());
    }

    #[test]
    fn a_damaged_tuple_is_an_error_not_a_panic() {
        assert!(decode_tuple(b"{").is_err());
        let lying = br#"{"component":"a","stream":"default","task":1,"fields":["x","y"],"values":[{"I64":1}]}"#;
        assert!(decode_tuple(lying).is_err());
    }

    #[test]
    fn tuple_keys_carry_their_number() {
        assert_eq!(tuple_number(&tuple_key(42)), Some(42));
        assert_eq!(tuple_number(PROGRESS_KEY), None);
        assert_eq!(tuple_number(b"tuple/x"), None);
    }
}
