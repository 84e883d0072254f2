//! A process's TLS settings: the cluster CA it trusts and the certificate it shows, read and
//! checked once at start so that a daemon never runs half-configured. Servers require a
//! client certificate from the same CA (mutual TLS); clients check the server's certificate
//! against the CA and the address they dialled.

use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::identity::inspect_pem;
use crate::pki::Principal;

/// Where a process's TLS files are (`squall.tls.ca`, `squall.tls.cert`, `squall.tls.key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Why TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the {what} {path} is not a PEM certificate: {reason}")]
    NotACertificate {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("the {what} {path} expired on {not_after}; issue a new one with `squall certs issue`")]
    Expired {
        what: &'static str,
        path: PathBuf,
        not_after: OffsetDateTime,
    },
    #[error("the {what} {path} is not valid before {not_before} (is this host's clock right?)")]
    NotYetValid {
        what: &'static str,
        path: PathBuf,
        not_before: OffsetDateTime,
    },
    #[error(
        "the certificate {path} names no Squall role; issue one with `squall certs issue --role ROLE NAME`"
    )]
    NoPrincipal { path: PathBuf },
    #[error("the key {path} is not a PEM private key: {reason}")]
    NotAKey { path: PathBuf, reason: String },
    #[error("the key {key} does not belong to the certificate {cert}")]
    KeyMismatch { cert: PathBuf, key: PathBuf },
}

/// Loaded, checked TLS settings.
#[derive(Clone)]
pub struct TlsSettings {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
    /// Who this process is, from its own certificate.
    pub principal: Principal,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings")
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

fn read(what: &'static str, path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

/// Checks that a PEM certificate parses and is valid now.
fn check_valid(
    what: &'static str,
    path: &Path,
    pem: &str,
    now: OffsetDateTime,
) -> Result<Option<Principal>, TlsError> {
    let inspected = inspect_pem(pem).map_err(|e| TlsError::NotACertificate {
        what,
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    if now > inspected.not_after {
        return Err(TlsError::Expired {
            what,
            path: path.to_owned(),
            not_after: inspected.not_after,
        });
    }
    if now < inspected.not_before {
        return Err(TlsError::NotYetValid {
            what,
            path: path.to_owned(),
            not_before: inspected.not_before,
        });
    }
    Ok(inspected.principal)
}

impl TlsSettings {
    /// Reads and checks the three files: each readable, both certificates valid now, the
    /// certificate naming a role, the key the certificate's.
    pub fn load(files: &TlsFiles) -> Result<Self, TlsError> {
        Self::load_at(files, OffsetDateTime::now_utc())
    }

    /// [`TlsSettings::load`] at a given time.
    pub fn load_at(files: &TlsFiles, now: OffsetDateTime) -> Result<Self, TlsError> {
        let ca_pem = read("CA certificate", &files.ca)?;
        check_valid("CA certificate", &files.ca, &ca_pem, now)?;
        let cert_pem = read("certificate", &files.cert)?;
        let principal =
            check_valid("certificate", &files.cert, &cert_pem, now)?.ok_or_else(|| {
                TlsError::NoPrincipal {
                    path: files.cert.clone(),
                }
            })?;
        let key_pem = read("key", &files.key)?;
        let key = rcgen::KeyPair::from_pem(&key_pem).map_err(|e| TlsError::NotAKey {
            path: files.key.clone(),
            reason: e.to_string(),
        })?;
        if !cert_has_key(&cert_pem, &key) {
            return Err(TlsError::KeyMismatch {
                cert: files.cert.clone(),
                key: files.key.clone(),
            });
        }
        Ok(TlsSettings {
            ca_pem,
            cert_pem,
            key_pem,
            principal,
        })
    }

    /// Settings from PEM texts already in memory (a worker's certificate, handed over by its
    /// supervisor), checked as [`TlsSettings::load`] checks files.
    pub fn from_pem(ca_pem: &str, cert_pem: &str, key_pem: &str) -> Result<Self, TlsError> {
        let now = OffsetDateTime::now_utc();
        let memory = Path::new("(in memory)");
        check_valid("CA certificate", memory, ca_pem, now)?;
        let principal = check_valid("certificate", memory, cert_pem, now)?.ok_or_else(|| {
            TlsError::NoPrincipal {
                path: memory.to_owned(),
            }
        })?;
        let key = rcgen::KeyPair::from_pem(key_pem).map_err(|e| TlsError::NotAKey {
            path: memory.to_owned(),
            reason: e.to_string(),
        })?;
        if !cert_has_key(cert_pem, &key) {
            return Err(TlsError::KeyMismatch {
                cert: memory.to_owned(),
                key: memory.to_owned(),
            });
        }
        Ok(TlsSettings {
            ca_pem: ca_pem.to_owned(),
            cert_pem: cert_pem.to_owned(),
            key_pem: key_pem.to_owned(),
            principal,
        })
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A rustls server for HTTPS (the web UI, REST API and `/metrics`): this certificate,
    /// and a client certificate from the cluster CA verified when one is shown but not
    /// required, since browsers log in with a session instead.
    pub fn https_server(&self) -> Result<rustls::ServerConfig, TlsError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let bad = |reason: String| TlsError::NotACertificate {
            what: "certificate",
            path: PathBuf::from("(https)"),
            reason,
        };
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_slice_iter(self.ca_pem.as_bytes()) {
            roots
                .add(ca.map_err(|e| bad(e.to_string()))?)
                .map_err(|e| bad(e.to_string()))?;
        }
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            std::sync::Arc::clone(&provider),
        )
        .allow_unauthenticated()
        .build()
        .map_err(|e| bad(e.to_string()))?;
        let certs = CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(e.to_string()))?;
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| bad(e.to_string()))?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .map_err(|e| bad(e.to_string()))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }

    /// A server that requires a client certificate signed by the cluster CA: a client
    /// without one, with one from another CA, or speaking plaintext fails the handshake.
    pub fn server(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(Identity::from_pem(&self.cert_pem, &self.key_pem))
            .client_ca_root(Certificate::from_pem(&self.ca_pem))
    }

    /// A client that shows this certificate and trusts only the cluster CA for the server,
    /// whose certificate must name `host` (the address dialled).
    pub fn client(&self, host: &str) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca_pem))
            .identity(Identity::from_pem(&self.cert_pem, &self.key_pem))
            .domain_name(host)
    }
}

