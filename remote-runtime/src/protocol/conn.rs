//! One connection's protocol state, as plain data and functions.
//!
//! [`Conn`] is fed what happened (a frame received, the time now, a local
//! request) and hands out what to do: frames to send ([`Conn::poll_transmit`]),
//! things for the driver to run or wake ([`Conn::poll_event`]) and when to
//! call it again ([`Conn::poll_timeout`]). It never reads a clock, touches a
//! socket, spawns or locks: the driver (or the simulator) does all of that,
//! which is what lets a test drive it step by step.
//!
//! `O` is a local object as the export table stores it; `P` is the payload
//! of a received frame, passed through untouched.

use std::collections::{HashMap, VecDeque};

use super::answers::{Answers, Route};
use super::exports::{ExportTable, ObjKey};
use super::imports::ImportLedger;
use super::lease::LeaseClock;
use super::Exported;
use crate::wire::{self, codec, Body, FrameKind, Header, Invoke, Scope, To, WireCap};
use crate::RemoteError;

/// The settings the core needs, all plain numbers.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Our lease: how long the peer may stay silent.
    pub(crate) lease_ms: u64,
    /// The longest we wait between renewals.
    pub(crate) renew_cap_ms: u64,
    /// The shortest lease we accept from the peer.
    pub(crate) min_peer_lease_ms: u64,
    /// How long the peer has to send its `Hello`.
    pub(crate) handshake_ms: u64,
    /// Live handles the peer may hold.
    pub(crate) max_handles: usize,
    /// Calls we may have waiting for a reply.
    pub(crate) max_in_flight: usize,
    /// How long a staged release waits for others to share its frame.
    pub(crate) release_delay_ms: u64,
    /// Entries per `Release` frame.
    pub(crate) releases_per_frame: usize,
    /// The largest frame we send.
    pub(crate) max_frame: usize,
    /// The most bytes of blobs beside one frame we send.
    pub(crate) max_value: usize,
    /// Bytes queued for a peer that does not read, past which its
    /// connection is closed.
    pub(crate) max_queued_bytes: usize,
    /// Answers of the peer's calls we keep for pipelining, and calls of
    /// its waiting on them (each).
    pub(crate) max_kept: usize,
}

/// What a call answers with, as [`Conn::finish`] is told.
pub(crate) type Outcome = Result<(Vec<WireCap>, Body), RemoteError>;

/// A call of the peer's, on its way to the object it names.
#[derive(Debug)]
pub(crate) struct PeerCall<O, P> {
    id: u64,
    invoke: Invoke,
    site: u32,
    caps: Vec<Arrived<O>>,
    payload: P,
}

/// A frame to send, length prefix included; `kind` is what a frame hook
/// sees (a `sync` answer is a reply of kind `Ping`).
#[derive(Debug)]
pub(crate) struct Transmit {
    pub(crate) frame: wire::OutFrame,
    pub(crate) kind: FrameKind,
}

/// One entry of a received frame's capability table, accounted for.
#[derive(Debug)]
pub(crate) enum Arrived<O> {
    /// A handle of the peer's. It carries one hold on the import ledger: the
    /// driver attaches it to a new proxy entry, or gives it back with
    /// [`Conn::unhold`] when a live entry already holds the handle.
    Import {
        id: u64,
        fingerprint: u64,
        props: Option<Vec<u8>>,
    },
    /// One of our own objects coming back.
    Local(O),
    /// An entry the peer had no right to send; decoding it fails with this.
    Invalid(RemoteError),
}

