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

/// Writes the encoding of `value` at the front of `dst`; returns its length,
/// or an error when it does not fit.
pub(crate) fn encode_into_slice<T: Serialize + ?Sized>(
    value: &T,
    dst: &mut [u8],
) -> Result<usize, bincode::error::EncodeError> {
    bincode::serde::encode_into_slice(value, dst, CONFIG)
}

/// Runs `$body` with `$cfg` bound to the codec configuration whose byte
/// limit fits a payload of `$len` bytes: bincode allocates a string's or a
/// buffer's claimed length before reading it, so the claim is checked
/// against a limit proportional to the bytes that are actually there (a
/// decoded value can be larger than its encoding, by less than 16 times).
macro_rules! with_limit_for {
    ($len:expr, |$cfg:ident| $body:expr) => {{
        let budget = ($len as u64).saturating_mul(16);
        if budget <= 1 << 12 {
            let $cfg = CONFIG.with_limit::<{ 1 << 12 }>();
            $body
        } else if budget <= 1 << 16 {
            let $cfg = CONFIG.with_limit::<{ 1 << 16 }>();
            $body
        } else if budget <= 1 << 20 {
            let $cfg = CONFIG.with_limit::<{ 1 << 20 }>();
            $body
        } else if budget <= 1 << 24 {
            let $cfg = CONFIG.with_limit::<{ 1 << 24 }>();
            $body
        } else if budget <= 1 << 28 {
            let $cfg = CONFIG.with_limit::<{ 1 << 28 }>();
            $body
        } else if budget <= 1 << 32 {
            let $cfg = CONFIG.with_limit::<{ 1 << 32 }>();
            $body
        } else {
            let $cfg = CONFIG.with_limit::<{ 1 << 36 }>();
            $body
        }
    }};
}

/// Decodes one value from the front of `bytes` within `limits` (nesting
/// depth, collection sizes, and allocations proportional to the input);
/// returns it and the number of bytes it took.
pub(crate) fn decode_limited<T: DeserializeOwned>(
    bytes: &[u8],
    limits: &super::limits::Limits,
) -> Result<(T, usize), RemoteError> {
    let seed = super::limits::Limited {
        limits,
        seed: std::marker::PhantomData::<T>,
    };
    let decoded = with_limit_for!(bytes.len(), |config| {
        bincode::serde::seed_decode_from_slice(seed, bytes, config)
    });
    decoded.map_err(|e| {
        limits
            .error()
            .unwrap_or_else(|| RemoteError::Decode(e.to_string()))
    })
}

/// Decodes one value from the front of `bytes`, with allocations bounded by
/// the input's size; returns it and the number of bytes it took.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<(T, usize), RemoteError> {
    with_limit_for!(bytes.len(), |config| {
        bincode::serde::decode_from_slice(bytes, config)
    })
    .map_err(|e| RemoteError::Decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claimed_length_beyond_the_input_is_an_error_not_an_allocation() {
        // A string claiming 2^56 bytes, in 10 bytes (found by the fuzzer:
        // it used to abort the process on the allocation).
        let hostile = [0xfd, 0, 0, 0, 0, 0, 0, 0, 1, b'x'];
        assert!(matches!(
            decode::<String>(&hostile),
            Err(RemoteError::Decode(_))
        ));
        let limits = super::super::limits::Limits::new(128, 1 << 20);
        assert!(decode_limited::<(String,)>(&hostile, &limits).is_err());
        assert!(decode_limited::<Vec<u8>>(&hostile, &limits).is_err());
        // Legitimate values still decode.
        let mut buf = Vec::new();
        encode_into(&("hello".to_string(), vec![7u64; 1000]), &mut buf).unwrap();
        let ((s, v), _) = decode::<(String, Vec<u64>)>(&buf).unwrap();
        assert_eq!((s.as_str(), v.len()), ("hello", 1000));
    }
}
