//! Byte values carried *beside* a frame instead of inside it.
//!
//! A large byte value (a `Vec<u8>` or `&[u8]` argument or return value of at
//! least [`BLOB_MIN`] bytes) is not encoded into the frame's payload: the
//! payload names it by index, and its bytes follow the frame on the stream.
//! The sender writes them from the value's own allocation (vectored writes,
//! no copy into a frame buffer); the receiver reads them straight into the
//! allocation the decoded `Vec<u8>` keeps. In-process, the allocation itself
//! moves. A value this way is bounded by `Options::max_value`, not by
//! `max_frame`, which still bounds every frame.
//!
//! On a byte stream, a frame with blobs has the [`BLOBS`] bit set in its
//! length prefix, and ends with a trailer: each blob's length (`u64`, little
//! endian), then their count (`u32`). Their bytes follow the frame, in order.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::shared::SharedBuffer;
use crate::RemoteError;

/// Byte values at least this long travel beside their frame.
pub(crate) const BLOB_MIN: usize = 16 * 1024;

/// Set in a frame's length prefix when blobs follow it.
pub(crate) const BLOBS: u32 = 1 << 31;

/// The most blobs one frame may carry.
pub(crate) const MAX_BLOBS_PER_FRAME: usize = 4096;

/// Bytes of one trailer entry, and of the trailer's count.
const ENTRY: usize = 8;
const COUNT: usize = 4;

/// One byte value carried beside a frame.
#[derive(Debug)]
pub(crate) struct Blob {
    data: Data,
    /// For a received blob: its share of the connection's budget of bytes
    /// received and not yet taken, given back when the bytes are taken.
    _held: Option<Held>,
}

#[derive(Debug)]
enum Data {
    Bytes(Vec<u8>),
    /// A `bytes::Bytes` being sent, written from its own buffer.
    Frozen(::bytes::Bytes),
    Shared(SharedBuffer),
}

impl Blob {
    /// A blob to send.
    pub(crate) fn new(bytes: Vec<u8>) -> Blob {
        Blob {
            data: Data::Bytes(bytes),
            _held: None,
        }
    }

    /// A `bytes::Bytes` to send, from its own buffer.
    pub(crate) fn frozen(bytes: ::bytes::Bytes) -> Blob {
        Blob {
            data: Data::Frozen(bytes),
            _held: None,
        }
    }

    /// A shared buffer to send (its memory, where the transport can pass
    /// it; else its bytes).
    pub(crate) fn shared(buffer: SharedBuffer) -> Blob {
        Blob {
            data: Data::Shared(buffer),
            _held: None,
        }
    }

    /// A received blob counted against a budget.
    pub(crate) fn received(bytes: Vec<u8>, held: Held) -> Blob {
        Blob {
            data: Data::Bytes(bytes),
            _held: Some(held),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        match &self.data {
            Data::Bytes(bytes) => bytes,
            Data::Frozen(bytes) => bytes,
            Data::Shared(buffer) => buffer.as_slice(),
        }
    }

    /// The shared buffer this blob is, if it is one whose memory a
    /// transport can pass.
    pub(crate) fn passable(&self) -> Option<&SharedBuffer> {
        match &self.data {
            Data::Shared(buffer) if buffer.is_shared_memory() => Some(buffer),
            _ => None,
        }
    }

    /// The bytes, in the allocation they arrived in; the budget they were
    /// counted against gets them back.
    pub(crate) fn into_vec(self) -> Vec<u8> {
        match self.data {
            Data::Bytes(bytes) => bytes,
            Data::Frozen(bytes) => Vec::from(bytes),
            Data::Shared(buffer) => buffer.to_vec(),
        }
    }

    /// The bytes as a shared buffer (received bytes become one without a
    /// copy, in plain memory).
    pub(crate) fn into_shared(self) -> SharedBuffer {
        match self.data {
            Data::Bytes(bytes) => SharedBuffer::from_heap(bytes),
            Data::Frozen(bytes) => SharedBuffer::from_heap(Vec::from(bytes)),
            Data::Shared(buffer) => buffer,
        }
    }
}

/// A count of bytes held against a connection's budget, given back on drop.
#[derive(Debug)]
pub(crate) struct Held {
    budget: Arc<Budget>,
    n: usize,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.n, Ordering::AcqRel);
    }
}

