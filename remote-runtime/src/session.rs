//! The session: one end of one connection. It ties together the connection's
//! export table (what we lent), import table (what we borrowed), the calls we
//! are waiting on, and the reader that feeds incoming frames to them.
//!
//! Both ends of a connection are sessions of the same kind: a server can call
//! objects a client lent it exactly as a client calls the server.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};
use std::thread::Thread;

use serde::{de::DeserializeOwned, Serialize};

use crate::connection::Access;
use crate::context::{self, Cap, Encoded};
use crate::diagnostics::{dominant, SiteIds, SiteNames};
use crate::dispatch::{panic_message, Call, Dispatch};
use crate::handle::imports::{ImportEntry, ImportTable, Imported};
use crate::lease::{now_ms, Lease};
use crate::options::{FrameKind, Options, Verdict};
use crate::protocol::exports::{ExportTable, ObjKey};
use crate::registry::Registry;
use crate::stats::SessionStats;
use crate::transport::Link;
use crate::wire::{self, codec, Frame, Header, Scope, WireCap};
use crate::{janitor, reader, RemoteError};

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

/// What serving a call produced: its reply, or a future of it (an async
/// method, run on the async runtime).
enum Served {
    Now(Result<Encoded, RemoteError>),
    Later {
        future: crate::dispatch::Deferred,
        method: String,
    },
}

/// The most bytes of callback invocations a connection may have waiting to
/// run; a peer that floods past it is disconnected (nothing is dropped
/// silently).
const QUEUED_CALLBACK_BYTES: usize = 256 * 1024 * 1024;

/// A call queued for the connection's callback thread.
struct OrderedCall {
    target: Arc<dyn Dispatch>,
    id: u64,
    method: u32,
    site: u32,
    frame: Frame,
    payload_at: usize,
    caps: Vec<Cap>,
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
    pub(crate) registry: Arc<Registry>,
    /// Objects attached to this connection alone.
    attached: Mutex<HashMap<String, crate::registry::Export>>,
    /// A number unique to this connection in this process.
    pub(crate) serial: u64,
    exports: Mutex<ExportTable<Arc<dyn Dispatch>>>,
    imports: Mutex<ImportTable>,
    pending: Mutex<Pending>,
    releases: Mutex<Vec<(u64, u64)>>,
    flushing: Mutex<()>,
    closed: AtomicBool,
    /// Calls being served (inline, on the callback thread, or async), and
    /// whether new ones are refused (a shutdown is draining them).
    serving: Mutex<usize>,
    served_all: std::sync::Condvar,
    draining: AtomicBool,
    /// Set when the peer's Hello arrived: a real peer, not a stray connect.
    established: AtomicBool,
    close_reason: Mutex<Option<RemoteError>>,
    pub(crate) reader_gen: AtomicU64,
    /// The call the current reader is running user code for (0 when none),
    /// and the reader's generation: read by the watchdog.
    pub(crate) busy_call: AtomicU64,
    pub(crate) busy_gen: AtomicU64,
    strong_readers: bool,
    pub(crate) options: Options,
    pub(crate) lease: Lease,
    site_ids: Mutex<SiteIds>,
    site_names: Mutex<SiteNames>,
    /// Feeds the callback thread, started on the first callback.
    ordered: Mutex<Option<crossbeam_channel::Sender<OrderedCall>>>,
    queued_bytes: std::sync::atomic::AtomicUsize,
    close_hooks: Mutex<CloseHooks>,
    weak_self: Weak<Session>,
}

