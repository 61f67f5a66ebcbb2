//! One-way callback throughput: how many `Callback::call` invocations per
//! second a server can push to its client, measured in the same run as a raw
//! one-way stream of the same number of small messages over the transport's
//! own primitive.
//!
//! ```text
//! cargo bench --bench callbacks                    # full run (a few minutes at most)
//! cargo bench --bench callbacks -- --quick         # < 30 s
//! cargo bench --bench callbacks -- --quick unix    # only groups whose id contains "unix"
//! ```
//!
//! Group ids: `inproc-pinned`, `unix-pinned`, `inproc-unpinned`, `unix-unpinned`.
//!
//! One run of a remote bench: the client creates a `Callback` whose closure
//! checks that invocation `i` is the one it expects and signals when the last
//! one ran; the clock starts just before the proxy call `stream(listener,
//! count)`, whose server method calls `listener.call((i,))` for every `i` in
//! `0..count`, and stops when the closure has run `count` times (in order,
//! the last is `i == count - 1`). A raw run: the measuring thread sends
//! `0..count` and a receiver thread checks the order and signals the last
//! one. Every bench of a group is measured in interleaved runs (rotating
//! order); each figure is the median over the runs of that run's
//! `count / time`. Each regime (pinned, unpinned) runs in a child process of
//! its own. An invocation out of order or lost (the closure was dropped
//! before it ran `count` times) is reported in the table and makes the bench
//! exit with status 1 once the table is printed.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded, RecvTimeoutError, Sender};
use remote::{remote_object, Callback, Client, Server};

/// How long one run may wait for its last message before it is called lost.
const BOUND: Duration = Duration::from_secs(30);

// ----- the service ---------------------------------------------------------------

/// A source of events pushed to a client's listener.
#[remote_object]
pub trait Events: Send + Sync {
    /// Calls `listener` with `0..count`, in order, as fast as it can.
    fn stream(&self, listener: Callback<(u64,)>, count: u64);
}

struct Source;
impl Events for Source {
    fn stream(&self, listener: Callback<(u64,)>, count: u64) {
        for i in 0..count {
            listener.call((i,)).expect("listener alive");
        }
    }
}

fn events_server() -> Server {
    let server = Server::new();
    server.export("events", Arc::new(Source) as Arc<dyn Events>);
    server
}

// ----- configuration -----------------------------------------------------------------

struct Cfg {
    args: BenchArgs,
    /// Set in a child process: the regime it measures.
    regime: Option<String>,
    count: u64,
    runs: usize,
    dir: PathBuf,
}

impl Cfg {
    fn from_args() -> Cfg {
        let mut regime = None;
        let args = BenchArgs::from_args_with(|a| {
            if let Some(r) = a.strip_prefix("--regime=") {
                regime = Some(r.to_string());
            }
        });
        Cfg {
            regime,
            count: args.pick(50_000, 200_000),
            runs: args.pick(3, 9),
            dir: process_temp_dir("remote-cb-bench"),
            args,
        }
    }

    /// Per regime (one child process each); the parent allows twice that.
    fn time_limit(&self) -> Duration {
        Duration::from_secs(self.args.pick(40, 240))
    }

    fn sock(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.sock"))
    }
}

// ----- measuring ---------------------------------------------------------------------

/// One run's timings: until the sending side was done (the proxy call
/// returned, or the last raw send did) and until the last message was seen by
/// the receiving side.
#[derive(Clone, Copy)]
struct Sample {
    sent: Duration,
    total: Duration,
    /// Messages that arrived out of order, and messages that never arrived.
    misordered: u64,
    lost: u64,
}

/// Order violations of one bench over its runs (warm-up included).
#[derive(Clone, Copy, Default)]
struct Order {
    misordered: u64,
    lost: u64,
    bad_runs: usize,
    runs: usize,
}

impl Order {
    fn add(&mut self, s: &Sample) {
        self.runs += 1;
        if s.misordered + s.lost > 0 {
            self.misordered += s.misordered;
            self.lost += s.lost;
            self.bad_runs += 1;
        }
    }

    fn broken(&self) -> bool {
        self.bad_runs > 0
    }
}

/// `run(count)` streams `count` messages and times them.
type Bench = Box<dyn FnMut(u64) -> Sample>;

/// What the receiving side checks: every message arrives, in order.
#[derive(Default)]
struct Progress {
    seen: AtomicU64,
    next: AtomicU64,
    misordered: AtomicU64,
}

