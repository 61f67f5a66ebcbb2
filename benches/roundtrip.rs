//! Round-trip latency of `remote` proxies, each measured in the same run as
//! the raw transport it rides on (in-process, Unix socket, TCP), a tarpc
//! comparison, throughput with 64 calls in flight against the sequential
//! rate, per transport, for the async and the blocking proxy, and 64 calls in
//! flight on one Unix connection to a server in another process, against
//! tarpc and a raw tokio window of 64 frames.
//!
//! ```text
//! cargo bench --bench roundtrip                    # full run (a few minutes at most)
//! cargo bench --bench roundtrip -- --quick         # < 60 s
//! cargo bench --bench roundtrip -- --quick unix    # only groups whose id contains "unix"
//! ```
//!
//! Group ids (latency groups in both regimes, `-pinned` and `-unpinned`):
//! `async-inproc-*`, `async-unix-*`, `async-tcp-*`, `blocking-inproc-*`,
//! `blocking-unix-*`, `blocking-tcp-*`, `tarpc-*`; throughput groups, unpinned
//! only: `throughput-{async,blocking}-{inproc,unix,tcp}-unpinned` and
//! `cross-unix-unpinned` (the server in a process of its own). Filter
//! examples: `tcp`, `throughput`, `throughput-blocking`, `unpinned`, `cross`.
//!
//! Each regime (pinned, unpinned) runs in a child process of its own (this
//! binary again, with `ROUNDTRIP_BENCH_ROLE` set), so every thread of a
//! regime, the library's runtime threads included, is created in it and has
//! its affinity; the parent merges their tables. The cross-process group
//! starts one more process of this binary (`ROUNDTRIP_BENCH_ROLE=xserver`)
//! that serves `remote`, tarpc and the raw echo on Unix sockets until its
//! stdin closes.
//!
//! Every bench in a group is measured in interleaved runs (rotating order), so
//! the benches of one group see the same machine state; each figure is the
//! median over the runs of that run's ns per call.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::future::Future;
use std::hint::black_box;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use remote::{remote_object, Client, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ----- the service, in both frameworks ----------------------------------------

/// The one method every row calls.
#[remote_object]
pub trait Calculator: Send + Sync {
    /// Adds two numbers.
    fn add(&self, a: i64, b: i64) -> i64;
}

struct Calc;
impl Calculator for Calc {
    fn add(&self, a: i64, b: i64) -> i64 {
        a + b
    }
}

/// The same service for tarpc.
#[tarpc::service]
pub trait TarpcCalculator {
    /// Adds two numbers.
    async fn add(a: i64, b: i64) -> i64;
}

#[derive(Clone)]
struct TarpcCalc;
impl TarpcCalculator for TarpcCalc {
    async fn add(self, _: tarpc::context::Context, a: i64, b: i64) -> i64 {
        a + b
    }
}

// ----- configuration ------------------------------------------------------------

/// Which process of the bench this is: unset in the parent, `pinned` or
/// `unpinned` in a regime's child, `xserver` in the cross-process server.
const ROLE_ENV: &str = "ROUNDTRIP_BENCH_ROLE";
/// The directory the cross-process server binds its sockets in.
const XSERVER_DIR_ENV: &str = "ROUNDTRIP_BENCH_XSERVER_DIR";

#[derive(Clone)]
struct Cfg {
    args: BenchArgs,
    /// Set in a child process: the regime it measures.
    regime: Option<String>,
    warmup: Duration,
    run_time: Duration,
    runs: usize,
    dir: PathBuf,
}

impl Cfg {
    fn from_args() -> Cfg {
        let args = BenchArgs::from_args();
        Cfg {
            regime: std::env::var(ROLE_ENV).ok(),
            warmup: Duration::from_millis(args.pick(40, 150)),
            run_time: Duration::from_millis(args.pick(40, 200)),
            runs: args.pick(5, 15),
            dir: process_temp_dir("remote-bench"),
            args,
        }
    }

    /// Per regime (one child process each); the parent allows twice that.
    fn time_limit(&self) -> Duration {
        Duration::from_secs(self.args.pick(120, 600))
    }

    fn sock(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.sock"))
    }
}

// ----- measuring ----------------------------------------------------------------

type RunFn = Box<dyn FnMut(u64) -> Duration>;

/// One thing to time: `run(n)` performs `n` iterations of `calls` calls each
/// and returns how long they took.
struct Bench {
    calls: u64,
    run: RunFn,
}

fn bench(run: impl FnMut(u64) -> Duration + 'static) -> Bench {
    Bench {
        calls: 1,
        run: Box::new(run),
    }
}

/// Warms `b` up and returns the iteration count that fills one run.
fn calibrate(cfg: &Cfg, b: &mut Bench) -> u64 {
    let start = Instant::now();
    let mut n = 8u64;
    loop {
        let took = (b.run)(n);
        let per_iter = took.as_nanos().max(1) as f64 / n as f64;
        if start.elapsed() >= cfg.warmup || n >= 1 << 20 {
            let fill = cfg.run_time.as_nanos() as f64 / per_iter;
            return (fill as u64).clamp(16, 2_000_000);
        }
        n *= 2;
    }
}

/// Median ns per call of each bench, measured in interleaved runs, and the
/// context switches per call (all threads) seen during those runs.
fn measure(cfg: &Cfg, group: &str, benches: &mut [Bench]) -> (Vec<f64>, Vec<f64>) {
    set_current(group);
    eprintln!("measuring {group} ...");
    let iters: Vec<u64> = benches.iter_mut().map(|b| calibrate(cfg, b)).collect();
    let mut samples = vec![Vec::with_capacity(cfg.runs); benches.len()];
    let mut switches = vec![(0u64, 0u64); benches.len()];
    for r in 0..cfg.runs {
        for k in 0..benches.len() {
            let i = (k + r) % benches.len();
            let before = context_switches();
            let took = (benches[i].run)(iters[i]);
            let after = context_switches();
            let calls = iters[i] * benches[i].calls;
            samples[i].push(took.as_nanos() as f64 / calls as f64);
            switches[i].0 += after.saturating_sub(before);
            switches[i].1 += calls;
        }
    }
    let switches = switches
        .iter()
        .map(|&(n, calls)| n as f64 / calls as f64)
        .collect();
    (samples.into_iter().map(median).collect(), switches)
}

// ----- results --------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Target {
    AtMost(f64),
    AtLeast(f64),
    Info,
}

