//! The audit log, `<data dir>/audit.log`: one line per state-changing request — who, what, on
//! which topology, and how it ended, refusals included — as Storm's and Kafka's authorisers
//! keep one. Lines are `key=value` pairs (values with spaces quoted), appended and never
//! rewritten, so `grep principal=user:bob audit.log` answers "what did bob do?".

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::Mutex;

use crate::authorize::Caller;

/// The file name in Nimbus's data directory.
pub const AUDIT_LOG: &str = "audit.log";

/// An open audit log.
#[derive(Debug)]
pub struct AuditLog {
    file: Mutex<std::fs::File>,
}

impl AuditLog {
    /// Opens (creating) the log in `data_dir`.
    pub fn open(data_dir: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o640)
            .open(data_dir.join(AUDIT_LOG))?;
        Ok(AuditLog {
            file: Mutex::new(file),
        })
    }

    /// Appends one line. A failed write is logged, never fatal to the request.
    pub fn record(&self, caller: &Caller, action: &str, topology: &str, result: Result<(), &str>) {
        let line = line(
            &humantime_now(),
            &caller.audit_name(),
            action,
            topology,
            result,
        );
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = file.write_all(line.as_bytes()) {
            tracing::warn!(error = %e, "cannot write the audit log");
        }
    }
}

fn humantime_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A value as written: bare when it is made of plain characters only, else quoted with
/// quotes, backslashes and every control character escaped, so that a user-chosen name can
/// never forge a field or a line.
fn value(v: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "._:@/-+,()[]".contains(c);
    if !v.is_empty() && v.chars().all(plain) {
        v.to_owned()
    } else {
        format!("\"{}\"", v.escape_default())
    }
}

/// One line of the log.
pub fn line(
    time: &str,
    principal: &str,
    action: &str,
    topology: &str,
    result: Result<(), &str>,
) -> String {
    let mut out = String::new();
    let result = match result {
        Ok(()) => "ok".to_owned(),
        Err(why) => format!("refused: {why}"),
    };
    let _ = writeln!(
        out,
        "time={} principal={} action={} topology={} result={}",
        value(time),
        value(principal),
        value(action),
        value(topology),
        value(&result)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_key_value_with_spaces_quoted() {
        assert_eq!(
            line("2026-11-28T12:00:00Z", "user:alice", "kill", "wc", Ok(())),
            "time=2026-11-28T12:00:00Z principal=user:alice action=kill topology=wc result=ok\n"
        );
        assert_eq!(
            line("t", "user:bob", "kill", "wc", Err("permission denied: no")),
            "time=t principal=user:bob action=kill topology=wc result=\"refused: permission denied: no\"\n"
        );
    }

    #[test]
    fn a_name_cannot_forge_a_line_or_a_field() {
        let forged = line(
            "t",
            "user:bob",
            "submit",
            "x result=ok\ntime=t principal=user:root",
            Ok(()),
        );
        assert_eq!(forged.lines().count(), 1, "{forged}");
        assert!(
            forged.contains(r#"topology="x result=ok\ntime=t principal=user:root""#),
            "{forged}"
        );
        assert!(line("t", "u", "a", "say \"hi\"\r", Ok(())).contains(r#"topology="say \"hi\"\r""#));
    }

    #[test]
    fn records_append_to_the_file() {
        let dir = tempfile::tempdir().expect("dir");
        let log = AuditLog::open(dir.path()).expect("open");
        log.record(&Caller::Anyone, "submit", "a", Ok(()));
        log.record(&Caller::Anyone, "kill", "a", Err("no topology named \"a\""));
        let text = std::fs::read_to_string(dir.path().join(AUDIT_LOG)).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0]
                .contains("principal=\"anonymous (insecure)\" action=submit topology=a result=ok")
        );
        assert!(lines[1].contains("action=kill"));
    }
}