/// Whether `key_pem` is the private key of `cert_pem` (the CA key Nimbus is given, say).
pub fn key_matches(cert_pem: &str, key_pem: &str) -> bool {
    rcgen::KeyPair::from_pem(key_pem).is_ok_and(|key| cert_has_key(cert_pem, &key))
}

/// Whether the certificate's public key is the key pair's.
fn cert_has_key(cert_pem: &str, key: &rcgen::KeyPair) -> bool {
    use rcgen::PublicKeyData;
    let Ok((_, block)) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()) else {
        return false;
    };
    let Ok(cert) = block.parse_x509() else {
        return false;
    };
    cert.public_key().subject_public_key.data.as_ref() == key.der_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{LEAF_VALIDITY, Role, issue, new_ca};

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    #[test]
    fn good_files_load_and_name_their_principal() {
        let dir = tempfile::tempdir().expect("dir");
        let ca = new_ca("c").expect("ca");
        let leaf = issue(
            &ca,
            Role::Supervisor,
            "s1",
            &["127.0.0.2".into()],
            LEAF_VALIDITY,
        )
        .expect("leaf");
        let files = TlsFiles {
            ca: write(dir.path(), "ca.pem", &ca.cert_pem),
            cert: write(dir.path(), "s1.pem", &leaf.cert_pem),
            key: write(dir.path(), "s1.key", &leaf.key_pem),
        };
        let tls = TlsSettings::load(&files).expect("load");
        assert_eq!(tls.principal.role, Role::Supervisor);
        assert_eq!(tls.principal.name, "s1");
    }

    #[test]
    fn each_bad_file_is_one_error_naming_it() {
        let dir = tempfile::tempdir().expect("dir");
        let ca = new_ca("c").expect("ca");
        let leaf = issue(&ca, Role::User, "u", &[], LEAF_VALIDITY).expect("leaf");
        let other = issue(&ca, Role::User, "v", &[], LEAF_VALIDITY).expect("leaf");
        let good = TlsFiles {
            ca: write(dir.path(), "ca.pem", &ca.cert_pem),
            cert: write(dir.path(), "u.pem", &leaf.cert_pem),
            key: write(dir.path(), "u.key", &leaf.key_pem),
        };
        let missing = TlsFiles {
            cert: dir.path().join("gone.pem"),
            ..good.clone()
        };
        let e = TlsSettings::load(&missing).unwrap_err().to_string();
        assert!(
            e.starts_with("cannot read the certificate ") && e.contains("gone.pem"),
            "{e}"
        );

        let wrong_key = TlsFiles {
            key: write(dir.path(), "v.key", &other.key_pem),
            ..good.clone()
        };
        let e = TlsSettings::load(&wrong_key).unwrap_err().to_string();
        assert!(e.contains("does not belong to the certificate"), "{e}");

        let garbage = TlsFiles {
            cert: write(dir.path(), "junk.pem", "hello"),
            ..good.clone()
        };
        let e = TlsSettings::load(&garbage).unwrap_err().to_string();
        assert!(e.contains("junk.pem is not a PEM certificate"), "{e}");

        let no_role = TlsFiles {
            cert: good.ca.clone(),
            ..good.clone()
        };
        let e = TlsSettings::load(&no_role).unwrap_err().to_string();
        assert!(e.contains("names no Squall role"), "{e}");

        let later = OffsetDateTime::now_utc() + time::Duration::days(400);
        let e = TlsSettings::load_at(&good, later).unwrap_err().to_string();
        assert!(
            e.starts_with("the certificate ") && e.contains("u.pem expired on"),
            "{e}"
        );
        let earlier = OffsetDateTime::now_utc() - time::Duration::days(1);
        let e = TlsSettings::load_at(&good, earlier)
            .unwrap_err()
            .to_string();
        assert!(e.contains("is not valid before"), "{e}");
    }
}

