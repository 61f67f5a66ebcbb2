//! In-process transport: two sessions in one process joined by a pair of
//! crossbeam channels. No runtime, no sockets; frames are still encoded, so
//! values are copied exactly as they would be between processes.
//!
//! Replies skip the channel when nothing sent before them is still on its
//! way: the thread that produced a reply hands it straight to the waiting
//! side's session, which wakes the caller. A blocking call therefore costs
//! two thread switches, as a bare channel ping-pong does. Everything else
//! (calls, callbacks, releases) goes through the channel, and a reply takes
//! the channel too while the peer has not finished handling every frame
//! sent before it: the connection keeps its order either way.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use crossbeam_channel::{unbounded, Receiver, Sender};

use super::Link;
use crate::options::FrameKind;
use crate::session::Session;
use crate::wire::{Frame, PREFIX};
use crate::RemoteError;

/// The sessions at both ends, once they exist, and per direction (indexed
/// by the receiving side) the frames sent through the channel and the frames
/// the receiver finished handling.
#[derive(Default)]
struct Ends {
    sessions: [OnceLock<Weak<Session>>; 2],
    sent: [AtomicU64; 2],
    handled: [AtomicU64; 2],
}

/// One end of an in-process connection. An empty message is end-of-stream.
pub(crate) struct ChannelLink {
    to_peer: Sender<Vec<u8>>,
    to_self: Sender<Vec<u8>>,
    from_peer: Receiver<Vec<u8>>,
    closed: AtomicBool,
    ends: Arc<Ends>,
    side: usize,
}

/// A connected pair.
pub(crate) fn pair() -> (ChannelLink, ChannelLink) {
    let (a_tx, a_rx) = unbounded();
    let (b_tx, b_rx) = unbounded();
    let ends = Arc::new(Ends::default());
    (
        ChannelLink {
            to_peer: b_tx.clone(),
            to_self: a_tx.clone(),
            from_peer: a_rx,
            closed: AtomicBool::new(false),
            ends: ends.clone(),
            side: 0,
        },
        ChannelLink {
            to_peer: a_tx,
            to_self: b_tx,
            from_peer: b_rx,
            closed: AtomicBool::new(false),
            ends,
            side: 1,
        },
    )
}

impl Link for ChannelLink {
    fn send(&self, frame: Vec<u8>, kind: FrameKind) -> Result<(), RemoteError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(RemoteError::Disconnected);
        }
        let to = 1 - self.side;
        // Only this side's writer sends, so nothing can join the channel
        // between this check and the hand-over.
        let in_order = self.ends.handled[to].load(Ordering::Acquire)
            == self.ends.sent[to].load(Ordering::Acquire);
        if kind == FrameKind::Reply && in_order {
            let peer = self.ends.sessions[to].get().and_then(Weak::upgrade);
            if let Some(peer) = peer {
                if !peer.is_closed() {
                    peer.handle_frame(Frame {
                        buf: frame,
                        start: PREFIX,
                    });
                    return Ok(());
                }
            }
        }
        self.ends.sent[to].fetch_add(1, Ordering::AcqRel);
        self.to_peer.send(frame).map_err(|_| {
            self.ends.sent[to].fetch_sub(1, Ordering::AcqRel);
            RemoteError::Disconnected
        })
    }

    fn attach(&self, session: Weak<Session>) {
        let _ = self.ends.sessions[self.side].set(session);
    }

    fn handled(&self) {
        self.ends.handled[self.side].fetch_add(1, Ordering::AcqRel);
    }

    fn recv(&self) -> Result<Frame, RemoteError> {
        match self.from_peer.recv() {
            Ok(buf) if buf.len() >= PREFIX => Ok(Frame { buf, start: PREFIX }),
            _ => Err(RemoteError::Disconnected),
        }
    }

    fn close(&self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            // Wake the peer's reader and our own.
            let _ = self.to_peer.send(Vec::new());
            let _ = self.to_self.send(Vec::new());
        }
    }
}

impl Drop for ChannelLink {
    fn drop(&mut self) {
        self.close();
    }
}
