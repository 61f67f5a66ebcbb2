//! Framing over a byte stream (Unix socket, TCP): a `u32` length
//! prefix, checked against the limit before anything is allocated.

use std::io::{BufReader, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::Link;
use crate::options::{FrameKind, Options};
use crate::wire::{Frame, PREFIX};
use crate::RemoteError;

/// A socket the stream link can drive.
pub(crate) trait Socket:
    Read + Write + std::os::fd::AsFd + Send + Sync + Sized + 'static
{
    fn try_clone(&self) -> std::io::Result<Self>;
    fn shutdown(&self, how: Shutdown) -> std::io::Result<()>;
    fn set_write_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()>;

    /// Writes what fits in the socket's buffer now, never waiting (the
    /// socket stays blocking for the reader, which shares it).
    fn send_nowait(&self, buf: &[u8]) -> std::io::Result<usize> {
        socket2::SockRef::from(self).send_with_flags(buf, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
    }
}

impl Socket for std::net::TcpStream {
    fn try_clone(&self) -> std::io::Result<Self> {
        std::net::TcpStream::try_clone(self)
    }
    fn shutdown(&self, how: Shutdown) -> std::io::Result<()> {
        std::net::TcpStream::shutdown(self, how)
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        std::net::TcpStream::set_write_timeout(self, timeout)
    }
}

impl Socket for std::os::unix::net::UnixStream {
    fn try_clone(&self) -> std::io::Result<Self> {
        std::os::unix::net::UnixStream::try_clone(self)
    }
    fn shutdown(&self, how: Shutdown) -> std::io::Result<()> {
        std::os::unix::net::UnixStream::shutdown(self, how)
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        std::os::unix::net::UnixStream::set_write_timeout(self, timeout)
    }
}

pub(crate) struct StreamLink<S: Socket> {
    writer: Mutex<S>,
    queue: Mutex<WriteQueue>,
    reader: Mutex<BufReader<S>>,
    /// Set by the reader when more received bytes wait in its buffer: its
    /// replies are then held back and written together before it next
    /// blocks.
    more_buffered: AtomicBool,
    max_frame: usize,
}

/// Frames waiting to be written. One sender at a time writes; frames sent
/// meanwhile are appended here and go out with its next write, in order.
#[derive(Default)]
struct WriteQueue {
    pending: Vec<u8>,
    writing: bool,
    failed: bool,
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

thread_local! {
    /// The link whose reader role this thread holds, as an address.
    static READING: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<S: Socket> StreamLink<S> {
    pub(crate) fn new(socket: S, options: &Options) -> std::io::Result<Self> {
        // A peer that stops reading for a whole lease is hung: a write that
        // cannot finish by then fails and ends the connection, so no sending
        // thread waits on it forever.
        socket.set_write_timeout(Some(options.lease))?;
        let reader = socket.try_clone()?;
        Ok(StreamLink {
            writer: Mutex::new(socket),
            queue: Mutex::default(),
            reader: Mutex::new(BufReader::with_capacity(64 * 1024, reader)),
            more_buffered: AtomicBool::new(false),
            max_frame: options.max_frame,
        })
    }

    fn address(&self) -> usize {
        self as *const Self as usize
    }

    /// Writes `buf`, then whatever was queued meanwhile, until the queue is
    /// empty. The caller has set `writing`. With `wait` it blocks (up to the
    /// socket's write timeout); without, a full socket stops it, `writing`
    /// stays set and the unwritten rest is returned.
    fn drain(&self, mut buf: Vec<u8>, wait: bool) -> Result<Option<Vec<u8>>, RemoteError> {
        loop {
            let mut at = 0;
            while at < buf.len() {
                let sent = {
                    let mut writer = lock(&self.writer);
                    if wait {
                        writer.write(&buf[at..])
                    } else {
                        writer.send_nowait(&buf[at..])
                    }
                };
                match sent {
                    Ok(0) => return Err(self.fail(std::io::ErrorKind::WriteZero.into())),
                    Ok(n) => at += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && !wait => {
                        return Ok(Some(buf.split_off(at)));
                    }
                    Err(e) => return Err(self.fail(e)),
                }
            }
            let mut queue = lock(&self.queue);
            if queue.pending.is_empty() {
                queue.writing = false;
                return Ok(None);
            }
            buf.clear();
            std::mem::swap(&mut buf, &mut queue.pending);
        }
    }

    /// A write failed: nothing more goes out on this link.
    fn fail(&self, error: std::io::Error) -> RemoteError {
        let mut queue = lock(&self.queue);
        queue.failed = true;
        queue.writing = false;
        queue.pending = Vec::new();
        error.into()
    }

    /// Writes what replies the reader held back, unless a writer is at it.
    fn flush_held(&self) -> Result<(), RemoteError> {
        let held = {
            let mut queue = lock(&self.queue);
            if queue.writing || queue.pending.is_empty() || queue.failed {
                return Ok(());
            }
            queue.writing = true;
            std::mem::take(&mut queue.pending)
        };
        self.drain(held, true).map(drop)
    }
}

impl<S: Socket> Link for StreamLink<S> {
    fn try_send(&self, frame: Vec<u8>, kind: FrameKind) -> Result<Option<Vec<u8>>, RemoteError> {
        let hold = kind == FrameKind::Reply
            && READING.with(|r| r.get()) == self.address()
            && self.more_buffered.load(Ordering::Acquire);
        let buf = {
            let mut queue = lock(&self.queue);
            if queue.failed {
                return Err(RemoteError::Disconnected);
            }
            // The reader is writing the replies it held back (or holds this
            // one): it takes this frame along, in order.
            if queue.writing || hold {
                queue.pending.extend_from_slice(&frame);
                return Ok(None);
            }
            queue.writing = true;
            if queue.pending.is_empty() {
                frame
            } else {
                let mut all = std::mem::take(&mut queue.pending);
                all.extend_from_slice(&frame);
                all
            }
        };
        self.drain(buf, false)
    }

    fn finish_send(&self, rest: Vec<u8>) -> Result<(), RemoteError> {
        self.drain(rest, true).map(drop)
    }

    fn send(&self, frame: Vec<u8>, kind: FrameKind) -> Result<(), RemoteError> {
        match self.try_send(frame, kind)? {
            None => Ok(()),
            Some(rest) => self.finish_send(rest),
        }
    }

    fn recv(&self) -> Result<Frame, RemoteError> {
        READING.with(|r| r.set(self.address()));
        let mut r = lock(&self.reader);
        // About to wait for bytes? Then the replies held back while requests
        // were buffered go out first, in one write.
        if !has_whole_frame(r.buffer()) {
            self.more_buffered.store(false, Ordering::Release);
            self.flush_held()?;
        }
        let mut prefix = [0u8; PREFIX];
        r.read_exact(&mut prefix)?;
        let len = u32::from_le_bytes(prefix) as usize;
        if len > self.max_frame {
            return Err(RemoteError::FrameTooLarge {
                size: len as u64,
                limit: self.max_frame as u64,
            });
        }
        let mut buf = vec![0u8; len];
        r.read_exact(&mut buf)?;
        self.more_buffered
            .store(has_whole_frame(r.buffer()), Ordering::Release);
        Ok(Frame { buf, start: 0 })
    }

    fn close(&self) {
        // Shutting down through the writer's handle also wakes a reader
        // blocked on the same socket.
        let w = lock(&self.writer);
        let _ = w.shutdown(Shutdown::Both);
    }
}
