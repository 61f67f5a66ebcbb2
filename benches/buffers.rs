//! Byte payloads across processes (issue #12, "Buffers at memory speed"):
//! one client process echoes a 1 MiB buffer (and a 64 KiB one) through a
//! server in another process, over a Unix socket, with `remote`'s blocking
//! proxy, its async proxy and a `bytes::Bytes` method, against the raw limit
//! (a std `UnixStream` frame echoed by a server thread) and tarpc.
//!
//! ```text
//! cargo bench --bench buffers                      # full run (about a minute)
//! cargo bench --bench buffers -- --quick           # < 20 s
//! cargo bench --bench buffers -- --quick 1mib      # only groups whose id contains "1mib"
//! ```
//!
//! Group ids: `1mib-pinned`, `1mib-unpinned`, `64kib-pinned`,
//! `64kib-unpinned`. Filter examples: `1mib`, `64kib`, `-pinned` (pinned
//! only), `unpinned`. Every group measures all five rows (raw, remote
//! blocking, remote async, remote `Bytes`, tarpc) of one payload size in one
//! regime, so each ratio compares benches measured in the same run.
//!
//! Each regime runs in a client process of its own (this binary again,
//! `BUFFERS_BENCH_ROLE=pinned` or `unpinned`), which starts one server
//! process (`BUFFERS_BENCH_ROLE=server`) serving the raw echo, `remote` and
//! tarpc on Unix sockets in the client's temp dir until its stdin closes.
//! Pinned: both processes, every thread of each (the library's runtime
//! threads included), on CPU 0; the client pins its main thread before any
//! other thread or the server exists, and the server pins itself again
//! first thing. Unpinned: nothing is pinned. The affinity of every thread of
//! both processes is read from /proc after the groups and printed.
//!
//! Every echo is checked: the client stamps a sequence number into the first
//! 8 bytes of the payload (the `Bytes` row rotates four payloads built
//! beforehand, each stamped), and the reply must have the payload's length,
//! that stamp and the payload's pattern at two more places.
//!
//! The benches of one group run in interleaved runs (rotating order), so
//! they see the same machine state; each figure is the median over the runs
//! of that run's time per echo.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use remote::{remote_object, Client, Server};

// ----- the service, in both frameworks ----------------------------------------

/// What every `remote` row calls.
#[remote_object]
pub trait Echo: Send + Sync {
    /// Returns `data` unchanged.
    fn echo(&self, data: Vec<u8>) -> Vec<u8>;
    /// Returns `data` unchanged.
    fn echo_bytes(&self, data: Bytes) -> Bytes;
}

struct Echoer;
impl Echo for Echoer {
    fn echo(&self, data: Vec<u8>) -> Vec<u8> {
        data
    }
    fn echo_bytes(&self, data: Bytes) -> Bytes {
        data
    }
}

/// The same service for tarpc.
#[tarpc::service]
pub trait TarpcEcho {
    /// Returns `data` unchanged.
    async fn echo(data: Vec<u8>) -> Vec<u8>;
}

#[derive(Clone)]
struct TarpcEchoer;
impl TarpcEcho for TarpcEchoer {
    async fn echo(self, _: tarpc::context::Context, data: Vec<u8>) -> Vec<u8> {
        data
    }
}

// ----- configuration ------------------------------------------------------------

/// Which process of the bench this is: unset in the parent, `pinned` or
/// `unpinned` in a regime's client, `server` in the server process.
const ROLE_ENV: &str = "BUFFERS_BENCH_ROLE";
/// The directory the server binds its sockets in.
const SERVER_DIR_ENV: &str = "BUFFERS_BENCH_SERVER_DIR";
/// Set to `1` when the server pins itself to CPU 0.
const SERVER_PIN_ENV: &str = "BUFFERS_BENCH_SERVER_PIN";

const RAW_SOCK: &str = "raw.sock";
const REMOTE_SOCK: &str = "remote.sock";
const TARPC_SOCK: &str = "tarpc.sock";

/// The payload sizes: bytes and the id part of their groups.
const SIZES: [(usize, &str); 2] = [(1 << 20, "1mib"), (64 << 10, "64kib")];
const REGIMES: [&str; 2] = ["pinned", "unpinned"];

