//! Transports: how frames move between two sessions. Each transport is one
//! file; all of them hand whole frames to the session through [`Link`].

pub(crate) mod child;
pub(crate) mod in_process;
pub(crate) mod listener;
pub(crate) mod stream;
pub(crate) mod tcp;
#[cfg(feature = "tls")]
pub(crate) mod tls;
pub(crate) mod unix;

use std::sync::Weak;

use crate::options::FrameKind;
use crate::session::Session;
use crate::wire::Frame;
use crate::RemoteError;

/// A bidirectional frame pipe.
pub(crate) trait Link: Send + Sync + 'static {
    /// Sends one complete frame (length prefix included).
    fn send(&self, frame: Vec<u8>, kind: FrameKind) -> Result<(), RemoteError>;
    /// Sends one frame without waiting on the peer: `Ok(None)` when the
    /// transport took it; `Ok(Some(rest))` when it is full, and then the
    /// caller must pass `rest` to [`Link::finish_send`] (which may wait)
    /// before it sends anything else. Transports that never wait keep this
    /// default.
    fn try_send(&self, frame: Vec<u8>, kind: FrameKind) -> Result<Option<Vec<u8>>, RemoteError> {
        self.send(frame, kind).map(|()| None)
    }
    /// Writes the rest of a frame [`Link::try_send`] could not finish,
    /// waiting as long as the transport's write deadline allows.
    fn finish_send(&self, rest: Vec<u8>) -> Result<(), RemoteError> {
        debug_assert!(rest.is_empty(), "this transport never leaves a rest");
        Ok(())
    }
    /// Blocks until the next frame arrives; only the active reader calls it.
    fn recv(&self) -> Result<Frame, RemoteError>;
    /// Closes both directions; a blocked `recv` on either end returns.
    fn close(&self);
    /// Tells the link which session receives its frames (a transport that can
    /// hand replies straight to the peer's session uses it).
    fn attach(&self, _session: Weak<Session>) {}
    /// The reader finished handling a frame this link's `recv` returned.
    fn handled(&self) {}
}
