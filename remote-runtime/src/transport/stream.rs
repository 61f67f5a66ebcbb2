//! Framing over a byte stream (Unix socket, TCP): a `u32` length
//! prefix, checked against the limit before anything is allocated.

use std::io::{BufReader, Read, Write};
use std::net::Shutdown;
use std::sync::Mutex;
use std::time::Duration;

use super::Link;
use crate::options::{FrameKind, Options};
use crate::wire::{Frame, PREFIX};
use crate::RemoteError;

/// A socket the stream link can drive.
pub(crate) trait Socket: Read + Write + Send + Sync + Sized + 'static {
    fn try_clone(&self) -> std::io::Result<Self>;
    fn shutdown(&self, how: Shutdown) -> std::io::Result<()>;
    fn set_write_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()>;
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
    reader: Mutex<BufReader<S>>,
    max_frame: usize,
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
            reader: Mutex::new(BufReader::with_capacity(64 * 1024, reader)),
            max_frame: options.max_frame,
        })
    }
}

impl<S: Socket> Link for StreamLink<S> {
    fn send(&self, frame: Vec<u8>, _kind: FrameKind) -> Result<(), RemoteError> {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        w.write_all(&frame)?;
        Ok(())
    }

    fn recv(&self) -> Result<Frame, RemoteError> {
        let mut r = self.reader.lock().unwrap_or_else(|e| e.into_inner());
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
        Ok(Frame { buf, start: 0 })
    }

    fn close(&self) {
        // Shutting down through the writer's handle also wakes a reader
        // blocked on the same socket.
        let w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let _ = w.shutdown(Shutdown::Both);
    }
}
