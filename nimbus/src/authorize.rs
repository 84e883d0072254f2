//! Who may call what on Nimbus, as Storm's authoriser decides: plain functions of the caller
//! (from its verified certificate), the request and the topology's owner and ACL. The service
//! gathers the facts and turns a [`Denied`] into `PERMISSION_DENIED`.
//!
//! - Supervisor RPCs need a supervisor certificate, and a supervisor may heartbeat only under
//!   the id its certificate names, and download only binaries of topologies assigned to it.
//! - Client verbs need a user certificate. Any user may submit and list; a topology is seen,
//!   killed, rebalanced, (de)activated and its logs read by its owner (the submitter), the
//!   users of `topology.users`, members of `topology.groups`, and `nimbus.admins`.
//! - With security off (`--insecure`) there are no identities and everything is allowed.

use std::collections::BTreeMap;

use squall_security::{Principal, Role};

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Security is off: no identities, everything allowed.
    Anyone,
    /// A TLS client whose certificate the cluster CA signed.
    Principal(Principal),
    /// A TLS client without a certificate naming a Squall role (never reached while the TLS
    /// layer requires one; refused all the same).
    Unknown,
}

impl Caller {
    /// The caller's name for the audit log.
    pub fn audit_name(&self) -> String {
        match self {
            Caller::Anyone => "anonymous (insecure)".to_owned(),
            Caller::Principal(p) => format!("{}:{}", p.role, p.name),
            Caller::Unknown => "unknown".to_owned(),
        }
    }
}

/// What a user asks to do with one topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopologyVerb {
    See,
    Kill,
    Rebalance,
    Activate,
    Deactivate,
    ReadLogs,
}

impl TopologyVerb {
    fn as_str(self) -> &'static str {
        match self {
            TopologyVerb::See => "see",
            TopologyVerb::Kill => "kill",
            TopologyVerb::Rebalance => "rebalance",
            TopologyVerb::Activate => "activate",
            TopologyVerb::Deactivate => "deactivate",
            TopologyVerb::ReadLogs => "read the logs of",
        }
    }
}

/// Who may act on a topology besides admins.
#[derive(Debug, Clone, Copy)]
pub struct TopologyAcl<'a> {
    pub name: &'a str,
    /// The submitter; `None` for a topology submitted with security off.
    pub owner: Option<&'a str>,
    /// `topology.users`.
    pub users: &'a [String],
    /// `topology.groups`.
    pub groups: &'a [String],
}

/// A refusal, as one line for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("permission denied: {0}")]
pub struct Denied(pub String);

/// The cluster's authorisation settings.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// `nimbus.admins`.
    pub admins: Vec<String>,
    /// `squall.auth.groups`: group → its users.
    pub groups: BTreeMap<String, Vec<String>>,
}

fn role_of(caller: &Caller) -> Option<&Principal> {
    match caller {
        Caller::Principal(p) => Some(p),
        _ => None,
    }
}

impl Policy {
    fn is_admin(&self, user: &str) -> bool {
        self.admins.iter().any(|a| a == user)
    }

    fn in_group(&self, user: &str, group: &str) -> bool {
        self.groups
            .get(group)
            .is_some_and(|members| members.iter().any(|m| m == user))
    }

    /// A verb any user may call (submit, list, the cluster's summary).
    pub fn user_verb(&self, caller: &Caller, what: &str) -> Result<(), Denied> {
        match caller {
            Caller::Anyone => Ok(()),
            Caller::Principal(p) if p.role == Role::User => Ok(()),
            Caller::Principal(p) => Err(Denied(format!(
                "a {} certificate may not {what}; use a user certificate (squall certs issue --role user NAME)",
                p.role
            ))),
            Caller::Unknown => Err(Denied(format!(
                "{what} needs a user certificate from the cluster CA"
            ))),
        }
    }

