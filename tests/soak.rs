//! Soak: many client processes use one server over a Unix socket for a
//! while, with mixed calls, handle churn, callbacks both ways and random
//! SIGKILLs of clients, and the server ends where it started.
//!
//! `cargo test --test soak` runs the short version (8 clients, 12 s). The
//! full one is its own command:
//!
//! ```sh
//! cargo test --release --test soak -- --full      # 64 clients, 180 s
//! cargo test --release --test soak -- --clients 32 --secs 60 --kill-every-ms 500
//! ```
//!
//! The server's RSS, threads and file descriptors are sampled on a fixed
//! period and printed as a table. It passes when:
//! - every client that was not killed ran with no error and exited 0;
//! - at the end the server has no connection, no live handle, no listener
//!   and no object of its own left alive;
//! - its threads and file descriptors are back to what they were before the
//!   first client (within a bound for the runtime's idle threads to go);
//! - its RSS never exceeded 2x its value after warm-up.
//!
//! This binary is also the client: started with `REMOTE_SOAK_CLIENT` set, it
//! runs the client role instead.
#![allow(missing_docs)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use remote::{remote_object, Callback, Client, Listeners, Remote, RemoteError, Server};

/// An object handed out by the server; the clients churn through them.
#[remote_object]
pub trait Item: Send + Sync {
    fn get(&self) -> u64;
    fn bump(&self) -> u64;
    /// A new item, one more than this one.
    fn split(&self) -> Remote<dyn Item>;
}

#[remote_object]
pub trait Soak: Send + Sync {
    fn add(&self, a: u64, b: u64) -> u64;
    fn echo(&self, bytes: Vec<u8>) -> Vec<u8>;
    fn open(&self, start: u64) -> Remote<dyn Item>;
    fn open_many(&self, n: u32) -> Vec<Remote<dyn Item>>;
    /// An item of ours passed home: the server reads it locally.
    fn read(&self, item: Remote<dyn Item>) -> u64;
    /// Registers a listener for the server's ticks.
    fn subscribe(&self, listener: Callback<(u64,)>);
    /// Asks the client's callback, and returns its answer plus one.
    fn visit(&self, ask: Callback<(u64,), u64>, x: u64) -> u64;
    async fn later(&self, x: u64) -> u64;
}

struct TheItem {
    value: AtomicU64,
    live: Arc<AtomicU64>,
}

impl TheItem {
    fn new(start: u64, live: &Arc<AtomicU64>) -> Arc<TheItem> {
        live.fetch_add(1, Ordering::SeqCst);
        Arc::new(TheItem {
            value: AtomicU64::new(start),
            live: live.clone(),
        })
    }
}

impl Drop for TheItem {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Item for TheItem {
    fn get(&self) -> u64 {
        self.value.load(Ordering::SeqCst)
    }
    fn bump(&self) -> u64 {
        self.value.fetch_add(1, Ordering::SeqCst) + 1
    }
    fn split(&self) -> Remote<dyn Item> {
        Remote::from_arc(TheItem::new(self.get() + 1, &self.live) as Arc<dyn Item>)
    }
}

struct TheSoak {
    live: Arc<AtomicU64>,
    ticks: Listeners<(u64,)>,
}

#[remote::async_trait]
impl Soak for TheSoak {
    fn add(&self, a: u64, b: u64) -> u64 {
        a.wrapping_add(b)
    }
    fn echo(&self, bytes: Vec<u8>) -> Vec<u8> {
        bytes
    }
    fn open(&self, start: u64) -> Remote<dyn Item> {
        Remote::from_arc(TheItem::new(start, &self.live) as Arc<dyn Item>)
    }
    fn open_many(&self, n: u32) -> Vec<Remote<dyn Item>> {
        (0..n)
            .map(|i| Remote::from_arc(TheItem::new(i as u64, &self.live) as Arc<dyn Item>))
            .collect()
    }
    fn read(&self, item: Remote<dyn Item>) -> u64 {
        match item.local() {
            Some(item) => item.get(),
            None => u64::MAX,
        }
    }
    fn subscribe(&self, listener: Callback<(u64,)>) {
        self.ticks.add(listener);
    }
    fn visit(&self, ask: Callback<(u64,), u64>, x: u64) -> u64 {
        match ask.ask((x,)).deadline(Duration::from_secs(20)).wait() {
            Ok(answer) => answer + 1,
            Err(_) => 0,
        }
    }
    async fn later(&self, x: u64) -> u64 {
        tokio::task::yield_now().await;
        x * 3
    }
}

// ----- the client role -------------------------------------------------------

const CLIENT_ENV: &str = "REMOTE_SOAK_CLIENT";

/// A small deterministic generator (xorshift), seeded per client.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn check(what: &str, got: u64, want: u64) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got}, want {want}"))
    }
}

