//! Byte payloads as bytes. serde sees a `Vec<u8>` or a `&[u8]` as a sequence
//! of `u8`, which the codec would encode and decode one element at a time
//! (through the decode limits, for each byte). `#[remote_object]` carries
//! such arguments and return values through these wrappers instead:
//!
//! - a value shorter than [`BLOB_MIN`] is one length and one copy, inside
//!   the frame;
//! - a longer one travels beside the frame (see `wire::blob`): written from
//!   its own allocation (an owned `Vec<u8>` is moved there, not copied),
//!   read straight into the allocation the receiver's `Vec<u8>` keeps, and
//!   bounded by `Options::max_value` instead of the frame limit.
//!
//! Either way the payload holds a one-byte tag first, so the receiver
//! knows which it got.

use std::cell::Cell;
use std::fmt;

use serde::de::{Deserialize, Deserializer, Error, SeqAccess, Visitor};
use serde::ser::{Serialize, Serializer};

use crate::context;
use crate::wire::blob::BLOB_MIN;
use crate::wire::Blob;
use crate::SharedBuffer;

/// The enum the wire form is, named for serde.
const NAME: &str = "Bytes";
/// Variant: the bytes follow, in the payload.
const INLINE: u32 = 0;
/// Variant: the bytes travel beside the frame, as blob `u32`.
const BESIDE: u32 = 1;

/// Serializes `bytes`: beside the frame being encoded when they are long
/// and there is one (`take` gives them in an allocation of their own),
/// else inline.
fn serialize<S: Serializer>(
    serializer: S,
    bytes: &[u8],
    take: impl FnOnce() -> Vec<u8>,
) -> Result<S::Ok, S::Error> {
    match beside(bytes.len(), take) {
        Some(index) => serialize_beside(serializer, index),
        None => serialize_inline(serializer, bytes),
    }
}

/// Puts bytes of length `len` beside the frame being encoded, if they are
/// long and there is one.
fn beside(len: usize, take: impl FnOnce() -> Vec<u8>) -> Option<u32> {
    if len >= BLOB_MIN {
        context::attach_blob(|| crate::wire::Blob::new(take()))
    } else {
        None
    }
}

fn serialize_beside<S: Serializer>(serializer: S, index: u32) -> Result<S::Ok, S::Error> {
    serializer.serialize_newtype_variant(NAME, BESIDE, "Beside", &index)
}

fn serialize_inline<S: Serializer>(serializer: S, bytes: &[u8]) -> Result<S::Ok, S::Error> {
    serializer.serialize_newtype_variant(NAME, INLINE, "Inline", &Raw(bytes))
}

/// A slice serialized as serde bytes.
pub(crate) struct Raw<'a>(pub(crate) &'a [u8]);

impl Serialize for Raw<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// Borrowed bytes, serialized as bytes (long ones copied once, beside the
/// frame).
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct AsBytes<'a>(pub &'a [u8]);

impl Serialize for AsBytes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize(serializer, self.0, || self.0.to_vec())
    }
}

/// Owned bytes for sending: long ones move beside the frame, not copied.
/// A value serialized that way is spent: serializing it again fails.
#[doc(hidden)]
#[derive(Default)]
pub struct OwnedBytes(Cell<Option<Owned>>);

/// What an [`OwnedBytes`] holds.
enum Owned {
    Vec(Vec<u8>),
    /// Sent from its own buffer (shared or not): never copied on the way
    /// out.
    Bytes(::bytes::Bytes),
}

impl Owned {
    fn as_slice(&self) -> &[u8] {
        match self {
            Owned::Vec(v) => v,
            Owned::Bytes(b) => b,
        }
    }

    fn into_blob(self) -> Blob {
        match self {
            Owned::Vec(v) => Blob::new(v),
            Owned::Bytes(b) => Blob::frozen(b),
        }
    }
}

impl fmt::Debug for OwnedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OwnedBytes")
    }
}