/// Something for the driver to do.
#[derive(Debug)]
pub(crate) enum Event<O, P> {
    /// The answer to call `id` (or a require, global or ping). `awaited` is
    /// false when nobody waits any more: the driver drops it, which releases
    /// what it carried.
    Reply {
        id: u64,
        ok: bool,
        caps: Vec<Arrived<O>>,
        payload: P,
        awaited: bool,
    },
    /// A call to serve. `target` is `None` when `object` is not live.
    /// `order` is set for targets that run one at a time in arrival order
    /// (callbacks): the driver reports each with [`Conn::ordered_done`].
    /// The driver answers with [`Conn::finish`].
    Call {
        id: u64,
        object: u64,
        target: Option<O>,
        invoke: Invoke,
        site: u32,
        caps: Vec<Arrived<O>>,
        payload: P,
        order: Option<u64>,
    },
    /// A name to resolve; answered with [`Conn::finish`].
    Require {
        id: u64,
        name: String,
        interface: String,
        fingerprint: u64,
        site: u32,
        scope: Scope,
    },
    /// A global to read; answered with [`Conn::finish`].
    Global { id: u64, name: String, site: u32 },
    /// The peer named one of its call sites.
    Site {
        id: u32,
        file: String,
        line: u32,
        column: u32,
    },
    /// Objects nobody holds any more: drop them outside any lock.
    Freed(Vec<O>),
    /// Call `id` will get no reply.
    Failed { id: u64, error: RemoteError },
    /// The peer stopped waiting for its call `id`: stop serving it if that
    /// is possible (the core still expects [`Conn::finish`] for it).
    Cancel { id: u64 },
    /// The connection ended; `why` is what the driver logs.
    Closed { why: RemoteError },
}

#[derive(Debug)]
enum Phase {
    /// Waiting for the peer's `Hello` until `deadline`.
    Opening {
        deadline: u64,
    },
    Open,
    /// Ended; calls made now fail with this.
    Closed(RemoteError),
}

/// A call of ours waiting for its reply.
#[derive(Debug)]
struct Waiting {
    /// The last one-way ordered call issued before this call was sent,
    /// when it must wait for the ones issued after (see [`Conn::call`]).
    after_order: Option<u64>,
}

/// Calls served one at a time in arrival order (callbacks), and replies
/// held until the callbacks that came before them have run.
#[derive(Debug)]
struct Order<O, P> {
    issued: u64,
    /// The last one-way ordered call issued: replies wait for these only
    /// (a two-way callback has its own answer, which its caller may stop
    /// waiting for).
    last_oneway: u64,
    /// Two-way ordered calls handed out and not yet done.
    twoway: std::collections::BTreeSet<u64>,
    done: u64,
    held: VecDeque<(u64, Event<O, P>)>,
}

impl<O, P> Order<O, P> {
    /// What a reply arriving now waits for: the last one-way callback, but
    /// not past a two-way callback still running (its caller may have
    /// stopped waiting for it; the callbacks behind it cannot run before it
    /// ends, and a reply held for them would wait on the peer's user code).
    fn barrier(&self) -> u64 {
        match self.twoway.range(self.done + 1..).next() {
            Some(&running) if running <= self.last_oneway => running - 1,
            _ => self.last_oneway,
        }
    }
}

/// One connection's protocol state.
pub(crate) struct Conn<O, P> {
    config: Config,
    exports: ExportTable<O>,
    imports: ImportLedger,
    lease: LeaseClock,
    phase: Phase,
    out: VecDeque<Transmit>,
    out_bytes: usize,
    staged: Vec<(u64, u64)>,
    release_at: Option<u64>,
    calls: HashMap<u64, Waiting>,
    next_id: u64,
    events: VecDeque<Event<O, P>>,
    order: Order<O, P>,
    log: super::budget::LogBudget,
    /// The peer's kept calls (see [`Answers`]).
    answers: Answers<O, PeerCall<O, P>>,
    /// Our kept calls whose answers we will not name again, to tell the
    /// peer with the next batch of releases.
    finished: Vec<u64>,
}

impl<O: Exported, P> Conn<O, P> {
    /// A new connection at time `now`; its `Hello` is the first frame out.
    pub(crate) fn new(config: Config, now: u64) -> Self {
        let lease = LeaseClock::new(
            config.lease_ms,
            config.renew_cap_ms,
            config.min_peer_lease_ms,
            now,
        );
        let max_kept = config.max_kept;
        let mut conn = Conn {
            phase: Phase::Opening {
                deadline: now.saturating_add(config.handshake_ms),
            },
            config,
            exports: ExportTable::default(),
            imports: ImportLedger::default(),
            lease,
            out: VecDeque::new(),
            out_bytes: 0,
            staged: Vec::new(),
            release_at: None,
            calls: HashMap::new(),
            next_id: 0,
            events: VecDeque::new(),
            order: Order {
                issued: 0,
                last_oneway: 0,
                twoway: Default::default(),
                done: 0,
                held: VecDeque::new(),
            },
            log: Default::default(),
            answers: Answers::new(max_kept),
            finished: Vec::new(),
        };
        let hello = Header::Hello {
            codec: <wire::codec::Active as wire::codec::Codec>::ID,
            lease_ms: conn.lease.own_ms(),
        };
        conn.push_control(hello, now);
        conn
    }

