//! The simulated world: peers, connections, the network and the clock.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::Failure;
use crate::protocol::conn::{Arrived, Config, Conn, Event};
use crate::protocol::exports::ObjKey;
use crate::protocol::Exported;
use crate::wire::{self, codec, Body, Header, Invoke, Scope, To, WireCap};
use crate::RemoteError;

/// Serial numbers from here up are callback objects (served in order).
const CALLBACK_BASE: u64 = 1 << 32;
/// Serial numbers from here up are the server's relays: exports that
/// forward every call to a proxy it holds on another link.
const RELAY_BASE: u64 = 1 << 40;
const LEASE_MS: u64 = 300;
/// Frames take 0..=MAX_LATENCY ms; due work may lag by at most MAX_LAG ms.
const MAX_LATENCY: u64 = 4;
const MAX_LAG: u64 = 3;
const STEPS: usize = 1_500;
const SERVER: usize = 0;

/// A simulated local object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Obj {
    pub(crate) owner: usize,
    pub(crate) serial: u64,
}

impl Exported for Obj {
    fn key(&self) -> ObjKey {
        ObjKey {
            addr: ((self.owner as u64) << 56 | self.serial) as usize,
            fingerprint: 0,
        }
    }
    fn interface_name(&self) -> &'static str {
        "Sim"
    }
    fn ordered(&self) -> bool {
        (CALLBACK_BASE..RELAY_BASE).contains(&self.serial)
    }
}

/// Which lifetime protocol the peers speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// This core: a frame that passes a handle home holds it until queued.
    Counted,
    /// The protocol before it: nothing holds a handle going home, and the
    /// method's copy is dropped before its reply is queued.
    UncountedPassBack,
}

/// Which faults the scheduler injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Faults {
    None,
    /// Pauses longer than a lease, kills, and peers that stop reading.
    All,
}

/// What a simulated call asks of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Op {
    /// Return a (possibly already lent) server object.
    Give,
    /// Return the client's object that came as the argument.
    Echo,
    /// The argument is the server's own object, passed back.
    Back,
    /// Keep the client's object for a while.
    Keep,
    /// Call the client's callback object this many times, then return.
    Callbacks(u32),
    /// Take longer than a lease.
    Slow,
    /// (To the server) return a relay of a proxy it holds of another
    /// client's object.
    Relay,
}

/// The payload of a simulated frame.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Msg {
    None,
    Op {
        tag: u64,
        op: Op,
    },
    Answer {
        tag: u64,
        callbacks: u32,
    },
    Callback {
        tag: u64,
        index: u32,
    },
    /// An error reply (its `RemoteError`, as text).
    Error(String),
}

enum Item {
    Frame(Header, Msg),
    Eof,
}

struct CallRec {
    tag: u64,
    /// `None` for a require or a ping.
    op: Option<Op>,
    /// Sent to the answer of a kept call (pipelined).
    piped: bool,
    /// Sent to a relay: it may fail with `Disconnected` when the relay's
    /// other link ends.
    via_relay: bool,
}

/// A kept call of the client's whose answer it has not seen: calls may be
/// pipelined on it.
struct Promise {
    /// Calls pipelined on it so far.
    piped: u32,
    /// Its answer will be a relay (it was a call to one).
    relay: bool,
}

/// One connection: side 0 is the server, side 1 the client.
struct Link {
    peers: [usize; 2],
    ends: [Option<Conn<Obj, Msg>>; 2],
    /// `to[s]`: what travels to side `s`, with its delivery time.
    to: [VecDeque<(u64, Item)>; 2],
    eof_sent: [bool; 2],
    calls: [HashMap<u64, CallRec>; 2],
    /// The client's promises, by kept call ID.
    promises: HashMap<u64, Promise>,
    root: Option<u64>,
    requiring: bool,
}

struct Proxy {
    link: usize,
    id: u64,
    /// A proxy of a relay (or of what a call to one returned).
    relay: bool,
}

/// One relay of the server's: it holds one hold on import `id` of `link`
/// (the object it forwards to) until its export is freed.
struct RelayRec {
    link: usize,
    id: u64,
    /// Exports of it that live (one per link it was lent on).
    exports: u32,
    /// False once `link` closed: calls to it fail, and there is nothing
    /// to give back.
    live: bool,
}

enum Stage {
    Encode,
    Submit,
}

/// A call being served.
struct Job {
    link: usize,
    side: usize,
    id: u64,
    tag: u64,
    op: Op,
    args: Vec<Arrived<Obj>>,
    stage: Stage,
    ready_at: u64,
    caps: Vec<WireCap>,
    pins: Vec<u64>,
    callbacks: u32,
}

struct CbJob {
    link: usize,
    side: usize,
    seq: u64,
    tag: u64,
    index: u32,
    ready_at: u64,
}

struct Peer {
    alive: bool,
    paused_until: u64,
    deaf_until: u64,
    available_since: u64,
    reading_since: u64,
    proxies: Vec<Proxy>,
    jobs: Vec<Job>,
    callbacks: VecDeque<CbJob>,
    /// Callbacks run per call tag, and the last index seen.
    seen: HashMap<u64, u32>,
}

impl Peer {
    fn new() -> Peer {
        Peer {
            alive: true,
            paused_until: 0,
            deaf_until: 0,
            available_since: 0,
            reading_since: 0,
            proxies: Vec::new(),
            jobs: Vec::new(),
            callbacks: VecDeque::new(),
            seen: HashMap::new(),
        }
    }

    fn running(&self, now: u64) -> bool {
        self.alive && now >= self.paused_until
    }

    fn reading(&self, now: u64) -> bool {
        self.running(now) && now >= self.deaf_until
    }
}

/// splitmix64: small, fast and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

fn config() -> Config {
    Config {
        lease_ms: LEASE_MS,
        renew_cap_ms: 100,
        min_peer_lease_ms: 100,
        handshake_ms: 60_000,
        max_handles: 1 << 20,
        max_in_flight: 1 << 20,
        release_delay_ms: 1,
        releases_per_frame: 8,
        max_frame: 1 << 20,
        max_value: 1 << 20,
        max_queued_bytes: 1 << 30,
        max_kept: 1 << 20,
    }
}

fn bytes(msg: &Msg) -> Vec<u8> {
    let mut out = Vec::new();
    codec::encode_into(msg, &mut out).expect("sim messages encode");
    out
}

/// How much of the pipelining protocol a run exercised.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Coverage {
    /// Pipelined calls that arrived while the call they named still ran,
    /// so they waited for its answer.
    pub(crate) waited: u64,
    /// Pipelined calls whose reply the client received.
    pub(crate) answered: u64,
    /// Calls the server forwarded through a relay.
    pub(crate) relayed: u64,
}

