//! Who may call the supervisor's API: plain functions of the caller's verified certificate.
//! A worker heartbeats only for the topology its certificate names (Nimbus issues one per
//! topology), so a process holding another topology's certificate cannot read or steer this
//! one's assignment; logs are read with a user certificate.

use squall_security::pki::worker_name;
use squall_security::{Principal, Role};

/// A refusal, one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("permission denied: {0}")]
pub struct Denied(pub String);

/// A worker heartbeat for `topology_id` from `caller` (`None` with security off: allowed).
pub fn worker_heartbeat(
    caller: Option<&Principal>,
    secure: bool,
    topology_id: &str,
) -> Result<(), Denied> {
    match caller {
        _ if !secure => Ok(()),
        Some(p) if p.role == Role::Worker && p.name == worker_name(topology_id) => Ok(()),
        Some(p) if p.role == Role::Worker => Err(Denied(format!(
            "a worker certificate of another topology ({}) may not heartbeat for topology {topology_id}",
            p.name
        ))),
        _ => Err(Denied("only a worker certificate may heartbeat".into())),
    }
}

/// A read of `topology_id`'s logs from `caller`: a user Nimbus listed among the topology's
/// log readers (its owner, `topology.users`, members of `topology.groups`, admins), or Nimbus
/// itself, which serves logs to the web UI's users after the same check.
pub fn read_log(
    caller: Option<&Principal>,
    secure: bool,
    topology_id: &str,
    readers: &[String],
) -> Result<(), Denied> {
    match caller {
        _ if !secure => Ok(()),
        Some(p) if p.role == Role::User && readers.contains(&p.name) => Ok(()),
        Some(p) if p.role == Role::Nimbus => Ok(()),
        Some(p) if p.role == Role::User => Err(Denied(format!(
            "user {} may not read the logs of topology {topology_id}",
            p.name
        ))),
        _ => Err(Denied(
            "reading worker logs needs a user certificate".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(role: Role, name: &str) -> Principal {
        Principal {
            role,
            name: name.into(),
        }
    }

    #[test]
    fn workers_heartbeat_only_for_their_own_topology() {
        let w = p(Role::Worker, &worker_name("wc-1-1"));
        assert!(worker_heartbeat(Some(&w), true, "wc-1-1").is_ok());
        assert!(
            worker_heartbeat(Some(&w), true, "other-2-2")
                .unwrap_err()
                .to_string()
                .contains("may not heartbeat for topology other-2-2")
        );
        // A certificate named after the id itself is not the topology's worker name.
        assert!(worker_heartbeat(Some(&p(Role::Worker, "wc-1-1")), true, "wc-1-1").is_err());
        assert!(worker_heartbeat(Some(&p(Role::User, "wc-1-1")), true, "wc-1-1").is_err());
        assert!(worker_heartbeat(None, true, "wc-1-1").is_err());
        assert!(worker_heartbeat(None, false, "wc-1-1").is_ok());
    }

    #[test]
    fn logs_are_for_the_users_nimbus_listed() {
        let readers = vec!["alice".to_owned(), "root".to_owned()];
        assert!(read_log(Some(&p(Role::User, "alice")), true, "wc", &readers).is_ok());
        assert_eq!(
            read_log(Some(&p(Role::User, "bob")), true, "wc", &readers)
                .unwrap_err()
                .to_string(),
            "permission denied: user bob may not read the logs of topology wc"
        );
        assert!(read_log(Some(&p(Role::Worker, "alice")), true, "wc", &readers).is_err());
        assert!(read_log(None, true, "wc", &readers).is_err());
        assert!(read_log(Some(&p(Role::Nimbus, "nimbus")), true, "wc", &[]).is_ok());
        assert!(read_log(Some(&p(Role::Supervisor, "s")), true, "wc", &readers).is_err());
        assert!(read_log(None, false, "wc", &[]).is_ok());
    }
}
