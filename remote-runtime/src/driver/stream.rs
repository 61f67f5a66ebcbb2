//! The task of a connection over a byte stream (Unix socket, TCP, TLS, or a
//! stream the user brought): frames are a `u32` length prefix and the
//! frame, checked against the limit before anything is allocated.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use super::outbound::{Batch, Outbound, SendNow};
use super::relay::Relay;
use super::socket::{send_now, ReadParts, Shared, Sock, WriteParts};
use super::{ConnTask, Wired};
use crate::options::Options;
use crate::wire::blob::{self, Budget, Held, BLOBS};
use crate::wire::{Blob, Frame, PREFIX};
use crate::RemoteError;

/// What a read buffer starts with, and goes back to once a large frame has
/// passed: an idle connection costs little more than this.
const READ_BUF: usize = 4 * 1024;

/// Frames this large are handed on in the buffer they were read into,
/// instead of being copied out of it.
const TAKE_WHOLE: usize = 64 * 1024;

/// How long a closing connection may take to write its last frames.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// How long after a failed write the task keeps reading, so the peer's
/// last word (a lease it expired, a goodbye) names why the connection ended.
const LAST_WORD: Duration = Duration::from_millis(200);

/// Wires a Unix or TCP socket: senders write to it directly.
pub(crate) fn socket<S: Sock>(sock: S, options: &Options, rt: tokio::runtime::Handle) -> Wired {
    let (reader, writer) = sock.split();
    let writer = Arc::new(writer);
    let direct = writer.clone();
    let direct: SendNow = Box::new(move |bufs, fds| send_now::<S>((*direct).as_ref(), bufs, fds));
    wire(
        reader,
        Shared::<S>(writer),
        Some(direct),
        S::FDS,
        options,
        rt,
    )
}

/// Wires any byte stream; only its task writes to it.
pub(crate) fn io<T>(io: T, options: &Options, rt: tokio::runtime::Handle) -> Wired
where
    T: AsyncRead + AsyncWrite + Send + 'static,
{
    let (reader, writer) = tokio::io::split(io);
    wire(reader, writer, None, false, options, rt)
}

fn wire<R, W>(
    reader: R,
    writer: W,
    direct: Option<SendNow>,
    fds: bool,
    options: &Options,
    rt: tokio::runtime::Handle,
) -> Wired
where
    R: ReadParts + Send + 'static,
    W: WriteParts + Send + 'static,
{
    let limit = options.queued_bound();
    let outbound = Arc::new(Outbound::new(direct, limit, fds, &rt));
    let link = outbound.clone();
    let max_frame = options.max_frame;
    let max_value = options.max_value;
    let write_deadline = options.lease;
    let handle = rt.clone();
    Wired {
        link,
        rt,
        run: Box::new(move |keep| -> ConnTask {
            let io = Box::new(Io {
                reader,
                writer,
                inbuf: Vec::with_capacity(READ_BUF),
                start: 0,
                partial: None,
                batch: Batch::default(),
                progress: Instant::now(),
                flush: false,
                failed: None,
                reading: true,
            });
            let ctx = Ctx {
                outbound,
                max_frame,
                max_value,
                received: Budget::new(limit),
                shared: Budget::new(MAX_SHARED_HELD),
                write_deadline,
            };
            let relay = Relay::new(keep, ctx, handle, |relay, io| Box::pin(run(relay, io)));
            Box::pin(run(relay, io))
        }),
    }
}

/// Everything the connection's task works with, in one box that can move
/// to a new task (see [`Relay`]).
struct Io<R, W> {
    reader: R,
    writer: W,
    inbuf: Vec<u8>,
    /// Where the next frame starts in `inbuf` (handled frames before it go
    /// once a read's frames are all handled).
    start: usize,
    /// A frame whose blobs are being read (straight into their own
    /// allocations, not into `inbuf`).
    partial: Option<Partial>,
    /// Bytes taken from the outbound queue, being written.
    batch: Batch,
    /// When the batch being written last made progress.
    progress: Instant,
    /// A batch went out: flush (TLS may hold records back).
    flush: bool,
    /// Set once a write failed: the error, and until when to keep reading.
    failed: Option<(RemoteError, Instant)>,
    reading: bool,
}

/// What the task needs besides its [`Io`].
struct Ctx {
    outbound: Arc<Outbound>,
    max_frame: usize,
    max_value: usize,
    /// Bytes of blobs received and not yet taken.
    received: Arc<Budget>,
    /// Shared buffers received as descriptors and still alive.
    shared: Arc<Budget>,
    write_deadline: Duration,
}

