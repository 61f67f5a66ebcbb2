//! A connection's outbound queue, and the [`Link`] sessions write byte
//! streams through.
//!
//! A frame is written straight to the socket by the thread that sent it
//! when nothing is queued ahead of it and the socket takes it whole (the
//! common case: no hop to another thread). Whatever the socket cannot take
//! now is queued, in order, for the connection's task, which writes it as
//! the socket drains. Nothing here ever waits on the peer.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::os::fd::BorrowedFd;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

use super::socket::MAX_FDS_PER_WRITE;
use crate::options::FrameKind;
use crate::transport::Link;
use crate::wire::shared::SharedBuffer;
use crate::wire::{blob, Blob, OutFrame};
use crate::RemoteError;

/// Writes what a socket takes now (of slices, in order, the descriptors
/// with the first byte), never waiting.
pub(crate) type SendNow =
    Box<dyn Fn(&[IoSlice<'_>], &[BorrowedFd<'_>]) -> io::Result<usize> + Send + Sync>;

/// The most slices one vectored write is given.
const SLICES: usize = 64;

/// One buffer of bytes to write, written from `at` on.
#[derive(Debug)]
struct Piece {
    data: Data,
    at: usize,
    /// Shared buffers whose memory goes with this piece's first byte (a
    /// frame that names them), until it is written.
    fds: Vec<SharedBuffer>,
}

#[derive(Debug)]
enum Data {
    /// Frames (a frame that found the queue empty moves in whole, its
    /// unwritten front included; later ones are appended).
    Frames(Vec<u8>),
    /// A byte value beside a frame, written from its own allocation.
    Blob(Blob),
}

impl Piece {
    fn rest(&self) -> &[u8] {
        match &self.data {
            Data::Frames(buf) => &buf[self.at..],
            Data::Blob(blob) => &blob.as_slice()[self.at..],
        }
    }
}

/// Bytes waiting to be written, in order.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pieces: VecDeque<Piece>,
    bytes: usize,
}

impl Batch {
    /// A batch of one frame and its blobs (moved, not copied); with
    /// `fds`, shared buffers go as their memory's descriptors.
    fn of(frame: OutFrame, fds: bool) -> Batch {
        let mut batch = Batch::default();
        batch.append(frame, fds);
        batch
    }

    /// Appends `frame`: small frames gather in one buffer, blobs stay in
    /// their own, and shared buffers' descriptors go with the frame's first
    /// byte (when `fds`), their bytes not at all.
    fn append(&mut self, frame: OutFrame, fds: bool) {
        let OutFrame {
            mut buf,
            start,
            blobs,
        } = frame;
        // Which blobs go as descriptors, by position: the trailer says so
        // for exactly these, and only the others are written as bytes.
        let mut fds_of = Vec::new();
        let mut passed = vec![false; blobs.len()];
        if fds {
            for (i, blob) in blobs.iter().enumerate() {
                if fds_of.len() == MAX_FDS_PER_WRITE {
                    break;
                }
                if let Some(shared) = blob.passable() {
                    blob::mark_passed(&mut buf, blobs.len(), i);
                    passed[i] = true;
                    fds_of.push(shared.clone());
                }
            }
        }
        self.bytes += buf.len() - start;
        self.push(Piece {
            data: Data::Frames(buf),
            at: start,
            fds: fds_of,
        });
        for (blob, passed) in blobs.into_iter().zip(passed) {
            if passed || blob.len() == 0 {
                continue;
            }
            self.bytes += blob.len();
            self.push(Piece {
                data: Data::Blob(blob),
                at: 0,
                fds: Vec::new(),
            });
        }
    }

    /// Adds a piece (its bytes already counted): small frames join the
    /// frames before them in one buffer, so a backlog of small frames goes
    /// out in few writes; a large frame, a blob, or a frame with
    /// descriptors stays a piece of its own.
    fn push(&mut self, piece: Piece) {
        if let (
            Some(Piece {
                data: Data::Frames(last),
                ..
            }),
            Data::Frames(_),
        ) = (self.pieces.back_mut(), &piece.data)
        {
            let rest = piece.rest();
            if rest.len() < 64 * 1024 && piece.fds.is_empty() {
                last.extend_from_slice(rest);
                return;
            }
        }
        self.pieces.push_back(piece);
    }

    /// Moves everything in `other` behind what is here.
    fn extend(&mut self, other: Batch) {
        self.bytes += other.bytes;
        for piece in other.pieces {
            self.push(piece);
        }
    }