pub(crate) struct World {
    seed: u64,
    protocol: Protocol,
    faults: Faults,
    rng: Rng,
    now: u64,
    step: usize,
    peers: Vec<Peer>,
    links: Vec<Link>,
    next_tag: u64,
    /// The server's relays, by serial.
    relays: HashMap<u64, RelayRec>,
    /// The relay of import `id` of link `from` exported on link `to`:
    /// `(from, id, to)` to its serial.
    relay_ids: HashMap<(usize, u64, usize), u64>,
    next_relay: u64,
    /// The server's calls forwarding a relayed call: `(link, call ID)` of
    /// the forward to `(link, call ID)` of the call it answers.
    forwards: HashMap<(usize, u64), (usize, u64)>,
    quiescing: bool,
    coverage: Coverage,
    trace: Option<Vec<String>>,
}

type Check = Result<(), String>;

impl World {
    pub(crate) fn new(seed: u64, protocol: Protocol, faults: Faults) -> World {
        let mut rng = Rng(seed);
        let clients = 1 + rng.below(3) as usize;
        let peers = (0..=clients).map(|_| Peer::new()).collect();
        let links = (1..=clients)
            .map(|client| Link {
                peers: [SERVER, client],
                ends: [Some(Conn::new(config(), 0)), Some(Conn::new(config(), 0))],
                to: [VecDeque::new(), VecDeque::new()],
                eof_sent: [false; 2],
                calls: [HashMap::new(), HashMap::new()],
                promises: HashMap::new(),
                root: None,
                requiring: false,
            })
            .collect();
        World {
            seed,
            protocol,
            faults,
            rng,
            now: 0,
            step: 0,
            peers,
            links,
            next_tag: 0,
            relays: HashMap::new(),
            relay_ids: HashMap::new(),
            next_relay: 0,
            forwards: HashMap::new(),
            quiescing: false,
            coverage: Coverage::default(),
            trace: None,
        }
    }

    /// The first `steps` actions, for replay tests.
    pub(crate) fn trace(mut self, steps: usize) -> Vec<String> {
        self.trace = Some(Vec::new());
        for _ in 0..steps {
            if self.step_once().is_err() {
                break;
            }
        }
        self.trace.take().unwrap_or_default()
    }

    fn note(&mut self, what: impl FnOnce() -> String) {
        if let Some(trace) = &mut self.trace {
            trace.push(format!("{} {}", self.now, what()));
        }
    }

    fn fail(&self, what: String) -> Failure {
        Failure {
            seed: self.seed,
            step: self.step,
            what: format!("{what} (at {} ms)", self.now),
        }
    }

    pub(crate) fn run(self) -> Result<(), Failure> {
        self.run_covered().map(drop)
    }

    /// [`World::run`], saying what it exercised.
    pub(crate) fn run_covered(mut self) -> Result<Coverage, Failure> {
        if std::env::var_os("REMOTE_SIM_TRACE").is_some() {
            self.trace = Some(Vec::new());
        }
        let mut result = Ok(());
        for _ in 0..STEPS {
            if let Err(e) = self.step_once() {
                result = Err(e);
                break;
            }
        }
        let result = result.and_then(|()| self.quiesce());
        if let (Err(_), Some(trace)) = (&result, &self.trace) {
            for line in trace.iter().rev().take(60).rev() {
                eprintln!("  {line}");
            }
        }
        result.map(|()| self.coverage).map_err(|e| self.fail(e))
    }

    fn step_once(&mut self) -> Check {
        self.step += 1;
        self.pump()?;
        match self.rng.below(100) {
            0..=29 => self.deliver_one(),
            30..=44 => self.run_job(),
            45..=54 => self.run_callback(),
            55..=79 if !self.quiescing => self.client_action(),
            80 if !self.quiescing => self.server_drops(),
            85 if !self.quiescing && self.faults == Faults::All => self.fault(),
            _ => self.advance(),
        }?;
        self.timers();
        self.pump()?;
        self.check_alive_while_named()?;
        self.check_no_orphan_calls()
    }

    // ----- the network --------------------------------------------------------

    fn deliver_one(&mut self) -> Check {
        let now = self.now;
        let ready: Vec<(usize, usize)> = (0..self.links.len())
            .flat_map(|l| [(l, 0), (l, 1)])
            .filter(|&(l, s)| {
                let link = &self.links[l];
                link.ends[s].is_some()
                    && self.peers[link.peers[s]].reading(now)
                    && link.to[s].front().is_some_and(|(at, _)| *at <= now)
            })
            .collect();
        if ready.is_empty() {
            return Ok(());
        }
        let (l, s) = ready[self.rng.below(ready.len() as u64) as usize];
        let (_, item) = self.links[l].to[s].pop_front().expect("front checked");
        match item {
            Item::Frame(header, msg) => {
                self.note(|| format!("deliver {l}/{s} {header:?}"));
                if let Header::Call {
                    to: To::Answer(kept),
                    ..
                } = header
                {
                    let me = self.links[l].peers[s];
                    if self.peers[me]
                        .jobs
                        .iter()
                        .any(|j| j.link == l && j.side == s && j.id == kept)
                    {
                        self.coverage.waited += 1;
                    }
                }
                let end = self.links[l].ends[s].as_mut().expect("checked live");
                end.handle(header, msg, now);
            }
            Item::Eof => {
                self.note(|| format!("eof {l}/{s}"));
                let end = self.links[l].ends[s].as_mut().expect("checked live");
                end.close(RemoteError::Disconnected, RemoteError::Disconnected);
            }
        }
        Ok(())
    }

    fn send(&mut self, l: usize, to: usize, item: Item) {
        let link = &mut self.links[l];
        if link.ends[to].is_none() {
            return;
        }
        let at = self.now + self.rng.below(MAX_LATENCY + 1);
        let at = link.to[to].back().map_or(at, |(last, _)| at.max(*last));
        link.to[to].push_back((at, item));
    }

    /// Moves every end's output into the network and its events into the
    /// peers, checking what arrives.
    fn pump(&mut self) -> Check {
        for l in 0..self.links.len() {
            for s in 0..2 {
                while let Some(end) = self.links[l].ends[s].as_mut() {
                    if let Some(t) = end.poll_transmit() {
                        let frame = t.frame.into_frame();
                        let (header, at) =
                            wire::parse_frame(&frame).map_err(|e| format!("sim frame: {e}"))?;
                        if matches!(header, Header::LeaseExpired) {
                            self.check_fair_expiry(l, s)?;
                        }
                        let payload = &frame.buf[at..];
                        let msg = if let Header::Reply { ok: false, .. } = header {
                            let (error, _) = codec::decode::<RemoteError>(payload)
                                .map_err(|e| format!("sim error reply: {e}"))?;
                            Msg::Error(error.to_string())
                        } else if payload.is_empty() {
                            Msg::None
                        } else {
                            codec::decode::<Msg>(payload)
                                .map_err(|e| format!("sim payload: {e}"))?
                                .0
                        };
                        self.send(l, 1 - s, Item::Frame(header, msg));
                        continue;
                    }
                    match end.poll_event() {
                        Some(event) => self.on_event(l, s, event)?,
                        None => break,
                    }
                }
                let closed = self.links[l].ends[s]
                    .as_ref()
                    .is_some_and(|e| e.is_closed());
                if closed && !self.links[l].eof_sent[s] {
                    self.links[l].eof_sent[s] = true;
                    self.send(l, 1 - s, Item::Eof);
                }
            }
        }
        Ok(())
    }

