//! [`SharedBuffer`]: immutable bytes that cross processes without a copy.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use super::blob::Held;

/// An immutable byte buffer that crosses processes without being copied.
///
/// Pass it as an argument or return it, like a `Vec<u8>`. What the other
/// side gets depends on the transport:
///
/// | transport | what crosses |
/// | --- | --- |
/// | Unix socket, child process (Linux) | the buffer's memory itself: a sealed `memfd`, passed with `SCM_RIGHTS` and mapped read-only by the receiver |
/// | in-process | the buffer itself (a reference count) |
/// | TCP, TLS, a stream you bring | a copy of the bytes, written from the buffer and read into the receiver's own |
///
/// The memory is sealed against writes, growth and shrinking before it is
/// ever shared, so the seeds' promise still holds with no copy: nothing the
/// receiver does changes the sender's bytes, and nothing the sender (or
/// anyone else holding the memory) does changes the receiver's. A peer that
/// sends memory it did not seal gets its connection closed.
///
/// Making one copies the bytes once, into the memory that will be shared
/// ([`SharedBuffer::new`]); every hand-over after that is free, to any
/// number of processes. Cloning it is cheap. The memory (and, for one
/// received from another process, its file descriptor and mapping) goes
/// when the last clone in this process drops.
///
/// ```
/// # extern crate remote_runtime as remote;
/// let image = remote::SharedBuffer::new(&[7u8; 4096]);
/// assert_eq!(image.len(), 4096);
/// assert_eq!(image[10], 7);
/// let for_a_renderer = image.clone(); // no copy
/// # drop(for_a_renderer);
/// ```
#[derive(Clone)]
pub struct SharedBuffer(Arc<Inner>);

enum Inner {
    /// Plain memory: where sealed memory cannot be made, and what a copying
    /// transport delivers.
    Heap(Vec<u8>),
    /// A sealed memfd, mapped read-only.
    #[cfg(target_os = "linux")]
    Mapped(memfd::Mapped),
}

impl SharedBuffer {
    /// A buffer holding a copy of `bytes`, in memory that can be shared
    /// with other processes (a sealed memfd on Linux; plain memory where
    /// that is not available, which then crosses processes as a copy).
    pub fn new(bytes: &[u8]) -> SharedBuffer {
        #[cfg(target_os = "linux")]
        match memfd::Mapped::create(bytes) {
            Ok(mapped) => return SharedBuffer(Arc::new(Inner::Mapped(mapped))),
            Err(e) => {
                tracing::debug!(error = %e, "no sealed memory for a shared buffer; it will be copied")
            }
        }
        SharedBuffer::from_heap(bytes.to_vec())
    }

    /// A buffer in plain memory (crosses processes as a copy).
    pub(crate) fn from_heap(bytes: Vec<u8>) -> SharedBuffer {
        SharedBuffer(Arc::new(Inner::Heap(bytes)))
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match &*self.0 {
            Inner::Heap(bytes) => bytes,
            #[cfg(target_os = "linux")]
            Inner::Mapped(mapped) => mapped.as_slice(),
        }
    }

    /// Whether the bytes are in memory shared with other processes (sealed
    /// and mapped), rather than plain memory of this process's own.
    pub fn is_shared_memory(&self) -> bool {
        match &*self.0 {
            Inner::Heap(_) => false,
            #[cfg(target_os = "linux")]
            Inner::Mapped(_) => true,
        }
    }

    /// The file descriptor of the sealed memory, for a transport that can
    /// pass it.
    pub(crate) fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        match &*self.0 {
            Inner::Heap(_) => None,
            Inner::Mapped(mapped) => Some(mapped.fd()),
        }
    }

    /// A buffer received as a file descriptor: checked to be sealed memory
    /// of at least `len` bytes, then mapped read-only. `held` counts it
    /// against its connection's bound until it drops.
    #[cfg(target_os = "linux")]
    pub(crate) fn from_fd(
        fd: std::os::fd::OwnedFd,
        len: usize,
        held: Held,
    ) -> Result<SharedBuffer, crate::RemoteError> {
        memfd::Mapped::receive(fd, len, held)
            .map(|mapped| SharedBuffer(Arc::new(Inner::Mapped(mapped))))
    }

    /// Whether two buffers are the same memory (not merely equal bytes).
    pub fn ptr_eq(a: &SharedBuffer, b: &SharedBuffer) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }
}

