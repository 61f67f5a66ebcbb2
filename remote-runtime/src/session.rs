//! The session: one end of one connection, as the threads that use it see
//! it. Its protocol state is a [`Conn`] behind one lock. The session feeds
//! it (frames from the connection's task, local calls and drops, the time
//! from the maintenance thread), runs the events it hands out, and hands
//! the frames it queues to the link, in the order it queued them.
//!
//! Every input goes through [`Session::input`]: lock the core, apply, take
//! the events, unlock, run the events, write what was queued. No user code
//! runs while the core is locked, and nothing is dropped under it that could
//! run user code.
//!
//! Lock order: `core`, then `replies` or `site_names` (a call's reply slot is
//! opened while its frame is queued, so its answer cannot outrun it). No
//! other lock is taken while `core` is held, and nothing is written under
//! it: the thread holding the writer role (`Locked::writing`) hands frames
//! to the link outside it. The link's own locks (its outbound queue, a
//! relay's slot) are leaves: nothing else is taken under them.
//!
//! Both ends of a connection are sessions of the same kind: a server can
//! call objects a client lent it exactly as a client calls the server.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};

use crate::clock::now_ms;
use crate::context::{Cap, Encoded};
use crate::diagnostics::{dominant, SiteIds, SiteNames};
use crate::dispatch::Dispatch;
use crate::driver::{blocking, Keep, Peer, Wired};
use crate::handle::imports::{ImportEntry, ImportTable};
use crate::options::{Options, Verdict};
use crate::protocol::budget::LogBudget;
use crate::protocol::conn::{Arrived, Config, Conn, Event, Transmit};
use crate::protocol::exports::{ExportTable, ObjKey};
use crate::registry::Registry;
use crate::replies::Replies;
use crate::serve::{Ordered, Serving};
use crate::stats::SessionStats;
use crate::transport::Link;
use crate::wire::{self, Frame, Header};
use crate::{janitor, RemoteError};

/// A received frame's payload: the frame and where its payload starts.
pub(crate) struct Payload {
    pub(crate) frame: Frame,
    pub(crate) at: usize,
}

/// One connection's protocol state, as the runtime instantiates it.
pub(crate) type Core = Conn<Arc<dyn Dispatch>, Payload>;
type CoreEvent = Event<Arc<dyn Dispatch>, Payload>;

/// A reply (or require answer) that arrived, its capabilities accounted for.
pub(crate) struct Incoming {
    pub(crate) frame: Frame,
    pub(crate) payload_at: usize,
    pub(crate) caps: Vec<Cap>,
    pub(crate) ok: bool,
}

/// The core and who is moving its frames to the link, under one lock.
struct Locked {
    conn: Core,
    /// A thread is writing frames taken from `conn`; frames queued
    /// meanwhile are left for it, and it takes them before it lets go.
    writing: bool,
    /// Threads waiting for the writer role (`Session::await_writer_role`): the
    /// writer signals `writer_free` only when there are some, so the
    /// common write path makes no wake-up call.
    waiting: usize,
}

pub(crate) struct Session {
    pub(crate) peer: Arc<str>,
    pub(crate) link: Arc<dyn Link>,
    pub(crate) registry: Arc<Registry>,
    /// Objects attached to this connection alone.
    pub(crate) attached: Mutex<HashMap<String, crate::registry::Export>>,
    /// A number unique to this connection in this process.
    pub(crate) serial: u64,
    core: Mutex<Locked>,
    /// Signalled when the writer role is given up while threads wait for
    /// it (see `Session::await_writer_role`).
    writer_free: Condvar,
    pub(crate) replies: Replies<Result<Incoming, RemoteError>>,
    /// The proxy entry of each imported handle, while one lives.
    entries: Mutex<ImportTable>,
    /// Set the moment the core closes (before any waiter is woken), so a
    /// caller that saw its call fail also sees the connection closed.
    closed: AtomicBool,
    /// Set once `teardown` ran.
    torn_down: AtomicBool,
    pub(crate) serving: Serving,
    /// Threads serving this connection's calls that wait on a reply now
    /// (see `driver::blocking`), bounded by `Options::max_busy_threads`.
    pub(crate) busy: Arc<blocking::Busy>,
    /// The runtime the connection's task, its served calls and its `async
    /// fn` methods run on.
    pub(crate) rt: tokio::runtime::Handle,
    pub(crate) options: Options,
    pub(crate) site_ids: Mutex<SiteIds>,
    pub(crate) site_names: Mutex<SiteNames>,
    /// Callbacks waiting to run, in order.
    pub(crate) ordered: Mutex<Ordered>,
    pub(crate) queued_bytes: AtomicUsize,
    close_hooks: Mutex<CloseHooks>,
    /// Log lines the peer can cause from here (panics of its calls).
    log: Mutex<LogBudget>,
    /// The limits this connection has hit, each logged the first time.
    limits_hit: Mutex<Vec<String>>,
    pub(crate) weak_self: Weak<Session>,
}