/// A received frame and the blobs still being read for it.
struct Partial {
    frame: Frame,
    /// Blobs not yet moved into the frame, in order.
    rest: VecDeque<Pending>,
}

enum Pending {
    /// Bytes being read: those so far, the length announced, and their
    /// share of the budget.
    Bytes(Vec<u8>, usize, Held),
    /// A blob that needs no more reading (a shared buffer's memory).
    Ready(Blob),
}

impl Partial {
    /// Moves whole blobs into the frame; the one being filled, if any.
    fn settle(&mut self) -> Option<(&mut Vec<u8>, usize)> {
        loop {
            match self.rest.front() {
                Some(Pending::Bytes(bytes, want, _)) if bytes.len() < *want => break,
                None => break,
                Some(_) => {}
            }
            let blob = match self.rest.pop_front().expect("a front") {
                Pending::Bytes(bytes, _, held) => Blob::received(bytes, held),
                Pending::Ready(blob) => blob,
            };
            self.frame.blobs.push(blob);
        }
        match self.rest.front_mut() {
            Some(Pending::Bytes(bytes, want, _)) => {
                let missing = *want - bytes.len();
                Some((bytes, missing))
            }
            _ => None,
        }
    }

    /// Takes what `buffered` holds of the blobs; returns how much it took.
    fn fill(&mut self, buffered: &[u8]) -> usize {
        let mut took = 0;
        while let Some((bytes, missing)) = self.settle() {
            let n = missing.min(buffered.len() - took);
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&buffered[took..took + n]);
            took += n;
        }
        took
    }
}

type StreamRelay<R, W> = Relay<Box<Io<R, W>>, Ctx>;

async fn run<R, W>(relay: Arc<StreamRelay<R, W>>, mut io: Box<Io<R, W>>)
where
    R: ReadParts + Send + 'static,
    W: WriteParts + Send + 'static,
{
    let outbound = relay.ctx.outbound.clone();
    let write_deadline = relay.ctx.write_deadline;
    // A task that took the connection over starts with the frames already
    // read (the reply its predecessor waits for may be among them).
    let mut got_bytes = io.start < io.inbuf.len() || io.partial.is_some();
    let mut fair = super::FairShare::default();
    // A predecessor may have handed over in the middle of a burst.
    outbound.cork(false);
    let end: Option<RemoteError> = loop {
        if std::mem::take(&mut got_bytes) {
            let started = std::time::Instant::now();
            match deliver(&relay, io) {
                Ok(Some(back)) => {
                    io = back;
                    fair.worked_since(started).await;
                }
                // Another task took the connection over.
                Ok(None) => return,
                Err((back, e)) => {
                    io = back;
                    break Some(e);
                }
            }
        }
        let (closed, verdict) = outbound.closed();
        if let Some(verdict) = verdict {
            break Some(verdict);
        }
        if closed && io.failed.is_none() {
            break None;
        }
        if io.batch.is_empty() && io.failed.is_none() && outbound.take(&mut io.batch) {
            io.progress = Instant::now();
        }
        let writing = !io.batch.is_empty() && io.failed.is_none();
        if io.inbuf.capacity() - io.inbuf.len() < READ_BUF / 2 {
            io.inbuf.reserve(READ_BUF);
        }
        let Io {
            reader,
            writer,
            inbuf,
            start: _,
            partial,
            batch,
            progress,
            flush,
            failed,
            reading,
        } = &mut *io;
        tokio::select! {
            read = read_some(reader, inbuf, partial), if *reading => match read {
                Ok(0) => {
                    *reading = false;
                    if failed.is_none() {
                        break Some(RemoteError::Disconnected);
                    }
                }
                Ok(_) => got_bytes = true,
                Err(e) => {
                    *reading = false;
                    if failed.is_none() {
                        break Some(e.into());
                    }
                }
            },
            // One write (or, once a batch is out, one flush: TLS may hold
            // records back); both may be cut short and tried again.
            wrote = async {
                if writing {
                    let (slices, n, fds) = batch.slices();
                    std::future::poll_fn(|cx| {
                        std::pin::Pin::new(&mut *writer).poll_write_parts(cx, &slices[..n], &fds)
                    })
                    .await
                    .map(Some)
                } else {
                    writer.flush().await.map(|()| None)
                }
            }, if writing || *flush => match wrote {
                Ok(Some(0)) => {
                    outbound.fail();
                    *failed = Some((std::io::Error::from(std::io::ErrorKind::WriteZero).into(), Instant::now() + LAST_WORD));
                }
                Ok(Some(n)) => {
                    batch.advance(n);
                    *progress = Instant::now();
                    *flush = batch.is_empty();
                }
                Ok(None) => *flush = false,
                Err(e) => {
                    outbound.fail();
                    *failed = Some((e.into(), Instant::now() + LAST_WORD));
                }
            },
            () = outbound.wake.notified(), if !writing => {}
            () = tokio::time::sleep_until(*progress + write_deadline), if writing => {
                break Some(RemoteError::Io(format!(
                    "the peer took no bytes for {write_deadline:?} (the write deadline): it is not reading"
                )));
            }
            () = sleep_until_or_never(failed.as_ref().map(|f| f.1)), if failed.is_some() => {
                break failed.take().map(|f| f.0);
            }
        }
        if io.failed.is_some() && !io.reading {
            break io.failed.take().map(|f| f.0);
        }
    };
    if let Some(why) = end {
        if let Some(session) = relay.keep.get() {
            session.close(&why);
        }
    }
    // The session queued its last frames (a goodbye, an expired lease)
    // before it closed the link: they go out, within a bound.
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        loop {
            if !io.batch.is_empty() {
                let (slices, n, fds) = io.batch.slices();
                let writer = &mut io.writer;
                let wrote = std::future::poll_fn(|cx| {
                    std::pin::Pin::new(&mut *writer).poll_write_parts(cx, &slices[..n], &fds)
                })
                .await;
                match wrote {
                    Ok(n) if n > 0 => io.batch.advance(n),
                    _ => return,
                }
            } else if !outbound.take(&mut io.batch) {
                let _ = io.writer.flush().await;
                let _ = io.writer.shutdown().await;
                return;
            }
        }
    })
    .await;
    outbound.fail();
}