impl Target {
    /// How a child writes it for the parent.
    fn encode(self) -> String {
        match self {
            Target::AtMost(t) => format!("<={t}"),
            Target::AtLeast(t) => format!(">={t}"),
            Target::Info => "info".into(),
        }
    }

    fn decode(s: &str) -> Target {
        if let Some(t) = s.strip_prefix("<=") {
            Target::AtMost(t.parse().expect("a target"))
        } else if let Some(t) = s.strip_prefix(">=") {
            Target::AtLeast(t.parse().expect("a target"))
        } else {
            Target::Info
        }
    }

    /// The target column and the pass/miss column for `ratio`.
    fn judge(self, ratio: f64) -> (String, &'static str) {
        let verdict = |ok: bool| if ok { "pass" } else { "MISS" };
        match self {
            Target::AtMost(t) => (format!("<= {t:.1}"), verdict(ratio <= t)),
            Target::AtLeast(t) => (format!(">= {t:.1}"), verdict(ratio >= t)),
            Target::Info => ("info".to_string(), "-"),
        }
    }
}

struct Row {
    name: String,
    ns: f64,
    raw: f64,
    target: Target,
}

impl Row {
    fn new(name: impl Into<String>, ns: f64, raw: f64, target: Target) -> Row {
        Row {
            name: name.into(),
            ns,
            raw,
            target,
        }
    }
}

fn print_table(rows: &[Row]) {
    println!("| row | ns/round trip (median) | raw ns | ratio | target | pass/miss |");
    println!("|---|---:|---:|---:|---|---|");
    for r in rows {
        let ratio = r.ns / r.raw;
        let (target, verdict) = r.target.judge(ratio);
        println!(
            "| {} | {:.0} | {:.0} | {:.2} | {} | {} |",
            r.name, r.ns, r.raw, ratio, target, verdict
        );
    }
}

/// Rows of calls per second: `ns` is ns per call of the row's subject, `raw`
/// ns per call of what it is compared with; the ratio is the subject's
/// calls/s over the other's. `columns` names the two calls/s columns.
fn print_rate_table(rows: &[Row], columns: [&str; 2]) {
    println!(
        "| row | {} | {} | ratio | target | pass/miss |",
        columns[0], columns[1]
    );
    println!("|---|---:|---:|---:|---|---|");
    for r in rows {
        let ratio = r.raw / r.ns;
        let (target, verdict) = r.target.judge(ratio);
        println!(
            "| {} | {:.0} | {:.0} | {:.2} | {} | {} |",
            r.name,
            1e9 / r.ns,
            1e9 / r.raw,
            ratio,
            target,
            verdict
        );
    }
}

// ----- helpers ----------------------------------------------------------------------

/// Runs `make()`'s future to completion on a current-thread runtime of its
/// own thread.
fn spawn_rt_thread<F, Fut>(name: &str, make: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || current_rt().block_on(make()))
        .expect("server thread");
}

fn calc_server() -> Server {
    let server = Server::new();
    server.export("calc", Arc::new(Calc) as Arc<dyn Calculator>);
    server
}

/// Raw frames: `[u32 len LE][a i64 LE][b i64 LE]` and `[u32 len LE][sum i64 LE]`.
fn request_frame(a: i64, b: i64) -> [u8; 20] {
    let mut f = [0u8; 20];
    f[..4].copy_from_slice(&16u32.to_le_bytes());
    f[4..12].copy_from_slice(&a.to_le_bytes());
    f[12..].copy_from_slice(&b.to_le_bytes());
    f
}

fn reply_frame(sum: i64) -> [u8; 12] {
    let mut f = [0u8; 12];
    f[..4].copy_from_slice(&8u32.to_le_bytes());
    f[4..].copy_from_slice(&sum.to_le_bytes());
    f
}

fn i64_at(buf: &[u8], at: usize) -> i64 {
    i64::from_le_bytes(buf[at..at + 8].try_into().expect("8 bytes"))
}

/// Reads one length-prefixed frame into `buf`, returning its body length.
fn read_frame(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut prefix = [0u8; 4];
    r.read_exact(&mut prefix)?;
    let len = u32::from_le_bytes(prefix) as usize;
    r.read_exact(&mut buf[..len])?;
    Ok(len)
}

async fn read_frame_async(
    r: &mut (impl tokio::io::AsyncRead + Unpin),
    buf: &mut [u8],
) -> std::io::Result<usize> {
    let mut prefix = [0u8; 4];
    r.read_exact(&mut prefix).await?;
    let len = u32::from_le_bytes(prefix) as usize;
    r.read_exact(&mut buf[..len]).await?;
    Ok(len)
}

fn bound_std_listener(path: &Path) -> std::os::unix::net::UnixListener {
    let _ = std::fs::remove_file(path);
    std::os::unix::net::UnixListener::bind(path).expect("bind")
}

// ----- proxies --------------------------------------------------------------------

/// Sequential async calls on a current-thread runtime.
fn async_proxy_bench(client: Client, keep: impl Sized + 'static) -> Bench {
    async_proxy_bench_on(current_rt(), client, keep)
}

/// Sequential async calls on the current-thread runtime `rt`.
fn async_proxy_bench_on(
    rt: tokio::runtime::Runtime,
    client: Client,
    keep: impl Sized + 'static,
) -> Bench {
    let calc: CalculatorAsyncProxy = rt.block_on(client.require_async("calc")).expect("require");
    bench(move |n| {
        let _keep = (&client, &keep);
        rt.block_on(async {
            let t = Instant::now();
            for i in 0..n as i64 {
                black_box(calc.add(black_box(i), 1).await.expect("add"));
            }
            t.elapsed()
        })
    })
}

/// Calls kept in flight by the throughput rows.
const IN_FLIGHT: usize = 64;

/// `IN_FLIGHT` async calls kept in flight on one current-thread runtime: a
/// new call is sent as soon as any reply arrives (a sliding window, not
/// batches), `IN_FLIGHT` calls per iteration.
fn async_in_flight_bench(client: Client, keep: impl Sized + 'static) -> Bench {
    async_in_flight_bench_on(current_rt(), client, keep)
}

