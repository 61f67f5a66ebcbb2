//! The session: one end of one connection. It ties together the connection's
//! export table (what we lent), import table (what we borrowed), the calls we
//! are waiting on, and the reader that feeds incoming frames to them.
//!
//! Both ends of a connection are sessions of the same kind: a server can call
//! objects a client lent it exactly as a client calls the server.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};
use std::thread::Thread;

use serde::{de::DeserializeOwned, Serialize};

use crate::context::{self, Cap, Encoded};
use crate::dispatch::{panic_message, Call, Dispatch};
use crate::handle::exports::{ExportTable, ObjKey};
use crate::handle::imports::{ImportEntry, ImportTable, Imported};
use crate::registry::Registry;
use crate::stats::SessionStats;
use crate::transport::Link;
use crate::wire::{self, codec, Frame, Header, WireCap};
use crate::{janitor, reader, RemoteError};

/// Settings of one connection.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) max_frame: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame: crate::DEFAULT_MAX_FRAME,
        }
    }
}

/// A reply (or require answer) that arrived, its capabilities accounted for.
pub(crate) struct Incoming {
    frame: Frame,
    payload_at: usize,
    caps: Vec<Cap>,
    ok: bool,
}

enum Waiter {
    Thread(Thread),
    Task(Waker),
}

enum Slot {
    Waiting(Option<Waiter>),
    Done(Result<Incoming, RemoteError>),
}

#[derive(Default)]
struct Pending {
    next_id: u64,
    slots: HashMap<u64, Slot>,
    closed: bool,
}

/// Who keeps a session alive: a server's sessions live as long as their
/// connection (the reader holds them); a client's live as long as the user
/// holds the client or a proxy (the reader only has a weak reference).
#[derive(Clone)]
pub(crate) enum Keep {
    Strong(Arc<Session>),
    Weak(Weak<Session>),
}

impl Keep {
    pub(crate) fn get(&self) -> Option<Arc<Session>> {
        match self {
            Keep::Strong(s) => Some(s.clone()),
            Keep::Weak(w) => w.upgrade(),
        }
    }
}

pub(crate) struct Session {
    pub(crate) peer: String,
    pub(crate) link: Arc<dyn Link>,
    registry: Option<Arc<Registry>>,
    exports: Mutex<ExportTable>,
    imports: Mutex<ImportTable>,
    pending: Mutex<Pending>,
    releases: Mutex<Vec<(u64, u64)>>,
    flushing: Mutex<()>,
    closed: AtomicBool,
    pub(crate) reader_gen: AtomicU64,
    strong_readers: bool,
    pub(crate) limits: Limits,
    weak_self: Weak<Session>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while a table was locked cannot leave it half-updated in a way
    // that matters more than refusing all further service would.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Session {
    /// Creates a session over `link` and starts its reader.
    pub(crate) fn start(
        link: Arc<dyn Link>,
        registry: Option<Arc<Registry>>,
        peer: String,
        strong_readers: bool,
        limits: Limits,
    ) -> Arc<Session> {
        let session = Arc::new_cyclic(|weak_self| Session {
            peer,
            link,
            registry,
            exports: Mutex::default(),
            imports: Mutex::default(),
            pending: Mutex::default(),
            releases: Mutex::default(),
            flushing: Mutex::default(),
            closed: AtomicBool::new(false),
            reader_gen: AtomicU64::new(0),
            strong_readers,
            limits,
            weak_self: weak_self.clone(),
        });
        session.spawn_reader(0);
        session
    }