    fn end(&mut self, l: usize, s: usize) -> Option<&mut Conn<Obj, Msg>> {
        self.links[l].ends[s].as_mut()
    }

    fn on_event(&mut self, l: usize, s: usize, event: Event<Obj, Msg>) -> Check {
        let now = self.now;
        let me = self.links[l].peers[s];
        match event {
            Event::Reply {
                id,
                caps,
                payload,
                awaited,
                ..
            } => {
                if s == 0 {
                    if let Some(&(to, call)) = self.forwards.get(&(l, id)) {
                        self.forwards.remove(&(l, id));
                        return self.forward_reply(l, to, call, caps, payload);
                    }
                }
                // An unawaited reply (cancelled, or failed by a close) only
                // gives back what it carried.
                let rec = if awaited {
                    let rec = self.links[l].calls[s].remove(&id);
                    if rec.is_none() {
                        return Err(format!("reply {id} awaited by the core but not by the sim"));
                    }
                    rec
                } else {
                    None
                };
                for cap in caps {
                    match cap {
                        Arrived::Import { id: handle, .. } => {
                            let keep = match &rec {
                                Some(CallRec { op: None, .. }) => {
                                    self.links[l].requiring = false;
                                    self.links[l].root = Some(handle);
                                    true
                                }
                                Some(CallRec {
                                    op: Some(Op::Give | Op::Relay),
                                    ..
                                }) => true,
                                _ => false,
                            };
                            if keep {
                                let relay = rec
                                    .as_ref()
                                    .is_some_and(|r| r.via_relay || r.op == Some(Op::Relay));
                                self.peers[me].proxies.push(Proxy {
                                    link: l,
                                    id: handle,
                                    relay,
                                });
                            } else if let Some(end) = self.end(l, s) {
                                end.unhold(handle, now);
                            }
                        }
                        Arrived::Local(obj) if obj.owner == me => {}
                        Arrived::Local(obj) => {
                            return Err(format!("peer {me} got back {obj:?}, not its own"))
                        }
                        Arrived::Invalid(e) => {
                            return Err(format!(
                                "reply {id} on link {l} carried a bad handle: {e:?}"
                            ))
                        }
                    }
                }
                if rec.as_ref().is_some_and(|r| r.piped) {
                    self.coverage.answered += 1;
                }
                if let (Some(CallRec { tag, via_relay, .. }), Msg::Error(e)) = (&rec, &payload) {
                    // A relayed call fails when the relay's other link ends.
                    let relay_cut = *via_relay && *e == RemoteError::Disconnected.to_string();
                    if relay_cut {
                        // A promise settles with the error, and lets go.
                        if s == 1 && self.links[l].promises.remove(&id).is_some() {
                            if let Some(end) = self.end(l, s) {
                                end.finish_answer(id, now);
                            }
                        }
                        return Ok(());
                    }
                    return Err(format!(
                        "call {tag} (ID {id}) on link {l} was refused while open: {e}"
                    ));
                }
                // A kept call's answer arrived: its promise settles, and
                // the peer may forget the answer.
                if s == 1 && self.links[l].promises.remove(&id).is_some() {
                    if let Some(end) = self.end(l, s) {
                        end.finish_answer(id, now);
                    }
                }
                if let (
                    Some(CallRec {
                        tag,
                        op: Some(Op::Callbacks(n)),
                        ..
                    }),
                    Msg::Answer { callbacks, .. },
                ) = (&rec, &payload)
                {
                    let ran = self.peers[me].seen.get(tag).copied().unwrap_or(0);
                    if *callbacks != *n || ran != *n {
                        return Err(format!(
                            "call {tag} returned after {ran} of its {n} callbacks ran on the caller"
                        ));
                    }
                }
                Ok(())
            }
            Event::Call {
                id,
                object,
                target,
                caps,
                payload,
                order,
                ..
            } => {
                let Some(target) = target else {
                    return Err(format!(
                        "call {id} on link {l} side {s} to object {object}, which was freed while the caller held it"
                    ));
                };
                if target.serial >= RELAY_BASE {
                    return self.forward_call(l, id, target.serial, caps, payload);
                }
                if let Some(bad) = caps.iter().find_map(|c| match c {
                    Arrived::Invalid(e) => Some(e.clone()),
                    _ => None,
                }) {
                    return Err(format!(
                        "call {id} on link {l} carried a bad handle: {bad:?}"
                    ));
                }
                match (order, payload) {
                    (Some(seq), Msg::Callback { tag, index }) => {
                        let ready_at = now + self.rng.below(5);
                        self.peers[me].callbacks.push_back(CbJob {
                            link: l,
                            side: s,
                            seq,
                            tag,
                            index,
                            ready_at,
                        });
                        Ok(())
                    }
                    (None, Msg::Op { tag, op }) => {
                        let delay = match op {
                            Op::Slow => LEASE_MS + 100 + self.rng.below(400),
                            _ => self.rng.below(6),
                        };
                        self.peers[me].jobs.push(Job {
                            link: l,
                            side: s,
                            id,
                            tag,
                            op,
                            args: caps,
                            stage: Stage::Encode,
                            ready_at: now + delay,
                            caps: Vec::new(),
                            pins: Vec::new(),
                            callbacks: 0,
                        });
                        Ok(())
                    }
                    (order, payload) => Err(format!(
                        "unexpected call: order {order:?}, payload {payload:?}"
                    )),
                }
            }
            Event::Require { id, .. } => {
                let root = Obj {
                    owner: me,
                    serial: 0,
                };
                let end = self.end(l, s).expect("events come from live ends");
                let answer = end.lend(root.key(), 0, || root).map(|(handle, _)| {
                    vec![WireCap::Sender {
                        id: handle,
                        fingerprint: 0,
                        props: None,
                    }]
                });
                let answer = answer.ok().map(|caps| Ok((caps, Body::new())));
                end.finish(id, answer, now);
                Ok(())
            }
            Event::Global { id, .. } => {
                let end = self.end(l, s).expect("events come from live ends");
                end.finish(id, Some(Ok((Vec::new(), Body::new()))), now);
                Ok(())
            }
            Event::Freed(objects) => {
                for obj in objects {
                    if obj.serial >= RELAY_BASE && obj.owner == me {
                        self.relay_export_freed(obj.serial);
                    }
                }
                Ok(())
            }
            Event::Site { .. } => Ok(()),
            Event::Failed { id, error } if s == 0 && self.forwards.contains_key(&(l, id)) => {
                let (to, call) = self.forwards.remove(&(l, id)).expect("checked");
                if let Some(end) = self.end(to, 0) {
                    end.finish(call, Some(Err(error.across_relay())), now);
                }
                Ok(())
            }
            Event::Failed { id, .. } => {
                self.links[l].calls[s].remove(&id);
                if s == 1 {
                    self.links[l].promises.remove(&id);
                }
                Ok(())
            }
            Event::Cancel { id } => {
                // A call not yet run is dropped, as an aborted task is: its
                // arguments let go and it is answered with nothing.
                let jobs = &mut self.peers[me].jobs;
                let Some(i) = jobs.iter().position(|j| {
                    j.link == l && j.side == s && j.id == id && matches!(j.stage, Stage::Encode)
                }) else {
                    return Ok(());
                };
                let job = jobs.swap_remove(i);
                self.note(|| format!("abort {l}/{s} call {id}"));
                let end = self.end(l, s).expect("events come from live ends");
                for arg in job.args {
                    if let Arrived::Import { id, .. } = arg {
                        end.unhold(id, now);
                    }
                }
                end.finish(id, None, now);
                Ok(())
            }
            Event::Closed { why } => {
                self.note(|| format!("closed {l}/{s}: {why}"));
                self.drop_holds_on(l, s);
                Ok(())
            }
        }
    }

