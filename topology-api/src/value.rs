//! Dynamically typed tuple values.
//!
//! A tuple is a short list of [`Value`]s. Strings up to 24 bytes are stored inline
//! ([`CompactString`]), so the words of a word count never touch the allocator; a tuple of one
//! or two values ([`Values`]) lives inline too.

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};

pub use compact_str::CompactString;
use smallvec::SmallVec;

/// One value of a tuple: Storm's dynamic types, as a Rust enum.
///
/// # Examples
/// ```
/// use squall_topology_api::Value;
/// let v = Value::from("storm");
/// assert_eq!(v.as_str(), Some("storm"));
/// assert_eq!(Value::from(7).as_i64(), Some(7));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// Java's `null`.
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer (Storm's int and long both map here).
    I64(i64),
    /// A 64-bit float.
    F64(f64),
    /// A UTF-8 string; short ones are stored inline.
    Str(CompactString),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// A list of values.
    List(Vec<Value>),
    /// A map with string keys (the shape JSON and the multi-lang protocol can carry).
    Map(BTreeMap<String, Value>),
}

impl Value {
    /// The name of this value's type, as used in error messages.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::Value;
    /// assert_eq!(Value::from("word").type_name(), "string");
    /// assert_eq!(Value::from(3).type_name(), "i64");
    /// assert_eq!(Value::Null.type_name(), "null");
    /// ```
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::I64(_) => "i64",
            Value::F64(_) => "f64",
            Value::Str(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Map(_) => "map",
        }
    }

    /// The string, if this is a string.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::Value;
    /// assert_eq!(Value::from("storm").as_str(), Some("storm"));
    /// assert_eq!(Value::from(1).as_str(), None);
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an integer.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::Value;
    /// assert_eq!(Value::from(42u32).as_i64(), Some(42));
    /// assert_eq!(Value::from(1.5).as_i64(), None);
    /// ```
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::I64(v) => Some(*v),
            _ => None,
        }
    }

    /// The float, if this is a float or an integer (widened).
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::Value;
    /// assert_eq!(Value::from(2.5).as_f64(), Some(2.5));
    /// assert_eq!(Value::from(2).as_f64(), Some(2.0));
    /// assert_eq!(Value::from("2").as_f64(), None);
    /// ```
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::F64(v) => Some(*v),
            Value::I64(v) => Some(*v as f64),
            _ => None,
        }
    }

    /// The boolean, if this is a boolean.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::Value;
    /// assert_eq!(Value::from(true).as_bool(), Some(true));
    /// assert_eq!(Value::from(1).as_bool(), None);
    /// ```
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(v) => Some(*v),
            _ => None,
        }
    }

    /// The bytes, if this is a byte string.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::Value;
    /// let v = Value::from(&b"\x01\x02"[..]);
    /// assert_eq!(v.as_bytes(), Some(&[1u8, 2][..]));
    /// assert_eq!(Value::from("text").as_bytes(), None);
    /// ```
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(v) => Some(v),
            _ => None,
        }
    }

    /// The elements, if this is a list.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::Value;
    /// let v = Value::from(vec![Value::from(1), Value::from("a")]);
    /// assert_eq!(v.as_list().map(|l| l.len()), Some(2));
    /// assert_eq!(Value::from(1).as_list(), None);
    /// ```
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) => Some(v),
            _ => None,
        }
    }

    /// The entries, if this is a map.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::Value;
    /// use std::collections::BTreeMap;
    /// let mut m = BTreeMap::new();
    /// m.insert("count".to_owned(), Value::from(3));
    /// let v = Value::from(m);
    /// assert_eq!(v.as_map().unwrap()["count"], Value::I64(3));
    /// assert_eq!(Value::Null.as_map(), None);
    /// ```
    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(v) => Some(v),
            _ => None,
        }
    }

    /// Whether this is [`Value::Null`].
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::Value;
    /// assert!(Value::Null.is_null());
    /// assert!(Value::from(None::<i64>).is_null());
    /// assert!(!Value::from(0).is_null());
    /// ```
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// Hashing is what fields grouping uses, so it must be the same in every process: floats hash
/// by their bits and maps in key order, and no random seed is involved anywhere.
impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            Value::Null => {}
            Value::Bool(v) => v.hash(state),
            Value::I64(v) => v.hash(state),
            Value::F64(v) => v.to_bits().hash(state),
            Value::Str(v) => v.as_str().hash(state),
            Value::Bytes(v) => v.hash(state),
            Value::List(v) => v.hash(state),
            Value::Map(v) => {
                for (k, val) in v {
                    k.hash(state);
                    val.hash(state);
                }
            }
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::I64(v) => write!(f, "{v}"),
            Value::F64(v) => write!(f, "{v}"),
            Value::Str(v) => write!(f, "{v:?}"),
            Value::Bytes(v) => write!(f, "<{} bytes>", v.len()),
            Value::List(v) => {
                f.write_str("[")?;
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_str("]")
            }
            Value::Map(v) => {
                f.write_str("{")?;
                for (i, (k, x)) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k:?}: {x}")?;
                }
                f.write_str("}")
            }
        }
    }
}

