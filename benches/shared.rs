//! Shared buffers and values larger than a frame, across two processes over
//! a Unix socket, beside the raw limits measured in the same run:
//!
//! - `handover`: a 64 MiB `SharedBuffer` returned by a call, until the
//!   caller holds a readable mapping, against a raw socket copying 64 MiB
//!   (target: at most 1% of it);
//! - `read`: reading those 64 MiB through the fresh mapping, first touch
//!   included, against reading 64 MiB of freshly allocated local memory
//!   (target: at most 1.5x);
//! - `large`: a 256 MiB `Vec<u8>` sent, and one returned, with 16 MiB
//!   frames, and each process's peak RSS over the payload (target: at
//!   most 1.5x on each side).
//!
//! ```text
//! cargo bench --bench shared              # full run
//! cargo bench --bench shared -- --quick   # fewer rounds
//! ```
//!
//! Each regime (`pinned`: both processes and all their threads on CPU 0;
//! `unpinned`) is a client process of its own, with a server process of
//! its own.
#![allow(missing_docs)]

mod common;

use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{median, BenchArgs, CleanUp};
use remote::{remote_object, Client, Options, Server, SharedBuffer};

const ROLE: &str = "SHARED_BENCH_ROLE";
const SHARED: usize = 64 << 20;
const LARGE: usize = 256 << 20;

#[remote_object]
pub trait Store: Send + Sync {
    /// The 64 MiB shared buffer, made once.
    fn shared(&self) -> SharedBuffer;
    /// Takes a value and says how long it was.
    fn take(&self, data: Vec<u8>) -> u64;
    /// Makes a value of `len` bytes for `give` to return.
    fn make(&self, len: u64);
    /// Returns a value of `len` bytes (made by `make` if it was).
    fn give(&self, len: u64) -> Vec<u8>;
    /// This process's peak and current RSS, in bytes.
    fn rss(&self) -> (u64, u64);
}

struct TheStore {
    shared: Option<SharedBuffer>,
    made: std::sync::Mutex<Option<Vec<u8>>>,
}

impl Store for TheStore {
    fn shared(&self) -> SharedBuffer {
        self.shared.clone().expect("a store with a shared buffer")
    }
    fn take(&self, data: Vec<u8>) -> u64 {
        black_box(&data);
        data.len() as u64
    }
    fn give(&self, len: u64) -> Vec<u8> {
        // Made before it is asked for: the call times the transfer.
        let mut made = self.made.lock().unwrap_or_else(|e| e.into_inner());
        match made.take() {
            Some(v) if v.len() == len as usize => v,
            _ => vec![7u8; len as usize],
        }
    }
    fn make(&self, len: u64) {
        *self.made.lock().unwrap_or_else(|e| e.into_inner()) = Some(vec![7u8; len as usize]);
    }
    fn rss(&self) -> (u64, u64) {
        rss()
    }
}

/// Peak (VmHWM) and current (VmRSS) resident memory of this process.
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn options() -> Options {
    Options::new()
        .max_frame(16 << 20)
        .max_value(LARGE + (1 << 20))
}

/// Reads every byte of `bytes`, a word at a time.
fn read_all(bytes: &[u8]) -> u64 {
    bytes.chunks_exact(8).fold(0u64, |acc, w| {
        acc.wrapping_add(u64::from_le_bytes(w.try_into().expect("8 bytes")))
    })
}

fn main() {
    match std::env::var(ROLE).as_deref() {
        Ok("server") => server(),
        Ok("large-server") => large_server(),
        Ok(regime) => client(regime),
        Err(_) => parent(),
    }
}

fn parent() {
    let args = BenchArgs::from_args();
    println!(
        "shared bench: {} CPUs, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        common::load_average()
    );
    println!(
        "command: cargo bench --bench shared {}",
        args.to_args().join(" ")
    );
    for regime in ["pinned", "unpinned"] {
        let status = Command::new(std::env::current_exe().expect("bench exe"))
            .env(ROLE, regime)
            .args(args.to_args())
            .status()
            .expect("regime process");
        assert!(status.success(), "{regime} regime failed");
    }
    println!("load average at the end: {}", common::load_average());
}

/// Starts this binary as `role` with a socket under `dir`; returns once it
/// listens.
fn start(role: &str, dir: &Path) -> (Child, PathBuf) {
    let path = dir.join(format!("{role}.sock"));
    let mut child = Command::new(std::env::current_exe().expect("bench exe"))
        .env(ROLE, role)
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("server process");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().expect("stdout"))
        .read_line(&mut line)
        .expect("ready line");
    assert_eq!(line.trim(), "ready");
    (child, path)
}