impl Progress {
    /// Called by the one receiving thread for each message, in arrival
    /// order; returns how many messages it has seen.
    fn check(&self, i: u64) -> u64 {
        let expected = self.next.load(Ordering::Relaxed);
        if i != expected {
            self.misordered.fetch_add(1, Ordering::Relaxed);
        }
        self.next.store(i + 1, Ordering::Relaxed);
        self.seen.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// After the receiver signalled (which synchronizes with it): how many
    /// messages arrived out of order, and how many of `count` never did.
    fn outcome(&self, count: u64) -> (u64, u64) {
        let seen = self.seen.load(Ordering::Relaxed);
        (
            self.misordered.load(Ordering::Relaxed),
            count.saturating_sub(seen),
        )
    }
}

/// What one bench gave: median messages per second until the last arrived,
/// median messages per second until the sending side was done, and context
/// switches (all threads) per message.
struct Measured {
    rate: f64,
    send_rate: f64,
    switches: f64,
    order: Order,
}

/// Measures `benches` in interleaved runs of `cfg.count` messages each, after
/// one warm-up run each.
fn measure(cfg: &Cfg, group: &str, benches: &mut [Bench]) -> Vec<Measured> {
    set_current(group);
    eprintln!("measuring {group} ...");
    let n = benches.len();
    let mut order = vec![Order::default(); n];
    for (i, b) in benches.iter_mut().enumerate() {
        order[i].add(&b(cfg.count));
    }
    let mut rates = vec![Vec::with_capacity(cfg.runs); n];
    let mut send_rates = vec![Vec::with_capacity(cfg.runs); n];
    let mut switches = vec![0u64; n];
    for r in 0..cfg.runs {
        for k in 0..n {
            let i = (k + r) % n;
            let before = context_switches();
            let s = benches[i](cfg.count);
            switches[i] += context_switches().saturating_sub(before);
            rates[i].push(cfg.count as f64 / s.total.as_secs_f64());
            send_rates[i].push(cfg.count as f64 / s.sent.as_secs_f64());
            order[i].add(&s);
        }
    }
    let messages = (cfg.count * cfg.runs as u64) as f64;
    rates
        .into_iter()
        .zip(send_rates)
        .zip(switches)
        .zip(order)
        .map(|(((rate, send), sw), order)| Measured {
            rate: median(rate),
            send_rate: median(send),
            switches: sw as f64 / messages,
            order,
        })
        .collect()
}

// ----- remote --------------------------------------------------------------------------

/// `stream(listener, count)` through a blocking proxy; the listener checks the
/// order and signals when it has run `count` times.
fn remote_bench(client: Client, keep: impl Sized + 'static) -> Bench {
    let events: EventsProxy = client.require("events").expect("require");
    Box::new(move |count| {
        let _keep = (&client, &keep);
        let progress = Arc::new(Progress::default());
        let (done_tx, done_rx) = bounded::<()>(1);
        let p = progress.clone();
        let listener = Callback::new(move |(i,): (u64,)| {
            // In order, the last one seen is `i == last`; counting instead
            // also waits for any that a broken order would deliver later.
            if p.check(i) == count {
                let _ = done_tx.send(());
            }
        });
        let t = Instant::now();
        events.stream(listener, count).expect("stream");
        let sent = t.elapsed();
        // Disconnected: the server released the callback and the closure
        // was dropped before it had run `count` times (lost invocations).
        if let Err(RecvTimeoutError::Timeout) = done_rx.recv_timeout(BOUND) {
            panic!("no sign of the last invocation for {BOUND:?}");
        }
        let total = t.elapsed();
        let (misordered, lost) = progress.outcome(count);
        Sample {
            sent,
            total,
            misordered,
            lost,
        }
    })
}

/// A client of a fresh server over a Unix socket; the second value keeps the
/// server and its listener alive.
fn unix_client(cfg: &Cfg, name: &str) -> (Client, impl Sized + 'static) {
    let server = events_server();
    let path = cfg.sock(name);
    let listener = server.listen_unix(&path).expect("listen");
    let client = Client::connect_unix(&path).expect("connect");
    (client, (server, listener))
}

// ----- raw limits ----------------------------------------------------------------------

/// Starts a receiver thread that serves one run per `(count, done)` it gets
/// from the returned sender: it calls `next()` until it has seen `count`
/// messages, checks their order and signals `done`.
fn receiver<M: FnMut() -> Option<u64> + Send + 'static>(
    name: &str,
    mut next: M,
) -> Sender<(u64, Arc<Progress>, Sender<()>)> {
    let (ctl_tx, ctl_rx) = unbounded::<(u64, Arc<Progress>, Sender<()>)>();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            for (count, progress, done) in ctl_rx {
                for _ in 0..count {
                    let Some(i) = next() else {
                        return;
                    };
                    progress.check(i);
                }
                let _ = done.send(());
            }
        })
        .expect("receiver thread");
    ctl_tx
}

