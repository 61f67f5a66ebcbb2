//! Sockets the driver writes to from any thread: Unix and TCP streams,
//! written with `MSG_NOSIGNAL` (a peer that went away is an error, never a
//! signal) through tokio's readiness tracking. The connection's task reads
//! through tokio's own read half.

use std::io::{self, IoSlice};
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, Interest};

/// A tokio stream socket, split into a read half for the task and a write
/// half shared with the threads that write to it directly.
pub(crate) trait Sock: AsFd + Send + Sync + Sized + 'static {
    type ReadHalf: AsyncRead + Unpin + Send + 'static;
    type WriteHalf: AsRef<Self> + Send + Sync + 'static;
    fn split(self) -> (Self::ReadHalf, Self::WriteHalf);
    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    fn try_io<R>(&self, interest: Interest, f: impl FnOnce() -> io::Result<R>) -> io::Result<R>;
}

/// Tokio's stream sockets have these as inherent methods.
macro_rules! sock {
    ($($ty:ident in $module:ident),*) => {$(
        impl Sock for tokio::net::$ty {
            type ReadHalf = tokio::net::$module::OwnedReadHalf;
            type WriteHalf = tokio::net::$module::OwnedWriteHalf;
            fn split(self) -> (Self::ReadHalf, Self::WriteHalf) {
                self.into_split()
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

sock!(UnixStream in unix, TcpStream in tcp);

/// Writes what the socket takes now of `bufs`, in order, never waiting.
pub(crate) fn send_now<S: Sock>(sock: &S, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    sock.try_io(Interest::WRITABLE, || {
        socket2::SockRef::from(sock).send_vectored_with_flags(bufs, libc::MSG_NOSIGNAL)
    })
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
        let sock: &S = (*self.0).as_ref();
        loop {
            ready!(sock.poll_write_ready(cx))?;
            match send_now(sock, bufs) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => return Poll::Ready(other),
            }
        }
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