impl OwnedBytes {
    /// Bytes to send.
    pub fn new(bytes: Vec<u8>) -> Self {
        OwnedBytes(Cell::new(Some(Owned::Vec(bytes))))
    }
}

impl From<Vec<u8>> for OwnedBytes {
    fn from(bytes: Vec<u8>) -> Self {
        OwnedBytes::new(bytes)
    }
}

impl From<::bytes::Bytes> for OwnedBytes {
    /// A long value goes out from the `Bytes`' own buffer, even one shared
    /// with other `Bytes`: no copy.
    fn from(bytes: ::bytes::Bytes) -> Self {
        OwnedBytes(Cell::new(Some(Owned::Bytes(bytes))))
    }
}

impl Serialize for OwnedBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Some(owned) = self.0.take() else {
            return Err(crate::wire::codec::ser_error(
                "these bytes were already sent",
            ));
        };
        let len = owned.as_slice().len();
        let mut slot = Some(owned);
        if len >= BLOB_MIN {
            if let Some(index) = context::attach_blob(|| {
                slot.take()
                    .map_or_else(|| Blob::new(Vec::new()), Owned::into_blob)
            }) {
                return serialize_beside(serializer, index);
            }
        }
        let owned = slot.unwrap_or(Owned::Vec(Vec::new()));
        let out = serialize_inline(serializer, owned.as_slice());
        self.0.set(Some(owned));
        out
    }
}

/// Owned bytes, serialized as bytes and deserialized from either form.
#[doc(hidden)]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ByteBuf(pub Vec<u8>);

impl Serialize for ByteBuf {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize(serializer, &self.0, || self.0.clone())
    }
}

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(rename = "Bytes")]
        enum Wire {
            Inline(Inline),
            Beside(u32),
        }
        match Wire::deserialize(deserializer)? {
            Wire::Inline(Inline(bytes)) => Ok(ByteBuf(bytes)),
            Wire::Beside(index) => context::take_blob(index)
                .map(|blob| ByteBuf(blob.into_vec()))
                .map_err(crate::wire::codec::de_error),
        }
    }
}

/// Bytes inside the payload.
pub(crate) struct Inline(pub(crate) Vec<u8>);

impl<'de> Deserialize<'de> for Inline {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Bytes;
        impl<'de> Visitor<'de> for Bytes {
            type Value = Inline;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte buffer")
            }
            fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Inline, E> {
                Ok(Inline(v.to_vec()))
            }
            fn visit_byte_buf<E: Error>(self, v: Vec<u8>) -> Result<Inline, E> {
                Ok(Inline(v))
            }
            // Formats that have no byte buffers send a sequence.
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Inline, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(Inline(out))
            }
        }
        deserializer.deserialize_byte_buf(Bytes)
    }
}

// ----- shared buffers: always beside the frame in the runtime --------------

/// The wire form: the bytes inline (outside the runtime), or the index of
/// a blob beside the frame.
#[derive(serde::Deserialize)]
#[serde(rename = "SharedBuffer")]
enum Wire {
    Inline(Inline),
    Beside(u32),
}

impl Serialize for SharedBuffer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match context::attach_blob(|| Blob::shared(self.clone())) {
            Some(index) => {
                serializer.serialize_newtype_variant("SharedBuffer", 1, "Beside", &index)
            }
            None => serializer.serialize_newtype_variant(
                "SharedBuffer",
                0,
                "Inline",
                &Raw(self.as_slice()),
            ),
        }
    }
}

impl<'de> Deserialize<'de> for SharedBuffer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Wire::deserialize(deserializer)? {
            Wire::Inline(inline) => Ok(SharedBuffer::new(&inline.0)),
            Wire::Beside(index) => context::take_blob(index)
                .map(Blob::into_shared)
                .map_err(crate::wire::codec::de_error),
        }
    }
}

