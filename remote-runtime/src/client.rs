//! The client front door: one connection to a server.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::panic::Location;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};

use serde::de::DeserializeOwned;

use crate::driver::{stream, Wired};
use crate::options::Options;
use crate::process::{ProcessInfo, MODULES_GLOBAL, PROCESS_GLOBAL};
use crate::registry::{Export, Registry};
use crate::remote::{CallFuture, Interface, PendingReply, Proxy, Remote};
use crate::session::Session;
use crate::stats::SessionStats;
use crate::transport::{child, tcp, unix};
use crate::wire::Scope;
use crate::{RemoteError, Server};

/// One connection to a server. Proxies obtained from it keep the connection
/// open; it closes when the client and all its proxies are dropped, or on
/// [`Client::close`].
#[derive(Clone)]
pub struct Client {
    session: Arc<Session>,
    cache: Arc<ClientCache>,
}

/// What a client fetches once and then keeps.
#[derive(Default)]
struct ClientCache {
    process: OnceLock<ProcessInfo>,
    modules: Mutex<HashMap<String, Box<dyn Any + Send + Sync>>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("peer", &self.session.peer)
            .field("closed", &self.session.is_closed())
            .finish()
    }
}

impl Client {
    /// Connects to `server` in this process, over a pair of channels. Values
    /// are still encoded and copied, exactly as across processes.
    pub fn in_process(server: &Server) -> Result<Client, RemoteError> {
        Client::in_process_with(server, Options::default())
    }

    /// [`Client::in_process`] with settings for the client's end.
    pub fn in_process_with(server: &Server, options: Options) -> Result<Client, RemoteError> {
        let wired = server.in_process_link(&options)?;
        Ok(Client::over(wired, "in-process".into(), options))
    }

    /// Connects over a byte stream you bring: anything `AsyncRead +
    /// AsyncWrite` whose other end a [`Server::serve_stream`] serves (stdio
    /// of a child, an inherited socketpair, a vsock, a pipe pair joined
    /// with `tokio::io::join`). Call it within the tokio runtime the stream
    /// belongs to (or give that runtime in [`Options::runtime`]): the
    /// connection's task runs there.
    ///
    /// ```
    /// # extern crate remote_runtime as remote;
    /// # #[tokio::main(flavor = "multi_thread")]
    /// # async fn main() -> Result<(), remote::RemoteError> {
    /// let server = remote::Server::new();
    /// let (near, far) = tokio::io::duplex(64 * 1024);
    /// server.serve_stream(far, "duplex")?;
    /// let client = remote::Client::over_stream(near, "duplex")?;
    /// assert!(!client.is_closed());
    /// # Ok(())
    /// # }
    /// ```
    pub fn over_stream<T>(io: T, peer: &str) -> Result<Client, RemoteError>
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    {
        Client::over_stream_with(io, peer, Options::default())
    }

    /// [`Client::over_stream`] with settings.
    pub fn over_stream_with<T>(io: T, peer: &str, options: Options) -> Result<Client, RemoteError>
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    {
        let rt = crate::rt::handle(&options)?;
        let wired = stream::io(io, &options, rt);
        Ok(Client::over(wired, peer.to_string(), options))
    }

    /// Connects to a server listening on the Unix socket at `path`.
    pub fn connect_unix(path: impl AsRef<Path>) -> Result<Client, RemoteError> {
        Client::connect_unix_with(path, Options::default())
    }

    /// [`Client::connect_unix`] with settings.
    pub fn connect_unix_with(
        path: impl AsRef<Path>,
        options: Options,
    ) -> Result<Client, RemoteError> {
        let wired = unix::connect(path.as_ref(), &options)?;
        let peer = format!("unix:{}", path.as_ref().display());
        Ok(Client::over(wired, peer, options))
    }

    /// Connects to a server over TCP (`"127.0.0.1:7000"`, `"host:port"`),
    /// with `TCP_NODELAY`.
    pub fn connect_tcp(addr: impl std::net::ToSocketAddrs) -> Result<Client, RemoteError> {
        Client::connect_tcp_with(addr, Options::default())
    }

