//! The protocol core: one connection's state, with no I/O.
//!
//! After quinn-proto's `Connection` and rustls's `ConnectionCommon`: the
//! core takes what happened (a frame received, the time now, a local
//! request) and hands out what to do (frames to send, events to run, the
//! next deadline). It holds no socket, thread, lock or clock, so the
//! deterministic simulator in [`sim`] drives the very code the runtime runs.
//!
//! - [`exports`]: what we lent, with a count of sends per handle;
//! - [`imports`]: what we borrowed, with its receipts and local holders;
//! - [`lease`]: the lease clock;
//! - [`answers`]: kept answers, for calls pipelined on a call's result;
//! - [`budget`]: how many log lines a peer can cause;
//! - [`conn`]: the connection state machine that ties them together.
//!
//! The lifetime protocol these implement is written down in
//! `docs/lifetimes.md`.
//!
//! Imports run one way: `wire` ← `core` ← the driver and the API. Nothing
//! here names a session, a transport or a dispatcher.

pub(crate) mod answers;
pub(crate) mod budget;
pub(crate) mod conn;
pub(crate) mod exports;
pub(crate) mod imports;
pub(crate) mod lease;
#[cfg(test)]
pub(crate) mod sim;

/// What the export table needs of a local object.
pub(crate) trait Exported: Clone {
    /// Its identity as a given trait.
    fn key(&self) -> exports::ObjKey;
    /// The trait's name, for diagnostics.
    fn interface_name(&self) -> &'static str;
    /// Whether calls to it run one at a time in arrival order (callbacks).
    fn ordered(&self) -> bool;
}
