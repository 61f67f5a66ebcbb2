//! The task of a connection over a byte stream (Unix socket, TCP, TLS, or a
//! stream the user brought): frames are a `u32` length prefix and the
//! frame, checked against the limit before anything is allocated.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use super::outbound::{Outbound, SendNow};
use super::relay::Relay;
use super::socket::{send_now, Shared, Sock};
use super::{ConnTask, Wired};
use crate::options::Options;
use crate::wire::{Frame, PREFIX};
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
    let direct: SendNow = Box::new(move |buf: &[u8]| send_now::<S>((*direct).as_ref(), buf));
    wire(reader, Shared::<S>(writer), Some(direct), options, rt)
}

/// Wires any byte stream; only its task writes to it.
pub(crate) fn io<T>(io: T, options: &Options, rt: tokio::runtime::Handle) -> Wired
where
    T: AsyncRead + AsyncWrite + Send + 'static,
{
    let (reader, writer) = tokio::io::split(io);
    wire(reader, writer, None, options, rt)
}

fn wire<R, W>(
    reader: R,
    writer: W,
    direct: Option<SendNow>,
    options: &Options,
    rt: tokio::runtime::Handle,
) -> Wired
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let limit = (64usize << 20).max(options.max_frame.saturating_mul(4));
    let outbound = Arc::new(Outbound::new(direct, limit, &rt));
    let link = outbound.clone();
    let max_frame = options.max_frame;
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
                batch: Vec::new(),
                at: 0,
                progress: Instant::now(),
                flush: false,
                failed: None,
                reading: true,
            });
            let ctx = Ctx {
                outbound,
                max_frame,
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
    /// Bytes taken from the outbound queue, written up to `at`.
    batch: Vec<u8>,
    at: usize,
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
    write_deadline: Duration,
}

type StreamRelay<R, W> = Relay<Box<Io<R, W>>, Ctx>;

async fn run<R, W>(relay: Arc<StreamRelay<R, W>>, mut io: Box<Io<R, W>>)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let outbound = relay.ctx.outbound.clone();
    let write_deadline = relay.ctx.write_deadline;
    // A task that took the connection over starts with the frames already
    // read (the reply its predecessor waits for may be among them).
    let mut got_bytes = io.start < io.inbuf.len();
    // A predecessor may have handed over in the middle of a burst.
    outbound.cork(false);
    let end: Option<RemoteError> = loop {
        if std::mem::take(&mut got_bytes) {
            match deliver(&relay, io) {
                Ok(Some(back)) => io = back,
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
        if io.at == io.batch.len()
            && io.failed.is_none()
            && outbound.take(&mut io.batch, &mut io.at)
        {
            io.progress = Instant::now();
        }
        let writing = io.at < io.batch.len() && io.failed.is_none();
        if io.inbuf.capacity() - io.inbuf.len() < READ_BUF / 2 {
            io.inbuf.reserve(READ_BUF);
        }
        let Io {
            reader,
            writer,
            inbuf,
            start: _,
            batch,
            at,
            progress,
            flush,
            failed,
            reading,
        } = &mut *io;
        tokio::select! {
            read = reader.read_buf(inbuf), if *reading => match read {
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
                    writer.write(&batch[*at..]).await.map(Some)
                } else {
                    writer.flush().await.map(|()| None)
                }
            }, if writing || *flush => match wrote {
                Ok(Some(0)) => {
                    outbound.fail();
                    *failed = Some((std::io::Error::from(std::io::ErrorKind::WriteZero).into(), Instant::now() + LAST_WORD));
                }
                Ok(Some(n)) => {
                    *at += n;
                    *progress = Instant::now();
                    *flush = *at == batch.len();
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
            if io.at < io.batch.len() {
                match io.writer.write(&io.batch[io.at..]).await {
                    Ok(n) if n > 0 => io.at += n,
                    _ => return,
                }
            } else if !outbound.take(&mut io.batch, &mut io.at) {
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

/// Hands every whole frame in the read buffer to the session, one at a
/// time, keeping the rest. Returns the task's state, or `None` when code
/// run for a frame handed the connection to a new task.
fn deliver<R, W>(relay: &Arc<StreamRelay<R, W>>, mut io: Box<Io<R, W>>) -> Delivered<R, W>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    loop {
        let buffered = &io.inbuf[io.start..];
        let Some(prefix) = buffered.get(..PREFIX) else {
            break;
        };
        let len = u32::from_le_bytes(prefix.try_into().expect("4 bytes")) as usize;
        if len > relay.ctx.max_frame {
            let limit = relay.ctx.max_frame as u64;
            return Err((
                io,
                RemoteError::FrameTooLarge {
                    size: len as u64,
                    limit,
                },
            ));
        }
        if buffered.len() - PREFIX < len {
            // Room for the whole frame, read straight into place.
            let more = PREFIX + len - buffered.len();
            io.inbuf.reserve(more);
            break;
        }
        let frame = if len >= TAKE_WHOLE {
            // A large frame is not copied: the read buffer becomes the
            // frame, and what was read after it (little) starts a new one.
            let end = io.start + PREFIX + len;
            let rest = &io.inbuf[end..];
            let mut rest_buf = Vec::with_capacity(READ_BUF.max(rest.len()));
            rest_buf.extend_from_slice(rest);
            let mut buf = std::mem::replace(&mut io.inbuf, rest_buf);
            buf.truncate(end);
            let frame = Frame {
                buf,
                start: io.start + PREFIX,
            };
            io.start = 0;
            frame
        } else {
            let frame = Frame {
                buf: buffered[PREFIX..PREFIX + len].to_vec(),
                start: 0,
            };
            io.start += PREFIX + len;
            frame
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
    let handled = std::mem::take(&mut io.start);
    io.inbuf.drain(..handled);
    if io.inbuf.is_empty() && io.inbuf.capacity() > 16 * READ_BUF {
        io.inbuf = Vec::with_capacity(READ_BUF);
    }
    Ok(Some(io))
}

/// Whether `buffered` starts with a whole frame.
fn has_whole_frame(buffered: &[u8]) -> bool {
    match buffered.get(..PREFIX) {
        Some(prefix) => {
            let len = u32::from_le_bytes(prefix.try_into().expect("4 bytes")) as usize;
            buffered.len() - PREFIX >= len
        }
        None => false,
    }
}
