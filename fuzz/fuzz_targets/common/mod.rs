//! What the live-server targets share: the server and the good client they
//! start once per process (`Live`), a raw peer's connection whose frames a
//! thread of its own reads (`Wire`), a bounded wait (`eventually`), the loop
//! that plays a script (`play`), a count of live objects (`Counted`), the
//! wire IDs of the methods a script picks by index (`method_at`, checked
//! with `assert_methods`), and `script_enum!` (with `choose!`), which
//! declares an enum of a script that decodes its variant from one byte.
//!
//! A target includes it with `mod common;` and uses part of it (hence the
//! `allow(dead_code)`).
#![allow(dead_code)]

use std::io::Write;
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use remote::__private::Interface;
use remote::testing;
use remote::{Client, Listener, Server, ServerStats};

// ---------------------------------------------------------------------------
// The server and the good client.

/// A server listening on a Unix socket, and a well-behaved client of it.
/// Held by a static fixture: never dropped, so a socket directory is left
/// behind when the fuzzer exits.
pub struct Live {
    pub server: Server,
    pub path: PathBuf,
    pub good: Client,
    _listener: Listener,
    /// Holds the socket, when the directory is a `tempfile` one.
    _dir: Option<tempfile::TempDir>,
}

impl Live {
    /// A server exporting `object` as `name`, listening at `path`, and a
    /// good client connected to it.
    pub fn start<T: ?Sized + Interface>(path: PathBuf, name: &str, object: Arc<T>) -> Live {
        let server = Server::new();
        server.export(name, object);
        let listener = server.listen_unix(&path).unwrap();
        let good = Client::connect_unix(&path).unwrap();
        Live {
            server,
            path,
            good,
            _listener: listener,
            _dir: None,
        }
    }

    /// The same, with the socket in a new directory under the system temp
    /// dir whose name starts with `prefix`.
    pub fn in_temp_dir<T: ?Sized + Interface>(prefix: &str, name: &str, object: Arc<T>) -> Live {
        let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
        let mut live = Live::start(dir.path().join("s.sock"), name, object);
        live._dir = Some(dir);
        live
    }

    /// Waits (at most `bound`) until the server has no connection but the
    /// good client's, exports exactly what the good client imports, `also`
    /// holds and every count of `alive` (named things alive or running) is
    /// 0; if not, panics with `what`, the counts, the good client's imports
    /// and the server's stats.
    pub fn assert_only_good_client_left(
        &self,
        bound: Duration,
        what: &str,
        alive: &[(&str, &AtomicUsize)],
        also: impl Fn(&ServerStats) -> bool,
    ) {
        eventually(
            bound,
            || {
                let counts: Vec<String> = alive
                    .iter()
                    .map(|(name, count)| format!("{} {name}", count.load(Ordering::SeqCst)))
                    .collect();
                format!(
                    "{what}: {}, good client imports {}; {:?}",
                    counts.join(", "),
                    self.good.stats().imported,
                    self.server.stats()
                )
            },
            || {
                let stats = self.server.stats();
                stats.connections == 1
                    && stats.exported == self.good.stats().imported
                    && also(&stats)
                    && alive
                        .iter()
                        .all(|(_, count)| count.load(Ordering::SeqCst) == 0)
            },
        );
    }
}

// ---------------------------------------------------------------------------
// Method IDs.
//
// A call names its method by a stable ID (`testing::method_id` of the name,
// unless the method has `#[remote(id = N)]`), not by its position in the
// trait. A script picks a method by a small index into a target's table of
// method names (each trait's in declaration order); these turn the index
// into the ID on the wire.

/// An ID no method of the targets' traits has: below the IDs made from
/// names (`0x8000_0000..u32::MAX`), no method of theirs has an
/// `#[remote(id = N)]` (checked by `assert_methods`), and it is neither a
/// callback's (0) nor the snapshot method's (`u32::MAX`).
pub const NO_METHOD: u32 = 0x7fff_ffff;

