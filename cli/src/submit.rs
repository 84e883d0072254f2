//! `squall submit`: ask the binary to describe its topology, check it, and stream the binary
//! to Nimbus with its SHA-256.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use squall_proto::pb::{SubmitChunk, SubmitHeader, submit_chunk};
use squall_proto::{Description, env};
use squall_topology_api::{Config, config as keys};
use tokio_stream::wrappers::ReceiverStream;

use crate::client::{Nimbus, connect, refused};

const CHUNK_BYTES: usize = 1 << 20;
const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(30);

/// What to submit.
pub struct Request {
    pub binary: PathBuf,
    pub name: Option<String>,
    pub workers: Option<u32>,
    pub conf: Config,
    pub args: Vec<String>,
    /// `--resources DIR`: shipped instead of the directory the topology names.
    pub resources: Option<PathBuf>,
}

/// The binary to run: a bare file name means the file in the current directory (as a path
/// does for `storm jar`), not a program on `$PATH`.
fn binary_path(binary: &Path) -> anyhow::Result<PathBuf> {
    let path = if binary.components().count() == 1 && binary.is_relative() {
        Path::new(".").join(binary)
    } else {
        binary.to_owned()
    };
    let meta =
        std::fs::metadata(&path).with_context(|| format!("cannot read {}", binary.display()))?;
    use std::os::unix::fs::PermissionsExt;
    anyhow::ensure!(
        meta.is_file() && meta.permissions().mode() & 0o111 != 0,
        "{} is not an executable file: pass the topology binary (cargo build --release, then target/release/NAME)",
        binary.display()
    );
    Ok(path)
}

