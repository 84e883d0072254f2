//! Who holds a certificate: its principal (role and name from the subject) and how long it is
//! valid. Servers call [`principal_of`] on the client certificate that TLS has already
//! verified against the cluster CA.

use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::pki::{Principal, Role};

/// What a certificate says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    /// `None` for a certificate that names no Squall role (a CA, a foreign certificate).
    pub principal: Option<Principal>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

/// A certificate that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("not a readable certificate: {0}")]
pub struct UnreadableCertificate(String);

/// Reads a DER certificate.
pub fn inspect_der(der: &[u8]) -> Result<Inspected, UnreadableCertificate> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| UnreadableCertificate(e.to_string()))?;
    let subject = cert.subject();
    let name = subject
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_owned);
    let role = subject
        .iter_organizational_unit()
        .next()
        .and_then(|a| a.as_str().ok())
        .and_then(|u| u.parse::<Role>().ok());
    let validity = cert.validity();
    Ok(Inspected {
        principal: match (role, name) {
            (Some(role), Some(name)) => Some(Principal { role, name }),
            _ => None,
        },
        not_before: validity.not_before.to_datetime(),
        not_after: validity.not_after.to_datetime(),
    })
}

/// Reads the first certificate of a PEM text.
pub fn inspect_pem(pem: &str) -> Result<Inspected, UnreadableCertificate> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|e| UnreadableCertificate(e.to_string()))?;
    inspect_der(&block.contents)
}

/// The principal of a verified peer certificate (the first of the chain a TLS client sent).
pub fn principal_of(der: &[u8]) -> Option<Principal> {
    inspect_der(der).ok().and_then(|i| i.principal)
}

/// The addresses a certificate is for (its subject alternative names: IP addresses and DNS
/// names), as text.
pub fn hosts_of(der: &[u8]) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return Vec::new();
    };
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some((*dns).to_owned()),
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => <[u8; 4]>::try_from(*bytes)
                    .ok()
                    .map(|b| std::net::IpAddr::from(b).to_string()),
                16 => <[u8; 16]>::try_from(*bytes)
                    .ok()
                    .map(|b| std::net::IpAddr::from(b).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}
