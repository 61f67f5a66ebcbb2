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

    /// The peer's object does not have this method: the peer was built from
    /// another version of the trait, one without it (added here since, or
    /// removed there). The trait's other methods go on working.
    #[error("no such method: the peer's {interface} has no method `{method}` (the peer was built from a version of the trait without it)")]
    NoSuchMethod {
        /// The trait the object implements.
        interface: String,
        /// The method's name (`#0x…`, its ID, when the caller's build does
        /// not know it either).
        method: String,
    },

    /// The peer has this method, with another signature: the two sides
    /// were built from versions of the trait where it changed. Only this
    /// method is refused; the trait's other methods go on working.
    #[error("method `{method}` of {interface} changed: here `{here}`, there `{there}`{}; give the new signature a new name (or `#[remote(id = N)]`) and keep the old method beside it while old peers remain", changed_hint(.here, .there))]
    MethodChanged {
        /// The trait.
        interface: String,
        /// The method's name.
        method: String,
        /// The signature the caller was built with.
        here: String,
        /// The signature the peer was built with.
        there: String,
    },

    /// A handle is not of the trait this side expected: the object
    /// implements another trait, or the two sides were built from versions
    /// of the trait whose `#[property]` methods differ (a snapshot is decoded
    /// as a whole, so properties are part of the trait's identity; methods
    /// are not, see [`RemoteError::MethodChanged`]).
    #[error("interface mismatch for {what}: expected {expected}, found {}{}", found_name(.found), mismatch_hint(.expected, .found))]
    Mismatch {
        /// What was being resolved (an export name, or "handle N").
        what: String,
        /// The trait the receiving side expected.
        expected: String,
        /// The trait the object implements, when the side that found the
        /// mismatch knows it (empty otherwise).
        found: String,
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
    /// No longer produced: such a proxy is relayed (see the README's
    /// "Passing a proxy on to a third peer"). Kept so that matches written
    /// for earlier versions still compile.
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

    /// A call pipelined on the result of another call (see
    /// [`AsyncCall::pipeline`](crate::AsyncCall::pipeline)) could not be
    /// delivered, although that call succeeded: it answered with no object
    /// the peer owns (a proxy of the caller's own object, passed back), or
    /// the peer kept no more answers. When the call it was pipelined on
    /// failed, a pipelined call fails with that call's error instead.
    #[error("pipelined call not delivered: {reason}")]
    Pipeline {
        /// Why.
        reason: String,
    },

    /// The receiving end of a stream is gone (dropped, or its process
    /// disconnected): the [`Sink`](crate::Sink) can send no more.
    #[error("the stream's receiving end is gone")]
    StreamClosed,

    /// The caller stopped waiting (it dropped the call's future), so the
    /// server stopped serving the call: the answer of an aborted `async fn`.
    #[error("cancelled: the caller stopped waiting for this call")]
    Cancelled,
}

impl RemoteError {
    /// A relayed call failed because the relay's own connection to the
    /// object ended: what the caller behind the relay is told. Its own
    /// lease is not what lapsed, so a lapse reads as a disconnect.
    pub(crate) fn across_relay(self) -> RemoteError {
        match self {
            RemoteError::LeaseExpired => RemoteError::Disconnected,
            other => other,
        }
    }

    /// Why calls pipelined on a call could not run although it succeeded:
    /// it answered with `objects` objects (or, `None`, a proxy of the
    /// caller's own object), not one object of the peer's.
    pub(crate) fn no_pipeline_target(objects: Option<usize>) -> RemoteError {
        let reason = match objects {
            None => "the call it was pipelined on answered with a proxy of the caller's own object: await that call and use what it returns".to_string(),
            Some(0) => "the call it was pipelined on answered with no object (it returned its error)".to_string(),
            Some(n) => format!("the call it was pipelined on answered with {n} objects, not one"),
        };
        RemoteError::Pipeline { reason }
    }
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

fn found_name(found: &str) -> String {
    if found.is_empty() {
        "another trait".to_string()
    } else {
        found.to_string()
    }
}

fn mismatch_hint(expected: &str, found: &str) -> &'static str {
    if expected == found {
        " with other #[property] methods (properties are part of a trait's identity: rebuild both sides with the same ones)"
    } else {
        ""
    }
}

fn changed_hint(here: &str, there: &str) -> &'static str {
    if here == there {
        " (written the same: a type in it changed its fields or variants)"
    } else {
        ""
    }
}
