//! TCP transport, with TCP_NODELAY on both ends (frames are small and each
//! one is written whole, so Nagle's delay would only add latency).

use std::net::{SocketAddr, TcpListener as StdListener, TcpStream, ToSocketAddrs};

use super::listener::{self, ListenAddr, Listener};
use crate::driver::{stream, Wired};
use crate::options::Options;
use crate::RemoteError;

/// Binds `addr` and calls `on_accept` with each connection (on the
/// blocking pool: it runs the server's connect hooks).
pub(crate) fn listen(
    addr: impl ToSocketAddrs,
    options: Options,
    on_accept: impl Fn(Wired, String) + Send + Sync + 'static,
) -> Result<Listener, RemoteError> {
    let (acceptor, local, rt) = bind(addr, &options)?;
    let on_accept = std::sync::Arc::new(on_accept);
    let handle = rt.clone();
    listener::spawn(acceptor, ListenAddr::Tcp(local), &rt, move |stream| {
        let peer = match stream.peer_addr() {
            Ok(a) => format!("tcp:{a}"),
            Err(_) => "tcp:?".into(),
        };
        if let Err(e) = stream.set_nodelay(true) {
            return tracing::debug!(%peer, error = %e, "accepted connection unusable");
        }
        let wired = stream::socket(stream, &options, handle.clone());
        let on_accept = on_accept.clone();
        crate::rt::spawn_blocking(&handle, move || on_accept(wired, peer));
    })
}

/// Binds a TCP listener on the connection runtime of `options`.
pub(crate) fn bind(
    addr: impl ToSocketAddrs,
    options: &Options,
) -> Result<(tokio::net::TcpListener, SocketAddr, tokio::runtime::Handle), RemoteError> {
    let rt = crate::rt::handle(options)?;
    let bound = StdListener::bind(addr)?;
    bound.set_nonblocking(true)?;
    let local = bound.local_addr()?;
    let acceptor = {
        let _runtime = rt.enter();
        tokio::net::TcpListener::from_std(bound)?
    };
    Ok((acceptor, local, rt))
}

/// `scheme:address` of the peer.
pub(crate) fn peer_label(scheme: &str, s: &TcpStream) -> String {
    match s.peer_addr() {
        Ok(a) => format!("{scheme}:{a}"),
        Err(_) => format!("{scheme}:?"),
    }
}

/// Turns a connected std socket into a tokio one on `rt`.
pub(crate) fn into_tokio(
    stream: TcpStream,
    rt: &tokio::runtime::Handle,
) -> Result<tokio::net::TcpStream, RemoteError> {
    stream.set_nodelay(true)?;
    stream.set_nonblocking(true)?;
    let _runtime = rt.enter();
    Ok(tokio::net::TcpStream::from_std(stream)?)
}

/// Wires a connected std socket to the driver.
pub(crate) fn wire(stream: TcpStream, options: &Options) -> Result<Wired, RemoteError> {
    let rt = crate::rt::handle(options)?;
    let stream = into_tokio(stream, &rt)?;
    Ok(stream::socket(stream, options, rt))
}

/// Connects to a server.
pub(crate) fn connect(
    addr: impl ToSocketAddrs,
    options: &Options,
) -> Result<(Wired, String), RemoteError> {
    let stream = TcpStream::connect(addr)?;
    let peer = peer_label("tcp", &stream);
    Ok((wire(stream, options)?, peer))
}
