//! Unix domain socket transport.

use std::os::unix::net::{UnixListener as StdListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::stream::StreamLink;
use crate::options::Options;
use crate::RemoteError;

/// A server listening on a Unix socket; stops accepting (and removes the
/// socket file) when closed or dropped. Connections already made stay up.
#[derive(Debug)]
pub struct UnixListener {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl UnixListener {
    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops accepting connections.
    pub fn close(mut self) {
        self.stop_accepting();
    }

    fn stop_accepting(&mut self) {
        if self.stop.swap(true, Ordering::AcqRel) {
            return;
        }
        // Wake the blocked accept() with a connection of our own.
        let _ = UnixStream::connect(&self.path);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for UnixListener {
    fn drop(&mut self) {
        self.stop_accepting();
    }
}

/// Binds `path` and calls `on_accept` with a link for each connection.
pub(crate) fn listen(
    path: &Path,
    options: Options,
    on_accept: impl Fn(StreamLink<UnixStream>, String) + Send + 'static,
) -> Result<UnixListener, RemoteError> {
    let listener = StdListener::bind(path)?;
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    let label = path.display().to_string();
    let thread = std::thread::Builder::new()
        .name("remote-unix-accept".into())
        .spawn(move || {
            let serve = |stream: std::io::Result<UnixStream>| match stream
                .and_then(|s| StreamLink::new(s, &options))
            {
                Ok(link) => on_accept(link, format!("unix:{label}")),
                Err(e) => tracing::warn!(error = %e, "accept failed"),
            };
            for stream in listener.incoming() {
                serve(stream);
                if stopping.load(Ordering::Acquire) {
                    // Serve what was already queued (clients whose connect
                    // returned), then stop. The waker's own connection is
                    // among them and simply ends.
                    if listener.set_nonblocking(true).is_ok() {
                        while let Ok((stream, _)) = listener.accept() {
                            serve(stream.set_nonblocking(false).map(|()| stream));
                        }
                    }
                    return;
                }
            }
        })?;
    Ok(UnixListener {
        path: path.to_path_buf(),
        stop,
        thread: Some(thread),
    })
}

/// Connects to a server's socket.
pub(crate) fn connect(
    path: &Path,
    options: &Options,
) -> Result<StreamLink<UnixStream>, RemoteError> {
    let stream = UnixStream::connect(path)?;
    Ok(StreamLink::new(stream, options)?)
}
