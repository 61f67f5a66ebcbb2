//! The task of a connection over a byte stream (Unix socket, TCP, TLS, or a
//! stream the user brought): frames are a `u32` length prefix and the
//! frame, checked against the limit before anything is allocated.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use super::outbound::{Outbound, SendNow};
use super::socket::{send_now, Shared, Sock};
use super::{blocking, ConnTask, Wired};
use crate::options::Options;
use crate::session::Keep;
use crate::wire::{Frame, PREFIX};
use crate::RemoteError;

/// What a read buffer starts with, and goes back to once a large frame has
/// passed: an idle connection costs little more than this.
const READ_BUF: usize = 4 * 1024;

/// How long a closing connection may take to write its last frames.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// How long after a failed write the task keeps reading, so the peer's
/// last word (a lease it expired, a goodbye) names why the connection ended.
const LAST_WORD: Duration = Duration::from_millis(200);

/// Wires a Unix or TCP socket: senders write to it directly.
pub(crate) fn socket<S: Sock>(sock: S, options: &Options, rt: tokio::runtime::Handle) -> Wired
where
    Shared<S>: AsyncRead + AsyncWrite,
{
    let sock = Arc::new(sock);
    let direct = sock.clone();
    let direct: SendNow = Box::new(move |buf: &[u8]| send_now(&*direct, buf));
    wire(
        Shared(sock.clone()),
        Shared(sock),
        Some(direct),
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
    let outbound = Arc::new(Outbound::new(direct, limit));
    let link = outbound.clone();
    let max_frame = options.max_frame;
    let deadline = options.lease;
    Wired {
        link,
        rt,
        run: Box::new(move |keep| -> ConnTask {
            Box::pin(run(keep, reader, writer, outbound, max_frame, deadline))
        }),
    }
}

async fn run<R, W>(
    keep: Keep,
    mut reader: R,
    mut writer: W,
    outbound: Arc<Outbound>,
    max_frame: usize,
    write_deadline: Duration,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut inbuf: Vec<u8> = Vec::with_capacity(READ_BUF);
    let mut batch: Vec<u8> = Vec::new();
    let mut at = 0;
    // When the batch being written last made progress.
    let mut progress = Instant::now();
    let mut flush = false;
    // Set once a write failed: the error, and until when to keep reading.
    let mut failed: Option<(RemoteError, Instant)> = None;
    let mut reading = true;
    let end: Option<RemoteError> = loop {
        let (closed, verdict) = outbound.closed();
        if let Some(verdict) = verdict {
            break Some(verdict);
        }
        if closed && failed.is_none() {
            break None;
        }
        if at == batch.len() && failed.is_none() {
            at = 0;
            if outbound.take(&mut batch) {
                progress = Instant::now();
            }
        }
        let writing = at < batch.len() && failed.is_none();
        if inbuf.capacity() - inbuf.len() < READ_BUF / 2 {
            inbuf.reserve(READ_BUF);
        }
        tokio::select! {
            read = reader.read_buf(&mut inbuf), if reading => match read {
                Ok(0) => {
                    reading = false;
                    if failed.is_none() {
                        break Some(RemoteError::Disconnected);
                    }
                }
                Ok(_) => {
                    if let Err(e) = deliver(&keep, &mut inbuf, max_frame) {
                        break Some(e);
                    }
                }
                Err(e) => {
                    reading = false;
                    if failed.is_none() {
                        break Some(e.into());
                    }
                }
            },
            // One write (or, once a batch is out, one flush: TLS may hold
            // records back); both may be cut short and tried again.
            wrote = async {
                if writing {
                    writer.write(&batch[at..]).await.map(Some)
                } else {
                    writer.flush().await.map(|()| None)
                }
            }, if writing || flush => match wrote {
                Ok(Some(0)) => {
                    outbound.fail();
                    failed = Some((std::io::Error::from(std::io::ErrorKind::WriteZero).into(), Instant::now() + LAST_WORD));
                }
                Ok(Some(n)) => {
                    at += n;
                    progress = Instant::now();
                    flush = at == batch.len();
                }
                Ok(None) => flush = false,
                Err(e) => {
                    outbound.fail();
                    failed = Some((e.into(), Instant::now() + LAST_WORD));
                }
            },
            () = outbound.wake.notified(), if !writing => {}
            () = tokio::time::sleep_until(progress + write_deadline), if writing => {
                break Some(RemoteError::Io(format!(
                    "the peer took no bytes for {write_deadline:?} (the write deadline): it is not reading"
                )));
            }
            () = sleep_until_or_never(failed.as_ref().map(|f| f.1)), if failed.is_some() => {
                break failed.take().map(|f| f.0);
            }
        }
        if failed.is_some() && !reading {
            break failed.take().map(|f| f.0);
        }
    };
    if let Some(why) = end {
        if let Some(session) = keep.get() {
            session.close(&why);
        }
    }
    drop(keep);
    // The session queued its last frames (a goodbye, an expired lease)
    // before it closed the link: they go out, within a bound.
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        loop {
            if at < batch.len() {
                match writer.write(&batch[at..]).await {
                    Ok(n) if n > 0 => at += n,
                    _ => return,
                }
            } else {
                at = 0;
                if !outbound.take(&mut batch) {
                    let _ = writer.flush().await;
                    let _ = writer.shutdown().await;
                    return;
                }
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

/// Hands every whole frame in `inbuf` to the session, keeping the rest.
fn deliver(keep: &Keep, inbuf: &mut Vec<u8>, max_frame: usize) -> Result<(), RemoteError> {
    let mut start = 0;
    let result = loop {
        let buffered = &inbuf[start..];
        let Some(prefix) = buffered.get(..PREFIX) else {
            break Ok(());
        };
        let len = u32::from_le_bytes(prefix.try_into().expect("4 bytes")) as usize;
        if len > max_frame {
            break Err(RemoteError::FrameTooLarge {
                size: len as u64,
                limit: max_frame as u64,
            });
        }
        if buffered.len() - PREFIX < len {
            // Room for the whole frame, read straight into place.
            inbuf.reserve(PREFIX + len - buffered.len());
            break Ok(());
        }
        let frame = buffered[PREFIX..PREFIX + len].to_vec();
        start += PREFIX + len;
        let Some(session) = keep.get() else {
            break Err(RemoteError::Disconnected);
        };
        blocking::on_driver(|| {
            session.handle_frame(Frame {
                buf: frame,
                start: 0,
            })
        });
        if session.is_closed() {
            break Ok(());
        }
    };
    inbuf.drain(..start);
    if inbuf.is_empty() && inbuf.capacity() > 16 * READ_BUF {
        *inbuf = Vec::with_capacity(READ_BUF);
    }
    result
}
