//! Child-process transport: the parent starts a `Command` and the child
//! connects back over a Unix socket the parent hands it (its path travels in
//! an environment variable; the socket sits in a directory only this user
//! can enter, and is removed once the child is connected).

use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::driver::Wired;
use crate::options::Options;
use crate::RemoteError;

/// The environment variable that tells a child where its parent listens.
pub const PARENT_SOCKET_ENV: &str = "REMOTE_PARENT_SOCKET";

/// Spawns `command` and waits for it to connect back; returns the child and
/// the link to it.
pub(crate) fn spawn(
    command: &mut Command,
    options: &Options,
) -> Result<(Child, Wired), RemoteError> {
    static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "remote-child-{}-{}",
        std::process::id(),
        SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
    let path = dir.join("parent.sock");
    let result = accept_child(command, &path, options);
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_dir(&dir);
    result
}

fn accept_child(
    command: &mut Command,
    path: &PathBuf,
    options: &Options,
) -> Result<(Child, Wired), RemoteError> {
    let listener = UnixListener::bind(path)?;
    listener.set_nonblocking(true)?;
    let mut child = command.env(PARENT_SOCKET_ENV, path).spawn()?;
    let started = Instant::now();
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                return Ok((child, super::unix::wire(stream, options)?));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(status) = child.try_wait()? {
            return Err(RemoteError::Io(format!(
                "the child exited ({status}) before connecting back; it must call Client::from_parent()"
            )));
        }
        let within = options.connect_back_timeout;
        if started.elapsed() > within {
            let _ = child.kill();
            let _ = child.wait();
            return Err(RemoteError::Io(format!(
                "the child did not connect back within {within:?}; it must call Client::from_parent()"
            )));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The child's side: connects to the parent named by the environment.
pub(crate) fn connect_parent(options: &Options) -> Result<Wired, RemoteError> {
    let path = std::env::var_os(PARENT_SOCKET_ENV).ok_or_else(|| {
        RemoteError::Io(format!(
            "{PARENT_SOCKET_ENV} is not set: this process was not started by Server::spawn_child"
        ))
    })?;
    super::unix::wire(UnixStream::connect(path)?, options)
}
