//! A stream of `u64` from one process to another, beside its raw limit: the
//! same numbers written through a buffered Unix socket and read back.
//!
//! ```text
//! cargo bench --bench stream            # 20M numbers per row
//! cargo bench --bench stream -- --quick # 2M
//! ```
//!
//! Each row runs in a fresh pair of processes (this binary starts a copy of
//! itself as the producer), pinned to CPU 0 (the pinned rows: both
//! processes on one core, no cross-core wake-ups) or left to the scheduler
//! (unpinned). Rows report numbers per second, best of 3, and the ratio to
//! the buffered raw row of the same regime (the target is 0.9x); the raw
//! row with one write per number (the baseline of `benches/callbacks.rs`)
//! is shown beside it.
#![allow(missing_docs)]

mod common;

use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{process_temp_dir, watchdog, BenchArgs, CleanUp};
use remote::{remote_object, Client, Server, Stream};

#[remote_object]
pub trait Numbers: Send + Sync {
    /// 0, 1, .. `n - 1`, sent by a thread of the producer's.
    fn numbers(&self, n: u64) -> Stream<u64>;
    /// The same numbers, little-endian, in chunks of `CHUNK` numbers.
    fn chunks(&self, n: u64) -> Stream<bytes::Bytes>;
}

/// Numbers per chunk of the chunked row (64 KiB).
const CHUNK: u64 = 8 * 1024;

struct Producer;

impl Numbers for Producer {
    fn numbers(&self, n: u64) -> Stream<u64> {
        let (sink, stream) = remote::channel(WINDOW);
        std::thread::spawn(move || {
            // In chunks: one lock per chunk (`Sink::send_all`).
            let mut next = 0;
            while next < n {
                let end = (next + 4096).min(n);
                if sink.send_all(next..end).is_err() {
                    return;
                }
                next = end;
            }
        });
        stream
    }
    fn chunks(&self, n: u64) -> Stream<bytes::Bytes> {
        let (sink, stream) = remote::channel(WINDOW / CHUNK as usize);
        std::thread::spawn(move || {
            let mut next = 0;
            while next < n {
                let end = (next + CHUNK).min(n);
                let chunk: Vec<u8> = (next..end).flat_map(u64::to_le_bytes).collect();
                if sink.send(bytes::Bytes::from(chunk)).is_err() {
                    return;
                }
                next = end;
            }
        });
        stream
    }
}

/// Items the producer may be ahead of the reader.
const WINDOW: usize = 16 * 1024;
const ROLE: &str = "REMOTE_BENCH_STREAM_ROLE";

fn pin() {
    assert!(
        core_affinity::set_for_current(core_affinity::CoreId { id: 0 }),
        "could not pin to CPU 0"
    );
}

/// The producer's side: serve `Numbers` at `path`, or write `n` raw numbers
/// to it.
fn child(role: &str, path: &Path, n: u64, pinned: bool) {
    if pinned {
        pin();
    }
    match role {
        "remote" => {
            let server = Server::new();
            server.export("numbers", Arc::new(Producer) as Arc<dyn Numbers>);
            let _listener = server.listen_unix(path).expect("listen");
            println!("ready");
            std::io::stdout().flush().unwrap();
            // Until the parent closes our stdin.
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
        }
        "raw" => {
            let socket = UnixStream::connect(path).expect("connect");
            let mut out = BufWriter::with_capacity(64 * 1024, socket);
            for i in 0..n {
                out.write_all(&i.to_le_bytes()).unwrap();
            }
            out.flush().unwrap();
        }
        "raw-each" => {
            // One write per number: a message stream with no batching.
            let mut socket = UnixStream::connect(path).expect("connect");
            for i in 0..n {
                socket.write_all(&i.to_le_bytes()).unwrap();
            }
        }
        other => panic!("unknown role {other}"),
    }
}

fn spawn(role: &str, path: &Path, n: u64, pinned: bool) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .env(ROLE, role)
        .arg(path)
        .arg(n.to_string())
        .arg(if pinned { "pinned" } else { "unpinned" })
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the producer")
}

/// Reads `n` raw numbers (written in `role`); returns the time and their
/// sum.
fn raw_row(dir: &Path, n: u64, pinned: bool, role: &str) -> (Duration, u64) {
    let path = dir.join(format!("{role}-{pinned}.sock"));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let start = Instant::now();
    let mut child = spawn(role, &path, n, pinned);
    let (socket, _) = listener.accept().unwrap();
    let mut input = BufReader::with_capacity(64 * 1024, socket);
    let mut sum = 0u64;
    let mut word = [0u8; 8];
    for _ in 0..n {
        input.read_exact(&mut word).unwrap();
        sum = sum.wrapping_add(u64::from_le_bytes(word));
    }
    let took = start.elapsed();
    child.wait().unwrap();
    (took, sum)
}

