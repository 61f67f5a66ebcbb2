//! Traits, objects and transport harness shared by the behaviour tests.
#![allow(dead_code, missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use remote::{remote_object, Callback, Client, Remote, RemoteError, Server, Sink, Stream};
use serde::{Deserialize, Serialize};

/// Every wait in these tests is bounded by this.
pub const BOUND: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MathError {
    DivideByZero,
    Overflow { a: i64, b: i64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shape {
    pub name: String,
    pub points: Vec<(i32, i32)>,
    pub bytes: Vec<u8>,
}

/// A struct that carries a handle inside a serialized value.
#[derive(Serialize, Deserialize)]
pub struct Labelled {
    pub label: String,
    pub counter: Remote<dyn Counter>,
}

#[remote_object]
pub trait Calculator: Send + Sync {
    /// Adds two numbers.
    fn add(&self, a: i64, b: i64) -> i64;
    fn greet(&self, name: &str) -> String;
    fn sum(&self, values: &[i64]) -> i64;
    fn divide(&self, a: i64, b: i64) -> Result<i64, MathError>;
    fn spawn_counter(&self, start: u64) -> Remote<dyn Counter>;
    /// A stream of 0, 1, .. `n - 1` (sent by a thread of the server's).
    fn numbers(&self, n: u64) -> Stream<u64>;
    /// Reads `numbers` to its end: their sum, or the error that ended it.
    fn sum_stream(&self, numbers: Stream<u64>) -> Result<u64, String>;
    /// Sends 0, 1, .. `n - 1` into the caller's `sink` (half one by one,
    /// half in batches), then lets go of it.
    fn fill(&self, sink: Sink<u64>, n: u64) -> Result<(), String>;
    /// A stream with a window of `window` that `feed` sends into.
    fn open_feed(&self, window: u32) -> Stream<u64>;
    /// Sends up to `n` more numbers into the feed without waiting: how many
    /// fit, or `None` when its reader is gone.
    fn feed(&self, n: u64) -> Option<u64>;
    /// Calls `each` with 0, 1, .. `n - 1`, then returns.
    fn count_to(&self, n: u64, each: Callback<(u64,)>);
    /// A counter, unless `start` is `u64::MAX`.
    fn spawn_checked(&self, start: u64) -> Result<Remote<dyn Counter>, MathError>;
    /// Panics with `message` instead of returning a counter.
    fn spawn_failing(&self, message: String) -> Remote<dyn Counter>;
    fn spawn_many(&self, n: u32) -> Vec<Remote<dyn Counter>>;
    fn maybe_counter(&self, yes: bool) -> Option<Remote<dyn Counter>>;
    fn labelled(&self, label: String, start: u64) -> Labelled;
    fn read_counter(&self, counter: Remote<dyn Counter>) -> u64;
    fn read_labelled(&self, item: Labelled) -> (String, u64);
    fn is_mine(&self, counter: Remote<dyn Counter>) -> bool;
    fn echo_counter(&self, counter: Remote<dyn Counter>) -> Remote<dyn Counter>;
    fn stretch(&self, shape: Shape) -> Shape;
    fn shape(&self) -> Shape;
    fn boom(&self, message: String) -> u32;
    fn live_counters(&self) -> u64;
    /// The bytes, reversed.
    fn reverse(&self, data: &[u8]) -> Vec<u8>;
    /// `n` bytes counting up from 0, or none for 0.
    fn count_up(&self, n: u32) -> Option<Vec<u8>>;
    /// The bytes back, unless there are more than `limit`.
    fn checked_bytes(&self, data: Vec<u8>, limit: u32) -> Result<Vec<u8>, MathError>;
}

#[remote_object]
pub trait Counter: Send + Sync {
    fn next(&self) -> u64;
    fn get(&self) -> u64;
    /// A new counter starting at this one's value plus `plus`.
    fn fork(&self, plus: u64) -> Remote<dyn Counter>;
}

/// A counter whose drop the test can observe.
pub struct TestCounter {
    pub value: AtomicU64,
    pub live: Arc<AtomicU64>,
    pub dropped: Option<Sender<u64>>,
}

impl Counter for TestCounter {
    fn next(&self) -> u64 {
        self.value.fetch_add(1, Ordering::SeqCst)
    }
    fn get(&self) -> u64 {
        self.value.load(Ordering::SeqCst)
    }
    fn fork(&self, plus: u64) -> Remote<dyn Counter> {
        self.live.fetch_add(1, Ordering::SeqCst);
        Remote::new(TestCounter {
            value: AtomicU64::new(self.get() + plus),
            live: self.live.clone(),
            dropped: self.dropped.clone(),
        })
    }
}

impl Drop for TestCounter {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
        if let Some(tx) = &self.dropped {
            let _ = tx.send(self.value.load(Ordering::SeqCst));
        }
    }
}

pub struct Calc {
    pub live: Arc<AtomicU64>,
    pub dropped: Sender<u64>,
    pub mine: Mutex<Vec<std::sync::Weak<dyn Counter>>>,
    /// The sink of `open_feed`, and the next number it sends.
    pub feed: Mutex<Option<(Sink<u64>, u64)>>,
}

impl Calc {
    pub fn new() -> (Arc<Calc>, Receiver<u64>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        let calc = Calc {
            live: Arc::new(AtomicU64::new(0)),
            dropped: tx,
            mine: Mutex::new(Vec::new()),
            feed: Mutex::new(None),
        };
        (Arc::new(calc), rx)
    }

    fn counter(&self, start: u64) -> Arc<dyn Counter> {
        self.live.fetch_add(1, Ordering::SeqCst);
        Arc::new(TestCounter {
            value: AtomicU64::new(start),
            live: self.live.clone(),
            dropped: Some(self.dropped.clone()),
        })
    }
}

impl Calculator for Calc {
    fn add(&self, a: i64, b: i64) -> i64 {
        a + b
    }
    fn greet(&self, name: &str) -> String {
        format!("hello, {name}")
    }
    fn sum(&self, values: &[i64]) -> i64 {
        values.iter().sum()
    }
    fn divide(&self, a: i64, b: i64) -> Result<i64, MathError> {
        if b == 0 {
            Err(MathError::DivideByZero)
        } else {
            a.checked_div(b).ok_or(MathError::Overflow { a, b })
        }
    }
    fn spawn_counter(&self, start: u64) -> Remote<dyn Counter> {
        let c = self.counter(start);
        // Only a weak interest: the client's proxy decides its life.
        self.mine.lock().unwrap().push(Arc::downgrade(&c));
        Remote::from_arc(c)
    }
    fn numbers(&self, n: u64) -> Stream<u64> {
        let (sink, stream) = remote::channel(64);
        std::thread::spawn(move || {
            for i in 0..n {
                if sink.send(i).is_err() {
                    return;
                }
            }
        });
        stream
    }
    fn sum_stream(&self, numbers: Stream<u64>) -> Result<u64, String> {
        numbers
            .into_iter()
            .map(|item| item.map_err(|e| e.to_string()))
            .sum()
    }
    fn fill(&self, sink: Sink<u64>, n: u64) -> Result<(), String> {
        let half = n / 2;
        for i in 0..half {
            sink.send(i).map_err(|e| e.to_string())?;
        }
        sink.send_all(half..n).map_err(|e| e.to_string())
    }
    fn open_feed(&self, window: u32) -> Stream<u64> {
        let (sink, stream) = remote::channel(window as usize);
        *self.feed.lock().unwrap() = Some((sink, 0));
        stream
    }
    fn feed(&self, n: u64) -> Option<u64> {
        let mut feed = self.feed.lock().unwrap();
        let (sink, next) = feed.as_mut()?;
        let mut sent = 0;
        while sent < n {
            match sink.try_send(*next) {
                Ok(()) => {
                    *next += 1;
                    sent += 1;
                }
                Err(remote::TrySendError::Full(_)) => break,
                Err(remote::TrySendError::Closed(_)) => return None,
            }
        }
        Some(sent)
    }
    fn count_to(&self, n: u64, each: Callback<(u64,)>) {
        for i in 0..n {
            each.call((i,)).unwrap();
        }
    }
    fn spawn_checked(&self, start: u64) -> Result<Remote<dyn Counter>, MathError> {
        if start == u64::MAX {
            return Err(MathError::Overflow {
                a: start as i64,
                b: 1,
            });
        }
        Ok(self.spawn_counter(start))
    }
    fn spawn_failing(&self, message: String) -> Remote<dyn Counter> {
        panic!("{message}")
    }
    fn spawn_many(&self, n: u32) -> Vec<Remote<dyn Counter>> {
        (0..n)
            .map(|i| Remote::from_arc(self.counter(i as u64)))
            .collect()
    }
    fn maybe_counter(&self, yes: bool) -> Option<Remote<dyn Counter>> {
        yes.then(|| Remote::from_arc(self.counter(7)))
    }
    fn labelled(&self, label: String, start: u64) -> Labelled {
        Labelled {
            label,
            counter: Remote::from_arc(self.counter(start)),
        }
    }
    fn read_counter(&self, counter: Remote<dyn Counter>) -> u64 {
        counter.into_proxy().get().expect("counter reachable")
    }
    fn read_labelled(&self, item: Labelled) -> (String, u64) {
        let v = item.counter.into_proxy().get().expect("counter reachable");
        (item.label, v)
    }
    fn is_mine(&self, counter: Remote<dyn Counter>) -> bool {
        let mine = self.mine.lock().unwrap();
        counter.local().is_some_and(|c| {
            mine.iter()
                .any(|m| m.upgrade().is_some_and(|m| Arc::ptr_eq(&m, c)))
        })
    }
    fn echo_counter(&self, counter: Remote<dyn Counter>) -> Remote<dyn Counter> {
        counter
    }
    fn stretch(&self, mut shape: Shape) -> Shape {
        shape.name.push_str(" (stretched)");
        for p in &mut shape.points {
            p.0 *= 2;
        }
        shape.bytes.push(0xff);
        shape
    }
    fn shape(&self) -> Shape {
        Shape {
            name: "triangle".into(),
            points: vec![(0, 0), (1, 0), (0, 1)],
            bytes: vec![1, 2, 3],
        }
    }
    fn boom(&self, message: String) -> u32 {
        panic!("{message}")
    }
    fn live_counters(&self) -> u64 {
        self.live.load(Ordering::SeqCst)
    }
    fn reverse(&self, data: &[u8]) -> Vec<u8> {
        data.iter().rev().copied().collect()
    }
    fn count_up(&self, n: u32) -> Option<Vec<u8>> {
        (n > 0).then(|| (0..n).map(|i| i as u8).collect())
    }
    fn checked_bytes(&self, data: Vec<u8>, limit: u32) -> Result<Vec<u8>, MathError> {
        if data.len() > limit as usize {
            Err(MathError::Overflow {
                a: data.len() as i64,
                b: limit as i64,
            })
        } else {
            Ok(data)
        }
    }
}

/// A transport under test: how to connect a client to a server.
pub trait Transport {
    const NAME: &'static str;
    /// Serves `server` and returns a way to connect to it; the guard keeps
    /// the listener alive.
    fn serve(server: &Server) -> Box<dyn Fn() -> Client + Send + Sync>;
    /// Serves `server` (once more) and connects one client with `options`.
    fn connect_with(server: &Server, options: remote::Options) -> Client;
}

pub struct InProcess;
impl Transport for InProcess {
    const NAME: &'static str = "in-process";
    fn serve(server: &Server) -> Box<dyn Fn() -> Client + Send + Sync> {
        let server = server.clone();
        Box::new(move || Client::in_process(&server).expect("in-process connect"))
    }
    fn connect_with(server: &Server, options: remote::Options) -> Client {
        Client::in_process_with(server, options).expect("in-process connect")
    }
}

pub struct Unix;

/// A Unix listener and the temp dir its socket is in. Fields drop in
/// declaration order: the listener (which removes its socket file) before
/// the directory.
struct UnixListening {
    _listener: remote::Listener,
    _dir: tempfile::TempDir,
}

impl Transport for Unix {
    const NAME: &'static str = "unix";
    fn serve(server: &Server) -> Box<dyn Fn() -> Client + Send + Sync> {
        let dir = tempdir();
        let path = dir.path().join("server.sock");
        let listener = server.listen_unix(&path).expect("listen");
        let keep = UnixListening {
            _listener: listener,
            _dir: dir,
        };
        Box::new(move || {
            let _keep = &keep;
            Client::connect_unix(&path).expect("unix connect")
        })
    }
    fn connect_with(server: &Server, options: remote::Options) -> Client {
        let dir = tempdir();
        let path = dir.path().join("server.sock");
        let listener = server.listen_unix(&path).expect("listen");
        let client = Client::connect_unix_with(&path, options).expect("unix connect");
        // The connection outlives the listener; the directory goes after it.
        drop(listener);
        drop(dir);
        client
    }
}

pub struct Tcp;
impl Transport for Tcp {
    const NAME: &'static str = "tcp";
    fn serve(server: &Server) -> Box<dyn Fn() -> Client + Send + Sync> {
        let listener = server.listen_tcp("127.0.0.1:0").expect("listen");
        let addr = listener.local_addr().expect("tcp address");
        Box::new(move || {
            let _keep = &listener;
            Client::connect_tcp(addr).expect("tcp connect")
        })
    }
    fn connect_with(server: &Server, options: remote::Options) -> Client {
        let listener = server.listen_tcp("127.0.0.1:0").expect("listen");
        let addr = listener.local_addr().expect("tcp address");
        let client = Client::connect_tcp_with(addr, options).expect("tcp connect");
        drop(listener);
        client
    }
}

/// A stream the user brings: an in-memory `tokio::io::duplex` pair,
/// served with `Server::serve_stream` and joined with
/// `Client::over_stream`.
pub struct Duplex;
impl Transport for Duplex {
    const NAME: &'static str = "duplex";
    fn serve(server: &Server) -> Box<dyn Fn() -> Client + Send + Sync> {
        let server = server.clone();
        Box::new(move || Self::connect_with(&server, remote::Options::default()))
    }
    fn connect_with(server: &Server, options: remote::Options) -> Client {
        let (near, far) = tokio::io::duplex(256 * 1024);
        server.serve_stream(far, "duplex").expect("serve a stream");
        Client::over_stream_with(near, "duplex", options).expect("connect over a stream")
    }
}

/// TLS over TCP on loopback, with a self-signed certificate for
/// `localhost` made at first use.
#[cfg(feature = "tls")]
pub struct Tls;

#[cfg(feature = "tls")]
pub fn tls_configs() -> (
    Arc<remote::rustls::ServerConfig>,
    Arc<remote::rustls::ClientConfig>,
) {
    use remote::rustls;
    static CONFIGS: std::sync::OnceLock<(Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>)> =
        std::sync::OnceLock::new();
    CONFIGS
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()])
                .expect("self-signed certificate");
            let cert = certified.cert.der().clone();
            let key = rustls::pki_types::PrivateKeyDer::Pkcs8(
                certified.signing_key.serialize_der().into(),
            );
            let server = rustls::ServerConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .expect("protocol versions")
                .with_no_client_auth()
                .with_single_cert(vec![cert.clone()], key)
                .expect("server config");
            let mut roots = rustls::RootCertStore::empty();
            roots.add(cert).expect("trust our certificate");
            let client = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("protocol versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            (Arc::new(server), Arc::new(client))
        })
        .clone()
}

