//! The async dispatch path under hostile calls, on a live server over a
//! Unix socket.
//!
//! One server (exporting a `Service` whose methods are mostly `async fn`:
//! they sleep, yield, panic, return handles, take strings and buffers) and
//! one well-behaved `Client` live for the whole run. Each input is a script
//! (decoded with `arbitrary`) run on a fresh raw connection that says hello
//! and requires `service`: calls with well-typed, bent or garbage payloads
//! to the service and to the counters it hands out, duplicate call IDs,
//! one-way calls (ID 0), cancels of calls in flight (or of IDs never used),
//! releases right or wrong, and pauses that let tasks run before what
//! follows. Calls are not awaited one by one: replies are read by a thread
//! of the peer's, so cancels meet calls still running. The connection is
//! then half-closed and drained until the server closes it.
//!
//! Checked:
//! - the server never panics (libFuzzer's panic hook aborts on any panic,
//!   on any thread, caught or not) except in `explode`, whose panic is the
//!   point: its message starts with `PANIC_MARKER`, and only those are let
//!   through to the server's own catch;
//! - after every input, the good client still gets correct answers from the
//!   async methods (and the plain one);
//! - after every input, once the server has closed the raw connection, no
//!   `async fn` task of that connection still runs and no counter it was
//!   given is alive (the README: "an `async fn` is aborted instead" of
//!   being orphaned);
//! - every 1,024 inputs: a call the good client stops waiting for is
//!   aborted on the server, every raw connection is gone, no call is
//!   orphaned, and the live tasks, live counters and exported handles are
//!   back to what the good client holds.
#![no_main]

mod common;

use std::any::Any;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use common::{eventually, play, script_enum, Counted, Live, Wire};
use libfuzzer_sys::fuzz_target;
use remote::testing;
use remote::{remote_object, Remote, RemoteError};
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------
// The exported objects, and what they count.

/// `async fn` bodies running now (each holds a `Running` while it runs).
static LIVE_TASKS: AtomicUsize = AtomicUsize::new(0);
/// Counters alive now.
static LIVE_COUNTERS: AtomicUsize = AtomicUsize::new(0);

/// Counts one running `async fn` body; dropped when the body ends, panics
/// or its task is aborted.
fn running() -> Counted {
    Counted::new(&LIVE_TASKS)
}

/// How every deliberate panic (`explode`) starts.
const PANIC_MARKER: &str = "deliberate panic of the async_dispatch fuzz target";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AppError {
    Negative(i32),
    Zero,
}

#[remote_object]
pub trait Service: Send + Sync {
    /// Sleeps `ms % 16` milliseconds.
    async fn nap(&self, ms: u8) -> u64;
    /// Yields, then greets.
    async fn greet(&self, name: &str) -> String;
    /// Yields once per 64 bytes; the sum of the bytes plus their count.
    async fn total(&self, data: Vec<u8>) -> u64;
    /// A new counter, after a yield.
    async fn spawn(&self, start: u64) -> Remote<dyn Counter>;
    /// Yields, then panics.
    async fn explode(&self, why: String) -> u32;
    /// Sleeps `ms % 2500` milliseconds: long enough to be cancelled, or to
    /// outlive its connection.
    async fn hold(&self, ms: u16) -> u32;
    /// The value of a counter of ours (`u64::MAX` for anyone else's).
    async fn take(&self, counter: Remote<dyn Counter>) -> u64;
    async fn fallible(&self, a: i32) -> Result<i32, AppError>;
    /// A plain method among the async ones.
    fn quick(&self, x: u32) -> u32;
}

/// `Service`'s method IDs.
const NAP: u32 = testing::method_id("nap");
const GREET: u32 = testing::method_id("greet");
const TOTAL: u32 = testing::method_id("total");
const SPAWN: u32 = testing::method_id("spawn");
const EXPLODE: u32 = testing::method_id("explode");
const HOLD: u32 = testing::method_id("hold");
const TAKE: u32 = testing::method_id("take");
const FALLIBLE: u32 = testing::method_id("fallible");
const QUICK: u32 = testing::method_id("quick");

#[remote_object]
pub trait Counter: Send + Sync {
    fn get(&self) -> u64;
    /// Yields, adds `by` and returns the value before.
    async fn bump(&self, by: u64) -> u64;
}

/// `Counter`'s method IDs.
const GET: u32 = testing::method_id("get");
const BUMP: u32 = testing::method_id("bump");