    /// A closed end's holds mean nothing any more: forget them.
    fn drop_holds_on(&mut self, l: usize, s: usize) {
        if s == 0 {
            // The relays to this link forward to nothing any more.
            for relay in self.relays.values_mut().filter(|r| r.link == l) {
                relay.live = false;
            }
        }
        let me = self.links[l].peers[s];
        let peer = &mut self.peers[me];
        peer.proxies.retain(|p| p.link != l);
        peer.jobs.retain(|j| j.link != l);
        peer.callbacks.retain(|c| c.link != l);
        if s == 1 {
            self.links[l].root = None;
            self.links[l].requiring = false;
            self.links[l].promises.clear();
        }
    }

    // ----- relays (the server forwarding to a third peer) --------------------------

    /// Lends link `to` the relay of import `id` of link `from`, for which
    /// the caller took one hold (kept by a new relay, given back when the
    /// relay exists already).
    fn relay_out(&mut self, from: usize, id: u64, to: usize) -> Result<WireCap, String> {
        let now = self.now;
        let serial = match self.relay_ids.get(&(from, id, to)) {
            Some(&serial) => {
                if let Some(end) = self.end(from, 0) {
                    end.unhold(id, now);
                }
                serial
            }
            None => {
                self.next_relay += 1;
                let serial = RELAY_BASE + self.next_relay;
                self.relay_ids.insert((from, id, to), serial);
                self.relays.insert(
                    serial,
                    RelayRec {
                        link: from,
                        id,
                        exports: 0,
                        live: true,
                    },
                );
                serial
            }
        };
        self.lend_out(
            to,
            Obj {
                owner: SERVER,
                serial,
            },
        )
    }

    /// Lends the server's object `obj` (a relay included) on link `to`.
    fn lend_out(&mut self, to: usize, obj: Obj) -> Result<WireCap, String> {
        let end = self.end(to, 0).ok_or("lend on a dead link")?;
        let (id, created) = end
            .lend(obj.key(), 0, || obj)
            .map_err(|e| format!("relay lend on link {to}: {e}"))?;
        if created.is_some() {
            if let Some(relay) = self.relays.get_mut(&obj.serial) {
                relay.exports += 1;
            }
        }
        Ok(WireCap::Sender {
            id,
            fingerprint: 0,
            props: None,
        })
    }

    /// An export of relay `serial` was freed on one link: when it was the
    /// last, the relay lets go of what it forwards to.
    fn relay_export_freed(&mut self, serial: u64) {
        let now = self.now;
        let Some(relay) = self.relays.get_mut(&serial) else {
            return;
        };
        relay.exports = relay.exports.saturating_sub(1);
        if relay.exports > 0 {
            return;
        }
        let relay = self.relays.remove(&serial).expect("found above");
        self.relay_ids.retain(|_, s| *s != serial);
        if relay.live {
            if let Some(end) = self.end(relay.link, 0) {
                end.unhold(relay.id, now);
            }
        }
    }

    /// Re-issues the capability table of a frame that arrived on link
    /// `from` for a frame on link `to`: a handle of `from`'s peer crosses
    /// as a relay, a relay coming home to its owner's link as the owner's
    /// handle (pinned until queued: the pins are returned), and the
    /// server's own objects as themselves.
    fn translate(
        &mut self,
        from: usize,
        to: usize,
        caps: Vec<Arrived<Obj>>,
    ) -> Result<(Vec<WireCap>, Vec<u64>), String> {
        let mut out = Vec::new();
        let mut pins = Vec::new();
        for cap in caps {
            match cap {
                Arrived::Import { id, .. } => out.push(self.relay_out(from, id, to)?),
                Arrived::Local(obj) => match self.relays.get(&obj.serial) {
                    Some(relay) if relay.link == to => {
                        let id = relay.id;
                        let end = self.end(to, 0).ok_or("translate to a dead link")?;
                        if !end.hold(id) {
                            return Err(format!("relay of a dead handle {id} on link {to}"));
                        }
                        pins.push(id);
                        out.push(WireCap::Receiver { id });
                    }
                    _ => out.push(self.lend_out(to, obj)?),
                },
                Arrived::Invalid(e) => return Err(format!("a relayed frame carried {e:?}")),
            }
        }
        Ok((out, pins))
    }

    /// Gives back what a frame that goes nowhere carried.
    fn drop_caps(&mut self, l: usize, caps: Vec<Arrived<Obj>>) {
        let now = self.now;
        if let Some(end) = self.end(l, 0) {
            for cap in caps {
                if let Arrived::Import { id, .. } = cap {
                    end.unhold(id, now);
                }
            }
        }
    }