/// [`async_in_flight_bench`] on the current-thread runtime `rt`.
fn async_in_flight_bench_on(
    rt: tokio::runtime::Runtime,
    client: Client,
    keep: impl Sized + 'static,
) -> Bench {
    use futures::stream::FuturesUnordered;
    let calc: CalculatorAsyncProxy = rt.block_on(client.require_async("calc")).expect("require");
    let mut b = bench(move |n| {
        let _keep = (&client, &keep);
        rt.block_on(async {
            let total = n as usize * IN_FLIGHT;
            let t = Instant::now();
            let mut pending = FuturesUnordered::new();
            let mut sent = 0;
            while sent < total.min(IN_FLIGHT) {
                pending.push(calc.add(black_box(sent as i64), 1));
                sent += 1;
            }
            while let Some(r) = pending.next().await {
                black_box(r.expect("add"));
                if sent < total {
                    pending.push(calc.add(black_box(sent as i64), 1));
                    sent += 1;
                }
            }
            t.elapsed()
        })
    });
    b.calls = IN_FLIGHT as u64;
    b
}

/// `threads` std threads, each making sequential blocking calls on its own
/// clone of one proxy: `threads` calls in flight. One iteration is one call
/// per thread; a run starts every thread and ends when the last is done.
fn blocking_in_flight_bench(client: Client, keep: impl Sized + 'static, threads: usize) -> Bench {
    let calc: CalculatorProxy = client.require("calc").expect("require");
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<()>();
    let starts: Vec<crossbeam_channel::Sender<u64>> = (0..threads)
        .map(|_| {
            let (start_tx, start_rx) = crossbeam_channel::unbounded::<u64>();
            let calc = calc.clone();
            let done = done_tx.clone();
            std::thread::Builder::new()
                .name("bench-caller".into())
                .spawn(move || {
                    for n in start_rx {
                        for i in 0..n as i64 {
                            black_box(calc.add(black_box(i), 1).expect("add"));
                        }
                        if done.send(()).is_err() {
                            break;
                        }
                    }
                })
                .expect("caller thread");
            start_tx
        })
        .collect();
    let mut b = bench(move |n| {
        let _keep = (&client, &keep, &calc);
        let t = Instant::now();
        for start in &starts {
            start.send(n).expect("start");
        }
        for _ in 0..starts.len() {
            done_rx.recv().expect("done");
        }
        t.elapsed()
    });
    b.calls = threads as u64;
    b
}

/// Sequential async calls with the client, the server and the calls all on
/// one current-thread runtime (`Options::runtime` on both ends, in-process).
fn async_proxy_one_runtime_bench() -> Bench {
    let rt = current_rt();
    let options = remote::Options::default().runtime(rt.handle().clone());
    let server = Server::with_options(options.clone());
    server.export("calc", Arc::new(Calc) as Arc<dyn Calculator>);
    let client = Client::in_process_with(&server, options).expect("connect");
    async_proxy_bench_on(rt, client, server)
}

fn blocking_proxy_bench(client: Client, keep: impl Sized + 'static) -> Bench {
    let calc: CalculatorProxy = client.require("calc").expect("require");
    bench(move |n| {
        let _keep = (&client, &keep);
        let t = Instant::now();
        for i in 0..n as i64 {
            black_box(calc.add(black_box(i), 1).expect("add"));
        }
        t.elapsed()
    })
}

fn unix_client(cfg: &Cfg, name: &str) -> (Client, (Server, remote::Listener)) {
    let server = calc_server();
    let listener = server.listen_unix(cfg.sock(name)).expect("listen");
    let client = Client::connect_unix(listener.path().expect("a unix listener")).expect("connect");
    (client, (server, listener))
}

fn tcp_client() -> (Client, (Server, remote::Listener)) {
    let server = calc_server();
    let listener = server.listen_tcp("127.0.0.1:0").expect("listen");
    let client =
        Client::connect_tcp(listener.local_addr().expect("a tcp listener")).expect("connect");
    (client, (server, listener))
}

/// The transports the throughput rows run on.
#[derive(Clone, Copy)]
enum Transport {
    InProc,
    Unix,
    Tcp,
}

impl Transport {
    const ALL: [Transport; 3] = [Transport::InProc, Transport::Unix, Transport::Tcp];

    fn id(self) -> &'static str {
        match self {
            Transport::InProc => "inproc",
            Transport::Unix => "unix",
            Transport::Tcp => "tcp",
        }
    }

    /// A fresh server and a client connected to it; the second value keeps
    /// the server (and listener) alive.
    fn connect(self, cfg: &Cfg, name: &str) -> (Client, Box<dyn std::any::Any>) {
        match self {
            Transport::InProc => {
                let server = calc_server();
                (
                    Client::in_process(&server).expect("connect"),
                    Box::new(server),
                )
            }
            Transport::Unix => {
                let (client, keep) = unix_client(cfg, name);
                (client, Box::new(keep))
            }
            Transport::Tcp => {
                let (client, keep) = tcp_client();
                (client, Box::new(keep))
            }
        }
    }
}

// ----- raw limits -------------------------------------------------------------------

type Req = (i64, i64, tokio::sync::oneshot::Sender<i64>);

async fn serve_mpsc(mut rx: tokio::sync::mpsc::Receiver<Req>) {
    while let Some((a, b, reply)) = rx.recv().await {
        let _ = reply.send(a + b);
    }
}

/// tokio mpsc request + oneshot reply; the server task runs on the client's
/// current-thread runtime (`same_thread`) or on its own thread's.
fn raw_tokio_mpsc(same_thread: bool) -> Bench {
    let rt = current_rt();
    let (tx, rx) = tokio::sync::mpsc::channel::<Req>(64);
    if same_thread {
        rt.spawn(serve_mpsc(rx));
    } else {
        spawn_rt_thread("raw-mpsc-server", move || serve_mpsc(rx));
    }
    bench(move |n| {
        rt.block_on(async {
            let t = Instant::now();
            for i in 0..n as i64 {
                let (otx, orx) = tokio::sync::oneshot::channel();
                tx.send((black_box(i), 1, otx)).await.expect("send");
                black_box(orx.await.expect("reply"));
            }
            t.elapsed()
        })
    })
}

/// Echo side of the raw tokio ping-pong: answers each request frame.
async fn tokio_echo(
    r: impl tokio::io::AsyncRead + Unpin,
    mut w: impl tokio::io::AsyncWrite + Unpin,
) {
    let mut r = tokio::io::BufReader::new(r);
    let mut buf = [0u8; 64];
    while let Ok(16) = read_frame_async(&mut r, &mut buf).await {
        let reply = reply_frame(i64_at(&buf, 0) + i64_at(&buf, 8));
        if w.write_all(&reply).await.is_err() {
            break;
        }
    }
}

