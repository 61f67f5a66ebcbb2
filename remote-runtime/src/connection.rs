//! One connection as the serving side sees it: to attach objects that belong
//! to that connection alone, and to call the objects its peer exported.

use std::panic::Location;
use std::sync::Arc;

use crate::client::RequireFuture;
use crate::registry::Export;
use crate::remote::{Interface, Proxy};
use crate::session::Session;
use crate::stats::SessionStats;
use crate::wire::Scope;
use crate::RemoteError;

/// What a connection asks to reach, as an access policy sees it
/// ([`Server::set_access_policy`](crate::Server::set_access_policy)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Access<'a> {
    /// An export or built-in module, by name (`require`, `module`).
    Export(&'a str),
    /// A global, by name (`get_global`; `process` is one too).
    Global(&'a str),
}

/// A server's handle on one of its connections (what Electron called a
/// renderer's `webContents`, seen from the main process).
///
/// Obtained in [`Server::on_connect`](crate::Server::on_connect) or from
/// [`Server::connections`](crate::Server::connections).
#[derive(Clone)]
pub struct Connection {
    pub(crate) session: Arc<Session>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.id())
            .field("peer", &self.session.peer)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Connection {
    /// A number unique to this connection within this process.
    pub fn id(&self) -> u64 {
        self.session.serial
    }

    /// Who is at the other end.
    pub fn peer(&self) -> &str {
        &self.session.peer
    }

    /// Makes `object` reachable as `name` by this connection's
    /// [`Client::current`](crate::Client::current), and by no other
    /// connection: the window a renderer belongs to, its web contents. The
    /// connection keeps it until it ends.
    pub fn attach<T: ?Sized + Interface>(&self, name: impl Into<String>, object: Arc<T>) {
        let key = crate::remote::key_of(&object);
        self.session.attach_object(
            name.into(),
            Export {
                object: T::into_dispatch(object),
                key,
            },
        );
    }

    /// Resolves an object the client exported with
    /// [`Client::export`](crate::Client::export): the other direction, where
    /// the server calls into its client with the same guarantees.
    #[track_caller]
    pub fn require<P: Proxy>(&self, name: &str) -> Result<P, RemoteError> {
        self.session
            .resolve(name, Scope::Exports, Location::caller())
    }

    /// [`Connection::require`] without blocking the thread.
    #[track_caller]
    pub fn require_async<P: Proxy>(&self, name: &str) -> RequireFuture<P> {
        RequireFuture::start(&self.session, name, Scope::Exports, Location::caller())
    }

    /// Sends this side's queued releases and waits until the client has
    /// handled everything sent to it so far, and this side has handled the
    /// releases the client had queued: the server-side twin of
    /// [`Client::sync`](crate::Client::sync).
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

    /// Ends the connection; everything the client held is released.
    pub fn close(&self) {
        self.session.close(&RemoteError::Disconnected);
    }
}
