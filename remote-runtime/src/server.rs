//! The server front door: named exports, modules, globals, and the
//! connections that use them.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock, Weak};

use serde::Serialize;

use crate::connection::{Access, Connection};
use crate::context;
use crate::driver::{stream, Wired};
use crate::options::Options;
use crate::process::{ProcessInfo, MODULES_GLOBAL, PROCESS_GLOBAL, RESERVED_PREFIX};
use crate::registry::{Export, Registry};
use crate::remote::Interface;
use crate::session::Session;
use crate::stats::ServerStats;
use crate::transport::listener::Listener;
use crate::transport::{child, in_process, tcp, unix};
use crate::RemoteError;

type ConnectHook = dyn Fn(&Connection) + Send + Sync;

/// Serves exported objects to any number of clients.
///
/// Cloning a `Server` gives another handle to the same exports and
/// connections.
#[derive(Clone)]
pub struct Server {
    inner: Arc<ServerInner>,
}

struct ServerInner {
    registry: Arc<Registry>,
    sessions: Mutex<Vec<Weak<Session>>>,
    options: Options,
    shutting_down: std::sync::atomic::AtomicBool,
    on_connect: RwLock<Vec<Arc<ConnectHook>>>,
    versions: Arc<RwLock<BTreeMap<String, String>>>,
}

impl Default for Server {
    fn default() -> Self {
        Server::with_options(Options::default())
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("exports", &self.inner.registry.names())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A server with no exports and default [`Options`].
    pub fn new() -> Self {
        Server::default()
    }

    /// A server with no exports and the given settings, which apply to the
    /// server's end of every connection.
    pub fn with_options(options: Options) -> Self {
        let server = Server {
            inner: Arc::new(ServerInner {
                registry: Arc::default(),
                sessions: Mutex::default(),
                options,
                shutting_down: Default::default(),
                on_connect: RwLock::default(),
                versions: Arc::default(),
            }),
        };
        let versions = server.inner.versions.clone();
        server.set_global_with(PROCESS_GLOBAL, move || {
            let versions = versions.read().unwrap_or_else(|e| e.into_inner());
            ProcessInfo::current(&versions)
        });
        let registry = Arc::downgrade(&server.inner.registry);
        server.inner.registry.set_global(
            MODULES_GLOBAL.into(),
            Arc::new(move |session: &Arc<Session>, site: u32| {
                // Only the modules this connection may reach are listed.
                let modules: Vec<String> = registry
                    .upgrade()
                    .map(|r| {
                        r.modules()
                            .into_iter()
                            .filter(|m| r.allows(session, &Access::Export(m)))
                            .collect()
                    })
                    .unwrap_or_default();
                context::encode(session, &modules, site)
            }),
        );
        server
    }

    /// Makes `object` reachable by `require(name)` on every connection,
    /// replacing any previous export of that name:
    /// `server.export("calculator", Arc::new(MyCalc) as Arc<dyn Calculator>)`.
    /// Names may be hierarchical (`"app"`, `"windows/main"`).
    pub fn export<T: ?Sized + Interface>(&self, name: impl Into<String>, object: Arc<T>) {
        let key = crate::remote::key_of(&object);
        let export = Export {
            object: T::into_dispatch(object),
            key,
        };
        self.inner.registry.insert(name.into(), export);
    }

    /// Exports `object` as a built-in module: every client can list it
    /// ([`Client::module_names`](crate::Client::module_names)) and gets it
    /// with [`Client::module`](crate::Client::module), fetched once and
    /// cached, like Electron's `remote.app`.
    pub fn export_module<T: ?Sized + Interface>(&self, name: impl Into<String>, object: Arc<T>) {
        let name = name.into();
        self.export(name.clone(), object);
        self.inner.registry.mark_module(name);
    }

    /// Removes an export (or module); clients that already hold it keep their
    /// proxies. Returns whether the name was exported.
    pub fn unexport(&self, name: &str) -> bool {
        self.inner.registry.remove(name).is_some()
    }

    /// The exported names, sorted.
    pub fn export_names(&self) -> Vec<String> {
        self.inner.registry.names()
    }

    /// Sets global `name`, read by [`Client::get_global`](crate::Client::get_global).
    /// Plain values are copied to each reader; a value that holds a
    /// `Remote<dyn T>` (or is one) lends that object to each reader's
    /// connection.
    ///
    /// Names starting with `remote:` are the library's own (the module
    /// list is `remote:modules`); setting one is ignored with a warning.
    pub fn set_global<V: Serialize + Send + Sync + 'static>(
        &self,
        name: impl Into<String>,
        value: V,
    ) {
        let Some(name) = user_global(name.into()) else {
            return;
        };
        self.inner.registry.set_global(
            name,
            Arc::new(move |session: &Arc<Session>, site: u32| {
                context::encode(session, &value, site)
            }),
        );
    }