/// Client side of the raw tokio ping-pong, on the current-thread runtime `rt`.
fn tokio_ping_pong(
    rt: tokio::runtime::Runtime,
    r: impl tokio::io::AsyncRead + Unpin + 'static,
    mut w: impl tokio::io::AsyncWrite + Unpin + 'static,
) -> Bench {
    let mut r = tokio::io::BufReader::new(r);
    bench(move |n| {
        rt.block_on(async {
            let mut buf = [0u8; 64];
            let t = Instant::now();
            for i in 0..n as i64 {
                w.write_all(&request_frame(black_box(i), 1))
                    .await
                    .expect("write");
                read_frame_async(&mut r, &mut buf).await.expect("read");
                black_box(i64_at(&buf, 0));
            }
            t.elapsed()
        })
    })
}

/// Length-prefixed ping-pong over a tokio UnixStream; the server task runs on
/// its own thread's current-thread runtime.
fn raw_tokio_unix(cfg: &Cfg, name: &str) -> Bench {
    let path = cfg.sock(name);
    let listener = bound_std_listener(&path);
    listener.set_nonblocking(true).expect("nonblocking");
    spawn_rt_thread("raw-tokio-server", move || async move {
        let listener = tokio::net::UnixListener::from_std(listener).expect("listener");
        if let Ok((stream, _)) = listener.accept().await {
            let (r, w) = stream.into_split();
            tokio_echo(r, w).await;
        }
    });
    let rt = current_rt();
    let stream = rt
        .block_on(tokio::net::UnixStream::connect(&path))
        .expect("connect");
    let (r, w) = stream.into_split();
    tokio_ping_pong(rt, r, w)
}

/// The same ping-pong over a loopback tokio TcpStream, TCP_NODELAY on both
/// ends.
fn raw_tokio_tcp() -> Bench {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    spawn_rt_thread("raw-tokio-server", move || async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
        if let Ok((stream, _)) = listener.accept().await {
            stream.set_nodelay(true).expect("nodelay");
            let (r, w) = stream.into_split();
            tokio_echo(r, w).await;
        }
    });
    let rt = current_rt();
    let stream = rt
        .block_on(tokio::net::TcpStream::connect(addr))
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (r, w) = stream.into_split();
    tokio_ping_pong(rt, r, w)
}

/// Ping-pong on two crossbeam channels between two std threads.
fn raw_crossbeam() -> Bench {
    let (req_tx, req_rx) = crossbeam_channel::unbounded::<(i64, i64)>();
    let (rep_tx, rep_rx) = crossbeam_channel::unbounded::<i64>();
    std::thread::Builder::new()
        .name("raw-xbeam-server".into())
        .spawn(move || {
            for (a, b) in req_rx {
                if rep_tx.send(a + b).is_err() {
                    break;
                }
            }
        })
        .expect("server thread");
    bench(move |n| {
        let t = Instant::now();
        for i in 0..n as i64 {
            req_tx.send((black_box(i), 1)).expect("send");
            black_box(rep_rx.recv().expect("recv"));
        }
        t.elapsed()
    })
}

/// Echo side of the raw blocking ping-pong, on a std thread of its own.
fn spawn_std_echo<S: Read + Write + Send + 'static>(
    accept: impl FnOnce() -> std::io::Result<(S, S)> + Send + 'static,
) {
    std::thread::Builder::new()
        .name("raw-std-server".into())
        .spawn(move || {
            let Ok((r, mut w)) = accept() else {
                return;
            };
            let mut r = BufReader::new(r);
            let mut buf = [0u8; 64];
            while let Ok(16) = read_frame(&mut r, &mut buf) {
                let reply = reply_frame(i64_at(&buf, 0) + i64_at(&buf, 8));
                if w.write_all(&reply).is_err() {
                    break;
                }
            }
        })
        .expect("server thread");
}

/// Client side of the raw blocking ping-pong.
fn std_ping_pong(r: impl Read + 'static, mut w: impl Write + 'static) -> Bench {
    let mut r = BufReader::new(r);
    bench(move |n| {
        let mut buf = [0u8; 64];
        let t = Instant::now();
        for i in 0..n as i64 {
            w.write_all(&request_frame(black_box(i), 1)).expect("write");
            read_frame(&mut r, &mut buf).expect("read");
            black_box(i64_at(&buf, 0));
        }
        t.elapsed()
    })
}

/// Length-prefixed ping-pong over a std UnixStream; a server thread echoes.
fn raw_std_unix(cfg: &Cfg, name: &str) -> Bench {
    let path = cfg.sock(name);
    let listener = bound_std_listener(&path);
    spawn_std_echo(move || {
        let (stream, _) = listener.accept()?;
        Ok((stream.try_clone()?, stream))
    });
    let stream = std::os::unix::net::UnixStream::connect(&path).expect("connect");
    std_ping_pong(stream.try_clone().expect("clone"), stream)
}

/// The same ping-pong over a loopback std TcpStream, TCP_NODELAY on both ends.
fn raw_std_tcp() -> Bench {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    spawn_std_echo(move || {
        let (stream, _) = listener.accept()?;
        stream.set_nodelay(true)?;
        Ok((stream.try_clone()?, stream))
    });
    let stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    std_ping_pong(stream.try_clone().expect("clone"), stream)
}

/// tarpc over a Unix socket with the bincode transport: server on its own
/// thread's current-thread runtime (one task per request, as tarpc's docs do),
/// client on a current-thread runtime.
fn tarpc_unix(cfg: &Cfg, name: &str) -> Bench {
    use tarpc::serde_transport::unix;
    use tarpc::server::{BaseChannel, Channel};
    use tarpc::tokio_serde::formats::Bincode;

    let path = cfg.sock(name);
    let listener = bound_std_listener(&path);
    listener.set_nonblocking(true).expect("nonblocking");
    spawn_rt_thread("tarpc-server", move || async move {
        let listener = tokio::net::UnixListener::from_std(listener).expect("listener");
        let mut incoming = unix::listen_on(listener, Bincode::default)
            .await
            .expect("listen");
        if let Some(Ok(transport)) = incoming.next().await {
            BaseChannel::with_defaults(transport)
                .execute(TarpcCalc.serve())
                .for_each(|response| async {
                    tokio::spawn(response);
                })
                .await;
        }
    });
    let rt = current_rt();
    let client = rt.block_on(async {
        let transport = unix::connect(&path, Bincode::default)
            .await
            .expect("connect");
        TarpcCalculatorClient::new(tarpc::client::Config::default(), transport).spawn()
    });
    bench(move |n| {
        rt.block_on(async {
            let t = Instant::now();
            for i in 0..n as i64 {
                let sum = client
                    .add(tarpc::context::current(), black_box(i), 1)
                    .await
                    .expect("add");
                black_box(sum);
            }
            t.elapsed()
        })
    })
}

