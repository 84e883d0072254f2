//! Field names of a stream.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The ordered field names of a stream, as declared by the component that emits it.
///
/// # Examples
/// ```
/// use squall_topology_api::Fields;
/// let f = Fields::new(["word", "count"]);
/// assert_eq!(f.index_of("count"), Some(1));
/// assert!(!f.contains("sentence"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fields(Arc<[String]>);

impl Fields {
    /// Fields with these names, in this order.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::Fields;
    /// let f = Fields::new(["word", "count"]);
    /// assert_eq!(f.names(), ["word", "count"]);
    /// let from_strings = Fields::new(vec![String::from("word"), String::from("count")]);
    /// assert_eq!(f, from_strings);
    /// ```
    pub fn new<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Fields(names.into_iter().map(Into::into).collect())
    }

    /// The position of a field. Streams have a handful of fields, so a scan beats hashing.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::Fields;
    /// let f = Fields::new(["word", "count"]);
    /// assert_eq!(f.index_of("count"), Some(1));
    /// assert_eq!(f.index_of("sentence"), None);
    /// ```
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.0.iter().position(|f| f == name)
    }

    /// Whether the stream has this field.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::Fields;
    /// let f = Fields::new(["word", "count"]);
    /// assert!(f.contains("word"));
    /// assert!(!f.contains("Word"));
    /// ```
    pub fn contains(&self, name: &str) -> bool {
        self.index_of(name).is_some()
    }

    /// The number of fields.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::Fields;
    /// assert_eq!(Fields::new(["word", "count"]).len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no fields.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::Fields;
    /// assert!(Fields::default().is_empty());
    /// assert!(!Fields::new(["word"]).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The names in order.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::Fields;
    /// let f = Fields::new(["word", "count"]);
    /// assert_eq!(f.names().join(","), "word,count");
    /// ```
    pub fn names(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Debug for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

impl<S: Into<String>, const N: usize> From<[S; N]> for Fields {
    fn from(v: [S; N]) -> Self {
        Fields::new(v)
    }
}

impl<S: Into<String>> From<Vec<S>> for Fields {
    fn from(v: Vec<S>) -> Self {
        Fields::new(v)
    }
}
