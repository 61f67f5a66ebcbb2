//! Capability tables under hostile frames, on a live server over a Unix
//! socket.
//!
//! One server (exporting a `Hub` whose methods take and return handles:
//! `Other` objects and `Window`s with properties) and one well-behaved
//! `Client` live for the whole run. Each input is a script (decoded with
//! `arbitrary`) run on a fresh raw connection that says hello and requires
//! `hub`: calls and replies whose capability tables mix, in any order,
//!
//! - `Sender` caps (the peer lending objects of its own): any IDs, the
//!   fingerprints of the server's traits or any other, property snapshots
//!   that decode or not;
//! - `Receiver` caps (the server's own objects coming home): IDs the peer
//!   was given and holds, ones it released, made-up ones, repeated ones;
//!
//! sometimes repeated up to exactly the per-frame limit
//! (`MAX_HANDLES_PER_FRAME`) or one past it; payloads well-typed (pointing
//! into the table) or not; and releases with any counts. Every two-way call
//! is awaited; replies and releases from the server are read by a thread of
//! the peer's and accounted: what the server lent the peer, and what it
//! released of what the peer lent it.
//!
//! Checked:
//! - the server never panics (libFuzzer's panic hook aborts on any panic,
//!   on any thread, caught or not), and answers every two-way call;
//! - while the raw connection is still open, once its calls are done: after
//!   the peer releases exactly what it still holds by its own count, the
//!   server holds nothing for it (`exported` 0), and holds nothing of the
//!   peer's (`imported` 0); every handle the peer lent with one fingerprint
//!   was released exactly as many times as it was sent (never more, with
//!   several fingerprints);
//! - after every input the good client is still served correctly;
//! - once the raw connection is closed, the server's exported count is back
//!   to what the good client holds, and no object made for the raw peer is
//!   alive.
#![no_main]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use common::{eventually, play, script_enum, Counted, Live, Wire};
use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use remote::__private::Target;
use remote::testing::{self, RawCap};
use remote::{remote_object, Remote, MAX_HANDLES_PER_FRAME};

// ---------------------------------------------------------------------------
// The exported objects, and what they count.

/// `Other`s alive now.
static LIVE_OTHERS: AtomicUsize = AtomicUsize::new(0);
/// `Window`s alive now.
static LIVE_WINDOWS: AtomicUsize = AtomicUsize::new(0);

#[remote_object]
pub trait Hub: Send + Sync {
    fn ping(&self) -> u64;
    fn spawn(&self, start: u64) -> Remote<dyn Other>;
    /// `n % 8` new objects.
    fn spawn_many(&self, n: u8) -> Vec<Remote<dyn Other>>;
    fn window(&self, title: String) -> Remote<dyn Window>;
    /// The value of an `Other` of ours (`u64::MAX` for anyone else's).
    fn take(&self, other: Remote<dyn Other>) -> u64;
    fn echo(&self, other: Remote<dyn Other>) -> Remote<dyn Other>;
    fn maybe(&self, other: Option<Remote<dyn Other>>) -> Option<Remote<dyn Other>>;
    /// How many of `others` are ours.
    fn many(&self, others: Vec<Remote<dyn Other>>) -> u32;
    /// A window's title: ours read directly, anyone else's from the
    /// snapshot that came with it (no call to the peer).
    fn title(&self, window: Remote<dyn Window>) -> Option<String>;
    fn pair(&self, other: Remote<dyn Other>, window: Remote<dyn Window>) -> (u64, Option<String>);
}

/// `Hub`'s method IDs.
const PING: u32 = testing::method_id("ping");
const SPAWN: u32 = testing::method_id("spawn");
const SPAWN_MANY: u32 = testing::method_id("spawn_many");
const WINDOW: u32 = testing::method_id("window");
const TAKE: u32 = testing::method_id("take");
const ECHO: u32 = testing::method_id("echo");
const MAYBE: u32 = testing::method_id("maybe");
const MANY: u32 = testing::method_id("many");
const TITLE: u32 = testing::method_id("title");
const PAIR: u32 = testing::method_id("pair");