    // ----- state ----------------------------------------------------------

    pub(crate) fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed(_))
    }

    /// True once the peer's `Hello` arrived.
    pub(crate) fn is_established(&self) -> bool {
        !matches!(self.phase, Phase::Opening { .. })
    }

    /// The error a call on this connection gets once it is closed.
    pub(crate) fn closed_error(&self) -> RemoteError {
        match &self.phase {
            Phase::Closed(e) => e.clone(),
            _ => RemoteError::Disconnected,
        }
    }

    fn check_open(&self) -> Result<(), RemoteError> {
        match &self.phase {
            Phase::Closed(e) => Err(e.clone()),
            _ => Ok(()),
        }
    }

    pub(crate) fn exported(&self) -> usize {
        self.exports.len()
    }

    pub(crate) fn imported(&self) -> usize {
        self.imports.len()
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.calls.len()
    }

    /// Answers of the peer's calls we keep for its pipelined calls.
    pub(crate) fn kept(&self) -> usize {
        self.answers.len()
    }

    pub(crate) fn lease(&self) -> &LeaseClock {
        &self.lease
    }

    pub(crate) fn exports(&self) -> &ExportTable<O> {
        &self.exports
    }

    // ----- handles ----------------------------------------------------------

    /// Records one send of a local object (see [`ExportTable::send`]),
    /// within the connection's handle limit.
    pub(crate) fn lend(
        &mut self,
        key: ObjKey,
        site: u32,
        make: impl FnOnce() -> O,
    ) -> Result<(u64, Option<O>), RemoteError> {
        self.check_open()?;
        if self.exports.len() >= self.config.max_handles && self.exports.is_new(key) {
            return Err(RemoteError::LimitExceeded {
                what: "live handles on this connection".into(),
                limit: self.config.max_handles as u64,
            });
        }
        Ok(self.exports.send(key, site, make))
    }

    /// Undoes sends that never left; returns what to drop outside the lock.
    pub(crate) fn unsend(&mut self, ids: &[u64]) -> Vec<O> {
        ids.iter()
            .filter_map(|&id| self.exports.unsend(id))
            .collect()
    }

    /// The live local object behind `id`.
    #[cfg(test)]
    pub(crate) fn export(&self, id: u64) -> Option<O> {
        self.exports.get(id)
    }

    /// Holds an imported handle while an outgoing frame names it. False when
    /// the handle is not live on this connection. (The runtime holds a
    /// handle by keeping its proxy entry, itself one holder, alive.)
    #[cfg(test)]
    pub(crate) fn hold(&mut self, id: u64) -> bool {
        !self.is_closed() && self.imports.hold(id)
    }

    /// Drops one hold of an imported handle; the last stages its release.
    /// True when that armed the release timer (the first release of a
    /// batch).
    pub(crate) fn unhold(&mut self, id: u64, now: u64) -> bool {
        let Some(release) = self.imports.unhold(id) else {
            return false;
        };
        if self.is_closed() {
            return false;
        }
        self.staged.push(release);
        self.arm_release(now)
    }

    /// Queues every staged release (and finished answer) now, as few
    /// frames as possible.
    pub(crate) fn flush_releases(&mut self, now: u64) {
        self.release_at = None;
        if self.is_closed() {
            self.staged.clear();
            self.finished.clear();
            return;
        }
        let per_frame = self.config.releases_per_frame.max(1);
        let staged = std::mem::take(&mut self.staged);
        for chunk in staged.chunks(per_frame) {
            let header = Header::Release {
                entries: chunk.to_vec(),
            };
            self.push_control(header, now);
        }
        let finished = std::mem::take(&mut self.finished);
        for chunk in finished.chunks(per_frame) {
            let header = Header::Finish {
                answers: chunk.to_vec(),
            };
            self.push_control(header, now);
        }
    }

    /// We will name the answer of our kept call `id` no more: the peer is
    /// told with the next batch of releases. True when that armed the
    /// release timer.
    pub(crate) fn finish_answer(&mut self, id: u64, now: u64) -> bool {
        if self.is_closed() {
            return false;
        }
        self.finished.push(id);
        self.arm_release(now)
    }

    fn arm_release(&mut self, now: u64) -> bool {
        if self.release_at.is_some() {
            return false;
        }
        self.release_at = Some(now.saturating_add(self.config.release_delay_ms));
        true
    }

    // ----- calls we make ----------------------------------------------------

    fn register(&mut self, after_order: Option<u64>) -> Result<u64, RemoteError> {
        self.check_open()?;
        if self.calls.len() >= self.config.max_in_flight {
            return Err(RemoteError::LimitExceeded {
                what: "calls in flight on this connection".into(),
                limit: self.config.max_in_flight as u64,
            });
        }
        self.next_id += 1;
        let id = self.next_id;
        self.calls.insert(id, Waiting { after_order });
        Ok(id)
    }

    /// Sends a call to the peer's object `to`. With `reply` it returns the
    /// call's ID to wait on, else 0. With `keep`, the peer keeps the object
    /// the call answers with, so calls to [`To::Answer`] of this call may
    /// follow before the answer arrives; [`Conn::finish_answer`] lets it go.
    ///
    /// Its reply is held back until every one-way ordered call (callback)
    /// that arrived after it was sent has run, so events a call caused are seen
    /// before it returns (up to a two-way callback still running: see
    /// `Order::barrier`). A call made from inside an ordered call
    /// (`inside_ordered`) is exempt: later callbacks queue behind the one
    /// that is waiting, and holding its reply for them would deadlock.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn call(
        &mut self,
        to: To,
        invoke: Invoke,
        site: u32,
        caps: Vec<WireCap>,
        payload: Body,
        reply: bool,
        keep: bool,
        inside_ordered: bool,
        now: u64,
    ) -> Result<u64, RemoteError> {
        let id = if reply {
            let after = (!inside_ordered).then_some(self.order.last_oneway);
            self.register(after)?
        } else {
            self.check_open()?;
            0
        };
        let header = Header::Call {
            id,
            to,
            invoke,
            site,
            caps,
            keep: keep && reply,
        };
        if let Err(e) = self.push(&header, payload, header.kind(), now) {
            self.calls.remove(&id);
            return Err(e);
        }
        Ok(id)
    }

    /// Asks the peer to resolve `name`.
    pub(crate) fn require(
        &mut self,
        name: &str,
        interface: &str,
        fingerprint: u64,
        site: u32,
        scope: Scope,
        now: u64,
    ) -> Result<u64, RemoteError> {
        let id = self.register(None)?;
        let header = Header::Require {
            id,
            name: name.to_string(),
            interface: interface.to_string(),
            fingerprint,
            site,
            scope,
        };
        self.push_registered(id, header, now)
    }

    /// Asks the peer for global `name`.
    pub(crate) fn global(&mut self, name: &str, site: u32, now: u64) -> Result<u64, RemoteError> {
        let id = self.register(None)?;
        let header = Header::Global {
            id,
            name: name.to_string(),
            site,
        };
        self.push_registered(id, header, now)
    }

    /// Sends staged releases, then a ping whose answer comes once the peer
    /// has handled everything sent before it.
    pub(crate) fn ping(&mut self, now: u64) -> Result<u64, RemoteError> {
        self.flush_releases(now);
        let id = self.register(None)?;
        self.push_registered(id, Header::Ping { id }, now)
    }

    /// Names one of our call sites to the peer.
    pub(crate) fn site(&mut self, id: u32, file: &str, line: u32, column: u32, now: u64) {
        if !self.is_closed() {
            let header = Header::Site {
                id,
                file: file.to_string(),
                line,
                column,
            };
            self.push_control(header, now);
        }
    }

    /// Stops waiting for `id` and tells the peer it may stop serving it;
    /// a reply that still comes is handed out with `awaited: false`.
    pub(crate) fn cancel(&mut self, id: u64, now: u64) {
        if self.abandon(id) && !self.is_closed() {
            self.push_control(Header::Cancel { id }, now);
        }
    }

    /// Stops waiting for `id` without telling the peer (calls pipelined on
    /// its answer still need it to run). True when it was still waiting
    /// for its reply to arrive.
    pub(crate) fn abandon(&mut self, id: u64) -> bool {
        if self.calls.remove(&id).is_some() {
            return true;
        }
        // Its reply may have arrived and be held behind callbacks.
        for (_, event) in &mut self.order.held {
            if let Event::Reply {
                id: held, awaited, ..
            } = event
            {
                if *held == id {
                    *awaited = false;
                }
            }
        }
        false
    }

    /// Fails call `id` with `error` if it still waits (a deadline passed).
    pub(crate) fn fail(&mut self, id: u64, error: RemoteError) {
        if self.calls.remove(&id).is_some() {
            self.events.push_back(Event::Failed { id, error });
        }
    }

    // ----- calls we serve ---------------------------------------------------

    /// Answers call (or require, global) `id` that an event handed out:
    /// with its value and the handles it carries, with an error, or (`None`:
    /// a one-way call, or one abandoned) with nothing. A reply too large to
    /// send is answered with the error instead, and the handles it would
    /// have lent are taken back (returned, to drop outside any lock). Calls
    /// pipelined on a kept call go on to the object it answered with, or
    /// fail with its error.
    pub(crate) fn finish(&mut self, id: u64, answer: Option<Outcome>, now: u64) -> Vec<O> {
        if id == 0 {
            // A one-way call owes nothing.
            return Vec::new();
        }
        self.lease.end_busy(now);
        if self.is_closed() {
            return Vec::new();
        }
        let (settled, taken_back) = match answer {
            None => (Err(RemoteError::Cancelled), Vec::new()),
            Some(Err(error)) => {
                self.fail_reply(id, &error, now);
                (Err(error), Vec::new())
            }
            Some(Ok((caps, payload))) => {
                // What the answer names, for calls pipelined on it.
                let named = match caps.as_slice() {
                    [WireCap::Sender { id, .. }] => self
                        .exports
                        .get(*id)
                        .map(|object| (*id, object))
                        .ok_or(RemoteError::NoSuchObject { id: *id }),
                    [WireCap::Receiver { .. }] => Err(RemoteError::no_pipeline_target(None)),
                    _ => Err(RemoteError::no_pipeline_target(Some(caps.len()))),
                };
                let header = Header::Reply { id, ok: true, caps };
                match self.push(&header, payload, FrameKind::Reply, now) {
                    Ok(()) => (named, Vec::new()),
                    Err(error) => {
                        let Header::Reply { caps, .. } = header else {
                            unreachable!("built above")
                        };
                        let lent: Vec<u64> = caps
                            .iter()
                            .filter_map(|c| match c {
                                WireCap::Sender { id, .. } => Some(*id),
                                WireCap::Receiver { .. } => None,
                            })
                            .collect();
                        self.fail_reply(id, &error, now);
                        (Err(error), self.unsend(&lent))
                    }
                }
            }
        };
        let routes = self.answers.settle(id, settled);
        self.run_routes(routes, now);
        taken_back
    }

    /// Answers call `id` with `error`.
    pub(crate) fn fail_reply(&mut self, id: u64, error: &RemoteError, now: u64) {
        if id == 0 || self.is_closed() {
            return;
        }
        let mut payload = Body::new();
        if let Err(e) = codec::encode_into(error, payload.buf()) {
            tracing::error!(error = %e, "could not encode an error reply");
            return;
        }
        let header = Header::Reply {
            id,
            ok: false,
            caps: Vec::new(),
        };
        if let Err(e) = self.push(&header, payload, FrameKind::Reply, now) {
            tracing::error!(error = %e, "could not send an error reply");
        }
    }

    /// Ordered call `seq` has run: replies held for it go out.
    pub(crate) fn ordered_done(&mut self, seq: u64) {
        self.order.done = self.order.done.max(seq);
        self.order.twoway.remove(&seq);
        while self
            .order
            .held
            .front()
            .is_some_and(|(barrier, _)| *barrier <= self.order.done)
        {
            let (_, event) = self.order.held.pop_front().expect("front checked");
            self.events.push_back(event);
        }
    }

    // ----- input --------------------------------------------------------------

    /// Handles one frame from the peer.
    pub(crate) fn handle(&mut self, header: Header, payload: P, now: u64) {
        if self.is_closed() {
            return;
        }
        self.lease.heard(now);
        match header {
            Header::Hello { lease_ms, .. } => {
                self.lease.set_peer(lease_ms);
                if matches!(self.phase, Phase::Opening { .. }) {
                    self.phase = Phase::Open;
                }
            }
            Header::Reply { id, ok, caps } => {
                let caps = self.accept(caps);
                let waiting = self.calls.remove(&id);
                let barrier = waiting
                    .as_ref()
                    .and_then(|w| w.after_order)
                    .filter(|&after| self.order.last_oneway > after)
                    .map(|_| self.order.barrier())
                    .filter(|&b| b > self.order.done);
                let event = Event::Reply {
                    id,
                    ok,
                    caps,
                    payload,
                    awaited: waiting.is_some(),
                };
                match barrier {
                    Some(barrier) => self.order.held.push_back((barrier, event)),
                    None => self.events.push_back(event),
                }
            }
            Header::Call {
                id,
                to,
                invoke,
                site,
                caps,
                keep,
            } => {
                let caps = self.accept(caps);
                // We owe the peer a reply only for a two-way call.
                if id != 0 {
                    self.lease.begin_busy();
                    if keep {
                        if let Err(e) = self.answers.keep(id) {
                            tracing::debug!(id, error = %e, "answer not kept");
                        }
                    }
                }
                let call = PeerCall {
                    id,
                    invoke,
                    site,
                    caps,
                    payload,
                };
                match to {
                    To::Object(object) => {
                        let target = self.exports.get(object);
                        self.deliver(object, target, call);
                    }
                    To::Answer(kept) => {
                        let route = self.answers.route(kept, call);
                        self.run_routes(vec![route], now);
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
                self.lease.begin_busy();
                self.events.push_back(Event::Require {
                    id,
                    name,
                    interface,
                    fingerprint,
                    site,
                    scope,
                });
            }
            Header::Global { id, name, site } => {
                self.lease.begin_busy();
                self.events.push_back(Event::Global { id, name, site });
            }
            Header::Release { entries } => self.apply_releases(&entries, now),
            Header::Finish { answers } => {
                let freed: Vec<O> = answers
                    .iter()
                    .filter_map(|&id| self.answers.finish(id))
                    .collect();
                if !freed.is_empty() {
                    self.events.push_back(Event::Freed(freed));
                }
            }
            Header::Ping { id } => {
                // Our staged releases go first, so the peer has applied them
                // when its sync returns.
                self.flush_releases(now);
                let reply = Header::Reply {
                    id,
                    ok: true,
                    caps: Vec::new(),
                };
                // Small and fixed: it cannot exceed any frame limit.
                let _ = self.push(&reply, Body::new(), FrameKind::Ping, now);
            }
            Header::Renew => {}
            Header::Site {
                id,
                file,
                line,
                column,
            } => self.events.push_back(Event::Site {
                id,
                file,
                line,
                column,
            }),
            Header::Cancel { id } => self.events.push_back(Event::Cancel { id }),
            Header::Goodbye => self.close(RemoteError::Disconnected, RemoteError::Disconnected),
            Header::LeaseExpired => {
                self.close(RemoteError::LeaseExpired, RemoteError::LeaseExpired)
            }
        }
    }

    /// Hands a call of the peer's to the driver, for `target` (`None`: not
    /// live; the driver refuses it).
    fn deliver(&mut self, object: u64, target: Option<O>, call: PeerCall<O, P>) {
        let PeerCall {
            id,
            invoke,
            site,
            caps,
            payload,
        } = call;
        let order = target.as_ref().filter(|t| t.ordered()).map(|_| {
            self.order.issued += 1;
            if id == 0 {
                self.order.last_oneway = self.order.issued;
            } else {
                self.order.twoway.insert(self.order.issued);
            }
            self.order.issued
        });
        self.events.push_back(Event::Call {
            id,
            object,
            target,
            invoke,
            site,
            caps,
            payload,
            order,
        });
    }

    /// Runs or refuses calls sent to kept answers. A refused call that was
    /// kept itself fails what was pipelined on it in turn.
    fn run_routes(&mut self, routes: Vec<Route<O, PeerCall<O, P>>>, now: u64) {
        let mut work: VecDeque<_> = routes.into();
        while let Some(route) = work.pop_front() {
            match route {
                Route::Wait => {}
                Route::Run { id, object, call } => self.deliver(id, Some(object), call),
                Route::Refuse { call, error } => {
                    let mut freed = Vec::new();
                    for cap in call.caps {
                        match cap {
                            Arrived::Import { id, .. } => {
                                self.unhold(id, now);
                            }
                            Arrived::Local(object) => freed.push(object),
                            Arrived::Invalid(_) => {}
                        }
                    }
                    if !freed.is_empty() {
                        self.events.push_back(Event::Freed(freed));
                    }
                    if call.id != 0 {
                        self.fail_reply(call.id, &error, now);
                        self.lease.end_busy(now);
                        work.extend(self.answers.settle(call.id, Err(error)));
                    }
                }
            }
        }
    }

    /// Accounts for every handle a frame carries, before its payload is
    /// decoded.
    fn accept(&mut self, caps: Vec<WireCap>) -> Vec<Arrived<O>> {
        caps.into_iter()
            .map(|cap| match cap {
                WireCap::Sender {
                    id,
                    fingerprint,
                    props,
                } => match self.imports.receive(id, fingerprint) {
                    Ok(()) => Arrived::Import {
                        id,
                        fingerprint,
                        props,
                    },
                    Err(conflict) => Arrived::Invalid(RemoteError::Protocol(format!(
                        "handle {id} arrived with fingerprint {fingerprint:#x} but is live with {:#x}",
                        conflict.known
                    ))),
                },
                WireCap::Receiver { id } => match self.exports.get(id) {
                    Some(object) => Arrived::Local(object),
                    None => Arrived::Invalid(RemoteError::NoSuchObject { id }),
                },
            })
            .collect()
    }

    fn apply_releases(&mut self, entries: &[(u64, u64)], now: u64) {
        let mut freed = Vec::new();
        let mut bad = 0usize;
        let mut first_error = None;
        for &(id, count) in entries {
            match self.exports.release(id, count) {
                Ok(Some(object)) => freed.push(object),
                Ok(None) => {}
                Err(e) => {
                    bad += 1;
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(error) = first_error {
            // One line per frame, however many entries were bad, and a
            // few frames' worth a second.
            if let Some(held_back) = self.log.allow(now) {
                tracing::warn!(bad, %error, held_back, "bad release entries ignored");
            }
        }
        if !freed.is_empty() {
            self.events.push_back(Event::Freed(freed));
        }
    }

    // ----- time ---------------------------------------------------------------

    /// The next time [`Conn::handle_timeout`] has something to do.
    pub(crate) fn poll_timeout(&self) -> Option<u64> {
        if self.is_closed() {
            return None;
        }
        let mut next = self.lease.renew_at();
        if !self.exports.is_empty() {
            if let Some(at) = self.lease.expires_at() {
                next = next.min(at.saturating_add(1));
            }
        }
        if let Phase::Opening { deadline } = self.phase {
            next = next.min(deadline);
        }
        if let Some(at) = self.release_at {
            next = next.min(at);
        }
        Some(next)
    }

    /// Does what is due at `now`: staged releases, a renewal, the handshake
    /// deadline, and (when `may_expire`) the peer's lease. A driver that
    /// knows it was starved passes `may_expire: false`: the peer's
    /// renewals were late for the same reason.
    pub(crate) fn handle_timeout(&mut self, now: u64, may_expire: bool) {
        if self.is_closed() {
            return;
        }
        if self.release_at.is_some_and(|at| now >= at) {
            self.flush_releases(now);
        }
        if let Phase::Opening { deadline } = self.phase {
            if now >= deadline {
                let why = RemoteError::Protocol(format!(
                    "the peer sent no Hello within {} ms",
                    self.config.handshake_ms
                ));
                self.close(why, RemoteError::Disconnected);
                return;
            }
        }
        if may_expire && !self.exports.is_empty() && self.lease.lapsed(now) {
            // The driver logs it as the connection closes.
            self.push_control(Header::LeaseExpired, now);
            self.close(RemoteError::LeaseExpired, RemoteError::Disconnected);
            return;
        }
        if self.lease.renew_due(now) {
            self.push_control(Header::Renew, now);
        }
    }

    // ----- the end ------------------------------------------------------------

    /// Says goodbye to the peer and closes.
    pub(crate) fn goodbye(&mut self, now: u64) {
        if !self.is_closed() {
            self.flush_releases(now);
            self.push_control(Header::Goodbye, now);
            self.close(RemoteError::Disconnected, RemoteError::Disconnected);
        }
    }

    /// Ends the connection: every waiting call fails with `calls_get`, all
    /// the peer held is freed and all we held is forgotten. Frames already
    /// queued stay queued, so a final `LeaseExpired` or `Goodbye` still goes
    /// out.
    pub(crate) fn close(&mut self, why: RemoteError, calls_get: RemoteError) {
        if self.is_closed() {
            return;
        }
        self.phase = Phase::Closed(calls_get.clone());
        // A reply still held behind callbacks that will now never run is not
        // handed out: its call fails like the others, and the reply goes to
        // the driver unawaited (to be dropped outside any lock).
        let mut ids: Vec<u64> = self.calls.drain().map(|(id, _)| id).collect();
        for (_, mut event) in std::mem::take(&mut self.order.held) {
            if let Event::Reply { id, awaited, .. } = &mut event {
                if *awaited {
                    ids.push(*id);
                }
                *awaited = false;
            }
            self.events.push_back(event);
        }
        ids.sort_unstable();
        for id in ids {
            self.events.push_back(Event::Failed {
                id,
                error: calls_get.clone(),
            });
        }
        let mut freed = self.exports.drain();
        // Calls that waited on kept answers are dropped with what they
        // carried (the imports are forgotten below).
        let (kept, waited) = self.answers.drain();
        freed.extend(kept);
        freed.extend(waited.into_iter().flat_map(|call| {
            call.caps.into_iter().filter_map(|cap| match cap {
                Arrived::Local(object) => Some(object),
                _ => None,
            })
        }));
        if !freed.is_empty() {
            self.events.push_back(Event::Freed(freed));
        }
        self.imports.clear();
        self.staged.clear();
        self.finished.clear();
        self.release_at = None;
        self.events.push_back(Event::Closed { why });
    }

    // ----- output -------------------------------------------------------------

    /// Queues a frame, refusing one over the frame limit.
    fn push(
        &mut self,
        header: &Header,
        payload: Body,
        kind: FrameKind,
        now: u64,
    ) -> Result<(), RemoteError> {
        if header.caps().len() > wire::MAX_HANDLES_PER_FRAME {
            return Err(RemoteError::LimitExceeded {
                what: "handles in one call or reply".into(),
                limit: wire::MAX_HANDLES_PER_FRAME as u64,
            });
        }
        let frame = wire::build_frame(
            header,
            payload,
            self.config.max_frame,
            self.config.max_value,
        )?;
        self.lease.sent(now);
        self.out_bytes += frame.len();
        self.out.push_back(Transmit { frame, kind });
        if self.out_bytes > self.config.max_queued_bytes && !self.is_closed() {
            let why = RemoteError::LimitExceeded {
                what: "bytes queued for a peer that does not read".into(),
                limit: self.config.max_queued_bytes as u64,
            };
            self.close(why, RemoteError::Disconnected);
        }
        Ok(())
    }

    /// Queues a frame of ours with no payload (a control frame).
    fn push_control(&mut self, header: Header, now: u64) {
        if let Err(e) = self.push(&header, Body::new(), header.kind(), now) {
            // Only a name longer than the frame limit gets here.
            tracing::warn!(error = %e, "control frame not sent");
        }
    }

    /// Queues a frame for call `id`, registered just before.
    fn push_registered(&mut self, id: u64, header: Header, now: u64) -> Result<u64, RemoteError> {
        match self.push(&header, Body::new(), header.kind(), now) {
            Ok(()) => Ok(id),
            Err(e) => {
                self.calls.remove(&id);
                Err(e)
            }
        }
    }

    /// The next frame to send, in the order they were queued.
    pub(crate) fn poll_transmit(&mut self) -> Option<Transmit> {
        let t = self.out.pop_front()?;
        self.out_bytes -= t.frame.len();
        Some(t)
    }

    /// The next thing for the driver to do.
    pub(crate) fn poll_event(&mut self) -> Option<Event<O, P>> {
        self.events.pop_front()
    }
}