    pub(crate) fn spawn_reader(&self, generation: u64) {
        let keep = if self.strong_readers {
            Keep::Strong(self.weak_self.upgrade().expect("session alive"))
        } else {
            Keep::Weak(self.weak_self.clone())
        };
        reader::spawn(self.link.clone(), keep, generation, self.weak_self.clone());
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    // ----- sending ---------------------------------------------------------

    fn send(&self, frame: Vec<u8>) -> Result<(), RemoteError> {
        if self.is_closed() {
            return Err(RemoteError::Disconnected);
        }
        self.link.send(frame).inspect_err(|e| self.close(e))
    }

    /// Records one send of a local object on this connection (see
    /// [`ExportTable::send`]).
    pub(crate) fn count_send(&self, key: ObjKey, make: impl FnOnce() -> Arc<dyn Dispatch>) -> u64 {
        lock(&self.exports).send(key, make)
    }

    /// Undoes sends that never left (the frame failed to encode or send).
    pub(crate) fn uncount(&self, ids: &[u64]) {
        if ids.is_empty() {
            return;
        }
        let dropped: Vec<_> = {
            let mut exports = lock(&self.exports);
            ids.iter().filter_map(|&id| exports.unsend(id)).collect()
        };
        drop(dropped);
    }

    fn register(&self) -> Result<u64, RemoteError> {
        let mut pending = lock(&self.pending);
        if pending.closed {
            return Err(RemoteError::Disconnected);
        }
        pending.next_id += 1;
        let id = pending.next_id;
        pending.slots.insert(id, Slot::Waiting(None));
        Ok(id)
    }

    /// Encodes and sends a call; returns its ID for [`Session::wait`] or
    /// [`Session::poll_reply`].
    pub(crate) fn start_call<A: Serialize + ?Sized>(
        self: &Arc<Self>,
        object: u64,
        method: u32,
        args: &A,
    ) -> Result<u64, RemoteError> {
        if self.is_closed() {
            return Err(RemoteError::Disconnected);
        }
        let encoded = context::encode(self, args)?;
        let id = self.register()?;
        let header = Header::Call {
            id,
            object,
            method,
            caps: encoded.caps,
        };
        let sent = wire::build_frame(&header, &encoded.payload, self.limits.max_frame)
            .and_then(|frame| self.send(frame));
        if let Err(e) = sent {
            self.cancel(id);
            self.uncount(&encoded.counted);
            return Err(e);
        }
        Ok(id)
    }

    /// Sends a require for `name`; returns the ID to wait on.
    pub(crate) fn start_require(
        &self,
        name: &str,
        interface: &str,
        fingerprint: u64,
    ) -> Result<u64, RemoteError> {
        let id = self.register()?;
        let header = Header::Require {
            id,
            name: name.to_string(),
            interface: interface.to_string(),
            fingerprint,
        };
        let sent =
            wire::build_frame(&header, &[], self.limits.max_frame).and_then(|f| self.send(f));
        if let Err(e) = sent {
            self.cancel(id);
            return Err(e);
        }
        Ok(id)
    }

    /// Sends queued releases now, then waits until the peer has handled
    /// everything this side sent so far.
    pub(crate) fn sync(&self) -> Result<(), RemoteError> {
        self.flush_releases();
        let id = self.register()?;
        let sent = wire::build_frame(&Header::Ping { id }, &[], self.limits.max_frame)
            .and_then(|f| self.send(f));
        if let Err(e) = sent {
            self.cancel(id);
            return Err(e);
        }
        self.wait(id).map(drop)
    }

    // ----- waiting ---------------------------------------------------------

    /// Blocks the calling thread until reply `id` arrives or the connection
    /// ends.
    pub(crate) fn wait(&self, id: u64) -> Result<Incoming, RemoteError> {
        reader::before_blocking();
        loop {
            {
                let mut pending = lock(&self.pending);
                match pending.slots.get_mut(&id) {
                    Some(Slot::Done(_)) => match pending.slots.remove(&id) {
                        Some(Slot::Done(result)) => return result,
                        _ => unreachable!("slot checked above"),
                    },
                    Some(Slot::Waiting(waiter)) => {
                        if waiter.is_none() {
                            *waiter = Some(Waiter::Thread(std::thread::current()));
                        }
                    }
                    None => return Err(RemoteError::Disconnected),
                }
            }
            std::thread::park();
        }
    }

    /// Polls for reply `id` from an async context.
    pub(crate) fn poll_reply(
        &self,
        id: u64,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Incoming, RemoteError>> {
        let mut pending = lock(&self.pending);
        match pending.slots.get_mut(&id) {
            Some(Slot::Done(_)) => match pending.slots.remove(&id) {
                Some(Slot::Done(result)) => Poll::Ready(result),
                _ => unreachable!("slot checked above"),
            },
            Some(Slot::Waiting(waiter)) => {
                match waiter {
                    Some(Waiter::Task(w)) if w.will_wake(cx.waker()) => {}
                    _ => *waiter = Some(Waiter::Task(cx.waker().clone())),
                }
                Poll::Pending
            }
            None => Poll::Ready(Err(RemoteError::Disconnected)),
        }
    }

    /// Gives up waiting for `id`; a reply that still arrives is dropped (and
    /// the handles it carried are released).
    pub(crate) fn cancel(&self, id: u64) {
        let slot = lock(&self.pending).slots.remove(&id);
        drop(slot);
    }

    fn complete(&self, id: u64, result: Result<Incoming, RemoteError>) {
        let waiter = {
            let mut pending = lock(&self.pending);
            match pending.slots.get_mut(&id) {
                Some(slot @ Slot::Waiting(_)) => {
                    match std::mem::replace(slot, Slot::Done(result)) {
                        Slot::Waiting(w) => w,
                        Slot::Done(_) => unreachable!("slot checked above"),
                    }
                }
                // Cancelled (a dropped future): the result, and any handle it
                // carries, is dropped here, after the lock.
                _ => {
                    drop(pending);
                    tracing::trace!(id, "reply for a call nobody waits on");
                    return;
                }
            }
        };
        wake(waiter);
    }

    /// Turns a reply into the caller's value or error.
    pub(crate) fn decode_reply<R: DeserializeOwned>(
        &self,
        incoming: Incoming,
    ) -> Result<R, RemoteError> {
        let payload = &incoming.frame.buf[incoming.payload_at..];
        if incoming.ok {
            context::decode(incoming.caps, payload)
        } else {
            match codec::decode::<RemoteError>(payload) {
                Ok((e, _)) => Err(e),
                Err(e) => Err(RemoteError::Protocol(format!(
                    "unreadable error reply: {e}"
                ))),
            }
        }
    }

    /// The single handle a require answer carries.
    pub(crate) fn require_reply(
        &self,
        incoming: Incoming,
    ) -> Result<Arc<ImportEntry>, RemoteError> {
        if !incoming.ok {
            return Err(match self.decode_reply::<()>(incoming) {
                Err(e) => e,
                Ok(()) => RemoteError::Protocol("a failed require carried no error".into()),
            });
        }
        match incoming.caps.into_iter().next() {
            Some(Cap::Import(entry)) => Ok(entry),
            Some(Cap::Invalid(e)) => Err(e),
            _ => Err(RemoteError::Protocol(
                "a require answer must carry one handle of the server's".into(),
            )),
        }
    }

    // ----- receiving -------------------------------------------------------

    /// Handles one frame from the peer. Runs on a reader thread.
    pub(crate) fn handle_frame(self: &Arc<Self>, frame: Frame) {
        let (header, payload_at) = match wire::parse_frame(&frame) {
            Ok(parsed) => parsed,
            Err(e) => {
                tracing::warn!(peer = %self.peer, error = %e, "closing connection");
                self.close(&e);
                return;
            }
        };
        match header {
            Header::Reply { id, ok, caps } => {
                let caps = self.accept_caps(caps);
                self.complete(
                    id,
                    Ok(Incoming {
                        frame,
                        payload_at,
                        caps,
                        ok,
                    }),
                );
            }
            Header::Call {
                id,
                object,
                method,
                caps,
            } => {
                let caps = self.accept_caps(caps);
                let outcome = self.serve_call(object, method, &frame.buf[payload_at..], caps);
                if id != 0 {
                    self.send_reply(id, outcome);
                } else if let Ok(encoded) = outcome {
                    self.uncount(&encoded.counted);
                }
            }
            Header::Require {
                id,
                name,
                interface,
                fingerprint,
            } => {
                let outcome = self.serve_require(&name, &interface, fingerprint);
                self.send_reply(id, outcome);
            }
            Header::Release { entries } => self.apply_releases(&entries),
            Header::Ping { id } => self.send_reply(
                id,
                Ok(Encoded {
                    payload: Vec::new(),
                    caps: Vec::new(),
                    counted: Vec::new(),
                }),
            ),
        }
    }

    /// Accounts for every handle a frame carries, before its payload is
    /// decoded.
    fn accept_caps(self: &Arc<Self>, caps: Vec<WireCap>) -> Vec<Cap> {
        if caps.is_empty() {
            return Vec::new();
        }
        caps.into_iter()
            .map(|cap| match cap {
                WireCap::Sender { id, fingerprint } => {
                    match lock(&self.imports).receive(self, id, fingerprint) {
                        Imported::Entry(entry) => Cap::Import(entry),
                        Imported::Conflict { known } => Cap::Invalid(RemoteError::Protocol(format!(
                            "handle {id} arrived with fingerprint {fingerprint:#x} but is live with {known:#x}"
                        ))),
                    }
                }
                WireCap::Receiver { id } => match lock(&self.exports).get(id) {
                    Some(object) => Cap::Local(object),
                    None => Cap::Invalid(RemoteError::NoSuchObject { id }),
                },
            })
            .collect()
    }

    fn serve_call(
        self: &Arc<Self>,
        object: u64,
        method: u32,
        payload: &[u8],
        caps: Vec<Cap>,
    ) -> Result<Encoded, RemoteError> {
        let target = lock(&self.exports).get(object);
        let Some(target) = target else {
            return Err(RemoteError::NoSuchObject { id: object });
        };
        let mut call = Call {
            session: self,
            payload,
            caps,
            reply: None,
        };
        let span = tracing::trace_span!("call", interface = target.interface_name(), method);
        let _enter = span.enter();
        match catch_unwind(AssertUnwindSafe(|| target.dispatch(method, &mut call))) {
            Ok(Ok(())) => call
                .reply
                .take()
                .ok_or_else(|| RemoteError::Encode("the dispatcher produced no reply".into())),
            Ok(Err(e)) => Err(e),
            Err(panic) => {
                let method = format!(
                    "{}::{}",
                    target.interface_name(),
                    target.method_name(method).unwrap_or("?")
                );
                let message = panic_message(&*panic);
                tracing::warn!(peer = %self.peer, %method, %message, "remote method panicked");
                Err(RemoteError::Panic { method, message })
            }
        }
    }

    fn serve_require(
        self: &Arc<Self>,
        name: &str,
        interface: &str,
        fingerprint: u64,
    ) -> Result<Encoded, RemoteError> {
        let export = self
            .registry
            .as_ref()
            .and_then(|r| r.get(name))
            .ok_or_else(|| RemoteError::NoSuchExport {
                name: name.to_string(),
            })?;
        if export.object.fingerprint() != fingerprint {
            return Err(RemoteError::Mismatch {
                what: format!(
                    "export {name:?} (the server exports a {})",
                    export.object.interface_name()
                ),
                expected: interface.to_string(),
                expected_fingerprint: fingerprint,
                found_fingerprint: export.object.fingerprint(),
            });
        }
        let object = export.object.clone();
        let id = self.count_send(export.key, move || object);
        Ok(Encoded {
            payload: Vec::new(),
            caps: vec![WireCap::Sender { id, fingerprint }],
            counted: vec![id],
        })
    }

    fn send_reply(&self, id: u64, outcome: Result<Encoded, RemoteError>) {
        let frame = match outcome {
            Ok(encoded) => {
                let header = Header::Reply {
                    id,
                    ok: true,
                    caps: encoded.caps,
                };
                match wire::build_frame(&header, &encoded.payload, self.limits.max_frame) {
                    Ok(frame) => Ok(frame),
                    Err(e) => {
                        self.uncount(&encoded.counted);
                        Err(e)
                    }
                }
            }
            Err(e) => Err(e),
        };
        let frame = frame.or_else(|error| {
            let mut payload = Vec::new();
            codec::encode_into(&error, &mut payload)
                .map_err(|e| RemoteError::Encode(e.to_string()))?;
            let header = Header::Reply {
                id,
                ok: false,
                caps: Vec::new(),
            };
            wire::build_frame(&header, &payload, self.limits.max_frame)
        });
        match frame {
            Ok(frame) => {
                let _ = self.send(frame);
            }
            Err(e) => tracing::error!(peer = %self.peer, error = %e, "could not encode a reply"),
        }
    }

    fn apply_releases(&self, entries: &[(u64, u64)]) {
        let mut freed = Vec::new();
        {
            let mut exports = lock(&self.exports);
            for &(id, count) in entries {
                match exports.release(id, count) {
                    Ok(Some(object)) => freed.push(object),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(peer = %self.peer, error = %e, "bad release ignored"),
                }
            }
        }
        // User `Drop` code runs here, with no table locked.
        drop(freed);
    }

    // ----- releasing what we imported --------------------------------------

    /// The last proxy of an import entry is gone: tell the owner, in a batch.
    pub(crate) fn import_dropped(&self, id: u64, ptr: *const ImportEntry, received: u64) {
        if self.is_closed() {
            return;
        }
        lock(&self.imports).forget(id, ptr);
        let first = {
            let mut releases = lock(&self.releases);
            releases.push((id, received));
            releases.len() == 1
        };
        if first {
            janitor::schedule(self.weak_self.clone());
        }
    }

    /// Sends every queued release as few frames as possible.
    pub(crate) fn flush_releases(&self) {
        // Held while sending, so a `sync` that flushes after the janitor took
        // a batch still sends its ping behind that batch.
        let _flushing = lock(&self.flushing);
        let entries = std::mem::take(&mut *lock(&self.releases));
        // Each entry is at most 20 bytes encoded; stay well under the limit.
        let per_frame = (self.limits.max_frame / 32).max(1);
        for chunk in entries.chunks(per_frame) {
            let header = Header::Release {
                entries: chunk.to_vec(),
            };
            match wire::build_frame(&header, &[], self.limits.max_frame) {
                Ok(frame) => {
                    if self.send(frame).is_err() {
                        return;
                    }
                }
                Err(e) => tracing::error!(error = %e, "could not encode a release"),
            }
        }
    }

    // ----- the end ---------------------------------------------------------

    /// Ends the connection: every pending call fails with `Disconnected`,
    /// everything the peer held is released, and the transport is closed.
    pub(crate) fn close(&self, why: &RemoteError) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::debug!(peer = %self.peer, reason = %why, "connection closed");
        let waiters: Vec<Option<Waiter>> = {
            let mut pending = lock(&self.pending);
            pending.closed = true;
            pending
                .slots
                .values_mut()
                .filter_map(|slot| match slot {
                    Slot::Waiting(_) => {
                        match std::mem::replace(slot, Slot::Done(Err(RemoteError::Disconnected))) {
                            Slot::Waiting(w) => Some(w),
                            Slot::Done(_) => None,
                        }
                    }
                    Slot::Done(_) => None,
                })
                .collect()
        };
        waiters.into_iter().for_each(wake);
        let freed = lock(&self.exports).drain();
        lock(&self.imports).clear();
        lock(&self.releases).clear();
        self.link.close();
        drop(freed);
    }

    pub(crate) fn stats(&self) -> SessionStats {
        SessionStats {
            peer: self.peer.clone(),
            exported: lock(&self.exports).len(),
            imported: lock(&self.imports).len(),
            in_flight: lock(&self.pending).slots.len(),
            closed: self.is_closed(),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.close(&RemoteError::Disconnected);
    }
}

fn wake(waiter: Option<Waiter>) {
    match waiter {
        Some(Waiter::Thread(t)) => t.unpark(),
        Some(Waiter::Task(w)) => w.wake(),
        None => {}
    }
}