/// One raw run: announce it to the receiver, then time `send(count)` and the
/// receiver's signal.
fn raw_run(
    what: &str,
    ctl: &Sender<(u64, Arc<Progress>, Sender<()>)>,
    count: u64,
    send: impl FnOnce(u64),
) -> Sample {
    let progress = Arc::new(Progress::default());
    let (done_tx, done_rx) = bounded::<()>(1);
    ctl.send((count, progress.clone(), done_tx))
        .expect("receiver alive");
    let t = Instant::now();
    send(count);
    let sent = t.elapsed();
    done_rx.recv_timeout(BOUND).expect("last message arrived");
    let total = t.elapsed();
    let (misordered, lost) = progress.outcome(count);
    assert_eq!((misordered, lost), (0, 0), "{what}: (out of order, lost)");
    Sample {
        sent,
        total,
        misordered,
        lost,
    }
}

/// u64s over a crossbeam unbounded channel, from the measuring thread to a
/// receiver thread.
fn raw_crossbeam() -> Bench {
    let (tx, rx) = unbounded::<u64>();
    let ctl = receiver("raw-xbeam-recv", move || rx.recv().ok());
    Box::new(move |count| {
        raw_run("raw crossbeam", &ctl, count, |count| {
            for i in 0..count {
                tx.send(i).expect("send");
            }
        })
    })
}

/// The shape of `remote`'s in-process path without its bookkeeping: a heap
/// frame per message, through a forwarding thread (remote's reader) to the
/// receiver thread (remote's callback thread), which frees it.
fn raw_crossbeam_two_hops() -> Bench {
    let (tx, mid_rx) = unbounded::<Vec<u8>>();
    let (mid_tx, rx) = unbounded::<Vec<u8>>();
    std::thread::Builder::new()
        .name("raw-xbeam-fwd".into())
        .spawn(move || {
            for f in mid_rx {
                if mid_tx.send(f).is_err() {
                    return;
                }
            }
        })
        .expect("forwarding thread");
    let ctl = receiver("raw-xbeam2-recv", move || {
        let f = rx.recv().ok()?;
        Some(u64::from_le_bytes(f[4..12].try_into().expect("8 bytes")))
    });
    Box::new(move |count| {
        raw_run("raw crossbeam, 2 hops", &ctl, count, |count| {
            for i in 0..count {
                tx.send(frame(i).to_vec()).expect("send");
            }
        })
    })
}

/// A raw frame: `[u32 len = 8 LE][i u64 LE]`.
fn frame(i: u64) -> [u8; 12] {
    let mut f = [0u8; 12];
    f[..4].copy_from_slice(&8u32.to_le_bytes());
    f[4..].copy_from_slice(&i.to_le_bytes());
    f
}

/// How the raw Unix sender writes its frames.
#[derive(Clone, Copy)]
enum Writes {
    /// `write_all` of each 12-byte frame on the socket: one syscall per
    /// message, as `remote` makes one per callback frame.
    PerMessage,
    /// Through a 64 KiB `BufWriter`, flushed at the end.
    Buffered,
}

/// Length-prefixed frames over a std UnixStream, from the measuring thread to
/// a receiver thread reading through a 64 KiB `BufReader` (as `remote`'s
/// reader does).
fn raw_unix(cfg: &Cfg, name: &str, writes: Writes) -> Bench {
    // A path-bound socket, like remote's: bind, connect, accept.
    let path = cfg.sock(name);
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
    let mut w = UnixStream::connect(&path).expect("connect");
    let (accepted, _) = listener.accept().expect("accept");
    let mut r = BufReader::with_capacity(64 * 1024, accepted);
    let ctl = receiver("raw-unix-recv", move || {
        let mut buf = [0u8; 12];
        r.read_exact(&mut buf).ok()?;
        let len = u32::from_le_bytes(buf[..4].try_into().expect("4 bytes"));
        assert_eq!(len, 8, "frame length");
        Some(u64::from_le_bytes(buf[4..].try_into().expect("8 bytes")))
    });
    let what = match writes {
        Writes::PerMessage => "raw unix, one write per message",
        Writes::Buffered => "raw unix, BufWriter",
    };
    Box::new(move |count| {
        raw_run(what, &ctl, count, |count| match writes {
            Writes::PerMessage => {
                for i in 0..count {
                    w.write_all(&frame(i)).expect("write");
                }
            }
            Writes::Buffered => {
                let mut b = BufWriter::with_capacity(64 * 1024, &w);
                for i in 0..count {
                    b.write_all(&frame(i)).expect("write");
                }
                b.flush().expect("flush");
            }
        })
    })
}

