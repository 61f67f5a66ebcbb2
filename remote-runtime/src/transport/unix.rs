//! Unix domain socket transport.

use std::os::unix::net::{UnixListener as StdListener, UnixStream};
use std::path::Path;
use std::sync::Arc;

use super::listener::{self, ListenAddr, Listener};
use super::stream::StreamLink;
use crate::options::Options;
use crate::RemoteError;

/// Binds `path` and calls `on_accept` with a link for each connection.
pub(crate) fn listen(
    path: &Path,
    options: Options,
    on_accept: impl Fn(Arc<StreamLink<UnixStream>>, String) + Send + 'static,
) -> Result<Listener, RemoteError> {
    let acceptor = StdListener::bind(path)?;
    let label = format!("unix:{}", path.display());
    let wake_path = path.to_path_buf();
    Ok(listener::spawn(
        acceptor,
        ListenAddr::Unix(path.to_path_buf()),
        options,
        move |_| label.clone(),
        Box::new(move || {
            let _ = UnixStream::connect(&wake_path);
        }),
        on_accept,
    )?)
}

/// Connects to a server's socket.
pub(crate) fn connect(
    path: &Path,
    options: &Options,
) -> Result<StreamLink<UnixStream>, RemoteError> {
    let stream = UnixStream::connect(path)?;
    Ok(StreamLink::new(stream, options)?)
}
