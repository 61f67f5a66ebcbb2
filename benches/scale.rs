//! How the runtime scales: many concurrent slow calls on one connection, and
//! many idle connections on one server.
//!
//! ```text
//! cargo bench --bench scale                              # full run (10 x 1000 idle connections)
//! cargo bench --bench scale -- --quick                   # < 60 s (2 x 500 idle connections)
//! cargo bench --bench scale -- --quick calls             # only groups whose id contains "calls"
//! cargo bench --bench scale -- --children=20 --conns=500 # idle connections: 20 children x 500
//! ```
//!
//! Group ids: `idle-remote`, `idle-tarpc`, `calls`.
//!
//! `calls` (a): a server and a client in this process over a Unix socket;
//! 100 plain (non-async) calls run at once on that ONE connection, each
//! waiting 2 ms on the server: `sleep_ms` sleeps (`std::thread::sleep`),
//! `wait_io` blocks reading a Unix socket that a helper thread writes to 2 ms
//! later. The calls come from 100 threads sharing one blocking proxy, or as
//! 100 futures (`join_all`) of one async proxy on a current-thread runtime.
//! One run is the wall time from releasing the 100 calls to the last reply;
//! each figure is the median over interleaved runs (rotating order) after
//! one warm-up run each.
//!
//! `idle-*` (b): this process serves a Unix listener; child processes (this
//! binary again, `SCALE_BENCH_ROLE=idle-client`) each open their
//! connections, make one call on each, print `READY` and hold them idle until
//! their stdin closes. The server's thread count and resident set are read
//! from `/proc/self/status` before it listens and once every connection is
//! established and idle (the server counts them all, then a settling pause);
//! full runs read the thread count once more 11 s later, when blocking
//! threads left idle by the first calls have exited.
//! `idle-remote` runs first, in this process, before anything else has
//! started the library's runtime; `idle-tarpc` runs the same measurement
//! for a tarpc server (a 2-worker multi-thread runtime, a task per
//! connection) in a process of its own (`SCALE_BENCH_ROLE=idle-server-tarpc`).
//! Socket files live in a temp directory removed however the bench ends;
//! children exit when their stdin closes, so they go when the bench does.

mod common;
use common::*;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, RecvTimeoutError, Sender};
use futures::StreamExt;
use remote::{remote_object, Client, Server};

/// Calls in flight in the `calls` group.
const CALLS: usize = 100;
/// How long each of them waits on the server.
const WAIT: Duration = Duration::from_millis(2);
/// Target wall time for all `CALLS`.
const CALLS_TARGET_MS: f64 = 40.0;
/// The figure before the runtime was rebuilt (100 concurrent 2 ms calls on
/// one connection), for reference.
const CALLS_BEFORE_MS: f64 = 235.0;
/// The library's own runtime: 2 workers, at most 256 blocking (serving)
/// threads, which exist only while calls run (`remote-runtime/src/rt.rs`).
const POOL_THREADS: usize = 2 + 256;
/// Full runs sample the idle server's threads again this long after the
/// first sample: past the 10 s an idle blocking thread lives.
const LATE: Duration = Duration::from_secs(11);
/// Target resident memory per idle connection, in bytes (10 KiB).
const RSS_TARGET: f64 = 10.0 * 1024.0;

/// Which process of the bench this is: unset in the parent, `idle-client`
/// in a child holding idle connections, `idle-server-tarpc` in the tarpc
/// idle server.
const ROLE_ENV: &str = "SCALE_BENCH_ROLE";
/// An idle client's socket, framework and connection count.
const SOCK_ENV: &str = "SCALE_BENCH_SOCK";
const FRAMEWORK_ENV: &str = "SCALE_BENCH_FRAMEWORK";
const CONNS_ENV: &str = "SCALE_BENCH_CONNS";

// ----- the service, in both frameworks --------------------------------------------

/// Waits, then answers.
#[remote_object]
pub trait Waiter: Send + Sync {
    /// Sleeps `ms` milliseconds on the serving thread; returns `ms`.
    fn sleep_ms(&self, ms: u64) -> u64;
    /// Blocks reading a socket that a helper thread writes to `ms`
    /// milliseconds later; returns `ms`.
    fn wait_io(&self, ms: u64) -> u64;
    /// Returns `i + 1` at once.
    fn ping(&self, i: u64) -> u64;
}