/// One client process: blocking calls on this thread, async calls on
/// another, until `secs` have passed. Prints its counts and exits 0, or
/// prints the first error and exits 1.
fn client_role(path: &str, secs: u64, seed: u64) -> Result<String, String> {
    let err = |what: &str| {
        let what = what.to_string();
        move |e: RemoteError| format!("{what}: {e}")
    };
    let deadline = Instant::now() + Duration::from_secs(secs);
    let client = Client::connect_unix(path).map_err(err("connect"))?;
    let soak: SoakProxy = client.require("soak").map_err(err("require"))?;

    // Ticks must arrive in order.
    let ticks = Arc::new(AtomicU64::new(0));
    let disorder = Arc::new(AtomicBool::new(false));
    let listener = {
        let (last, disorder) = (ticks.clone(), disorder.clone());
        Callback::new(move |(seq,): (u64,)| {
            if last.swap(seq, Ordering::SeqCst) >= seq {
                disorder.store(true, Ordering::SeqCst);
            }
        })
    };
    soak.subscribe(listener.clone()).map_err(err("subscribe"))?;

    let asynchronous = {
        let client = client.clone();
        std::thread::spawn(move || -> Result<u64, String> {
            futures::executor::block_on(async {
                let soak: SoakAsyncProxy = client
                    .require_async("soak")
                    .await
                    .map_err(|e| format!("require async: {e}"))?;
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let got = soak.later(n).await.map_err(|e| format!("later: {e}"))?;
                    check("later", got, n * 3)?;
                    let item = soak.open(n).await.map_err(|e| format!("open: {e}"))?;
                    let got = item.bump().await.map_err(|e| format!("bump: {e}"))?;
                    check("async bump", got, n + 1)?;
                    n += 1;
                }
                Ok(n)
            })
        })
    };

    let mut rng = Rng(seed | 1);
    let mut kept: Vec<ItemProxy> = Vec::new();
    let mut ops = 0u64;
    let asker = Callback::new(|(x,): (u64,)| x * 2);
    while Instant::now() < deadline {
        ops += 1;
        match rng.below(8) {
            0 => {
                let (a, b) = (rng.next() >> 1, rng.next() >> 1);
                check("add", soak.add(a, b).map_err(err("add"))?, a + b)?;
            }
            1 => {
                let len = [0usize, 17, 4096, 70_000][rng.below(4) as usize];
                let bytes: Vec<u8> = (0..len).map(|i| (i as u64 ^ seed) as u8).collect();
                let back = soak.echo(bytes.clone()).map_err(err("echo"))?;
                if back != bytes {
                    return Err(format!("echo of {len} bytes came back different"));
                }
            }
            2 => {
                let start = rng.below(1000);
                let item = soak.open(start).map_err(err("open"))?;
                check("get", item.get().map_err(err("get"))?, start)?;
                kept.push(item);
            }
            3 => {
                let n = rng.below(20) as u32;
                let items: Vec<ItemProxy> = soak
                    .open_many(n)
                    .map_err(err("open_many"))?
                    .into_iter()
                    .map(Remote::into_proxy)
                    .collect();
                check("open_many", items.len() as u64, n as u64)?;
                if let Some(item) = items.last() {
                    check("last", item.get().map_err(err("get"))?, n as u64 - 1)?;
                }
                kept.extend(items.into_iter().take(3));
            }
            4 if !kept.is_empty() => {
                let i = rng.below(kept.len() as u64) as usize;
                let item = &kept[i];
                let before = item.get().map_err(err("get"))?;
                check(
                    "read home",
                    soak.read(item.clone()).map_err(err("read"))?,
                    before,
                )?;
                let child = item.split().map_err(err("split"))?;
                check("split", child.get().map_err(err("get"))?, before + 1)?;
                kept.push(child);
            }
            5 => {
                let x = rng.below(1 << 20);
                check(
                    "visit",
                    soak.visit(asker.clone(), x).map_err(err("visit"))?,
                    x * 2 + 1,
                )?;
            }
            _ => {
                // Churn: drop a few.
                for _ in 0..rng.below(4) {
                    if !kept.is_empty() {
                        let i = rng.below(kept.len() as u64) as usize;
                        kept.swap_remove(i);
                    }
                }
                if kept.len() > 200 {
                    kept.truncate(50);
                }
            }
        }
    }
    let async_ops = asynchronous
        .join()
        .map_err(|_| "the async thread panicked".to_string())??;
    if disorder.load(Ordering::SeqCst) {
        return Err("ticks arrived out of order".into());
    }
    drop(kept);
    client.close();
    Ok(format!(
        "ops={ops} async_ops={async_ops} ticks={}",
        ticks.load(Ordering::SeqCst)
    ))
}

