//! Certificates for test clusters: a CA per cluster and a `squall.yaml` per daemon and user,
//! so that every multi-process test runs with security on, as a real cluster does.

use std::path::{Path, PathBuf};

use squall_security::pki::{self, Issued, LEAF_VALIDITY, Role};
use squall_security::{TlsFiles, TlsSettings};

/// The user every test acts as; an admin of its cluster.
pub const TEST_USER: &str = "tester";

/// A test cluster's CA, in a directory.
pub struct TestPki {
    dir: PathBuf,
    ca: Issued,
}

impl TestPki {
    /// A new CA in `dir` (`ca.pem`, `ca.key`).
    pub fn new(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).expect("certs dir");
        let ca = pki::new_ca("test-cluster").expect("test CA");
        std::fs::write(dir.join("ca.pem"), &ca.cert_pem).expect("write CA");
        std::fs::write(dir.join("ca.key"), &ca.key_pem).expect("write CA key");
        TestPki {
            dir: dir.to_owned(),
            ca,
        }
    }

    /// The CA certificate's path.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// Issues `name`'s certificate (once; later calls reuse it) and writes `<name>.yaml`
    /// naming it, followed by `extra` (more YAML lines); returns that file's path. Nimbus's
    /// file also gets the CA key and makes [`TEST_USER`] an admin.
    pub fn config(&self, role: Role, name: &str, hosts: &[&str], extra: &str) -> PathBuf {
        let (cert, key) = (
            self.dir.join(format!("{name}.pem")),
            self.dir.join(format!("{name}.key")),
        );
        if !cert.exists() {
            let hosts: Vec<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
            let issued = pki::issue(&self.ca, role, name, &hosts, LEAF_VALIDITY).expect("issue");
            std::fs::write(&cert, &issued.cert_pem).expect("write cert");
            std::fs::write(&key, &issued.key_pem).expect("write key");
        }
        let mut yaml = format!(
            "squall.tls.ca: {}\nsquall.tls.cert: {}\nsquall.tls.key: {}\n",
            self.ca_path().display(),
            cert.display(),
            key.display()
        );
        if role == Role::Nimbus {
            yaml.push_str(&format!(
                "squall.tls.ca.key: {}\nnimbus.admins: [{TEST_USER}]\n",
                self.dir.join("ca.key").display()
            ));
        }
        yaml.push_str(extra);
        let path = self.dir.join(format!("{name}.yaml"));
        std::fs::write(&path, yaml).expect("write config");
        path
    }

    /// The test user's configuration file.
    pub fn user_config(&self) -> PathBuf {
        self.config(Role::User, TEST_USER, &[], "")
    }

    /// The test user's certificate and key files.
    pub fn user_files(&self) -> (PathBuf, PathBuf) {
        (
            self.dir.join(format!("{TEST_USER}.pem")),
            self.dir.join(format!("{TEST_USER}.key")),
        )
    }

    /// The test user's TLS settings, for in-process gRPC clients.
    pub fn user_tls(&self) -> TlsSettings {
        self.user_config();
        TlsSettings::load(&TlsFiles {
            ca: self.ca_path(),
            cert: self.dir.join(format!("{TEST_USER}.pem")),
            key: self.dir.join(format!("{TEST_USER}.key")),
        })
        .expect("test user TLS")
    }
}