// ----- cross-process ------------------------------------------------------------------

/// The cross-process server: this binary again, serving `remote`, tarpc and
/// the raw window echo on Unix sockets in `dir` until its stdin closes.
struct XServer {
    child: std::process::Child,
    dir: PathBuf,
}

impl XServer {
    const REMOTE: &'static str = "x-remote.sock";
    const TARPC: &'static str = "x-tarpc.sock";
    const RAW: &'static str = "x-raw.sock";

    /// Starts the server process and waits until it listens.
    fn start(cfg: &Cfg) -> XServer {
        use std::io::BufRead;
        let exe = std::env::current_exe().expect("bench executable");
        let mut child = std::process::Command::new(exe)
            .env(ROLE_ENV, "xserver")
            .env(XSERVER_DIR_ENV, &cfg.dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("start the cross-process server");
        let stdout = child.stdout.take().expect("server stdout");
        let server = XServer {
            child,
            dir: cfg.dir.clone(),
        };
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the server's first line");
        assert_eq!(
            line.trim(),
            "READY",
            "the cross-process server did not start"
        );
        server
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for XServer {
    /// Closes the server's stdin (it exits on EOF); kills it if it has not
    /// exited within two seconds.
    fn drop(&mut self) {
        stop_server(&mut self.child);
    }
}

/// The cross-process server's `main`: one multi-thread runtime with two
/// workers (the size of the library's own) serves `remote` (given it with
/// `Options::runtime`), tarpc (a task per request) and the raw echo.
fn xserver_main() {
    let dir = PathBuf::from(std::env::var_os(XSERVER_DIR_ENV).expect("server directory"));
    // Not the parent's directory to remove: the regime child owns it.
    watchdog("roundtrip", Duration::from_secs(900), None);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("xserver-rt")
        .enable_all()
        .build()
        .expect("server runtime");

    let server = Server::with_options(remote::Options::default().runtime(rt.handle().clone()));
    server.export("calc", Arc::new(Calc) as Arc<dyn Calculator>);
    let remote_listener = server
        .listen_unix(dir.join(XServer::REMOTE))
        .expect("listen (remote)");

    let tarpc_listener = bound_std_listener(&dir.join(XServer::TARPC));
    tarpc_listener.set_nonblocking(true).expect("nonblocking");
    let raw_listener = bound_std_listener(&dir.join(XServer::RAW));
    raw_listener.set_nonblocking(true).expect("nonblocking");
    rt.block_on(async {
        use tarpc::server::{BaseChannel, Channel};
        use tarpc::tokio_serde::formats::Bincode;
        let listener = tokio::net::UnixListener::from_std(tarpc_listener).expect("listener");
        let mut incoming = tarpc::serde_transport::unix::listen_on(listener, Bincode::default)
            .await
            .expect("listen (tarpc)");
        tokio::spawn(async move {
            while let Some(Ok(transport)) = incoming.next().await {
                tokio::spawn(
                    BaseChannel::with_defaults(transport)
                        .execute(TarpcCalc.serve())
                        .for_each(|response| async {
                            tokio::spawn(response);
                        }),
                );
            }
        });
        let listener = tokio::net::UnixListener::from_std(raw_listener).expect("listener");
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(window_echo(stream));
            }
        });
    });
    println!("READY");
    std::io::stdout().flush().expect("flush");
    // Serve until the measuring process closes our stdin (or dies).
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(remote_listener);
    drop(server);
    rt.shutdown_timeout(Duration::from_secs(1));
}

/// Echo side of the raw window: answers every request frame, writing through
/// a buffer flushed whenever no whole request is left to read.
async fn window_echo(stream: tokio::net::UnixStream) {
    let (r, w) = stream.into_split();
    let mut r = tokio::io::BufReader::new(r);
    let mut w = tokio::io::BufWriter::new(w);
    let mut buf = [0u8; 64];
    while let Ok(16) = read_frame_async(&mut r, &mut buf).await {
        let reply = reply_frame(i64_at(&buf, 0) + i64_at(&buf, 8));
        if w.write_all(&reply).await.is_err() {
            return;
        }
        if r.buffer().len() < 20 && w.flush().await.is_err() {
            return;
        }
    }
}

/// The raw limit of the window rows: a client on a current-thread runtime
/// keeping `IN_FLIGHT` length-prefixed request frames in flight on one tokio
/// UnixStream (a new one sent per reply read; writes buffered, flushed
/// whenever no whole reply is left to read), `IN_FLIGHT` frames per
/// iteration.
fn raw_tokio_window(path: &Path) -> Bench {
    let rt = current_rt();
    let stream = rt
        .block_on(tokio::net::UnixStream::connect(path))
        .expect("connect");
    let (r, w) = stream.into_split();
    let mut r = tokio::io::BufReader::new(r);
    let mut w = tokio::io::BufWriter::new(w);
    let mut b = bench(move |n| {
        rt.block_on(async {
            let total = n as usize * IN_FLIGHT;
            let mut buf = [0u8; 64];
            let t = Instant::now();
            let mut sent = 0;
            while sent < total.min(IN_FLIGHT) {
                w.write_all(&request_frame(black_box(sent as i64), 1))
                    .await
                    .expect("write");
                sent += 1;
            }
            w.flush().await.expect("flush");
            for _ in 0..total {
                read_frame_async(&mut r, &mut buf).await.expect("read");
                black_box(i64_at(&buf, 0));
                if sent < total {
                    w.write_all(&request_frame(black_box(sent as i64), 1))
                        .await
                        .expect("write");
                    sent += 1;
                }
                if r.buffer().len() < 12 {
                    w.flush().await.expect("flush");
                }
            }
            t.elapsed()
        })
    });
    b.calls = IN_FLIGHT as u64;
    b
}