struct Cfg {
    args: BenchArgs,
    warmup: Duration,
    run_time: Duration,
    runs: usize,
    dir: PathBuf,
}

impl Cfg {
    fn from_args() -> Cfg {
        let args = BenchArgs::from_args();
        Cfg {
            warmup: Duration::from_millis(args.pick(30, 150)),
            run_time: Duration::from_millis(args.pick(40, 180)),
            runs: args.pick(5, 15),
            dir: process_temp_dir("remote-buffers-bench"),
            args,
        }
    }

    /// Per regime (one client process each); the parent allows twice that.
    fn time_limit(&self) -> Duration {
        Duration::from_secs(self.args.pick(60, 300))
    }

    fn wants_regime(&self, regime: &str) -> bool {
        SIZES
            .iter()
            .any(|(_, size)| self.args.wants(&format!("{size}-{regime}")))
    }
}

// ----- payloads -------------------------------------------------------------------

/// The payload's byte at `i` (the first 8 bytes are overwritten by stamps).
fn pattern(i: usize) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 8)) as u8
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(pattern).collect()
}

fn stamp(buf: &mut [u8], seq: u64) {
    buf[..8].copy_from_slice(&seq.to_le_bytes());
}

/// The next payload of a row that sends each reply again: takes `buf` (the
/// last reply) and stamps it with the next sequence number.
fn next_payload(buf: &mut Vec<u8>, seq: &mut u64) -> Vec<u8> {
    *seq += 1;
    let mut data = std::mem::take(buf);
    stamp(&mut data, *seq);
    data
}

/// Panics unless `reply` is the echo of a `len`-byte payload stamped `seq`.
fn check(reply: &[u8], len: usize, seq: u64) {
    assert_eq!(reply.len(), len, "echo of the wrong length");
    let got = u64::from_le_bytes(reply[..8].try_into().expect("8 bytes"));
    assert_eq!(got, seq, "echo of another payload");
    for i in [len / 2 + 3, len - 1] {
        assert_eq!(reply[i], pattern(i), "echo with a wrong byte at {i}");
    }
}

// ----- measuring ----------------------------------------------------------------

/// One thing to time: `run(n)` performs `n` echoes and returns how long
/// they took.
type Bench = Box<dyn FnMut(u64) -> Duration>;

/// Warms `b` up and returns the echo count that fills one run.
fn calibrate(cfg: &Cfg, b: &mut Bench) -> u64 {
    let start = Instant::now();
    let mut n = 4u64;
    loop {
        let took = b(n);
        let per_iter = took.as_nanos().max(1) as f64 / n as f64;
        if start.elapsed() >= cfg.warmup || n >= 1 << 20 {
            let fill = cfg.run_time.as_nanos() as f64 / per_iter;
            return (fill as u64).clamp(4, 1_000_000);
        }
        n *= 2;
    }
}

/// Median ns per echo of each bench, measured in interleaved runs, and the
/// context switches per echo (all threads of this process) during them.
fn measure(cfg: &Cfg, group: &str, benches: &mut [Bench]) -> Vec<(f64, f64)> {
    set_current(group);
    eprintln!("measuring {group} ...");
    let iters: Vec<u64> = benches.iter_mut().map(|b| calibrate(cfg, b)).collect();
    let mut samples = vec![Vec::with_capacity(cfg.runs); benches.len()];
    let mut switches = vec![(0u64, 0u64); benches.len()];
    for r in 0..cfg.runs {
        for k in 0..benches.len() {
            let i = (k + r) % benches.len();
            let before = context_switches();
            let took = benches[i](iters[i]);
            let after = context_switches();
            samples[i].push(took.as_nanos() as f64 / iters[i] as f64);
            switches[i].0 += after.saturating_sub(before);
            switches[i].1 += iters[i];
        }
    }
    samples
        .into_iter()
        .zip(switches)
        .map(|(s, (n, echoes))| (median(s), n as f64 / echoes as f64))
        .collect()
}

// ----- the client's benches ---------------------------------------------------------