/// Reads `n` numbers of a remote stream (`chunked`: of byte chunks);
/// returns the time and their sum.
fn remote_row(dir: &Path, n: u64, pinned: bool, chunked: bool) -> (Duration, u64) {
    let path = dir.join(format!("remote-{pinned}.sock"));
    let mut child = spawn("remote", &path, n, pinned);
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut BufReader::new(child.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "ready");
    let client = Client::connect_unix(&path).expect("connect");
    let numbers: NumbersProxy = client.require("numbers").unwrap();
    let start = Instant::now();
    let mut sum = 0u64;
    if chunked {
        for chunk in numbers.chunks(n).unwrap() {
            for word in chunk.unwrap().chunks_exact(8) {
                let word: [u8; 8] = word.try_into().expect("8 bytes");
                sum = sum.wrapping_add(u64::from_le_bytes(word));
            }
        }
    } else {
        for item in numbers.numbers(n).unwrap() {
            sum = sum.wrapping_add(item.unwrap());
        }
    }
    let took = start.elapsed();
    drop(numbers);
    drop(client);
    drop(child.stdin.take());
    child.wait().unwrap();
    (took, sum)
}

fn best(rounds: usize, mut row: impl FnMut() -> (Duration, u64), n: u64) -> f64 {
    let expected = (0..n).fold(0u64, |s, i| s.wrapping_add(i));
    (0..rounds)
        .map(|_| {
            let (took, sum) = row();
            assert_eq!(sum, expected, "every number, once");
            n as f64 / took.as_secs_f64()
        })
        .fold(0.0, f64::max)
}

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        let args: Vec<String> = std::env::args().skip(1).collect();
        child(
            &role,
            &PathBuf::from(&args[0]),
            args[1].parse().unwrap(),
            args[2] == "pinned",
        );
        return;
    }
    let args = BenchArgs::from_args();
    let n: u64 = args.pick(2_000_000, 20_000_000);
    let dir = process_temp_dir("stream");
    std::fs::create_dir_all(&dir).unwrap();
    let _cleanup = CleanUp(dir.clone());
    watchdog("stream", Duration::from_secs(600), Some(dir.clone()));
    println!("{n} u64 numbers from a producer process to this one; window {WINDOW}; best of 3");
    println!("| row | regime | numbers/s | MB/s | vs raw | target |");
    println!("|---|---|---:|---:|---:|---|");
    // Unpinned first: once this process pins itself it stays pinned.
    for pinned in [false, true] {
        if pinned && core_affinity::get_core_ids().is_none() {
            continue;
        }
        let regime = if pinned { "pinned" } else { "unpinned" };
        if !args.wants(regime) {
            continue;
        }
        // The reader pins itself for the pinned rows (its producers pin
        // themselves too).
        if pinned {
            pin();
        }
        let raw = best(3, || raw_row(&dir, n, pinned, "raw"), n);
        // A tenth as many: a syscall each.
        let each = best(3, || raw_row(&dir, n / 10, pinned, "raw-each"), n / 10);
        let stream = best(3, || remote_row(&dir, n, pinned, false), n);
        let chunked = best(3, || remote_row(&dir, n, pinned, true), n);
        let mb = |rate: f64| rate * 8.0 / 1e6;
        println!(
            "| raw Unix socket, buffered | {regime} | {raw:.3e} | {:.0} | 1.00x | - |",
            mb(raw)
        );
        println!(
            "| raw Unix socket, one write per number | {regime} | {each:.3e} | {:.0} | {:.2}x | - |",
            mb(each),
            each / raw
        );
        let ratio = stream / raw;
        let verdict = if ratio >= 0.9 { "met" } else { "MISSED" };
        println!(
            "| remote::Stream<u64> | {regime} | {stream:.3e} | {:.0} | {ratio:.2}x | >= 0.9x: {verdict} |",
            mb(stream)
        );
        println!(
            "|   the same against one write per number | {regime} | | | {:.1}x | - |",
            stream / each
        );
        let ratio = chunked / raw;
        let verdict = if ratio >= 0.9 { "met" } else { "MISSED" };
        println!(
            "| remote::Stream<Bytes>, 64 KiB chunks of the numbers | {regime} | {chunked:.3e} | {:.0} | {ratio:.2}x | >= 0.9x: {verdict} |",
            mb(chunked)
        );
    }
}