// ----- results ---------------------------------------------------------------------------

struct Row {
    name: String,
    remote: f64,
    raw: f64,
    /// `Some(t)`: the ratio remote/raw must be at least `t`; `None`: shown for
    /// information.
    target: Option<f64>,
    /// Whether the remote invocations kept their order.
    order: Order,
}

impl Row {
    fn new(name: String, remote: &Measured, raw: &Measured, target: Option<f64>) -> Row {
        Row {
            name,
            remote: remote.rate,
            raw: raw.rate,
            target,
            order: remote.order,
        }
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "| row | remote invocations/s (median) | raw msgs/s (median) | ratio remote/raw | target | pass/miss |"
    );
    println!("|---|---:|---:|---:|---|---|");
    for r in rows {
        let ratio = r.remote / r.raw;
        let (target, mut verdict) = match r.target {
            Some(t) => (
                format!(">= {t:.1}"),
                if ratio >= t { "pass" } else { "MISS" }.to_string(),
            ),
            None => ("info".to_string(), "-".to_string()),
        };
        let o = r.order;
        if o.broken() && r.target.is_some() {
            verdict = format!(
                "{verdict}; ORDER BROKEN: {} out of order, {} lost, in {}/{} runs",
                o.misordered, o.lost, o.bad_runs, o.runs
            );
        }
        println!(
            "| {} | {:.0} | {:.0} | {:.2} | {} | {} |",
            r.name, r.remote, r.raw, ratio, target, verdict
        );
    }
}

#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    /// Measures `benches` (labelled by `labels`) as group `id`; notes the
    /// send-side rate and the context switches per message of each.
    fn measure(&mut self, cfg: &Cfg, id: &str, labels: &[&str], b: &mut [Bench]) -> Vec<Measured> {
        let m = measure(cfg, id, b);
        affinity_snapshot(id.rsplit('-').next().unwrap_or(id));
        let per_bench: Vec<String> = labels
            .iter()
            .zip(&m)
            .map(|(l, m)| {
                format!(
                    "{l}: sender done at {:.0}/s, {:.3} ctx switches/msg",
                    m.send_rate, m.switches
                )
            })
            .collect();
        self.notes.push(format!("{id}: {}", per_bench.join("; ")));
        m
    }
}

fn group_inproc(cfg: &Cfg, tag: &str, out: &mut Report) {
    let id = &format!("inproc-{tag}");
    if !cfg.args.wants(id) {
        return;
    }
    let server = events_server();
    let client = Client::in_process(&server).expect("connect");
    let mut b = [
        remote_bench(client, server),
        raw_crossbeam(),
        raw_crossbeam_two_hops(),
    ];
    let m = out.measure(cfg, id, &["remote", "raw", "raw 2 hops"], &mut b);
    out.rows.push(Row::new(
        format!("a in-proc callbacks vs crossbeam unbounded u64, 2 threads [{tag}]"),
        &m[0],
        &m[1],
        Some(0.5),
    ));
    out.rows.push(Row::new(
        format!(
            "a' in-proc callbacks vs crossbeam, Vec<u8> frame per msg via a forwarding thread [{tag}]"
        ),
        &m[0],
        &m[2],
        None,
    ));
}

fn group_unix(cfg: &Cfg, tag: &str, out: &mut Report) {
    let id = &format!("unix-{tag}");
    if !cfg.args.wants(id) {
        return;
    }
    let (client, keep) = unix_client(cfg, id);
    let mut b = [
        remote_bench(client, keep),
        raw_unix(cfg, &format!("raw1-{id}"), Writes::PerMessage),
        raw_unix(cfg, &format!("rawbuf-{id}"), Writes::Buffered),
    ];
    let m = out.measure(
        cfg,
        id,
        &["remote", "raw 1 write/msg", "raw BufWriter"],
        &mut b,
    );
    out.rows.push(Row::new(
        format!("b unix callbacks vs UnixStream, one write per msg [{tag}]"),
        &m[0],
        &m[1],
        Some(0.5),
    ));
    out.rows.push(Row::new(
        format!("b' unix callbacks vs UnixStream, BufWriter flushed at end [{tag}]"),
        &m[0],
        &m[2],
        None,
    ));
}

