//! Unix domain socket transport.

use std::os::unix::net::{UnixListener as StdListener, UnixStream};
use std::path::Path;

use super::listener::{self, ListenAddr, Listener};
use crate::driver::{stream, Wired};
use crate::options::Options;
use crate::RemoteError;

/// Binds `path` and calls `on_accept` with each connection (on the
/// blocking pool: it runs the server's connect hooks).
pub(crate) fn listen(
    path: &Path,
    options: Options,
    on_accept: impl Fn(Wired, String) + Send + Sync + 'static,
) -> Result<Listener, RemoteError> {
    let rt = crate::rt::handle(&options)?;
    let bound = StdListener::bind(path)?;
    bound.set_nonblocking(true)?;
    let acceptor = {
        let _runtime = rt.enter();
        tokio::net::UnixListener::from_std(bound)?
    };
    let label = format!("unix:{}", path.display());
    let on_accept = std::sync::Arc::new(on_accept);
    let handle = rt.clone();
    listener::spawn(
        acceptor,
        ListenAddr::Unix(path.to_path_buf()),
        &rt,
        move |stream| {
            let wired = stream::socket(stream, &options, handle.clone());
            let (on_accept, label) = (on_accept.clone(), label.clone());
            crate::rt::spawn_blocking(&handle, move || on_accept(wired, label));
        },
    )
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