#[remote_object]
pub trait Other: Send + Sync {
    fn get(&self) -> u64;
}

#[remote_object]
pub trait Window: Send + Sync {
    #[property]
    fn title(&self) -> String;
    #[property]
    fn size(&self) -> (u32, u32);
    fn close(&self);
}

/// The IDs of `Other::get` and `Window::close`.
const GET: u32 = testing::method_id("get");
const CLOSE: u32 = testing::method_id("close");

/// The methods a `Garbage` call picks by index: `Hub`'s, then `Other`'s,
/// then `Window`'s (its properties are methods too), each in declaration
/// order (checked when the fixture starts). `Hub::title` and
/// `Window::title` share a name, hence an ID. An index past the end picks
/// `common::NO_METHOD`, which nothing has.
const METHODS: [&str; 14] = [
    "ping",
    "spawn",
    "spawn_many",
    "window",
    "take",
    "echo",
    "maybe",
    "many",
    "title",
    "pair",
    // `Other`'s.
    "get",
    // `Window`'s.
    "title",
    "size",
    "close",
];

/// Where `Other`'s and `Window`'s methods start in `METHODS`.
const OTHER_METHODS: usize = 10;
const WINDOW_METHODS: usize = 11;

struct HubImpl;

impl Hub for HubImpl {
    fn ping(&self) -> u64 {
        7
    }
    fn spawn(&self, start: u64) -> Remote<dyn Other> {
        Remote::new(OtherImpl {
            value: start,
            _alive: Counted::new(&LIVE_OTHERS),
        })
    }
    fn spawn_many(&self, n: u8) -> Vec<Remote<dyn Other>> {
        (0..u64::from(n % 8)).map(|i| self.spawn(i)).collect()
    }
    fn window(&self, title: String) -> Remote<dyn Window> {
        Remote::new(WindowImpl {
            title,
            _alive: Counted::new(&LIVE_WINDOWS),
        })
    }
    fn take(&self, other: Remote<dyn Other>) -> u64 {
        // Only local objects are called: a raw peer never answers calls.
        other.local().map(|o| o.get()).unwrap_or(u64::MAX)
    }
    fn echo(&self, other: Remote<dyn Other>) -> Remote<dyn Other> {
        other
    }
    fn maybe(&self, other: Option<Remote<dyn Other>>) -> Option<Remote<dyn Other>> {
        other
    }
    fn many(&self, others: Vec<Remote<dyn Other>>) -> u32 {
        others.iter().filter(|o| o.local().is_some()).count() as u32
    }
    fn title(&self, window: Remote<dyn Window>) -> Option<String> {
        match window.target() {
            Target::Local(w) => Some(w.title()),
            Target::Remote(r) => r.snapshot::<WindowProperties>().map(|p| p.title.clone()),
        }
    }
    fn pair(&self, other: Remote<dyn Other>, window: Remote<dyn Window>) -> (u64, Option<String>) {
        (self.take(other), self.title(window))
    }
}

struct OtherImpl {
    value: u64,
    /// In `LIVE_OTHERS`.
    _alive: Counted,
}

impl Other for OtherImpl {
    fn get(&self) -> u64 {
        self.value
    }
}

struct WindowImpl {
    title: String,
    /// In `LIVE_WINDOWS`.
    _alive: Counted,
}

impl Window for WindowImpl {
    fn title(&self) -> String {
        self.title.clone()
    }
    fn size(&self) -> (u32, u32) {
        (640, 480)
    }
    fn close(&self) {}
}

const HUB_FP: u64 = <dyn Hub as remote::__private::Interface>::FINGERPRINT;
const OTHER_FP: u64 = <dyn Other as remote::__private::Interface>::FINGERPRINT;
const WINDOW_FP: u64 = <dyn Window as remote::__private::Interface>::FINGERPRINT;

// ---------------------------------------------------------------------------
// The fixture, set up once per process.

