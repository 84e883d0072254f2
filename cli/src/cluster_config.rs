//! `squall.yaml`, the cluster's configuration file, as Storm operators have `storm.yaml`: flat
//! Storm-style keys read by every daemon and by the CLI. Command-line flags override it.
//!
//! Which file: `--config FILE`, else `$SQUALL_CONF`, else `~/.squall/squall.yaml`, else
//! `/etc/squall/squall.yaml`. A file named by the flag or the variable must exist; the two
//! default places are used when they exist. An unknown key (with the nearest known one as a
//! hint) or a value of the wrong type is one error naming the key: a typo is never ignored.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use squall_topology_api::{Config, ConfigValue};

/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "SQUALL_CONF";
/// The system-wide configuration file.
pub const ETC_CONFIG: &str = "/etc/squall/squall.yaml";
/// Nimbus's port when `nimbus.seeds` names only hosts (Storm's `nimbus.thrift.port` default).
pub const DEFAULT_NIMBUS_PORT: u16 = 6627;

/// Every key `squall.yaml` takes. `null` means unset, as an absent key does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Nimbus's full URL; wins over `nimbus.seeds`.
    #[serde(rename = "nimbus.url", skip_serializing_if = "Option::is_none")]
    pub nimbus_url: Option<String>,
    /// Nimbus hosts, `HOST` or `HOST:PORT`, as in Storm (Squall runs one Nimbus: the first).
    #[serde(rename = "nimbus.seeds", skip_serializing_if = "Option::is_none")]
    pub nimbus_seeds: Option<Vec<String>>,
    /// The port of seeds given without one (default 6627).
    #[serde(rename = "nimbus.port", skip_serializing_if = "Option::is_none")]
    pub nimbus_port: Option<u16>,
    /// Where Nimbus serves its API (`squall nimbus --listen`).
    #[serde(rename = "nimbus.listen", skip_serializing_if = "Option::is_none")]
    pub nimbus_listen: Option<String>,
    /// Where Nimbus keeps its state and binaries (`--data-dir`).
    #[serde(rename = "nimbus.data.dir", skip_serializing_if = "Option::is_none")]
    pub nimbus_data_dir: Option<PathBuf>,
    /// A supervisor silent this long is dead.
    #[serde(
        rename = "nimbus.supervisor.timeout.secs",
        skip_serializing_if = "Option::is_none"
    )]
    pub nimbus_supervisor_timeout_secs: Option<f64>,
    /// The largest topology binary Nimbus accepts.
    #[serde(
        rename = "nimbus.max.upload.bytes",
        skip_serializing_if = "Option::is_none"
    )]
    pub nimbus_max_upload_bytes: Option<u64>,
    /// Where Nimbus serves the web UI, REST API and /metrics (`squall nimbus --ui`).
    #[serde(rename = "ui.listen", skip_serializing_if = "Option::is_none")]
    pub ui_listen: Option<String>,
    /// This host's address; workers serve on it (`squall supervisor --host`).
    #[serde(rename = "supervisor.host", skip_serializing_if = "Option::is_none")]
    pub supervisor_host: Option<String>,
    /// Worker slot ports (`--slots`).
    #[serde(
        rename = "supervisor.slots.ports",
        skip_serializing_if = "Option::is_none"
    )]
    pub supervisor_slots_ports: Option<Vec<u16>>,
    /// Where the supervisor keeps its cache, records and logs (`--data-dir`).
    #[serde(
        rename = "supervisor.data.dir",
        skip_serializing_if = "Option::is_none"
    )]
    pub supervisor_data_dir: Option<PathBuf>,
    /// Where the supervisor serves its own API (`--listen`).
    #[serde(rename = "supervisor.listen", skip_serializing_if = "Option::is_none")]
    pub supervisor_listen: Option<String>,
    /// A worker silent this long is restarted.
    #[serde(
        rename = "supervisor.worker.timeout.secs",
        skip_serializing_if = "Option::is_none"
    )]
    pub supervisor_worker_timeout_secs: Option<u64>,
    /// A worker whose executors made no progress this long is restarted (0: never).
    #[serde(
        rename = "supervisor.worker.progress.timeout.secs",
        skip_serializing_if = "Option::is_none"
    )]
    pub supervisor_worker_progress_timeout_secs: Option<u64>,
    /// A worker log larger than this is rotated.
    #[serde(
        rename = "supervisor.worker.log.max.bytes",
        skip_serializing_if = "Option::is_none"
    )]
    pub supervisor_worker_log_max_bytes: Option<u64>,
    /// The cluster CA certificate every process trusts.
    #[serde(rename = "squall.tls.ca", skip_serializing_if = "Option::is_none")]
    pub tls_ca: Option<PathBuf>,
    /// This process's certificate (`squall certs issue`): a daemon's, or a user's for the CLI.
    #[serde(rename = "squall.tls.cert", skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `squall.tls.cert`.
    #[serde(rename = "squall.tls.key", skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// The cluster CA's private key, on the Nimbus host only: Nimbus signs each topology's
    /// worker certificates with it.
    #[serde(rename = "squall.tls.ca.key", skip_serializing_if = "Option::is_none")]
    pub tls_ca_key: Option<PathBuf>,
    /// Security off, as `--insecure`: plaintext, no identities. For experiments only.
    #[serde(rename = "squall.insecure", skip_serializing_if = "Option::is_none")]
    pub insecure: Option<bool>,
    /// Users who may act on every topology (Storm's `nimbus.admins`).
    #[serde(rename = "nimbus.admins", skip_serializing_if = "Option::is_none")]
    pub nimbus_admins: Option<Vec<String>>,
    /// Groups of users, for `topology.groups`: group → its users.
    #[serde(rename = "squall.auth.groups", skip_serializing_if = "Option::is_none")]
    pub auth_groups: Option<std::collections::BTreeMap<String, Vec<String>>>,
    /// The directory of the file, against which relative paths in it are resolved.
    #[serde(skip)]
    pub base: Option<PathBuf>,
}