/// The bytes of received blobs one connection may hold before they are
/// taken by the code they were sent to.
#[derive(Debug)]
pub(crate) struct Budget {
    used: AtomicUsize,
    limit: usize,
}

impl Budget {
    pub(crate) fn new(limit: usize) -> Arc<Budget> {
        Arc::new(Budget {
            used: AtomicUsize::new(0),
            limit,
        })
    }

    /// Counts `n` more bytes, or refuses them past the limit.
    pub(crate) fn hold(self: &Arc<Self>, n: usize) -> Result<Held, RemoteError> {
        let mut used = self.used.load(Ordering::Acquire);
        loop {
            if used.saturating_add(n) > self.limit {
                return Err(RemoteError::LimitExceeded {
                    what: "bytes of byte values received and not yet taken".into(),
                    limit: self.limit as u64,
                });
            }
            match self
                .used
                .compare_exchange(used, used + n, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    return Ok(Held {
                        budget: self.clone(),
                        n,
                    })
                }
                Err(now) => used = now,
            }
        }
    }

    /// Bytes held now.
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// Splits a hold of many blobs into one per blob.
    pub(crate) fn split(held: Held, lens: &[usize]) -> Vec<Held> {
        let budget = held.budget.clone();
        // The total moves into the parts; the whole gives nothing back.
        std::mem::forget(held);
        lens.iter()
            .map(|&n| Held {
                budget: budget.clone(),
                n,
            })
            .collect()
    }
}

/// Appends the trailer naming `blobs` to a frame being built; returns its
/// length.
pub(crate) fn write_trailer(buf: &mut Vec<u8>, blobs: &[Blob]) -> usize {
    for blob in blobs {
        buf.extend_from_slice(&(blob.len() as u64).to_le_bytes());
    }
    buf.extend_from_slice(&(blobs.len() as u32).to_le_bytes());
    trailer_len(blobs.len())
}

/// Set in a trailer entry whose blob is a shared buffer's memory, passed
/// as a file descriptor instead of as bytes on the stream.
pub(crate) const PASSED: u64 = 1 << 63;

/// Marks blob `i` of the `n` a built frame's trailer names as passed as a
/// descriptor.
pub(crate) fn mark_passed(frame: &mut [u8], n: usize, i: usize) {
    let at = frame.len() - trailer_len(n) + i * ENTRY + ENTRY - 1;
    frame[at] |= (PASSED >> 56) as u8;
}

/// Bytes of a trailer naming `n` blobs.
pub(crate) fn trailer_len(n: usize) -> usize {
    n * ENTRY + COUNT
}

/// Checks that `blobs` may travel beside one frame.
pub(crate) fn check_send(blobs: &[Blob], max_value: usize) -> Result<(), RemoteError> {
    if blobs.len() > MAX_BLOBS_PER_FRAME {
        return Err(RemoteError::LimitExceeded {
            what: "byte values beside one call or reply".into(),
            limit: MAX_BLOBS_PER_FRAME as u64,
        });
    }
    let total: usize = blobs.iter().map(Blob::len).sum();
    if total > max_value {
        return Err(too_large(total, max_value));
    }
    Ok(())
}

fn too_large(total: usize, max_value: usize) -> RemoteError {
    RemoteError::LimitExceeded {
        what: format!(
            "{total} bytes of byte values in one call or reply (raise Options::max_value on both sides)"
        ),
        limit: max_value as u64,
    }
}

/// One blob a received frame's trailer announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Announced {
    pub(crate) len: usize,
    /// Passed as a descriptor, not as bytes on the stream.
    pub(crate) passed: bool,
}

