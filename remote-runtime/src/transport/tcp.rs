//! TCP transport, with TCP_NODELAY on both ends (frames are small and each
//! one is written whole, so Nagle's delay would only add latency).

use std::net::{SocketAddr, TcpListener as StdListener, TcpStream, ToSocketAddrs};

use super::listener::{self, ListenAddr, Listener};
use crate::driver::{stream, Wired};
use crate::options::Options;
use crate::RemoteError;

/// Binds `addr` and calls `on_accept` with each connection.
pub(crate) fn listen(
    addr: impl ToSocketAddrs,
    options: Options,
    on_accept: impl Fn(Wired, String) + Send + 'static,
) -> Result<Listener, RemoteError> {
    let acceptor = StdListener::bind(addr)?;
    let local = acceptor.local_addr()?;
    let wake_addr = wake_address(local);
    Ok(listener::spawn(
        acceptor,
        ListenAddr::Tcp(local),
        options,
        |s: &TcpStream| peer_label("tcp", s),
        Box::new(move || {
            let _ = TcpStream::connect_timeout(&wake_addr, std::time::Duration::from_secs(1));
        }),
        on_accept,
    )?)
}

/// `scheme:address` of the peer.
pub(crate) fn peer_label(scheme: &str, s: &TcpStream) -> String {
    match s.peer_addr() {
        Ok(a) => format!("{scheme}:{a}"),
        Err(_) => format!("{scheme}:?"),
    }
}

/// Where to connect to wake our own accept loop (an unspecified bind address
/// is reached through loopback).
pub(crate) fn wake_address(local: SocketAddr) -> SocketAddr {
    let mut addr = local;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
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
