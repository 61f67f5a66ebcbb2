//! The value codec. Everything that turns a Rust value into wire bytes and
//! back goes through the two functions of this module, so the format (today
//! bincode 2.x through its serde support) can be swapped in one place.

use serde::{de::DeserializeOwned, Serialize};

use crate::RemoteError;

const CONFIG: bincode::config::Configuration = bincode::config::standard();

/// Appends the encoding of `value` to `buf`.
pub(crate) fn encode_into<T: Serialize + ?Sized>(
    value: &T,
    buf: &mut Vec<u8>,
) -> Result<(), bincode::error::EncodeError> {
    bincode::serde::encode_into_std_write(value, buf, CONFIG).map(|_| ())
}

/// Decodes one value from the front of `bytes` within `limits` (nesting
/// depth, collection sizes); returns it and the number of bytes it took.
pub(crate) fn decode_limited<T: DeserializeOwned>(
    bytes: &[u8],
    limits: &super::limits::Limits,
) -> Result<(T, usize), RemoteError> {
    let seed = super::limits::Limited {
        limits,
        seed: std::marker::PhantomData::<T>,
    };
    bincode::serde::seed_decode_from_slice(seed, bytes, CONFIG).map_err(|e| {
        limits
            .error()
            .unwrap_or_else(|| RemoteError::Decode(e.to_string()))
    })
}

/// Decodes one value from the front of `bytes`; returns it and the number of
/// bytes it took.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<(T, usize), RemoteError> {
    bincode::serde::decode_from_slice(bytes, CONFIG).map_err(|e| RemoteError::Decode(e.to_string()))
}