/// The methods a `Garbage` call picks by index: `Service`'s, then
/// `Counter`'s, each in declaration order (checked when the fixture
/// starts). An index past the end picks `common::NO_METHOD`, which nothing
/// has.
const METHODS: [&str; 11] = [
    "nap", "greet", "total", "spawn", "explode", "hold", "take", "fallible", "quick",
    // `Counter`'s.
    "get", "bump",
];

/// Where `Counter`'s methods start in `METHODS`.
const COUNTER_METHODS: usize = 9;

struct ServiceImpl;

#[remote::async_trait]
impl Service for ServiceImpl {
    async fn nap(&self, ms: u8) -> u64 {
        let _running = running();
        tokio::time::sleep(Duration::from_millis(u64::from(ms % 16))).await;
        u64::from(ms)
    }
    async fn greet(&self, name: &str) -> String {
        let _running = running();
        tokio::task::yield_now().await;
        format!("hello, {name}")
    }
    async fn total(&self, data: Vec<u8>) -> u64 {
        let _running = running();
        let mut sum = data.len() as u64;
        for chunk in data.chunks(64) {
            tokio::task::yield_now().await;
            sum += chunk.iter().map(|&b| u64::from(b)).sum::<u64>();
        }
        sum
    }
    async fn spawn(&self, start: u64) -> Remote<dyn Counter> {
        let _running = running();
        tokio::task::yield_now().await;
        Remote::new(CounterImpl {
            value: AtomicU64::new(start),
            _alive: Counted::new(&LIVE_COUNTERS),
        })
    }
    async fn explode(&self, why: String) -> u32 {
        let _running = running();
        tokio::task::yield_now().await;
        panic!("{PANIC_MARKER}: {why}")
    }
    async fn hold(&self, ms: u16) -> u32 {
        let _running = running();
        tokio::time::sleep(Duration::from_millis(u64::from(ms % 2500))).await;
        u32::from(ms)
    }
    async fn take(&self, counter: Remote<dyn Counter>) -> u64 {
        let _running = running();
        tokio::task::yield_now().await;
        // Only local objects are called: a raw peer never answers calls.
        counter.local().map(|c| c.get()).unwrap_or(u64::MAX)
    }
    async fn fallible(&self, a: i32) -> Result<i32, AppError> {
        let _running = running();
        tokio::task::yield_now().await;
        match a {
            0 => Err(AppError::Zero),
            a if a < 0 => Err(AppError::Negative(a)),
            a => Ok(a / 2),
        }
    }
    fn quick(&self, x: u32) -> u32 {
        x.wrapping_add(1)
    }
}

struct CounterImpl {
    value: AtomicU64,
    /// In `LIVE_COUNTERS`.
    _alive: Counted,
}

#[remote::async_trait]
impl Counter for CounterImpl {
    fn get(&self) -> u64 {
        self.value.load(Ordering::SeqCst)
    }
    async fn bump(&self, by: u64) -> u64 {
        let _running = running();
        tokio::task::yield_now().await;
        self.value.fetch_add(by, Ordering::SeqCst)
    }
}

const SERVICE_FP: u64 = <dyn Service as remote::__private::Interface>::FINGERPRINT;

// ---------------------------------------------------------------------------
// The fixture, set up once per process.

struct Fixture {
    live: Live,
    service: ServiceProxy,
    /// Runs the good client's cancelled call.
    rt: tokio::runtime::Runtime,
    runs: AtomicU64,
}

/// Whether a panic is one of `explode`'s.
fn deliberate(payload: &(dyn Any + Send)) -> bool {
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied());
    message.is_some_and(|m| m.starts_with(PANIC_MARKER))
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        common::assert_methods::<dyn Service>(&METHODS[..COUNTER_METHODS]);
        common::assert_methods::<dyn Counter>(&METHODS[COUNTER_METHODS..]);
        // libFuzzer's hook (set before the first input) aborts on any
        // panic; `explode`'s are let through to the server's catch.
        let abort_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !deliberate(info.payload()) {
                abort_hook(info);
            }
        }));
        let live = Live::in_temp_dir(
            "remote-fuzz-async-",
            "service",
            Arc::new(ServiceImpl) as Arc<dyn Service>,
        );
        let service: ServiceProxy = live.good.require("service").unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        Fixture {
            live,
            service,
            rt,
            runs: AtomicU64::new(0),
        }
    })
}