/// Turns a value as the wire carries it into the type the trait declares
/// (`ByteBuf` into `Vec<u8>` or `bytes::Bytes`, also inside `Result` and
/// `Option`).
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` is carried as bytes by `#[remote_object]`, but it is not `Vec<u8>` or `bytes::Bytes`",
    note = "a type of your own named `Bytes` is taken for `bytes::Bytes`: write its path (`crate::Bytes`) to have it carried as any other serde type"
)]
pub trait FromWire<W> {
    /// The declared value.
    fn from_wire(wire: W) -> Self;
}

impl FromWire<ByteBuf> for Vec<u8> {
    fn from_wire(wire: ByteBuf) -> Self {
        wire.0
    }
}

impl FromWire<Option<ByteBuf>> for Option<Vec<u8>> {
    fn from_wire(wire: Option<ByteBuf>) -> Self {
        wire.map(|b| b.0)
    }
}

impl<E> FromWire<Result<ByteBuf, E>> for Result<Vec<u8>, E> {
    fn from_wire(wire: Result<ByteBuf, E>) -> Self {
        wire.map(|b| b.0)
    }
}

impl FromWire<ByteBuf> for ::bytes::Bytes {
    fn from_wire(wire: ByteBuf) -> Self {
        ::bytes::Bytes::from(wire.0)
    }
}

impl FromWire<Option<ByteBuf>> for Option<::bytes::Bytes> {
    fn from_wire(wire: Option<ByteBuf>) -> Self {
        wire.map(|b| ::bytes::Bytes::from(b.0))
    }
}

impl<E> FromWire<Result<ByteBuf, E>> for Result<::bytes::Bytes, E> {
    fn from_wire(wire: Result<ByteBuf, E>) -> Self {
        wire.map(|b| ::bytes::Bytes::from(b.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{codec, limits::Limits};

    #[test]
    fn short_bytes_travel_inline_and_decode_as_one_value() {
        let data: Vec<u8> = (0..=255u8).cycle().take(BLOB_MIN - 1).collect();
        let mut as_borrowed = Vec::new();
        codec::encode_into(&(AsBytes(&data), 7u32), &mut as_borrowed).unwrap();
        let mut as_owned = Vec::new();
        codec::encode_into(&(OwnedBytes::new(data.clone()), 7u32), &mut as_owned).unwrap();
        assert_eq!(as_borrowed, as_owned);
        // One tag byte, the length, the bytes, the u32.
        assert!(as_borrowed.len() < data.len() + 8);

        let limits = Limits::new(8, 16);
        // Decoded as bytes, through the limits: a buffer of 16 K bytes is
        // one value, not 16 K elements of a collection limited to 16.
        let ((back, n), _) =
            codec::decode_limited::<(ByteBuf, u32)>(&as_borrowed, &limits).unwrap();
        assert_eq!((back.0, n), (data, 7));
    }

    #[test]
    fn long_bytes_outside_the_runtime_are_inline_and_owned_ones_are_not_spent() {
        // No frame is being built (a plain encode): inline, whatever the size.
        let data = vec![5u8; BLOB_MIN * 2];
        let owned = OwnedBytes::new(data.clone());
        let mut once = Vec::new();
        codec::encode_into(&owned, &mut once).unwrap();
        let mut twice = Vec::new();
        codec::encode_into(&owned, &mut twice).unwrap();
        assert_eq!(once, twice);
        let (back, _) = codec::decode::<ByteBuf>(&once).unwrap();
        assert_eq!(back.0, data);
    }

    #[test]
    fn a_blob_index_outside_the_runtime_is_an_error_not_a_panic() {
        let mut beside = Vec::new();
        codec::encode_into(&(BESIDE, 0u32), &mut beside).unwrap();
        let err = codec::decode::<ByteBuf>(&beside).unwrap_err();
        assert!(err.to_string().contains("remote runtime"), "{err}");
    }

    #[test]
    fn a_claimed_length_beyond_the_input_is_an_error_not_an_allocation() {
        let hostile = [0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 9];
        let limits = Limits::new(8, 16);
        assert!(codec::decode_limited::<ByteBuf>(&hostile, &limits).is_err());
    }
}