/// The wire ID of the method at `index` of `names` (a table of method
/// names), or [`NO_METHOD`] past its end.
pub fn method_at(names: &[&str], index: usize) -> u32 {
    names
        .get(index)
        .map_or(NO_METHOD, |name| testing::method_id(name))
}

/// Asserts that `names` are `T`'s methods, in declaration order, and that
/// each travels with the ID of its name (none has `#[remote(id = N)]`): a
/// table a script picks from names real methods, with their real IDs.
pub fn assert_methods<T: ?Sized + Interface>(names: &[&str]) {
    let declared: Vec<(&str, u32)> = T::methods().iter().map(|m| (m.name, m.id)).collect();
    let listed: Vec<(&str, u32)> = names
        .iter()
        .map(|&name| (name, testing::method_id(name)))
        .collect();
    assert_eq!(
        listed,
        declared,
        "the table of {}'s methods is not the trait's",
        T::NAME
    );
    assert!(!declared.iter().any(|&(_, id)| id == NO_METHOD));
}

/// Waits (at most `bound`) until `done` holds; panics with `what` if not.
pub fn eventually(bound: Duration, what: impl Fn() -> String, done: impl Fn() -> bool) {
    let deadline = Instant::now() + bound;
    while !done() {
        assert!(Instant::now() < deadline, "after {bound:?}: {}", what());
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Hands `peer` the ops of a script (the first `max`), one by one, while
/// `live` says its connection lives.
pub fn play<P, Op>(
    peer: &mut P,
    ops: &[Op],
    max: usize,
    live: impl Fn(&P) -> bool,
    mut op: impl FnMut(&mut P, &Op),
) {
    for one in ops.iter().take(max) {
        if !live(peer) {
            break;
        }
        op(peer, one);
    }
}

/// Counts itself in a counter of live things while it lives: a field of an
/// object (the object is alive), or a guard in a body (the body runs).
pub struct Counted(&'static AtomicUsize);

impl Counted {
    pub fn new(count: &'static AtomicUsize) -> Counted {
        count.fetch_add(1, Ordering::SeqCst);
        Counted(count)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------
// A raw peer's connection.

/// A raw connection: frames are written to the socket as they are sent,
/// and a thread of ours reads what the server sends, frame by frame.
pub struct Wire {
    stream: UnixStream,
    /// Frames the reader read; disconnected at the end of the stream.
    frames: mpsc::Receiver<Vec<u8>>,
    reader: Option<JoinHandle<()>>,
    /// No write error or end of stream yet.
    pub live: bool,
}

impl Wire {
    /// Connects to the server at `path`; a write that blocks longer than
    /// `write_timeout` fails (and ends `live`).
    pub fn connect(path: &Path, write_timeout: Duration) -> Wire {
        let stream = UnixStream::connect(path).expect("the server accepts connections");
        stream.set_write_timeout(Some(write_timeout)).unwrap();
        let mut read_half = stream.try_clone().unwrap();
        let (tx, frames) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            while let Ok(frame) = testing::read_frame(&mut read_half) {
                if tx.send(frame).is_err() {
                    return;
                }
            }
        });
        Wire {
            stream,
            frames,
            reader: Some(reader),
            live: true,
        }
    }

    /// Writes `bytes`, while no write has failed and the stream has not
    /// ended.
    pub fn send(&mut self, bytes: &[u8]) {
        if self.live && self.stream.write_all(bytes).is_err() {
            self.live = false;
        }
    }

    /// The next frame, waiting until `deadline` at the most. The end of the
    /// stream (`Disconnected`) ends `live`.
    pub fn recv_until(&mut self, deadline: Instant) -> Result<Vec<u8>, RecvTimeoutError> {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = self.frames.recv_timeout(left);
        if let Err(RecvTimeoutError::Disconnected) = frame {
            self.live = false;
        }
        frame
    }

    /// A frame that has arrived, without waiting. The end of the stream
    /// ends `live`.
    pub fn try_recv(&mut self) -> Option<Vec<u8>> {
        match self.frames.try_recv() {
            Ok(frame) => Some(frame),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                self.live = false;
                None
            }
        }
    }

    /// Hands frames to `take` until it says that was the one (true) or the
    /// stream ends (false); panics with `what` if neither happens within
    /// `bound`.
    pub fn read_until(
        &mut self,
        bound: Duration,
        what: impl Fn() -> String,
        mut take: impl FnMut(Vec<u8>) -> bool,
    ) -> bool {
        let deadline = Instant::now() + bound;
        while self.live {
            match self.recv_until(deadline) {
                Ok(frame) => {
                    if take(frame) {
                        return true;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!("{}", what()),
                Err(RecvTimeoutError::Disconnected) => {}
            }
        }
        false
    }

    /// Closes our half and waits until the server has read up to the end
    /// and closed its half, handing what still arrives to `absorb`; ends
    /// our reader; panics if the server has not closed within `bound`.
    pub fn finish(mut self, bound: Duration, mut absorb: impl FnMut(Vec<u8>)) {
        let _ = self.stream.shutdown(Shutdown::Write);
        let deadline = Instant::now() + bound;
        let closed = loop {
            match self.recv_until(deadline) {
                Ok(frame) => absorb(frame),
                Err(RecvTimeoutError::Disconnected) => break true,
                Err(RecvTimeoutError::Timeout) => break false,
            }
        };
        // Ends our reader either way.
        let _ = self.stream.shutdown(Shutdown::Both);
        if let Some(reader) = self.reader.take() {
            reader.join().expect("the reader thread never panics");
        }
        assert!(
            closed,
            "the server did not close a half-closed connection within {bound:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// The fuzz input.
//
// `Arbitrary` is implemented by hand for the enums of a script: the derive
// spends four bytes on every discriminant, which libFuzzer's slowly growing
// length limit makes costly; `choose!` spends one.

/// Declares an enum of a script and its `Arbitrary`: one byte picks the
/// variant (`choose!`), then its fields are decoded in the order declared.
#[allow(unused_macros)] // by the targets without a script of enums
macro_rules! script_enum {
    (
        $(#[$meta:meta])*
        enum $name:ident {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident
                $( ( $($tuple:ty),+ $(,)? ) )?
                $( { $( $field:ident: $field_ty:ty ),+ $(,)? } )?
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        enum $name {
            $(
                $(#[$variant_meta])*
                $variant
                $( ( $($tuple),+ ) )?
                $( { $( $field: $field_ty ),+ } )?
            ),+
        }

        impl<'a> ::libfuzzer_sys::arbitrary::Arbitrary<'a> for $name {
            fn arbitrary(
                u: &mut ::libfuzzer_sys::arbitrary::Unstructured<'a>,
            ) -> ::libfuzzer_sys::arbitrary::Result<Self> {
                $crate::common::choose!(
                    u,
                    $(
                        $name::$variant
                        $( ( $( u.arbitrary::<$tuple>()? ),+ ) )?
                        $( { $( $field: u.arbitrary::<$field_ty>()? ),+ } )?
                    ),+
                )
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use script_enum;

/// Returns one of a few variants, picked by one byte, with its fields
/// decoded after that byte.
#[allow(unused_macros)] // by the targets without a script of enums
macro_rules! choose {
    ($u:ident, $($variant:expr),+ $(,)?) => {{
        let count = [$(stringify!($variant)),+].len();
        let mut pick = $u.int_in_range(0..=count - 1)?;
        $(
            if pick == 0 {
                return Ok($variant);
            }
            pick -= 1;
        )+
        unreachable!("picked {pick} past the last variant")
    }};
}
#[allow(unused_imports)]
pub(crate) use choose;
