//! Counts a user can read to see what a connection holds.

use std::time::Duration;

/// What one end of one connection holds right now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionStats {
    /// Who is at the other end (a socket address or "in-process").
    pub peer: String,
    /// Live handles of our objects that the peer holds (distinct objects).
    pub exported: usize,
    /// Distinct peer objects we hold proxies for.
    pub imported: usize,
    /// Our calls still waiting for a reply.
    pub in_flight: usize,
    /// The peer's calls running here now.
    pub serving: usize,
    /// Answers of the peer's calls kept here for calls it pipelines on
    /// them, until it says it will name them no more.
    pub kept_answers: usize,
    /// Whether the connection has ended.
    pub closed: bool,
    /// How long the peer may stay silent before everything it holds of ours
    /// is released.
    pub lease: Duration,
    /// How long until that happens if the peer stays silent from now on.
    pub lease_remaining: Duration,
    /// How often this side renews its own lease with the peer when idle.
    pub renew_every: Duration,
}

/// What a server holds across all its connections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Open connections.
    pub connections: usize,
    /// Live handles all peers hold, summed.
    pub exported: usize,
    /// Proxies the server holds of its clients' objects, summed.
    pub imported: usize,
    /// Calls still running whose caller is gone (its connection closed
    /// while they ran): plain methods cannot be stopped, so they are
    /// counted here until they end.
    pub orphaned_calls: usize,
    /// One entry per open connection.
    pub peers: Vec<SessionStats>,
}
