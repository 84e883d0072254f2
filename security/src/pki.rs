//! The cluster's certificate authority: one CA per cluster signs every daemon's, worker's and
//! user's certificate. A certificate names its holder in its subject: the common name is the
//! principal's name and the organizational unit its role, so a verified chain to the cluster
//! CA is all it takes to know who is calling and as what.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

/// What a certificate's holder is to the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// The coordinator; its certificate serves the API.
    Nimbus,
    /// A host's agent; its certificate names the supervisor id it may heartbeat as.
    Supervisor,
    /// A topology's worker process; named after its topology, issued by Nimbus.
    Worker,
    /// A person or a script using the CLI, the REST API or the UI.
    User,
}

impl Role {
    /// Every role, for messages.
    pub const ALL: [Role; 4] = [Role::Nimbus, Role::Supervisor, Role::Worker, Role::User];

    /// The role's name, as written in certificates and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Nimbus => "nimbus",
            Role::Supervisor => "supervisor",
            Role::Worker => "worker",
            Role::User => "user",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = PkiError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| PkiError::UnknownRole(s.to_owned()))
    }
}

/// Who is calling: a role and a name, from a certificate the cluster CA signed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    pub role: Role,
    pub name: String,
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.role, self.name)
    }
}

/// A certificate and its private key, PEM encoded.
#[derive(Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

impl fmt::Debug for Issued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print a private key.
        f.debug_struct("Issued").finish_non_exhaustive()
    }
}

/// What can go wrong making or reading certificates.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("unknown role {0:?}: expected nimbus, supervisor, worker or user")]
    UnknownRole(String),
    #[error(
        "invalid name {0:?}: use 1 to 64 letters, digits, '.', '-', '_' or '@' (it becomes the certificate's common name)"
    )]
    InvalidName(String),
    #[error("invalid host {0:?}: expected an IP address or a DNS name")]
    InvalidHost(String),
    #[error("not a usable CA certificate and key: {0}")]
    BadCa(String),
    #[error("cannot make the certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// How long the CA is valid.
pub const CA_VALIDITY: Duration = Duration::days(3650);
/// How long a daemon's or user's certificate is valid.
pub const LEAF_VALIDITY: Duration = Duration::days(365);

/// The organizational unit every Squall CA carries, to tell it apart in a trust store.
const CA_UNIT: &str = "squall-ca";

/// A name usable as a common name and in file names: short, no spaces or slashes.
pub fn check_name(name: &str) -> Result<(), PkiError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'));
    if ok {
        Ok(())
    } else {
        Err(PkiError::InvalidName(name.to_owned()))
    }
}

/// The certificate name of a topology's workers: `t-` and 32 hex digits of the SHA-256 of
/// the topology id. Ids may be longer than a common name allows and hold any character a
/// topology name may; the hash fits and still tells every topology apart.
pub fn worker_name(topology_id: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, topology_id.as_bytes());
    let hex: String = digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t-{hex}")
}

/// A new cluster CA named `name`.
pub fn new_ca(name: &str) -> Result<Issued, PkiError> {
    check_name(name)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = subject(name, CA_UNIT);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::minutes(5);
    params.not_after = now + CA_VALIDITY;
    let cert = params.self_signed(&key)?;
    Ok(Issued {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// A certificate for `role` `name`, signed by the CA. `hosts` (IP addresses or DNS names) go
/// into the subject alternative names, for the daemons that serve: a client checks that the
/// server it dialled holds a certificate for that address.
pub fn issue(
    ca: &Issued,
    role: Role,
    name: &str,
    hosts: &[String],
    validity: Duration,
) -> Result<Issued, PkiError> {
    check_name(name)?;
    let ca_key = KeyPair::from_pem(&ca.key_pem).map_err(|e| PkiError::BadCa(e.to_string()))?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert_pem, ca_key)
        .map_err(|e| PkiError::BadCa(e.to_string()))?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = subject(name, role.as_str());
    params.subject_alt_names = hosts
        .iter()
        .map(|h| san(h))
        .collect::<Result<Vec<_>, _>>()?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ClientAuth,
        ExtendedKeyUsagePurpose::ServerAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::minutes(5);
    params.not_after = now + validity;
    let cert = params.signed_by(&key, &issuer)?;
    Ok(Issued {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn subject(name: &str, unit: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn.push(DnType::OrganizationalUnitName, unit);
    dn.push(DnType::OrganizationName, "squall");
    dn
}

fn san(host: &str) -> Result<SanType, PkiError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let dns = host
        .to_owned()
        .try_into()
        .map_err(|_| PkiError::InvalidHost(host.to_owned()))?;
    Ok(SanType::DnsName(dns))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{Inspected, inspect_pem};

    #[test]
    fn issued_certificates_name_their_role_and_holder() {
        let ca = new_ca("test-cluster").expect("ca");
        for role in Role::ALL {
            let cert = issue(
                &ca,
                role,
                "host-a",
                &["127.0.0.2".into(), "a.example".into()],
                LEAF_VALIDITY,
            )
            .expect("issue");
            let Inspected {
                principal,
                not_after,
                ..
            } = inspect_pem(&cert.cert_pem).expect("parse");
            assert_eq!(
                principal,
                Some(Principal {
                    role,
                    name: "host-a".into()
                })
            );
            assert!(not_after > OffsetDateTime::now_utc() + Duration::days(300));
        }
        let server = issue(
            &ca,
            Role::Supervisor,
            "h",
            &["127.0.0.2".into(), "h.example".into()],
            LEAF_VALIDITY,
        )
        .expect("issue");
        let der = x509_parser::pem::parse_x509_pem(server.cert_pem.as_bytes())
            .expect("pem")
            .1
            .contents;
        assert_eq!(crate::identity::hosts_of(&der), ["127.0.0.2", "h.example"]);
        // The CA itself is no principal.
        assert_eq!(inspect_pem(&ca.cert_pem).expect("parse").principal, None);
    }

    #[test]
    fn worker_names_fit_any_topology_id() {
        let long = format!("{}-1-1795868162", "a b%c".repeat(25));
        let name = worker_name(&long);
        assert!(check_name(&name).is_ok(), "{name}");
        assert_eq!(name, worker_name(&long));
        assert_ne!(name, worker_name("wc-1-1"));
    }

    #[test]
    fn roles_parse_and_names_are_checked() {
        assert_eq!(
            "supervisor".parse::<Role>().expect("role"),
            Role::Supervisor
        );
        assert!(
            "admin"
                .parse::<Role>()
                .unwrap_err()
                .to_string()
                .contains("expected nimbus, supervisor, worker or user")
        );
        for bad in ["", "a b", "../etc", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for good in ["alice", "alice@example.com", "10.0.0.2", "sup-1_a"] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn a_key_that_is_not_the_cas_is_refused() {
        let ca = new_ca("a").expect("ca");
        let mixed = Issued {
            cert_pem: ca.cert_pem.clone(),
            key_pem: "not a key".into(),
        };
        assert!(matches!(
            issue(&mixed, Role::User, "u", &[], LEAF_VALIDITY),
            Err(PkiError::BadCa(_))
        ));
    }
}
