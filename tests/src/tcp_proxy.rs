//! A loopback TCP forwarder the tests can cut: the way to take away a server whose state must
//! survive the outage (Tansu's storage is in memory, so stopping the broker itself would lose
//! every record). While cut, connecting is refused and every open connection is closed,
//! exactly what clients see of a server that was stopped; restored, it listens on the same
//! port again.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A forwarder from a port of its own to `target`.
pub struct TcpProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    target: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Shared {
    cut: AtomicBool,
    /// Both ends of every forwarded connection, to close them when cut.
    open: Mutex<Vec<TcpStream>>,
}

impl TcpProxy {
    /// Forwards `listen` (a free loopback address) to `target`.
    pub fn start(listen: SocketAddr, target: SocketAddr) -> TcpProxy {
        let mut proxy = TcpProxy {
            addr: listen,
            target,
            shared: Arc::default(),
            acceptor: None,
        };
        proxy.listen();
        proxy
    }

    fn listen(&mut self) {
        self.shared.cut.store(false, Ordering::SeqCst);
        let listener = TcpListener::bind(self.addr).unwrap();
        let (shared, target) = (Arc::clone(&self.shared), self.target);
        self.acceptor = Some(std::thread::spawn(move || {
            for client in listener.incoming() {
                if shared.cut.load(Ordering::SeqCst) {
                    // The wake-up connection from `cut`: the listener closes with this thread.
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                let mut open = shared.open.lock().unwrap();
                open.push(client.try_clone().unwrap());
                open.push(server.try_clone().unwrap());
                drop(open);
                pump(client.try_clone().unwrap(), server.try_clone().unwrap());
                pump(server, client);
            }
        }));
    }

    /// Refuses new connections and closes the open ones.
    pub fn cut(&mut self) {
        self.shared.cut.store(true, Ordering::SeqCst);
        // Wake the acceptor so that it sees the cut and drops the listener.
        drop(TcpStream::connect(self.addr));
        if let Some(acceptor) = self.acceptor.take() {
            acceptor.join().unwrap();
        }
        for stream in self.shared.open.lock().unwrap().drain(..) {
            drop(stream.shutdown(Shutdown::Both));
        }
    }

    /// Listens again, on the same port.
    pub fn restore(&mut self) {
        self.listen();
    }
}

/// Copies `from` to `to` on a thread of its own until either end closes.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        drop(to.shutdown(Shutdown::Both));
        drop(from.shutdown(Shutdown::Both));
    });
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
    }
}