#[cfg(feature = "tls")]
impl Transport for Tls {
    const NAME: &'static str = "tls";
    fn serve(server: &Server) -> Box<dyn Fn() -> Client + Send + Sync> {
        let (server_config, client_config) = tls_configs();
        let listener = server
            .listen_tls("127.0.0.1:0", server_config)
            .expect("listen");
        let addr = listener.local_addr().expect("tcp address");
        Box::new(move || {
            let _keep = &listener;
            Client::connect_tls(addr, "localhost", client_config.clone()).expect("tls connect")
        })
    }
    fn connect_with(server: &Server, options: remote::Options) -> Client {
        let (server_config, client_config) = tls_configs();
        let listener = server
            .listen_tls("127.0.0.1:0", server_config)
            .expect("listen");
        let addr = listener.local_addr().expect("tcp address");
        let client = Client::connect_tls_with(addr, "localhost", client_config, options)
            .expect("tls connect");
        drop(listener);
        client
    }
}

/// A fresh directory under the system temp dir, removed with everything in
/// it when the guard drops (also when a test panics). Keep the guard alive
/// for as long as anything uses a path inside it, and drop a listener bound
/// there before it. It is made directly under the temp dir, with a short
/// name, so that socket paths in it stay within the 108 bytes a Unix socket
/// address allows.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("remote-test-")
        .tempdir()
        .expect("temp dir")
}

