#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// Put on an `impl` of a `#[remote_object]` trait that has `async fn`
/// methods (the trait itself gets it from `#[remote_object]`).
pub use async_trait::async_trait;
pub use remote_macros::remote_object;
pub use remote_runtime::{channel, Blocking};
pub use remote_runtime::{
    Access, AsyncCall, AsyncProxyOf, CallMetrics, CallObserver, CallRecord, Callback, Client,
    CloseGuard, Connection, FrameHook, FrameKind, ListenAddr, Listener, ListenerId, Listeners,
    Message, MethodMetrics, Options, ProcessInfo, Proxy, ProxyOf, Remote, RemoteError, Reply,
    RequireFuture, Server, ServerStats, SessionStats, SharedBuffer, Side, Sink, Stream,
    TrySendError, UnixListener, Verdict, DEFAULT_MAX_FRAME, MAX_HANDLES_PER_FRAME,
    PARENT_SOCKET_ENV,
};

/// The rustls crate used by [`Server::listen_tls`] and
/// [`Client::connect_tls`] (feature `tls`).
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub use remote_runtime::rustls;

pub use remote_runtime::codec;

/// Raw frames for tests and fuzzing. Not a stable API.
#[doc(hidden)]
pub use remote_runtime::testing;

/// What the generated code needs, under paths it can name absolutely. Not a
/// public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use core::any::Any;
    pub use core::clone::Clone;
    pub use core::convert::{From, Into};
    pub use core::fmt;
    pub use core::option::Option::{self, None, Some};
    pub use core::result::Result::{self, Err, Ok};
    pub use std::format;
    pub use std::string::ToString;
    pub use std::sync::{Arc, OnceLock};

    pub use async_trait::async_trait;
    pub use remote_runtime::block_on;
    pub use remote_runtime::{
        encode_snapshot, not_checked, shape_of, signature_check, AsBytes, ByteBuf, Call,
        CallFuture, Dispatch, FromLocal, FromWire, Interface, Method, ObjectRef, OwnedBytes,
        PropertyFuture, Snapshot, Target, SNAPSHOT_METHOD,
    };
    pub use serde;

    /// What a type needs to travel in a remote call: serde both ways. Its
    /// one impl is not looked into when it fails, so a type without the
    /// derives gets one error, this one, on the type.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot travel in a remote call: it does not implement serde's `Serialize` and `Deserialize`",
        label = "add `#[derive(serde::Serialize, serde::Deserialize)]` to `{Self}`",
        note = "arguments and return values are copied to the other process; to pass an object by reference instead, take or return `Remote<dyn Trait>` (its trait needs `#[remote_object]`)"
    )]
    pub trait Wire: serde::Serialize + serde::de::DeserializeOwned {}

    #[diagnostic::do_not_recommend]
    impl<T: serde::Serialize + serde::de::DeserializeOwned> Wire for T {}
}