/// Row 1: a `[u32 len LE][payload]` frame written whole on a std
/// UnixStream, read back whole.
fn raw_bench(path: &Path, len: usize) -> Bench {
    let mut stream = UnixStream::connect(path).expect("connect (raw)");
    let mut frame = (len as u32).to_le_bytes().to_vec();
    frame.extend(payload(len));
    let mut reply = vec![0u8; 4 + len];
    let mut seq = 0u64;
    Box::new(move |n| {
        let t = Instant::now();
        for _ in 0..n {
            seq += 1;
            stamp(&mut frame[4..], seq);
            stream.write_all(&frame).expect("write");
            stream.read_exact(&mut reply[..4]).expect("read");
            let got = u32::from_le_bytes(reply[..4].try_into().expect("4 bytes")) as usize;
            assert_eq!(got, len, "raw echo of the wrong length");
            stream.read_exact(&mut reply[4..]).expect("read");
            check(&reply[4..], len, seq);
        }
        t.elapsed()
    })
}

/// Row 2: the blocking proxy; each reply is stamped and sent as the next
/// payload, so the client copies nothing itself.
fn remote_blocking_bench(path: &Path, len: usize) -> Bench {
    let client = Client::connect_unix(path).expect("connect (remote)");
    let echo: EchoProxy = client.require("echo").expect("require");
    let mut buf = payload(len);
    let mut seq = 0u64;
    Box::new(move |n| {
        let _keep = &client;
        let t = Instant::now();
        for _ in 0..n {
            let data = next_payload(&mut buf, &mut seq);
            buf = echo.echo(data).expect("echo");
            check(&buf, len, seq);
        }
        t.elapsed()
    })
}

/// Row 3: the async proxy, awaited on a current-thread runtime, payloads
/// handled as in row 2.
fn remote_async_bench(path: &Path, len: usize) -> Bench {
    let client = Client::connect_unix(path).expect("connect (remote)");
    let rt = current_rt();
    let echo: EchoAsyncProxy = rt.block_on(client.require_async("echo")).expect("require");
    let mut buf = payload(len);
    let mut seq = 0u64;
    Box::new(move |n| {
        let _keep = &client;
        rt.block_on(async {
            let t = Instant::now();
            for _ in 0..n {
                let data = next_payload(&mut buf, &mut seq);
                buf = echo.echo(data).await.expect("echo");
                check(&buf, len, seq);
            }
            t.elapsed()
        })
    })
}

/// Payloads the `Bytes` row rotates through: a `Bytes` is not stamped in
/// place, so each of these carries its own stamp.
const BYTES_ROTATION: u64 = 4;

/// Row 4: `echo_bytes` on the blocking proxy; each call sends a clone (a
/// reference count) of one of `BYTES_ROTATION` payloads built beforehand.
fn remote_bytes_bench(path: &Path, len: usize) -> Bench {
    let client = Client::connect_unix(path).expect("connect (remote)");
    let echo: EchoProxy = client.require("echo").expect("require");
    let payloads: Vec<Bytes> = (0..BYTES_ROTATION)
        .map(|seq| {
            let mut p = payload(len);
            stamp(&mut p, seq);
            Bytes::from(p)
        })
        .collect();
    let mut seq = 0u64;
    Box::new(move |n| {
        let _keep = &client;
        let t = Instant::now();
        for _ in 0..n {
            seq = (seq + 1) % BYTES_ROTATION;
            let reply = echo
                .echo_bytes(payloads[seq as usize].clone())
                .expect("echo_bytes");
            check(&reply, len, seq);
        }
        t.elapsed()
    })
}

/// Row 5: tarpc with the bincode transport, the client's dispatch task on
/// the current-thread runtime the calls are awaited on; payloads handled as
/// in row 2.
fn tarpc_bench(path: &Path, len: usize) -> Bench {
    use tarpc::tokio_serde::formats::Bincode;
    let rt = current_rt();
    let client = rt.block_on(async {
        let transport = tarpc::serde_transport::unix::connect(path, Bincode::default)
            .await
            .expect("connect (tarpc)");
        TarpcEchoClient::new(tarpc::client::Config::default(), transport).spawn()
    });
    let mut buf = payload(len);
    let mut seq = 0u64;
    Box::new(move |n| {
        rt.block_on(async {
            let t = Instant::now();
            for _ in 0..n {
                let data = next_payload(&mut buf, &mut seq);
                buf = client
                    .echo(tarpc::context::current(), data)
                    .await
                    .expect("echo");
                check(&buf, len, seq);
            }
            t.elapsed()
        })
    })
}

