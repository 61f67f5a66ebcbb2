//! The one error type of the runtime.

use serde::{Deserialize, Serialize};

/// Everything that can go wrong between a proxy and the object it stands for.
///
/// Application errors are *not* folded in here: a trait method that returns
/// `Result<T, E>` reaches the caller as `Ok(Err(e))`, with `e` the very value
/// the server returned (see the crate docs, "Errors"). `RemoteError` only says
/// that the call itself failed: the connection, the handle, the codec, or the
/// server's code panicking.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RemoteError {
    /// The connection is gone (closed by either side, the peer process died, or
    /// the socket broke). Every call pending on it ends with this error.
    #[error("disconnected from the peer")]
    Disconnected,

    /// The owner stopped hearing from this side for longer than its lease and
    /// released everything this side held; the connection is over. Reconnect
    /// to start again.
    #[error("lease expired: the peer heard nothing from us for longer than its lease and released every object we held")]
    LeaseExpired,

    /// The callback's client is gone (disconnected, or its lease expired), so
    /// the callback can never run again. `created_at` is where the client
    /// created it, to find a stale handler.
    #[error("callback closed: its client is gone (the callback was created at {created_at})")]
    CallbackClosed {
        /// `file:line:column` of `Callback::new` in the client's source.
        created_at: String,
    },

    /// The reply did not arrive before the deadline.
    #[error("no reply within the deadline of {millis} ms")]
    Timeout {
        /// The deadline, in milliseconds.
        millis: u64,
    },

    /// The server's access policy does not let this connection reach the
    /// resource.
    #[error("denied: this connection may not reach {resource}")]
    Denied {
        /// What was asked for (`export "name"`, `global "name"`).
        resource: String,
    },

    /// A per-connection limit was reached; the call was refused and the
    /// connection goes on.
    #[error("limit exceeded: at most {limit} {what}")]
    LimitExceeded {
        /// Which limit (`live handles on this connection`, ...).
        what: String,
        /// Its value.
        limit: u64,
    },

    /// The handle names no live object on the owner's side: it was released,
    /// never existed, or belongs to another connection.
    #[error(
        "no such object: handle {id} is not live on this connection (released, or never sent here)"
    )]
    NoSuchObject {
        /// The handle ID that was looked up.
        id: u64,
    },

    /// `require(name)` named nothing the server exported.
    #[error("no such export: the server exported nothing named {name:?}{}", did_you_mean(.closest))]
    NoSuchExport {
        /// The name that was asked for.
        name: String,
        /// The exported name closest to it, when one is close (a typo), and
        /// the server's access policy lets this peer reach it.
        closest: Option<String>,
    },

    /// The object does not have a method with this index: the peer was built
    /// from another version of the trait.
    #[error("no such method: {interface} has no method #{method} (the peer was built from another version of the trait)")]
    NoSuchMethod {
        /// The trait the object implements.
        interface: String,
        /// The method index that was called.
        method: u32,
    },

    /// The two sides were compiled from different versions of a trait (or from
    /// different traits): their signature fingerprints differ.
    #[error("interface mismatch for {what}: expected {expected} (fingerprint {expected_fingerprint:#018x}), found fingerprint {found_fingerprint:#018x}; rebuild both sides from the same trait definition")]
    Mismatch {
        /// What was being resolved (an export name, or "handle N").
        what: String,
        /// The trait the receiving side expected.
        expected: String,
        /// Fingerprint of the expected trait.
        expected_fingerprint: u64,
        /// Fingerprint the other side announced.
        found_fingerprint: u64,
    },

    /// The server's method panicked. The server caught it and keeps serving.
    #[error("the remote method {method} panicked: {message}")]
    Panic {
        /// `Trait::method` that panicked.
        method: String,
        /// The panic message.
        message: String,
    },

    /// A value could not be encoded for the wire.
    #[error("encode error: {0}")]
    Encode(String),

    /// Bytes from the peer could not be decoded as the expected type.
    #[error("decode error: {0}")]
    Decode(String),

    /// A frame exceeded the configured maximum size.
    #[error("frame of {size} bytes exceeds the limit of {limit} bytes")]
    FrameTooLarge {
        /// The size of the offending frame.
        size: u64,
        /// The configured limit.
        limit: u64,
    },

    /// A proxy obtained from one connection was passed through another one.
    /// Handles are meaningful only on the connection that created them.
    #[error(
        "cannot send a proxy of {interface} through a connection other than the one it came from"
    )]
    ForeignProxy {
        /// The trait of the proxy.
        interface: String,
    },

    /// The peer broke the protocol (a malformed frame or an impossible
    /// message); the connection is closed.
    #[error("protocol violation: {0}")]
    Protocol(String),

    /// An I/O error of the transport.
    #[error("transport error: {0}")]
    Io(String),

    /// The caller stopped waiting (it dropped the call's future), so the
    /// server stopped serving the call: the answer of an aborted `async fn`.
    #[error("cancelled: the caller stopped waiting for this call")]
    Cancelled,
}

impl From<std::io::Error> for RemoteError {
    fn from(e: std::io::Error) -> Self {
        use std::io::ErrorKind::*;
        match e.kind() {
            UnexpectedEof | BrokenPipe | ConnectionReset | ConnectionAborted | NotConnected => {
                RemoteError::Disconnected
            }
            _ => RemoteError::Io(e.to_string()),
        }
    }
}

fn did_you_mean(closest: &Option<String>) -> String {
    match closest {
        Some(name) => format!(" (did you mean {name:?}?)"),
        None => String::new(),
    }
}