    /// A call to relay `serial` arrived on link `l`: it goes on to the
    /// object, its handles translated, or fails at once when the relay's
    /// link ended.
    fn forward_call(
        &mut self,
        l: usize,
        id: u64,
        serial: u64,
        caps: Vec<Arrived<Obj>>,
        payload: Msg,
    ) -> Check {
        let now = self.now;
        let (to, object) = match self.relays.get(&serial) {
            Some(r)
                if r.live
                    && self.links[r.link].ends[0]
                        .as_ref()
                        .is_some_and(|e| !e.is_closed()) =>
            {
                (r.link, r.id)
            }
            _ => {
                self.drop_caps(l, caps);
                if let Some(end) = self.end(l, 0) {
                    end.finish(id, Some(Err(RemoteError::Disconnected)), now);
                }
                return Ok(());
            }
        };
        self.coverage.relayed += 1;
        let (caps, pins) = self.translate(l, to, caps)?;
        let end = self.end(to, 0).expect("checked live");
        let sent = end.call(
            To::Object(object),
            Invoke::default(),
            0,
            caps,
            Body::of(&bytes(&payload)),
            id != 0,
            false,
            false,
            now,
        );
        for pin in pins {
            end.unhold(pin, now);
        }
        match sent {
            Ok(0) => {
                if let Some(end) = self.end(l, 0) {
                    end.finish(0, None, now);
                }
            }
            Ok(forward) => {
                self.forwards.insert((to, forward), (l, id));
            }
            Err(e) => {
                if let Some(end) = self.end(l, 0) {
                    end.finish(id, Some(Err(e.across_relay())), now);
                }
            }
        }
        Ok(())
    }

    /// The answer to a forwarded call arrived on link `from`: it answers
    /// call `call` of link `to`, its handles translated back.
    fn forward_reply(
        &mut self,
        from: usize,
        to: usize,
        call: u64,
        caps: Vec<Arrived<Obj>>,
        payload: Msg,
    ) -> Check {
        let now = self.now;
        if self.end(to, 0).is_none_or(|e| e.is_closed()) {
            self.drop_caps(from, caps);
            return Ok(());
        }
        let answer = match payload {
            Msg::Error(e) => {
                self.drop_caps(from, caps);
                return Err(format!("a forwarded call failed at its object: {e}"));
            }
            payload => {
                let (caps, pins) = self.translate(from, to, caps)?;
                (caps, Body::of(&bytes(&payload)), pins)
            }
        };
        let (caps, body, pins) = answer;
        let end = self.end(to, 0).expect("checked live");
        end.finish(call, Some(Ok((caps, body))), now);
        for pin in pins {
            end.unhold(pin, now);
        }
        Ok(())
    }

    // ----- serving --------------------------------------------------------------

    fn run_job(&mut self) -> Check {
        let now = self.now;
        let ready: Vec<(usize, usize)> = (0..self.peers.len())
            .filter(|&p| self.peers[p].running(now))
            .flat_map(|p| {
                self.peers[p]
                    .jobs
                    .iter()
                    .enumerate()
                    .filter(|(_, j)| j.ready_at <= now)
                    .map(move |(i, _)| (p, i))
                    .collect::<Vec<_>>()
            })
            .collect();
        if ready.is_empty() {
            return Ok(());
        }
        let (p, i) = ready[self.rng.below(ready.len() as u64) as usize];
        let mut job = self.peers[p].jobs.swap_remove(i);
        match job.stage {
            Stage::Encode => {
                self.note(|| format!("encode {:?} {}/{}", job.op, job.link, job.side));
                self.encode(&mut job)?;
                job.stage = Stage::Submit;
                job.ready_at = now + self.rng.below(3);
                self.peers[p].jobs.push(job);
            }
            Stage::Submit => {
                self.note(|| format!("submit {:?} {}/{}", job.op, job.link, job.side));
                let Some(end) = self.links[job.link].ends[job.side].as_mut() else {
                    return Ok(());
                };
                let payload = bytes(&Msg::Answer {
                    tag: job.tag,
                    callbacks: job.callbacks,
                });
                end.finish(job.id, Some(Ok((job.caps, Body::of(&payload)))), now);
                for pin in job.pins {
                    end.unhold(pin, now);
                }
            }
        }
        Ok(())
    }

    /// Runs the method: builds its answer's capability table and lets go of
    /// its arguments, as a dispatcher does before the reply is queued.
    fn encode(&mut self, job: &mut Job) -> Check {
        let now = self.now;
        let me = self.links[job.link].peers[job.side];
        let protocol = self.protocol;
        let Some(end) = self.links[job.link].ends[job.side].as_mut() else {
            return Ok(());
        };
        let mut kept = None;
        for arg in std::mem::take(&mut job.args) {
            match (job.op, arg) {
                (Op::Echo, Arrived::Import { id, .. }) => {
                    job.caps.push(WireCap::Receiver { id });
                    if protocol == Protocol::Counted {
                        if !end.hold(id) {
                            return Err(format!("echo could not hold handle {id}"));
                        }
                        job.pins.push(id);
                    }
                    // The method's return value is dropped before its reply
                    // is queued.
                    end.unhold(id, now);
                }
                (Op::Keep, Arrived::Import { id, .. }) => kept = Some(id),
                (Op::Callbacks(n), Arrived::Import { id, .. }) => {
                    for index in 0..n {
                        let msg = bytes(&Msg::Callback {
                            tag: job.tag,
                            index,
                        });
                        if end
                            .call(
                                To::Object(id),
                                Invoke::default(),
                                0,
                                Vec::new(),
                                Body::of(&msg),
                                false,
                                false,
                                false,
                                now,
                            )
                            .is_err()
                        {
                            break;
                        }
                        job.callbacks += 1;
                    }
                    end.unhold(id, now);
                }
                (Op::Back, Arrived::Local(obj)) if obj.owner == me => {}
                (_, Arrived::Import { id, .. }) => {
                    end.unhold(id, now);
                }
                (op, arg) => return Err(format!("{op:?} got argument {arg:?}")),
            }
        }
        if job.op == Op::Give {
            let obj = Obj {
                owner: me,
                serial: 1 + self.rng.below(6),
            };
            if let Ok((id, _)) = end.lend(obj.key(), 0, || obj) {
                job.caps.push(WireCap::Sender {
                    id,
                    fingerprint: 0,
                    props: None,
                });
            }
        }
        if let Some(id) = kept {
            // A client serves only calls the server relayed: what it keeps
            // is a relay of the server's.
            self.peers[me].proxies.push(Proxy {
                link: job.link,
                id,
                relay: job.side == 1,
            });
        }
        if job.op == Op::Relay && job.side == 0 {
            // A relay of a proxy the server holds of another client's
            // object (none: the answer carries nothing).
            let candidates: Vec<(usize, u64)> = self.peers[SERVER]
                .proxies
                .iter()
                .filter(|p| {
                    p.link != job.link
                        && self.links[p.link].ends[0]
                            .as_ref()
                            .is_some_and(|e| !e.is_closed())
                })
                .map(|p| (p.link, p.id))
                .collect();
            let pick = self.rng.below(candidates.len() as u64 + 1) as usize;
            if let Some(&(from, id)) = candidates.get(pick) {
                if !self.end(from, 0).expect("checked open").hold(id) {
                    return Err(format!(
                        "the server could not hold its proxy {id} of link {from}"
                    ));
                }
                let cap = self.relay_out(from, id, job.link)?;
                job.caps.push(cap);
            }
        }
        Ok(())
    }