/// `IN_FLIGHT` tarpc calls kept in flight (a sliding window) on one
/// connection, the client's dispatch task on the same current-thread runtime
/// as the calls.
fn tarpc_in_flight(path: &Path) -> Bench {
    use futures::stream::FuturesUnordered;
    use tarpc::tokio_serde::formats::Bincode;
    let rt = current_rt();
    let client = rt.block_on(async {
        let transport = tarpc::serde_transport::unix::connect(path, Bincode::default)
            .await
            .expect("connect");
        TarpcCalculatorClient::new(tarpc::client::Config::default(), transport).spawn()
    });
    let mut b = bench(move |n| {
        rt.block_on(async {
            let total = n as usize * IN_FLIGHT;
            let t = Instant::now();
            let mut pending = FuturesUnordered::new();
            let mut sent = 0;
            while sent < total.min(IN_FLIGHT) {
                pending.push(client.add(tarpc::context::current(), black_box(sent as i64), 1));
                sent += 1;
            }
            while let Some(r) = pending.next().await {
                black_box(r.expect("add"));
                if sent < total {
                    pending.push(client.add(tarpc::context::current(), black_box(sent as i64), 1));
                    sent += 1;
                }
            }
            t.elapsed()
        })
    });
    b.calls = IN_FLIGHT as u64;
    b
}

// ----- groups -------------------------------------------------------------------------

/// What the groups found: latency rows, throughput rows, cross-process rows
/// and one-line notes.
#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    throughput: Vec<Row>,
    cross: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    /// Measures `benches` (labelled by `labels`) as group `id`; notes the
    /// context switches per call of each.
    fn measure(&mut self, cfg: &Cfg, id: &str, labels: &[&str], b: &mut [Bench]) -> Vec<f64> {
        let (ns, switches) = measure(cfg, id, b);
        affinity_snapshot(id.rsplit('-').next().unwrap_or(id));
        let per_bench: Vec<String> = labels
            .iter()
            .zip(&switches)
            .map(|(l, s)| format!("{l} {s:.2}"))
            .collect();
        self.notes
            .push(format!("ctx switches/call, {id}: {}", per_bench.join(", ")));
        ns
    }
}

fn group_async_inproc(cfg: &Cfg, tag: &str, out: &mut Report) {
    let id = &format!("async-inproc-{tag}");
    if !cfg.args.wants(id) {
        return;
    }
    let server = calc_server();
    let client = Client::in_process(&server).expect("connect");
    let mut b = [
        async_proxy_bench(client, server),
        raw_tokio_mpsc(true),
        raw_tokio_mpsc(false),
        async_proxy_one_runtime_bench(),
    ];
    let m = out.measure(
        cfg,
        id,
        &[
            "proxy",
            "raw same thread",
            "raw other thread",
            "proxy on one runtime",
        ],
        &mut b,
    );
    out.rows.push(Row::new(
        format!("1a async in-proc vs tokio mpsc+oneshot, server task on same thread [{tag}]"),
        m[0],
        m[1],
        Target::AtMost(2.0),
    ));
    out.rows.push(Row::new(
        format!("1b async in-proc vs tokio mpsc+oneshot, server task on other thread [{tag}]"),
        m[0],
        m[2],
        Target::Info,
    ));
    out.rows.push(Row::new(
        format!(
            "1c async in-proc, client and server on one current-thread runtime \
             (Options::runtime) vs tokio mpsc+oneshot on that thread [{tag}]"
        ),
        m[3],
        m[1],
        Target::AtMost(3.0),
    ));
}

fn group_async_unix(cfg: &Cfg, tag: &str, out: &mut Report) {
    let id = &format!("async-unix-{tag}");
    if !cfg.args.wants(id) {
        return;
    }
    let (client, keep) = unix_client(cfg, id);
    let mut b = [
        async_proxy_bench(client, keep),
        raw_tokio_unix(cfg, &format!("raw-{id}")),
    ];
    let m = out.measure(cfg, id, &["proxy", "raw"], &mut b);
    out.rows.push(Row::new(
        format!("2 async unix vs tokio UnixStream ping-pong [{tag}]"),
        m[0],
        m[1],
        Target::AtMost(1.1),
    ));
}

fn group_blocking_inproc(cfg: &Cfg, tag: &str, out: &mut Report) {
    let id = &format!("blocking-inproc-{tag}");
    if !cfg.args.wants(id) {
        return;
    }
    let server = calc_server();
    let client = Client::in_process(&server).expect("connect");
    let mut b = [blocking_proxy_bench(client, server), raw_crossbeam()];
    let m = out.measure(cfg, id, &["proxy", "raw"], &mut b);
    out.rows.push(Row::new(
        format!("3 blocking in-proc vs crossbeam ping-pong [{tag}]"),
        m[0],
        m[1],
        Target::AtMost(1.5),
    ));
}

fn group_blocking_unix(cfg: &Cfg, tag: &str, out: &mut Report) {
    let id = &format!("blocking-unix-{tag}");
    if !cfg.args.wants(id) {
        return;
    }
    let (client, keep) = unix_client(cfg, id);
    let mut b = [
        blocking_proxy_bench(client, keep),
        raw_std_unix(cfg, &format!("raw-{id}")),
    ];
    let m = out.measure(cfg, id, &["proxy", "raw"], &mut b);
    out.rows.push(Row::new(
        format!("4 blocking unix vs std UnixStream ping-pong [{tag}]"),
        m[0],
        m[1],
        Target::AtMost(1.2),
    ));
}

fn group_async_tcp(cfg: &Cfg, tag: &str, out: &mut Report) {
    let id = &format!("async-tcp-{tag}");
    if !cfg.args.wants(id) {
        return;
    }
    let (client, keep) = tcp_client();
    let mut b = [async_proxy_bench(client, keep), raw_tokio_tcp()];
    let m = out.measure(cfg, id, &["proxy", "raw"], &mut b);
    out.rows.push(Row::new(
        format!("2t async tcp vs tokio TcpStream ping-pong, nodelay [{tag}]"),
        m[0],
        m[1],
        Target::AtMost(1.5),
    ));
}

