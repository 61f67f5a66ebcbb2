//! The client front door: one connection to a server.

use std::future::Future;
use std::panic::Location;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::options::Options;
use crate::remote::{Interface, Proxy, Remote};
use crate::session::Session;
use crate::stats::SessionStats;
use crate::transport::{unix, Link};
use crate::{RemoteError, Server};

/// One connection to a server. Proxies obtained from it keep the connection
/// open; it closes when the client and all its proxies are dropped, or on
/// [`Client::close`].
#[derive(Clone)]
pub struct Client {
    session: Arc<Session>,
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
        Ok(Client::over(
            server.in_process_link(),
            "in-process".into(),
            options,
        ))
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
        let link = unix::connect(path.as_ref(), &options)?;
        let peer = format!("unix:{}", path.as_ref().display());
        Ok(Client::over(Arc::new(link), peer, options))
    }

    fn over(link: Arc<dyn Link>, peer: String, options: Options) -> Client {
        Client {
            session: Session::start(link, None, peer, false, options),
        }
    }

    /// Resolves the server's export `name` as proxy type `P` (blocking).
    ///
    /// Fails with [`RemoteError::NoSuchExport`] if nothing has that name and
    /// [`RemoteError::Mismatch`] if it was exported with another trait (or
    /// another version of this one).
    #[track_caller]
    pub fn require<P: Proxy>(&self, name: &str) -> Result<P, RemoteError> {
        let id = self.session.start_require(
            name,
            <P::Interface as Interface>::NAME,
            <P::Interface as Interface>::FINGERPRINT,
            Location::caller(),
        )?;
        let incoming = self.session.wait(id)?;
        let entry = self.session.require_reply(incoming)?;
        Ok(P::from_remote(Remote::from_import(entry)))
    }

    /// Resolves the server's export `name` as proxy type `P`, without
    /// blocking the thread.
    #[track_caller]
    pub fn require_async<P: Proxy>(&self, name: &str) -> RequireFuture<P> {
        let state = self.session.start_require(
            name,
            <P::Interface as Interface>::NAME,
            <P::Interface as Interface>::FINGERPRINT,
            Location::caller(),
        );
        RequireFuture {
            session: self.session.clone(),
            state: Some(state),
            _proxy: std::marker::PhantomData,
        }
    }

    /// Sends every pending release now and waits until the server has
    /// handled everything this client sent before the call. After it returns,
    /// the server's [`Server::stats`] reflect every proxy dropped before it.
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

/// The future of [`Client::require_async`].
pub struct RequireFuture<P> {
    session: Arc<Session>,
    state: Option<Result<u64, RemoteError>>,
    _proxy: std::marker::PhantomData<fn() -> P>,
}

impl<P> Unpin for RequireFuture<P> {}

impl<P: Proxy> Future for RequireFuture<P> {
    type Output = Result<P, RemoteError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let id = match self.state.take() {
            Some(Ok(id)) => id,
            Some(Err(e)) => return Poll::Ready(Err(e)),
            None => panic!("RequireFuture polled after completion"),
        };
        match self.session.poll_reply(id, cx) {
            Poll::Ready(incoming) => Poll::Ready(
                incoming
                    .and_then(|i| self.session.require_reply(i))
                    .map(|entry| P::from_remote(Remote::from_import(entry))),
            ),
            Poll::Pending => {
                self.state = Some(Ok(id));
                Poll::Pending
            }
        }
    }
}

impl<P> Drop for RequireFuture<P> {
    fn drop(&mut self) {
        if let Some(Ok(id)) = self.state.take() {
            self.session.cancel(id);
        }
    }
}
