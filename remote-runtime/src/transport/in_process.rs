//! In-process transport: two sessions in one process joined by a pair of
//! channels, each end read by its connection's task. No sockets; frames are
//! still encoded, so values are copied exactly as they would be between
//! processes.
//!
//! Replies skip the channel when nothing sent before them is still on its
//! way: the thread that produced a reply hands it straight to the waiting
//! side's session, which wakes the caller. Everything else (calls,
//! callbacks, releases) goes through the channel, and a reply takes the
//! channel too while the peer has not finished handling every frame sent
//! before it: the connection keeps its order either way.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::Notify;

use super::Link;
use crate::driver::relay::Relay;
use crate::driver::{ConnTask, Peer, Wired};
use crate::options::FrameKind;
use crate::wire::{OutFrame, PREFIX};
use crate::RemoteError;

/// The sessions at both ends, once they exist, and per direction (indexed
/// by the receiving side) the frames sent through the channel and the frames
/// the receiver finished handling.
#[derive(Default)]
struct Ends {
    sessions: [OnceLock<Weak<dyn Peer>>; 2],
    sent: [AtomicU64; 2],
    handled: [AtomicU64; 2],
}

/// One end of an in-process connection. An empty message is end-of-stream.
pub(crate) struct ChannelLink {
    to_peer: UnboundedSender<OutFrame>,
    closed: AtomicBool,
    /// Wakes this end's task when the link closes.
    closing: Notify,
    ends: Arc<Ends>,
    side: usize,
}

/// A connected pair, each end on its runtime.
pub(crate) fn pair(rt: [tokio::runtime::Handle; 2]) -> (Wired, Wired) {
    let (a_tx, a_rx) = unbounded_channel();
    let (b_tx, b_rx) = unbounded_channel();
    let ends = Arc::new(Ends::default());
    let [a_rt, b_rt] = rt;
    let a = Arc::new(ChannelLink {
        to_peer: b_tx,
        closed: AtomicBool::new(false),
        closing: Notify::new(),
        ends: ends.clone(),
        side: 0,
    });
    let b = Arc::new(ChannelLink {
        to_peer: a_tx,
        closed: AtomicBool::new(false),
        closing: Notify::new(),
        ends,
        side: 1,
    });
    (wire(a, a_rx, a_rt), wire(b, b_rx, b_rt))
}

fn wire(
    link: Arc<ChannelLink>,
    rx: UnboundedReceiver<OutFrame>,
    rt: tokio::runtime::Handle,
) -> Wired {
    let handle = rt.clone();
    Wired {
        link: link.clone(),
        rt,
        run: Box::new(move |keep| -> ConnTask {
            let relay = Relay::new(keep, link, handle, |relay, rx| Box::pin(run(relay, rx)));
            Box::pin(run(relay, rx))
        }),
    }
}

type Receiver = UnboundedReceiver<OutFrame>;

async fn run(relay: Arc<Relay<Receiver, Arc<ChannelLink>>>, mut rx: Receiver) {
    let link = relay.ctx.clone();
    let mut fair = crate::driver::FairShare::default();
    let end = loop {
        if link.closed.load(Ordering::Acquire) {
            break None;
        }
        tokio::select! {
            biased;
            () = link.closing.notified() => {}
            got = rx.recv() => match got {
                Some(sent) if sent.len() >= PREFIX => {
                    let frame = sent.into_frame();
                    let started = std::time::Instant::now();
                    let back = relay.deliver(rx, frame);
                    link.ends.handled[link.side].fetch_add(1, Ordering::AcqRel);
                    match back {
                        Some(back) => {
                            rx = back;
                            fair.worked_since(started).await;
                        }
                        // Another task took this end over.
                        None => return,
                    }
                }
                _ => break Some(RemoteError::Disconnected),
            },
        }
    };
    if let Some(why) = end {
        if let Some(session) = relay.keep.get() {
            session.close(&why);
        }
    }
}

impl Link for ChannelLink {
    fn send(&self, frame: OutFrame, kind: FrameKind) -> Result<(), RemoteError> {
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
                    peer.handle_frame(frame.into_frame());
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

    fn attach(&self, session: Weak<dyn Peer>) {
        let _ = self.ends.sessions[self.side].set(session);
    }

    fn close(&self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            // End the peer's stream, and wake our own task.
            let _ = self.to_peer.send(OutFrame {
                buf: Vec::new(),
                start: 0,
                blobs: Vec::new(),
            });
            self.closing.notify_one();
        }
    }
}

impl Drop for ChannelLink {
    fn drop(&mut self) {
        self.close();
    }
}
