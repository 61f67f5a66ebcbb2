//! TCP transport, with TCP_NODELAY on both ends (frames are small and each
//! one is written whole, so Nagle's delay would only add latency).

use std::net::{SocketAddr, TcpListener as StdListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;

use super::listener::{self, ListenAddr, Listener};
use super::stream::StreamLink;
use crate::options::Options;
use crate::RemoteError;

/// Binds `addr` and calls `on_accept` with a link for each connection.
pub(crate) fn listen(
    addr: impl ToSocketAddrs,
    options: Options,
    on_accept: impl Fn(Arc<StreamLink<TcpStream>>, String) + Send + 'static,
) -> Result<Listener, RemoteError> {
    let acceptor = StdListener::bind(addr)?;
    let local = acceptor.local_addr()?;
    let wake_addr = wake_address(local);
    Ok(listener::spawn(
        acceptor,
        ListenAddr::Tcp(local),
        options,
        |s: &TcpStream| match s.peer_addr() {
            Ok(a) => format!("tcp:{a}"),
            Err(_) => "tcp:?".into(),
        },
        Box::new(move || {
            let _ = TcpStream::connect_timeout(&wake_addr, std::time::Duration::from_secs(1));
        }),
        on_accept,
    )?)
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

/// Connects to a server.
pub(crate) fn connect(
    addr: impl ToSocketAddrs,
    options: &Options,
) -> Result<(StreamLink<TcpStream>, String), RemoteError> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let peer = match stream.peer_addr() {
        Ok(a) => format!("tcp:{a}"),
        Err(_) => "tcp:?".into(),
    };
    Ok((StreamLink::new(stream, options)?, peer))
}