/// Reads the trailer at the end of a received frame (`frame` is the bytes
/// after the length prefix): the blobs it announces, and how many bytes of
/// the frame the trailer takes. Everything is checked before anything is
/// allocated for the blobs.
pub(crate) fn read_trailer(
    frame: &[u8],
    max_value: usize,
) -> Result<(Vec<Announced>, usize), RemoteError> {
    let bad = |what: String| RemoteError::Protocol(format!("frame with byte values: {what}"));
    let Some(count_at) = frame.len().checked_sub(COUNT) else {
        return Err(bad("no trailer".into()));
    };
    let n = u32::from_le_bytes(frame[count_at..].try_into().expect("4 bytes")) as usize;
    if n == 0 || n > MAX_BLOBS_PER_FRAME {
        return Err(bad(format!(
            "{n} byte values claimed; 1 to {MAX_BLOBS_PER_FRAME} may be"
        )));
    }
    let len = trailer_len(n);
    let Some(entries_at) = frame.len().checked_sub(len) else {
        return Err(bad(format!("{n} byte values claimed in a shorter trailer")));
    };
    let mut lens = Vec::with_capacity(n);
    let mut total = 0usize;
    for entry in frame[entries_at..count_at].chunks_exact(ENTRY) {
        let raw = u64::from_le_bytes(entry.try_into().expect("8 bytes"));
        let len = usize::try_from(raw & !PASSED).unwrap_or(usize::MAX);
        total = total.saturating_add(len);
        if total > max_value {
            return Err(too_large(total, max_value));
        }
        lens.push(Announced {
            len,
            passed: raw & PASSED != 0,
        });
    }
    Ok((lens, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailer_round_trips_and_claims_are_checked_before_allocation() {
        let blobs = vec![Blob::new(vec![1; 10]), Blob::new(vec![2; 300])];
        let mut buf = b"frame".to_vec();
        let n = write_trailer(&mut buf, &blobs);
        assert_eq!(n, buf.len() - 5);
        let plain = |len| Announced { len, passed: false };
        assert_eq!(
            read_trailer(&buf, 1 << 20).unwrap(),
            (vec![plain(10), plain(300)], n)
        );
        // The second marked as passed as a descriptor.
        let mut marked = buf.clone();
        mark_passed(&mut marked, 2, 1);
        assert_eq!(
            read_trailer(&marked, 1 << 20).unwrap().0,
            vec![
                plain(10),
                Announced {
                    len: 300,
                    passed: true
                }
            ]
        );
        // Over the value bound, in total.
        let err = read_trailer(&buf, 309).unwrap_err();
        assert!(
            matches!(err, RemoteError::LimitExceeded { limit: 309, .. }),
            "{err}"
        );
        // A count the frame cannot hold, zero, or past the per-frame bound.
        for claimed in [3u32, 0, MAX_BLOBS_PER_FRAME as u32 + 1, u32::MAX] {
            let mut bad = buf.clone();
            let at = bad.len() - 4;
            bad[at..].copy_from_slice(&claimed.to_le_bytes());
            assert!(read_trailer(&bad, 1 << 20).is_err(), "{claimed}");
        }
        assert!(read_trailer(&[1, 2], 1 << 20).is_err());
        // A length near u64::MAX never overflows the sum.
        let mut huge = Vec::new();
        huge.extend_from_slice(&(u64::MAX >> 1).to_le_bytes());
        huge.extend_from_slice(&(u64::MAX >> 1).to_le_bytes());
        huge.extend_from_slice(&2u32.to_le_bytes());
        assert!(matches!(
            read_trailer(&huge, (u64::MAX >> 1) as usize),
            Err(RemoteError::LimitExceeded { .. })
        ));
    }

    #[test]
    fn held_bytes_come_back_when_blobs_are_taken_or_dropped() {
        let budget = Budget::new(100);
        let held = budget.hold(60).unwrap();
        assert!(budget.hold(41).is_err());
        let mut parts = Budget::split(held, &[20, 40]).into_iter();
        let a = Blob::received(vec![0; 20], parts.next().unwrap());
        let b = Blob::received(vec![0; 40], parts.next().unwrap());
        assert_eq!(budget.used(), 60);
        drop(a.into_vec());
        assert_eq!(budget.used(), 40);
        drop(b);
        assert_eq!(budget.used(), 0);
        assert!(budget.hold(100).is_ok());
    }
}