    /// [`Client::connect_tcp`] with settings.
    pub fn connect_tcp_with(
        addr: impl std::net::ToSocketAddrs,
        options: Options,
    ) -> Result<Client, RemoteError> {
        let (wired, peer) = tcp::connect(addr, &options)?;
        Ok(Client::over(wired, peer, options))
    }

    /// Connects to a TLS server ([`Server::listen_tls`]); `server_name` must
    /// match its certificate, which `config` must trust.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn connect_tls(
        addr: impl std::net::ToSocketAddrs,
        server_name: &str,
        config: Arc<rustls::ClientConfig>,
    ) -> Result<Client, RemoteError> {
        Client::connect_tls_with(addr, server_name, config, Options::default())
    }

    /// [`Client::connect_tls`] with settings.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn connect_tls_with(
        addr: impl std::net::ToSocketAddrs,
        server_name: &str,
        config: Arc<rustls::ClientConfig>,
        options: Options,
    ) -> Result<Client, RemoteError> {
        let (wired, peer) = crate::transport::tls::connect(addr, server_name, config, &options)?;
        Ok(Client::over(wired, peer, options))
    }

    /// In a process started by [`Server::spawn_child`], connects back to the
    /// parent. Fails with [`RemoteError::Io`] in a process started any other
    /// way.
    pub fn from_parent() -> Result<Client, RemoteError> {
        Client::from_parent_with(Options::default())
    }

    /// [`Client::from_parent`] with settings.
    pub fn from_parent_with(options: Options) -> Result<Client, RemoteError> {
        let wired = child::connect_parent(&options)?;
        Ok(Client::over(wired, "parent".into(), options))
    }

    fn over(wired: Wired, peer: String, options: Options) -> Client {
        let registry = Arc::new(Registry::default());
        Client {
            session: Session::start(wired, registry, peer, false, options, &|_| {}),
            cache: Arc::default(),
        }
    }

    /// Resolves the server's export `name` as proxy type `P` (blocking).
    /// Names may be hierarchical (`"app"`, `"windows/main"`).
    ///
    /// Fails with [`RemoteError::NoSuchExport`] if nothing has that name and
    /// [`RemoteError::Mismatch`] if it was exported with another trait (or
    /// another version of this one).
    #[track_caller]
    pub fn require<P: Proxy>(&self, name: &str) -> Result<P, RemoteError> {
        self.resolve(name, Scope::Exports, Location::caller())
    }

    /// Resolves the server's export `name` as proxy type `P`, without
    /// blocking the thread.
    #[track_caller]
    pub fn require_async<P: Proxy>(&self, name: &str) -> RequireFuture<P> {
        RequireFuture::start(&self.session, name, Scope::Exports, Location::caller())
    }

    /// Resolves an object the server attached to *this* connection alone
    /// (see [`Connection::attach`](crate::Connection::attach)): the window a
    /// renderer belongs to, its web contents.
    #[track_caller]
    pub fn current<P: Proxy>(&self, name: &str) -> Result<P, RemoteError> {
        self.resolve(name, Scope::Connection, Location::caller())
    }

    /// [`Client::current`] without blocking the thread.
    #[track_caller]
    pub fn current_async<P: Proxy>(&self, name: &str) -> RequireFuture<P> {
        RequireFuture::start(&self.session, name, Scope::Connection, Location::caller())
    }

    fn resolve<P: Proxy>(
        &self,
        name: &str,
        scope: Scope,
        location: &'static Location<'static>,
    ) -> Result<P, RemoteError> {
        self.session.resolve(name, scope, location)
    }

    /// A built-in module of the server (one it exported with
    /// [`Server::export_module`]), fetched on first use and cached: later
    /// calls return the same proxy without a round trip.
    #[track_caller]
    pub fn module<P: Proxy>(&self, name: &str) -> Result<P, RemoteError> {
        if let Some(p) = self.cached_module::<P>(name) {
            return Ok(p);
        }
        let proxy: P = self.resolve(name, Scope::Exports, Location::caller())?;
        let mut modules = self.cache.modules.lock().unwrap_or_else(|e| e.into_inner());
        let kept = modules
            .entry(name.to_string())
            .or_insert_with(|| Box::new(proxy.clone()));
        Ok(kept.downcast_ref::<P>().cloned().unwrap_or(proxy))
    }

    fn cached_module<P: Proxy>(&self, name: &str) -> Option<P> {
        let modules = self.cache.modules.lock().unwrap_or_else(|e| e.into_inner());
        modules
            .get(name)
            .and_then(|m| m.downcast_ref::<P>())
            .cloned()
    }

    /// The names of the server's built-in modules.
    #[track_caller]
    pub fn module_names(&self) -> Result<Vec<String>, RemoteError> {
        self.get_global(MODULES_GLOBAL)
    }

    /// Reads the server's global `name` (set with [`Server::set_global`]): a
    /// copy of a plain value, or a proxy's handle when the value holds a
    /// `Remote<dyn T>`.
    #[track_caller]
    pub fn get_global<V: DeserializeOwned>(&self, name: &str) -> Result<V, RemoteError> {
        let id = self.session.start_global(name, Location::caller())?;
        let incoming = self.session.wait(id)?;
        self.session.decode_reply(incoming)
    }

    /// [`Client::get_global`] without blocking the thread.
    #[track_caller]
    pub fn get_global_async<V: DeserializeOwned + 'static>(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<V, RemoteError>> + Send + 'static {
        let state = self.session.start_global(name, Location::caller());
        CallFuture::new(self.session.clone(), state)
    }

    /// The serving process: pid, executable, arguments, platform and crate
    /// versions. Fetched on first use, then cached (like Electron's
    /// `remote.process`).
    #[track_caller]
    pub fn process(&self) -> Result<&ProcessInfo, RemoteError> {
        if let Some(info) = self.cache.process.get() {
            return Ok(info);
        }
        let info: ProcessInfo = self.get_global(PROCESS_GLOBAL)?;
        Ok(self.cache.process.get_or_init(|| info))
    }

    /// Makes `object` reachable by the server's
    /// [`Connection::require`](crate::Connection::require): the other
    /// direction, where the server calls into this client.
    pub fn export<T: ?Sized + Interface>(&self, name: impl Into<String>, object: Arc<T>) {
        let key = crate::remote::key_of(&object);
        self.session.registry.insert(
            name.into(),
            Export {
                object: T::into_dispatch(object),
                key,
            },
        );
    }

    /// Sends every pending release now and waits until the server has
    /// handled everything this client sent before the call, and this client
    /// has handled the releases the server had queued. After it returns,
    /// [`Server::stats`] reflects every proxy dropped before it.
    pub fn sync(&self) -> Result<(), RemoteError> {
        self.session.sync()
    }

    /// What this connection holds right now.
    pub fn stats(&self) -> SessionStats {
        self.session.stats()
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.session.is_closed()
    }

    /// Closes the connection now: pending calls fail with
    /// [`RemoteError::Disconnected`], and proxies from it stop working.
    pub fn close(&self) {
        self.session.close(&RemoteError::Disconnected);
    }
}

/// The future of [`Client::require_async`] and its kin.
pub struct RequireFuture<P> {
    pending: PendingReply,
    _proxy: std::marker::PhantomData<fn() -> P>,
}

impl<P: Proxy> RequireFuture<P> {
    pub(crate) fn start(
        session: &Arc<Session>,
        name: &str,
        scope: Scope,
        location: &'static Location<'static>,
    ) -> Self {
        let state = session.start_require_for::<P>(name, scope, location);
        RequireFuture {
            pending: PendingReply::new(session.clone(), state),
            _proxy: std::marker::PhantomData,
        }
    }
}

impl<P> Unpin for RequireFuture<P> {}

impl<P: Proxy> Future for RequireFuture<P> {
    type Output = Result<P, RemoteError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let pending = &mut self.pending;
        pending.poll(cx).map(|incoming| {
            incoming
                .and_then(|i| pending.session().require_reply(i))
                .map(|entry| P::from_remote(Remote::from_import(entry)))
        })
    }
}
