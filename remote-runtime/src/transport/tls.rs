//! TLS over TCP, for connections that cross machines: tokio-rustls on the
//! connection's runtime. The handshake runs as a task with a deadline
//! (`Options::handshake_timeout`), so a slow or silent client never holds
//! up the others; then the stream is a connection like any other.

use std::net::{SocketAddr, TcpListener as StdListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::listener::{self, ListenAddr, Listener};
use super::tcp;
use crate::driver::{stream, Wired};
use crate::options::Options;
use crate::RemoteError;

/// Binds `addr` and serves TLS connections.
pub(crate) fn listen(
    addr: impl ToSocketAddrs,
    config: Arc<rustls::ServerConfig>,
    options: Options,
    on_accept: impl Fn(Wired, String) + Send + Sync + 'static,
) -> Result<Listener, RemoteError> {
    let acceptor = StdListener::bind(addr)?;
    let local: SocketAddr = acceptor.local_addr()?;
    let wake_addr = tcp::wake_address(local);
    let on_accept = Arc::new(on_accept);
    let tls = TlsAcceptor::from(config);
    Ok(listener::spawn_raw(
        acceptor,
        ListenAddr::Tcp(local),
        |s: &TcpStream| tcp::peer_label("tls", s),
        Box::new(move || {
            let _ = TcpStream::connect_timeout(&wake_addr, Duration::from_secs(1));
        }),
        move |stream, peer| {
            let started = crate::rt::handle(&options).and_then(|rt| {
                let tcp = tcp::into_tokio(stream, &rt)?;
                Ok((rt, tcp))
            });
            let (rt, tcp) = match started {
                Ok(started) => started,
                Err(e) => return tracing::warn!(%peer, error = %e, "accept failed"),
            };
            let tls = tls.clone();
            let options = options.clone();
            let on_accept = on_accept.clone();
            let handle = rt.clone();
            rt.spawn(async move {
                let within = options.handshake_timeout;
                match tokio::time::timeout(within, tls.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let wired = stream::io(stream, &options, handle.clone());
                        // Hooks run on connect: user code, off the workers.
                        crate::rt::spawn_blocking(&handle, move || on_accept(wired, peer));
                    }
                    Ok(Err(e)) => tracing::warn!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => {
                        tracing::warn!(%peer, ?within, "TLS handshake not done within the deadline")
                    }
                }
            });
        },
    )?)
}

/// Connects to a TLS server; `server_name` is checked against its
/// certificate.
pub(crate) fn connect(
    addr: impl ToSocketAddrs,
    server_name: &str,
    config: Arc<rustls::ClientConfig>,
    options: &Options,
) -> Result<(Wired, String), RemoteError> {
    let name = ServerName::try_from(server_name.to_string())
        .map_err(|e| RemoteError::Io(format!("invalid TLS server name {server_name:?}: {e}")))?;
    let socket = TcpStream::connect(addr)?;
    let peer = tcp::peer_label("tls", &socket);
    let rt = crate::rt::handle(options)?;
    let socket = tcp::into_tokio(socket, &rt)?;
    let connector = TlsConnector::from(config);
    let within = options.handshake_timeout;
    let stream = crate::rt::run(&rt, async move {
        match tokio::time::timeout(within, connector.connect(name, socket)).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(e)) => Err(RemoteError::Io(format!("TLS handshake failed: {e}"))),
            Err(_) => Err(RemoteError::Io(format!(
                "TLS handshake not done within {within:?}"
            ))),
        }
    })??;
    Ok((stream::io(stream, options, rt), peer))
}