async fn sleep_until_or_never(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

type Delivered<R, W> = Result<Option<Box<Io<R, W>>>, (Box<Io<R, W>>, RemoteError)>;

/// Reads what is there: into the blob being filled, if a frame waits for
/// its blobs, else into the read buffer.
async fn read_some<R: ReadParts>(
    reader: &mut R,
    inbuf: &mut Vec<u8>,
    partial: &mut Option<Partial>,
) -> std::io::Result<usize> {
    match partial.as_mut().and_then(Partial::settle) {
        Some((bytes, missing)) => {
            // A blob's bytes: no descriptor comes with them (those come
            // with a frame's first byte). Set on every read, as this future
            // may be dropped before it completes.
            reader.plain(true);
            (&mut *reader).take(missing as u64).read_buf(bytes).await
        }
        None => {
            reader.plain(false);
            reader.read_buf(inbuf).await
        }
    }
}

/// Hands every whole frame in the read buffer to the session, one at a
/// time, keeping the rest. Returns the task's state, or `None` when code
/// run for a frame handed the connection to a new task.
fn deliver<R, W>(relay: &Arc<StreamRelay<R, W>>, mut io: Box<Io<R, W>>) -> Delivered<R, W>
where
    R: ReadParts + Send + 'static,
    W: WriteParts + Send + 'static,
{
    loop {
        let frame = match next_frame(&relay.ctx, &mut io) {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(e) => return Err((io, e)),
        };
        // More calls already read: their answers gather and leave together.
        relay
            .ctx
            .outbound
            .cork(has_whole_frame(&io.inbuf[io.start..]));
        let Some(session) = relay.keep.get() else {
            return Err((io, RemoteError::Disconnected));
        };
        match relay.deliver(io, frame) {
            Some(back) => io = back,
            None => return Ok(None),
        }
        if session.is_closed() {
            break;
        }
    }
    relay.ctx.outbound.cork(false);
    // Descriptors come with the first byte of the frame that names them:
    // once every byte read is handled, any left were sent unasked.
    if io.reader.lost_fds() {
        return Err((
            io,
            RemoteError::Protocol("more descriptors in one write than a read takes".into()),
        ));
    }
    if io.partial.is_none() && io.start == io.inbuf.len() && io.reader.queued_fds() > 0 {
        let n = io.reader.queued_fds();
        return Err((
            io,
            RemoteError::Protocol(format!("{n} file descriptors no frame asked for")),
        ));
    }
    let handled = std::mem::take(&mut io.start);
    io.inbuf.drain(..handled);
    if io.inbuf.is_empty() && io.inbuf.capacity() > 16 * READ_BUF {
        io.inbuf = Vec::with_capacity(READ_BUF);
    }
    Ok(Some(io))
}

/// The next whole frame, its blobs included, or `None` until more is read.
fn next_frame<R: ReadParts, W>(ctx: &Ctx, io: &mut Io<R, W>) -> Result<Option<Frame>, RemoteError> {
    if let Some(partial) = &mut io.partial {
        if partial.settle().is_some() {
            return Ok(None);
        }
        return Ok(io.partial.take().map(|p| p.frame));
    }
    let buffered = &io.inbuf[io.start..];
    let Some(prefix) = buffered.get(..PREFIX) else {
        return Ok(None);
    };
    let raw = u32::from_le_bytes(prefix.try_into().expect("4 bytes"));
    let len = (raw & !BLOBS) as usize;
    if len > ctx.max_frame {
        return Err(RemoteError::FrameTooLarge {
            size: len as u64,
            limit: ctx.max_frame as u64,
        });
    }
    if buffered.len() - PREFIX < len {
        // Room for the whole frame, read straight into place.
        let more = PREFIX + len - buffered.len();
        io.inbuf.reserve(more);
        return Ok(None);
    }
    let mut frame = if len >= TAKE_WHOLE {
        // A large frame is not copied: the read buffer becomes the
        // frame, and what was read after it (little) starts a new one.
        let end = io.start + PREFIX + len;
        let rest = &io.inbuf[end..];
        let mut rest_buf = Vec::with_capacity(READ_BUF.max(rest.len()));
        rest_buf.extend_from_slice(rest);
        let mut buf = std::mem::replace(&mut io.inbuf, rest_buf);
        buf.truncate(end);
        let frame = Frame::new(buf, io.start + PREFIX);
        io.start = 0;
        frame
    } else {
        let frame = Frame::new(buffered[PREFIX..PREFIX + len].to_vec(), 0);
        io.start += PREFIX + len;
        frame
    };
    if raw & BLOBS == 0 {
        return Ok(Some(frame));
    }
    // Blobs follow: their lengths are checked, and counted against the
    // connection's budget, before anything is allocated for them.
    let (announced, trailer) = blob::read_trailer(frame.bytes(), ctx.max_value)?;
    frame.buf.truncate(frame.buf.len() - trailer);
    let bytes: Vec<usize> = announced
        .iter()
        .filter(|a| !a.passed)
        .map(|a| a.len)
        .collect();
    let mut holds = Budget::split(ctx.received.hold(bytes.iter().sum())?, &bytes).into_iter();
    let mut rest = VecDeque::with_capacity(announced.len());
    for a in announced {
        if a.passed {
            rest.push_back(Pending::Ready(receive_shared(ctx, &mut io.reader, a.len)?));
        } else {
            let held = holds.next().expect("one hold per blob of bytes");
            rest.push_back(Pending::Bytes(Vec::with_capacity(a.len), a.len, held));
        }
    }
    let mut partial = Partial { rest, frame };
    io.start += partial.fill(&io.inbuf[io.start..]);
    if partial.settle().is_some() {
        io.partial = Some(partial);
        return Ok(None);
    }
    Ok(Some(partial.frame))
}

/// Shared buffers received as descriptors that one connection may hold
/// alive at once.
pub(crate) const MAX_SHARED_HELD: usize = 256;

/// The shared buffer a frame announces as passed as a descriptor: the next
/// descriptor received, checked and mapped.
fn receive_shared<R: ReadParts>(
    ctx: &Ctx,
    reader: &mut R,
    len: usize,
) -> Result<Blob, RemoteError> {
    let Some(fd) = reader.take_fd() else {
        return Err(RemoteError::Protocol(
            "a frame names a shared buffer whose descriptor did not come with it".into(),
        ));
    };
    let held = ctx.shared.hold(1).map_err(|_| RemoteError::LimitExceeded {
        what: "shared buffers received from one peer and still alive".into(),
        limit: MAX_SHARED_HELD as u64,
    })?;
    #[cfg(target_os = "linux")]
    {
        crate::wire::shared::SharedBuffer::from_fd(fd, len, held).map(Blob::shared)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (fd, len, held);
        Err(RemoteError::Protocol(
            "shared buffers cannot be received as descriptors here".into(),
        ))
    }
}

/// Whether `buffered` starts with a whole frame (with no blobs to read).
fn has_whole_frame(buffered: &[u8]) -> bool {
    match buffered.get(..PREFIX) {
        Some(prefix) => {
            let len = u32::from_le_bytes(prefix.try_into().expect("4 bytes")) as usize;
            buffered.len() - PREFIX >= len
        }
        None => false,
    }
}