#[derive(Default)]
struct CloseHooks {
    next: u64,
    hooks: HashMap<u64, Box<dyn FnOnce() + Send>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while a table was locked cannot leave it half-updated in a way
    // that matters more than refusing all further service would.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn config(options: &Options) -> Config {
    Config {
        lease_ms: options.lease.as_millis() as u64,
        renew_cap_ms: options.renew_every.as_millis() as u64,
        min_peer_lease_ms: options.min_peer_lease.as_millis() as u64,
        handshake_ms: options.handshake_timeout.as_millis() as u64,
        max_handles: options.max_handles,
        // The peer's pipelined calls wait like the calls it has running.
        max_kept: options.max_in_flight,
        // Our own calls are bounded by the threads and tasks making them.
        max_in_flight: usize::MAX,
        // The maintenance thread gathers a burst of drops into one frame.
        release_delay_ms: 1,
        // Each entry is at most 20 bytes encoded; stay well under the limit.
        releases_per_frame: (options.max_frame / 32).clamp(1, crate::MAX_HANDLES_PER_FRAME),
        max_frame: options.max_frame,
        max_value: options.max_value,
        max_queued_bytes: options.queued_bound(),
    }
}

impl Session {
    /// Creates a session over `wired`, lets `setup` prepare it (attach
    /// per-connection objects) and then starts its connection's task
    /// (holding the session strongly when `strong`, as a server's).
    pub(crate) fn start(
        wired: Wired,
        registry: Arc<Registry>,
        peer: String,
        strong: bool,
        options: Options,
        setup: &dyn Fn(&Arc<Session>),
    ) -> Arc<Session> {
        static SERIAL: AtomicU64 = AtomicU64::new(0);
        let busy = Arc::new(blocking::Busy::new(options.max_busy_threads, &peer));
        let session = Arc::new_cyclic(|weak_self| Session {
            peer: Arc::from(peer),
            link: wired.link.clone(),
            registry,
            attached: Mutex::default(),
            serial: SERIAL.fetch_add(1, Ordering::Relaxed) + 1,
            core: Mutex::new(Locked {
                conn: Conn::new(config(&options), now_ms()),
                writing: false,
                waiting: 0,
            }),
            writer_free: Condvar::new(),
            replies: Replies::default(),
            entries: Mutex::default(),
            closed: AtomicBool::new(false),
            torn_down: AtomicBool::new(false),
            serving: Serving::default(),
            busy,
            rt: wired.rt.clone(),
            site_ids: Mutex::default(),
            site_names: Mutex::new(SiteNames::new(options.warn_handles)),
            ordered: Mutex::default(),
            queued_bytes: AtomicUsize::new(0),
            close_hooks: Mutex::default(),
            log: Mutex::default(),
            limits_hit: Mutex::default(),
            options,
            weak_self: weak_self.clone(),
        });
        session
            .link
            .attach(Arc::downgrade(&session) as Weak<Session>);
        setup(&session);
        session.flush_out();
        wired.start(if strong {
            Keep::Strong(session.clone())
        } else {
            let weak: Weak<dyn Peer> = Arc::downgrade(&session) as Weak<Session>;
            Keep::Weak(weak)
        });
        janitor::register(Arc::downgrade(&session));
        tracing::info!(peer = %session.peer, "connection opened");
        session
    }

