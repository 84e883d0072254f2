//! `docs/configuration.md`, generated from the code's own tables so it cannot drift: the
//! `squall.yaml` keys of [`crate::cluster_config`] and the `topology.*` keys of the API crate
//! (with the ranges submit checks). A test fails when the file differs from what this renders;
//! `SQUALL_UPDATE_DOCS=1 cargo test -p squall-cli config_reference` rewrites it.

use std::fmt::Write;

use squall_topology_api::config::REFERENCE;
use squall_topology_api::limits::KNOWN_KEYS;

/// One `squall.yaml` key: name, default, meaning.
pub struct ClusterKey {
    pub key: &'static str,
    pub default: &'static str,
    pub meaning: &'static str,
}

const fn key(key: &'static str, default: &'static str, meaning: &'static str) -> ClusterKey {
    ClusterKey {
        key,
        default,
        meaning,
    }
}

/// Every `squall.yaml` key, in the order of [`crate::cluster_config::KEYS`] (a test checks).
pub const CLUSTER_KEYS: &[ClusterKey] = &[
    key(
        "nimbus.url",
        "http://127.0.0.1:6627",
        "Nimbus's API URL, for clients and supervisors (`--nimbus`, `$SQUALL_NIMBUS` win). A bare `host:port` is accepted.",
    ),
    key(
        "nimbus.seeds",
        "none",
        "Nimbus hosts, as in Storm; the first is used, with `nimbus.port`. Ignored when `nimbus.url` is set.",
    ),
    key(
        "nimbus.port",
        "6627",
        "Nimbus's port for seeds given without one.",
    ),
    key(
        "nimbus.listen",
        "127.0.0.1:6627",
        "Address Nimbus serves its API on (`squall nimbus --listen`).",
    ),
    key(
        "nimbus.data.dir",
        "required on Nimbus",
        "Where Nimbus keeps its state, the topology binaries and `audit.log` (`--data-dir`).",
    ),
    key(
        "nimbus.supervisor.timeout.secs",
        "60",
        "A supervisor silent this long is dead: its workers are placed elsewhere.",
    ),
    key(
        "nimbus.max.upload.bytes",
        "1073741824",
        "Largest topology binary Nimbus accepts.",
    ),
    key(
        "ui.listen",
        "off",
        "Address of the web UI, REST API and `/metrics` (`squall nimbus --ui`).",
    ),
    key(
        "supervisor.host",
        "required on a supervisor",
        "This host's address; workers serve on it and Nimbus places by it (`--host`).",
    ),
    key(
        "supervisor.slots.ports",
        "[6700, 6701, 6702, 6703]",
        "Worker slot ports; one worker per port (`--slots`).",
    ),
    key(
        "supervisor.data.dir",
        "required on a supervisor",
        "Binary cache, worker records, worker logs and credentials (`--data-dir`).",
    ),
    key(
        "supervisor.listen",
        "the last run's address, else any free port on the host",
        "Address of the supervisor's own API (worker heartbeats, logs). Kept across restarts so adopted workers reach it.",
    ),
    key(
        "supervisor.worker.timeout.secs",
        "30",
        "A worker that has not heartbeated this long is killed and restarted.",
    ),
    key(
        "supervisor.worker.progress.timeout.secs",
        "60",
        "A worker whose executor has had input queued and executed nothing this long is restarted; status shows which executor stalled.",
    ),
    key(
        "supervisor.worker.log.max.bytes",
        "67108864",
        "A worker log past this size is copied to `.1` (three kept) and truncated in place.",
    ),
    key(
        "squall.tls.ca",
        "required unless insecure",
        "The cluster CA's certificate (PEM); relative paths are read from the file's directory.",
    ),
    key(
        "squall.tls.cert",
        "required unless insecure",
        "This process's certificate: its role (nimbus, supervisor, user) and name.",
    ),
    key(
        "squall.tls.key",
        "required unless insecure",
        "The key of `squall.tls.cert`.",
    ),
    key(
        "squall.tls.ca.key",
        "required on Nimbus unless insecure",
        "The CA's key, with which Nimbus issues each topology's worker certificates. Nimbus's host only.",
    ),
    key(
        "squall.insecure",
        "false",
        "true turns security off (plaintext, no identities), as `--insecure` does; every start warns.",
    ),
    key(
        "nimbus.admins",
        "[]",
        "Users who may act on every topology and read `/metrics`.",
    ),
    key(
        "squall.auth.groups",
        "{}",
        "Groups of users for `topology.groups`, e.g. `{ops: [alice, bob]}`.",
    ),
];

/// The whole of `docs/configuration.md`.
pub fn render() -> String {
    let mut out = String::new();
    out.push_str(
        "# Configuration reference\n\n\
         Generated from the code's own tables (`cli/src/config_reference.rs`,\n\
         `topology-api/src/config.rs`); a test fails when this file and the code differ.\n\n\
         ## The cluster file: `squall.yaml`\n\n\
         Read by every daemon and the CLI: `--config FILE`, else `$SQUALL_CONF`, else\n\
         `~/.squall/squall.yaml`, else `/etc/squall/squall.yaml`. Flags win over the file. An\n\
         unknown key or a wrong type stops the daemon with one line naming it. The daemon tuning\n\
         keys (`*.timeout.secs`, `*.bytes`) may also be given as `--conf key=value`.\n\n\
         | key | default | meaning |\n|---|---|---|\n",
    );
    for k in CLUSTER_KEYS {
        let _ = writeln!(out, "| `{}` | {} | {} |", k.key, k.default, k.meaning);
    }
    out.push_str(
        "\n## Topology keys: `topology.*`\n\n\
         Set in the topology's `Config`, with `squall submit --conf key=value` (JSON values;\n\
         these win), or per component (`.config(key, value)` on the builder) for the keys marked\n\
         so. Submit refuses a value of the wrong type or out of range with one line naming the\n\
         key, and warns about a `topology.*` key Squall does not read (with the nearest one it\n\
         does). Other keys are passed to the components as they are.\n\n\
         | key | default | takes | meaning |\n|---|---|---|---|\n",
    );
    for k in REFERENCE {
        let takes = KNOWN_KEYS
            .iter()
            .find(|(key, _)| *key == k.key)
            .map_or_else(String::new, |(_, expect)| expect.to_string());
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            k.key, k.default, takes, k.meaning
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_squall_yaml_key_is_documented_in_order() {
        let documented: Vec<&str> = CLUSTER_KEYS.iter().map(|k| k.key).collect();
        assert_eq!(documented, crate::cluster_config::KEYS);
    }

    #[test]
    fn docs_configuration_md_is_what_the_tables_render() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md");
        let rendered = render();
        if std::env::var_os("SQUALL_UPDATE_DOCS").is_some() {
            std::fs::write(&path, &rendered).expect("write docs/configuration.md");
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == rendered,
            "docs/configuration.md is out of date: run SQUALL_UPDATE_DOCS=1 cargo test -p squall-cli config_reference"
        );
    }
}