/// A URL that cannot be dialled.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("invalid URL {url:?}: {reason} (expected e.g. https://127.0.0.1:6627)")]
    Invalid { url: String, reason: String },
    #[error("cannot use TLS towards {url}: {reason}")]
    Tls { url: String, reason: String },
}

/// An endpoint for `url`: over TLS with this process's certificate when `tls` is given (an
/// `http://` URL is then dialled as `https://`: one cluster, one scheme), plaintext otherwise.
pub fn endpoint(
    url: &str,
    tls: Option<&TlsSettings>,
) -> Result<tonic::transport::Endpoint, EndpointError> {
    let invalid = |reason: String| EndpointError::Invalid {
        url: url.to_owned(),
        reason,
    };
    // `host:port` alone means the scheme the cluster speaks, as `storm` takes a bare host.
    let url = match url.contains("://") {
        true => url.to_owned(),
        false => format!("http://{url}"),
    };
    let url = match (tls.is_some(), url.strip_prefix("http://")) {
        (true, Some(rest)) => format!("https://{rest}"),
        _ => url,
    };
    let uri: tonic::codegen::http::Uri = url.parse().map_err(|e| invalid(format!("{e}")))?;
    let host = uri
        .host()
        .ok_or_else(|| invalid("no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let endpoint =
        tonic::transport::Endpoint::from_shared(url.clone()).map_err(|e| invalid(e.to_string()))?;
    match tls {
        Some(tls) => endpoint
            .tls_config(tls.client(&host))
            .map_err(|e| EndpointError::Tls {
                url,
                reason: e.to_string(),
            }),
        None => Ok(endpoint),
    }
}