    /// Sets global `name` to a value computed each time a client reads it
    /// (names starting with `remote:` are reserved, as for
    /// [`Server::set_global`]).
    pub fn set_global_with<V, F>(&self, name: impl Into<String>, compute: F)
    where
        V: Serialize,
        F: Fn() -> V + Send + Sync + 'static,
    {
        let Some(name) = user_global(name.into()) else {
            return;
        };
        self.inner.registry.set_global(
            name,
            Arc::new(move |session: &Arc<Session>, site: u32| {
                context::encode(session, &compute(), site)
            }),
        );
    }

    /// Decides which exports, modules and globals each connection may reach.
    /// `policy` is asked on the server for every `require`, `module` and
    /// `get_global` (never trusted from the client); a refusal reaches the
    /// client as [`RemoteError::Denied`] naming the resource. Objects
    /// attached to a connection, and objects a client was handed by a call,
    /// need no permission: holding a handle is the permission.
    ///
    /// An allow-list: `server.set_access_policy(|_, access| matches!(access,
    /// Access::Export("app") | Access::Global("process")))`.
    ///
    /// The policy is not asked about the module list
    /// ([`Client::module_names`](crate::Client::module_names)): it names
    /// exactly the modules the policy lets that connection require.
    pub fn set_access_policy(
        &self,
        policy: impl Fn(&Connection, &Access<'_>) -> bool + Send + Sync + 'static,
    ) {
        self.inner.registry.set_policy(Arc::new(policy));
    }

    /// Removes a global; returns whether it was set (the library's own,
    /// named `remote:...`, stay).
    pub fn remove_global(&self, name: &str) -> bool {
        if name.starts_with(RESERVED_PREFIX) {
            return false;
        }
        self.inner.registry.remove_global(name)
    }

    /// Adds a version to what [`Client::process`](crate::Client::process)
    /// reports (the application's own version, say).
    pub fn set_version(&self, name: impl Into<String>, version: impl Into<String>) {
        self.inner
            .versions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.into(), version.into());
    }