/// The keys of [`ClusterConfig`], for hints; a test keeps the two in step.
pub const KEYS: &[&str] = &[
    "nimbus.url",
    "nimbus.seeds",
    "nimbus.port",
    "nimbus.listen",
    "nimbus.data.dir",
    "nimbus.supervisor.timeout.secs",
    "nimbus.max.upload.bytes",
    "ui.listen",
    "supervisor.host",
    "supervisor.slots.ports",
    "supervisor.data.dir",
    "supervisor.listen",
    "supervisor.worker.timeout.secs",
    "supervisor.worker.progress.timeout.secs",
    "supervisor.worker.log.max.bytes",
    "squall.tls.ca",
    "squall.tls.cert",
    "squall.tls.key",
    "squall.tls.ca.key",
    "squall.insecure",
    "nimbus.admins",
    "squall.auth.groups",
];

/// The keys that tune a daemon rather than say where things are; `--conf` on a daemon sets them.
const DAEMON_CONF_KEYS: &[&str] = &[
    "nimbus.supervisor.timeout.secs",
    "nimbus.max.upload.bytes",
    "supervisor.worker.timeout.secs",
    "supervisor.worker.progress.timeout.secs",
    "supervisor.worker.log.max.bytes",
];

/// A configuration that cannot be used; the daemon or command does not start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}: not valid YAML: {message}")]
    Syntax { origin: String, message: String },
    #[error("{origin}: expected a mapping of keys to values, as in `nimbus.seeds: [host1]`")]
    NotAMapping { origin: String },
    #[error("{origin}: unknown key {key}{}", hint_text(.hint))]
    UnknownKey {
        origin: String,
        key: String,
        hint: Option<&'static str>,
    },
    #[error("{origin}: invalid value for {key}: {message}")]
    Invalid {
        origin: String,
        key: String,
        message: String,
    },
}