impl Fixture {
    /// The well-behaved client is still fully and correctly served.
    fn assert_good_client_fine(&self) {
        let s = &self.service;
        // Neither sleeps (16 % 16 = 0 ms, 2500 % 2500 = 0 ms): a good check
        // per input must be quick. The sleeps themselves are seen in the
        // every-1,024 check, whose call outlives its 20 ms deadline.
        assert_eq!(s.nap(16).unwrap(), 16);
        assert_eq!(s.greet("ada").unwrap(), "hello, ada");
        assert_eq!(s.total(vec![1, 2, 3]).unwrap(), 9);
        let counter = s.spawn(5).unwrap();
        assert_eq!(counter.get().unwrap(), 5);
        assert_eq!(counter.bump(2).unwrap(), 5);
        assert_eq!(s.take(&counter).unwrap(), 7);
        assert_eq!(s.hold(2500).unwrap(), 2500);
        assert_eq!(s.fallible(9).unwrap(), Ok(4));
        assert_eq!(s.fallible(0).unwrap(), Err(AppError::Zero));
        assert_eq!(s.quick(41).unwrap(), 42);
        match s.explode("good".into()) {
            Err(RemoteError::Panic { method, message }) => {
                assert_eq!(method, "Service::explode");
                assert_eq!(message, format!("{PANIC_MARKER}: good"));
            }
            other => panic!("expected the panic reported, got {other:?}"),
        }
        // Its counter released, and the release applied.
        drop(counter);
        self.live.good.sync().unwrap();
    }

    /// The tasks and counters of a closed connection are gone.
    fn assert_connection_left_nothing(&self) {
        eventually(
            Duration::from_secs(1),
            || {
                format!(
                    "{} async fn task(s) still running after their connection closed \
                     (README: an async fn is aborted instead); server stats: {:?}",
                    LIVE_TASKS.load(Ordering::SeqCst),
                    self.live.server.stats()
                )
            },
            || LIVE_TASKS.load(Ordering::SeqCst) == 0,
        );
        eventually(
            Duration::from_secs(1),
            || {
                format!(
                    "{} counter(s) alive after the connection they were lent on closed",
                    LIVE_COUNTERS.load(Ordering::SeqCst)
                )
            },
            || LIVE_COUNTERS.load(Ordering::SeqCst) == 0,
        );
    }

    /// A cancelled call is aborted, every raw connection is gone, and
    /// nothing is left running or alive but what the good client holds.
    fn assert_cleaned_up(&self) {
        let service = self.service.to_async();
        let late = self.rt.block_on(async {
            tokio::time::timeout(Duration::from_millis(20), service.hold(2_000)).await
        });
        assert!(late.is_err(), "hold(2000) answered within 20 ms: {late:?}");
        drop(service);
        self.live.good.sync().unwrap();
        self.live.assert_only_good_client_left(
            Duration::from_secs(10),
            "not cleaned up",
            &[("task(s)", &LIVE_TASKS), ("counter(s)", &LIVE_COUNTERS)],
            |stats| stats.orphaned_calls == 0,
        );
    }
}

// ---------------------------------------------------------------------------
// The fuzz input: a script (its enums decoded by `common::script_enum!`).

script_enum! {
    /// A call ID.
    #[derive(Debug, Clone, Copy)]
    enum CallId {
        /// 0: no reply is owed.
        OneWay,
        /// One not used yet on this connection.
        Fresh,
        /// One used before (a duplicate, or the ID of a call in flight).
        Again(u8),
        Max,
        Any(u64),
    }
}

script_enum! {
    /// Which object a call or release names.
    #[derive(Debug, Clone, Copy)]
    enum Object {
        /// The required service.
        Service,
        /// A handle seen in a reply.
        Handle(u8),
        /// One this peer released.
        Released(u8),
        /// Near the service's ID: most likely nothing.
        Near(u8),
        Any(u64),
    }
}

script_enum! {
    /// A call with well-typed arguments.
    #[derive(Debug)]
    enum Typed {
        Nap(u8),
        Greet(String),
        Total(Vec<u8>),
        Spawn(u64),
        Explode(String),
        Hold(u16),
        /// `take` with the object in the call's capability table, as the
        /// service's own counter coming back.
        Take(Object),
        /// `take` with an index into an empty table.
        TakeNothing(u32),
        Fallible(i32),
        Quick(u32),
        /// A counter's methods (on whatever object the call names).
        Get,
        Bump(u64),
    }
}