fn group_blocking_tcp(cfg: &Cfg, tag: &str, out: &mut Report) {
    let id = &format!("blocking-tcp-{tag}");
    if !cfg.args.wants(id) {
        return;
    }
    let (client, keep) = tcp_client();
    let mut b = [blocking_proxy_bench(client, keep), raw_std_tcp()];
    let m = out.measure(cfg, id, &["proxy", "raw"], &mut b);
    out.rows.push(Row::new(
        format!("4t blocking tcp vs std TcpStream ping-pong, nodelay [{tag}]"),
        m[0],
        m[1],
        Target::AtMost(1.5),
    ));
}

fn group_tarpc(cfg: &Cfg, tag: &str, out: &mut Report) {
    let id = &format!("tarpc-{tag}");
    if !cfg.args.wants(id) {
        return;
    }
    let (client, keep) = unix_client(cfg, id);
    let mut b = [
        tarpc_unix(cfg, &format!("tarpc-{id}")),
        async_proxy_bench(client, keep),
    ];
    let m = out.measure(cfg, id, &["tarpc", "remote"], &mut b);
    out.rows.push(Row::new(
        format!("5 tarpc async unix, raw col = remote async unix [{tag}]"),
        m[0],
        m[1],
        Target::AtLeast(1.2),
    ));
}

/// Threads of the blocking throughput rows, each with one call in flight.
const CALLER_THREADS: usize = IN_FLIGHT;

/// Throughput with `IN_FLIGHT` calls in flight against the sequential rate of
/// the same proxy kind, on one transport, measured interleaved in one group.
fn group_throughput(cfg: &Cfg, tag: &str, kind: &str, transport: Transport, out: &mut Report) {
    let t = transport.id();
    let id = &format!("throughput-{kind}-{t}-{tag}");
    if !cfg.args.wants(id) {
        return;
    }
    let (client, keep) = transport.connect(cfg, id);
    let (mut b, what) = if kind == "async" {
        let b = [
            async_in_flight_bench(client.clone(), ()),
            async_proxy_bench(client, keep),
        ];
        (b, format!("{IN_FLIGHT} futures on one runtime"))
    } else {
        let b = [
            blocking_in_flight_bench(client.clone(), (), CALLER_THREADS),
            blocking_proxy_bench(client, keep),
        ];
        (b, format!("{CALLER_THREADS} threads, one proxy"))
    };
    let m = out.measure(cfg, id, &["in flight", "sequential"], &mut b);
    out.throughput.push(Row::new(
        format!("T {kind} {t}, {what} [{tag}]"),
        m[0],
        m[1],
        Target::AtLeast(3.0),
    ));
}

/// `IN_FLIGHT` async calls in flight on one Unix connection to a server in
/// another process: `remote` against tarpc, both clients on a current-thread
/// runtime (remote's given it with `Options::runtime`, tarpc's dispatch task
/// spawned on it) and both servers on the server process's one multi-thread
/// runtime; and the same `remote` figure against a raw tokio window of
/// `IN_FLIGHT` frames. Unpinned only, like the other throughput rows.
fn group_cross(cfg: &Cfg, tag: &str, out: &mut Report) {
    let id = &format!("cross-unix-{tag}");
    if !cfg.args.wants(id) {
        return;
    }
    set_current(id);
    let server = XServer::start(cfg);
    let path = server.path(XServer::REMOTE);
    let rt = current_rt();
    let options = remote::Options::default().runtime(rt.handle().clone());
    let client = Client::connect_unix_with(&path, options).expect("connect");
    let default_client = Client::connect_unix(&path).expect("connect");
    let mut b = [
        async_in_flight_bench_on(rt, client, ()),
        tarpc_in_flight(&server.path(XServer::TARPC)),
        raw_tokio_window(&server.path(XServer::RAW)),
        async_in_flight_bench(default_client, ()),
    ];
    let m = out.measure(
        cfg,
        id,
        &["remote", "tarpc", "raw window", "remote, library runtime"],
        &mut b,
    );
    out.cross.push(Row::new(
        format!(
            "X1 remote vs tarpc, {IN_FLIGHT} async calls in flight on one connection, \
             client current-thread runtime, server process 2-worker runtime [{tag}]"
        ),
        m[0],
        m[1],
        Target::AtLeast(1.5),
    ));
    out.cross.push(Row::new(
        format!(
            "X2 remote (X1's figure) vs raw tokio UnixStream, window of {IN_FLIGHT} \
             length-prefixed frames in flight, server echoing [{tag}]"
        ),
        m[0],
        m[2],
        Target::AtLeast(0.9),
    ));
    out.cross.push(Row::new(
        format!(
            "X3 remote, client connection on the library's own runtime (default Options), \
             vs tarpc as in X1 [{tag}]"
        ),
        m[3],
        m[1],
        Target::Info,
    ));
    // The benches (and their connections) go before the server does.
    drop(b);
    drop(server);
}

/// Every latency group, in the regime `tag` names (the caller pins or not).
fn run_groups(cfg: &Cfg, tag: &str, out: &mut Report) {
    group_async_inproc(cfg, tag, out);
    group_async_unix(cfg, tag, out);
    group_async_tcp(cfg, tag, out);
    group_blocking_inproc(cfg, tag, out);
    group_blocking_unix(cfg, tag, out);
    group_blocking_tcp(cfg, tag, out);
    group_tarpc(cfg, tag, out);
}

/// Every throughput group, unpinned only: the issue's regime is an ordinary
/// process free to use every core; pinned, the `IN_FLIGHT` callers, the
/// runtime and the reader threads would all take turns on one core.
fn run_throughput_groups(cfg: &Cfg, out: &mut Report) {
    for kind in ["async", "blocking"] {
        for transport in Transport::ALL {
            group_throughput(cfg, "unpinned", kind, transport, out);
        }
    }
    group_cross(cfg, "unpinned", out);
}

// ----- affinity check -------------------------------------------------------------------

/// (regime, Cpus_allowed_list) -> thread name -> times seen, over every
/// snapshot.
type AffinityMap = BTreeMap<(String, String), BTreeMap<String, usize>>;
static AFFINITY: Mutex<AffinityMap> = Mutex::new(BTreeMap::new());

/// Records the CPU affinity of every live thread of this process.
fn affinity_snapshot(regime: &str) {
    let Some(threads) = thread_affinities("self") else {
        return;
    };
    let mut seen = AFFINITY.lock().unwrap_or_else(|e| e.into_inner());
    for (cpus, name) in threads {
        *seen
            .entry((regime.to_string(), cpus))
            .or_default()
            .entry(name)
            .or_default() += 1;
    }
}