struct TheWaiter {
    /// Hands a socket end to the delayed writer.
    writer: Sender<(Instant, UnixStream)>,
}

impl Waiter for TheWaiter {
    fn sleep_ms(&self, ms: u64) -> u64 {
        std::thread::sleep(Duration::from_millis(ms));
        ms
    }

    fn wait_io(&self, ms: u64) -> u64 {
        let (mut mine, theirs) = UnixStream::pair().expect("socket pair");
        let at = Instant::now() + Duration::from_millis(ms);
        self.writer
            .send((at, theirs))
            .expect("delayed writer alive");
        let mut byte = [0u8; 1];
        mine.read_exact(&mut byte).expect("the delayed byte");
        ms
    }

    fn ping(&self, i: u64) -> u64 {
        i + 1
    }
}

/// A thread that writes one byte to each socket it is handed, at the instant
/// it is handed with (earliest first).
fn delayed_writer() -> Sender<(Instant, UnixStream)> {
    let (tx, rx) = unbounded::<(Instant, UnixStream)>();
    std::thread::Builder::new()
        .name("delayed-writer".into())
        .spawn(move || {
            let mut due: BinaryHeap<Reverse<(Instant, u64)>> = BinaryHeap::new();
            let mut sockets: HashMap<u64, UnixStream> = HashMap::new();
            let mut next_id = 0u64;
            loop {
                let now = Instant::now();
                while let Some(&Reverse((at, id))) = due.peek() {
                    if at > now {
                        break;
                    }
                    due.pop();
                    if let Some(mut s) = sockets.remove(&id) {
                        let _ = s.write_all(&[1]);
                    }
                }
                let got = match due.peek() {
                    Some(&Reverse((at, _))) => {
                        rx.recv_timeout(at.saturating_duration_since(Instant::now()))
                    }
                    None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                };
                match got {
                    Ok((at, s)) => {
                        due.push(Reverse((at, next_id)));
                        sockets.insert(next_id, s);
                        next_id += 1;
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => {
                        for (_, mut s) in sockets.drain() {
                            let _ = s.write_all(&[1]);
                        }
                        return;
                    }
                }
            }
        })
        .expect("delayed writer thread");
    tx
}

fn waiter_server() -> Server {
    let server = Server::new();
    server.export(
        "waiter",
        Arc::new(TheWaiter {
            writer: delayed_writer(),
        }) as Arc<dyn Waiter>,
    );
    server
}

/// The idle rows' service for tarpc.
#[tarpc::service]
pub trait TarpcPing {
    /// Returns `i + 1`.
    async fn ping(i: u64) -> u64;
}

#[derive(Clone)]
struct TarpcPinger;
impl TarpcPing for TarpcPinger {
    async fn ping(self, _: tarpc::context::Context, i: u64) -> u64 {
        i + 1
    }
}

// ----- configuration ----------------------------------------------------------------

#[derive(Clone)]
struct Cfg {
    args: BenchArgs,
    /// Idle client processes, and connections each opens.
    children: usize,
    conns: usize,
    /// Runs per bench of the `calls` group (median reported).
    runs: usize,
    /// Pause between "all connections established" and the sample.
    settle: Duration,
    dir: PathBuf,
}

impl Cfg {
    fn from_args() -> Cfg {
        let mut children = None;
        let mut conns = None;
        let number = |a: &str, v: &str| -> usize {
            v.parse()
                .unwrap_or_else(|_| panic!("{a}: expected a number, got {v:?}"))
        };
        let args = BenchArgs::from_args_with(|a| {
            if let Some(v) = a.strip_prefix("--children=") {
                children = Some(number(a, v));
            } else if let Some(v) = a.strip_prefix("--conns=") {
                conns = Some(number(a, v));
            }
        });
        Cfg {
            children: children.unwrap_or(args.pick(2, 10)).max(1),
            conns: conns.unwrap_or(args.pick(500, 1000)).max(1),
            runs: args.pick(5, 11),
            settle: Duration::from_millis(args.pick(500, 1000)),
            dir: process_temp_dir("remote-scale-bench"),
            args,
        }
    }

    fn time_limit(&self) -> Duration {
        Duration::from_secs(self.args.pick(120, 600))
    }

    fn sock(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.sock"))
    }

    fn total_conns(&self) -> usize {
        self.children * self.conns
    }
}

// ----- (a) concurrent slow calls on one connection ----------------------------------

/// What each call waits on.
#[derive(Clone, Copy)]
enum Wait {
    Sleep,
    Io,
}

impl Wait {
    fn label(self) -> &'static str {
        match self {
            Wait::Sleep => "std::thread::sleep(2 ms)",
            Wait::Io => "blocking read, written 2 ms later",
        }
    }
}