    /// Logs a limit this connection hit, once per limit: a call refused
    /// with `LimitExceeded` (the connection goes on).
    pub(crate) fn note_limit(&self, error: &RemoteError) {
        let RemoteError::LimitExceeded { what, limit } = error else {
            return;
        };
        let mut hit = lock(&self.limits_hit);
        if hit.iter().any(|w| w == what) {
            tracing::debug!(peer = %self.peer, %what, limit, "call refused: limit exceeded");
        } else {
            hit.push(what.clone());
            drop(hit);
            tracing::warn!(peer = %self.peer, %what, limit, "call refused: limit exceeded (logged once per connection and limit)");
        }
    }

    /// True once the peer introduced itself (its Hello arrived).
    pub(crate) fn is_established(&self) -> bool {
        lock(&self.core).conn.is_established()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The error a call on this closed connection gets.
    pub(crate) fn closed_error(&self) -> RemoteError {
        lock(&self.core).conn.closed_error()
    }

    // ----- the one way in ----------------------------------------------------

    /// Applies `f` to the core at the current time, then runs the events it
    /// produced and writes the frames it queued.
    pub(crate) fn input<R>(&self, f: impl FnOnce(&mut Core, u64) -> R) -> R {
        self.input_with(f, None::<fn()>)
    }

    /// [`Session::input`], running `before_write` once `f` has queued its
    /// frames and before any of them is written. This thread takes the
    /// writer role before `f` runs (waiting for another writer to finish:
    /// writers never wait on the peer, so that is short), so no one can
    /// write what `f` queued before `before_write` ran: what it stages
    /// (releases of handles a reply passed home) is in the core before the
    /// frame leaves.
    fn input_with<R>(
        &self,
        f: impl FnOnce(&mut Core, u64) -> R,
        before_write: Option<impl FnOnce()>,
    ) -> R {
        let now = now_ms();
        let mut events = Vec::new();
        let (result, first) = {
            let mut locked = lock(&self.core);
            if before_write.is_some() {
                locked = self.await_writer_role(locked);
            }
            let result = f(&mut locked.conn, now);
            if locked.conn.is_closed() {
                self.closed.store(true, Ordering::Release);
            }
            while let Some(event) = locked.conn.poll_event() {
                events.push(event);
            }
            let first = Self::claim_writes(&mut locked);
            (result, first)
        };
        if let Some(before_write) = before_write {
            before_write();
        }
        if let Some(first) = first {
            self.write_out(first);
        }
        if !events.is_empty() {
            self.run_events(events);
        }
        result
    }

    /// Waits until no thread holds the writer role (writers never wait on
    /// the peer, so this is short), with the core locked again.
    fn await_writer_role<'a>(&self, mut locked: MutexGuard<'a, Locked>) -> MutexGuard<'a, Locked> {
        while locked.writing {
            locked.waiting += 1;
            locked = self
                .writer_free
                .wait(locked)
                .unwrap_or_else(|e| e.into_inner());
            locked.waiting -= 1;
        }
        locked
    }

    /// Takes the next frame to write if no other thread is writing: the
    /// caller becomes the writer until the queue is empty.
    fn claim_writes(locked: &mut Locked) -> Option<Transmit> {
        if locked.writing {
            return None;
        }
        let first = locked.conn.poll_transmit()?;
        locked.writing = true;
        Some(first)
    }

    /// Writes frames out, in the order they were queued, until none is
    /// left; the caller holds the writer role (see `claim_writes`). No
    /// thread waits here: the link queues what the transport cannot take
    /// now for the connection's task.
    fn write_out(&self, first: Transmit) {
        let mut next = Some(first);
        let mut failed = None;
        while let Some(t) = next {
            if failed.is_none() {
                if let Err(e) = self.write(t) {
                    failed = Some(e);
                }
            }
            let mut locked = lock(&self.core);
            next = locked.conn.poll_transmit();
            if next.is_none() {
                locked.writing = false;
                if locked.waiting > 0 {
                    self.writer_free.notify_all();
                }
            }
        }
        if let Some(error) = failed {
            self.close(&error);
        }
    }

    /// Writes whatever is queued, unless another thread is at it.
    fn flush_out(&self) {
        let first = Self::claim_writes(&mut lock(&self.core));
        if let Some(first) = first {
            self.write_out(first);
        }
    }

    /// Hands every frame the core queued to the link, waiting for another
    /// writer to finish first (writers never wait on the peer): once this
    /// returns, nothing queued before it is still on its way to the link,
    /// so the link may close.
    fn flush_all(&self) {
        let first = {
            let mut locked = self.await_writer_role(lock(&self.core));
            Self::claim_writes(&mut locked)
        };
        if let Some(first) = first {
            self.write_out(first);
        }
    }

    fn write(&self, t: Transmit) -> Result<(), RemoteError> {
        if let Some(hook) = &self.options.hook {
            if hook.before_send(t.kind) == Verdict::Drop {
                return Ok(());
            }
        }
        self.link.send(t.frame, t.kind)
    }

    /// Runs what the core handed out.
    fn run_events(&self, events: Vec<CoreEvent>) {
        let mut closed = None;
        for event in events {
            match event {
                Event::Reply {
                    id,
                    ok,
                    caps,
                    payload,
                    awaited,
                } => {
                    let caps = self.attach_caps(caps);
                    let incoming = Incoming {
                        frame: payload.frame,
                        payload_at: payload.at,
                        caps,
                        ok,
                    };
                    if awaited {
                        self.replies.complete(id, Ok(incoming));
                    } else {
                        tracing::trace!(id, "reply for a call nobody waits on");
                    }
                }
                Event::Call {
                    id,
                    object,
                    target,
                    invoke,
                    site,
                    caps,
                    payload,
                    order,
                } => {
                    let caps = self.attach_caps(caps);
                    match self.weak_self.upgrade() {
                        Some(this) => {
                            this.on_call(id, object, target, invoke, site, caps, payload, order)
                        }
                        None => drop(self.input(|core, now| core.finish(id, None, now))),
                    }
                }
                Event::Require {
                    id,
                    name,
                    interface,
                    fingerprint,
                    site,
                    scope,
                } => match self.weak_self.upgrade() {
                    Some(this) => this.on_lookup(id, move |this| {
                        this.serve_require(&name, &interface, fingerprint, site, scope)
                    }),
                    None => self.finish_call(id, Err(RemoteError::Disconnected)),
                },
                Event::Global { id, name, site } => match self.weak_self.upgrade() {
                    Some(this) => this.on_lookup(id, move |this| this.serve_global(&name, site)),
                    None => self.finish_call(id, Err(RemoteError::Disconnected)),
                },
                Event::Site {
                    id,
                    file,
                    line,
                    column,
                } => lock(&self.site_names).name(id, format!("{file}:{line}:{column}")),
                // User `Drop` code runs here, with no lock held.
                Event::Freed(objects) => drop(objects),
                Event::Failed { id, error } => self.replies.complete(id, Err(error)),
                Event::Cancel { id } => self.serving.cancel(id),
                Event::Closed { why } => closed = Some(why),
            }
        }
        if let Some(why) = closed {
            self.teardown(&why);
        }
    }

    /// Turns a received frame's capability table into handles: each import
    /// joins the live proxy entry of its handle, or starts a new one that
    /// owns the arrival's hold.
    fn attach_caps(&self, caps: Vec<Arrived<Arc<dyn Dispatch>>>) -> Vec<Cap> {
        if caps.is_empty() {
            return Vec::new();
        }
        let this = self.weak_self.upgrade();
        let mut merged = Vec::new();
        let caps = caps
            .into_iter()
            .map(|cap| match cap {
                Arrived::Import {
                    id,
                    fingerprint,
                    props,
                } => {
                    let Some(this) = &this else {
                        merged.push(id);
                        return Cap::Invalid(RemoteError::Disconnected);
                    };
                    let mut entries = lock(&self.entries);
                    let entry = match entries.live(id) {
                        Some(entry) => {
                            // The live entry already holds the handle.
                            merged.push(id);
                            entry
                        }
                        None => {
                            let entry = Arc::new(ImportEntry::new(this.clone(), id, fingerprint));
                            entries.insert(id, &entry);
                            entry
                        }
                    };
                    drop(entries);
                    if let Some(props) = props {
                        entry.offer_snapshot(props);
                    }
                    Cap::Import(entry)
                }
                Arrived::Local(object) => Cap::Local(object),
                Arrived::Invalid(e) => Cap::Invalid(e),
            })
            .collect();
        if !merged.is_empty() {
            self.input(|core, now| {
                for id in merged {
                    core.unhold(id, now);
                }
            });
        }
        caps
    }

    // ----- handles -------------------------------------------------------------

    /// Records one send of a local object on this connection (see
    /// [`ExportTable::send`]); `site` is the peer call site it answers.
    pub(crate) fn count_send(
        &self,
        key: ObjKey,
        site: u32,
        make: impl FnOnce() -> Arc<dyn Dispatch>,
    ) -> Result<(u64, Option<Arc<dyn Dispatch>>), RemoteError> {
        let mut locked = lock(&self.core);
        let core = &mut locked.conn;
        let sent = core.lend(key, site, make)?;
        let live = core.exported();
        if live >= self.options.warn_handles && lock(&self.site_names).should_warn(live) {
            self.warn_about_handles(core.exports());
        }
        Ok(sent)
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

    /// Undoes sends that never left (the frame failed to encode or send).
    pub(crate) fn uncount(&self, ids: &[u64]) {
        if ids.is_empty() {
            return;
        }
        let dropped = self.input(|core, _| core.unsend(ids));
        drop(dropped);
    }

    /// The last proxy of an import entry is gone: its hold goes, and the
    /// owner is told in a batch.
    pub(crate) fn import_dropped(&self, id: u64, ptr: *const ImportEntry) {
        if self.is_closed() {
            return;
        }
        lock(&self.entries).forget(id, ptr);
        if self.input(|core, now| core.unhold(id, now)) {
            janitor::schedule(self.weak_self.clone());
        }
    }

    /// Sends every staged release now.
    pub(crate) fn flush_releases(&self) {
        self.input(|core, now| core.flush_releases(now));
    }

    // ----- receiving -----------------------------------------------------------

    /// Handles one frame from the peer. Runs on the connection's task (or,
    /// for an in-process reply, on the thread that sent it).
    pub(crate) fn handle_frame(&self, frame: Frame) {
        let (header, at) = match wire::parse_frame(&frame) {
            Ok(parsed) => parsed,
            Err(e) => {
                // Logged once, with the reason, as the connection closes.
                self.close(&e);
                return;
            }
        };
        let hello = matches!(header, Header::Hello { .. });
        self.input(|core, now| core.handle(header, Payload { frame, at }, now));
        if hello {
            // The peer's lease may need renewals sooner than planned.
            janitor::wake();
        }
    }

    /// Answers call (or require) `id`: its reply, or for a one-way call
    /// (`id` 0) nothing, undoing the sends its unsent value counted.
    pub(crate) fn finish_call(&self, id: u64, outcome: Result<Encoded, RemoteError>) {
        self.finish_call_then(id, outcome, || {});
    }

    /// [`Session::finish_call`], running `ended` once the answer is queued
    /// and before it can leave: a peer that has its reply never sees the
    /// call still counted as running.
    pub(crate) fn finish_call_then(
        &self,
        id: u64,
        outcome: Result<Encoded, RemoteError>,
        ended: impl FnOnce(),
    ) {
        if let Err(e) = &outcome {
            self.note_limit(e);
        }
        match outcome {
            // A one-way call owes nothing; the handles its unsent value
            // counted are taken back.
            Ok(encoded) if id == 0 => {
                self.uncount(&encoded.counted);
                ended();
            }
            Err(_) if id == 0 => ended(),
            Ok(Encoded {
                payload,
                caps,
                counted: _,
                pins,
            }) => {
                // The handles the reply passes home are let go before it
                // leaves too: a peer that saw the reply and then syncs
                // finds them released.
                let before_write = move || {
                    drop(pins);
                    ended();
                };
                let taken_back = self.input_with(
                    |core, now| core.finish(id, Some(Ok((caps, payload))), now),
                    Some(before_write),
                );
                drop(taken_back);
            }
            Err(error) => self.input_with(
                |core, now| drop(core.finish(id, Some(Err(error)), now)),
                Some(ended),
            ),
        }
    }

    // ----- time ------------------------------------------------------------------

    /// Periodic duties, run by the maintenance thread: staged releases, a
    /// renewal when we have been quiet, the handshake deadline and the
    /// peer's lease. Returns how many milliseconds until it is due again.
    pub(crate) fn maintain(&self, may_expire: bool) -> u64 {
        if self.is_closed() {
            return u64::MAX;
        }
        self.input(|core, now| {
            core.handle_timeout(now, may_expire);
            core.poll_timeout()
                .map_or(u64::MAX, |at| at.saturating_sub(now).max(1))
        })
    }

    // ----- the end ---------------------------------------------------------------

    /// Ends the connection: every pending call fails with `Disconnected`,
    /// everything the peer held is released, and the transport is closed.
    pub(crate) fn close(&self, why: &RemoteError) {
        let calls_get = match why {
            RemoteError::LeaseExpired => RemoteError::LeaseExpired,
            _ => RemoteError::Disconnected,
        };
        self.input(|core, _| core.close(why.clone(), calls_get));
    }

    /// Tells the peer goodbye and closes.
    pub(crate) fn goodbye(&self) {
        self.input(|core, now| core.goodbye(now));
    }

    /// The core closed: send its last frames, close the transport and let go
    /// of everything the connection kept.
    fn teardown(&self, why: &RemoteError) {
        if self.torn_down.swap(true, Ordering::AcqRel) {
            return;
        }
        // Said once, here, at the level a user would choose: a connection
        // ending is news; a peer cut off, or our own lease lost, is a
        // warning.
        match why {
            RemoteError::Disconnected => {
                tracing::info!(peer = %self.peer, "connection closed")
            }
            RemoteError::LeaseExpired
                if lock(&self.core).conn.closed_error() == RemoteError::Disconnected =>
            {
                tracing::warn!(
                    peer = %self.peer,
                    "peer cut off: silent for longer than its lease; everything it held was released"
                )
            }
            RemoteError::LeaseExpired => tracing::warn!(
                peer = %self.peer,
                "connection closed: the peer heard nothing from us for longer than our lease and released everything we held"
            ),
            RemoteError::Io(_) => {
                tracing::warn!(peer = %self.peer, reason = %why, "connection lost")
            }
            _ => tracing::warn!(peer = %self.peer, reason = %why, "peer cut off"),
        }
        // The last frames (an expired lease, a goodbye) reach the link
        // before it closes, even when another thread was writing: a link
        // closed under that writer would drop them.
        self.flush_all();
        self.orphan_running_calls();
        self.serving.abort_all();
        lock(&self.entries).clear();
        self.link.close();
        // User code (objects' `Drop`, close handlers): on the blocking
        // pool, never on the connection's task.
        let attached = std::mem::take(&mut *lock(&self.attached));
        let hooks = std::mem::take(&mut lock(&self.close_hooks).hooks);
        if !attached.is_empty() || !hooks.is_empty() {
            crate::rt::spawn_blocking(&self.rt, move || {
                drop(attached);
                for (_, hook) in hooks {
                    hook();
                }
            });
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

    /// Whether a line the peer caused may be logged now (see
    /// [`LogBudget`]): `Some` with the count held back before it.
    pub(crate) fn may_log(&self) -> Option<u64> {
        lock(&self.log).allow(now_ms())
    }

    pub(crate) fn stats(&self) -> SessionStats {
        // Taken before the core: nothing else is locked under it.
        let serving = self.running_calls();
        let locked = lock(&self.core);
        let core = &locked.conn;
        let lease = core.lease();
        SessionStats {
            peer: self.peer.to_string(),
            exported: core.exported(),
            imported: core.imported(),
            in_flight: core.in_flight(),
            kept_answers: core.kept(),
            closed: core.is_closed(),
            serving,
            lease: std::time::Duration::from_millis(lease.own_ms()),
            lease_remaining: std::time::Duration::from_millis(lease.remaining_ms(now_ms())),
            renew_every: std::time::Duration::from_millis(lease.renew_interval_ms()),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.close(&RemoteError::Disconnected);
    }
}

impl Peer for Session {
    fn handle_frame(&self, frame: Frame) {
        Session::handle_frame(self, frame);
    }
    fn is_closed(&self) -> bool {
        Session::is_closed(self)
    }
    fn close(&self, why: &RemoteError) {
        Session::close(self, why);
    }
}