// ----- the server side -------------------------------------------------------

struct Config {
    clients: usize,
    secs: u64,
    kill_every: Duration,
    sample_every: Duration,
    warm_up: Duration,
}

impl Config {
    fn from_args() -> Config {
        let mut config = Config {
            clients: 8,
            secs: 12,
            kill_every: Duration::from_millis(700),
            sample_every: Duration::from_secs(2),
            warm_up: Duration::from_secs(4),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = |name: &str| -> u64 {
                args.next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("{name} takes a number"))
            };
            match arg.as_str() {
                "--full" => {
                    config.clients = 64;
                    config.secs = 180;
                    config.kill_every = Duration::from_millis(1500);
                    config.sample_every = Duration::from_secs(10);
                    config.warm_up = Duration::from_secs(20);
                }
                "--clients" => config.clients = value("--clients") as usize,
                "--secs" => config.secs = value("--secs"),
                "--kill-every-ms" => {
                    config.kill_every = Duration::from_millis(value("--kill-every-ms"))
                }
                // Listing, for test runners that ask first.
                "--list" => {
                    println!("soak: test");
                    std::process::exit(0);
                }
                // A name filter, as libtest takes it: this binary's one
                // test is `soak`.
                filter if !filter.starts_with('-') && !"soak".contains(filter) => {
                    println!("running 0 tests (filtered out: soak)");
                    std::process::exit(0);
                }
                // Other libtest flags (`--nocapture`, ...) change nothing.
                _ => {}
            }
        }
        config.warm_up = config.warm_up.min(Duration::from_secs(config.secs / 3));
        config
    }
}

/// What the server process spends, from /proc.
#[derive(Clone, Copy, Debug)]
struct Usage {
    rss_kib: u64,
    threads: u64,
    fds: u64,
}

fn usage() -> Usage {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/self/status"))
    };
    Usage {
        rss_kib: field("VmRSS:"),
        threads: field("Threads:"),
        fds: std::fs::read_dir("/proc/self/fd")
            .expect("/proc/self/fd")
            .count() as u64,
    }
}

/// The server process's threads, counted by name.
fn thread_names() -> std::collections::BTreeMap<String, u64> {
    let mut names = std::collections::BTreeMap::new();
    for task in std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .flatten()
    {
        if let Ok(name) = std::fs::read_to_string(task.path().join("comm")) {
            *names.entry(name.trim().to_string()).or_insert(0) += 1;
        }
    }
    names
}

/// Threads the library starts once per process, the first time they are
/// needed, and keeps: not a cost per connection.
const ONCE_PER_PROCESS: [&str; 2] = ["remote-timer", "remote-janitor"];

/// The threads there are now beyond `baseline`, once-per-process threads
/// aside.
fn extra_threads(baseline: &std::collections::BTreeMap<String, u64>) -> Vec<String> {
    thread_names()
        .into_iter()
        .filter_map(|(name, n)| {
            let allowed = baseline.get(&name).copied().unwrap_or(0)
                + u64::from(ONCE_PER_PROCESS.contains(&name.as_str()));
            (n > allowed).then(|| format!("{} x{}", name, n - allowed))
        })
        .collect()
}

/// A client process, killed and reaped if still running when dropped (so a
/// failing soak leaves no process behind).
struct ClientProc {
    child: Child,
    killed: bool,
}