/// One line per regime: which threads were allowed on which CPUs.
fn affinity_summary() -> Vec<String> {
    let seen = AFFINITY.lock().unwrap_or_else(|e| e.into_inner());
    let mut lines: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for ((regime, cpus), names) in seen.iter() {
        let names: Vec<String> = names.iter().map(|(n, c)| format!("{n} x{c}")).collect();
        lines
            .entry(regime)
            .or_default()
            .push(format!("cpus {cpus}: [{}]", names.join(", ")));
    }
    lines
        .into_iter()
        .map(|(regime, parts)| {
            format!(
                "affinity [{regime}] (/proc/self/task/*/status after each group): {}",
                parts.join("; ")
            )
        })
        .collect()
}

// ----- main -----------------------------------------------------------------------------

/// Runs one regime's groups in this (child) process and prints its rows and
/// notes as tab-separated records for the parent.
fn child(cfg: &Cfg, regime: &str) {
    // Pinned: the main thread is pinned before anything else exists, so every
    // thread of this process, the library's runtime and background threads
    // included, inherits core 0. Unpinned: none of them ever was pinned.
    if regime == "pinned" && !core_affinity::set_for_current(core_affinity::CoreId { id: 0 }) {
        eprintln!("could not pin to core 0; skipping the pinned groups");
        return;
    }
    std::fs::create_dir_all(&cfg.dir).expect("temp dir");
    let _cleanup = CleanUp(cfg.dir.clone());
    watchdog("roundtrip", cfg.time_limit(), Some(cfg.dir.clone()));
    let mut out = Report::default();
    run_groups(cfg, regime, &mut out);
    if regime == "unpinned" {
        run_throughput_groups(cfg, &mut out);
    }
    set_current("report");
    for (kind, rows) in [
        ("ROW", &out.rows),
        ("TPUT", &out.throughput),
        ("CROSS", &out.cross),
    ] {
        for r in rows {
            println!(
                "{kind}\t{}\t{}\t{}\t{}",
                r.name,
                r.ns,
                r.raw,
                r.target.encode()
            );
        }
    }
    out.notes.extend(affinity_summary());
    for n in &out.notes {
        println!("NOTE\t{n}");
    }
}

/// Runs this bench binary again as a child measuring `regime`; collects what
/// it printed.
fn run_child(cfg: &Cfg, regime: &str, out: &mut Report) {
    let exe = std::env::current_exe().expect("bench executable");
    let output = std::process::Command::new(exe)
        .args(cfg.args.to_args())
        .env(ROLE_ENV, regime)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run the child bench");
    assert!(
        output.status.success(),
        "the {regime} child failed: {}",
        output.status
    );
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let row = |name: &str, ns: &str, raw: &str, target: &str| {
            Row::new(
                name,
                ns.parse().expect("ns per call"),
                raw.parse().expect("raw ns per call"),
                Target::decode(target),
            )
        };
        match fields.as_slice() {
            ["ROW", name, ns, raw, target] => out.rows.push(row(name, ns, raw, target)),
            ["TPUT", name, ns, raw, target] => out.throughput.push(row(name, ns, raw, target)),
            ["CROSS", name, ns, raw, target] => out.cross.push(row(name, ns, raw, target)),
            ["NOTE", note] => out.notes.push(note.to_string()),
            _ => println!("{line}"),
        }
    }
}

fn main() {
    let cfg = Cfg::from_args();
    match cfg.regime.as_deref() {
        Some("xserver") => return xserver_main(),
        Some(regime) => return child(&cfg, regime),
        None => {}
    }
    let load_at_start = load_average();
    watchdog("roundtrip", cfg.time_limit() * 2, None);

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let core_ids = core_affinity::get_core_ids().unwrap_or_default();
    println!(
        "roundtrip bench ({}): {cores} cores available ({} core ids); \
         every latency row runs PINNED (all threads on core 0) and UNPINNED, each regime in a \
         process of its own; each ratio compares benches of one regime, measured in the same run",
        cfg.args.pick("quick", "full"),
        core_ids.len()
    );

    let mut out = Report::default();
    for regime in ["pinned", "unpinned"] {
        set_current(regime);
        run_child(&cfg, regime, &mut out);
    }
    set_current("report");
    let Report {
        mut rows,
        throughput,
        cross,
        mut notes,
    } = out;

    // Rows in task order (1a, 1b, 1c, 2, 2t, 3, 4, 4t, 5), pinned before
    // unpinned.
    rows.sort_by_key(|r| r.name.split(' ').next().map(str::to_string));
    println!();
    print_table(&rows);
    println!();
    print_rate_table(&throughput, ["calls/s in flight", "calls/s sequential"]);
    println!();
    print_rate_table(&cross, ["remote calls/s", "tarpc or raw calls/s"]);
    println!();
    println!(
        "runs per bench: {}, each ~{:?} (median reported); raw servers: tokio current-thread runtimes / std threads",
        cfg.runs, cfg.run_time
    );
    println!(
        "targets: 1a <= 2.0 (older issue); 1c <= 3.0, 2 <= 1.1, 4 <= 1.2; 2t, 3, 4t <= 1.5; \
         throughput (unpinned; the pinned regime is not run) >= 3.0x the sequential rate of the same proxy, \
         async = {IN_FLIGHT} futures in a sliding window on one current-thread runtime, \
         blocking = {CALLER_THREADS} threads each calling sequentially on a clone of one proxy; \
         cross-process (unpinned): X1 remote >= 1.5x tarpc's calls/s, X2 remote >= 0.9x the raw window's"
    );
    println!(
        "cross-process rows: the server is another process of this binary (ROUNDTRIP_BENCH_ROLE=xserver) \
         with one 2-worker multi-thread runtime serving remote (Options::runtime), tarpc (a task per request) \
         and the raw echo; its context switches are not in the ctx switches/call notes"
    );
    println!(
        "child-process transport (spawn_child / Client::from_parent) rides on a Unix socket: \
         its per-call cost is the unix rows', so it has no row of its own"
    );
    notes.push(format!(
        "load average (1/5/15 min) at start {load_at_start}, at end {}: \
         other processes on these cores move every figure",
        load_average()
    ));
    for note in notes {
        println!("{note}");
    }
}