impl Deref for SharedBuffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for SharedBuffer {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl From<Vec<u8>> for SharedBuffer {
    /// Copies the bytes into shareable memory (see [`SharedBuffer::new`]).
    fn from(bytes: Vec<u8>) -> Self {
        SharedBuffer::new(&bytes)
    }
}

impl From<&[u8]> for SharedBuffer {
    fn from(bytes: &[u8]) -> Self {
        SharedBuffer::new(bytes)
    }
}

impl PartialEq for SharedBuffer {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for SharedBuffer {}

impl fmt::Debug for SharedBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedBuffer")
            .field("len", &self.len())
            .field("shared_memory", &self.is_shared_memory())
            .finish()
    }
}

#[cfg(target_os = "linux")]
mod memfd {
    use std::fs::File;
    use std::io::Write;
    use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

    use rustix::fs::{MemfdFlags, SealFlags};

    use crate::wire::blob::Held;
    use crate::RemoteError;

    /// The seals that make a memfd immutable: no writes, no resizing, and
    /// no removing them.
    const SEALED: SealFlags = SealFlags::WRITE
        .union(SealFlags::SHRINK)
        .union(SealFlags::GROW)
        .union(SealFlags::SEAL);

    /// A sealed memfd and its read-only mapping (none when empty).
    pub(super) struct Mapped {
        map: Option<memmap2::Mmap>,
        fd: OwnedFd,
        _held: Option<Held>,
    }

    impl Mapped {
        /// Copies `bytes` into a new memfd, seals it, and maps it.
        pub(super) fn create(bytes: &[u8]) -> std::io::Result<Mapped> {
            let fd = rustix::fs::memfd_create(
                "remote-shared-buffer",
                MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
            )?;
            let mut file = File::from(fd);
            file.write_all(bytes)?;
            rustix::fs::fcntl_add_seals(&file, SEALED)?;
            let fd = OwnedFd::from(file);
            let map = map_sealed(&fd, bytes.len())?;
            Ok(Mapped {
                map,
                fd,
                _held: None,
            })
        }

        /// Maps a received memfd, after checking it is sealed and long
        /// enough.
        pub(super) fn receive(fd: OwnedFd, len: usize, held: Held) -> Result<Mapped, RemoteError> {
            let bad = |what: String| {
                RemoteError::Protocol(format!("a shared buffer the peer sent: {what}"))
            };
            let seals = rustix::fs::fcntl_get_seals(&fd)
                .map_err(|e| bad(format!("not sealable memory ({e})")))?;
            if !seals.contains(SealFlags::WRITE | SealFlags::SHRINK) {
                return Err(bad(format!(
                    "not sealed against writes and shrinking (seals {seals:?})"
                )));
            }
            let size = rustix::fs::fstat(&fd)
                .map_err(|e| bad(format!("unreadable size ({e})")))?
                .st_size;
            if u64::try_from(size).unwrap_or(0) < len as u64 {
                return Err(bad(format!("{size} bytes where {len} were announced")));
            }
            let map = map_sealed(&fd, len).map_err(|e| bad(format!("cannot be mapped ({e})")))?;
            Ok(Mapped {
                map,
                fd,
                _held: Some(held),
            })
        }

        pub(super) fn as_slice(&self) -> &[u8] {
            self.map.as_deref().unwrap_or(&[])
        }

        pub(super) fn fd(&self) -> BorrowedFd<'_> {
            self.fd.as_fd()
        }
    }

    /// Maps the first `len` bytes of `fd` read-only.
    fn map_sealed(fd: &OwnedFd, len: usize) -> std::io::Result<Option<memmap2::Mmap>> {
        if len == 0 {
            return Ok(None);
        }
        // SAFETY: `Mmap` hands out `&[u8]` over the mapping, which is sound
        // only if its bytes never change and never vanish while mapped. Every
        // caller checked (or set) the seals first: with F_SEAL_WRITE no
        // process can write the memory, not even through a mapping made
        // before (the kernel refuses to add the seal while one exists), and
        // with F_SEAL_SHRINK no process can cut the file short, which would
        // make reading the tail raise SIGBUS. The file is at least `len`
        // bytes long (checked, or written just before).
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::MmapOptions::new().len(len).map(fd)? };
        Ok(Some(map))
    }
}