fn hint_text(hint: &Option<&'static str>) -> String {
    hint.map_or_else(
        || " (docs/configuration.md lists every key)".to_owned(),
        |k| format!(" (did you mean {k}?)"),
    )
}

/// The known key nearest to a misspelt one, if any is near enough to be a typo.
pub fn nearest_key<'a>(key: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (strsim::damerau_levenshtein(key, k), k))
        .filter(|&(d, k)| d <= 3.max(k.len() / 5))
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

/// Which file to read: the flag's, else the variable's (both must exist), else the first of the
/// default places that exists. `None`: no file, defaults and flags only.
pub fn locate(
    flag: Option<&Path>,
    env: Option<&str>,
    home: Option<&Path>,
    exists: impl Fn(&Path) -> bool,
) -> Option<PathBuf> {
    if let Some(path) = flag {
        return Some(path.to_owned());
    }
    if let Some(path) = env.filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    home.map(|h| h.join(".squall").join("squall.yaml"))
        .into_iter()
        .chain([PathBuf::from(ETC_CONFIG)])
        .find(|p| exists(p))
}

impl ClusterConfig {
    /// Reads the file this process should use (see [`locate`]), if any, and applies the
    /// daemon settings given with `--conf` on top of it.
    pub fn load(
        flag: Option<&Path>,
        overrides: &[(String, ConfigValue)],
    ) -> Result<Self, ConfigError> {
        let env = std::env::var(CONFIG_ENV).ok();
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let file = match locate(flag, env.as_deref(), home.as_deref(), Path::exists) {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                Some((path, text))
            }
            None => None,
        };
        let base = file
            .as_ref()
            .and_then(|(path, _)| path.parent().map(Path::to_owned));
        let named = file
            .as_ref()
            .map(|(path, text)| (path.display().to_string(), text.as_str()));
        let mut config = Self::from_layers(named, overrides)?;
        config.base = base;
        Ok(config)
    }

    /// The file's text (with its name, for errors) and then the `--conf` settings, each
    /// checked: flags win over the file.
    pub fn from_layers(
        file: Option<(String, &str)>,
        overrides: &[(String, ConfigValue)],
    ) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some((origin, text)) => Self::parse(&origin, text)?,
            None => ClusterConfig::default(),
        };
        for (key, value) in overrides {
            let origin = format!("--conf {key}");
            if !DAEMON_CONF_KEYS.contains(&key.as_str()) {
                return Err(ConfigError::UnknownKey {
                    origin,
                    key: key.clone(),
                    hint: nearest_key(key, DAEMON_CONF_KEYS.iter().copied()),
                });
            }
            let mut layer = serde_json::Map::new();
            layer.insert(key.clone(), value.clone());
            let flag: ClusterConfig = typed(&origin, layer)?;
            config.merge(flag);
        }
        Ok(config)
    }

    /// Parses one file's text.
    pub fn parse(origin: &str, text: &str) -> Result<Self, ConfigError> {
        // Through a generic value first, so an error names the key rather than a line and
        // column of the YAML parser's.
        let value: serde_json::Value =
            serde_saphyr::from_str(text).map_err(|e| ConfigError::Syntax {
                origin: origin.to_owned(),
                message: first_line(&e.to_string()),
            })?;
        let map = match value {
            serde_json::Value::Object(map) => map,
            // An empty file (or only comments) sets nothing.
            serde_json::Value::Null => serde_json::Map::new(),
            _ => {
                return Err(ConfigError::NotAMapping {
                    origin: origin.to_owned(),
                });
            }
        };
        for key in map.keys() {
            if !KEYS.contains(&key.as_str()) {
                return Err(ConfigError::UnknownKey {
                    origin: origin.to_owned(),
                    key: key.clone(),
                    hint: nearest_key(key, KEYS.iter().copied()),
                });
            }
        }
        typed(origin, map)
    }

    /// Every key set in `other` replaces this one's.
    fn merge(&mut self, other: ClusterConfig) {
        let mut mine = serde_json::to_value(&*self).unwrap_or_default();
        if let (Some(mine), Ok(serde_json::Value::Object(theirs))) =
            (mine.as_object_mut(), serde_json::to_value(other))
        {
            mine.extend(theirs);
        }
        if let Ok(merged) = serde_json::from_value(mine) {
            *self = merged;
        }
    }

    /// Nimbus's URL from `nimbus.url`, else the first of `nimbus.seeds`.
    pub fn nimbus_url(&self) -> Option<String> {
        if let Some(url) = &self.nimbus_url {
            return Some(url.clone());
        }
        let seed = self.nimbus_seeds.as_ref()?.first()?;
        if seed.contains("://") {
            return Some(seed.clone());
        }
        let port = self.nimbus_port.unwrap_or(DEFAULT_NIMBUS_PORT);
        Some(
            if seed
                .rsplit_once(':')
                .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
            {
                format!("http://{seed}")
            } else {
                format!("http://{seed}:{port}")
            },
        )
    }

    /// A path from the file, relative to the file's directory unless absolute.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        match &self.base {
            Some(base) if path.is_relative() => base.join(path),
            _ => path.to_owned(),
        }
    }

    /// Whether security is turned off, by the flag or the file.
    pub fn insecure(&self, flag: bool) -> bool {
        flag || self.insecure == Some(true)
    }

    /// This process's TLS files: all three keys, or none (`None`). Some but not all is an
    /// error naming the missing ones, so that no daemon starts half-configured.
    pub fn tls_files(&self) -> Result<Option<squall_security::TlsFiles>, ConfigError> {
        match (&self.tls_ca, &self.tls_cert, &self.tls_key) {
            (Some(ca), Some(cert), Some(key)) => Ok(Some(squall_security::TlsFiles {
                ca: self.resolve(ca),
                cert: self.resolve(cert),
                key: self.resolve(key),
            })),
            (None, None, None) => Ok(None),
            (ca, cert, key) => {
                let missing: Vec<&str> = [
                    ("squall.tls.ca", ca.is_none()),
                    ("squall.tls.cert", cert.is_none()),
                    ("squall.tls.key", key.is_none()),
                ]
                .into_iter()
                .filter_map(|(k, missing)| missing.then_some(k))
                .collect();
                Err(ConfigError::Invalid {
                    origin: "squall.yaml".into(),
                    key: missing.join(", "),
                    message: "TLS needs squall.tls.ca, squall.tls.cert and squall.tls.key together"
                        .into(),
                })
            }
        }
    }

    /// The settings the daemons read from their configuration map.
    pub fn daemon_conf(&self) -> Config {
        let value = serde_json::to_value(self).unwrap_or_default();
        let mut conf = Config::new();
        for key in DAEMON_CONF_KEYS {
            if let Some(v) = value.get(*key) {
                conf.set(*key, v.clone());
            }
        }
        conf
    }
}