/// The rows of a group, in order: id and name.
const ROWS: [(&str, &str); 5] = [
    (
        "1",
        "raw: std UnixStream, length-prefixed frame, server thread reads it whole and writes it back",
    ),
    (
        "2",
        "remote blocking proxy, echo(Vec<u8>) -> Vec<u8>",
    ),
    (
        "3",
        "remote async proxy, echo(Vec<u8>) -> Vec<u8>, current-thread runtime",
    ),
    (
        "4",
        "remote blocking proxy, echo_bytes(Bytes) -> Bytes",
    ),
    (
        "5",
        "tarpc 0.38, bincode transport, async fn echo(Vec<u8>) -> Vec<u8>",
    ),
];
const RAW_ROW: usize = 0;
const TARPC_ROW: usize = 4;

// ----- the server process ------------------------------------------------------------

/// The server process: this binary again, serving the raw echo, `remote`
/// and tarpc on Unix sockets until its stdin closes.
struct ServerProcess {
    child: std::process::Child,
    dir: PathBuf,
}

impl ServerProcess {
    /// Starts the server and waits until it listens.
    fn start(dir: &Path, pin: bool) -> ServerProcess {
        let exe = std::env::current_exe().expect("bench executable");
        let mut child = std::process::Command::new(exe)
            .env(ROLE_ENV, "server")
            .env(SERVER_DIR_ENV, dir)
            .env(SERVER_PIN_ENV, if pin { "1" } else { "0" })
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("start the server process");
        let stdout = child.stdout.take().expect("server stdout");
        let server = ServerProcess {
            child,
            dir: dir.to_path_buf(),
        };
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the server's first line");
        assert_eq!(line.trim(), "READY", "the server process did not start");
        server
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProcess {
    /// Closes the server's stdin (it exits on EOF); kills it if it has not
    /// exited within two seconds.
    fn drop(&mut self) {
        stop_server(&mut self.child);
    }
}

/// Echo side of the raw row: reads each frame whole, writes it back whole.
fn raw_echo(mut stream: UnixStream) {
    let mut frame = Vec::new();
    loop {
        let mut prefix = [0u8; 4];
        if stream.read_exact(&mut prefix).is_err() {
            return;
        }
        let len = u32::from_le_bytes(prefix) as usize;
        frame.resize(4 + len, 0);
        frame[..4].copy_from_slice(&prefix);
        if stream.read_exact(&mut frame[4..]).is_err() || stream.write_all(&frame).is_err() {
            return;
        }
    }
}

fn bound_listener(path: &Path) -> UnixListener {
    let _ = std::fs::remove_file(path);
    UnixListener::bind(path).expect("bind")
}

/// The server process's `main`: the raw echo on std threads (one per
/// connection), `remote` with default options (the library's own runtime),
/// tarpc on a 2-worker multi-thread runtime (the size of the library's own)
/// with a task per request.
fn server_main() {
    if std::env::var(SERVER_PIN_ENV).as_deref() == Ok("1")
        && !core_affinity::set_for_current(core_affinity::CoreId { id: 0 })
    {
        panic!("the server could not pin itself to CPU 0");
    }
    let dir = PathBuf::from(std::env::var_os(SERVER_DIR_ENV).expect("server directory"));
    // Not ours to remove: the client process owns the directory.
    watchdog("buffers server", Duration::from_secs(900), None);

    let raw = bound_listener(&dir.join(RAW_SOCK));
    std::thread::Builder::new()
        .name("raw-accept".into())
        .spawn(move || {
            for stream in raw.incoming().flatten() {
                std::thread::Builder::new()
                    .name("raw-echo".into())
                    .spawn(move || raw_echo(stream))
                    .expect("raw echo thread");
            }
        })
        .expect("raw accept thread");

    let server = Server::new();
    server.export("echo", Arc::new(Echoer) as Arc<dyn Echo>);
    let remote_listener = server
        .listen_unix(dir.join(REMOTE_SOCK))
        .expect("listen (remote)");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("tarpc-rt")
        .enable_all()
        .build()
        .expect("tarpc runtime");
    let tarpc_listener = bound_listener(&dir.join(TARPC_SOCK));
    tarpc_listener.set_nonblocking(true).expect("nonblocking");
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
                        .execute(TarpcEchoer.serve())
                        .for_each(|response| async {
                            tokio::spawn(response);
                        }),
                );
            }
        });
    });
    println!("READY");
    std::io::stdout().flush().expect("flush");
    // Serve until the client process closes our stdin (or dies).
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(remote_listener);
    drop(server);
    rt.shutdown_timeout(Duration::from_secs(1));
}

