//! Settings of a server or client, each with a default a user can rely on.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use crate::wire::FrameKind;

/// What a [`FrameHook`] decides for one outgoing frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send it.
    Send,
    /// Drop it silently, as a lossy or hung peer would.
    Drop,
}

/// Sees every frame a connection is about to send, on the sending thread.
///
/// Meant for tests and diagnostics: counting messages, delaying one frame
/// (by blocking until a condition holds), or dropping frames to play a peer
/// that hangs. Keep it cheap; it runs on every send.
pub trait FrameHook: Send + Sync + 'static {
    /// Called before a frame of `kind` is written.
    fn before_send(&self, kind: FrameKind) -> Verdict;
}

/// Settings of a [`Server`](crate::Server) or [`Client`](crate::Client).
///
/// ```
/// # extern crate remote_runtime as remote;
/// use std::time::Duration;
/// let options = remote::Options::new()
///     .lease(Duration::from_secs(10))
///     .warn_handles(50_000);
/// let server = remote::Server::with_options(options);
/// ```
#[derive(Clone)]
pub struct Options {
    pub(crate) max_frame: usize,
    pub(crate) max_value: usize,
    pub(crate) lease: Duration,
    pub(crate) renew_every: Duration,
    pub(crate) warn_handles: usize,
    pub(crate) hook: Option<Arc<dyn FrameHook>>,
    pub(crate) observer: Option<Arc<dyn crate::observe::CallObserver>>,
    pub(crate) call_timeout: Option<Duration>,
    pub(crate) max_handles: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) max_depth: usize,
    pub(crate) max_collection: usize,
    pub(crate) drain_timeout: Duration,
    pub(crate) runtime: Option<tokio::runtime::Handle>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) connect_back_timeout: Duration,
    pub(crate) min_peer_lease: Duration,
    pub(crate) max_busy_threads: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_frame: crate::DEFAULT_MAX_FRAME,
            max_value: 64 << 20,
            lease: Duration::from_secs(30),
            renew_every: Duration::from_secs(10),
            warn_handles: 10_000,
            hook: None,
            observer: None,
            call_timeout: None,
            max_handles: 1 << 22,
            max_in_flight: 4096,
            max_depth: 128,
            max_collection: 1 << 24,
            drain_timeout: Duration::from_secs(10),
            runtime: None,
            handshake_timeout: Duration::from_secs(10),
            connect_back_timeout: Duration::from_secs(30),
            min_peer_lease: Duration::from_millis(100),
            max_busy_threads: 64,
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("max_frame", &self.max_frame)
            .field("max_value", &self.max_value)
            .field("lease", &self.lease)
            .field("renew_every", &self.renew_every)
            .field("warn_handles", &self.warn_handles)
            .field("hook", &self.hook.is_some())
            .field("observer", &self.observer.is_some())
            .field("call_timeout", &self.call_timeout)
            .field("max_handles", &self.max_handles)
            .field("max_in_flight", &self.max_in_flight)
            .field("max_depth", &self.max_depth)
            .field("max_collection", &self.max_collection)
            .field("drain_timeout", &self.drain_timeout)
            .field("runtime", &self.runtime.is_some())
            .field("handshake_timeout", &self.handshake_timeout)
            .field("connect_back_timeout", &self.connect_back_timeout)
            .field("min_peer_lease", &self.min_peer_lease)
            .field("max_busy_threads", &self.max_busy_threads)
            .finish()
    }
}

impl Options {
    /// The defaults: 16 MiB frames, a 30 s lease, renewal at most every
    /// 10 s, a warning past 10,000 live handles held by one peer.
    pub fn new() -> Self {
        Options::default()
    }

