//! Unix domain socket transport.

use std::os::unix::net::{UnixListener as StdListener, UnixStream};
use std::path::Path;

use super::listener::{self, ListenAddr, Listener};
use crate::driver::{stream, Wired};
use crate::options::Options;
use crate::RemoteError;

/// Binds `path` and calls `on_accept` with each connection.
pub(crate) fn listen(
    path: &Path,
    options: Options,
    on_accept: impl Fn(Wired, String) + Send + 'static,
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

/// Wires a connected std socket to the driver.
pub(crate) fn wire(stream: UnixStream, options: &Options) -> Result<Wired, RemoteError> {
    let rt = crate::rt::handle(options)?;
    stream.set_nonblocking(true)?;
    let stream = {
        let _runtime = rt.enter();
        tokio::net::UnixStream::from_std(stream)?
    };
    Ok(stream::socket(stream, options, rt))
}

/// Connects to a server's socket.
pub(crate) fn connect(path: &Path, options: &Options) -> Result<Wired, RemoteError> {
    wire(UnixStream::connect(path)?, options)
}