struct Fixture {
    live: Live,
    /// The good client's connection, as the server knows it.
    good_connection: u64,
    hub: HubProxy,
    runs: AtomicU64,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        common::assert_methods::<dyn Hub>(&METHODS[..OTHER_METHODS]);
        common::assert_methods::<dyn Other>(&METHODS[OTHER_METHODS..WINDOW_METHODS]);
        common::assert_methods::<dyn Window>(&METHODS[WINDOW_METHODS..]);
        let live = Live::in_temp_dir(
            "remote-fuzz-handles-",
            "hub",
            Arc::new(HubImpl) as Arc<dyn Hub>,
        );
        let hub: HubProxy = live.good.require("hub").unwrap();
        let connections = live.server.connections();
        assert_eq!(connections.len(), 1);
        Fixture {
            good_connection: connections[0].id(),
            live,
            hub,
            runs: AtomicU64::new(0),
        }
    })
}

impl Fixture {
    /// The well-behaved client is still fully and correctly served; it
    /// holds nothing but the hub afterwards.
    fn assert_good_client_fine(&self) {
        let hub = &self.hub;
        assert_eq!(hub.ping().unwrap(), 7);
        let other = hub.spawn(3).unwrap();
        assert_eq!(other.get().unwrap(), 3);
        assert_eq!(hub.take(&other).unwrap(), 3, "passed home, it is local");
        let back = hub.echo(&other).unwrap();
        assert_eq!(back.get().unwrap(), 3);
        assert_eq!(
            hub.many(vec![Remote::from(&other), Remote::from(&back)])
                .unwrap(),
            2
        );
        let window = hub.window("w".into()).unwrap();
        assert_eq!(window.title().unwrap(), "w");
        assert_eq!(window.size().unwrap(), (640, 480));
        assert_eq!(hub.title(&window).unwrap().as_deref(), Some("w"));
        assert_eq!(
            hub.pair(&other, &window).unwrap(),
            (3, Some("w".to_string()))
        );
        assert_eq!(hub.spawn_many(3).unwrap().len(), 3);
        drop((other, back, window));
        self.live.good.sync().unwrap();
    }

    /// The raw connection: the one that is not the good client's.
    fn raw_connection(&self) -> Option<remote::Connection> {
        self.live
            .server
            .connections()
            .into_iter()
            .find(|c| c.id() != self.good_connection)
    }

    /// The raw connection closed: nothing of it is left.
    fn assert_nothing_left(&self) {
        self.live.assert_only_good_client_left(
            Duration::from_secs(5),
            "after the raw connection closed, alive",
            &[("Other(s)", &LIVE_OTHERS), ("Window(s)", &LIVE_WINDOWS)],
            |_| true,
        );
    }
}

// ---------------------------------------------------------------------------
// The fuzz input: a script (its enums decoded by `common::script_enum!`, but
// for `Repeat` and `Caps`).

script_enum! {
    /// A call ID.
    #[derive(Debug, Clone, Copy)]
    enum CallId {
        /// 0: no reply is owed.
        OneWay,
        Small(u8),
        Max,
        Any(u64),
    }
}

script_enum! {
    /// One of the server's objects, as the peer names it.
    #[derive(Debug, Clone, Copy)]
    enum Object {
        Hub,
        /// Any ID the server ever lent the peer.
        Given(u8),
        /// One the peer holds now, by its count.
        Held(u8),
        /// One the peer released all of.
        Released(u8),
        /// Near the hub's ID: objects made meanwhile, or nothing.
        Near(u8),
        /// One of the peer's own IDs: not the server's.
        Mine(u8),
        Any(u64),
    }
}

script_enum! {
    /// A fingerprint a `Sender` cap claims.
    #[derive(Debug, Clone, Copy)]
    enum Fingerprint {
        Other,
        Window,
        Hub,
        Any(u64),
    }
}

script_enum! {
    /// The property snapshot a `Sender` cap carries.
    #[derive(Debug)]
    enum Props {
        None,
        /// A `Window`'s, well-formed.
        Window {
            title: String,
            size: (u32, u32),
        },
        Bytes(Vec<u8>),
    }
}