    /// Runs `hook` for every new connection before the client can make any
    /// request: the place to attach the objects that belong to that
    /// connection alone ([`Connection::attach`]).
    pub fn on_connect(&self, hook: impl Fn(&Connection) + Send + Sync + 'static) {
        self.inner
            .on_connect
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::new(hook));
    }

    /// The open connections (those whose client has introduced itself; a
    /// stray connect that never speaks the protocol is not one).
    pub fn connections(&self) -> Vec<Connection> {
        // Ended connections are forgotten here too, not only when a new one
        // arrives, so their memory goes back promptly.
        self.live_sessions()
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|s| s.is_established())
            .map(|session| Connection { session })
            .collect()
    }

    /// Listens on a Unix socket at `path`; each client that connects gets its
    /// own connection with its own handle namespace.
    pub fn listen_unix(&self, path: impl AsRef<Path>) -> Result<Listener, RemoteError> {
        let server = self.clone();
        unix::listen(
            path.as_ref(),
            self.inner.options.clone(),
            move |wired, peer| {
                server.serve(wired, peer);
            },
        )
    }

    /// Listens on TCP at `addr` (`"127.0.0.1:0"` picks a free port; see
    /// [`Listener::local_addr`]). Bind a non-loopback address to serve other
    /// hosts. Both ends set `TCP_NODELAY`.
    pub fn listen_tcp(&self, addr: impl std::net::ToSocketAddrs) -> Result<Listener, RemoteError> {
        let server = self.clone();
        tcp::listen(addr, self.inner.options.clone(), move |wired, peer| {
            server.serve(wired, peer);
        })
    }

    /// Listens for TLS over TCP at `addr` with the given rustls server
    /// configuration (certificate and key; see [`rustls::ServerConfig`]).
    /// Each handshake runs on a thread of its own.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn listen_tls(
        &self,
        addr: impl std::net::ToSocketAddrs,
        config: Arc<rustls::ServerConfig>,
    ) -> Result<Listener, RemoteError> {
        let server = self.clone();
        crate::transport::tls::listen(
            addr,
            config,
            self.inner.options.clone(),
            move |wired, peer| {
                server.serve(wired, peer);
            },
        )
    }

    /// Starts `command` as a child process and serves it: the child calls
    /// [`Client::from_parent`](crate::Client::from_parent) to connect back.
    /// Returns the child and its connection; when the child exits (or is
    /// killed), the connection ends and everything it held is released.
    pub fn spawn_child(
        &self,
        command: &mut std::process::Command,
    ) -> Result<(std::process::Child, Connection), RemoteError> {
        self.spawn_child_with(command, |_| {})
    }

    /// [`Server::spawn_child`], running `setup` on the child's connection
    /// before the child's first request is served (after any
    /// [`Server::on_connect`] hooks): the place to attach the objects that
    /// belong to this child alone.
    pub fn spawn_child_with(
        &self,
        command: &mut std::process::Command,
        setup: impl FnOnce(&Connection),
    ) -> Result<(std::process::Child, Connection), RemoteError> {
        let (process, wired) = child::spawn(command, &self.inner.options)?;
        let peer = format!("child:{}", process.id());
        let setup = std::cell::Cell::new(Some(setup));
        let session = self.serve_with(wired, peer, &|connection| {
            if let Some(setup) = setup.take() {
                setup(connection);
            }
        });
        Ok((process, Connection { session }))
    }

    /// Serves one connection over a byte stream you bring (see
    /// [`Client::over_stream`](crate::Client::over_stream)): stdio, an
    /// inherited socketpair, a vsock. Call it within the tokio runtime the
    /// stream belongs to (or give that runtime in [`Options::runtime`]).
    /// `peer` names the other end in logs and stats.
    pub fn serve_stream<T>(&self, io: T, peer: &str) -> Result<Connection, RemoteError>
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    {
        let rt = crate::rt::handle(&self.inner.options)?;
        let wired = stream::io(io, &self.inner.options, rt);
        let session = self.serve(wired, peer.to_string());
        Ok(Connection { session })
    }

    /// Starts serving one connection.
    pub(crate) fn serve(&self, wired: Wired, peer: String) -> Arc<Session> {
        self.serve_with(wired, peer, &|_| {})
    }

    /// Starts serving one connection, with one more setup step after the
    /// `on_connect` hooks.
    fn serve_with(&self, wired: Wired, peer: String, extra: &dyn Fn(&Connection)) -> Arc<Session> {
        let hooks: Vec<Arc<ConnectHook>> = self
            .inner
            .on_connect
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let setup = |session: &Arc<Session>| {
            // Listed before the flag is read: a shutdown either finds this
            // connection in its list or is seen here, and refuses it before
            // it can make a single request.
            self.live_sessions().push(Arc::downgrade(session));
            if self
                .inner
                .shutting_down
                .load(std::sync::atomic::Ordering::Acquire)
            {
                session.begin_drain();
                session.close(&RemoteError::Disconnected);
                return;
            }
            let connection = Connection {
                session: session.clone(),
            };
            for hook in &hooks {
                hook(&connection);
            }
            extra(&connection);
        };
        Session::start(
            wired,
            self.inner.registry.clone(),
            peer,
            true,
            self.inner.options.clone(),
            &setup,
        )
    }

    /// The sessions list, with ended connections dropped from it.
    fn live_sessions(&self) -> std::sync::MutexGuard<'_, Vec<Weak<Session>>> {
        let mut sessions = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        sessions.retain(|w| w.upgrade().is_some_and(|s| !s.is_closed()));
        sessions
    }

    /// A connected in-process pair: the server's end is served here, the
    /// client's end is returned.
    pub(crate) fn in_process_link(&self, client: &Options) -> Result<Wired, RemoteError> {
        let rt = [
            crate::rt::handle(client)?,
            crate::rt::handle(&self.inner.options)?,
        ];
        let (client, server) = in_process::pair(rt);
        self.serve(server, "in-process".into());
        Ok(client)
    }

    /// What every open connection holds right now.
    pub fn stats(&self) -> ServerStats {
        let peers: Vec<_> = self.connections().iter().map(Connection::stats).collect();
        ServerStats {
            connections: peers.len(),
            exported: peers.iter().map(|p| p.exported).sum(),
            imported: peers.iter().map(|p| p.imported).sum(),
            orphaned_calls: self
                .inner
                .registry
                .orphaned
                .load(std::sync::atomic::Ordering::Acquire),
            peers,
        }
    }

    /// Shuts the server down gracefully: new connections and new calls are
    /// refused, calls already running finish (for at most
    /// [`Options::drain_timeout`]), every client is told and sees
    /// `Disconnected` at once, and everything the clients held is released.
    /// Returns when every connection is closed. Listeners stay open until
    /// dropped, but every connection they accept is closed at once.
    pub fn shutdown(&self) {
        self.inner
            .shutting_down
            .store(true, std::sync::atomic::Ordering::Release);
        let sessions: Vec<Arc<Session>> = {
            let sessions = self
                .inner
                .sessions
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            sessions.iter().filter_map(Weak::upgrade).collect()
        };
        let deadline = std::time::Instant::now() + self.inner.options.drain_timeout;
        for session in &sessions {
            session.begin_drain();
        }
        for session in &sessions {
            session.finish_drain(deadline);
        }
    }

    /// Closes every connection: pending calls fail with `Disconnected` on
    /// both sides and every handle the clients held is released.
    pub fn disconnect_all(&self) {
        for connection in self.connections() {
            connection.close();
        }
    }
}

/// `name`, unless it is one of the library's reserved global names.
fn user_global(name: String) -> Option<String> {
    if name.starts_with(RESERVED_PREFIX) {
        tracing::warn!(
            name,
            "global names starting with `remote:` are reserved; not set"
        );
        return None;
    }
    Some(name)
}
