//! One accept loop for every listening transport, and the handle that stops
//! it.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::driver::Wired;
use crate::options::Options;
use crate::RemoteError;

/// Where a [`Listener`] accepts connections.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListenAddr {
    /// A Unix domain socket's path.
    Unix(std::path::PathBuf),
    /// A TCP address.
    Tcp(std::net::SocketAddr),
}

/// A server listening for connections; it stops accepting when closed or
/// dropped (a Unix socket's file is removed then). Connections already made
/// stay up, including those whose `connect` returned just before.
pub struct Listener {
    addr: ListenAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    wake: Box<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Listener {
    /// Where it listens (for TCP, the bound address, with the port chosen by
    /// the system when 0 was asked for).
    pub fn addr(&self) -> &ListenAddr {
        &self.addr
    }

    /// The socket's path, if this is a Unix listener.
    pub fn path(&self) -> Option<&std::path::Path> {
        match &self.addr {
            ListenAddr::Unix(p) => Some(p),
            ListenAddr::Tcp(_) => None,
        }
    }

    /// The bound TCP address, if this is a TCP listener.
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        match self.addr {
            ListenAddr::Tcp(a) => Some(a),
            ListenAddr::Unix(_) => None,
        }
    }

    /// Stops accepting connections.
    pub fn close(mut self) {
        self.stop_accepting();
    }

    fn stop_accepting(&mut self) {
        if self.stop.swap(true, Ordering::AcqRel) {
            return;
        }
        // Wake the blocked accept() with a connection of our own.
        (self.wake)();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if let ListenAddr::Unix(path) = &self.addr {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop_accepting();
    }
}

/// A bound listening socket.
pub(crate) trait Acceptor: Send + 'static {
    type Stream: Send + 'static;
    fn accept(&self) -> io::Result<Self::Stream>;
    fn set_nonblocking(&self, on: bool) -> io::Result<()>;
    /// Wires an accepted stream to the driver.
    fn wire(stream: Self::Stream, options: &Options) -> Result<Wired, RemoteError>;
}

impl Acceptor for std::os::unix::net::UnixListener {
    type Stream = std::os::unix::net::UnixStream;
    fn accept(&self) -> io::Result<Self::Stream> {
        std::os::unix::net::UnixListener::accept(self).map(|(s, _)| s)
    }
    fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        std::os::unix::net::UnixListener::set_nonblocking(self, on)
    }
    fn wire(stream: Self::Stream, options: &Options) -> Result<Wired, RemoteError> {
        super::unix::wire(stream, options)
    }
}

impl Acceptor for std::net::TcpListener {
    type Stream = std::net::TcpStream;
    fn accept(&self) -> io::Result<Self::Stream> {
        std::net::TcpListener::accept(self).map(|(s, _)| s)
    }
    fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        std::net::TcpListener::set_nonblocking(self, on)
    }
    fn wire(stream: Self::Stream, options: &Options) -> Result<Wired, RemoteError> {
        super::tcp::wire(stream, options)
    }
}

/// Runs the accept loop of `acceptor` on its own thread; `on_accept` gets
/// each connection, wired, and a peer label.
pub(crate) fn spawn<A: Acceptor>(
    acceptor: A,
    addr: ListenAddr,
    options: Options,
    label: impl Fn(&A::Stream) -> String + Send + 'static,
    wake: Box<dyn Fn() + Send + Sync>,
    on_accept: impl Fn(Wired, String) + Send + 'static,
) -> io::Result<Listener> {
    spawn_raw(
        acceptor,
        addr,
        label,
        wake,
        move |stream, peer| match A::wire(stream, &options) {
            Ok(wired) => on_accept(wired, peer),
            Err(e) => tracing::warn!(error = %e, "accept failed"),
        },
    )
}

/// The accept loop itself: `on_stream` gets each prepared stream and its
/// peer label (and may hand it to another thread, as TLS does for its
/// handshake).
pub(crate) fn spawn_raw<A: Acceptor>(
    acceptor: A,
    addr: ListenAddr,
    label: impl Fn(&A::Stream) -> String + Send + 'static,
    wake: Box<dyn Fn() + Send + Sync>,
    on_stream: impl Fn(A::Stream, String) + Send + 'static,
) -> io::Result<Listener> {
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    let serve = move |stream: io::Result<A::Stream>| match stream {
        Ok(stream) => {
            let peer = label(&stream);
            on_stream(stream, peer)
        }
        Err(e) => tracing::warn!(error = %e, "accept failed"),
    };
    let thread = std::thread::Builder::new()
        .name("remote-accept".into())
        .spawn(move || loop {
            serve(acceptor.accept());
            if stopping.load(Ordering::Acquire) {
                // Serve what was already queued (clients whose connect
                // returned), then stop. The waker's own connection is among
                // them and simply ends.
                if acceptor.set_nonblocking(true).is_ok() {
                    while let Ok(stream) = acceptor.accept() {
                        serve(Ok(stream));
                    }
                }
                return;
            }
        })?;
    Ok(Listener {
        addr,
        stop,
        thread: Some(thread),
        wake,
    })
}
