//! The server front door: named exports, and the connections that use them.

use std::path::Path;
use std::sync::{Arc, Mutex, Weak};

use crate::handle::exports::ObjKey;
use crate::options::Options;
use crate::registry::{Export, Registry};
use crate::remote::Interface;
use crate::session::Session;
use crate::stats::ServerStats;
use crate::transport::{in_process, unix, Link};
use crate::{RemoteError, UnixListener};

/// Serves exported objects to any number of clients.
///
/// Cloning a `Server` gives another handle to the same exports and
/// connections.
#[derive(Clone, Default)]
pub struct Server {
    inner: Arc<ServerInner>,
}

#[derive(Default)]
struct ServerInner {
    registry: Arc<Registry>,
    sessions: Mutex<Vec<Weak<Session>>>,
    options: Options,
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
        Server {
            inner: Arc::new(ServerInner {
                options,
                ..ServerInner::default()
            }),
        }
    }

    /// Makes `object` reachable by `require(name)` on every connection,
    /// replacing any previous export of that name:
    /// `server.export("calculator", Arc::new(MyCalc) as Arc<dyn Calculator>)`.
    pub fn export<T: ?Sized + Interface>(&self, name: impl Into<String>, object: Arc<T>) {
        let key = ObjKey::of(&object);
        let export = Export {
            object: T::into_dispatch(object),
            key,
        };
        self.inner.registry.insert(name.into(), export);
    }

    /// Removes an export; clients that already hold it keep their proxies.
    /// Returns whether the name was exported.
    pub fn unexport(&self, name: &str) -> bool {
        self.inner.registry.remove(name).is_some()
    }

    /// The exported names, sorted.
    pub fn export_names(&self) -> Vec<String> {
        self.inner.registry.names()
    }

    /// Listens on a Unix socket at `path`; each client that connects gets its
    /// own connection with its own handle namespace.
    pub fn listen_unix(&self, path: impl AsRef<Path>) -> Result<UnixListener, RemoteError> {
        let server = self.clone();
        unix::listen(
            path.as_ref(),
            self.inner.options.clone(),
            move |link, peer| {
                server.serve(Arc::new(link), peer);
            },
        )
    }

    /// Starts serving one connection.
    pub(crate) fn serve(&self, link: Arc<dyn Link>, peer: String) -> Arc<Session> {
        let session = Session::start(
            link,
            Some(self.inner.registry.clone()),
            peer,
            true,
            self.inner.options.clone(),
        );
        let mut sessions = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        sessions.retain(|w| w.upgrade().is_some_and(|s| !s.is_closed()));
        sessions.push(Arc::downgrade(&session));
        session
    }

    /// A connected in-process pair: the server's end is served here, the
    /// client's end is returned.
    pub(crate) fn in_process_link(&self) -> Arc<dyn Link> {
        let (client, server) = in_process::pair();
        self.serve(Arc::new(server), "in-process".into());
        Arc::new(client)
    }

    /// What every open connection holds right now.
    pub fn stats(&self) -> ServerStats {
        let sessions: Vec<Arc<Session>> = {
            let sessions = self
                .inner
                .sessions
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            sessions.iter().filter_map(Weak::upgrade).collect()
        };
        let peers: Vec<_> = sessions
            .iter()
            .filter(|s| !s.is_closed())
            .map(|s| s.stats())
            .collect();
        ServerStats {
            connections: peers.len(),
            exported: peers.iter().map(|p| p.exported).sum(),
            imported: peers.iter().map(|p| p.imported).sum(),
            peers,
        }
    }

    /// Closes every connection: pending calls fail with `Disconnected` on
    /// both sides and every handle the clients held is released.
    pub fn disconnect_all(&self) {
        let sessions: Vec<Arc<Session>> = {
            let mut sessions = self
                .inner
                .sessions
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            sessions.drain(..).filter_map(|w| w.upgrade()).collect()
        };
        for s in sessions {
            s.close(&RemoteError::Disconnected);
        }
    }
}