script_enum! {
    /// One capability table entry.
    #[derive(Debug)]
    enum Cap {
        /// The peer lends its object `id` (a few small IDs, so they repeat).
        Sender {
            id: u8,
            fingerprint: Fingerprint,
            props: Props,
        },
        /// The peer lends an object with any ID.
        SenderAny { id: u64, fingerprint: Fingerprint },
        /// A server object coming home.
        Receiver(Object),
    }
}

/// How many times a frame's table repeats its entries.
#[derive(Debug, Clone, Copy)]
enum Repeat {
    Once,
    Times(u8),
    /// Exactly `MAX_HANDLES_PER_FRAME` entries: accepted.
    ToTheLimit,
    /// One more: the connection is closed.
    PastTheLimit,
}

impl<'a> Arbitrary<'a> for Repeat {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        // Mostly once: a full table costs the server (and the fuzzer) a
        // million bytes.
        let pick = u.int_in_range(0u8..=31)?;
        Ok(match pick {
            0..=23 => Repeat::Once,
            24..=29 => Repeat::Times(u.arbitrary()?),
            30 => Repeat::ToTheLimit,
            _ => Repeat::PastTheLimit,
        })
    }
}

/// A capability table.
#[derive(Debug)]
struct Caps {
    entries: Vec<Cap>,
    repeat: Repeat,
}

impl<'a> Arbitrary<'a> for Caps {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Caps {
            repeat: u.arbitrary()?,
            entries: u.arbitrary()?,
        })
    }
}

script_enum! {
    /// An index into the call's capability table.
    #[derive(Debug, Clone, Copy)]
    enum Index {
        /// An entry of the table (modulo its length).
        Entry(u8),
        Any(u32),
    }
}

script_enum! {
    /// What a call invokes, with its payload.
    #[derive(Debug)]
    enum Invoke {
        Ping,
        Spawn(u64),
        SpawnMany(u8),
        Window(String),
        Take(Index),
        Echo(Index),
        Maybe(Option<Index>),
        Many(Vec<Index>),
        Title(Index),
        Pair(Index, Index),
        /// `Other::get` or `Window::close`, on whatever the call names.
        Get,
        Close,
        /// Any method (an index into `METHODS`, past it for none, or 255
        /// for the snapshot method), any bytes.
        Garbage {
            method: u8,
            payload: Vec<u8>,
        },
    }
}

script_enum! {
    /// A release count.
    #[derive(Debug, Clone, Copy)]
    enum Count {
        /// Exactly what the peer holds by its count.
        All,
        One,
        Zero,
        /// One more than it holds.
        TooMany,
        Max,
        Any(u8),
    }
}

script_enum! {
    #[derive(Debug)]
    enum Op {
        Call {
            id: CallId,
            object: Object,
            invoke: Invoke,
            caps: Caps,
        },
        /// A reply to a call the server never made.
        Reply {
            id: CallId,
            ok: bool,
            payload: Vec<u8>,
            caps: Caps,
        },
        Release(Vec<(Object, Count)>),
    }
}

const MAX_OPS: usize = 32;

// ---------------------------------------------------------------------------
// The raw peer.

/// How long the peer waits for any answer, and for the server to close the
/// connection after the peer closed its half.
const BOUND: Duration = Duration::from_secs(5);

/// Pings use IDs with the top bit set; calls never do.
const PING_IDS: u64 = 1 << 63;

/// One of the peer's own handles, as lent to the server.
#[derive(Debug, Default)]
struct Lent {
    /// Times it was sent in a `Sender` cap.
    sent: u64,
    /// The fingerprints it was sent with.
    fingerprints: Vec<u64>,
    /// What the server's releases of it added up to.
    released: u64,
}

/// What the peer was lent and lent, by its own count.
#[derive(Default)]
struct Books {
    /// Every ID the server lent us, in order of first arrival.
    given: Vec<u64>,
    /// What we hold of each: times received, minus releases the server
    /// accepted (by the same rule as the server's).
    held: BTreeMap<u64, u64>,
    /// IDs we released all of.
    released: Vec<u64>,
    /// What we lent the server.
    lent: BTreeMap<u64, Lent>,
}

