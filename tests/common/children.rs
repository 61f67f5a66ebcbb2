//! Child processes for the multi-process tests: each test binary starts
//! copies of itself in a role (named by the `ROLE` environment variable),
//! reads their lines, and stops them with real signals.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The environment variable that names a child's role.
pub const ROLE: &str = "REMOTE_TEST_CHILD_ROLE";

/// Every wait on a child is bounded by this.
pub const BOUND: Duration = Duration::from_secs(20);

/// A socket path in a fresh temp dir of its own. The guard removes the dir,
/// with whatever is left in it (the socket file of a killed server), when it
/// drops, also when the test panics. Declare it before the listener and the
/// children that use the path, so that they go first.
pub fn socket_path(tag: &str) -> (tempfile::TempDir, PathBuf) {
    // Directly under the temp dir with a short name: a Unix socket's path
    // has at most 108 bytes.
    let dir = tempfile::Builder::new()
        .prefix("remote-2p-")
        .tempdir()
        .expect("temp dir");
    let path = dir.path().join(format!("{tag}.sock"));
    (dir, path)
}

/// A child process that is killed and reaped when dropped, so that a test
/// that panics leaves no process behind (one stopped with SIGSTOP would
/// never exit) and no process still uses the test's temp dir once it goes.
pub struct KillOnDrop(pub Child);

impl std::ops::Deref for KillOnDrop {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // Both are no-ops for a child already waited for.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts this binary in `role` and waits for its first line; later lines
/// arrive on the returned channel.
pub fn spawn_with_lines(
    role: &[&str],
    expect: &str,
) -> (KillOnDrop, crossbeam_channel::Receiver<String>) {
    let mut child = KillOnDrop(
        Command::new(std::env::current_exe().expect("test exe"))
            .env(ROLE, role[0])
            .args(&role[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn child"),
    );
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let line = rx
        .recv_timeout(BOUND)
        .expect("child printed nothing in time");
    assert!(line.starts_with(expect), "child said {line:?}");
    (child, rx)
}

pub fn spawn(role: &[&str], expect: &str) -> KillOnDrop {
    spawn_with_lines(role, expect).0
}

pub fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {sig} failed");
}
