//! The binary cache: topology binaries by SHA-256, downloaded from Nimbus once per host and
//! checked against their hash before they are ever run.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use squall_proto::NimbusClient;
use squall_proto::pb::BinaryRequest;
use tonic::transport::Channel;

use crate::SupervisorError;

/// Cached binaries under one directory.
pub struct BinaryCache {
    dir: PathBuf,
}

impl BinaryCache {
    /// A cache in `dir`.
    ///
    /// # Errors
    /// When the directory cannot be created.
    pub fn open(dir: &Path) -> Result<Self, SupervisorError> {
        std::fs::create_dir_all(dir)?;
        Ok(BinaryCache {
            dir: dir.to_owned(),
        })
    }

    /// The path of a binary, downloading it first if it is not cached.
    ///
    /// # Errors
    /// When the download fails or the bytes do not hash to `sha256`.
    pub async fn get(
        &self,
        nimbus: &mut NimbusClient<Channel>,
        sha256: &str,
    ) -> Result<PathBuf, SupervisorError> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SupervisorError::Binary(format!(
                "invalid binary hash {sha256:?}"
            )));
        }
        let path = self.dir.join(sha256);
        if path.exists() {
            return Ok(path);
        }
        let tmp = self.dir.join(format!(".download-{sha256}"));
        let mut file = std::fs::File::create(&tmp)?;
        let mut hasher = Sha256::new();
        let mut stream = nimbus
            .download_binary(BinaryRequest {
                sha256: sha256.to_owned(),
            })
            .await?
            .into_inner();
        while let Some(chunk) = stream.message().await? {
            hasher.update(&chunk.data);
            file.write_all(&chunk.data)?;
        }
        let got = hex::encode(hasher.finalize());
        if got != sha256 {
            let _ = std::fs::remove_file(&tmp);
            return Err(SupervisorError::Binary(format!(
                "binary {sha256} downloaded with hash {got}"
            )));
        }
        file.sync_all()?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
        std::fs::rename(&tmp, &path)?;
        tracing::info!(binary = sha256, "binary cached");
        Ok(path)
    }
}