impl Books {
    /// Accounts for a frame from the server; the ID of a reply.
    fn absorb(&mut self, frame: Vec<u8>) -> Option<u64> {
        if let Some(entries) = testing::parse_release(&frame) {
            for (id, count) in entries {
                let lent = self.lent.get_mut(&id);
                let lent = lent.unwrap_or_else(|| panic!("released {id}, never lent"));
                lent.released = lent.released.saturating_add(count);
            }
            return None;
        }
        let reply = testing::parse_reply(frame)?;
        for &id in &reply.handles {
            let held = self.held.entry(id).or_insert(0);
            if *held == 0 && !self.given.contains(&id) {
                self.given.push(id);
            }
            *held += 1;
        }
        Some(reply.id)
    }
}

struct Peer {
    wire: Wire,
    hub: u64,
    books: Books,
    next_ping: u64,
}

impl Peer {
    fn connect(path: &Path) -> Peer {
        let mut peer = Peer {
            wire: Wire::connect(path, BOUND),
            hub: 0,
            books: Books::default(),
            next_ping: PING_IDS,
        };
        peer.send(&testing::hello_frame(30_000));
        peer.send(&testing::require_frame(1, "hub", "Hub", HUB_FP));
        assert!(
            peer.await_reply(1),
            "the server closed a connection that only said hello and required"
        );
        assert_eq!(
            peer.books.given.len(),
            1,
            "a require's reply lends one handle"
        );
        peer.hub = peer.books.given[0];
        peer
    }

    fn send(&mut self, bytes: &[u8]) {
        self.wire.send(bytes);
    }

    /// Reads (accounting for everything) until the reply to `id`. False if
    /// the connection ended first.
    fn await_reply(&mut self, id: u64) -> bool {
        self.wire.read_until(
            BOUND,
            || format!("no reply to call {id:#x} within {BOUND:?}"),
            |frame| self.books.absorb(frame) == Some(id),
        )
    }

    /// A round trip: everything sent before has been read by the server,
    /// and everything it sent before (its staged releases included) has
    /// been accounted for.
    fn sync(&mut self) -> bool {
        self.next_ping += 1;
        let id = self.next_ping;
        self.send(&testing::ping_frame(id));
        self.await_reply(id)
    }

    fn call_id(id: CallId) -> u64 {
        match id {
            CallId::OneWay => 0,
            CallId::Small(n) => 2 + u64::from(n),
            CallId::Max => PING_IDS - 1,
            CallId::Any(n) => n & (PING_IDS - 1),
        }
    }

    fn pick(list: &[u64], i: u8) -> Option<u64> {
        (!list.is_empty()).then(|| list[i as usize % list.len()])
    }

    fn object(&self, object: Object) -> u64 {
        let books = &self.books;
        let held: Vec<u64> = books.held.keys().copied().collect();
        let mine: Vec<u64> = books.lent.keys().copied().collect();
        match object {
            Object::Hub => Some(self.hub),
            Object::Given(i) => Self::pick(&books.given, i),
            Object::Held(i) => Self::pick(&held, i),
            Object::Released(i) => Self::pick(&books.released, i),
            Object::Near(d) => Some(self.hub.wrapping_add(u64::from(d))),
            Object::Mine(i) => Self::pick(&mine, i),
            Object::Any(id) => Some(id),
        }
        .unwrap_or(self.hub)
    }

    fn fingerprint(fingerprint: Fingerprint) -> u64 {
        match fingerprint {
            Fingerprint::Other => OTHER_FP,
            Fingerprint::Window => WINDOW_FP,
            Fingerprint::Hub => HUB_FP,
            Fingerprint::Any(fp) => fp,
        }
    }

