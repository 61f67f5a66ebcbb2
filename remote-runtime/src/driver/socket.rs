//! Sockets the driver writes to from any thread: Unix and TCP streams,
//! written with `MSG_NOSIGNAL` (a peer that went away is an error, never a
//! signal) through tokio's readiness tracking. The connection's task reads
//! through tokio's own read half; on a Unix socket, with `recvmsg`, keeping
//! the file descriptors of shared buffers that came with the bytes.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

/// A tokio stream socket, split into a read half for the task and a write
/// half shared with the threads that write to it directly.
pub(crate) trait Sock: AsFd + Send + Sync + Sized + 'static {
    type ReadHalf: ReadParts + Send + 'static;
    type WriteHalf: AsRef<Self> + Send + Sync + 'static;
    /// Whether file descriptors can cross it (shared buffers' memory).
    const FDS: bool;
    fn split(self) -> (Self::ReadHalf, Self::WriteHalf);
    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    fn try_io<R>(&self, interest: Interest, f: impl FnOnce() -> io::Result<R>) -> io::Result<R>;
}

/// Tokio's stream sockets have these as inherent methods.
macro_rules! sock {
    ($($ty:ident in $module:ident reads $read:ty, fds $fds:expr, split $split:expr);*) => {$(
        impl Sock for tokio::net::$ty {
            type ReadHalf = $read;
            type WriteHalf = tokio::net::$module::OwnedWriteHalf;
            const FDS: bool = $fds;
            fn split(self) -> (Self::ReadHalf, Self::WriteHalf) {
                let (read, write) = self.into_split();
                ($split(read), write)
            }
            fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                tokio::net::$ty::poll_write_ready(self, cx)
            }
            fn try_io<R>(&self, interest: Interest, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
                tokio::net::$ty::try_io(self, interest, f)
            }
        }
    )*};
}

sock!(
    UnixStream in unix reads FdReader, fds cfg!(target_os = "linux"), split FdReader::new;
    TcpStream in tcp reads tokio::net::tcp::OwnedReadHalf, fds false, split std::convert::identity
);

/// Writes what the socket takes now of `bufs`, in order, never waiting;
/// `fds` (on a Unix socket) travel with the first byte.
pub(crate) fn send_now<S: Sock>(
    sock: &S,
    bufs: &[IoSlice<'_>],
    fds: &[BorrowedFd<'_>],
) -> io::Result<usize> {
    sock.try_io(Interest::WRITABLE, || {
        if fds.is_empty() {
            socket2::SockRef::from(sock).send_vectored_with_flags(bufs, libc::MSG_NOSIGNAL)
        } else {
            send_fds(sock.as_fd(), bufs, fds)
        }
    })
}

/// `sendmsg` with the descriptors as `SCM_RIGHTS`.
fn send_fds(
    sock: BorrowedFd<'_>,
    bufs: &[IoSlice<'_>],
    fds: &[BorrowedFd<'_>],
) -> io::Result<usize> {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    let mut space =
        [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS_PER_WRITE))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "too many descriptors in one write",
        ));
    }
    rustix::net::sendmsg(
        sock,
        bufs,
        &mut control,
        SendFlags::NOSIGNAL | SendFlags::DONTWAIT,
    )
    .map_err(io::Error::from)
}

/// The most descriptors one write carries (and one read takes).
pub(crate) const MAX_FDS_PER_WRITE: usize = 64;

/// What the connection's task reads from: bytes, and on a Unix socket the
/// descriptors that came with them.
pub(crate) trait ReadParts: AsyncRead + Unpin {
    /// The next descriptor received, in the order they came.
    fn take_fd(&mut self) -> Option<OwnedFd> {
        None
    }
    /// Descriptors received and not yet taken.
    fn queued_fds(&self) -> usize {
        0
    }
    /// Whether descriptors were lost (more sent in one write than a read
    /// takes): the connection can no longer tell which is which.
    fn lost_fds(&self) -> bool {
        false
    }
    /// Reads next only bytes the peer cannot have sent descriptors with
    /// (the rest of a blob), which need no control buffer.
    fn plain(&mut self, _on: bool) {}
}

impl ReadParts for tokio::net::tcp::OwnedReadHalf {}
impl<T: AsyncRead> ReadParts for tokio::io::ReadHalf<T> {}

/// A Unix socket's read half that keeps the descriptors sent with the
/// bytes it reads.
pub(crate) struct FdReader {
    half: tokio::net::unix::OwnedReadHalf,
    fds: VecDeque<OwnedFd>,
    plain: bool,
    lost: bool,
}

impl FdReader {
    fn new(half: tokio::net::unix::OwnedReadHalf) -> FdReader {
        FdReader {
            half,
            fds: VecDeque::new(),
            plain: false,
            lost: false,
        }
    }
}

