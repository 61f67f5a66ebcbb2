//! In-process transport: two sessions in one process joined by a pair of
//! crossbeam channels. No runtime, no sockets; frames are still encoded, so
//! values are copied exactly as they would be between processes.

use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{unbounded, Receiver, Sender};

use super::Link;
use crate::wire::{Frame, PREFIX};
use crate::RemoteError;

/// One end of an in-process connection. An empty message is end-of-stream.
pub(crate) struct ChannelLink {
    to_peer: Sender<Vec<u8>>,
    to_self: Sender<Vec<u8>>,
    from_peer: Receiver<Vec<u8>>,
    closed: AtomicBool,
}

/// A connected pair.
pub(crate) fn pair() -> (ChannelLink, ChannelLink) {
    let (a_tx, a_rx) = unbounded();
    let (b_tx, b_rx) = unbounded();
    (
        ChannelLink {
            to_peer: b_tx.clone(),
            to_self: a_tx.clone(),
            from_peer: a_rx,
            closed: AtomicBool::new(false),
        },
        ChannelLink {
            to_peer: a_tx,
            to_self: b_tx,
            from_peer: b_rx,
            closed: AtomicBool::new(false),
        },
    )
}

impl Link for ChannelLink {
    fn send(&self, frame: Vec<u8>) -> Result<(), RemoteError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(RemoteError::Disconnected);
        }
        self.to_peer
            .send(frame)
            .map_err(|_| RemoteError::Disconnected)
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
