//! The dispatcher under hostile calls, on a live server over a Unix socket.
//!
//! One server (exporting a `Target` with methods of many argument types) and
//! one well-behaved `Client` live for the whole run. Each input opens a fresh
//! raw connection, says hello, requires `target` (to learn a real object ID),
//! then reads the rest of the input as a script of frames: calls with fuzzed
//! or well-typed payloads, requires, releases, hellos, raw bytes with any
//! length prefix. Replies are read with a short timeout and otherwise
//! ignored; the connection is then half-closed and drained until the server
//! closes it, so all the input's frames were handled before the next input.
//!
//! Checked: the server never panics (libFuzzer's panic hook aborts on any
//! panic, on any thread, caught or not), and after every input the good
//! client is still served correctly. Every few thousand inputs, also that the
//! raw connections were all cleaned up.
#![no_main]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use common::Live;
use libfuzzer_sys::fuzz_target;
use remote::testing;
use remote::{remote_object, Remote};
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------
// The exported objects.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub x: i32,
    pub y: i32,
    pub label: String,
    pub tags: Vec<u16>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Inner {
    A,
    B(u8),
    C { s: String, v: Vec<u64> },
}

/// Recursive: exercises the decoder's depth limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outer {
    Leaf(i64),
    Wrap(Inner),
    Node(Vec<Outer>),
    Boxed(Box<Outer>, Option<Inner>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AppError {
    Negative(i32),
    Zero,
}

/// A handle inside a serialized struct.
#[derive(Serialize, Deserialize)]
pub struct Tagged {
    pub name: String,
    pub other: Remote<dyn Other>,
}

#[remote_object]
pub trait Target: Send + Sync {
    fn ping(&self) -> u64;
    fn add(&self, a: i64, b: u32, c: u8) -> i64;
    fn greet(&self, name: &str) -> String;
    fn bytes(&self, data: Vec<u8>) -> u64;
    fn point(&self, p: Point) -> Point;
    fn maybe(&self, v: Option<u64>) -> Option<String>;
    fn nested(&self, o: Outer) -> u32;
    fn sum(&self, values: &[i64]) -> i64;
    fn spawn(&self, start: u64) -> Remote<dyn Other>;
    fn spawn_many(&self, n: u8) -> Vec<Remote<dyn Other>>;
    fn take(&self, other: Remote<dyn Other>) -> u64;
    fn echo(&self, other: Remote<dyn Other>) -> Remote<dyn Other>;
    fn maybe_other(&self, other: Option<Remote<dyn Other>>) -> Option<Remote<dyn Other>>;
    fn fallible(&self, a: i32) -> Result<i32, AppError>;
    fn tagged(&self, t: Tagged) -> String;
}

#[remote_object]
pub trait Other: Send + Sync {
    fn get(&self) -> u64;
    fn bump(&self, by: u64) -> u64;
}

/// The methods a script picks by index: `Target`'s, then `Other`'s, each in
/// declaration order (checked when the fixture starts). A call carries the
/// method's wire ID (`common::method_at`); an index past the end picks
/// `common::NO_METHOD`, which nothing has.
const METHODS: [&str; 17] = [
    "ping",
    "add",
    "greet",
    "bytes",
    "point",
    "maybe",
    "nested",
    "sum",
    "spawn",
    "spawn_many",
    "take",
    "echo",
    "maybe_other",
    "fallible",
    "tagged",
    // `Other`'s.
    "get",
    "bump",
];

/// Where `Other`'s methods start in `METHODS`.
const OTHER_METHODS: usize = 15;

struct TargetImpl;

fn depth(o: &Outer) -> u32 {
    match o {
        Outer::Leaf(_) | Outer::Wrap(_) => 1,
        Outer::Node(v) => 1 + v.iter().map(depth).max().unwrap_or(0),
        Outer::Boxed(b, _) => 1 + depth(b),
    }
}

impl Target for TargetImpl {
    fn ping(&self) -> u64 {
        7
    }
    fn add(&self, a: i64, b: u32, c: u8) -> i64 {
        a.wrapping_add(b as i64).wrapping_add(c as i64)
    }
    fn greet(&self, name: &str) -> String {
        format!("hello, {name}")
    }
    fn bytes(&self, data: Vec<u8>) -> u64 {
        data.iter().map(|&b| b as u64).sum::<u64>() + data.len() as u64
    }
    fn point(&self, mut p: Point) -> Point {
        p.x = p.x.wrapping_add(1);
        p.tags.reverse();
        p
    }
    fn maybe(&self, v: Option<u64>) -> Option<String> {
        v.map(|v| v.to_string())
    }
    fn nested(&self, o: Outer) -> u32 {
        depth(&o)
    }
    fn sum(&self, values: &[i64]) -> i64 {
        values.iter().fold(0i64, |a, &b| a.wrapping_add(b))
    }
    fn spawn(&self, start: u64) -> Remote<dyn Other> {
        Remote::new(OtherImpl(AtomicU64::new(start)))
    }
    fn spawn_many(&self, n: u8) -> Vec<Remote<dyn Other>> {
        (0..n as u64).map(|i| self.spawn(i)).collect()
    }
    fn take(&self, other: Remote<dyn Other>) -> u64 {
        // Only local objects are called: a raw peer never answers calls.
        other.local().map(|o| o.get()).unwrap_or(u64::MAX)
    }
    fn echo(&self, other: Remote<dyn Other>) -> Remote<dyn Other> {
        other
    }
    fn maybe_other(&self, other: Option<Remote<dyn Other>>) -> Option<Remote<dyn Other>> {
        other
    }
    fn fallible(&self, a: i32) -> Result<i32, AppError> {
        match a {
            0 => Err(AppError::Zero),
            a if a < 0 => Err(AppError::Negative(a)),
            a => Ok(a / 2),
        }
    }
    fn tagged(&self, t: Tagged) -> String {
        format!("{}:{}", t.name, self.take(t.other))
    }
}

struct OtherImpl(AtomicU64);

impl Other for OtherImpl {
    fn get(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
    fn bump(&self, by: u64) -> u64 {
        self.0.fetch_add(by, Ordering::SeqCst)
    }
}

const TARGET_FP: u64 = <dyn Target as remote::__private::Interface>::FINGERPRINT;
const OTHER_FP: u64 = <dyn Other as remote::__private::Interface>::FINGERPRINT;

// ---------------------------------------------------------------------------
// The fixture, set up once per process.

struct Fixture {
    live: Live,
    target: TargetProxy,
    runs: AtomicU64,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        common::assert_methods::<dyn Target>(&METHODS[..OTHER_METHODS]);
        common::assert_methods::<dyn Other>(&METHODS[OTHER_METHODS..]);
        let dir = std::env::temp_dir().join(format!("remote-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sock");
        let _ = std::fs::remove_file(&path);
        let live = Live::start(path, "target", Arc::new(TargetImpl) as Arc<dyn Target>);
        let target: TargetProxy = live.good.require("target").unwrap();
        Fixture {
            live,
            target,
            runs: AtomicU64::new(0),
        }
    })
}

impl Fixture {
    /// The well-behaved client is still fully and correctly served.
    fn assert_good_client_fine(&self) {
        assert_eq!(self.target.ping().unwrap(), 7);
        assert_eq!(self.target.add(40, 1, 1).unwrap(), 42);
        assert_eq!(self.target.greet("ada").unwrap(), "hello, ada");
    }

    /// Every raw connection ends up closed and releases what it held.
    fn assert_cleaned_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let stats = self.live.server.stats();
            if stats.connections == 1 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "raw connections not cleaned up after 10 s: {stats:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

// ---------------------------------------------------------------------------
// The fuzz input, read as a script.

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(pad::<4>(self.bytes(4)))
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(pad::<8>(self.bytes(8)))
    }
    /// A number biased toward edge cases.
    fn num(&mut self) -> u64 {
        match self.u8() % 6 {
            0 => 0,
            1 => 1,
            2 => u64::MAX,
            3 => self.u8() as u64,
            4 => i64::MIN as u64,
            _ => self.u64(),
        }
    }
    fn string(&mut self) -> String {
        let n = self.u8() as usize % 24;
        String::from_utf8_lossy(self.bytes(n)).into_owned()
    }
    fn vec_u8(&mut self) -> Vec<u8> {
        let n = self.u8() as usize;
        self.bytes(n).to_vec()
    }
    fn inner(&mut self) -> Inner {
        match self.u8() % 3 {
            0 => Inner::A,
            1 => Inner::B(self.u8()),
            _ => Inner::C {
                s: self.string(),
                v: (0..self.u8() % 4).map(|_| self.num()).collect(),
            },
        }
    }
    fn outer(&mut self, budget: u32) -> Outer {
        if budget == 0 {
            return Outer::Leaf(self.num() as i64);
        }
        match self.u8() % 4 {
            0 => Outer::Leaf(self.num() as i64),
            1 => Outer::Wrap(self.inner()),
            2 => Outer::Node((0..self.u8() % 3).map(|_| self.outer(budget - 1)).collect()),
            _ => {
                let b = Box::new(self.outer(budget - 1));
                let i = if self.u8() & 1 == 0 {
                    None
                } else {
                    Some(self.inner())
                };
                Outer::Boxed(b, i)
            }
        }
    }
}

