//! A worker's spouts wait for the other workers of their topology. Tuples sent to a worker that
//! is not listening yet are held for a while and then dropped, and their trees come back only
//! after the message timeout, stalling a spout whose first window of trees was lost. Storm
//! activates a worker's spouts once its connections to the other workers are up; here the
//! spouts start inactive and are activated when every other worker's port accepts a
//! connection, or after [`WAIT_FOR_PEERS_CAP`], whichever comes first.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use squall_proto::{Assignment, Slot};

/// The longest spouts wait for the other workers (a worker that never comes up must not keep
/// the topology idle; its tuples are dropped and replayed as before).
pub(crate) const WAIT_FOR_PEERS_CAP: Duration = Duration::from_secs(15);

/// How long one probe waits for a peer to accept.
const PROBE_TIMEOUT: Duration = Duration::from_millis(200);

/// The other workers' slots in an assignment.
pub(crate) fn other_slots(assignment: &Assignment, me: &Slot) -> Vec<Slot> {
    assignment.slots().into_iter().filter(|s| s != me).collect()
}

/// Whether every slot's port accepts a TCP connection now.
pub(crate) fn all_listening(slots: &[Slot]) -> bool {
    slots.iter().all(|slot| {
        (slot.host.as_str(), slot.port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .is_some_and(|addr| TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listening_port_counts_and_a_closed_one_does_not() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let open = Slot {
            host: "127.0.0.1".into(),
            port: listener.local_addr().expect("addr").port(),
        };
        let closed_port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let closed = Slot {
            host: "127.0.0.1".into(),
            port: closed_port,
        };
        assert!(all_listening(std::slice::from_ref(&open)));
        assert!(!all_listening(&[open, closed]));
        assert!(all_listening(&[]));
    }
}
