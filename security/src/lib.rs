//! Squall's cluster security.
//!
//! - [`pki`]: the cluster CA and the certificates it issues (`squall certs`).
//! - [`identity`]: who holds a certificate (role and name).
//! - [`tls`]: a process's TLS settings, loaded and checked at start, for tonic servers and
//!   clients.

pub mod identity;
pub mod pki;
pub mod tls;

pub use identity::principal_of;
pub use pki::{Principal, Role};
pub use tls::{TlsFiles, TlsSettings, endpoint};
