//! The wire form of a batch: compact, self-delimiting, and checked on the way in.
//!
//! A batch is a kind byte (1 = tuples, 2 = acker messages), a varint count, then the entries.
//! A tuple is its destination task, source task and stream index (the position of its
//! (component, stream) in the topology's declaration order, which every worker computes the
//! same way), its tree ids as fixed 8-byte pairs, and its values, each a tag byte and a
//! payload. Decoding checks every length against the bytes left, so garbage gives an error,
//! never a panic or a huge allocation.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use squall_topology_api::{
    AnchorIds, CompactString, StreamSchema, TaskId, Topology, Tuple, Value, Values,
};

use crate::message::{AckKind, AckMsg, Batch, Delivery};

const TUPLES: u8 = 1;
const ACKS: u8 = 2;

/// Nesting of lists and maps deeper than this is refused, so a hostile payload cannot
/// overflow the decoder's stack.
const MAX_DEPTH: u32 = 64;

/// Most entries reserved ahead of decoding them. A count is checked against the bytes left,
/// but an entry in memory is larger than its smallest encoding (a 1-byte value is a 32-byte
/// `Value`), and nested lists would each reserve for the whole rest of the payload; past this,
/// vectors grow as entries actually arrive, so memory stays proportional to what was received.
const MAX_RESERVED: usize = 1024;

/// Why a payload could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The payload ended in the middle of something.
    #[error("truncated batch")]
    Truncated,
    /// A tag, kind or index that means nothing.
    #[error("invalid batch: {0}")]
    Invalid(&'static str),
}

/// The streams of a topology, numbered the same way in every worker.
pub(crate) struct StreamTable {
    schemas: Vec<&'static StreamSchema>,
    index: FxHashMap<usize, u32>,
}

impl StreamTable {
    pub fn new(topology: &Topology) -> Self {
        let schemas: Vec<&'static StreamSchema> = topology
            .spec()
            .components
            .iter()
            .flat_map(|c| {
                c.outputs
                    .iter()
                    .map(move |s| StreamSchema::intern(&c.id, &s.id, s.fields.clone()))
            })
            .collect();
        let index = schemas
            .iter()
            .enumerate()
            .map(|(i, s)| (*s as *const StreamSchema as usize, i as u32))
            .collect();
        StreamTable { schemas, index }
    }

    fn index_of(&self, schema: &'static StreamSchema) -> Option<u32> {
        self.index
            .get(&(schema as *const StreamSchema as usize))
            .copied()
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn put_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.push(0),
        Value::Bool(b) => out.push(if *b { 2 } else { 1 }),
        Value::I64(i) => {
            out.push(3);
            put_varint(out, ((i << 1) ^ (i >> 63)) as u64);
        }
        Value::F64(f) => {
            out.push(4);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::Str(s) => {
            out.push(5);
            put_bytes(out, s.as_bytes());
        }
        Value::Bytes(b) => {
            out.push(6);
            put_bytes(out, b);
        }
        Value::List(items) => {
            out.push(7);
            put_varint(out, items.len() as u64);
            for x in items {
                put_value(out, x);
            }
        }
        Value::Map(m) => {
            out.push(8);
            put_varint(out, m.len() as u64);
            for (k, x) in m {
                put_bytes(out, k.as_bytes());
                put_value(out, x);
            }
        }
    }
}

/// Appends the encoding of some deliveries; tuples on streams the table does not know (ticks
/// are never sent) are skipped.
pub(crate) fn encode_tuples(table: &StreamTable, deliveries: &[&Delivery], out: &mut Vec<u8>) {
    out.push(TUPLES);
    put_varint(out, deliveries.len() as u64);
    for d in deliveries {
        let stream = table.index_of(d.tuple.schema()).unwrap_or(u32::MAX);
        put_varint(out, u64::from(d.task));
        put_varint(out, u64::from(d.tuple.source_task()));
        put_varint(out, u64::from(stream));
        let ids = d.tuple.anchor_ids();
        put_varint(out, ids.len() as u64);
        for (root, edge) in ids {
            out.extend_from_slice(&root.to_le_bytes());
            out.extend_from_slice(&edge.to_le_bytes());
        }
        let values = d.tuple.values();
        put_varint(out, values.len() as u64);
        for v in values.iter() {
            put_value(out, v);
        }
    }
}

/// Appends the encoding of some acker messages.
pub(crate) fn encode_acks(msgs: &[&AckMsg], out: &mut Vec<u8>) {
    out.push(ACKS);
    put_varint(out, msgs.len() as u64);
    for m in msgs {
        out.push(m.kind as u8);
        put_varint(out, u64::from(m.dest));
        put_varint(out, u64::from(m.task));
        out.extend_from_slice(&m.root.to_le_bytes());
        out.extend_from_slice(&m.value.to_le_bytes());
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let (&b, rest) = self.buf.split_first().ok_or(DecodeError::Truncated)?;
        self.buf = rest;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(DecodeError::Invalid("varint too long"))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        u32::try_from(self.varint()?).map_err(|_| DecodeError::Invalid("number out of range"))
    }

    /// A count of items that each take at least `min_size` bytes: never more than fit.
    fn count(&mut self, min_size: usize) -> Result<usize, DecodeError> {
        let n = self.varint()?;
        if n > (self.buf.len() / min_size.max(1)) as u64 {
            return Err(DecodeError::Truncated);
        }
        Ok(n as usize)
    }

    fn fixed8(&mut self) -> Result<[u8; 8], DecodeError> {
        let (head, rest) = self.buf.split_at_checked(8).ok_or(DecodeError::Truncated)?;
        self.buf = rest;
        head.try_into().map_err(|_| DecodeError::Truncated)
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.count(1)?;
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn string(&mut self) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.bytes()?).map_err(|_| DecodeError::Invalid("string is not UTF-8"))
    }

