//! TLS over TCP, for connections that cross machines: tokio-rustls on the
//! connection's runtime. The handshake runs as a task with a deadline
//! (`Options::handshake_timeout`), so a slow or silent client never holds
//! up the others; then the stream is a connection like any other.

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;

use rustls::pki_types::ServerName;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::listener::{self, ListenAddr, Listener};
use super::tcp;
use crate::driver::{stream, Wired};
use crate::options::Options;
use crate::RemoteError;

/// Binds `addr` and serves TLS connections: each handshake is a task of
/// its own, bounded by `Options::handshake_timeout`.
pub(crate) fn listen(
    addr: impl ToSocketAddrs,
    config: Arc<rustls::ServerConfig>,
    options: Options,
    on_accept: impl Fn(Wired, String) + Send + Sync + 'static,
) -> Result<Listener, RemoteError> {
    let (acceptor, local, rt) = tcp::bind(addr, &options)?;
    let on_accept = Arc::new(on_accept);
    let tls = TlsAcceptor::from(config);
    let handle = rt.clone();
    listener::spawn(acceptor, ListenAddr::Tcp(local), &rt, move |socket| {
        let peer = match socket.peer_addr() {
            Ok(a) => format!("tls:{a}"),
            Err(_) => "tls:?".into(),
        };
        if let Err(e) = socket.set_nodelay(true) {
            return tracing::debug!(%peer, error = %e, "accepted connection unusable");
        }
        let (tls, options, on_accept, handle) = (
            tls.clone(),
            options.clone(),
            on_accept.clone(),
            handle.clone(),
        );
        drop(handle.clone().spawn(async move {
            let within = options.handshake_timeout;
            match tokio::time::timeout(within, tls.accept(socket)).await {
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
        }));
    })
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