macro_rules! value_from {
    ($($t:ty => $variant:ident $(as $cast:ty)?),* $(,)?) => {
        $(impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant(v $(as $cast)?)
            }
        })*
    };
}

value_from! {
    bool => Bool,
    i64 => I64,
    i32 => I64 as i64,
    u32 => I64 as i64,
    i16 => I64 as i64,
    u16 => I64 as i64,
    u8 => I64 as i64,
    f64 => F64,
    f32 => F64 as f64,
    Vec<u8> => Bytes,
    Vec<Value> => List,
    BTreeMap<String, Value> => Map,
    CompactString => Str,
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(CompactString::new(v))
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Str(CompactString::from(v))
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Str(CompactString::new(v))
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Bytes(v.to_vec())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// The values of one tuple. One or two values are stored inline, without a heap allocation.
///
/// Build them with the [`values!`](crate::values) macro.
///
/// # Examples
/// ```
/// use squall_topology_api::{values, Value};
/// let v = values!["the", 3];
/// assert_eq!(v.len(), 2);
/// assert_eq!(v[1], Value::I64(3));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Hash)]
pub struct Values(SmallVec<[Value; 2]>);

impl Values {
    /// No values.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{values, Values};
    /// let v = Values::new();
    /// assert!(v.is_empty());
    /// assert_eq!(v, values![]);
    /// ```
    pub fn new() -> Self {
        Values(SmallVec::new())
    }

    /// Room for `n` values.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::Values;
    /// let mut v = Values::with_capacity(3);
    /// for word in ["a", "b", "c"] {
    ///     v.push(word);
    /// }
    /// assert_eq!(v.len(), 3);
    /// ```
    pub fn with_capacity(n: usize) -> Self {
        Values(SmallVec::with_capacity(n))
    }

    /// Appends a value.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{values, Value, Values};
    /// let mut v = Values::new();
    /// v.push("word");
    /// v.push(2);
    /// assert_eq!(v, values!["word", 2]);
    /// assert_eq!(v[1], Value::I64(2));
    /// ```
    pub fn push(&mut self, v: impl Into<Value>) {
        self.0.push(v.into());
    }

    /// The values as a vector.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{values, Value};
    /// let v: Vec<Value> = values!["a", 1].into_vec();
    /// assert_eq!(v, vec![Value::from("a"), Value::from(1)]);
    /// ```
    pub fn into_vec(self) -> Vec<Value> {
        self.0.into_vec()
    }
}

impl std::ops::Deref for Values {
    type Target = [Value];
    fn deref(&self) -> &[Value] {
        &self.0
    }
}

impl std::ops::DerefMut for Values {
    fn deref_mut(&mut self) -> &mut [Value] {
        &mut self.0
    }
}

impl From<Vec<Value>> for Values {
    fn from(v: Vec<Value>) -> Self {
        Values(SmallVec::from_vec(v))
    }
}

impl<const N: usize> From<[Value; N]> for Values {
    fn from(v: [Value; N]) -> Self {
        Values(v.into_iter().collect())
    }
}

impl FromIterator<Value> for Values {
    fn from_iter<I: IntoIterator<Item = Value>>(iter: I) -> Self {
        Values(iter.into_iter().collect())
    }
}

impl IntoIterator for Values {
    type Item = Value;
    type IntoIter = smallvec::IntoIter<[Value; 2]>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Values {
    type Item = &'a Value;
    type IntoIter = std::slice::Iter<'a, Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Builds [`Values`] from anything that converts [`Into<Value>`](Value).
///
/// # Examples
/// ```
/// use squall_topology_api::values;
/// let v = values!["word", 1, 2.5, true];
/// assert_eq!(v.len(), 4);
/// ```
#[macro_export]
macro_rules! values {
    () => { $crate::Values::new() };
    ($($v:expr),+ $(,)?) => {{
        let mut v = $crate::Values::with_capacity([$(stringify!($v)),+].len());
        $(v.push($v);)+
        v
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_stay_inline_and_convert_back() {
        let v = Value::from("abcdefghij");
        match &v {
            Value::Str(s) => assert!(!s.is_heap_allocated()),
            other => panic!("expected a string, got {other:?}"),
        }
        assert_eq!(v.as_str(), Some("abcdefghij"));
        assert_eq!(v.as_i64(), None);
    }

    #[test]
    fn hash_is_the_same_for_equal_values() {
        use std::hash::BuildHasher;
        let h = rustc_hash::FxBuildHasher;
        let a = Value::List(vec![Value::from(1.5), Value::from("x")]);
        let b = a.clone();
        assert_eq!(h.hash_one(&a), h.hash_one(&b));
        assert_ne!(h.hash_one(Value::from(1)), h.hash_one(Value::from(2)));
    }

    #[test]
    fn values_macro_keeps_order_and_types() {
        let v = values!["a", 2, None::<i64>];
        assert_eq!(&v[..], &[Value::from("a"), Value::I64(2), Value::Null]);
        assert_eq!(values![].len(), 0);
    }
}