    /// A user's verb on one topology.
    pub fn topology_verb(
        &self,
        caller: &Caller,
        verb: TopologyVerb,
        acl: TopologyAcl<'_>,
    ) -> Result<(), Denied> {
        if *caller == Caller::Anyone {
            return Ok(());
        }
        self.user_verb(caller, &format!("{} a topology", verb.as_str()))?;
        let Some(user) = role_of(caller).map(|p| p.name.as_str()) else {
            return Err(Denied("no user".into()));
        };
        let allowed = self.is_admin(user)
            || acl.owner == Some(user)
            || acl.users.iter().any(|u| u == user)
            || acl.groups.iter().any(|g| self.in_group(user, g));
        if allowed {
            Ok(())
        } else {
            Err(Denied(format!(
                "user {user} may not {} topology {} (its owner, topology.users, topology.groups and nimbus.admins may)",
                verb.as_str(),
                acl.name
            )))
        }
    }

    /// Everyone who may act on a topology by name: its owner, `topology.users`, the members
    /// of `topology.groups` and the admins (for supervisors, which check log reads by it).
    pub fn users_of(&self, acl: TopologyAcl<'_>) -> Vec<String> {
        let mut users: Vec<String> = acl
            .owner
            .into_iter()
            .map(str::to_owned)
            .chain(acl.users.iter().cloned())
            .chain(
                acl.groups
                    .iter()
                    .filter_map(|g| self.groups.get(g))
                    .flatten()
                    .cloned(),
            )
            .chain(self.admins.iter().cloned())
            .collect();
        users.sort_unstable();
        users.dedup();
        users
    }

    /// A supervisor heartbeat claiming `supervisor_id`: only from the supervisor certificate
    /// of that name, so no one can heartbeat as another host and pull its executors.
    /// It must also claim a host its certificate is for (`cert_hosts`): Nimbus issues that
    /// host's worker certificates, which must not name a host the supervisor is not.
    pub fn supervisor_heartbeat(
        &self,
        caller: &Caller,
        supervisor_id: &str,
        host: &str,
        cert_hosts: &[String],
    ) -> Result<(), Denied> {
        match caller {
            Caller::Anyone => Ok(()),
            Caller::Principal(p)
                if p.role == Role::Supervisor
                    && p.name == supervisor_id
                    && !cert_hosts.iter().any(|h| h == host) =>
            {
                Err(Denied(format!(
                    "supervisor {supervisor_id} claims host {host}, which its certificate is not for ({})",
                    cert_hosts.join(", ")
                )))
            }
            Caller::Principal(p) if p.role == Role::Supervisor && p.name == supervisor_id => Ok(()),
            Caller::Principal(p) if p.role == Role::Supervisor => Err(Denied(format!(
                "the certificate of supervisor {} may not heartbeat as supervisor {supervisor_id}",
                p.name
            ))),
            _ => Err(Denied(
                "only a supervisor certificate may heartbeat".to_owned(),
            )),
        }
    }