/// One run: `CALLS` calls at once, returning the wall time until the last.
type Run = Box<dyn FnMut() -> Duration>;

/// `CALLS` threads, each making one blocking call per run on one shared
/// proxy; a run releases them all and ends when the last call returned.
fn threads_bench(proxy: Arc<WaiterProxy>, wait: Wait) -> Run {
    let ms = WAIT.as_millis() as u64;
    let (done_tx, done_rx) = unbounded::<()>();
    let starts: Vec<Sender<()>> = (0..CALLS)
        .map(|_| {
            let (start_tx, start_rx) = unbounded::<()>();
            let proxy = proxy.clone();
            let done = done_tx.clone();
            std::thread::Builder::new()
                .name("bench-caller".into())
                .spawn(move || {
                    for () in start_rx {
                        let got = match wait {
                            Wait::Sleep => proxy.sleep_ms(ms),
                            Wait::Io => proxy.wait_io(ms),
                        };
                        assert_eq!(got.expect("call"), ms);
                        if done.send(()).is_err() {
                            break;
                        }
                    }
                })
                .expect("caller thread");
            start_tx
        })
        .collect();
    Box::new(move || {
        let t = Instant::now();
        for start in &starts {
            start.send(()).expect("start");
        }
        for _ in 0..starts.len() {
            done_rx.recv().expect("done");
        }
        t.elapsed()
    })
}

/// `CALLS` futures of one async proxy, joined on a current-thread runtime.
fn futures_bench(proxy: WaiterAsyncProxy, wait: Wait) -> Run {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let ms = WAIT.as_millis() as u64;
    Box::new(move || {
        rt.block_on(async {
            let t = Instant::now();
            let calls = (0..CALLS).map(|_| {
                let proxy = &proxy;
                async move {
                    match wait {
                        Wait::Sleep => proxy.sleep_ms(ms).await,
                        Wait::Io => proxy.wait_io(ms).await,
                    }
                }
            });
            for got in futures::future::join_all(calls).await {
                assert_eq!(got.expect("call"), ms);
            }
            t.elapsed()
        })
    })
}

struct CallsRow {
    name: String,
    median_ms: f64,
    min_ms: f64,
    max_ms: f64,
    warmup_ms: f64,
}

fn group_calls(cfg: &Cfg, out: &mut Report) {
    let id = "calls";
    if !cfg.args.wants(id) {
        return;
    }
    set_current(id);
    eprintln!("measuring {id} ...");
    let server = waiter_server();
    let listener = server.listen_unix(cfg.sock("calls")).expect("listen");
    let client = Client::connect_unix(listener.path().expect("unix")).expect("connect");
    let proxy: WaiterProxy = client.require("waiter").expect("require");
    let async_proxy: WaiterAsyncProxy = proxy.to_async();
    let proxy = Arc::new(proxy);
    let mut benches: Vec<(String, Run)> = Vec::new();
    for wait in [Wait::Sleep, Wait::Io] {
        benches.push((
            format!(
                "a {CALLS} plain calls on one connection, {}: {CALLS} threads, one blocking proxy",
                wait.label()
            ),
            threads_bench(proxy.clone(), wait),
        ));
        benches.push((
            format!(
                "a {CALLS} plain calls on one connection, {}: {CALLS} futures, one async proxy",
                wait.label()
            ),
            futures_bench(async_proxy.clone(), wait),
        ));
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let warmup: Vec<f64> = benches.iter_mut().map(|(_, run)| ms(run())).collect();
    let mut samples = vec![Vec::with_capacity(cfg.runs); benches.len()];
    for r in 0..cfg.runs {
        for k in 0..benches.len() {
            let i = (k + r) % benches.len();
            samples[i].push(ms((benches[i].1)()));
        }
    }
    for (((name, _), s), warmup_ms) in benches.iter().zip(samples).zip(warmup) {
        out.calls.push(CallsRow {
            name: name.clone(),
            min_ms: s.iter().copied().fold(f64::INFINITY, f64::min),
            max_ms: s.iter().copied().fold(0.0, f64::max),
            median_ms: median(s),
            warmup_ms,
        });
    }
    let (threads, _) = self_status();
    out.notes.push(format!(
        "calls: {threads} threads in this process after the runs \
         ({CALLS} bench-caller threads per threads bench, the blocking pool's threads idle for up to 10 s, ...): {}",
        thread_names()
    ));
    drop(benches);
    drop(client);
    drop(listener);
    drop(server);
}

// ----- (b) idle connections ------------------------------------------------------------

/// This process's thread count and resident set (bytes), from
/// `/proc/self/status`.
fn self_status() -> (usize, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("Threads:") as usize, field("VmRSS:") * 1024)
}

