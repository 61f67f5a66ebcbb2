//! A connection's outbound queue, and the [`Link`] sessions write byte
//! streams through.
//!
//! A frame is written straight to the socket by the thread that sent it
//! when nothing is queued ahead of it and the socket takes it whole (the
//! common case: no hop to another thread). Whatever the socket cannot take
//! now is queued, in order, for the connection's task, which writes it as
//! the socket drains. Nothing here ever waits on the peer.

use std::io;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::options::FrameKind;
use crate::transport::Link;
use crate::wire::OutFrame;
use crate::RemoteError;

/// Writes what a socket takes now, never waiting.
pub(crate) type SendNow = Box<dyn Fn(&[u8]) -> io::Result<usize> + Send + Sync>;

/// Frames waiting for the connection's task, and how the link stands.
pub(crate) struct Outbound {
    queue: Mutex<Queue>,
    /// Wakes the task: frames were queued, or the link closed.
    pub(crate) wake: Notify,
    /// The most bytes that may wait here; a peer that lets more pile up is
    /// cut off.
    limit: usize,
    /// The connection's runtime, when it is a current-thread one: a sender
    /// running on it leaves its frames to the task, which writes them all
    /// once the sender yields (the same thread: no wake-up is lost to it,
    /// and a burst of async calls leaves in one write).
    gather_on: Option<tokio::runtime::Id>,
}

struct Queue {
    /// Bytes waiting, from `pending_at` on (a frame that found the queue
    /// empty moves in whole, its written start included: no copy).
    pending: Vec<u8>,
    pending_at: usize,
    /// The task is writing a batch it took from `pending`: frames sent
    /// meanwhile must queue behind it.
    busy: bool,
    /// Set by `close`: nothing more is taken.
    closed: bool,
    /// The task is handling frames with more already read behind them:
    /// what their calls answer waits here and leaves in one write.
    corked: bool,
    /// Why the task must close the connection, if a sender found out first.
    verdict: Option<RemoteError>,
    /// The direct way to the socket; `None` for transports only the task
    /// can write (TLS, a stream the user brought), and once closed.
    direct: Option<SendNow>,
}

fn lock(m: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Outbound {
    pub(crate) fn new(
        direct: Option<SendNow>,
        limit: usize,
        rt: &tokio::runtime::Handle,
    ) -> Outbound {
        let current_thread = rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread;
        Outbound {
            queue: Mutex::new(Queue {
                pending: Vec::new(),
                pending_at: 0,
                busy: false,
                closed: false,
                corked: false,
                verdict: None,
                direct,
            }),
            wake: Notify::new(),
            limit,
            gather_on: current_thread.then(|| rt.id()),
        }
    }

    /// Moves the queued bytes into `batch` (which the task has written out),
    /// to be written from `at` on, and marks the task busy with them; false
    /// when nothing is queued.
    pub(crate) fn take(&self, batch: &mut Vec<u8>, at: &mut usize) -> bool {
        let mut queue = lock(&self.queue);
        batch.clear();
        *at = 0;
        if queue.pending.is_empty() {
            queue.busy = false;
            return false;
        }
        std::mem::swap(batch, &mut queue.pending);
        *at = std::mem::take(&mut queue.pending_at);
        queue.busy = true;
        true
    }

    /// Whether the link was closed, and why the connection must end if a
    /// sender found a reason.
    pub(crate) fn closed(&self) -> (bool, Option<RemoteError>) {
        let mut queue = lock(&self.queue);
        (queue.closed, queue.verdict.take())
    }

    /// Holds frames back (`true`) while the task handles frames with more
    /// already read behind them, so the replies to a burst of calls leave
    /// in one write; `false` lets them go (the task writes what gathered).
    pub(crate) fn cork(&self, on: bool) {
        let mut queue = lock(&self.queue);
        if queue.corked != on {
            queue.corked = on;
            if !on && !queue.pending.is_empty() {
                drop(queue);
                self.wake.notify_one();
            }
        }
    }

    /// The task saw the socket fail: later frames are dropped quietly (the
    /// task is closing the connection with the reason it saw).
    pub(crate) fn fail(&self) {
        let mut queue = lock(&self.queue);
        queue.direct = None;
        queue.pending = Vec::new();
        queue.pending_at = 0;
        queue.closed = true;
    }

    /// Queues `frame` from `at` on.
    fn queue(&self, queue: &mut Queue, frame: Vec<u8>, at: usize) {
        let queued = queue.pending.len() - queue.pending_at;
        if queued + frame.len() - at > self.limit {
            queue.pending = Vec::new();
            queue.pending_at = 0;
            queue.direct = None;
            queue.verdict.get_or_insert(RemoteError::LimitExceeded {
                what: "bytes queued for a peer that does not read them".into(),
                limit: self.limit as u64,
            });
        } else if queue.pending.is_empty() {
            queue.pending = frame;
            queue.pending_at = at;
        } else {
            queue.pending.extend_from_slice(&frame[at..]);
        }
    }
}

impl Link for Outbound {
    fn send(&self, frame: OutFrame, _kind: FrameKind) -> Result<(), RemoteError> {
        let OutFrame { buf: frame, start } = frame;
        let mut queue = lock(&self.queue);
        if queue.closed {
            return Err(RemoteError::Disconnected);
        }
        if queue.verdict.is_some() {
            return Ok(());
        }
        let mut at = start;
        let gather = self.gather_on.is_some()
            && tokio::runtime::Handle::try_current().is_ok_and(|h| Some(h.id()) == self.gather_on);
        if !queue.busy && !queue.corked && !gather && queue.pending.is_empty() {
            if let Some(direct) = &queue.direct {
                while at < frame.len() {
                    match direct(&frame[at..]) {
                        Ok(0) => break,
                        Ok(n) => at += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        // Full, or failed: the task finds out which.
                        Err(_) => break,
                    }
                }
                if at == frame.len() {
                    return Ok(());
                }
            }
        }
        let wake = !queue.busy && !queue.corked && queue.pending.is_empty();
        self.queue(&mut queue, frame, at);
        let verdict = queue.verdict.is_some();
        drop(queue);
        if wake || verdict {
            self.wake.notify_one();
        }
        Ok(())
    }

    fn close(&self) {
        {
            let mut queue = lock(&self.queue);
            if queue.closed {
                return;
            }
            queue.closed = true;
            queue.direct = None;
        }
        self.wake.notify_one();
    }
}