// ----- affinity ----------------------------------------------------------------------

/// "cpus LIST: N threads (names)" for every CPU set the threads of process
/// `pid` are allowed on.
fn affinity_of(pid: &str) -> String {
    let Some(threads) = thread_affinities(pid) else {
        return "unknown".into();
    };
    let mut seen: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for (cpus, name) in threads {
        *seen.entry(cpus).or_default().entry(name).or_default() += 1;
    }
    seen.iter()
        .map(|(cpus, names)| {
            let names: Vec<String> = names.iter().map(|(n, c)| format!("{n} x{c}")).collect();
            format!("cpus {cpus}: [{}]", names.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

// ----- the regime's client process ---------------------------------------------------

/// Measures every wanted group of `regime` and prints its rows and notes as
/// tab-separated records for the parent.
fn client_main(cfg: &Cfg, regime: &str) {
    // Pinned: the main thread is pinned before anything else exists, so every
    // thread of this process (the library's runtime threads included) and the
    // server process inherit CPU 0.
    let pin = regime == "pinned";
    if pin && !core_affinity::set_for_current(core_affinity::CoreId { id: 0 }) {
        eprintln!("could not pin to CPU 0; skipping the pinned groups");
        println!("NOTE\tpinned groups skipped: could not pin to CPU 0");
        return;
    }
    std::fs::create_dir_all(&cfg.dir).expect("temp dir");
    let _cleanup = CleanUp(cfg.dir.clone());
    watchdog("buffers", cfg.time_limit(), Some(cfg.dir.clone()));
    set_current(&format!("{regime}: starting the server"));
    let server = ServerProcess::start(&cfg.dir, pin);
    for (len, size) in SIZES {
        let group = format!("{size}-{regime}");
        if !cfg.args.wants(&group) {
            continue;
        }
        set_current(&format!("{group}: connecting"));
        let mut benches = [
            raw_bench(&server.path(RAW_SOCK), len),
            remote_blocking_bench(&server.path(REMOTE_SOCK), len),
            remote_async_bench(&server.path(REMOTE_SOCK), len),
            remote_bytes_bench(&server.path(REMOTE_SOCK), len),
            tarpc_bench(&server.path(TARPC_SOCK), len),
        ];
        let m = measure(cfg, &group, &mut benches);
        for (i, (ns, switches)) in m.into_iter().enumerate() {
            println!("ROW\t{i}\t{len}\t{regime}\t{ns}\t{switches}");
        }
        // The connections close before the next group's open.
        drop(benches);
    }
    set_current(&format!("{regime}: affinity"));
    println!(
        "NOTE\taffinity [{regime}] client process: {}",
        affinity_of("self")
    );
    println!(
        "NOTE\taffinity [{regime}] server process: {}",
        affinity_of(&server.pid().to_string())
    );
    drop(server);
}

// ----- the parent ---------------------------------------------------------------------

struct Measured {
    row: usize,
    len: usize,
    regime: String,
    ns: f64,
    switches: f64,
}

/// Runs this binary again as the client of `regime`; collects what it
/// printed.
fn run_client(cfg: &Cfg, regime: &str, rows: &mut Vec<Measured>, notes: &mut Vec<String>) {
    let exe = std::env::current_exe().expect("bench executable");
    let output = std::process::Command::new(exe)
        .args(cfg.args.to_args())
        .env(ROLE_ENV, regime)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run the client process");
    assert!(
        output.status.success(),
        "the {regime} client failed: {}",
        output.status
    );
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        match line.split('\t').collect::<Vec<_>>().as_slice() {
            ["ROW", row, len, regime, ns, switches] => rows.push(Measured {
                row: row.parse().expect("a row"),
                len: len.parse().expect("a length"),
                regime: regime.to_string(),
                ns: ns.parse().expect("ns per echo"),
                switches: switches.parse().expect("switches per echo"),
            }),
            ["NOTE", note] => notes.push(note.to_string()),
            _ => println!("{line}"),
        }
    }
}

fn size_name(len: usize) -> String {
    if len >= 1 << 20 {
        format!("{} MiB", len >> 20)
    } else {
        format!("{} KiB", len >> 10)
    }
}

fn print_table(rows: &[Measured]) {
    let find = |len: usize, regime: &str, row: usize| {
        rows.iter()
            .find(|m| m.len == len && m.regime == regime && m.row == row)
            .map(|m| m.ns)
    };
    println!(
        "| row | payload | pinning | µs/echo (median) | MB/s one way | time / raw | time / tarpc | client ctx switches/echo |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|");
    for (len, _) in SIZES {
        for regime in REGIMES {
            for m in rows.iter().filter(|m| m.len == len && m.regime == regime) {
                let ratio = |other: Option<f64>| {
                    other.map_or("-".to_string(), |o| format!("{:.2}", m.ns / o))
                };
                let raw = if m.row == RAW_ROW {
                    "1.00".to_string()
                } else {
                    ratio(find(len, regime, RAW_ROW))
                };
                let tarpc = if m.row == RAW_ROW || m.row == TARPC_ROW {
                    "-".to_string()
                } else {
                    ratio(find(len, regime, TARPC_ROW))
                };
                let (id, name) = ROWS[m.row];
                println!(
                    "| {id} {name} | {} | {regime} | {:.1} | {:.0} | {raw} | {tarpc} | {:.1} |",
                    size_name(len),
                    m.ns / 1e3,
                    len as f64 / m.ns * 1e3,
                    m.switches
                );
            }
        }
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn main() {
    let cfg = Cfg::from_args();
    match std::env::var(ROLE_ENV).as_deref() {
        Ok("server") => return server_main(),
        Ok(regime) => return client_main(&cfg, regime),
        Err(_) => {}
    }
    let load_at_start = load_average();
    watchdog("buffers", cfg.time_limit() * 2, None);

    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let core_ids = core_affinity::get_core_ids().unwrap_or_default().len();
    let mut cargo = "cargo bench --bench buffers".to_string();
    let user_args = cfg.args.to_args();
    if !user_args.is_empty() {
        cargo = format!("{cargo} -- {}", user_args.join(" "));
    }
    println!(
        "buffers bench ({}): {cpus} CPUs available ({core_ids} core ids), {}",
        cfg.args.pick("quick", "full"),
        cpu_model()
    );
    println!(
        "command: {cargo}  (argv: {})",
        std::env::args().collect::<Vec<_>>().join(" ")
    );
    println!(
        "every row runs PINNED (client and server process, all their threads, on CPU 0) and \
         UNPINNED (nothing pinned); each regime is a client process with a server process of its \
         own; ratios compare rows of one payload size and one regime, measured in the same run"
    );

    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for regime in REGIMES {
        if cfg.wants_regime(regime) {
            set_current(regime);
            run_client(&cfg, regime, &mut rows, &mut notes);
        }
    }
    set_current("report");
    println!();
    print_table(&rows);
    println!();
    println!(
        "µs/echo: median over {} runs of ~{:?} each (interleaved, rotating order) of the time from \
         sending the payload to holding its checked echo; MB/s one way = payload bytes carried one \
         way per second = payload / time per echo (1 MB = 10^6 bytes; every echo carries the \
         payload there and back, so twice that crosses the socket)",
        cfg.runs, cfg.run_time
    );
    println!(
        "time / raw, time / tarpc: this row's µs/echo over the raw (row 1) or tarpc (row 5) row's \
         of the same payload and pinning; below 1.00 is faster"
    );
    println!(
        "server process: raw echo on a std thread per connection; remote with default Options \
         (the library's own runtime); tarpc on a 2-worker multi-thread runtime, a task per \
         request. Client: rows 2 and 4 blocking proxies, rows 3 and 5 awaited on a \
         current-thread runtime (tarpc's dispatch task on it too); each bench its own connection"
    );
    notes.push(format!(
        "load average (1/5/15 min) at start {load_at_start}, at end {}: \
         other processes on these CPUs move every figure",
        load_average()
    ));
    for note in notes {
        println!("{note}");
    }
}