#[derive(Default)]
struct CloseHooks {
    next: u64,
    hooks: HashMap<u64, Box<dyn FnOnce() + Send>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while a table was locked cannot leave it half-updated in a way
    // that matters more than refusing all further service would.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Session {
    /// Creates a session over `link`, lets `setup` prepare it (attach
    /// per-connection objects) and then starts its reader.
    pub(crate) fn start(
        link: Arc<dyn Link>,
        registry: Arc<Registry>,
        peer: String,
        strong_readers: bool,
        options: Options,
        setup: &dyn Fn(&Arc<Session>),
    ) -> Arc<Session> {
        static SERIAL: AtomicU64 = AtomicU64::new(0);
        let session = Arc::new_cyclic(|weak_self| Session {
            peer,
            link,
            registry,
            attached: Mutex::default(),
            serial: SERIAL.fetch_add(1, Ordering::Relaxed) + 1,
            exports: Mutex::default(),
            imports: Mutex::default(),
            pending: Mutex::default(),
            releases: Mutex::default(),
            flushing: Mutex::default(),
            closed: AtomicBool::new(false),
            serving: Mutex::new(0),
            served_all: std::sync::Condvar::new(),
            draining: AtomicBool::new(false),
            established: AtomicBool::new(false),
            close_reason: Mutex::default(),
            reader_gen: AtomicU64::new(0),
            busy_call: AtomicU64::new(0),
            busy_gen: AtomicU64::new(0),
            strong_readers,
            lease: Lease::new(options.lease, options.renew_every),
            site_ids: Mutex::default(),
            site_names: Mutex::new(SiteNames::new(options.warn_handles)),
            ordered: Mutex::default(),
            queued_bytes: Default::default(),
            close_hooks: Mutex::default(),
            options,
            weak_self: weak_self.clone(),
        });
        let hello = Header::Hello {
            lease_ms: session.lease.own_ms(),
        };
        session.link.attach(Arc::downgrade(&session));
        let _ = session.send_header(&hello, FrameKind::Hello);
        setup(&session);
        session.spawn_reader(0);
        janitor::register(Arc::downgrade(&session));
        reader::watch(Arc::downgrade(&session));
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

    /// True once the peer introduced itself (its Hello arrived).
    pub(crate) fn is_established(&self) -> bool {
        self.established.load(Ordering::Acquire)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    // ----- sending ---------------------------------------------------------

    /// The error a call on this closed connection gets.
    pub(crate) fn closed_error(&self) -> RemoteError {
        lock(&self.close_reason)
            .clone()
            .unwrap_or(RemoteError::Disconnected)
    }

    fn send(&self, frame: Vec<u8>, kind: FrameKind) -> Result<(), RemoteError> {
        if self.is_closed() {
            return Err(self.closed_error());
        }
        if let Some(hook) = &self.options.hook {
            if hook.before_send(kind) == Verdict::Drop {
                return Ok(());
            }
        }
        self.lease.sent();
        self.link.send(frame, kind).map_err(|e| self.send_failed(e))
    }

    /// A write failed. When the peer closed its end, the reader is about to
    /// see why (a LeaseExpired or Goodbye frame may still be waiting ahead of
    /// the end of the stream), so give it a moment to close the connection
    /// with that reason; otherwise close now.
    fn send_failed(&self, error: RemoteError) -> RemoteError {
        if error == RemoteError::Disconnected {
            let until = std::time::Instant::now() + std::time::Duration::from_millis(200);
            while !self.is_closed() && std::time::Instant::now() < until {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        self.close(&error);
        self.closed_error()
    }

    fn send_header(&self, header: &Header, kind: FrameKind) -> Result<(), RemoteError> {
        let frame = wire::build_frame(header, &[], self.options.max_frame)?;
        self.send(frame, kind)
    }

    /// Records one send of a local object on this connection (see
    /// [`ExportTable::send`]); `site` is the peer call site it answers.
    pub(crate) fn count_send(
        &self,
        key: ObjKey,
        site: u32,
        make: impl FnOnce() -> Arc<dyn Dispatch>,
    ) -> Result<(u64, Option<Arc<dyn Dispatch>>), RemoteError> {
        let mut exports = lock(&self.exports);
        if exports.len() >= self.options.max_handles && exports.is_new(key) {
            return Err(RemoteError::LimitExceeded {
                what: "live handles on this connection".into(),
                limit: self.options.max_handles as u64,
            });
        }
        let id = exports.send(key, site, make);
        let live = exports.len();
        if live >= self.options.warn_handles && lock(&self.site_names).should_warn(live) {
            self.warn_about_handles(&exports);
        }
        Ok(id)
    }

    fn warn_about_handles(&self, exports: &ExportTable<Arc<dyn Dispatch>>) {
        let Some((interface, count)) = dominant(exports.census().map(|(i, _)| i)) else {
            return;
        };
        let site = dominant(
            exports
                .census()
                .filter(|(i, _)| *i == interface)
                .map(|(_, s)| s),
        )
        .map(|(s, n)| (lock(&self.site_names).describe(s), n));
        let (obtained_at, from_site) = site.unwrap_or_default();
        tracing::warn!(
            peer = %self.peer,
            live_handles = exports.len(),
            interface,
            count,
            obtained_at = %obtained_at,
            from_site,
            "peer {} holds {} live handles, {} of them {}; most were obtained at {} in the peer's source: proxies kept there and never dropped keep these objects alive",
            self.peer, exports.len(), count, interface, obtained_at
        );
    }

    /// The number of the caller's source location on this connection,
    /// announcing it to the peer the first time.
    fn site(&self, location: &'static Location<'static>) -> u32 {
        let (id, new) = lock(&self.site_ids).id(location);
        if new {
            let header = Header::Site {
                id,
                file: location.file().to_string(),
                line: location.line(),
                column: location.column(),
            };
            let _ = self.send_header(&header, FrameKind::Site);
        }
        id
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
            drop(pending);
            return Err(self.closed_error());
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
        location: &'static Location<'static>,
    ) -> Result<u64, RemoteError> {
        if self.is_closed() {
            return Err(self.closed_error());
        }
        let encoded = context::encode(self, args, 0)?;
        let id = self.register()?;
        let header = Header::Call {
            id,
            object,
            method,
            site: self.site(location),
            caps: encoded.caps,
        };
        let sent = wire::build_frame(&header, &encoded.payload, self.options.max_frame)
            .and_then(|frame| self.send(frame, FrameKind::Call));
        if let Err(e) = sent {
            self.cancel(id);
            self.uncount(&encoded.counted);
            return Err(e);
        }
        if let Some(timeout) = self.options.call_timeout {
            crate::timer::fail_after(self.weak_self.clone(), id, timeout);
        }
        Ok(id)
    }

    /// Sends a require for `name`; returns the ID to wait on.
    pub(crate) fn start_require(
        &self,
        name: &str,
        interface: &str,
        fingerprint: u64,
        scope: Scope,
        location: &'static Location<'static>,
    ) -> Result<u64, RemoteError> {
        let id = self.register()?;
        let header = Header::Require {
            id,
            name: name.to_string(),
            interface: interface.to_string(),
            fingerprint,
            site: self.site(location),
            scope,
        };
        let sent = self.send_header(&header, FrameKind::Require);
        if let Err(e) = sent {
            self.cancel(id);
            return Err(e);
        }
        Ok(id)
    }

    /// Resolves `name` in `scope` on the peer as proxy `P` (blocking).
    pub(crate) fn resolve<P: crate::remote::Proxy>(
        &self,
        name: &str,
        scope: Scope,
        location: &'static Location<'static>,
    ) -> Result<P, RemoteError> {
        use crate::remote::Interface;
        let id = self.start_require(
            name,
            <P::Interface as Interface>::NAME,
            <P::Interface as Interface>::FINGERPRINT,
            scope,
            location,
        )?;
        let incoming = self.wait(id)?;
        let entry = self.require_reply(incoming)?;
        Ok(P::from_remote(crate::remote::Remote::from_import(entry)))
    }

    /// Asks for global `name`; returns the ID to wait on.
    pub(crate) fn start_global(
        &self,
        name: &str,
        location: &'static Location<'static>,
    ) -> Result<u64, RemoteError> {
        let id = self.register()?;
        let header = Header::Global {
            id,
            name: name.to_string(),
            site: self.site(location),
        };
        if let Err(e) = self.send_header(&header, FrameKind::Require) {
            self.cancel(id);
            return Err(e);
        }
        Ok(id)
    }

    /// Attaches `export` under `name` to this connection alone.
    pub(crate) fn attach_object(&self, name: String, export: crate::registry::Export) {
        lock(&self.attached).insert(name, export);
    }

    /// Sends queued releases now, then waits until the peer has handled
    /// everything this side sent so far.
    pub(crate) fn sync(&self) -> Result<(), RemoteError> {
        self.flush_releases();
        let id = self.register()?;
        let sent = self.send_header(&Header::Ping { id }, FrameKind::Ping);
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
                    None => return Err(self.closed_error()),
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
            None => {
                drop(pending);
                Poll::Ready(Err(self.closed_error()))
            }
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
            context::decode(incoming.caps, payload, &self.options)
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
        self.lease.enter();
        self.handle_frame_inner(frame);
        self.lease.leave();
    }

    fn handle_frame_inner(self: &Arc<Self>, frame: Frame) {
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
                site,
                caps,
            } => {
                let caps = self.accept_caps(caps);
                let target = lock(&self.exports).get(object);
                if let Err(refused) = self.begin_serving(id != 0) {
                    self.finish_call(id, Err(refused));
                    return;
                }
                match target {
                    // Callbacks run one at a time, in the order they were
                    // made, on this connection's callback thread.
                    Some(target) if target.ordered() => self.queue_ordered(OrderedCall {
                        target,
                        id,
                        method,
                        site,
                        frame,
                        payload_at,
                        caps,
                    }),
                    target => {
                        let payload = &frame.buf[payload_at..];
                        let served = reader::serving(self, || {
                            self.serve_call(target, object, method, site, payload, caps)
                        });
                        self.complete_served(id, site, served);
                    }
                }
            }
            Header::Require {
                id,
                name,
                interface,
                fingerprint,
                site,
                scope,
            } => {
                let outcome = self.serve_require(&name, &interface, fingerprint, site, scope);
                self.send_reply(id, outcome);
            }
            Header::Global { id, name, site } => {
                let outcome = match self.registry.global(&name) {
                    _ if !self.registry.allows(self, &Access::Global(&name)) => {
                        Err(RemoteError::Denied {
                            resource: format!("global {name:?}"),
                        })
                    }
                    Some(value) => value(self, site),
                    None => Err(RemoteError::NoSuchExport {
                        name: format!("global {name}"),
                    }),
                };
                self.send_reply(id, outcome);
            }
            Header::Release { entries } => self.apply_releases(&entries),
            Header::Ping { id } => {
                // Our own queued releases go first, and the answer travels
                // behind them (never on a transport's reply shortcut), so the
                // peer has applied them when its sync returns.
                self.flush_releases();
                let answer = Encoded {
                    payload: Vec::new(),
                    caps: Vec::new(),
                    counted: Vec::new(),
                };
                self.send_reply_as(id, Ok(answer), FrameKind::Ping);
            }
            Header::Hello { lease_ms } => {
                self.lease.set_peer_lease(lease_ms);
                self.established.store(true, Ordering::Release);
            }
            Header::Renew => {}
            Header::Site {
                id,
                file,
                line,
                column,
            } => lock(&self.site_names).name(id, format!("{file}:{line}:{column}")),
            Header::Goodbye => self.close(&RemoteError::Disconnected),
            Header::LeaseExpired => {
                tracing::warn!(peer = %self.peer, "our lease expired: the peer released everything we held");
                self.close(&RemoteError::LeaseExpired);
            }
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
                WireCap::Sender {
                    id,
                    fingerprint,
                    props,
                } => {
                    let imported = lock(&self.imports).receive(self, id, fingerprint);
                    match imported {
                        Imported::Entry(entry) => {
                            if let Some(props) = props {
                                entry.offer_snapshot(props);
                            }
                            Cap::Import(entry)
                        }
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

    fn finish_call(&self, id: u64, outcome: Result<Encoded, RemoteError>) {
        if id != 0 {
            self.send_reply(id, outcome);
        } else if let Ok(encoded) = outcome {
            self.uncount(&encoded.counted);
        }
    }

    fn queue_ordered(self: &Arc<Self>, call: OrderedCall) {
        let mut queue = lock(&self.ordered);
        if queue.is_none() && !self.is_closed() {
            let (tx, rx) = crossbeam_channel::unbounded::<OrderedCall>();
            let weak = Arc::downgrade(self);
            let spawned = std::thread::Builder::new()
                .name("remote-callbacks".into())
                .spawn(move || {
                    for call in rx {
                        let Some(session) = weak.upgrade() else {
                            return;
                        };
                        session
                            .queued_bytes
                            .fetch_sub(call.frame.buf.len(), Ordering::AcqRel);
                        let payload = &call.frame.buf[call.payload_at..];
                        let served = session.serve_call(
                            Some(call.target.clone()),
                            0,
                            call.method,
                            call.site,
                            payload,
                            call.caps,
                        );
                        session.complete_served(call.id, call.site, served);
                    }
                });
            match spawned {
                Ok(_) => *queue = Some(tx),
                Err(e) => tracing::error!(error = %e, "could not start a callback thread"),
            }
        }
        // Callbacks queue without a count limit, so none is ever dropped,
        // but a peer that floods them faster than they run is cut off
        // before their bytes exhaust memory.
        let bytes = call.frame.buf.len();
        let queued = self.queued_bytes.fetch_add(bytes, Ordering::AcqRel) + bytes;
        if queued > QUEUED_CALLBACK_BYTES {
            drop(queue);
            self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
            self.end_serving();
            self.close(&RemoteError::LimitExceeded {
                what: "bytes of callbacks queued on this connection".into(),
                limit: QUEUED_CALLBACK_BYTES as u64,
            });
            return;
        }
        match queue.as_ref() {
            Some(tx) => {
                if let Err(e) = tx.send(call) {
                    self.queued_bytes
                        .fetch_sub(e.0.frame.buf.len(), Ordering::AcqRel);
                    self.end_serving();
                }
            }
            None => {
                drop(call);
                self.end_serving();
            }
        }
    }

    /// Counts a call being served; false once the connection is draining
    /// (the call is then refused).
    fn begin_serving(&self, wants_reply: bool) -> Result<(), RemoteError> {
        if self.draining.load(Ordering::Acquire) {
            return Err(RemoteError::Disconnected);
        }
        let mut serving = lock(&self.serving);
        // Calls that want a reply are refused past the limit (the caller is
        // told). One-way calls (callbacks) are never dropped silently: their
        // queue is bounded in bytes instead (see `queue_ordered`).
        if wants_reply && *serving >= self.options.max_in_flight {
            return Err(RemoteError::LimitExceeded {
                what: "calls in flight on this connection".into(),
                limit: self.options.max_in_flight as u64,
            });
        }
        *serving += 1;
        Ok(())
    }

    fn end_serving(&self) {
        let mut serving = lock(&self.serving);
        *serving = serving.saturating_sub(1);
        if *serving == 0 {
            self.served_all.notify_all();
        }
    }

    /// Sends the reply of a served call now, or once its future completes.
    fn complete_served(self: &Arc<Self>, id: u64, site: u32, served: Served) {
        match served {
            Served::Now(outcome) => {
                self.finish_call(id, outcome);
                self.end_serving();
            }
            Served::Later { future, method } => {
                let session = self.clone();
                crate::rt::spawn(
                    self.options.runtime.as_ref(),
                    Box::pin(async move {
                        let outcome = match crate::rt::CatchUnwind(future).await {
                            Ok(encode) => encode(&session, site),
                            Err(panic) => {
                                let message = panic_message(&*panic);
                                tracing::warn!(peer = %session.peer, %method, %message, "remote method panicked");
                                Err(RemoteError::Panic { method, message })
                            }
                        };
                        session.finish_call(id, outcome);
                        session.end_serving();
                    }),
                );
            }
        }
    }

    /// Stops taking new calls; calls already running go on.
    pub(crate) fn begin_drain(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Waits (at most until `deadline`) for running calls to finish, then
    /// tells the peer goodbye and closes.
    pub(crate) fn finish_drain(&self, deadline: std::time::Instant) {
        let serving = lock(&self.serving);
        let wait = deadline.saturating_duration_since(std::time::Instant::now());
        let (serving, _) = self
            .served_all
            .wait_timeout_while(serving, wait, |n| *n > 0)
            .unwrap_or_else(|e| e.into_inner());
        if *serving > 0 {
            tracing::warn!(peer = %self.peer, running = *serving, "closing with calls still running");
        }
        drop(serving);
        let _ = self.send_header(&Header::Goodbye, FrameKind::Goodbye);
        self.close(&RemoteError::Disconnected);
    }

    fn serve_call(
        self: &Arc<Self>,
        target: Option<Arc<dyn Dispatch>>,
        object: u64,
        method: u32,
        site: u32,
        payload: &[u8],
        caps: Vec<Cap>,
    ) -> Served {
        let Some(target) = target else {
            return Served::Now(Err(RemoteError::NoSuchObject { id: object }));
        };
        let mut call = Call {
            session: self,
            payload,
            caps,
            site,
            reply: None,
            deferred: None,
        };
        let span = tracing::trace_span!("call", interface = target.interface_name(), method);
        let _enter = span.enter();
        let method_name = || {
            format!(
                "{}::{}",
                target.interface_name(),
                target.method_name(method).unwrap_or("?")
            )
        };
        match catch_unwind(AssertUnwindSafe(|| target.dispatch(method, &mut call))) {
            Ok(Ok(())) => match (call.reply.take(), call.deferred.take()) {
                (Some(reply), _) => Served::Now(Ok(reply)),
                (None, Some(future)) => Served::Later {
                    future,
                    method: method_name(),
                },
                (None, None) => Served::Now(Err(RemoteError::Encode(
                    "the dispatcher produced no reply".into(),
                ))),
            },
            Ok(Err(e)) => Served::Now(Err(e)),
            Err(panic) => {
                let method = method_name();
                let message = panic_message(&*panic);
                tracing::warn!(peer = %self.peer, %method, %message, "remote method panicked");
                Served::Now(Err(RemoteError::Panic { method, message }))
            }
        }
    }

    fn serve_require(
        self: &Arc<Self>,
        name: &str,
        interface: &str,
        fingerprint: u64,
        site: u32,
        scope: Scope,
    ) -> Result<Encoded, RemoteError> {
        if scope == Scope::Exports && !self.registry.allows(self, &Access::Export(name)) {
            tracing::debug!(peer = %self.peer, name, "require denied by the access policy");
            return Err(RemoteError::Denied {
                resource: format!("export {name:?}"),
            });
        }
        let export = match scope {
            Scope::Exports => self.registry.get(name),
            Scope::Connection => lock(&self.attached).get(name).cloned(),
        };
        let export = export.ok_or_else(|| RemoteError::NoSuchExport {
            name: match scope {
                Scope::Exports => name.to_string(),
                Scope::Connection => format!("{name} (on this connection)"),
            },
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
        let (id, created) = self.count_send(export.key, site, move || object)?;
        let props = match created.as_deref().and_then(crate::dispatch::take_snapshot) {
            Some(Err(e)) => {
                self.uncount(&[id]);
                return Err(e);
            }
            Some(Ok(props)) => Some(props),
            None => None,
        };
        Ok(Encoded {
            payload: Vec::new(),
            caps: vec![WireCap::Sender {
                id,
                fingerprint,
                props,
            }],
            counted: vec![id],
        })
    }

    fn send_reply(&self, id: u64, outcome: Result<Encoded, RemoteError>) {
        self.send_reply_as(id, outcome, FrameKind::Reply);
    }

    fn send_reply_as(&self, id: u64, outcome: Result<Encoded, RemoteError>, kind: FrameKind) {
        let frame = match outcome {
            Ok(encoded) => {
                let header = Header::Reply {
                    id,
                    ok: true,
                    caps: encoded.caps,
                };
                match wire::build_frame(&header, &encoded.payload, self.options.max_frame) {
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
            wire::build_frame(&header, &payload, self.options.max_frame)
        });
        match frame {
            Ok(frame) => {
                let _ = self.send(frame, kind);
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
        let per_frame = (self.options.max_frame / 32).max(1);
        for chunk in entries.chunks(per_frame) {
            let header = Header::Release {
                entries: chunk.to_vec(),
            };
            if self.send_header(&header, FrameKind::Release).is_err() {
                return;
            }
        }
    }

    /// Periodic duties, run by the maintenance thread: renew our lease with
    /// the peer if we have been quiet, and expire the peer's lease if it has.
    /// Returns how soon to look again.
    pub(crate) fn maintain(&self, now: u64, may_expire: bool) -> u64 {
        if self.is_closed() {
            return u64::MAX;
        }
        if self.lease.renew_due(now) {
            let _ = self.send_header(&Header::Renew, FrameKind::Renew);
        }
        if may_expire && self.lease.lapsed(now) && !lock(&self.exports).is_empty() {
            let held = lock(&self.exports).len();
            tracing::warn!(
                peer = %self.peer,
                held,
                lease_ms = self.lease.own_ms(),
                "peer silent for longer than its lease: releasing the {held} objects it held and closing the connection"
            );
            let _ = self.send_header(&Header::LeaseExpired, FrameKind::LeaseExpired);
            self.close(&RemoteError::Disconnected);
            return u64::MAX;
        }
        self.lease.tick_ms()
    }

    // ----- the end ---------------------------------------------------------

    /// Ends the connection: every pending call fails with `Disconnected`,
    /// everything the peer held is released, and the transport is closed.
    pub(crate) fn close(&self, why: &RemoteError) {
        {
            let mut reason = lock(&self.close_reason);
            if self.closed.swap(true, Ordering::AcqRel) {
                return;
            }
            *reason = Some(match why {
                RemoteError::LeaseExpired => RemoteError::LeaseExpired,
                _ => RemoteError::Disconnected,
            });
        }
        let failure = self.closed_error();
        match why {
            RemoteError::Disconnected | RemoteError::LeaseExpired => {
                tracing::debug!(peer = %self.peer, reason = %why, "connection closed")
            }
            // A peer that broke the protocol or a limit: say why, once.
            _ => tracing::warn!(peer = %self.peer, reason = %why, "connection closed"),
        }
        let waiters: Vec<Option<Waiter>> = {
            let mut pending = lock(&self.pending);
            pending.closed = true;
            pending
                .slots
                .values_mut()
                .filter_map(|slot| match slot {
                    Slot::Waiting(_) => {
                        match std::mem::replace(slot, Slot::Done(Err(failure.clone()))) {
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
        let attached = std::mem::take(&mut *lock(&self.attached));
        lock(&self.imports).clear();
        lock(&self.releases).clear();
        lock(&self.ordered).take();
        self.link.close();
        drop(freed);
        drop(attached);
        let hooks = std::mem::take(&mut lock(&self.close_hooks).hooks);
        for (_, hook) in hooks {
            hook();
        }
    }

    /// Runs `hook` when the connection closes (at once if it has). Returns a
    /// key for [`Session::cancel_on_close`].
    pub(crate) fn on_close(&self, hook: Box<dyn FnOnce() + Send>) -> u64 {
        let mut hooks = lock(&self.close_hooks);
        if self.is_closed() {
            drop(hooks);
            hook();
            return 0;
        }
        hooks.next += 1;
        let key = hooks.next;
        hooks.hooks.insert(key, hook);
        key
    }

    pub(crate) fn cancel_on_close(&self, key: u64) {
        let hook = lock(&self.close_hooks).hooks.remove(&key);
        drop(hook);
    }

    /// Sends a call that wants no reply.
    #[track_caller]
    pub(crate) fn send_oneway<A: Serialize + ?Sized>(
        self: &Arc<Self>,
        object: u64,
        method: u32,
        args: &A,
    ) -> Result<(), RemoteError> {
        if self.is_closed() {
            return Err(self.closed_error());
        }
        let encoded = context::encode(self, args, 0)?;
        let header = Header::Call {
            id: 0,
            object,
            method,
            site: self.site(Location::caller()),
            caps: encoded.caps,
        };
        let sent = wire::build_frame(&header, &encoded.payload, self.options.max_frame)
            .and_then(|frame| self.send(frame, FrameKind::Call));
        if sent.is_err() {
            self.uncount(&encoded.counted);
        }
        sent
    }

    /// Ends the wait for `id` with `error`, if it is still waiting (a deadline
    /// passed). A reply arriving later is dropped.
    pub(crate) fn fail_pending(&self, id: u64, error: RemoteError) {
        self.complete(id, Err(error));
    }

    /// The peer's name for its call site `site`.
    pub(crate) fn describe_site(&self, site: u32) -> String {
        lock(&self.site_names).describe(site)
    }

    /// Our number for `location` on this connection.
    pub(crate) fn site_id(&self, location: &'static Location<'static>) -> u32 {
        self.site(location)
    }

    pub(crate) fn stats(&self) -> SessionStats {
        SessionStats {
            peer: self.peer.clone(),
            exported: lock(&self.exports).len(),
            imported: lock(&self.imports).len(),
            in_flight: lock(&self.pending).slots.len(),
            closed: self.is_closed(),
            lease: std::time::Duration::from_millis(self.lease.own_ms()),
            lease_remaining: self.lease.remaining(now_ms()),
            renew_every: std::time::Duration::from_millis(self.lease.renew_interval_ms()),
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