script_enum! {
    /// How a well-typed payload is bent.
    #[derive(Debug)]
    enum Bend {
        Cut(u8),
        Extend(Vec<u8>),
        Flip { at: u8, mask: u8 },
    }
}

impl Bend {
    fn apply(&self, payload: &mut Vec<u8>) {
        match self {
            Bend::Cut(n) => payload.truncate(payload.len().saturating_sub(*n as usize)),
            Bend::Extend(more) => payload.extend_from_slice(more),
            Bend::Flip { at, mask } => {
                if !payload.is_empty() {
                    let at = *at as usize % payload.len();
                    payload[at] ^= mask | 1;
                }
            }
        }
    }
}

script_enum! {
    /// A release count.
    #[derive(Debug, Clone, Copy)]
    enum Count {
        One,
        Zero,
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
            call: Typed,
        },
        Bent {
            id: CallId,
            object: Object,
            call: Typed,
            bend: Bend,
        },
        /// Any method (the service's, a counter's or none: an index into
        /// `METHODS`, or 255 for the snapshot method), any bytes.
        Garbage {
            id: CallId,
            object: Object,
            method: u8,
            payload: Vec<u8>,
        },
        Cancel(CallId),
        Release(Vec<(Object, Count)>),
        /// Reads replies for `ms % 32` milliseconds.
        Wait(u8),
    }
}

const MAX_OPS: usize = 48;

// ---------------------------------------------------------------------------
// The raw peer.

/// How long the peer waits for the server to answer its require, and to
/// close the connection after the peer closed its half.
const BOUND: Duration = Duration::from_secs(5);

struct Peer {
    wire: Wire,
    /// The required service's ID.
    service: u64,
    /// Handle IDs seen in replies.
    handles: Vec<u64>,
    /// Handle IDs this peer sent releases of.
    released: Vec<u64>,
    /// Call IDs used so far.
    ids: Vec<u64>,
    next_id: u64,
}

impl Peer {
    fn connect(path: &Path) -> Peer {
        let mut peer = Peer {
            wire: Wire::connect(path, Duration::from_secs(1)),
            service: 0,
            handles: Vec::new(),
            released: Vec::new(),
            ids: Vec::new(),
            next_id: 2,
        };
        peer.send(&testing::hello_frame(30_000));
        peer.send(&testing::require_frame(1, "service", "Service", SERVICE_FP));
        let mut service = None;
        peer.wire.read_until(
            BOUND,
            || format!("no answer to a require in {BOUND:?}"),
            |frame| match testing::parse_reply(frame) {
                Some(reply) if reply.id == 1 => {
                    assert!(reply.ok, "require refused: {:?}", reply.error());
                    service = Some(reply.handles[0]);
                    true
                }
                _ => false,
            },
        );
        peer.service =
            service.expect("the server closed a connection that only said hello and required");
        peer
    }

    fn send(&mut self, bytes: &[u8]) {
        self.wire.send(bytes);
    }

    fn absorb(&mut self, frame: Vec<u8>) {
        if let Some(reply) = testing::parse_reply(frame) {
            if self.handles.len() < 256 {
                self.handles.extend(reply.handles.iter().take(16));
            }
        }
    }

    /// Takes in what has arrived, without waiting.
    fn poll(&mut self) {
        while let Some(frame) = self.wire.try_recv() {
            self.absorb(frame);
        }
    }

    /// Takes in what arrives for `wait`.
    fn wait(&mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        while let Ok(frame) = self.wire.recv_until(deadline) {
            self.absorb(frame);
        }
    }

    fn call_id(&mut self, id: CallId) -> u64 {
        let id = match id {
            CallId::OneWay => 0,
            CallId::Fresh => {
                self.next_id += 1;
                self.next_id
            }
            CallId::Again(i) if !self.ids.is_empty() => self.ids[i as usize % self.ids.len()],
            CallId::Again(_) => 2,
            CallId::Max => u64::MAX,
            CallId::Any(id) => id,
        };
        if id != 0 && self.ids.len() < 256 {
            self.ids.push(id);
        }
        id
    }