    fn run_callback(&mut self) -> Check {
        let now = self.now;
        let candidates: Vec<usize> = (0..self.peers.len())
            .filter(|&p| {
                self.peers[p].running(now)
                    && self.peers[p]
                        .callbacks
                        .front()
                        .is_some_and(|c| c.ready_at <= now)
            })
            .collect();
        if candidates.is_empty() {
            return Ok(());
        }
        let p = candidates[self.rng.below(candidates.len() as u64) as usize];
        let cb = self.peers[p].callbacks.pop_front().expect("front checked");
        let seen = self.peers[p].seen.entry(cb.tag).or_insert(0);
        if cb.index != *seen {
            return Err(format!(
                "callback {} of call {} ran after {} others: out of order",
                cb.index, cb.tag, seen
            ));
        }
        *seen += 1;
        self.note(|| format!("callback {} #{}", cb.tag, cb.index));
        if let Some(end) = self.end(cb.link, cb.side) {
            end.finish(0, None, now);
            end.ordered_done(cb.seq);
        }
        Ok(())
    }

    // ----- clients --------------------------------------------------------------

    fn client_action(&mut self) -> Check {
        let now = self.now;
        let l = self.rng.below(self.links.len() as u64) as usize;
        let me = self.links[l].peers[1];
        if !self.peers[me].running(now) || self.links[l].ends[1].is_none() {
            return Ok(());
        }
        if self.links[l].ends[1]
            .as_ref()
            .is_some_and(|e| e.is_closed())
        {
            return Ok(());
        }
        let Some(root) = self.links[l].root else {
            if !self.links[l].requiring {
                let end = self.end(l, 1).expect("checked");
                if let Ok(id) = end.require("root", "Sim", 0, 0, Scope::Exports, now) {
                    self.links[l].requiring = true;
                    self.next_tag += 1;
                    let tag = self.next_tag;
                    self.links[l].calls[1].insert(
                        id,
                        CallRec {
                            tag,
                            op: None,
                            piped: false,
                            via_relay: false,
                        },
                    );
                }
            }
            return Ok(());
        };
        match self.rng.below(10) {
            0..=5 => self.client_call(l, me, root),
            6 | 7 => {
                let mine: Vec<usize> = (0..self.peers[me].proxies.len())
                    .filter(|&i| self.peers[me].proxies[i].link == l)
                    .collect();
                if let Some(&i) = mine.get(self.rng.below(mine.len() as u64 + 1) as usize) {
                    let proxy = self.peers[me].proxies.swap_remove(i);
                    if self.links[l].root == Some(proxy.id)
                        && !self.peers[me]
                            .proxies
                            .iter()
                            .any(|p| p.link == l && p.id == proxy.id)
                    {
                        self.links[l].root = None;
                    }
                    self.note(|| format!("drop {l} {}", proxy.id));
                    let end = self.end(l, 1).expect("checked");
                    end.unhold(proxy.id, now);
                }
                Ok(())
            }
            8 => {
                let pending: Vec<u64> = self.links[l].calls[1].keys().copied().collect();
                let mut pending = pending;
                pending.sort_unstable();
                if let Some(&id) = pending.get(self.rng.below(pending.len() as u64 + 1) as usize) {
                    if self.links[l].promises.contains_key(&id) {
                        self.note(|| format!("drop promise {l} {id}"));
                        self.drop_promise(l, id);
                    } else if self.links[l].calls[1]
                        .get(&id)
                        .is_some_and(|c| c.op.is_some())
                    {
                        self.links[l].calls[1].remove(&id);
                        self.end(l, 1).expect("checked").cancel(id, now);
                    }
                }
                Ok(())
            }
            _ => {
                let end = self.end(l, 1).expect("checked");
                if let Ok(id) = end.ping(now) {
                    self.next_tag += 1;
                    let tag = self.next_tag;
                    // A ping's answer is a plain reply that carries nothing.
                    self.links[l].calls[1].insert(
                        id,
                        CallRec {
                            tag,
                            op: Some(Op::Slow),
                            piped: false,
                            via_relay: false,
                        },
                    );
                }
                Ok(())
            }
        }
    }