    /// The table as sent. Lending is accounted for when the frame is sent.
    fn caps(&self, caps: &Caps) -> Vec<RawCap> {
        let table: Vec<RawCap> = caps
            .entries
            .iter()
            .take(64)
            .map(|cap| match cap {
                Cap::Sender {
                    id,
                    fingerprint,
                    props,
                } => RawCap::Sender {
                    id: 1 + u64::from(id % 8),
                    fingerprint: Self::fingerprint(*fingerprint),
                    props: match props {
                        Props::None => None,
                        Props::Window { title, size } => {
                            Some(testing::encode_value(&WindowProperties {
                                title: title.clone(),
                                size: *size,
                            }))
                        }
                        Props::Bytes(bytes) => Some(bytes.clone()),
                    },
                },
                Cap::SenderAny { id, fingerprint } => RawCap::Sender {
                    id: *id,
                    fingerprint: Self::fingerprint(*fingerprint),
                    props: None,
                },
                Cap::Receiver(object) => RawCap::Receiver {
                    id: self.object(*object),
                },
            })
            .collect();
        let want = match caps.repeat {
            Repeat::Once => return table,
            Repeat::Times(n) => table.len() * (1 + usize::from(n % 16)),
            Repeat::ToTheLimit => MAX_HANDLES_PER_FRAME,
            Repeat::PastTheLimit => MAX_HANDLES_PER_FRAME + 1,
        };
        let table = if table.is_empty() {
            vec![RawCap::Receiver { id: self.hub }]
        } else {
            table
        };
        table.iter().cycle().take(want).cloned().collect()
    }

    /// Records the `Sender` caps of a frame the server will read (one
    /// within the limit).
    fn lend(&mut self, caps: &[RawCap]) {
        if caps.len() > MAX_HANDLES_PER_FRAME {
            return; // the connection is closed on the claim
        }
        for cap in caps {
            if let RawCap::Sender {
                id, fingerprint, ..
            } = cap
            {
                let lent = self.books.lent.entry(*id).or_default();
                lent.sent += 1;
                if !lent.fingerprints.contains(fingerprint) {
                    lent.fingerprints.push(*fingerprint);
                }
            }
        }
    }

    fn index(caps: &[RawCap], index: Index) -> u32 {
        match index {
            Index::Entry(i) if !caps.is_empty() => (i as usize % caps.len()) as u32,
            Index::Entry(i) => u32::from(i),
            Index::Any(i) => i,
        }
    }

    fn invoke(invoke: &Invoke, caps: &[RawCap]) -> (u32, Vec<u8>) {
        let at = |i: Index| Self::index(caps, i);
        match invoke {
            Invoke::Ping => (PING, testing::encode_value(&())),
            Invoke::Spawn(n) => (SPAWN, testing::encode_value(&(n,))),
            Invoke::SpawnMany(n) => (SPAWN_MANY, testing::encode_value(&(n,))),
            Invoke::Window(t) => (WINDOW, testing::encode_value(&(t,))),
            Invoke::Take(i) => (TAKE, testing::encode_value(&(at(*i),))),
            Invoke::Echo(i) => (ECHO, testing::encode_value(&(at(*i),))),
            Invoke::Maybe(i) => (MAYBE, testing::encode_value(&(i.map(at),))),
            Invoke::Many(v) => {
                let v: Vec<u32> = v.iter().take(64).map(|&i| at(i)).collect();
                (MANY, testing::encode_value(&(v,)))
            }
            Invoke::Title(i) => (TITLE, testing::encode_value(&(at(*i),))),
            Invoke::Pair(a, b) => (PAIR, testing::encode_value(&(at(*a), at(*b)))),
            Invoke::Get => (GET, testing::encode_value(&())),
            Invoke::Close => (CLOSE, testing::encode_value(&())),
            Invoke::Garbage { method, payload } => {
                let method = match method {
                    255 => u32::MAX,
                    m => common::method_at(&METHODS, usize::from(*m) % (METHODS.len() + 1)),
                };
                (method, payload.clone())
            }
        }
    }