impl Drop for ClientProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_client(path: &Path, secs: u64, seed: u64) -> ClientProc {
    let child = Command::new(std::env::current_exe().expect("test exe"))
        .env(CLIENT_ENV, format!("{}|{secs}|{seed}", path.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn a client");
    ClientProc {
        child,
        killed: false,
    }
}

fn sigkill(proc: &mut ClientProc) {
    // `Child::kill` is SIGKILL on Unix.
    proc.child.kill().expect("SIGKILL a client");
    proc.child.wait().expect("reap a client");
    // Its pipe goes now, not at the end.
    proc.child.stdout.take();
    proc.killed = true;
}

/// Polls `cond` until it holds or `bound` passes; returns whether it held.
fn within(bound: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < bound {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

fn soak(config: &Config) -> Result<(), String> {
    let dir = tempfile::Builder::new()
        .prefix("remote-soak-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let path: PathBuf = dir.path().join("soak.sock");
    let live = Arc::new(AtomicU64::new(0));
    let service = Arc::new(TheSoak {
        live: live.clone(),
        ticks: Listeners::new(),
    });
    let server = Server::new();
    server.export("soak", service.clone() as Arc<dyn Soak>);
    let listener = server.listen_unix(&path).map_err(|e| e.to_string())?;

    // Ticks to every subscriber, every 20 ms, until the end.
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = {
        let (service, stop) = (service.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut seq = 0u64;
            while !stop.load(Ordering::SeqCst) {
                seq += 1;
                service.ticks.emit((seq,));
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    // The library's runtime starts its two workers with the first
    // listener, each named once it runs: wait for both, so the baseline
    // counts them.
    if !within(Duration::from_secs(10), || {
        thread_names().get("remote-rt").copied().unwrap_or(0) >= 2
    }) {
        return Err(format!(
            "the runtime's workers did not start: {:?}",
            thread_names()
        ));
    }
    let baseline = usage();
    let baseline_threads = thread_names();
    println!(
        "soak: {} clients for {} s, one SIGKILL every {:?}; baseline: rss {} KiB, {} threads {:?}, {} fds",
        config.clients,
        config.secs,
        config.kill_every,
        baseline.rss_kib,
        baseline.threads,
        baseline_threads,
        baseline.fds
    );
    println!(
        "{:>6} {:>8} {:>6} {:>9} {:>10} {:>6} {:>9} {:>8} {:>5}",
        "t(s)", "clients", "conns", "exported", "listeners", "items", "rss(KiB)", "threads", "fds"
    );

    let started = Instant::now();
    let end = started + Duration::from_secs(config.secs);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rng = Rng(seed);
    let mut procs: Vec<ClientProc> = (0..config.clients)
        .map(|i| spawn_client(&path, config.secs, seed.wrapping_add(i as u64)))
        .collect();
    let mut kills = 0u64;
    let mut next_kill = started + config.kill_every;
    let mut next_sample = started + config.sample_every;
    let mut warmed_rss: Option<u64> = None;
    let mut peak_rss = 0u64;
    let sample = |procs: &Vec<ClientProc>| {
        let u = usage();
        let stats = server.stats();
        println!(
            "{:>6.0} {:>8} {:>6} {:>9} {:>10} {:>6} {:>9} {:>8} {:>5}",
            started.elapsed().as_secs_f64(),
            procs.iter().filter(|p| !p.killed).count(),
            stats.connections,
            stats.exported,
            service.ticks.len(),
            live.load(Ordering::SeqCst),
            u.rss_kib,
            u.threads,
            u.fds
        );
        u
    };

    while Instant::now() < end {
        let now = Instant::now();
        if now >= next_kill {
            next_kill += config.kill_every;
            // Kill a random running client, and start another for the
            // time that is left (if a second or more is).
            let running: Vec<usize> = (0..procs.len()).filter(|&i| !procs[i].killed).collect();
            if !running.is_empty() {
                let victim = running[rng.below(running.len() as u64) as usize];
                sigkill(&mut procs[victim]);
                kills += 1;
            }
            let left = end.saturating_duration_since(Instant::now()).as_secs();
            if left >= 1 {
                seed = seed.wrapping_add(0x1000);
                procs.push(spawn_client(&path, left, seed));
            }
        }
        if now >= next_sample {
            next_sample += config.sample_every;
            let u = sample(&procs);
            if started.elapsed() >= config.warm_up {
                let base = *warmed_rss.get_or_insert(u.rss_kib);
                peak_rss = peak_rss.max(u.rss_kib);
                if u.rss_kib > 2 * base {
                    return Err(format!(
                        "RSS {} KiB is more than twice its {} KiB after warm-up",
                        u.rss_kib, base
                    ));
                }
            }
        }
        let wake = next_kill.min(next_sample).min(end);
        std::thread::sleep(wake.saturating_duration_since(Instant::now()));
    }

    // Every client still running stops by itself: it must exit 0.
    let mut finished = 0;
    let mut totals = (0u64, 0u64, 0u64);
    for proc in procs.iter_mut().filter(|p| !p.killed) {
        let waited = within(Duration::from_secs(60), || {
            matches!(proc.child.try_wait(), Ok(Some(_)))
        });
        if !waited {
            return Err("a client did not finish within 60 s of the end".into());
        }
        let status = proc.child.wait().map_err(|e| e.to_string())?;
        let mut out = String::new();
        if let Some(mut stdout) = proc.child.stdout.take() {
            let _ = stdout.read_to_string(&mut out);
        }
        if !status.success() {
            return Err(format!("a surviving client failed ({status}): {out}"));
        }
        for part in out.split_whitespace() {
            let mut kv = part.split('=');
            let (Some(k), Some(v)) = (kv.next(), kv.next().and_then(|v| v.parse::<u64>().ok()))
            else {
                continue;
            };
            match k {
                "ops" => totals.0 += v,
                "async_ops" => totals.1 += v,
                "ticks" => totals.2 += v,
                _ => {}
            }
        }
        finished += 1;
    }
    let spawned = procs.len();
    drop(procs);

    // Nothing is left: connections, handles, listeners, objects.
    let clean = within(Duration::from_secs(30), || {
        let stats = server.stats();
        stats.connections == 0
            && stats.exported == 0
            && service.ticks.is_empty()
            && live.load(Ordering::SeqCst) == 0
    });
    let final_stats = server.stats();
    sample(&Vec::new());
    if !clean {
        return Err(format!(
            "not clean at the end: {} connections, {} live handles, {} listeners, {} live objects",
            final_stats.connections,
            final_stats.exported,
            service.ticks.len(),
            live.load(Ordering::SeqCst)
        ));
    }
    // The runtime's idle serving threads go after 10 s idle.
    let back = within(Duration::from_secs(40), || {
        extra_threads(&baseline_threads).is_empty() && usage().fds <= baseline.fds
    });
    let end_usage = usage();
    let end_threads = thread_names();
    stop.store(true, Ordering::SeqCst);
    ticker.join().map_err(|_| "the ticker panicked")?;
    let warmed = warmed_rss.unwrap_or(end_usage.rss_kib);
    println!(
        "soak: {spawned} clients started, {kills} SIGKILLed, {finished} finished cleanly; \
         {} blocking ops, {} async ops, {} ticks received by survivors",
        totals.0, totals.1, totals.2
    );
    println!(
        "soak: threads {} -> {} {:?} (once-per-process threads aside: {:?} more), fds {} -> {}, rss {} KiB after warm-up, peak {} KiB ({:.2}x), {} KiB at the end",
        baseline.threads,
        end_usage.threads,
        end_threads,
        extra_threads(&baseline_threads),
        baseline.fds,
        end_usage.fds,
        warmed,
        peak_rss,
        peak_rss as f64 / warmed as f64,
        end_usage.rss_kib
    );
    if !back {
        if std::env::var_os("REMOTE_SOAK_GDB").is_some() {
            // Where the extra threads are, for whoever hunts this.
            let _ = Command::new("gdb")
                .args(["-p", &std::process::id().to_string(), "-batch"])
                .args(["-ex", "thread apply all bt 30"])
                .status();
        }
        return Err(format!(
            "threads or fds not back to baseline: threads {} (was {}; more than before: {:?}), fds {} (was {})",
            end_usage.threads,
            baseline.threads,
            extra_threads(&baseline_threads),
            end_usage.fds,
            baseline.fds
        ));
    }
    if finished == 0 {
        return Err("no client survived to the end".into());
    }
    drop(listener);
    Ok(())
}

fn main() {
    if let Ok(spec) = std::env::var(CLIENT_ENV) {
        let mut parts = spec.split('|');
        let path = parts.next().expect("path").to_string();
        let secs: u64 = parts.next().and_then(|s| s.parse().ok()).expect("secs");
        let seed: u64 = parts.next().and_then(|s| s.parse().ok()).expect("seed");
        match client_role(&path, secs, seed) {
            Ok(summary) => {
                println!("{summary}");
                std::process::exit(0);
            }
            Err(e) => {
                eprintln!("soak client {}: {e}", std::process::id());
                std::process::exit(1);
            }
        }
    }
    let config = Config::from_args();
    if let Err(e) = soak(&config) {
        eprintln!("soak failed: {e}");
        std::process::exit(1);
    }
    println!("test soak ... ok");
}