fn pad<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out[..b.len()].copy_from_slice(b);
    out
}

/// Well-typed arguments for the method at `index` of `METHODS`, from the
/// input (any bytes past its end); handles can't be encoded by a raw peer
/// (there is no caps table in `call_frame`), so those methods get an index
/// into the empty table, which must be refused cleanly.
fn typed_args(index: usize, input: &mut Input) -> Vec<u8> {
    match index {
        // `ping`, and `Other::get`.
        0 | 15 => testing::encode_value(&()),
        1 => testing::encode_value(&(input.num() as i64, input.u32(), input.u8())),
        2 => testing::encode_value(&(input.string(),)),
        3 => testing::encode_value(&(input.vec_u8(),)),
        4 => testing::encode_value(&(Point {
            x: input.u32() as i32,
            y: input.u32() as i32,
            label: input.string(),
            tags: (0..input.u8() % 8)
                .map(|_| input.u8() as u16 * 257)
                .collect(),
        },)),
        5 => testing::encode_value(&(if input.u8() & 1 == 0 {
            None
        } else {
            Some(input.num())
        },)),
        6 => testing::encode_value(&(input.outer(6),)),
        7 => testing::encode_value(&((0..input.u8() % 16)
            .map(|_| input.num() as i64)
            .collect::<Vec<_>>(),)),
        // `spawn`, and `Other::bump`.
        8 | 16 => testing::encode_value(&(input.num(),)),
        9 => testing::encode_value(&(input.u8(),)),
        // A `Remote` is encoded as an index into the caps table.
        10 | 11 => testing::encode_value(&(input.u8() as u32,)),
        12 => testing::encode_value(&(if input.u8() & 1 == 0 {
            None
        } else {
            Some(input.u8() as u32)
        },)),
        13 => testing::encode_value(&(input.u32() as i32,)),
        14 => testing::encode_value(&((input.string(), input.u8() as u32),)),
        _ => input.vec_u8(),
    }
}