/// Runs the binary in describe mode and reads its topology.
async fn describe(binary: &Path, args: &[String]) -> anyhow::Result<Description> {
    let not_topology = || format!("{} is not a squall topology binary", binary.display());
    let child = tokio::process::Command::new(binary)
        .args(args)
        .env(env::DESCRIBE, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENOEXEC) => anyhow::anyhow!(
                "{} is not a program: pass the topology binary (cargo build --release, then target/release/NAME)",
                binary.display()
            ),
            _ => anyhow::anyhow!("cannot run {}: {e}", binary.display()),
        })?;
    let output = tokio::time::timeout(DESCRIBE_TIMEOUT, child.wait_with_output())
        .await
        .with_context(|| {
            format!(
                "{} (it did not describe itself within 30 s)",
                not_topology()
            )
        })??;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.code() == Some(env::NO_CLUSTER_ROLE_EXIT)
        && stderr.lines().any(|l| l.trim() == env::NO_CLUSTER_ROLE)
    {
        bail!(
            "{} never calls serve_cluster_role, so it cannot run on a cluster (none of its topology ran): in main, after building the topology and before starting it locally, add `if squall_worker::serve_cluster_role(&topology, &conf)? {{ return Ok(()); }}`",
            binary.display()
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'));
    match line.and_then(|l| serde_json::from_str::<Description>(l).ok()) {
        Some(d) if output.status.success() => Ok(d),
        _ => match stderr.lines().rev().find(|l| !l.trim().is_empty()) {
            Some(last) => bail!("{}: {}", not_topology(), last.trim()),
            None => bail!(
                "{} (it printed no description; does its main call squall_worker::serve_cluster_role?)",
                not_topology()
            ),
        },
    }
}

/// A warning for each `topology.*` key of `--conf` that Squall does not read, with the nearest
/// key it does read: a typo such as `topology.wrokers` would otherwise be silently ignored.
/// Other keys (a topology's own settings) pass without comment, as in Storm.
pub fn unknown_topology_keys(conf: &Config) -> Vec<String> {
    let known = || {
        squall_topology_api::limits::KNOWN_KEYS
            .iter()
            .map(|(k, _)| *k)
    };
    conf.iter()
        .map(|(key, _)| key)
        .filter(|key| key.starts_with("topology.") && !known().any(|k| k == *key))
        .map(|key| {
            let hint = crate::cluster_config::nearest_key(key, known())
                .map_or_else(String::new, |k| format!("; did you mean {k}?"));
            format!(
                "unknown key {key}: Squall does not read it{hint} (passed to the components as is)"
            )
        })
        .collect()
}

/// A warning when the cluster has fewer free slots than the workers asked for: the topology
/// then runs on fewer workers (status shows `workers=assigned/requested`).
async fn slots_warning(
    client: &mut squall_proto::NimbusClient<tonic::transport::Channel>,
    requested: u64,
) -> Option<String> {
    let cluster = client
        .get_cluster(squall_proto::pb::Empty {})
        .await
        .ok()?
        .into_inner();
    let free: u64 = cluster
        .supervisors
        .iter()
        .filter(|s| s.alive)
        .map(|s| u64::from(s.slots_total.saturating_sub(s.slots_used)))
        .sum();
    match free {
        _ if requested <= free => None,
        0 => Some(format!(
            "{requested} worker(s) requested but the cluster has no free slot: the topology waits until one frees up (add supervisors or slots)"
        )),
        _ => Some(format!(
            "{requested} worker(s) requested but the cluster has {free} free slot(s): it runs on {free} (status shows workers={free}/{requested}; add supervisors or slots, or rebalance later)"
        )),
    }
}

/// A spinner on stderr while a step runs (nothing when stderr is not a terminal).
fn spinner(progress: bool, message: String) -> ProgressBar {
    if !progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner().with_message(message);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// What goes to Nimbus: the binary workers run, the topology it describes, its arguments.
struct Submission {
    binary: PathBuf,
    description: Description,
    args: Vec<String>,
    name: String,
}

/// Whether the file to submit is a Flux topology rather than a binary.
fn is_flux_file(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

/// A Flux file runs on the cluster as `squall run FILE`, with this `squall` binary as the
/// topology binary and the file's directory as its resources (the file among them).
fn flux_submission(request: &Request) -> anyhow::Result<Submission> {
    anyhow::ensure!(
        request.args.is_empty(),
        "a YAML topology takes no arguments after --: set what it needs under config: in the file"
    );
    let flux = squall_flux::load(&request.binary)?;
    // Workers read the file from the unpacked resources: its path inside them.
    let file = std::fs::canonicalize(&request.binary)
        .with_context(|| format!("cannot read {}", request.binary.display()))?;
    let resources = match &request.resources {
        Some(dir) => std::fs::canonicalize(dir)
            .with_context(|| format!("cannot read resources directory {}", dir.display()))?,
        None => file.parent().map(Path::to_owned).unwrap_or_default(),
    };
    let file_name = file
        .strip_prefix(&resources)
        .with_context(|| {
            format!(
                "{} is not inside --resources {}: a YAML topology travels in its resources",
                request.binary.display(),
                resources.display()
            )
        })?
        .to_string_lossy()
        .into_owned();
    let name = match (&request.name, &flux.name) {
        (Some(n), _) | (None, Some(n)) => n.clone(),
        (None, None) => request
            .binary
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .context("the YAML path has no file name; pass --name")?,
    };
    let binary = std::env::current_exe().context("cannot find the squall binary to upload")?;
    Ok(Submission {
        binary,
        description: Description {
            spec: flux.topology.spec().as_ref().clone(),
            conf: flux.conf,
        },
        args: vec!["run".to_owned(), file_name],
        name,
    })
}

/// The size and hex SHA-256 of a file.
fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// The directory to ship: `--resources DIR`, else the one the topology names (taken from the
/// current directory, where the binary just described itself), else none.
fn resources_dir(
    flag: Option<&Path>,
    spec: &squall_topology_api::TopologySpec,
) -> anyhow::Result<Option<PathBuf>> {
    let (dir, named_by) = match (flag, &spec.resources) {
        (Some(dir), _) => (dir.to_owned(), "--resources"),
        (None, Some(dir)) => (
            PathBuf::from(dir),
            "the topology (TopologyBuilder::resources)",
        ),
        (None, None) => return Ok(None),
    };
    match std::fs::metadata(&dir) {
        Ok(m) if m.is_dir() => Ok(Some(dir)),
        Ok(_) => bail!(
            "resources {} (named by {named_by}) is not a directory",
            dir.display()
        ),
        Err(e) => bail!(
            "cannot read resources directory {} (named by {named_by}): {e} (run squall submit where the topology finds it, or pass --resources DIR)",
            dir.display()
        ),
    }
}

/// A packed resources directory, ready to upload.
struct PackedResources {
    archive: tempfile::NamedTempFile,
    size: u64,
    sha256: String,
}

async fn pack_resources(dir: PathBuf) -> anyhow::Result<PackedResources> {
    tokio::task::spawn_blocking(move || {
        let archive = tempfile::NamedTempFile::new().context("cannot create a temporary file")?;
        squall_proto::resources::pack(&dir, std::io::BufWriter::new(archive.as_file()))
            .with_context(|| format!("cannot pack resources {}", dir.display()))?;
        let (size, sha256) = hash_file(archive.path())?;
        Ok(PackedResources {
            archive,
            size,
            sha256,
        })
    })
    .await?
}

/// Submits; returns the topology id Nimbus gave it.
pub async fn submit(nimbus: &Nimbus, request: &Request, progress: bool) -> anyhow::Result<String> {
    for warning in unknown_topology_keys(&request.conf) {
        eprintln!("warning: {warning}");
    }
    let Submission {
        binary,
        description,
        args,
        name,
    } = if is_flux_file(&request.binary) {
        flux_submission(request)?
    } else {
        let binary = binary_path(&request.binary)?;
        let checking = spinner(progress, format!("checking {}", request.binary.display()));
        let description = describe(&binary, &request.args).await;
        checking.finish_and_clear();
        let name = match &request.name {
            Some(n) => n.clone(),
            None => request
                .binary
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .context("the binary path has no file name; pass --name")?,
        };
        Submission {
            binary,
            description: description?,
            args: request.args.clone(),
            name,
        }
    };
    description.spec.validate()?;
    let mut conf = description.conf.merged(&request.conf);
    if let Some(w) = request.workers {
        conf.set(keys::TOPOLOGY_WORKERS, w);
    }
    // Nimbus checks the same; checking here first spares the upload.
    squall_topology_api::limits::check_topology_name(&name)?;
    squall_topology_api::limits::check_config_for(&description.spec, &conf)?;
    let mut client = connect(nimbus).await?;
    let requested = conf.get_u64(keys::TOPOLOGY_WORKERS).unwrap_or(1);
    if let Some(warning) = slots_warning(&mut client, requested).await {
        eprintln!("warning: {warning}");
    }
    let resources = match resources_dir(request.resources.as_deref(), &description.spec)? {
        Some(dir) => Some(pack_resources(dir).await?),
        None => None,
    };
    let path = binary.clone();
    let (size, sha256) = tokio::task::spawn_blocking(move || hash_file(&path)).await??;
    let header = SubmitHeader {
        name,
        spec_json: serde_json::to_string(&description.spec)?,
        conf_json: serde_json::to_string(&conf)?,
        binary_size: size,
        sha256,
        args,
        resources_size: resources.as_ref().map_or(0, |r| r.size),
        resources_sha256: resources
            .as_ref()
            .map_or_else(String::new, |r| r.sha256.clone()),
    };
    let total = size + resources.as_ref().map_or(0, |r| r.size);
    let bar = if progress {
        ProgressBar::new(total)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("uploading {bytes}/{total_bytes} [{bar:30}] {bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let path = binary.clone();
    let feeder_bar = bar.clone();
    let feeder = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let first = SubmitChunk {
            part: Some(submit_chunk::Part::Header(header)),
        };
        if tx.blocking_send(first).is_err() {
            return Ok(());
        }
        let resources = resources.as_ref().map(|r| r.archive.path().to_owned());
        let mut buf = vec![0u8; CHUNK_BYTES];
        for path in std::iter::once(path).chain(resources) {
            let mut file = std::fs::File::open(&path)?;
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                feeder_bar.inc(n as u64);
                let chunk = SubmitChunk {
                    part: Some(submit_chunk::Part::Data(buf[..n].to_vec())),
                };
                if tx.blocking_send(chunk).is_err() {
                    return Ok(());
                }
            }
        }
        Ok(())
    });
    let reply = client
        .submit_topology(ReceiverStream::new(rx))
        .await
        .map_err(refused);
    bar.finish_and_clear();
    feeder.await??;
    Ok(reply?.into_inner().id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_topology_key_is_warned_about_with_the_nearest_known_key() {
        let conf: Config = [
            ("topology.wrokers", serde_json::json!(2)),
            ("topology.workers", serde_json::json!(2)),
            ("topology.my.own.setting", serde_json::json!("x")),
            ("wordcount.min.length", serde_json::json!(3)),
        ]
        .into_iter()
        .collect();
        let warnings = unknown_topology_keys(&conf);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert_eq!(
            warnings[1],
            "unknown key topology.wrokers: Squall does not read it; did you mean topology.workers? (passed to the components as is)"
        );
        assert!(!warnings[0].contains("did you mean"), "{warnings:?}");
    }
}