fn run_groups(cfg: &Cfg, tag: &str, out: &mut Report) {
    group_inproc(cfg, tag, out);
    group_unix(cfg, tag, out);
}

// ----- affinity check ----------------------------------------------------------------------

/// (regime, Cpus_allowed_list) -> thread name -> times seen.
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
        .map(|(regime, parts)| format!("affinity [{regime}]: {}", parts.join("; ")))
        .collect()
}

// ----- main --------------------------------------------------------------------------------

/// Runs one regime's groups in this (child) process and prints its rows and
/// notes as tab-separated records for the parent.
fn child(cfg: &Cfg, regime: &str) {
    // Pinned: the main thread is pinned before anything else exists, so every
    // thread of this process, the library's process-wide ones included,
    // inherits core 0. Each regime has a process of its own because the
    // library's slow-call watchdog spawns the reader that takes over from a
    // long call (`stream` runs for many ms), and that reader inherits the
    // watchdog's affinity, whatever the regime it serves.
    if regime == "pinned" && !core_affinity::set_for_current(core_affinity::CoreId { id: 0 }) {
        eprintln!("could not pin to core 0; skipping the pinned groups");
        return;
    }
    std::fs::create_dir_all(&cfg.dir).expect("temp dir");
    let _cleanup = CleanUp(cfg.dir.clone());
    watchdog("callbacks", cfg.time_limit(), Some(cfg.dir.clone()));
    let mut out = Report::default();
    run_groups(cfg, regime, &mut out);
    let target = |t: Option<f64>| t.map_or("-".to_string(), |t| t.to_string());
    for r in &out.rows {
        let o = r.order;
        println!(
            "ROW\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            r.name,
            r.remote,
            r.raw,
            target(r.target),
            o.misordered,
            o.lost,
            o.bad_runs,
            o.runs
        );
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
    let mut args = vec![format!("--regime={regime}")];
    args.extend(cfg.args.to_args());
    let output = std::process::Command::new(exe)
        .args(&args)
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
        match fields.as_slice() {
            ["ROW", name, remote, raw, target, misordered, lost, bad_runs, runs] => {
                let n = |f: &str| f.parse::<u64>().expect("a count");
                out.rows.push(Row {
                    name: name.to_string(),
                    remote: remote.parse().expect("remote rate"),
                    raw: raw.parse().expect("raw rate"),
                    target: target.parse().ok(),
                    order: Order {
                        misordered: n(misordered),
                        lost: n(lost),
                        bad_runs: n(bad_runs) as usize,
                        runs: n(runs) as usize,
                    },
                })
            }
            ["NOTE", note] => out.notes.push(note.to_string()),
            _ => println!("{line}"),
        }
    }
}

fn main() {
    let cfg = Cfg::from_args();
    if let Some(regime) = &cfg.regime {
        child(&cfg, regime);
        return;
    }
    watchdog("callbacks", cfg.time_limit() * 2, Some(cfg.dir.clone()));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "callbacks bench ({}): {cores} cores available; {} messages per run, {} runs per bench \
         (median); every row runs PINNED (all threads on core 0) and UNPINNED, each regime in \
         a process of its own; each ratio compares benches of one regime, measured in the same run",
        cfg.args.pick("quick", "full"),
        cfg.count,
        cfg.runs
    );
    let mut out = Report::default();
    for regime in ["pinned", "unpinned"] {
        set_current(regime);
        run_child(&cfg, regime, &mut out);
    }
    set_current("report");

    println!();
    print_table(&out.rows);
    println!();
    println!(
        "remote: server calls listener.call((i,)) for i in 0..{n}; clock from just before the proxy call \
         to the client closure having run {n} times (order checked on every invocation). \
         raw: the measuring thread sends, a receiver thread checks order and signals the last",
        n = cfg.count
    );
    for note in out.notes {
        println!("{note}");
    }
    // Order is part of the contract: a run that broke it fails the bench,
    // after the table is out.
    let broken: Vec<&str> = out
        .rows
        .iter()
        .filter(|r| r.order.broken() && r.target.is_some())
        .map(|r| r.name.as_str())
        .collect();
    if !broken.is_empty() {
        println!(
            "ORDER BROKEN: callbacks arrived out of order or never in: {}",
            broken.join("; ")
        );
        std::process::exit(1);
    }
}