    /// A binary download: only by a supervisor that holds an assignment of the topology.
    pub fn download_binary(
        &self,
        caller: &Caller,
        assigned_to: impl FnOnce(&str) -> bool,
    ) -> Result<(), Denied> {
        match caller {
            Caller::Anyone => Ok(()),
            Caller::Principal(p) if p.role == Role::Supervisor => {
                if assigned_to(&p.name) {
                    Ok(())
                } else {
                    Err(Denied(format!(
                        "supervisor {} holds no assignment of that binary's topology",
                        p.name
                    )))
                }
            }
            _ => Err(Denied(
                "only a supervisor with an assignment may download a topology binary".to_owned(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> Caller {
        Caller::Principal(Principal {
            role: Role::User,
            name: name.into(),
        })
    }

    fn supervisor(name: &str) -> Caller {
        Caller::Principal(Principal {
            role: Role::Supervisor,
            name: name.into(),
        })
    }

    fn policy() -> Policy {
        Policy {
            admins: vec!["root".into()],
            groups: [("ops".to_owned(), vec!["olga".to_owned()])].into(),
        }
    }

    const VERBS: [TopologyVerb; 6] = [
        TopologyVerb::See,
        TopologyVerb::Kill,
        TopologyVerb::Rebalance,
        TopologyVerb::Activate,
        TopologyVerb::Deactivate,
        TopologyVerb::ReadLogs,
    ];

    #[test]
    fn owner_listed_users_group_members_and_admins_may_act_others_may_not() {
        let users = vec!["uma".to_owned()];
        let groups = vec!["ops".to_owned()];
        let acl = TopologyAcl {
            name: "wc",
            owner: Some("alice"),
            users: &users,
            groups: &groups,
        };
        let p = policy();
        for verb in VERBS {
            for who in ["alice", "uma", "olga", "root"] {
                assert!(
                    p.topology_verb(&user(who), verb, acl).is_ok(),
                    "{who} {verb:?}"
                );
            }
            let denied = p.topology_verb(&user("bob"), verb, acl).unwrap_err();
            assert!(
                denied.to_string().starts_with(&format!(
                    "permission denied: user bob may not {} topology wc",
                    verb.as_str()
                )),
                "{denied}"
            );
            // Daemon certificates are not users.
            assert!(p.topology_verb(&supervisor("alice"), verb, acl).is_err());
            assert!(p.topology_verb(&Caller::Unknown, verb, acl).is_err());
            assert!(p.topology_verb(&Caller::Anyone, verb, acl).is_ok());
        }
    }

    #[test]
    fn the_users_of_a_topology_are_exactly_those_topology_verb_allows() {
        let users = vec!["uma".to_owned()];
        let groups = vec!["ops".to_owned(), "nobody".to_owned()];
        let acl = TopologyAcl {
            name: "wc",
            owner: Some("alice"),
            users: &users,
            groups: &groups,
        };
        let p = policy();
        let listed = p.users_of(acl);
        assert_eq!(listed, ["alice", "olga", "root", "uma"]);
        for who in ["alice", "olga", "root", "uma", "bob", "ops"] {
            assert_eq!(
                p.topology_verb(&user(who), TopologyVerb::ReadLogs, acl)
                    .is_ok(),
                listed.iter().any(|u| u == who),
                "{who}"
            );
        }
    }

    #[test]
    fn a_topology_without_an_owner_is_for_admins_and_listed_users() {
        let acl = TopologyAcl {
            name: "old",
            owner: None,
            users: &[],
            groups: &[],
        };
        assert!(
            policy()
                .topology_verb(&user("root"), TopologyVerb::Kill, acl)
                .is_ok()
        );
        assert!(
            policy()
                .topology_verb(&user("alice"), TopologyVerb::Kill, acl)
                .is_err()
        );
    }

    #[test]
    fn a_supervisor_heartbeats_only_as_the_id_its_certificate_names() {
        let p = policy();
        let a_hosts = ["127.0.0.2".to_owned()];
        assert!(
            p.supervisor_heartbeat(&supervisor("host-a"), "host-a", "127.0.0.2", &a_hosts)
                .is_ok()
        );
        assert!(
            p.supervisor_heartbeat(&supervisor("host-a"), "host-a", "127.0.0.3", &a_hosts)
                .unwrap_err()
                .to_string()
                .contains("claims host 127.0.0.3, which its certificate is not for")
        );
        let forged = p
            .supervisor_heartbeat(&supervisor("host-a"), "host-b", "127.0.0.2", &a_hosts)
            .unwrap_err();
        assert_eq!(
            forged.to_string(),
            "permission denied: the certificate of supervisor host-a may not heartbeat as supervisor host-b"
        );
        assert!(
            p.supervisor_heartbeat(&user("host-b"), "host-b", "127.0.0.2", &a_hosts)
                .is_err()
        );
        assert!(
            p.supervisor_heartbeat(&Caller::Anyone, "x", "h", &[])
                .is_ok()
        );
    }

    #[test]
    fn binaries_go_only_to_supervisors_assigned_their_topology() {
        let p = policy();
        assert!(p.download_binary(&supervisor("a"), |s| s == "a").is_ok());
        assert!(p.download_binary(&supervisor("b"), |s| s == "a").is_err());
        assert!(p.download_binary(&user("a"), |_| true).is_err());
    }

    #[test]
    fn only_users_call_user_verbs() {
        let p = policy();
        assert!(p.user_verb(&user("x"), "submit a topology").is_ok());
        let e = p
            .user_verb(&supervisor("x"), "submit a topology")
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("a supervisor certificate may not submit a topology")
        );
    }
}