    /// Releases, applied to our count by the server's rule: a count of 0
    /// or more than is outstanding is refused, and changes nothing.
    fn release(&mut self, entries: &[(Object, Count)]) {
        let entries: Vec<(u64, u64)> = entries
            .iter()
            .take(16)
            .map(|&(object, count)| {
                let id = self.object(object);
                let held = self.books.held.get(&id).copied().unwrap_or(0);
                let count = match count {
                    Count::All => held,
                    Count::One => 1,
                    Count::Zero => 0,
                    Count::TooMany => held + 1,
                    Count::Max => u64::MAX,
                    Count::Any(n) => u64::from(n),
                };
                (id, count)
            })
            .collect();
        self.send(&testing::release_frame(&entries));
        for &(id, count) in &entries {
            if let Some(held) = self.books.held.get_mut(&id) {
                if count > 0 && count <= *held {
                    *held -= count;
                    if *held == 0 {
                        self.books.held.remove(&id);
                        self.books.released.push(id);
                    }
                }
            }
        }
    }

    fn op(&mut self, op: &Op) {
        match op {
            Op::Call {
                id,
                object,
                invoke,
                caps,
            } => {
                let id = Self::call_id(*id);
                let object = self.object(*object);
                let caps = self.caps(caps);
                let (method, payload) = Self::invoke(invoke, &caps);
                self.lend(&caps);
                self.send(&testing::call_frame_with_caps(
                    id, object, method, &payload, &caps,
                ));
                if id != 0 {
                    self.await_reply(id);
                }
            }
            Op::Reply {
                id,
                ok,
                payload,
                caps,
            } => {
                let caps = self.caps(caps);
                self.lend(&caps);
                let id = Self::call_id(*id);
                self.send(&testing::reply_frame_with_caps(id, *ok, payload, &caps));
            }
            Op::Release(entries) => {
                // Our count is exact only when no one-way call of ours
                // still runs: one that returns a handle counts it, then
                // takes it back.
                self.quiesce();
                self.release(entries);
            }
        }
    }

    /// Waits until the server runs no call of ours (a round trip first, so
    /// every call sent has started).
    fn quiesce(&mut self) {
        if !self.sync() {
            return;
        }
        let f = fixture();
        eventually(
            BOUND,
            || "the raw peer's calls never ended".to_string(),
            || f.raw_connection().is_none_or(|c| c.stats().serving == 0),
        );
    }

    /// Checked while the connection is open, once its calls are done: the
    /// server holds nothing for the peer beyond what the peer holds by its
    /// count, and has released everything the peer lent it.
    fn check_accounts(&mut self) {
        self.quiesce();
        let all: Vec<(u64, u64)> = self.books.held.iter().map(|(&id, &n)| (id, n)).collect();
        for chunk in all.chunks(1024) {
            self.send(&testing::release_frame(chunk));
        }
        self.books.held.clear();
        let f = fixture();
        let deadline = Instant::now() + BOUND;
        loop {
            if !self.sync() {
                return; // closed by the server: checked after the close
            }
            let Some(raw) = f.raw_connection() else {
                return;
            };
            let stats = raw.stats();
            let settled = stats.imported == 0
                && self
                    .books
                    .lent
                    .values()
                    .all(|l| l.fingerprints.len() > 1 || l.released == l.sent);
            if stats.exported == 0 && settled {
                break;
            }
            if Instant::now() >= deadline {
                panic!(
                    "after releasing all it holds, with its calls done: the server holds \
                     {} handle(s) for the raw peer and {} of its; what the peer lent: {:?}",
                    stats.exported, stats.imported, self.books.lent
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        for (id, lent) in &self.books.lent {
            assert!(
                lent.released <= lent.sent,
                "handle {id} released {} times but sent {}: {lent:?}",
                lent.released,
                lent.sent
            );
        }
    }

    /// Closes our half and waits until the server has read up to the end
    /// and closed its half.
    fn finish(self) {
        let Peer {
            wire, mut books, ..
        } = self;
        wire.finish(BOUND, |frame| {
            books.absorb(frame);
        });
    }
}

fn run(ops: &[Op]) {
    let f = fixture();
    let mut peer = Peer::connect(&f.live.path);
    play(&mut peer, ops, MAX_OPS, |p| p.wire.live, Peer::op);
    if peer.wire.live {
        peer.check_accounts();
    }
    peer.finish();

    f.assert_good_client_fine();
    f.assert_nothing_left();
    f.runs.fetch_add(1, Ordering::Relaxed);
}

fuzz_target!(|ops: Vec<Op>| run(&ops));