    fn client_call(&mut self, l: usize, me: usize, root: u64) -> Check {
        let now = self.now;
        let op = match self.rng.below(14) {
            0..=2 => Op::Give,
            3..=5 => Op::Echo,
            6 | 7 => Op::Back,
            8 | 12 => Op::Keep,
            9 | 10 => Op::Callbacks(1 + self.rng.below(4) as u32),
            11 => Op::Slow,
            _ => Op::Relay,
        };
        // Calls go to the root or to another server object we hold (a
        // relay among them).
        let held: Vec<(u64, bool)> = self.peers[me]
            .proxies
            .iter()
            .filter(|p| p.link == l)
            .map(|p| (p.id, p.relay))
            .collect();
        let targets: Vec<u64> = held.iter().map(|(id, _)| *id).collect();
        let relays: Vec<(u64, bool)> = held.iter().copied().filter(|(_, r)| *r).collect();
        let (target, mut via_relay) = match self.rng.below(3) {
            0 => held
                .get(self.rng.below(held.len() as u64 + 1) as usize)
                .copied()
                .unwrap_or((root, false)),
            1 if !relays.is_empty() => relays[self.rng.below(relays.len() as u64) as usize],
            _ => (root, false),
        };
        // Only the server makes relays.
        let op = if op == Op::Relay && via_relay {
            Op::Give
        } else {
            op
        };
        // Some calls go to the answer of a kept call still in flight
        // (pipelined), and some calls that return an object are kept.
        let mut promises: Vec<u64> = self.links[l].promises.keys().copied().collect();
        promises.sort_unstable();
        let to = match promises.get(self.rng.below(promises.len() as u64 * 2 + 1) as usize) {
            Some(&kept) => {
                via_relay = self.links[l].promises[&kept].relay;
                To::Answer(kept)
            }
            None => To::Object(target),
        };
        let op = if op == Op::Relay && via_relay {
            Op::Give
        } else {
            op
        };
        let keep = op == Op::Give && self.rng.chance(800);
        let mut caps = Vec::new();
        let mut pins = Vec::new();
        let mut drop_after = None;
        let protocol = self.protocol;
        let serial = match op {
            Op::Echo | Op::Keep => Some(1 + self.rng.below(6)),
            Op::Callbacks(_) => Some(CALLBACK_BASE + self.rng.below(3)),
            _ => None,
        };
        let back = (op == Op::Back)
            .then(|| {
                let i = self.rng.below(targets.len() as u64 + 1) as usize;
                targets.get(i).copied()
            })
            .flatten();
        let drop_it = self.rng.chance(500);
        let end = self.links[l].ends[1].as_mut().expect("checked");
        if let Some(serial) = serial {
            let obj = Obj { owner: me, serial };
            match end.lend(obj.key(), 0, || obj) {
                Ok((id, _)) => caps.push(WireCap::Sender {
                    id,
                    fingerprint: 0,
                    props: None,
                }),
                Err(_) => return Ok(()),
            }
        }
        let op = match (op, back) {
            (Op::Back, Some(id)) => {
                caps.push(WireCap::Receiver { id });
                if protocol == Protocol::Counted {
                    if !end.hold(id) {
                        return Err(format!("client could not hold handle {id}"));
                    }
                    pins.push(id);
                }
                if drop_it {
                    drop_after = Some(id);
                }
                Op::Back
            }
            (Op::Back, None) => Op::Give,
            (op, _) => op,
        };
        // Dropping our proxy while the call is being encoded: the pin keeps
        // the handle until the call is queued.
        if let Some(id) = drop_after {
            let proxies = &mut self.peers[me].proxies;
            if let Some(i) = proxies.iter().position(|p| p.link == l && p.id == id) {
                let proxy = proxies.swap_remove(i);
                if self.links[l].root == Some(proxy.id)
                    && !proxies.iter().any(|p| p.link == l && p.id == proxy.id)
                {
                    self.links[l].root = None;
                }
                self.links[l].ends[1]
                    .as_mut()
                    .expect("checked")
                    .unhold(proxy.id, now);
            } else {
                return Ok(());
            }
        }
        self.next_tag += 1;
        let tag = self.next_tag;
        let payload = bytes(&Msg::Op { tag, op });
        let end = self.links[l].ends[1].as_mut().expect("checked");
        let sent = end.call(
            to,
            Invoke::default(),
            0,
            caps,
            Body::of(&payload),
            true,
            keep,
            false,
            now,
        );
        for pin in pins {
            end.unhold(pin, now);
        }
        if let Ok(id) = sent {
            self.note(|| format!("call {l} {op:?} tag {tag} id {id} to {to:?} keep {keep}"));
            let piped = matches!(to, To::Answer(_));
            self.links[l].calls[1].insert(
                id,
                CallRec {
                    tag,
                    op: Some(op),
                    piped,
                    via_relay,
                },
            );
            if let To::Answer(kept) = to {
                if let Some(p) = self.links[l].promises.get_mut(&kept) {
                    p.piped += 1;
                }
            }
            if keep {
                self.links[l].promises.insert(
                    id,
                    Promise {
                        piped: 0,
                        relay: via_relay,
                    },
                );
            }
        }
        Ok(())
    }

    /// The client lets go of a promise before its answer arrived: with calls
    /// pipelined on it, it stops waiting without cancelling (they need the
    /// call to run); without, it cancels. Either way the peer may forget the
    /// answer.
    fn drop_promise(&mut self, l: usize, id: u64) {
        let now = self.now;
        let Some(promise) = self.links[l].promises.remove(&id) else {
            return;
        };
        self.links[l].calls[1].remove(&id);
        if let Some(end) = self.end(l, 1) {
            if promise.piped > 0 {
                end.abandon(id);
            } else {
                end.cancel(id, now);
            }
            end.finish_answer(id, now);
        }
    }

    fn server_drops(&mut self) -> Check {
        let now = self.now;
        if !self.peers[SERVER].running(now) || self.peers[SERVER].proxies.is_empty() {
            return Ok(());
        }
        let i = self.rng.below(self.peers[SERVER].proxies.len() as u64) as usize;
        let proxy = self.peers[SERVER].proxies.swap_remove(i);
        if let Some(end) = self.end(proxy.link, 0) {
            end.unhold(proxy.id, now);
        }
        Ok(())
    }

    // ----- faults -----------------------------------------------------------------

    fn fault(&mut self) -> Check {
        let now = self.now;
        let p = self.rng.below(self.peers.len() as u64) as usize;
        if !self.peers[p].running(now) {
            return Ok(());
        }
        let span = LEASE_MS + 100 + self.rng.below(LEASE_MS * 2);
        match self.rng.below(3) {
            0 => {
                self.note(|| format!("pause {p}"));
                let peer = &mut self.peers[p];
                peer.paused_until = now + span;
                peer.available_since = peer.paused_until;
                peer.reading_since = peer.reading_since.max(peer.paused_until);
            }
            1 => {
                self.note(|| format!("deaf {p}"));
                let peer = &mut self.peers[p];
                peer.deaf_until = now + span;
                peer.reading_since = peer.deaf_until;
            }
            _ if p != SERVER => {
                self.note(|| format!("kill {p}"));
                self.kill(p);
            }
            _ => {}
        }
        Ok(())
    }

    fn kill(&mut self, p: usize) {
        let peer = &mut self.peers[p];
        peer.alive = false;
        peer.proxies.clear();
        peer.jobs.clear();
        peer.callbacks.clear();
        for l in 0..self.links.len() {
            let Some(s) = self.links[l].peers.iter().position(|&q| q == p) else {
                continue;
            };
            let link = &mut self.links[l];
            link.ends[s] = None;
            link.to[s].clear();
            link.calls[s].clear();
            if !link.eof_sent[s] {
                link.eof_sent[s] = true;
                self.send(l, 1 - s, Item::Eof);
            }
        }
    }

    // ----- time -------------------------------------------------------------------

    /// The earliest moment some work falls due for a peer that can do it.
    fn next_due(&self) -> u64 {
        let now = self.now;
        let mut due = u64::MAX;
        for link in &self.links {
            for s in 0..2 {
                let peer = &self.peers[link.peers[s]];
                if let Some(end) = &link.ends[s] {
                    if peer.running(now) {
                        if let Some(at) = end.poll_timeout() {
                            due = due.min(at);
                        }
                    }
                    if peer.reading(now) {
                        if let Some((at, _)) = link.to[s].front() {
                            due = due.min(*at);
                        }
                    }
                }
            }
        }
        for peer in self.peers.iter().filter(|p| p.running(now)) {
            for job in &peer.jobs {
                due = due.min(job.ready_at);
            }
            if let Some(cb) = peer.callbacks.front() {
                due = due.min(cb.ready_at);
            }
        }
        due
    }

    /// Moves the clock, but never so far that due work lags by more than
    /// `MAX_LAG`: a running peer is never starved by the scheduler.
    fn advance(&mut self) -> Check {
        let long = self.rng.chance(50);
        let step = 1 + self.rng.below(if long { 60 } else { 4 });
        let limit = self.next_due().saturating_add(MAX_LAG);
        let mut target = (self.now + step).min(limit.max(self.now));
        // Wake-ups of paused or deaf peers are events too.
        for peer in &self.peers {
            for at in [peer.paused_until, peer.deaf_until] {
                if at > self.now {
                    target = target.min(at.max(self.now));
                }
            }
        }
        if target == self.now && limit == u64::MAX {
            target += 1;
        }
        self.now = target.max(self.now);
        Ok(())
    }