    fn object(&self, object: Object) -> u64 {
        match object {
            Object::Service => self.service,
            Object::Handle(i) if !self.handles.is_empty() => {
                self.handles[i as usize % self.handles.len()]
            }
            Object::Released(i) if !self.released.is_empty() => {
                self.released[i as usize % self.released.len()]
            }
            Object::Handle(_) | Object::Released(_) => self.service,
            Object::Near(d) => self.service.wrapping_add(u64::from(d)),
            Object::Any(id) => id,
        }
    }

    /// The method, payload and capability table (handle IDs passed back)
    /// of a well-typed call.
    fn typed(&self, call: &Typed) -> (u32, Vec<u8>, Vec<u64>) {
        match call {
            Typed::Nap(ms) => (NAP, testing::encode_value(&(ms,)), vec![]),
            Typed::Greet(s) => (GREET, testing::encode_value(&(s,)), vec![]),
            Typed::Total(v) => (TOTAL, testing::encode_value(&(v,)), vec![]),
            Typed::Spawn(n) => (SPAWN, testing::encode_value(&(n,)), vec![]),
            Typed::Explode(s) => (EXPLODE, testing::encode_value(&(s,)), vec![]),
            Typed::Hold(ms) => (HOLD, testing::encode_value(&(ms,)), vec![]),
            Typed::Take(o) => (TAKE, testing::encode_value(&(0u32,)), vec![self.object(*o)]),
            Typed::TakeNothing(i) => (TAKE, testing::encode_value(&(i,)), vec![]),
            Typed::Fallible(a) => (FALLIBLE, testing::encode_value(&(a,)), vec![]),
            Typed::Quick(x) => (QUICK, testing::encode_value(&(x,)), vec![]),
            Typed::Get => (GET, testing::encode_value(&()), vec![]),
            Typed::Bump(by) => (BUMP, testing::encode_value(&(by,)), vec![]),
        }
    }

    /// Sends a call of `method` on `object` (both as the script names them).
    fn call(&mut self, id: CallId, object: Object, method: u32, payload: &[u8], handles: &[u64]) {
        let id = self.call_id(id);
        let object = self.object(object);
        let frame = if handles.is_empty() {
            testing::call_frame(id, object, method, payload)
        } else {
            testing::call_frame_with_handles(id, object, method, payload, handles)
        };
        self.send(&frame);
    }

    fn op(&mut self, op: &Op) {
        match op {
            Op::Call { id, object, call } => {
                let (method, payload, handles) = self.typed(call);
                self.call(*id, *object, method, &payload, &handles);
            }
            Op::Bent {
                id,
                object,
                call,
                bend,
            } => {
                let (method, mut payload, handles) = self.typed(call);
                bend.apply(&mut payload);
                self.call(*id, *object, method, &payload, &handles);
            }
            Op::Garbage {
                id,
                object,
                method,
                payload,
            } => {
                let method = match method {
                    255 => u32::MAX,
                    m => common::method_at(&METHODS, usize::from(*m) % (METHODS.len() + 1)),
                };
                self.call(*id, *object, method, payload, &[]);
            }
            Op::Cancel(id) => {
                let id = self.call_id(*id);
                self.send(&testing::cancel_frame(id));
            }
            Op::Release(entries) => {
                let entries: Vec<(u64, u64)> = entries
                    .iter()
                    .take(8)
                    .map(|(object, count)| {
                        let count = match count {
                            Count::One => 1,
                            Count::Zero => 0,
                            Count::Max => u64::MAX,
                            Count::Any(n) => u64::from(*n),
                        };
                        (self.object(*object), count)
                    })
                    .collect();
                for &(id, _) in &entries {
                    if self.released.len() < 256 {
                        self.released.push(id);
                    }
                }
                self.send(&testing::release_frame(&entries));
            }
            Op::Wait(ms) => self.wait(Duration::from_millis(u64::from(ms % 32))),
        }
        self.poll();
    }

    /// Closes our half and waits until the server has read up to the end
    /// and closed its half: everything this input sent has been handled
    /// before the checks and the next input.
    fn finish(self) {
        self.wire.finish(BOUND, |_| {});
    }
}

fn run(ops: &[Op]) {
    let f = fixture();
    let mut peer = Peer::connect(&f.live.path);
    play(&mut peer, ops, MAX_OPS, |p| p.wire.live, Peer::op);
    peer.finish();

    f.assert_connection_left_nothing();
    f.assert_good_client_fine();
    if f.runs.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
        f.assert_cleaned_up();
        f.assert_good_client_fine();
    }
}

fuzz_target!(|ops: Vec<Op>| run(&ops));