    /// Bytes left to write.
    pub(crate) fn len(&self) -> usize {
        self.bytes
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    /// The next bytes to write, as slices for one vectored write, and the
    /// descriptors that go with its first byte. A piece with descriptors
    /// of its own starts a write, so they arrive with its first byte.
    pub(crate) fn slices(&self) -> ([IoSlice<'_>; SLICES], usize, Vec<BorrowedFd<'_>>) {
        let mut out = [IoSlice::new(&[]); SLICES];
        let mut n = 0;
        let mut fds = Vec::new();
        for piece in self.pieces.iter().take(SLICES) {
            if !piece.fds.is_empty() {
                if n > 0 {
                    break;
                }
                fds.extend(piece.fds.iter().filter_map(SharedBuffer::fd));
            }
            out[n] = IoSlice::new(piece.rest());
            n += 1;
        }
        (out, n, fds)
    }

    /// Marks `n` bytes written.
    pub(crate) fn advance(&mut self, mut n: usize) {
        self.bytes -= n;
        if n > 0 {
            if let Some(first) = self.pieces.front_mut() {
                // They went with the first byte.
                first.fds.clear();
            }
        }
        while n > 0 {
            let piece = self.pieces.front_mut().expect("advanced past the batch");
            let left = piece.rest().len();
            if n < left {
                piece.at += n;
                return;
            }
            n -= left;
            self.pieces.pop_front();
        }
        while self.pieces.front().is_some_and(|p| p.rest().is_empty()) {
            self.pieces.pop_front();
        }
    }

    /// Writes what `direct` takes now; false once it took all.
    fn write_now(&mut self, direct: &SendNow) -> bool {
        while !self.is_empty() {
            let (slices, n, fds) = self.slices();
            match direct(&slices[..n], &fds) {
                Ok(0) => break,
                Ok(n) => self.advance(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Full, or failed: the task finds out which.
                Err(_) => break,
            }
        }
        !self.is_empty()
    }

    fn clear(&mut self) {
        *self = Batch::default();
    }
}

/// Frames waiting for the connection's task, and how the link stands.
pub(crate) struct Outbound {
    queue: Mutex<Queue>,
    /// Wakes the task: frames were queued, or the link closed.
    pub(crate) wake: Notify,
    /// The most bytes that may wait here; a peer that lets more pile up is
    /// cut off.
    limit: usize,
    /// Whether shared buffers go as descriptors (a Unix socket).
    fds: bool,
    /// The connection's runtime, when it is a current-thread one: a sender
    /// running on it leaves its frames to the task, which writes them all
    /// once the sender yields (the same thread: no wake-up is lost to it,
    /// and a burst of async calls leaves in one write).
    gather_on: Option<tokio::runtime::Id>,
}

struct Queue {
    /// Bytes waiting.
    pending: Batch,
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
        fds: bool,
        rt: &tokio::runtime::Handle,
    ) -> Outbound {
        let current_thread = rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread;
        Outbound {
            queue: Mutex::new(Queue {
                pending: Batch::default(),
                busy: false,
                closed: false,
                corked: false,
                verdict: None,
                direct,
            }),
            wake: Notify::new(),
            limit,
            fds,
            gather_on: current_thread.then(|| rt.id()),
        }
    }

    /// Moves the queued bytes into `batch` (which the task has written out)
    /// and marks the task busy with them; false when nothing is queued.
    pub(crate) fn take(&self, batch: &mut Batch) -> bool {
        let mut queue = lock(&self.queue);
        batch.clear();
        if queue.pending.is_empty() {
            queue.busy = false;
            return false;
        }
        std::mem::swap(batch, &mut queue.pending);
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
        queue.pending.clear();
        queue.closed = true;
    }

    /// Queues what is left of a frame.
    fn queue(&self, queue: &mut Queue, rest: Batch) {
        if queue.pending.len() + rest.len() > self.limit {
            queue.pending.clear();
            queue.direct = None;
            queue.verdict.get_or_insert(RemoteError::LimitExceeded {
                what: "bytes queued for a peer that does not read them".into(),
                limit: self.limit as u64,
            });
        } else {
            queue.pending.extend(rest);
        }
    }
}

impl Link for Outbound {
    fn send(&self, frame: OutFrame, _kind: FrameKind) -> Result<(), RemoteError> {
        let mut queue = lock(&self.queue);
        if queue.closed {
            return Err(RemoteError::Disconnected);
        }
        if queue.verdict.is_some() {
            return Ok(());
        }
        let gather = self.gather_on.is_some()
            && tokio::runtime::Handle::try_current().is_ok_and(|h| Some(h.id()) == self.gather_on);
        let now = !queue.busy && !queue.corked && !gather && queue.pending.is_empty();
        let mut rest = Batch::of(frame, self.fds);
        if now {
            if let Some(direct) = &queue.direct {
                if !rest.write_now(direct) {
                    return Ok(());
                }
            }
        }
        let wake = !queue.busy && !queue.corked && queue.pending.is_empty();
        self.queue(&mut queue, rest);
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