    fn value(&mut self, depth: u32) -> Result<Value, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::Invalid("values nested too deeply"));
        }
        Ok(match self.byte()? {
            0 => Value::Null,
            1 => Value::Bool(false),
            2 => Value::Bool(true),
            3 => {
                let z = self.varint()?;
                Value::I64(((z >> 1) as i64) ^ -((z & 1) as i64))
            }
            4 => Value::F64(f64::from_le_bytes(self.fixed8()?)),
            5 => Value::Str(CompactString::new(self.string()?)),
            6 => Value::Bytes(self.bytes()?.to_vec()),
            7 => {
                let n = self.count(1)?;
                let mut items = Vec::with_capacity(n.min(MAX_RESERVED));
                for _ in 0..n {
                    items.push(self.value(depth + 1)?);
                }
                Value::List(items)
            }
            8 => {
                let n = self.count(2)?;
                let mut m = BTreeMap::new();
                for _ in 0..n {
                    let k = self.string()?.to_owned();
                    m.insert(k, self.value(depth + 1)?);
                }
                Value::Map(m)
            }
            _ => return Err(DecodeError::Invalid("unknown value tag")),
        })
    }
}

fn ack_kind(b: u8) -> Result<AckKind, DecodeError> {
    Ok(match b {
        0 => AckKind::Init,
        1 => AckKind::Ack,
        2 => AckKind::Fail,
        3 => AckKind::Reset,
        4 => AckKind::Completed,
        5 => AckKind::Failed,
        6 => AckKind::TimeoutReset,
        _ => return Err(DecodeError::Invalid("unknown acker message kind")),
    })
}

/// Decodes every batch in a payload.
pub(crate) fn decode(table: &StreamTable, payload: &[u8]) -> Result<Vec<Batch>, DecodeError> {
    let mut r = Reader { buf: payload };
    let mut batches = Vec::new();
    while !r.buf.is_empty() {
        match r.byte()? {
            TUPLES => {
                let n = r.count(5)?;
                let mut deliveries = Vec::with_capacity(n.min(MAX_RESERVED));
                for _ in 0..n {
                    let task = r.u32()?;
                    let source = r.u32()?;
                    let stream = r.u32()?;
                    let schema = *table
                        .schemas
                        .get(stream as usize)
                        .ok_or(DecodeError::Invalid("unknown stream"))?;
                    let n_ids = r.count(16)?;
                    let mut ids = AnchorIds::with_capacity(n_ids.min(MAX_RESERVED));
                    for _ in 0..n_ids {
                        let root = u64::from_le_bytes(r.fixed8()?);
                        let edge = u64::from_le_bytes(r.fixed8()?);
                        ids.push((root, edge));
                    }
                    let n_values = r.count(1)?;
                    let mut values = Values::with_capacity(n_values.min(MAX_RESERVED));
                    for _ in 0..n_values {
                        values.push(r.value(0)?);
                    }
                    deliveries.push(Delivery {
                        task,
                        tuple: Tuple::from_parts(schema, source as TaskId, values, ids),
                    });
                }
                batches.push(Batch::Tuples(deliveries));
            }
            ACKS => {
                let n = r.count(19)?;
                let mut msgs = Vec::with_capacity(n.min(MAX_RESERVED));
                for _ in 0..n {
                    let kind = ack_kind(r.byte()?)?;
                    let dest = r.u32()?;
                    let task = r.u32()?;
                    let root = u64::from_le_bytes(r.fixed8()?);
                    let value = u64::from_le_bytes(r.fixed8()?);
                    msgs.push(AckMsg {
                        root,
                        value,
                        task,
                        dest,
                        kind,
                    });
                }
                batches.push(Batch::Acks(msgs));
            }
            _ => return Err(DecodeError::Invalid("unknown batch kind")),
        }
    }
    Ok(batches)
}

#[cfg(test)]
mod tests;