/// The typed configuration from checked keys; a wrong type names its key.
fn typed(
    origin: &str,
    map: serde_json::Map<String, serde_json::Value>,
) -> Result<ClusterConfig, ConfigError> {
    serde_path_to_error::deserialize(serde_json::Value::Object(map)).map_err(|e| {
        ConfigError::Invalid {
            origin: origin.to_owned(),
            key: e
                .path()
                .iter()
                .next()
                .map_or_else(String::new, |s| match s {
                    serde_path_to_error::Segment::Map { key } => key.clone(),
                    other => other.to_string(),
                }),
            message: first_line(&e.inner().to_string()),
        }
    })
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ClusterConfig, String> {
        ClusterConfig::parse("squall.yaml", text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_full_file_reads_into_every_field() {
        let c = parse(
            "# a Storm-style file\n\
             nimbus.seeds: [nimbus1.example.com]\n\
             nimbus.data.dir: /var/squall/nimbus\n\
             supervisor.slots.ports: [6700, 6701]\n\
             supervisor.host: 10.0.0.2\n\
             nimbus.supervisor.timeout.secs: 12.5\n\
             ui.listen: 0.0.0.0:8080\n",
        )
        .expect("valid");
        assert_eq!(
            c.nimbus_url().as_deref(),
            Some("http://nimbus1.example.com:6627")
        );
        assert_eq!(c.supervisor_slots_ports, Some(vec![6700, 6701]));
        assert_eq!(c.nimbus_data_dir, Some(PathBuf::from("/var/squall/nimbus")));
        assert_eq!(
            c.daemon_conf().get_f64("nimbus.supervisor.timeout.secs"),
            Some(12.5)
        );
    }

    #[test]
    fn an_empty_file_or_nulls_set_nothing() {
        assert_eq!(parse("").expect("empty"), ClusterConfig::default());
        assert_eq!(
            parse("# nothing\n").expect("comment"),
            ClusterConfig::default()
        );
        assert_eq!(
            parse("nimbus.url: null\n").expect("null"),
            ClusterConfig::default()
        );
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_it_with_the_nearest_known_key() {
        assert_eq!(
            parse("nimbus.seedz: [a]\n").unwrap_err(),
            "squall.yaml: unknown key nimbus.seedz (did you mean nimbus.seeds?)"
        );
        assert_eq!(
            parse("supervisor.slot.ports: [1]\n").unwrap_err(),
            "squall.yaml: unknown key supervisor.slot.ports (did you mean supervisor.slots.ports?)"
        );
        let far = parse("storm.zookeeper.servers: [a]\n").unwrap_err();
        assert!(
            far.starts_with("squall.yaml: unknown key storm.zookeeper.servers ("),
            "{far}"
        );
        assert!(!far.contains("did you mean"), "{far}");
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_key() {
        for (text, key) in [
            ("supervisor.slots.ports: abc\n", "supervisor.slots.ports"),
            (
                "supervisor.slots.ports: [70000]\n",
                "supervisor.slots.ports",
            ),
            (
                "nimbus.supervisor.timeout.secs: soon\n",
                "nimbus.supervisor.timeout.secs",
            ),
            ("nimbus.seeds: host1\n", "nimbus.seeds"),
            ("nimbus.port: -1\n", "nimbus.port"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(
                e.starts_with(&format!("squall.yaml: invalid value for {key}: ")),
                "{text:?}: {e}"
            );
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }

    #[test]
    fn broken_yaml_and_a_top_level_list_are_one_line_errors() {
        let e = parse("nimbus.seeds: [a\n").unwrap_err();
        assert!(e.starts_with("squall.yaml: not valid YAML: "), "{e}");
        assert_eq!(e.lines().count(), 1);
        assert!(
            parse("- a\n- b\n")
                .unwrap_err()
                .contains("expected a mapping")
        );
    }

    #[test]
    fn conf_flags_win_over_the_file_and_are_checked_too() {
        let flags = vec![(
            "supervisor.worker.timeout.secs".to_owned(),
            ConfigValue::from(5),
        )];
        let c = ClusterConfig::from_layers(
            Some((
                "f.yaml".into(),
                "supervisor.worker.timeout.secs: 30\nsupervisor.host: h\n",
            )),
            &flags,
        )
        .expect("valid");
        assert_eq!(c.supervisor_worker_timeout_secs, Some(5));
        assert_eq!(c.supervisor_host.as_deref(), Some("h"));
        let typo = vec![(
            "supervisor.worker.timeout.sec".to_owned(),
            ConfigValue::from(5),
        )];
        assert_eq!(
            ClusterConfig::from_layers(None, &typo)
                .unwrap_err()
                .to_string(),
            "--conf supervisor.worker.timeout.sec: unknown key supervisor.worker.timeout.sec (did you mean supervisor.worker.timeout.secs?)"
        );
        let bad = vec![(
            "supervisor.worker.timeout.secs".to_owned(),
            ConfigValue::from("soon"),
        )];
        assert!(
            ClusterConfig::from_layers(None, &bad)
                .unwrap_err()
                .to_string()
                .starts_with(
                    "--conf supervisor.worker.timeout.secs: invalid value for supervisor.worker.timeout.secs"
                )
        );
    }

    #[test]
    fn the_flag_then_the_variable_then_home_then_etc() {
        let home = Path::new("/home/op");
        let none = |_: &Path| false;
        let all = |_: &Path| true;
        assert_eq!(
            locate(Some(Path::new("a.yaml")), Some("b.yaml"), Some(home), all),
            Some(PathBuf::from("a.yaml"))
        );
        assert_eq!(
            locate(None, Some("b.yaml"), Some(home), all),
            Some(PathBuf::from("b.yaml"))
        );
        assert_eq!(
            locate(None, None, Some(home), all),
            Some(PathBuf::from("/home/op/.squall/squall.yaml"))
        );
        assert_eq!(
            locate(None, None, Some(home), |p: &Path| p
                == Path::new(ETC_CONFIG)),
            Some(PathBuf::from(ETC_CONFIG))
        );
        assert_eq!(locate(None, None, Some(home), none), None);
        // Named files are read even when missing, so that their absence is an error.
        assert_eq!(
            locate(None, Some("gone.yaml"), None, none),
            Some(PathBuf::from("gone.yaml"))
        );
    }

    #[test]
    fn seeds_with_or_without_a_port_and_url_wins() {
        let mut c = ClusterConfig {
            nimbus_seeds: Some(vec!["10.0.0.1:7000".into(), "10.0.0.2".into()]),
            ..Default::default()
        };
        assert_eq!(c.nimbus_url().as_deref(), Some("http://10.0.0.1:7000"));
        c.nimbus_seeds = Some(vec!["n1".into()]);
        c.nimbus_port = Some(7001);
        assert_eq!(c.nimbus_url().as_deref(), Some("http://n1:7001"));
        c.nimbus_url = Some("http://other:1".into());
        assert_eq!(c.nimbus_url().as_deref(), Some("http://other:1"));
    }

    #[test]
    fn the_key_list_matches_the_struct() {
        let full = ClusterConfig {
            nimbus_url: Some(String::new()),
            nimbus_seeds: Some(vec![]),
            nimbus_port: Some(1),
            nimbus_listen: Some(String::new()),
            nimbus_data_dir: Some(PathBuf::new()),
            nimbus_supervisor_timeout_secs: Some(1.0),
            nimbus_max_upload_bytes: Some(1),
            ui_listen: Some(String::new()),
            supervisor_host: Some(String::new()),
            supervisor_slots_ports: Some(vec![]),
            supervisor_data_dir: Some(PathBuf::new()),
            supervisor_listen: Some(String::new()),
            supervisor_worker_timeout_secs: Some(1),
            supervisor_worker_progress_timeout_secs: Some(1),
            supervisor_worker_log_max_bytes: Some(1),
            tls_ca: Some(PathBuf::new()),
            tls_cert: Some(PathBuf::new()),
            tls_key: Some(PathBuf::new()),
            tls_ca_key: Some(PathBuf::new()),
            insecure: Some(true),
            nimbus_admins: Some(vec![]),
            auth_groups: Some(Default::default()),
            base: None,
        };
        let value = serde_json::to_value(&full).expect("serialises");
        let mut keys: Vec<&str> = value
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        let mut known = KEYS.to_vec();
        keys.sort_unstable();
        known.sort_unstable();
        assert_eq!(keys, known);
        for key in DAEMON_CONF_KEYS {
            assert!(KEYS.contains(key), "{key}");
        }
    }
}
