//! Byte payloads as bytes. serde sees a `Vec<u8>` or a `&[u8]` as a sequence
//! of `u8`, which the codec would encode and decode one element at a time
//! (through the decode limits, for each byte). `#[remote_object]` carries
//! such arguments and return values through these wrappers instead, which
//! use serde's byte-buffer calls: one length and one copy.
//!
//! The wire form is the same either way (bincode writes a sequence of `u8`
//! as its length and the raw bytes), so a peer built with either form
//! understands the other.

use std::fmt;

use serde::de::{Deserialize, Deserializer, Error, SeqAccess, Visitor};
use serde::ser::{Serialize, Serializer};

/// Borrowed bytes, serialized as one byte buffer.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct AsBytes<'a>(pub &'a [u8]);

impl Serialize for AsBytes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// Owned bytes, serialized and deserialized as one byte buffer.
#[doc(hidden)]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ByteBuf(pub Vec<u8>);

impl Serialize for ByteBuf {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Bytes;
        impl<'de> Visitor<'de> for Bytes {
            type Value = ByteBuf;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte buffer")
            }
            fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v.to_vec()))
            }
            fn visit_byte_buf<E: Error>(self, v: Vec<u8>) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v))
            }
            // Formats that have no byte buffers send a sequence.
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ByteBuf, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(ByteBuf(out))
            }
        }
        deserializer.deserialize_byte_buf(Bytes)
    }
}

/// Turns a value as the wire carries it into the type the trait declares
/// (`ByteBuf` into `Vec<u8>`, also inside `Result` and `Option`).
#[doc(hidden)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{codec, limits::Limits};

    #[test]
    fn bytes_have_the_wire_form_of_a_sequence_of_u8_both_ways() {
        let data: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        let mut as_seq = Vec::new();
        codec::encode_into(&(&data, 7u32), &mut as_seq).unwrap();
        let mut as_bytes = Vec::new();
        codec::encode_into(&(AsBytes(&data), 7u32), &mut as_bytes).unwrap();
        assert_eq!(as_seq, as_bytes);

        let limits = Limits::new(8, 16);
        // Decoded as bytes, through the limits: a 70,000-byte buffer is one
        // value, not 70,000 elements of a collection limited to 16.
        let ((back, n), _) = codec::decode_limited::<(ByteBuf, u32)>(&as_seq, &limits).unwrap();
        assert_eq!((back.0, n), (data.clone(), 7));
        // And the old form still reads what the new one wrote.
        let ((back, _), _) = codec::decode::<(Vec<u8>, u32)>(&as_bytes).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn a_claimed_length_beyond_the_input_is_an_error_not_an_allocation() {
        let hostile = [0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 9];
        let limits = Limits::new(8, 16);
        assert!(codec::decode_limited::<ByteBuf>(&hostile, &limits).is_err());
    }
}