    /// Largest frame accepted or sent, checked before allocating (at most
    /// 2 GiB). Large byte values (`Vec<u8>` and `&[u8]` arguments and
    /// return values) travel beside frames and are bounded by
    /// [`Options::max_value`] instead.
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.max_frame = bytes.clamp(64, crate::wire::MAX_FRAME);
        self
    }

    /// The most bytes of byte values (`Vec<u8>` and `&[u8]` arguments and
    /// return values) one call or one reply may carry, in total. Such
    /// values of 16 KiB or more are not limited by [`Options::max_frame`]:
    /// they travel beside their frame, written from and read into their own
    /// allocation. The receiver checks the claimed size before it allocates
    /// anything; a sender refuses a call or reply past it with
    /// [`RemoteError::LimitExceeded`](crate::RemoteError::LimitExceeded).
    /// Set it on both sides. Default 64 MiB.
    ///
    /// It also sizes two per-connection bounds: bytes queued for a peer
    /// that does not read, and bytes received and not yet taken by the code
    /// they were sent to, are each bounded by twice this (or 64 MiB, or
    /// four frames, whichever is larger).
    pub fn max_value(mut self, bytes: usize) -> Self {
        self.max_value = bytes.max(1);
        self
    }

    /// Bytes that may wait for a peer that does not read, or wait to be
    /// taken after they arrived, on one connection.
    pub(crate) fn queued_bound(&self) -> usize {
        (64usize << 20)
            .max(self.max_frame.saturating_mul(4))
            .max(self.max_value.saturating_mul(2))
    }

    /// How long a peer that holds our objects may stay silent before
    /// everything it held is released and its connection ends with
    /// [`RemoteError::LeaseExpired`](crate::RemoteError::LeaseExpired).
    /// The peer is told this length when the connection opens and renews at
    /// a third of it. A peer busy in a call we are serving is never expired
    /// for that silence. Default 30 s.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(100));
        self
    }

    /// The shortest lease this side accepts from a peer: a peer that
    /// announces less is renewed as if it had announced this, so it cannot
    /// make us send a renewal every millisecond. Default 100 ms, the
    /// shortest lease [`Options::lease`] accepts.
    pub fn min_peer_lease(mut self, floor: Duration) -> Self {
        self.min_peer_lease = floor.max(Duration::from_millis(1));
        self
    }

    /// The most threads serving one connection's calls that may wait on a
    /// nested blocking remote call at once (a method that calls back into
    /// its caller, or into anyone else). Past it such a call fails with
    /// [`RemoteError::LimitExceeded`](crate::RemoteError::LimitExceeded)
    /// instead of taking one more thread: nesting never hangs and never
    /// grows threads without bound. Default 64.
    pub fn max_busy_threads(mut self, limit: usize) -> Self {
        self.max_busy_threads = limit.max(1);
        self
    }

    /// How long a new connection has to introduce itself (its first frame);
    /// one that stays silent longer is closed. Default 10 s.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long a child started by `Server::spawn_child` has to connect
    /// back (call `Client::from_parent()`); past it the child is killed and
    /// `spawn_child` fails. Default 30 s.
    pub fn connect_back_timeout(mut self, timeout: Duration) -> Self {
        self.connect_back_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The longest this side waits between lease renewals when it sends
    /// nothing else (it renews sooner if the peer's lease needs it).
    /// Default 10 s.
    pub fn renew_every(mut self, every: Duration) -> Self {
        self.renew_every = every.max(Duration::from_millis(5));
        self
    }

    /// Logs a `tracing` warning when one peer holds more than this many live
    /// handles of ours, naming the peer, the trait that dominates and the line
    /// of the peer's source that obtained them. Default 10,000.
    pub fn warn_handles(mut self, threshold: usize) -> Self {
        self.warn_handles = threshold.max(1);
        self
    }

    /// A deadline for every call this side makes (blocking or async): past
    /// it the call fails with [`RemoteError::Timeout`](crate::RemoteError::Timeout)
    /// (the peer may still run it). Default: none; a call still ends at once
    /// when the connection does.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = Some(timeout);
        self
    }

    /// How long [`Server::shutdown`](crate::Server::shutdown) waits for calls
    /// already running before it closes anyway. Default 10 s.
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// The tokio runtime this side's connections run on: their tasks (one
    /// per connection), `async fn` methods, and on its blocking pool plain
    /// methods and callbacks. Default: the ambient runtime when the
    /// connection is made inside a multi-thread one, else a small runtime
    /// of the library's own (two worker threads, at most 256 serving
    /// threads, which exist only while calls run), started on first use.
    /// A current-thread runtime is used only when given here; blocking
    /// proxies must then not be called on its thread.
    pub fn runtime(mut self, handle: tokio::runtime::Handle) -> Self {
        self.runtime = Some(handle);
        self
    }

    /// The most live handles of this side's objects (callbacks included)
    /// one peer may hold; past it, a call that would lend one more fails with
    /// [`RemoteError::LimitExceeded`](crate::RemoteError::LimitExceeded).
    /// Default 4,194,304 (about 300 MB of owner-side bookkeeping).
    pub fn max_handles(mut self, limit: usize) -> Self {
        self.max_handles = limit.max(1);
        self
    }

    /// The most calls one peer may have running on this side at once; calls
    /// past it are refused with `LimitExceeded` (the connection goes on).
    /// It also bounds the answers kept for the peer's pipelined calls, and
    /// the pipelined calls waiting on them. Default 4,096.
    pub fn max_in_flight(mut self, limit: usize) -> Self {
        self.max_in_flight = limit.max(1);
        self
    }

    /// The deepest nesting of a value this side decodes (structs, enums,
    /// sequences, maps, options inside one another). Default 128.
    pub fn max_depth(mut self, limit: usize) -> Self {
        self.max_depth = limit.max(1);
        self
    }

    /// The most elements of one sequence or map this side decodes.
    /// Default 16,777,216.
    pub fn max_collection(mut self, limit: usize) -> Self {
        self.max_collection = limit.max(1);
        self
    }

    /// Installs an observer that sees every call made or served on the
    /// connection when it ends: its side, trait, method, peer, latency and
    /// outcome. [`CallMetrics`](crate::observe::CallMetrics) is one that keeps
    /// per-method counts and latencies.
    pub fn observe(mut self, observer: Arc<dyn crate::observe::CallObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Installs a hook that sees every outgoing frame.
    pub fn hook(mut self, hook: Arc<dyn FrameHook>) -> Self {
        self.hook = Some(hook);
        self
    }
}
