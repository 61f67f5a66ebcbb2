//! The value codec. Everything that turns a Rust value into wire bytes and
//! back goes through the functions of this module, which call the [`Codec`]
//! this build was compiled with ([`Active`]): bincode 2.x by default, or
//! postcard with the `postcard` feature (which wins when both are on).
//! Both peers of a connection must use the same one: each names its codec
//! in its `Hello`, and a peer with the other one is refused with an error
//! that says so.

use serde::de::{DeserializeOwned, DeserializeSeed};
use serde::Serialize;

use crate::RemoteError;

thread_local! {
    /// The text of the last serde error the runtime itself raised on this
    /// thread: a codec whose errors carry no text (postcard's say only
    /// "Serde Deserialization Error") reports it instead.
    static MESSAGE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// A deserialization error saying `msg`, whatever the codec.
pub(crate) fn de_error<E: serde::de::Error>(msg: impl std::fmt::Display) -> E {
    let msg = msg.to_string();
    let error = E::custom(&msg);
    MESSAGE.with(|m| *m.borrow_mut() = Some(msg));
    error
}

/// Runs `f` (a shape trace, whose refusals are expected) leaving the
/// message of the encode or decode around it as it was, so a refusal inside
/// `f` is never reported for a later error.
pub(crate) fn keeping_message<R>(f: impl FnOnce() -> R) -> R {
    let saved = MESSAGE.with(|m| m.borrow_mut().take());
    let out = f();
    MESSAGE.with(|m| *m.borrow_mut() = saved);
    out
}

/// A serialization error saying `msg`, whatever the codec.
pub(crate) fn ser_error<E: serde::ser::Error>(msg: impl std::fmt::Display) -> E {
    let msg = msg.to_string();
    let error = E::custom(&msg);
    MESSAGE.with(|m| *m.borrow_mut() = Some(msg));
    error
}

/// Runs one encode or decode, and turns its error into text: the message
/// the runtime raised during it if there is one, else the codec's own.
/// Only postcard needs it (bincode's errors keep their text), so only
/// postcard's calls pay its two thread-local accesses.
#[cfg(feature = "postcard")]
fn with_message<R, E: std::fmt::Display>(run: impl FnOnce() -> Result<R, E>) -> Result<R, String> {
    MESSAGE.with(|m| m.borrow_mut().take());
    run().map_err(|e| {
        MESSAGE
            .with(|m| m.borrow_mut().take())
            .unwrap_or_else(|| e.to_string())
    })
}

/// A serde data format for everything that crosses a connection: frame
/// headers and the values of calls and replies.
///
/// The runtime uses one, [`Active`], chosen when it is compiled: [`Bincode`]
/// (feature `bincode`, the default) or [`Postcard`] (feature `postcard`).
/// Both are compact binary formats without field names, so a struct is
/// encoded by position; see the README's "Versioning" for what that means
/// for changes to a type.
pub trait Codec {
    /// The format's name, for errors.
    const NAME: &'static str;
    /// The byte that names the format in a connection's `Hello`.
    const ID: u8;

    /// Appends the encoding of `value` to `buf`.
    fn encode_into<T: Serialize + ?Sized>(value: &T, buf: &mut Vec<u8>) -> Result<(), String>;

    /// Writes the encoding of `value` at the front of `dst`; returns its
    /// length, or an error when it does not fit.
    fn encode_into_slice<T: Serialize + ?Sized>(value: &T, dst: &mut [u8])
        -> Result<usize, String>;

    /// Decodes one value from the front of `bytes` through `seed`, with
    /// allocations bounded by the size of `bytes`; returns it and the
    /// number of bytes it took.
    fn decode_seed<'de, S: DeserializeSeed<'de>>(
        seed: S,
        bytes: &'de [u8],
    ) -> Result<(S::Value, usize), String>;
}

/// bincode 2.x, standard configuration (variable-length integers). The
/// default.
#[cfg(feature = "bincode")]
#[derive(Debug, Clone, Copy)]
pub struct Bincode;

#[cfg(feature = "bincode")]
const CONFIG: bincode::config::Configuration = bincode::config::standard();

/// Runs `$body` with `$cfg` bound to the bincode configuration whose byte
/// limit fits a payload of `$len` bytes: bincode allocates a string's or a
/// buffer's claimed length before reading it, so the claim is checked
/// against a limit proportional to the bytes that are actually there (a
/// decoded value can be larger than its encoding, by less than 16 times).
#[cfg(feature = "bincode")]
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

#[cfg(feature = "bincode")]
impl Codec for Bincode {
    const NAME: &'static str = "bincode";
    const ID: u8 = 1;

    fn encode_into<T: Serialize + ?Sized>(value: &T, buf: &mut Vec<u8>) -> Result<(), String> {
        bincode::serde::encode_into_std_write(value, buf, CONFIG)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn encode_into_slice<T: Serialize + ?Sized>(
        value: &T,
        dst: &mut [u8],
    ) -> Result<usize, String> {
        bincode::serde::encode_into_slice(value, dst, CONFIG).map_err(|e| e.to_string())
    }

    fn decode_seed<'de, S: DeserializeSeed<'de>>(
        seed: S,
        bytes: &'de [u8],
    ) -> Result<(S::Value, usize), String> {
        with_limit_for!(bytes.len(), |config| {
            bincode::serde::seed_decode_from_slice(seed, bytes, config)
        })
        .map_err(|e| e.to_string())
    }
}

/// postcard 1.x (variable-length integers). Feature `postcard`: a build
/// with `default-features = false, features = ["postcard"]` has no bincode
/// in its tree at all.
#[cfg(feature = "postcard")]
#[derive(Debug, Clone, Copy)]
pub struct Postcard;

#[cfg(feature = "postcard")]
impl Codec for Postcard {
    const NAME: &'static str = "postcard";
    const ID: u8 = 2;

    fn encode_into<T: Serialize + ?Sized>(value: &T, buf: &mut Vec<u8>) -> Result<(), String> {
        with_message(|| postcard::to_io(value, buf).map(|_| ()))
    }

    fn encode_into_slice<T: Serialize + ?Sized>(
        value: &T,
        dst: &mut [u8],
    ) -> Result<usize, String> {
        with_message(|| postcard::to_slice(value, dst).map(|used| used.len()))
    }

    fn decode_seed<'de, S: DeserializeSeed<'de>>(
        seed: S,
        bytes: &'de [u8],
    ) -> Result<(S::Value, usize), String> {
        // postcard checks every claimed length against the bytes left
        // before it allocates, so nothing here is larger than the input
        // (sequences grow with the elements actually read).
        let mut de = postcard::Deserializer::from_bytes(bytes);
        let value = with_message(|| seed.deserialize(&mut de))?;
        let rest = de.finalize().map_err(|e| e.to_string())?;
        Ok((value, bytes.len() - rest.len()))
    }
}

/// The codec this build uses.
#[cfg(feature = "postcard")]
pub type Active = Postcard;

/// The codec this build uses.
#[cfg(all(feature = "bincode", not(feature = "postcard")))]
pub type Active = Bincode;

#[cfg(not(any(feature = "bincode", feature = "postcard")))]
compile_error!("remote needs a codec: enable the `bincode` feature (the default) or `postcard`");

/// Appends the encoding of `value` to `buf`.
pub(crate) fn encode_into<T: Serialize + ?Sized>(
    value: &T,
    buf: &mut Vec<u8>,
) -> Result<(), String> {
    Active::encode_into(value, buf)
}

/// Writes the encoding of `value` at the front of `dst`; returns its length,
/// or an error when it does not fit.
pub(crate) fn encode_into_slice<T: Serialize + ?Sized>(
    value: &T,
    dst: &mut [u8],
) -> Result<usize, String> {
    Active::encode_into_slice(value, dst)
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
    Active::decode_seed(seed, bytes).map_err(|e| limits.error().unwrap_or(RemoteError::Decode(e)))
}

/// Decodes one value from the front of `bytes`, with allocations bounded by
/// the input's size; returns it and the number of bytes it took.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<(T, usize), RemoteError> {
    Active::decode_seed(std::marker::PhantomData::<T>, bytes).map_err(RemoteError::Decode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claimed_length_beyond_the_input_is_an_error_not_an_allocation() {
        // A string claiming 2^56 bytes, in 10 bytes (found by the fuzzer:
        // it used to abort the process on the allocation). In bincode's
        // varint, 0xfd announces a u64; in postcard's, the same bytes are a
        // LEB128 length far past the input. Either way: an error.
        let hostile = [0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, b'x'];
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
        let ((s, v), used) = decode::<(String, Vec<u64>)>(&buf).unwrap();
        assert_eq!((s.as_str(), v.len(), used), ("hello", 1000, buf.len()));
    }

    #[test]
    fn encoding_appends_and_reports_what_it_took() {
        let mut buf = vec![9u8; 3];
        encode_into(&(1u32, "x"), &mut buf).unwrap();
        assert_eq!(&buf[..3], &[9, 9, 9], "what was there stays");
        let ((a, b), used) = decode::<(u32, String)>(&buf[3..]).unwrap();
        assert_eq!((a, b.as_str(), used), (1, "x", buf.len() - 3));
        let mut room = [0u8; 64];
        let n = encode_into_slice(&(1u32, "x"), &mut room).unwrap();
        assert_eq!(&room[..n], &buf[3..]);
        let mut tiny = [0u8; 1];
        assert!(encode_into_slice(&(1u32, "x"), &mut tiny).is_err());
    }
}