    fn timers(&mut self) {
        let now = self.now;
        for l in 0..self.links.len() {
            for s in 0..2 {
                let running = self.peers[self.links[l].peers[s]].running(now);
                // As a driver should: frames waiting to be read are read
                // before the peer is judged silent.
                let unread = self.links[l].to[s]
                    .front()
                    .is_some_and(|(at, _)| *at <= now);
                if let (Some(end), true) = (self.links[l].ends[s].as_mut(), running) {
                    if end.poll_timeout().is_some_and(|at| at <= now) {
                        end.handle_timeout(now, !unread);
                    }
                }
            }
        }
    }

    // ----- invariants -------------------------------------------------------------

    /// Invariant 1: every handle a peer holds, or a frame in flight names,
    /// is alive at its owner.
    fn check_alive_while_named(&self) -> Check {
        for (l, link) in self.links.iter().enumerate() {
            let (Some(a), Some(b)) = (&link.ends[0], &link.ends[1]) else {
                continue;
            };
            if a.is_closed() || b.is_closed() {
                continue;
            }
            for owner in 0..2 {
                let importer = 1 - owner;
                let end = link.ends[owner].as_ref().expect("checked");
                let peer = &self.peers[link.peers[importer]];
                // The server's relays hold what they forward to, too.
                let relayed: Vec<u64> = if importer == 0 {
                    self.relays
                        .values()
                        .filter(|r| r.link == l && r.live)
                        .map(|r| r.id)
                        .collect()
                } else {
                    Vec::new()
                };
                let held = peer
                    .proxies
                    .iter()
                    .filter(|p| p.link == l)
                    .map(|p| p.id)
                    .chain(relayed);
                let in_jobs = peer.jobs.iter().filter(|j| j.link == l).flat_map(|j| {
                    j.pins
                        .iter()
                        .copied()
                        .chain(j.args.iter().filter_map(|a| match a {
                            Arrived::Import { id, .. } => Some(*id),
                            _ => None,
                        }))
                });
                for id in held.chain(in_jobs) {
                    if end.export(id).is_none() {
                        return Err(format!(
                            "object {id} of link {l} side {owner} was freed while the peer held a proxy for it"
                        ));
                    }
                }
                let caps = |d: usize| {
                    link.to[d].iter().filter_map(|(_, item)| match item {
                        Item::Frame(Header::Call { caps, .. }, _)
                        | Item::Frame(Header::Reply { caps, .. }, _) => Some(caps),
                        _ => None,
                    })
                };
                for caps in caps(importer) {
                    for cap in caps {
                        if let WireCap::Sender { id, .. } = cap {
                            if end.export(*id).is_none() {
                                return Err(format!("object {id} of link {l} side {owner} was freed while a frame to its peer named it"));
                            }
                        }
                    }
                }
                for caps in caps(owner) {
                    for cap in caps {
                        if let WireCap::Receiver { id } = cap {
                            if end.export(*id).is_none() {
                                return Err(format!("object {id} of link {l} side {owner} was freed while a frame passing it home was in flight"));
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Invariant 3: a closed end has no call waiting.
    fn check_no_orphan_calls(&self) -> Check {
        for (l, link) in self.links.iter().enumerate() {
            for s in 0..2 {
                if let Some(end) = &link.ends[s] {
                    if end.is_closed() && (end.in_flight() > 0 || !link.calls[s].is_empty()) {
                        return Err(format!(
                            "link {l} side {s} closed with {} calls still pending",
                            link.calls[s].len().max(end.in_flight())
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Invariant 4: end `s` of link `l` expires its peer only if the peer
    /// was silent (paused) or we could not hear it (deaf) within the lease.
    fn check_fair_expiry(&self, l: usize, s: usize) -> Check {
        let link = &self.links[l];
        let us = &self.peers[link.peers[s]];
        let them = &self.peers[link.peers[1 - s]];
        let window = self.now.saturating_sub(LEASE_MS);
        if them.alive && them.available_since <= window && us.reading_since <= window {
            return Err(format!(
                "link {l} side {s} expired a peer that was running and heard for the whole lease"
            ));
        }
        Ok(())
    }

    /// Invariant 2: once clients let go and the network drains, every
    /// object is freed and nothing is held or pending.
    fn quiesce(&mut self) -> Check {
        self.quiescing = true;
        let now = self.now;
        for peer in &mut self.peers {
            peer.paused_until = peer.paused_until.min(now);
            peer.deaf_until = peer.deaf_until.min(now);
        }
        for l in 0..self.links.len() {
            let mut promises: Vec<u64> = self.links[l].promises.keys().copied().collect();
            promises.sort_unstable();
            for id in promises {
                self.drop_promise(l, id);
            }
        }
        for _round in 0..50 {
            for p in 0..self.peers.len() {
                for proxy in std::mem::take(&mut self.peers[p].proxies) {
                    let s = usize::from(p != SERVER);
                    let now = self.now;
                    if let Some(end) = self.end(proxy.link, s) {
                        end.unhold(proxy.id, now);
                    }
                }
            }
            for link in &mut self.links {
                link.root = None;
            }
            for _ in 0..400 {
                self.step_once()?;
            }
            let idle = self.links.iter().all(|l| {
                l.to[0].is_empty() && l.to[1].is_empty() && l.calls.iter().all(|c| c.is_empty())
            }) && self
                .peers
                .iter()
                .all(|p| p.jobs.is_empty() && p.callbacks.is_empty() && p.proxies.is_empty());
            if idle {
                // Staged releases wait for their delay.
                self.now += 10;
                self.timers();
                self.pump()?;
                for _ in 0..100 {
                    self.step_once()?;
                }
                break;
            }
        }
        if !self.relays.is_empty() || !self.forwards.is_empty() {
            return Err(format!(
                "after quiescing, the server still has {} relays and {} forwarded calls",
                self.relays.len(),
                self.forwards.len()
            ));
        }
        for (l, link) in self.links.iter().enumerate() {
            for s in 0..2 {
                if let Some(end) = &link.ends[s] {
                    if end.is_closed() {
                        continue;
                    }
                    if end.exported() > 0
                        || end.imported() > 0
                        || end.in_flight() > 0
                        || end.kept() > 0
                    {
                        return Err(format!(
                            "after quiescing, link {l} side {s} still has {} exported, {} imported, {} calls pending, {} answers kept",
                            end.exported(),
                            end.imported(),
                            end.in_flight(),
                            end.kept()
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}