// ---------------------------------------------------------------------------
// The raw peer.

const READ_TIMEOUT: Duration = Duration::from_millis(50);
const MAX_OPS: usize = 24;
const FINISH_BOUND: Duration = Duration::from_secs(2);

struct Peer {
    stream: UnixStream,
    /// Handle IDs seen in replies (the first is the required `target`).
    handles: Vec<u64>,
    /// Still usable: no timeout, EOF or write error yet.
    live: bool,
}

impl Peer {
    fn send(&mut self, bytes: &[u8]) {
        if self.live && self.stream.write_all(bytes).is_err() {
            self.live = false;
        }
    }

    /// Reads until the reply to `id` arrives (remembering every handle
    /// seen), the connection ends, or nothing comes for `READ_TIMEOUT`.
    fn await_reply(&mut self, id: u64) {
        if id == 0 {
            return; // no reply is sent
        }
        while self.live {
            match testing::read_frame(&mut self.stream) {
                Ok(frame) => {
                    if let Some(reply) = testing::parse_reply(frame) {
                        self.handles.extend(reply.handles.iter().copied().take(16));
                        if reply.id == id {
                            return;
                        }
                    }
                }
                Err(_) => self.live = false,
            }
        }
    }

    /// Closes our half and waits (bounded) until the server has read up to
    /// the end and closed its half: everything this input sent has been
    /// handled before the next input starts, so a crash is blamed on the
    /// input that caused it and an artifact reproduces on its own.
    fn finish(mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
        let deadline = Instant::now() + FINISH_BOUND;
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            match self.stream.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) => {}
                Err(_) => return,
            }
        }
    }

    fn object(&self, input: &mut Input) -> u64 {
        let sel = input.u8();
        match sel % 4 {
            0 | 1 if !self.handles.is_empty() => {
                self.handles[(sel as usize / 4) % self.handles.len()]
            }
            2 => self
                .handles
                .first()
                .copied()
                .unwrap_or(0)
                .wrapping_add(input.u8() as u64),
            _ => input.num(),
        }
    }

    /// A call or require ID: 0 asks for no reply.
    fn call_id(input: &mut Input) -> u64 {
        match input.u8() % 4 {
            0 => 0,
            1 => u64::MAX,
            _ => 100 + input.u8() as u64,
        }
    }

    fn op(&mut self, input: &mut Input) {
        match input.u8() % 9 {
            // A call with a well-typed payload (maybe truncated or extended).
            0 | 1 => {
                let id = Self::call_id(input);
                let object = self.object(input);
                let index = input.u8() as usize % (METHODS.len() + 1);
                let mut payload = typed_args(index, input);
                match input.u8() % 4 {
                    0 => payload.truncate(payload.len() / 2),
                    1 => payload.extend_from_slice(input.bytes(4)),
                    _ => {}
                }
                let method = common::method_at(&METHODS, index);
                self.send(&testing::call_frame(id, object, method, &payload));
                self.await_reply(id);
            }
            // A call with a fuzzed method and payload bytes.
            2 => {
                let id = Self::call_id(input);
                let object = self.object(input);
                let method = match input.u8() % 3 {
                    // One of `METHODS`, or none.
                    0 => common::method_at(&METHODS, input.u8() as usize % (METHODS.len() + 1)),
                    // The snapshot method (neither trait has properties).
                    1 => u32::MAX,
                    // Any ID: almost always one nothing has.
                    _ => input.u32(),
                };
                let payload = input.vec_u8();
                self.send(&testing::call_frame(id, object, method, &payload));
                self.await_reply(id);
            }
            // A require, right or wrong.
            3 => {
                let id = Self::call_id(input);
                let sel = input.u8();
                let name = match sel % 3 {
                    0 => "target".to_string(),
                    1 => "nothing".to_string(),
                    _ => input.string(),
                };
                let (interface, fp) = match (sel / 3) % 4 {
                    0 => ("Target".to_string(), TARGET_FP),
                    1 => ("Other".to_string(), OTHER_FP),
                    2 => ("Target".to_string(), input.u64()),
                    _ => (input.string(), input.num()),
                };
                self.send(&testing::require_frame(id, &name, &interface, fp));
                self.await_reply(id);
            }
            // A release, sensible or not.
            4 => {
                let n = input.u8() % 6;
                let entries: Vec<(u64, u64)> =
                    (0..n).map(|_| (self.object(input), input.num())).collect();
                self.send(&testing::release_frame(&entries));
            }
            // Another hello, with any lease.
            5 => {
                let lease = input.num();
                self.send(&testing::hello_frame(lease));
            }
            // A fuzzed length prefix and whatever bytes follow.
            6 => {
                let len = match input.u8() % 4 {
                    0 => input.u8() as u32,
                    1 => u32::MAX,
                    2 => 16 << 20,
                    _ => input.u32(),
                };
                self.send(&len.to_le_bytes());
                let n = input.u8() as usize;
                let body = input.bytes(n).to_vec();
                self.send(&body);
            }
            // A correctly framed body of fuzzed bytes (a header that may not
            // parse).
            7 => {
                let n = input.u8() as usize;
                let body = input.bytes(n).to_vec();
                self.send(&(body.len() as u32).to_le_bytes());
                self.send(&body);
            }
            // A valid call frame, corrupted at one byte.
            _ => {
                let object = self.object(input);
                let method = common::method_at(&METHODS, input.u8() as usize % METHODS.len());
                let mut frame = testing::call_frame(
                    200,
                    object,
                    method,
                    &testing::encode_value(&(input.num(),)),
                );
                let at = input.u8() as usize % frame.len();
                frame[at] ^= input.u8() | 1;
                self.send(&frame);
                self.await_reply(200);
            }
        }
    }
}

fn run(data: &[u8]) {
    let f = fixture();
    let mut input = Input(data);
    let stream = UnixStream::connect(&f.live.path).expect("the server accepts connections");
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut peer = Peer {
        stream,
        handles: Vec::new(),
        live: true,
    };
    peer.send(&testing::hello_frame(30_000));
    peer.send(&testing::require_frame(1, "target", "Target", TARGET_FP));
    peer.await_reply(1);

    let mut ops = 0;
    while peer.live && !input.is_empty() && ops < MAX_OPS {
        peer.op(&mut input);
        ops += 1;
    }
    peer.finish();

    f.assert_good_client_fine();
    if f.runs.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
        f.assert_cleaned_up();
        f.assert_good_client_fine();
    }
}

fuzz_target!(|data: &[u8]| run(data));
