//! The error a component returns from its callbacks.

use std::fmt;

/// An error from a spout's or bolt's code. The runtime counts it, keeps it as the component's
/// last error, and, from a bolt's `execute`, fails the input tuple so its tree is replayed.
///
/// Any `std::error::Error` converts into it, so `?` works inside components; so does a message
/// (`ComponentError::from("text")`, `"text".into()`, or [`ComponentError::msg`]).
///
/// # Examples
/// ```
/// use squall_topology_api::ComponentError;
/// fn parse(s: &str) -> Result<i64, ComponentError> {
///     Ok(s.parse::<i64>()?)
/// }
/// assert!(parse("x").is_err());
/// assert_eq!(ComponentError::msg("bad input").to_string(), "bad input");
/// assert_eq!(ComponentError::from("bad input").to_string(), "bad input");
/// let e: ComponentError = format!("bad field {}", 3).into();
/// assert_eq!(e.to_string(), "bad field 3");
/// ```
pub struct ComponentError(Box<dyn std::error::Error + Send + Sync + 'static>);

impl ComponentError {
    /// An error with just a message.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::ComponentError;
    /// let e = ComponentError::msg(format_args!("no such user {}", 42));
    /// assert_eq!(e.to_string(), "no such user 42");
    /// ```
    pub fn msg(message: impl fmt::Display) -> Self {
        ComponentError(message.to_string().into())
    }

    /// The underlying error.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::ComponentError;
    /// let e = ComponentError::from("7x".parse::<i64>().unwrap_err());
    /// assert!(e.inner().is::<std::num::ParseIntError>());
    /// ```
    pub fn inner(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }
}

/// Everything a boxed error is made from: any error type, a `&str` or a `String`.
impl<E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>> From<E> for ComponentError {
    fn from(e: E) -> Self {
        ComponentError(e.into())
    }
}

impl fmt::Display for ComponentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for ComponentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}