/// Polls `cond` until it holds or `BOUND` passes. For state that has no
/// signal of its own (counts in `stats()`).
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < BOUND, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

pub fn expect_drop(rx: &Receiver<u64>) -> u64 {
    rx.recv_timeout(BOUND)
        .expect("the server object was not dropped in time")
}

pub type Connect = Box<dyn Fn() -> Client + Send + Sync>;

/// The middle of three peers: it holds a proxy of a calculator served
/// elsewhere, and hands out what that calculator gives.
#[remote_object]
pub trait Broker: Send + Sync {
    /// The calculator behind the broker.
    fn calculator(&self) -> Remote<dyn Calculator>;
    /// A counter of that calculator.
    fn counter(&self, start: u64) -> Remote<dyn Counter>;
    /// Keeps `counter`; says whether the calculator, shown it, finds its
    /// own object (a relay that came back to the broker arrives as the
    /// broker's original proxy, which goes home whole).
    fn hold(&self, counter: Remote<dyn Counter>) -> bool;
    /// Reads the held counters, directly.
    fn read_held(&self) -> Vec<u64>;
    /// Lets go of the held counters.
    fn drop_held(&self);
}

pub struct TheBroker {
    pub calc: CalculatorProxy,
    pub held: Mutex<Vec<CounterProxy>>,
}