impl ReadParts for FdReader {
    fn take_fd(&mut self) -> Option<OwnedFd> {
        self.fds.pop_front()
    }
    fn queued_fds(&self) -> usize {
        self.fds.len()
    }
    fn lost_fds(&self) -> bool {
        self.lost
    }
    fn plain(&mut self, on: bool) {
        self.plain = on;
    }
}

impl AsyncRead for FdReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags};
        let this = self.get_mut();
        if this.plain {
            return Pin::new(&mut this.half).poll_read(cx, buf);
        }
        loop {
            ready!(this.half.as_ref().poll_read_ready(cx))?;
            let mut space =
                [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS_PER_WRITE))];
            let mut control = RecvAncillaryBuffer::new(&mut space);
            let sock = this.half.as_ref();
            // recvmsg takes initialized memory: it reads into this thread's
            // scratch buffer, zeroed once, and what came is copied out (for
            // a small frame, a few bytes; zeroing the caller's buffer on
            // every read cost more than the call it carried).
            let got = SCRATCH.with_borrow_mut(|scratch| {
                let want = buf.remaining().min(scratch.len());
                let mut short = None;
                let received = &mut this.fds;
                let queued = received.len();
                let got = sock.try_io(Interest::READABLE, || {
                    let msg = rustix::net::recvmsg(
                        sock,
                        &mut [io::IoSliceMut::new(&mut scratch[..want])],
                        &mut control,
                        RecvFlags::CMSG_CLOEXEC | RecvFlags::DONTWAIT,
                    )
                    .map_err(io::Error::from)?;
                    for message in control.drain() {
                        if let RecvAncillaryMessage::ScmRights(fds) = message {
                            received.extend(fds);
                        }
                    }
                    if msg.bytes > 0 && msg.bytes < want && received.len() == queued {
                        // A short read with no descriptors drained the
                        // socket: saying so clears its readiness, which
                        // saves the read that would only find it empty
                        // (tokio's own reads do this). A read that brought
                        // descriptors stops where they were attached, with
                        // more bytes behind: the socket stays ready.
                        short = Some(msg);
                        return Err(io::ErrorKind::WouldBlock.into());
                    }
                    Ok(msg)
                });
                let got = match (got, short) {
                    (_, Some(msg)) => Ok(msg),
                    (got, None) => got,
                };
                if let Ok(msg) = &got {
                    buf.put_slice(&scratch[..msg.bytes]);
                }
                got
            });
            match got {
                Ok(msg) => {
                    if msg.flags.contains(ReturnFlags::CTRUNC) {
                        this.lost = true;
                    }
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

thread_local! {
    /// Where a Unix socket's bytes are read before they are copied out.
    static SCRATCH: std::cell::RefCell<Box<[u8]>> =
        std::cell::RefCell::new(vec![0u8; 64 * 1024].into_boxed_slice());
}

/// What the connection's task writes to: bytes, and on a Unix socket
/// descriptors with them.
pub(crate) trait WriteParts: AsyncWrite + Unpin {
    /// Writes some of `bufs`; `fds` go with the first byte (only transports
    /// whose [`Sock::FDS`] is set are ever given any).
    fn poll_write_parts(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
        fds: &[BorrowedFd<'_>],
    ) -> Poll<io::Result<usize>>;
}

impl<T: AsyncWrite> WriteParts for tokio::io::WriteHalf<T> {
    fn poll_write_parts(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
        fds: &[BorrowedFd<'_>],
    ) -> Poll<io::Result<usize>> {
        debug_assert!(
            fds.is_empty(),
            "descriptors on a stream that cannot carry them"
        );
        self.poll_write_vectored(cx, bufs)
    }
}

impl<S: Sock> WriteParts for Shared<S> {
    fn poll_write_parts(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
        fds: &[BorrowedFd<'_>],
    ) -> Poll<io::Result<usize>> {
        let sock: &S = (*self.0).as_ref();
        loop {
            ready!(sock.poll_write_ready(cx))?;
            match send_now(sock, bufs, fds) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => return Poll::Ready(other),
            }
        }
    }
}

/// A socket's write half, shared by the connection's task (as an
/// [`AsyncWrite`]) and the threads that write to it directly.
pub(crate) struct Shared<S: Sock>(pub(crate) Arc<S::WriteHalf>);

impl<S: Sock> AsyncWrite for Shared<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_parts(cx, bufs, &[])
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let sock: &S = (*self.0).as_ref();
        let _ = socket2::SockRef::from(sock).shutdown(std::net::Shutdown::Write);
        Poll::Ready(Ok(()))
    }
}
