//! `squall certs`: the cluster CA and the certificates it issues, as files.
//!
//! `init` writes `ca.pem` and `ca.key`; `issue` writes `NAME.pem` and `NAME.key` signed by
//! them. Keys are written readable by their owner only, and nothing is overwritten: a new CA
//! over an old one would lock every daemon out.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use squall_security::pki::{self, Issued, Role};

/// The CA's certificate in a certificates directory.
pub const CA_CERT: &str = "ca.pem";
/// The CA's private key in a certificates directory.
pub const CA_KEY: &str = "ca.key";

/// Writes a new file; refuses to replace one. Private keys get mode 0600.
fn create(path: &Path, text: &str, private: bool) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    if private {
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{} already exists; remove it first if you mean to replace it",
                path.display()
            )
        } else {
            anyhow::anyhow!("cannot write {}: {e}", path.display())
        }
    })?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// `squall certs init`: a new cluster CA in `dir`.
pub fn init(dir: &Path, name: &str) -> anyhow::Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let (cert, key) = (dir.join(CA_CERT), dir.join(CA_KEY));
    for path in [&cert, &key] {
        anyhow::ensure!(
            !path.exists(),
            "{} already exists: this directory has a CA (remove it first to start over)",
            path.display()
        );
    }
    let ca = pki::new_ca(name)?;
    create(&key, &ca.key_pem, true)?;
    create(&cert, &ca.cert_pem, false)?;
    Ok((cert, key))
}

/// Reads the CA of a certificates directory.
pub fn read_ca(dir: &Path) -> anyhow::Result<Issued> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read {} (create the CA with `squall certs init --dir {}`)",
                path.display(),
                dir.display()
            )
        })
    };
    Ok(Issued {
        cert_pem: read(CA_CERT)?,
        key_pem: read(CA_KEY)?,
    })
}

/// `squall certs issue`: a certificate for `role` `name`, signed by the CA in `dir`.
pub fn issue(
    dir: &Path,
    role: Role,
    name: &str,
    hosts: &[String],
    days: u32,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    let ca = read_ca(dir)?;
    let issued = pki::issue(&ca, role, name, hosts, time::Duration::days(days.into()))?;
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    for path in [&cert, &key] {
        anyhow::ensure!(
            !path.exists(),
            "{} already exists; remove it first if you mean to replace it",
            path.display()
        );
    }
    create(&key, &issued.key_pem, true)?;
    create(&cert, &issued.cert_pem, false)?;
    Ok((cert, key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn init_then_issue_writes_private_keys_and_never_overwrites() {
        let dir = tempfile::tempdir().expect("dir");
        let (ca, ca_key) = init(dir.path(), "test").expect("init");
        assert!(ca.exists());
        let mode = std::fs::metadata(&ca_key)
            .expect("key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = init(dir.path(), "test").unwrap_err().to_string();
        assert!(again.contains("already exists"), "{again}");

        let (cert, key) = issue(
            dir.path(),
            Role::Supervisor,
            "host-a",
            &["127.0.0.2".into()],
            30,
        )
        .expect("issue");
        assert!(cert.ends_with("host-a.pem") && key.ends_with("host-a.key"));
        let mode = std::fs::metadata(&key).expect("key").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = issue(dir.path(), Role::User, "host-a", &[], 30)
            .unwrap_err()
            .to_string();
        assert!(again.contains("already exists"), "{again}");

        let empty = tempfile::tempdir().expect("dir");
        let no_ca = issue(empty.path(), Role::User, "u", &[], 30)
            .unwrap_err()
            .to_string();
        assert!(no_ca.contains("squall certs init --dir"), "{no_ca}");
    }
}