impl Broker for TheBroker {
    fn calculator(&self) -> Remote<dyn Calculator> {
        self.calc.clone().into_remote()
    }
    fn counter(&self, start: u64) -> Remote<dyn Counter> {
        self.calc.spawn_counter(start).unwrap().into_remote()
    }
    fn hold(&self, counter: Remote<dyn Counter>) -> bool {
        let mine = self.calc.is_mine(counter.clone()).unwrap();
        self.held.lock().unwrap().push(counter.into_proxy());
        mine
    }
    fn read_held(&self) -> Vec<u64> {
        self.held
            .lock()
            .unwrap()
            .iter()
            .map(|c| c.get().unwrap())
            .collect()
    }
    fn drop_held(&self) {
        self.held.lock().unwrap().clear();
    }
}

/// A broker server in front of `calc` (a client of the calculator).
pub fn broker_server(calc: CalculatorProxy) -> (Server, Arc<TheBroker>) {
    let broker = Arc::new(TheBroker {
        calc,
        held: Mutex::new(Vec::new()),
    });
    let server = Server::new();
    server.export("broker", broker.clone() as Arc<dyn Broker>);
    (server, broker)
}

pub fn calculator_server() -> (Server, Arc<Calc>, Receiver<u64>) {
    let (calc, dropped) = Calc::new();
    let server = Server::new();
    server.export("calculator", calc.clone() as Arc<dyn Calculator>);
    (server, calc, dropped)
}

pub fn remote_error_is_disconnected(e: &RemoteError) -> bool {
    matches!(e, RemoteError::Disconnected)
}
