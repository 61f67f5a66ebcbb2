//! The driver: moves frames between a connection's transport and its
//! session, with no thread of its own per connection.
//!
//! - Each connection is one task on a tokio runtime ([`stream`] for byte
//!   streams, [`crate::transport::in_process`] for in-process pairs). It
//!   reads frames and hands them to the session, and writes what the
//!   session queued when the socket could not take it at once.
//! - Frames leave through an [`outbound::Outbound`] queue: the thread that
//!   produced a frame writes it straight to the socket when nothing is
//!   queued ahead of it, and otherwise leaves it to the task. No thread
//!   ever waits on a peer's socket, so a peer that stops reading holds up
//!   nobody but itself; past its write deadline or its queue bound, that
//!   connection alone is closed.
//! - User code never runs on the task: plain methods, callbacks and
//!   property getters run on the runtime's blocking pool ([`blocking`]
//!   says which waits a thread may make there), `async fn` methods as
//!   tasks.

pub(crate) mod blocking;
pub(crate) mod outbound;
pub(crate) mod relay;
pub(crate) mod socket;
pub(crate) mod stream;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::transport::Link;
use crate::wire::Frame;
use crate::RemoteError;

/// The session a connection's task feeds, as the driver sees it.
pub(crate) trait Peer: Send + Sync + 'static {
    /// Handles one frame from the other side.
    fn handle_frame(&self, frame: Frame);
    /// Whether the connection has ended.
    fn is_closed(&self) -> bool;
    /// Ends the connection.
    fn close(&self, why: &RemoteError);
}

/// How a connection's task holds its session: a server's sessions live as
/// long as their connection (the task holds them); a client's live as long
/// as the user holds the client or a proxy (the task only has a weak
/// reference).
#[derive(Clone)]
pub(crate) enum Keep {
    Strong(Arc<dyn Peer>),
    Weak(std::sync::Weak<dyn Peer>),
}

impl Keep {
    pub(crate) fn get(&self) -> Option<Arc<dyn Peer>> {
        match self {
            Keep::Strong(s) => Some(s.clone()),
            Keep::Weak(w) => w.upgrade(),
        }
    }
}

/// A connection's transport, ready to run: the link sessions write to, and
/// the task that reads (started once its session exists).
pub(crate) struct Wired {
    pub(crate) link: Arc<dyn Link>,
    pub(crate) run: Box<dyn FnOnce(Keep) -> ConnTask + Send>,
    pub(crate) rt: tokio::runtime::Handle,
}

/// Lets other tasks run once a connection's task has spent a while
/// handling frames. Calls served inline run on the task, and tokio's
/// cooperative budget counts socket polls, not the work between them: a
/// peer that keeps the socket full of quick calls would otherwise hold a
/// worker thread for 128 reads' worth of calls (a second and more under
/// load) before another connection's task, perhaps one the runtime will not
/// move to the other worker, reads the lease renewal that keeps its peer
/// alive.
#[derive(Default)]
pub(crate) struct FairShare {
    busy: std::time::Duration,
}

impl FairShare {
    /// The most a task handles frames before it yields.
    const SLICE: std::time::Duration = std::time::Duration::from_millis(1);

    /// Counts the time since `started` as work, and yields once it adds up
    /// to a slice.
    pub(crate) async fn worked_since(&mut self, started: std::time::Instant) {
        self.busy += started.elapsed();
        if self.busy >= Self::SLICE {
            self.busy = std::time::Duration::ZERO;
            tokio::task::yield_now().await;
        }
    }
}

/// The future of one connection's task.
pub(crate) type ConnTask = Pin<Box<dyn Future<Output = ()> + Send>>;

impl Wired {
    /// Starts the connection's task for `keep`'s session.
    pub(crate) fn start(self, keep: Keep) {
        let task = (self.run)(keep);
        drop(self.rt.spawn(task));
    }
}
