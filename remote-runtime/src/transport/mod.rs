//! Transports: how frames move between two sessions. Each transport is one
//! file; all of them hand whole frames to the session from a connection
//! task (see `driver`), and take frames through [`Link`].

pub(crate) mod child;
pub(crate) mod in_process;
pub(crate) mod listener;
pub(crate) mod tcp;
#[cfg(feature = "tls")]
pub(crate) mod tls;
pub(crate) mod unix;

use std::sync::Weak;

use crate::driver::Peer;
use crate::options::FrameKind;
use crate::wire::OutFrame;
use crate::RemoteError;

/// Where a session puts the frames it sends.
pub(crate) trait Link: Send + Sync + 'static {
    /// Sends one complete frame (length prefix included), in order after
    /// every frame sent before it. Never waits on the peer: what the
    /// transport cannot take now is queued for the connection's task.
    /// Fails only once the link is closed.
    fn send(&self, frame: OutFrame, kind: FrameKind) -> Result<(), RemoteError>;
    /// Closes the link: the connection's task writes what is queued (within
    /// a bound), closes the transport and ends.
    fn close(&self);
    /// Tells the link which session receives its frames (a transport that can
    /// hand replies straight to the peer's session uses it).
    fn attach(&self, _session: Weak<dyn Peer>) {}
}
