//! Runtime of the [`remote`](https://docs.rs/remote) crate: sessions, handle
//! tables, the wire codec and the transports. Users depend on `remote`, which
//! re-exports everything here that they need.

#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod bytes;
mod callback;
mod calls;
mod client;
mod clock;
mod connection;
mod context;
mod diagnostics;
mod dispatch;
mod driver;
mod error;
mod handle;
mod janitor;
mod observe;
mod options;
#[doc(hidden)]
pub use bytes::{AsBytes, ByteBuf, FromWire, OwnedBytes};
mod process;
mod promise;
mod protocol;
mod registry;
mod relay;
mod remote;
mod replies;
mod rt;
mod stream;
#[doc(hidden)]
pub use rt::block_on;
mod serve;
mod server;
mod session;
mod shape;
#[doc(hidden)]
pub use shape::{check as signature_check, shape_of};
mod stats;
#[doc(hidden)]
pub mod testing;
mod timer;
mod transport;
mod wire;

pub use callback::{Callback, CloseGuard, ListenerId, Listeners, Message, Reply};
pub use client::{Client, RequireFuture};
pub use connection::{Access, Connection};
pub use dispatch::{
    encode_snapshot, method_id, not_checked, Call, Dispatch, Method, Snapshot, SNAPSHOT_METHOD,
};
pub use error::RemoteError;
pub use observe::{CallMetrics, CallObserver, CallRecord, MethodMetrics, Side};
pub use options::{FrameHook, FrameKind, Options, Verdict};
pub use process::ProcessInfo;
pub use remote::{
    AsyncCall, AsyncProxyOf, CallFuture, FromLocal, Interface, ObjectRef, PropertyFuture, Proxy,
    ProxyOf, Remote, Target,
};
pub use server::Server;
pub use stats::{ServerStats, SessionStats};
pub use stream::{channel, Blocking, Sink, Stream, TrySendError};
pub use transport::child::PARENT_SOCKET_ENV;
pub use transport::listener::{ListenAddr, Listener};
pub use wire::shared::SharedBuffer;
pub use wire::MAX_HANDLES_PER_FRAME;

/// The serde format of everything that crosses a connection, chosen when
/// `remote` is compiled (features `bincode`, the default, and `postcard`).
pub mod codec {
    #[cfg(feature = "bincode")]
    #[cfg_attr(docsrs, doc(cfg(feature = "bincode")))]
    pub use crate::wire::codec::Bincode;
    #[cfg(feature = "postcard")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postcard")))]
    pub use crate::wire::codec::Postcard;
    pub use crate::wire::codec::{Active, Codec};
}

/// The listener of [`Server::listen_unix`]; see [`Listener`].
pub type UnixListener = Listener;

/// The rustls crate this build uses, for building TLS configurations.
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub use rustls;

/// Default maximum size of one frame: 16 MiB.
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;
