//! One accept loop for every listening transport, and the handle that stops
//! it.
//!
//! The loop is a task on the connection runtime (no thread per listener).
//! Stopping it is a signal, not a connection to our own address, so it
//! works whatever happened to a Unix socket's path. When the process runs
//! out of file descriptors, accepting backs off (100 ms, doubling to 1 s)
//! and says so once per episode, instead of spinning and logging each
//! failure; it recovers by itself once descriptors free up.

use std::io;
use std::time::Duration;

use tokio::sync::oneshot;

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
    stop: Option<oneshot::Sender<()>>,
    /// Signalled by the accept loop once it has stopped.
    stopped: Option<crossbeam_channel::Receiver<()>>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("addr", &self.addr)
            .finish()
    }
}

/// How long dropping a listener waits for its loop to stop (it is a
/// signal away, so only a runtime that is not running takes this long).
const STOP_WITHIN: Duration = Duration::from_secs(5);

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
        let Some(stop) = self.stop.take() else {
            return;
        };
        let _ = stop.send(());
        if let Some(stopped) = self.stopped.take() {
            // The loop serves the connections already queued, then stops.
            // On the loop's own runtime thread (a current-thread runtime)
            // waiting would stop it from running: it finishes on its own.
            let on_a_worker = tokio::runtime::Handle::try_current()
                .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread);
            if !on_a_worker {
                let _ = crate::driver::blocking::wait(|| stopped.recv_timeout(STOP_WITHIN));
            }
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

/// A bound listening socket of tokio's.
pub(crate) trait Acceptor: Send + Sync + Sized + 'static {
    type Stream: Send + 'static;
    fn poll_accept(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<Self::Stream>>;
    /// Accepts what is queued now, without the reactor (used once the loop
    /// is told to stop, for connections whose `connect` already returned).
    fn accept_now(&self) -> io::Result<Self::Stream>;
}

impl Acceptor for tokio::net::UnixListener {
    type Stream = tokio::net::UnixStream;
    fn poll_accept(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<Self::Stream>> {
        tokio::net::UnixListener::poll_accept(self, cx).map_ok(|(s, _)| s)
    }
    fn accept_now(&self) -> io::Result<Self::Stream> {
        let (stream, _) = socket2::SockRef::from(self).accept()?;
        let stream = std::os::unix::net::UnixStream::from(std::os::fd::OwnedFd::from(stream));
        stream.set_nonblocking(true)?;
        tokio::net::UnixStream::from_std(stream)
    }
}

impl Acceptor for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;
    fn poll_accept(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<Self::Stream>> {
        tokio::net::TcpListener::poll_accept(self, cx).map_ok(|(s, _)| s)
    }
    fn accept_now(&self) -> io::Result<Self::Stream> {
        let (stream, _) = socket2::SockRef::from(self).accept()?;
        let stream = std::net::TcpStream::from(std::os::fd::OwnedFd::from(stream));
        stream.set_nonblocking(true)?;
        tokio::net::TcpStream::from_std(stream)
    }
}

/// Whether an accept error means the process is out of descriptors (or
/// memory): the listener backs off instead of trying again at once.
fn out_of_resources(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Runs the accept loop of `acceptor` as a task on `rt`; `on_stream` gets
/// each accepted stream (and may hand it to the blocking pool, as the
/// session's start runs the server's connect hooks).
pub(crate) fn spawn<A: Acceptor>(
    acceptor: A,
    addr: ListenAddr,
    rt: &tokio::runtime::Handle,
    on_stream: impl Fn(A::Stream) + Send + Sync + 'static,
) -> Result<Listener, RemoteError> {
    let (stop, mut stopping) = oneshot::channel::<()>();
    let (stopped_tx, stopped) = crossbeam_channel::bounded(1);
    rt.spawn(async move {
        let mut backoff = Duration::ZERO;
        let mut failed = 0u64;
        loop {
            let accepted = tokio::select! {
                biased;
                _ = &mut stopping => break,
                accepted = std::future::poll_fn(|cx| acceptor.poll_accept(cx)) => accepted,
            };
            match accepted {
                Ok(stream) => {
                    if !backoff.is_zero() {
                        tracing::info!(failed, "accepting again");
                        backoff = Duration::ZERO;
                        failed = 0;
                    }
                    on_stream(stream);
                }
                Err(e) if out_of_resources(&e) => {
                    failed += 1;
                    if backoff.is_zero() {
                        tracing::warn!(error = %e, "accept failed: out of descriptors; backing off until some are free");
                    }
                    backoff = (backoff * 2).clamp(Duration::from_millis(100), Duration::from_secs(1));
                    tokio::select! {
                        biased;
                        _ = &mut stopping => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                }
                // A connection that went away before we took it, and the
                // like: only that one is lost.
                Err(e) => tracing::debug!(error = %e, "accept failed"),
            }
        }
        // Serve what was already queued (clients whose connect returned),
        // then stop.
        while let Ok(stream) = acceptor.accept_now() {
            on_stream(stream);
        }
        drop(acceptor);
        let _ = stopped_tx.send(());
    });
    Ok(Listener {
        addr,
        stop: Some(stop),
        stopped: Some(stopped),
    })
}