/// This process's threads by name: `name xcount, ...`.
fn thread_names() -> String {
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            *names.entry(name.trim().to_string()).or_default() += 1;
        }
    }
    names
        .iter()
        .map(|(n, c)| format!("{n} x{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Clone, Copy, PartialEq)]
enum Framework {
    Remote,
    Tarpc,
}

impl Framework {
    fn id(self) -> &'static str {
        match self {
            Framework::Remote => "remote",
            Framework::Tarpc => "tarpc",
        }
    }

    fn from_id(id: &str) -> Framework {
        match id {
            "remote" => Framework::Remote,
            "tarpc" => Framework::Tarpc,
            other => panic!("unknown framework {other:?}"),
        }
    }
}

/// What one idle measurement found (on the server).
struct Idle {
    framework: Framework,
    conns: usize,
    threads_before: usize,
    threads_after: usize,
    rss_before: u64,
    rss_after: u64,
    /// From starting the children to every connection established.
    establish: Duration,
    /// Thread names after, `name xcount, ...`.
    names: String,
    /// Full runs: the thread count again once blocking threads left idle
    /// by the first calls have expired (`LATE` later).
    threads_late: Option<usize>,
}

impl Idle {
    fn rss_per_conn(&self) -> f64 {
        (self.rss_after as f64 - self.rss_before as f64) / self.conns as f64
    }

    /// As one tab-separated line (from the tarpc server process).
    fn encode(&self) -> String {
        format!(
            "IDLE\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            self.framework.id(),
            self.conns,
            self.threads_before,
            self.threads_after,
            self.rss_before,
            self.rss_after,
            self.establish.as_secs_f64(),
            self.names,
            self.threads_late.map_or("-".to_string(), |t| t.to_string())
        )
    }

    fn decode(line: &str) -> Option<Idle> {
        let f: Vec<&str> = line.split('\t').collect();
        let ["IDLE", framework, conns, tb, ta, rb, ra, establish, names, late] = f.as_slice()
        else {
            return None;
        };
        Some(Idle {
            framework: Framework::from_id(framework),
            conns: conns.parse().ok()?,
            threads_before: tb.parse().ok()?,
            threads_after: ta.parse().ok()?,
            rss_before: rb.parse().ok()?,
            rss_after: ra.parse().ok()?,
            establish: Duration::from_secs_f64(establish.parse().ok()?),
            names: names.to_string(),
            threads_late: late.parse().ok(),
        })
    }
}

/// The idle-client child processes; dropping this closes their stdin (they
/// exit on EOF) and waits for them, killing any that outstay a few seconds.
struct Children(Vec<Child>);

impl Children {
    fn spawn(cfg: &Cfg, framework: Framework, sock: &Path) -> Children {
        let exe = std::env::current_exe().expect("bench executable");
        let mut children = Children(Vec::new());
        for _ in 0..cfg.children {
            let child = Command::new(&exe)
                .env(ROLE_ENV, "idle-client")
                .env(SOCK_ENV, sock)
                .env(FRAMEWORK_ENV, framework.id())
                .env(CONNS_ENV, cfg.conns.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start an idle client");
            children.0.push(child);
        }
        children
    }

    /// Waits (in this thread: no helper threads to skew the count) for
    /// every child's `READY` line.
    fn wait_ready(&mut self) {
        for (i, child) in self.0.iter_mut().enumerate() {
            let stdout = child.stdout.take().expect("child stdout");
            let mut line = String::new();
            BufReader::new(stdout)
                .read_line(&mut line)
                .expect("read a child's line");
            assert!(
                line.starts_with("READY"),
                "idle client {i} failed: {:?}",
                line.trim()
            );
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            drop(child.stdin.take());
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for child in &mut self.0 {
            loop {
                match child.try_wait() {
                    Ok(Some(status)) => {
                        if !status.success() {
                            eprintln!("idle client {} exited with {status}", child.id());
                        }
                        break;
                    }
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    _ => {
                        eprintln!("idle client {} did not exit; killing it", child.id());
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            }
        }
    }
}

/// The server side of an idle measurement, listening.
enum IdleServer {
    Remote {
        server: Server,
        _listener: remote::Listener,
    },
    Tarpc {
        /// Taken when the server is dropped.
        rt: Option<tokio::runtime::Runtime>,
        accepted: Arc<AtomicUsize>,
    },
}

impl IdleServer {
    fn listen(framework: Framework, sock: &Path) -> IdleServer {
        match framework {
            Framework::Remote => {
                let server = Server::new();
                server.export("waiter", Arc::new(Quick) as Arc<dyn Waiter>);
                let listener = server.listen_unix(sock).expect("listen");
                IdleServer::Remote {
                    server,
                    _listener: listener,
                }
            }
            Framework::Tarpc => {
                use tarpc::server::{BaseChannel, Channel};
                use tarpc::tokio_serde::formats::Bincode;
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("tarpc-rt")
                    .enable_all()
                    .build()
                    .expect("tarpc runtime");
                let accepted = Arc::new(AtomicUsize::new(0));
                let count = accepted.clone();
                let mut incoming = rt
                    .block_on(tarpc::serde_transport::unix::listen(sock, Bincode::default))
                    .expect("listen (tarpc)");
                rt.spawn(async move {
                    while let Some(transport) = incoming.next().await {
                        let Ok(transport) = transport else { continue };
                        count.fetch_add(1, Ordering::Relaxed);
                        tokio::spawn(
                            BaseChannel::with_defaults(transport)
                                .execute(TarpcPinger.serve())
                                .for_each(|response| async {
                                    tokio::spawn(response);
                                }),
                        );
                    }
                });
                IdleServer::Tarpc {
                    rt: Some(rt),
                    accepted,
                }
            }
        }
    }

    /// Connections the server holds now.
    fn connections(&self) -> usize {
        match self {
            // `connections()`, not `stats()`: a Vec of 8-byte handles, so the
            // sampled resident set is not grown by the counting itself.
            IdleServer::Remote { server, .. } => server.connections().len(),
            IdleServer::Tarpc { accepted, .. } => accepted.load(Ordering::Relaxed),
        }
    }
}

impl Drop for IdleServer {
    fn drop(&mut self) {
        if let IdleServer::Tarpc { rt, .. } = self {
            // Not waiting for connection tasks whose clients are gone.
            if let Some(rt) = rt.take() {
                rt.shutdown_background();
            }
        }
    }
}

/// The `idle-remote` service: only `ping` is called.
struct Quick;
impl Waiter for Quick {
    fn sleep_ms(&self, ms: u64) -> u64 {
        std::thread::sleep(Duration::from_millis(ms));
        ms
    }
    fn wait_io(&self, ms: u64) -> u64 {
        self.sleep_ms(ms)
    }
    fn ping(&self, i: u64) -> u64 {
        i + 1
    }
}

/// Serves `cfg.total_conns()` idle connections of `framework` from child
/// processes and samples this process before listening and once they are
/// all established and idle.
fn measure_idle(cfg: &Cfg, framework: Framework) -> Idle {
    let total = cfg.total_conns();
    let sock = cfg.sock(&format!("idle-{}", framework.id()));
    let (threads_before, rss_before) = self_status();
    let server = IdleServer::listen(framework, &sock);
    let t = Instant::now();
    let mut children = Children::spawn(cfg, framework, &sock);
    children.wait_ready();
    while server.connections() < total {
        assert!(
            t.elapsed() < cfg.time_limit(),
            "{} of {total} connections established",
            server.connections()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let establish = t.elapsed();
    std::thread::sleep(cfg.settle);
    let (threads_after, rss_after) = self_status();
    let names = thread_names();
    let counted = server.connections();
    assert_eq!(counted, total, "connections after settling");
    let threads_late = (!cfg.args.quick).then(|| {
        std::thread::sleep(LATE);
        self_status().0
    });
    drop(children);
    drop(server);
    Idle {
        framework,
        conns: total,
        threads_before,
        threads_after,
        rss_before,
        rss_after,
        establish,
        names,
        threads_late,
    }
}

/// An idle client's `main`: opens its connections, makes one call on each,
/// prints `READY` and holds them until stdin closes.
fn idle_client_main() {
    let sock = PathBuf::from(std::env::var_os(SOCK_ENV).expect("socket path"));
    let framework = Framework::from_id(&std::env::var(FRAMEWORK_ENV).expect("framework"));
    let conns: usize = std::env::var(CONNS_ENV)
        .expect("connection count")
        .parse()
        .expect("a count");
    let wait_for_eof = || {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
    };
    let ready = || {
        println!("READY {conns}");
        std::io::stdout().flush().expect("flush");
    };
    match framework {
        Framework::Remote => {
            let held: Vec<(Client, WaiterProxy)> = (0..conns as u64)
                .map(|i| {
                    let client = Client::connect_unix(&sock).expect("connect");
                    let proxy: WaiterProxy = client.require("waiter").expect("require");
                    assert_eq!(proxy.ping(i).expect("ping"), i + 1);
                    (client, proxy)
                })
                .collect();
            ready();
            wait_for_eof();
            drop(held);
        }
        Framework::Tarpc => {
            use tarpc::tokio_serde::formats::Bincode;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            rt.block_on(async {
                let mut held = Vec::with_capacity(conns);
                for i in 0..conns as u64 {
                    let transport = tarpc::serde_transport::unix::connect(&sock, Bincode::default)
                        .await
                        .expect("connect");
                    let client =
                        TarpcPingClient::new(tarpc::client::Config::default(), transport).spawn();
                    let got = client
                        .ping(tarpc::context::current(), i)
                        .await
                        .expect("ping");
                    assert_eq!(got, i + 1);
                    held.push(client);
                }
                ready();
                tokio::task::spawn_blocking(wait_for_eof)
                    .await
                    .expect("stdin");
                drop(held);
            });
            rt.shutdown_background();
        }
    }
}

/// The tarpc idle server's `main`: measures and prints one `IDLE` line.
fn idle_server_tarpc_main(cfg: &Cfg) {
    std::fs::create_dir_all(&cfg.dir).expect("temp dir");
    let _cleanup = CleanUp(cfg.dir.clone());
    watchdog("scale", cfg.time_limit(), Some(cfg.dir.clone()));
    let idle = measure_idle(cfg, Framework::Tarpc);
    println!("{}", idle.encode());
}

fn group_idle_remote(cfg: &Cfg, out: &mut Report) {
    let id = "idle-remote";
    if !cfg.args.wants(id) {
        return;
    }
    set_current(id);
    eprintln!("measuring {id} ...");
    out.idle.push(measure_idle(cfg, Framework::Remote));
}

fn group_idle_tarpc(cfg: &Cfg, out: &mut Report) {
    let id = "idle-tarpc";
    if !cfg.args.wants(id) {
        return;
    }
    set_current(id);
    eprintln!("measuring {id} ...");
    let exe = std::env::current_exe().expect("bench executable");
    let mut args = vec![
        format!("--children={}", cfg.children),
        format!("--conns={}", cfg.conns),
    ];
    if cfg.args.quick {
        args.push("--quick".into());
    }
    let output = Command::new(exe)
        .args(&args)
        .env(ROLE_ENV, "idle-server-tarpc")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("run the tarpc idle server");
    let stdout = String::from_utf8_lossy(&output.stdout);
    match stdout.lines().find_map(Idle::decode) {
        Some(idle) if output.status.success() => out.idle.push(idle),
        _ => out.notes.push(format!(
            "idle-tarpc: the tarpc server process failed ({}); no tarpc rows",
            output.status
        )),
    }
}

// ----- results ---------------------------------------------------------------------------

#[derive(Default)]
struct Report {
    calls: Vec<CallsRow>,
    idle: Vec<Idle>,
    notes: Vec<String>,
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "pass"
    } else {
        "MISS"
    }
}

fn print_calls(rows: &[CallsRow]) {
    println!(
        "| row | wall ms, all {CALLS} (median) | min | max | first (warm-up) run | target | pass/miss | before |"
    );
    println!("|---|---:|---:|---:|---:|---|---|---:|");
    for r in rows {
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} | <= {CALLS_TARGET_MS:.0} | {} | {CALLS_BEFORE_MS:.0} |",
            r.name,
            r.median_ms,
            r.min_ms,
            r.max_ms,
            r.warmup_ms,
            verdict(r.median_ms <= CALLS_TARGET_MS)
        );
    }
}

fn print_idle(rows: &[Idle]) {
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!("| row | measured | target | pass/miss |");
    println!("|---|---|---|---|");
    for r in rows {
        let fw = r.framework.id();
        let judged = r.framework == Framework::Remote;
        let added = r.threads_after as i64 - r.threads_before as i64;
        let (t_target, t_verdict, m_target, m_verdict) = if judged {
            (
                format!("added <= {POOL_THREADS} (2 workers + 256 blocking)"),
                verdict(added <= POOL_THREADS as i64),
                "<= 10 KiB".to_string(),
                verdict(r.rss_per_conn() <= RSS_TARGET),
            )
        } else {
            ("info".into(), "-", "info".into(), "-")
        };
        let late = r.threads_late.map_or(String::new(), |t| {
            format!("; {t} after {} s more idle", LATE.as_secs())
        });
        println!(
            "| b {fw}: server threads, {} idle connections | {} (before listening: {}; added {added}{late}) | {t_target} | {t_verdict} |",
            r.conns, r.threads_after, r.threads_before
        );
        println!(
            "| b {fw}: server RSS per idle connection | {:.2} KiB (RSS {:.1} -> {:.1} MiB) | {m_target} | {m_verdict} |",
            r.rss_per_conn() / 1024.0,
            mib(r.rss_before),
            mib(r.rss_after)
        );
    }
}

// ----- main ---------------------------------------------------------------------------------

fn main() {
    let cfg = Cfg::from_args();
    match std::env::var(ROLE_ENV).as_deref() {
        Ok("idle-client") => return idle_client_main(),
        Ok("idle-server-tarpc") => return idle_server_tarpc_main(&cfg),
        _ => {}
    }
    std::fs::create_dir_all(&cfg.dir).expect("temp dir");
    let _cleanup = CleanUp(cfg.dir.clone());
    watchdog("scale", cfg.time_limit() * 2, Some(cfg.dir.clone()));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "scale bench ({}): {cores} cores available; idle connections: {} children x {} = {}; \
         {} runs per calls bench (median)",
        cfg.args.pick("quick", "full"),
        cfg.children,
        cfg.conns,
        cfg.total_conns(),
        cfg.runs
    );

    let mut out = Report::default();
    // Idle remote first: nothing has started the library's runtime yet, so
    // "before listening" is this process without it.
    group_idle_remote(&cfg, &mut out);
    group_idle_tarpc(&cfg, &mut out);
    group_calls(&cfg, &mut out);
    set_current("report");

    if !out.calls.is_empty() {
        println!();
        print_calls(&out.calls);
    }
    if !out.idle.is_empty() {
        println!();
        print_idle(&out.idle);
    }
    println!();
    println!(
        "a: server and client in this process over one Unix connection (default Options: the library's \
         runtime, 2 workers + blocking pool); wall time from releasing the {CALLS} calls to the last reply; \
         target <= {CALLS_TARGET_MS:.0} ms; before: {CALLS_BEFORE_MS:.0} ms, the figure before the runtime \
         was rebuilt, for reference"
    );
    println!(
        "b: this process listens on a Unix socket, child processes of this binary hold the connections \
         (one call made on each, then idle); threads and VmRSS from /proc/self/status before listening \
         and {:?} after the server counted every connection{}; tarpc: its own server process, \
         one 2-worker multi-thread runtime, a task per connection",
        cfg.settle,
        if cfg.args.quick {
            String::new()
        } else {
            format!(" (threads again {} s later)", LATE.as_secs())
        }
    );
    for r in &out.idle {
        out.notes.push(format!(
            "idle {}: {} connections established in {:.2} s; threads after: {}",
            r.framework.id(),
            r.conns,
            r.establish.as_secs_f64(),
            r.names
        ));
    }
    for note in &out.notes {
        println!("{note}");
    }
}
