//! Web UI logins, with the same credential as the CLI: a user's certificate.
//!
//! `squall ui-login` asks Nimbus over mutual TLS for a one-time ticket and prints a login
//! link; opening it trades the ticket for a session cookie (`Secure`, `HttpOnly`,
//! `SameSite=Strict`). A client that shows its certificate to the UI port (curl, Prometheus)
//! needs no session. Every state-changing request must also carry the principal's CSRF token
//! in `x-csrf-token` (the pages read it from `/api/v1/session`, which another site cannot
//! read): a cookie or a certificate a browser sends on its own is not enough to act.
//! Tickets and sessions are kept only as SHA-256 hashes, in memory: a Nimbus restart logs
//! everyone out.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};

/// How long a login link works.
pub const TICKET_TTL: Duration = Duration::from_secs(120);
/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "squall_session";
/// The header state-changing requests carry their CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A random token, hex (256 bits); `None` if the system's random source fails, which must
/// fail the login rather than hand out a guessable token.
fn token(rng: &SystemRandom) -> Option<String> {
    let mut bytes = [0u8; 32];
    rng.fill(&mut bytes).ok()?;
    Some(hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hashed(token: &str) -> String {
    hex(digest(&SHA256, token.as_bytes()).as_ref())
}

/// Tickets, sessions and CSRF tokens.
pub struct Sessions {
    rng: SystemRandom,
    /// Ticket hash → (user, expiry).
    tickets: HashMap<String, (String, Instant)>,
    /// Session hash → (user, expiry).
    sessions: HashMap<String, (String, Instant)>,
    /// User → CSRF token.
    csrf: HashMap<String, String>,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions {
            rng: SystemRandom::new(),
            tickets: HashMap::new(),
            sessions: HashMap::new(),
            csrf: HashMap::new(),
        }
    }
}

impl Sessions {
    /// A one-time login ticket for `user`; `None` when no random token can be made.
    pub fn ticket(&mut self, user: &str, now: Instant) -> Option<String> {
        self.forget_expired(now);
        let ticket = token(&self.rng)?;
        self.tickets
            .insert(hashed(&ticket), (user.to_owned(), now + TICKET_TTL));
        Some(ticket)
    }

    /// Trades a ticket (once) for a session token; `None` for an unknown, used or expired one.
    pub fn login(&mut self, ticket: &str, now: Instant) -> Option<(String, String)> {
        self.forget_expired(now);
        let (user, until) = self.tickets.remove(&hashed(ticket))?;
        if now >= until {
            return None;
        }
        let session = token(&self.rng)?;
        self.sessions
            .insert(hashed(&session), (user.clone(), now + SESSION_TTL));
        Some((user, session))
    }

    /// The user of a session token, if it is live.
    pub fn user_of(&self, session: &str, now: Instant) -> Option<String> {
        let (user, until) = self.sessions.get(&hashed(session))?;
        (now < *until).then(|| user.clone())
    }

    /// Ends a session.
    pub fn logout(&mut self, session: &str) {
        self.sessions.remove(&hashed(session));
    }

    /// The CSRF token of `user` (made on first use); `None` when no random token can be made.
    pub fn csrf_token(&mut self, user: &str) -> Option<String> {
        if let Some(t) = self.csrf.get(user) {
            return Some(t.clone());
        }
        let t = token(&self.rng)?;
        self.csrf.insert(user.to_owned(), t.clone());
        Some(t)
    }

    /// Whether `given` is `user`'s CSRF token (compared in constant time).
    pub fn csrf_ok(&self, user: &str, given: &str) -> bool {
        self.csrf.get(user).is_some_and(|t| {
            !t.is_empty()
                && t.len() == given.len()
                && t.bytes()
                    .zip(given.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        })
    }

    fn forget_expired(&mut self, now: Instant) {
        self.tickets.retain(|_, (_, until)| now < *until);
        self.sessions.retain(|_, (_, until)| now < *until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_logs_in_once_and_the_session_names_the_user() {
        let mut s = Sessions::default();
        let now = Instant::now();
        let ticket = s.ticket("alice", now).expect("ticket");
        assert_eq!(ticket.len(), 64);
        let (user, session) = s.login(&ticket, now).expect("login");
        assert_eq!(user, "alice");
        assert_eq!(s.user_of(&session, now).as_deref(), Some("alice"));
        assert!(s.login(&ticket, now).is_none(), "a ticket works once");
        s.logout(&session);
        assert!(s.user_of(&session, now).is_none());
    }

    #[test]
    fn tickets_and_sessions_expire() {
        let mut s = Sessions::default();
        let now = Instant::now();
        let ticket = s.ticket("alice", now).expect("ticket");
        assert!(s.login(&ticket, now + TICKET_TTL).is_none());
        let ticket = s.ticket("alice", now).expect("ticket");
        let (_, session) = s.login(&ticket, now).expect("login");
        assert!(s.user_of(&session, now + SESSION_TTL).is_none());
        assert!(s.user_of("not a session", now).is_none());
    }

    #[test]
    fn csrf_tokens_are_per_user_and_checked_exactly() {
        let mut s = Sessions::default();
        let a = s.csrf_token("alice").expect("token");
        assert_eq!(s.csrf_token("alice"), Some(a.clone()));
        let b = s.csrf_token("bob").expect("token");
        assert_ne!(a, b);
        assert!(s.csrf_ok("alice", &a));
        assert!(!s.csrf_ok("alice", &b));
        assert!(!s.csrf_ok("alice", ""));
        assert!(!s.csrf_ok("carol", &a));
    }

    #[test]
    fn nothing_secret_is_kept_in_the_clear() {
        let mut s = Sessions::default();
        let now = Instant::now();
        let ticket = s.ticket("alice", now).expect("ticket");
        assert!(!s.tickets.contains_key(&ticket));
        let (_, session) = s.login(&ticket, now).expect("login");
        assert!(!s.sessions.contains_key(&session));
    }
}