fn client(regime: &str) {
    let args = BenchArgs::from_args();
    if regime == "pinned" {
        // Before any other thread exists: everything started after inherits it,
        // the server process included.
        assert!(
            core_affinity::set_for_current(core_affinity::CoreId { id: 0 }),
            "could not pin to CPU 0"
        );
    }
    let dir = common::process_temp_dir("shared-bench");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let _clean = CleanUp(dir.clone());
    common::watchdog("shared", Duration::from_secs(600), Some(dir.clone()));
    let rounds = args.pick(5, 15);

    // Large values first, while this process holds nothing else, and with
    // a server process of their own, so each peak RSS is the values' own.
    let (mut large, path) = start("large-server", &dir);
    let client = Client::connect_unix_with(&path, options()).expect("connect");
    let store: StoreProxy = client.require("store").expect("require");
    let (server_base, _) = store.rss().expect("rss");
    let (client_base, _) = rss();
    let value = vec![5u8; LARGE];
    let t = Instant::now();
    let sent = store.take(value).expect("take");
    let take_ms = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(sent, LARGE as u64);
    store.make(LARGE as u64).expect("make");
    let t = Instant::now();
    let got = store.give(LARGE as u64).expect("give");
    let give_ms = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(got.len(), LARGE);
    drop(got);
    let (server_peak, _) = store.rss().expect("rss");
    let (client_peak, _) = rss();
    drop(store);
    drop(client);
    common::stop_server(&mut large);

    let (mut server, path) = start("server", &dir);
    // Raw: 64 MiB written to a Unix socket and read whole by the server
    // process, which answers one byte.
    let mut raw = UnixStream::connect(path.with_extension("raw")).expect("raw connect");
    let payload = vec![3u8; SHARED];
    let mut raw_times = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        raw.write_all(&payload).expect("raw write");
        let mut ack = [0u8; 1];
        raw.read_exact(&mut ack).expect("raw ack");
        raw_times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let raw_us = median(raw_times);

    let client = Client::connect_unix_with(&path, options()).expect("connect");
    let store: StoreProxy = client.require("store").expect("require");
    let mut handover = Vec::new();
    let mut mapped = Vec::new();
    let mut local = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let buffer = store.shared().expect("shared");
        handover.push(t.elapsed().as_secs_f64() * 1e6);
        assert!(buffer.is_shared_memory(), "the buffer was copied");
        let t = Instant::now();
        black_box(read_all(black_box(&buffer)));
        mapped.push(t.elapsed().as_secs_f64() * 1e6);
        drop(buffer);
        let fresh = vec![0u8; SHARED];
        let t = Instant::now();
        black_box(read_all(black_box(&fresh)));
        local.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let (handover, mapped, local) = (median(handover), median(mapped), median(local));
    drop(store);
    drop(client);
    common::stop_server(&mut server);

    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!();
    println!("| row ({regime}) | median | ratio | target |");
    println!("| --- | ---: | ---: | --- |");
    println!("| raw: 64 MiB through a Unix socket, read whole by the other process | {raw_us:.0} µs | 1.00 | - |");
    println!(
        "| remote: a 64 MiB SharedBuffer returned by a call, until the caller holds a readable mapping | {handover:.0} µs | {:.2}% of raw | <= 1% |",
        handover / raw_us * 100.0
    );
    println!("| local: reading 64 MiB of freshly allocated memory, first touch included | {local:.0} µs | 1.00 | - |");
    println!(
        "| remote: reading the received 64 MiB through its mapping, first touch included | {mapped:.0} µs | {:.2}x local | <= 1.5x |",
        mapped / local
    );
    println!(
        "| remote: a 256 MiB Vec<u8> sent with 16 MiB frames / one returned (the receiver's fresh allocation faulted in as it is read) | {take_ms:.0} ms / {give_ms:.0} ms | {:.0} / {:.0} MB/s; raw 64 MiB above: {:.0} MB/s | works |",
        LARGE as f64 / take_ms / 1e3,
        LARGE as f64 / give_ms / 1e3,
        SHARED as f64 / raw_us
    );
    println!(
        "| peak RSS over the payload: client {:.0} MiB before, {:.0} MiB at peak / server {:.0} MiB before, {:.0} MiB at peak | - | client {:.2}x, server {:.2}x | <= 1.5x |",
        mib(client_base),
        mib(client_peak),
        mib(server_base),
        mib(server_peak),
        (client_peak.saturating_sub(client_base)) as f64 / LARGE as f64,
        (server_peak.saturating_sub(server_base)) as f64 / LARGE as f64,
    );
    println!("({rounds} rounds each; the peaks are VmHWM, the baselines VmHWM once connected)");
}

fn server() {
    let path = PathBuf::from(std::env::args().nth(1).expect("socket path"));
    let raw = UnixListener::bind(path.with_extension("raw")).expect("raw listen");
    std::thread::spawn(move || {
        let (mut stream, _) = raw.accept().expect("raw accept");
        let mut buf = vec![0u8; SHARED];
        loop {
            if stream.read_exact(&mut buf).is_err() {
                return;
            }
            black_box(&buf);
            if stream.write_all(&[1]).is_err() {
                return;
            }
        }
    });
    serve(&path, Some(SharedBuffer::new(&vec![9u8; SHARED])));
}

fn large_server() {
    let path = PathBuf::from(std::env::args().nth(1).expect("socket path"));
    serve(&path, None);
}

fn serve(path: &Path, shared: Option<SharedBuffer>) {
    let server = Server::with_options(options());
    server.export(
        "store",
        Arc::new(TheStore {
            shared,
            made: Default::default(),
        }) as Arc<dyn Store>,
    );
    let _listener = server.listen_unix(path).expect("listen");
    println!("ready");
    std::io::stdout().flush().expect("stdout");
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}
