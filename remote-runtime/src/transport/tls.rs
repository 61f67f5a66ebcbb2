//! TLS over TCP (rustls), for connections that cross machines.
//!
//! The reader blocks on the socket without holding the TLS state, so writers
//! are never stuck behind it; writers are serialized by the socket's write
//! lock and extract their TLS records under a short lock of the state, so
//! records reach the wire in the order they were sealed.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener as StdListener, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rustls::pki_types::ServerName;

use super::listener::{self, ListenAddr, Listener};
use super::Link;
use crate::options::{FrameKind, Options};
use crate::wire::{Frame, PREFIX};
use crate::RemoteError;

/// How long a TLS handshake may take before the connection is dropped.
const HANDSHAKE_WITHIN: Duration = Duration::from_secs(10);

struct State {
    conn: rustls::Connection,
    plain: Vec<u8>,
}

impl State {
    /// Moves the plaintext rustls has decrypted into `plain`.
    fn drain(&mut self) -> Result<(), RemoteError> {
        match self.conn.reader().read_to_end(&mut self.plain) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

pub(crate) struct TlsLink {
    raw_read: Mutex<TcpStream>,
    raw_write: Mutex<TcpStream>,
    state: Mutex<State>,
    max_frame: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn tls_error(e: rustls::Error) -> RemoteError {
    RemoteError::Io(format!("TLS: {e}"))
}

impl TlsLink {
    /// Completes the handshake on `tcp`, then splits it for the reader and
    /// the writers.
    fn new(
        mut tcp: TcpStream,
        mut conn: rustls::Connection,
        options: &Options,
    ) -> Result<Self, RemoteError> {
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(HANDSHAKE_WITHIN))?;
        tcp.set_write_timeout(Some(HANDSHAKE_WITHIN))?;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).map_err(|e| match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => RemoteError::Io(format!(
                    "TLS handshake not done within {HANDSHAKE_WITHIN:?}"
                )),
                _ => RemoteError::Io(format!("TLS handshake failed: {e}")),
            })?;
        }
        tcp.set_read_timeout(None)?;
        tcp.set_write_timeout(Some(options.lease))?;
        let reader = tcp.try_clone()?;
        // The peer's first frames can arrive with the end of the handshake.
        let mut state = State {
            conn,
            plain: Vec::new(),
        };
        state.drain()?;
        Ok(TlsLink {
            raw_read: Mutex::new(reader),
            raw_write: Mutex::new(tcp),
            state: Mutex::new(state),
            max_frame: options.max_frame,
        })
    }

    /// Writes out whatever TLS records are waiting (handshake messages, key
    /// updates, alerts).
    fn flush(&self) -> Result<(), RemoteError> {
        let mut socket = lock(&self.raw_write);
        let records = {
            let mut state = lock(&self.state);
            let mut out = Vec::new();
            while state.conn.wants_write() {
                state.conn.write_tls(&mut out)?;
            }
            out
        };
        socket.write_all(&records)?;
        Ok(())
    }

    /// A whole frame from the decrypted bytes, if one is there.
    fn take_frame(&self, state: &mut State) -> Result<Option<Frame>, RemoteError> {
        if state.plain.len() < PREFIX {
            return Ok(None);
        }
        let len = u32::from_le_bytes(state.plain[..PREFIX].try_into().expect("4 bytes")) as usize;
        if len > self.max_frame {
            return Err(RemoteError::FrameTooLarge {
                size: len as u64,
                limit: self.max_frame as u64,
            });
        }
        if state.plain.len() < PREFIX + len {
            return Ok(None);
        }
        let buf = state.plain[PREFIX..PREFIX + len].to_vec();
        state.plain.drain(..PREFIX + len);
        Ok(Some(Frame { buf, start: 0 }))
    }
}

impl Link for TlsLink {
    fn send(&self, frame: Vec<u8>, _kind: FrameKind) -> Result<(), RemoteError> {
        let mut socket = lock(&self.raw_write);
        let records = {
            let mut state = lock(&self.state);
            state.conn.writer().write_all(&frame)?;
            let mut out = Vec::with_capacity(frame.len() + 64);
            while state.conn.wants_write() {
                state.conn.write_tls(&mut out)?;
            }
            out
        };
        socket.write_all(&records)?;
        Ok(())
    }

    fn recv(&self) -> Result<Frame, RemoteError> {
        let mut socket = lock(&self.raw_read);
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            if let Some(frame) = self.take_frame(&mut lock(&self.state))? {
                return Ok(frame);
            }
            let n = socket.read(&mut buf)?;
            if n == 0 {
                return Err(RemoteError::Disconnected);
            }
            let wants_write = {
                let mut state = lock(&self.state);
                let mut ciphertext = &buf[..n];
                while !ciphertext.is_empty() {
                    state.conn.read_tls(&mut ciphertext)?;
                    state.conn.process_new_packets().map_err(tls_error)?;
                    // Take the plaintext out as it comes: rustls holds only a
                    // bounded amount and refuses more ciphertext past it.
                    state.drain()?;
                }
                if state.plain.len() > PREFIX + self.max_frame + 64 * 1024 {
                    return Err(RemoteError::Protocol(
                        "more buffered data than a frame may hold".into(),
                    ));
                }
                state.conn.wants_write()
            };
            if wants_write {
                self.flush()?;
            }
        }
    }

    fn close(&self) {
        let socket = lock(&self.raw_write);
        let _ = socket.shutdown(Shutdown::Both);
    }
}

/// Binds `addr` and serves TLS connections: each handshake runs on a thread
/// of its own, so a slow or silent client never holds up the others.
pub(crate) fn listen(
    addr: impl ToSocketAddrs,
    config: Arc<rustls::ServerConfig>,
    options: Options,
    on_accept: impl Fn(Arc<TlsLink>, String) + Send + Sync + 'static,
) -> Result<Listener, RemoteError> {
    let acceptor = StdListener::bind(addr)?;
    let local: SocketAddr = acceptor.local_addr()?;
    let wake_addr = super::tcp::wake_address(local);
    let on_accept = Arc::new(on_accept);
    Ok(listener::spawn_raw(
        acceptor,
        ListenAddr::Tcp(local),
        |s: &TcpStream| match s.peer_addr() {
            Ok(a) => format!("tls:{a}"),
            Err(_) => "tls:?".into(),
        },
        Box::new(move || {
            let _ = TcpStream::connect_timeout(&wake_addr, Duration::from_secs(1));
        }),
        move |stream, peer| {
            let config = config.clone();
            let options = options.clone();
            let on_accept = on_accept.clone();
            let spawned = std::thread::Builder::new()
                .name("remote-tls-handshake".into())
                .spawn(move || {
                    let link = rustls::ServerConnection::new(config)
                        .map_err(tls_error)
                        .and_then(|c| TlsLink::new(stream, c.into(), &options));
                    match link {
                        Ok(link) => on_accept(Arc::new(link), peer),
                        Err(e) => tracing::warn!(%peer, error = %e, "TLS connection refused"),
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "could not start a TLS handshake thread");
            }
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
) -> Result<(TlsLink, String), RemoteError> {
    let name = ServerName::try_from(server_name.to_string())
        .map_err(|e| RemoteError::Io(format!("invalid TLS server name {server_name:?}: {e}")))?;
    let conn = rustls::ClientConnection::new(config, name).map_err(tls_error)?;
    let tcp = TcpStream::connect(addr)?;
    let peer = match tcp.peer_addr() {
        Ok(a) => format!("tls:{a}"),
        Err(_) => "tls:?".into(),
    };
    Ok((TlsLink::new(tcp, conn.into(), options)?, peer))
}
