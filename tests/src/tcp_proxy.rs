//! A loopback TCP forwarder the tests can cut: the way to take away a server whose state must
//! survive the outage (Tansu's storage is in memory, so stopping the broker itself would lose
//! every record). While cut, every open connection is closed and new ones are closed as soon
//! as they are accepted, which clients see as a server gone away; restored, it forwards again.
//! The listener stays bound throughout, so no other test can take the port meanwhile.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

/// A forwarder from a port of its own to `target`.
pub struct TcpProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Shared {
    cut: AtomicBool,
    stop: AtomicBool,
    next_id: AtomicU64,
    /// Both ends of every forwarded connection still open, to close them when cut.
    open: Mutex<HashMap<u64, (TcpStream, TcpStream)>>,
}

impl Shared {
    fn close(&self, id: u64) {
        let entry = self
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        if let Some((client, server)) = entry {
            drop(client.shutdown(Shutdown::Both));
            drop(server.shutdown(Shutdown::Both));
        }
    }
}

impl TcpProxy {
    /// Forwards a free port of `host` to `target`.
    ///
    /// # Panics
    /// When no port can be bound.
    pub fn start(host: &str, target: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind((host, 0)).expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let shared = Arc::new(Shared::default());
        let acceptor = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || accept(&listener, target, &shared))
        };
        TcpProxy {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// Closes the open connections, and every new one until [`TcpProxy::restore`].
    pub fn cut(&mut self) {
        self.shared.cut.store(true, Ordering::SeqCst);
        let ids: Vec<u64> = self
            .shared
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .copied()
            .collect();
        for id in ids {
            self.shared.close(id);
        }
    }

    /// Forwards new connections again.
    pub fn restore(&mut self) {
        self.shared.cut.store(false, Ordering::SeqCst);
    }
}

fn accept(listener: &TcpListener, target: SocketAddr, shared: &Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        if shared.cut.load(Ordering::SeqCst) {
            drop(client.shutdown(Shutdown::Both));
            continue;
        }
        let Ok(server) = TcpStream::connect(target) else {
            continue;
        };
        let (Ok(c1), Ok(c2), Ok(s1), Ok(s2)) = (
            client.try_clone(),
            client.try_clone(),
            server.try_clone(),
            server.try_clone(),
        ) else {
            continue;
        };
        let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
        shared
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, (client, server));
        pump(c1, s1, id, shared);
        pump(s2, c2, id, shared);
    }
}

/// Copies `from` to `to` on a thread of its own until either end closes, then closes the
/// connection (both directions) and forgets it.
fn pump(mut from: TcpStream, mut to: TcpStream, id: u64, shared: &Arc<Shared>) {
    let shared = Arc::clone(shared);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        shared.close(id);
    });
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor so that it sees the stop.
        drop(TcpStream::connect(self.addr));
        if let Some(acceptor) = self.acceptor.take() {
            drop(acceptor.join());
        }
    }
}
