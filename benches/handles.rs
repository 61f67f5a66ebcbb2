//! One peer holding a million live handles: bytes per live handle on the
//! owner's side, and handle create and release throughput.
//!
//! `cargo bench --bench handles` (add `-- --quick` for 100,000 handles).
//!
//! The owner is this process; the holder is a copy of it started as a child
//! over a Unix socket, so the owner's heap holds only the owner's side. Heap
//! bytes are counted exactly by an instrumented allocator (stats_alloc); the
//! resident set is shown too.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use remote::{remote_object, Client, Remote, Server};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

const BATCH: u32 = 10_000;

/// Makes small objects.
#[remote_object]
pub trait Factory: Send + Sync {
    /// `n` new objects, each its own handle.
    fn make(&self, n: u32) -> Vec<Remote<dyn Tiny>>;
}

/// The smallest useful remote object.
#[remote_object]
pub trait Tiny: Send + Sync {
    /// Its value.
    fn value(&self) -> u64;
}

struct TheFactory;
impl Factory for TheFactory {
    fn make(&self, n: u32) -> Vec<Remote<dyn Tiny>> {
        (0..n).map(|i| Remote::new(Small(i as u64))).collect()
    }
}

struct Small(u64);
impl Tiny for Small {
    fn value(&self) -> u64 {
        self.0
    }
}

fn heap_now() -> i64 {
    let s = GLOBAL.stats();
    s.bytes_allocated as i64 - s.bytes_deallocated as i64
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn holder(path: &str, total: u32) {
    let client = Client::connect_unix(path).expect("connect");
    let factory: FactoryProxy = client.require("factory").expect("require");
    let start = Instant::now();
    let mut held: Vec<Remote<dyn Tiny>> = Vec::with_capacity(total as usize);
    while (held.len() as u32) < total {
        held.extend(
            factory
                .make(BATCH.min(total - held.len() as u32))
                .expect("make"),
        );
    }
    assert_eq!(held[12].clone().into_proxy().value().expect("call"), 12);
    println!("holding {} {}", held.len(), start.elapsed().as_nanos());
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    let start = Instant::now();
    drop(held);
    client.sync().expect("sync");
    println!("released {}", start.elapsed().as_nanos());
    std::io::stdout().flush().unwrap();
    std::io::stdin().read_line(&mut line).unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Ok(path) = std::env::var("REMOTE_BENCH_HOLDER") {
        let total = std::env::var("REMOTE_BENCH_TOTAL")
            .unwrap()
            .parse()
            .unwrap();
        holder(&path, total);
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let total: u32 = if quick { 100_000 } else { 1_000_000 };

    // What one object costs by itself, to separate it from the runtime's share.
    let region = Region::new(GLOBAL);
    let objects: Vec<Remote<dyn Tiny>> = (0..10_000).map(|i| Remote::new(Small(i))).collect();
    let object_bytes = region.change().bytes_allocated as f64 / 10_000.0
        - (objects.capacity() * std::mem::size_of::<Remote<dyn Tiny>>()) as f64 / 10_000.0;
    drop(objects);

    let server = Server::new();
    server.export("factory", Arc::new(TheFactory) as Arc<dyn Factory>);
    // A directory of its own, removed however the bench ends.
    let dir = common::process_temp_dir("remote-bench-handles");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let _cleanup = common::CleanUp(dir.clone());
    let path = dir.join("handles.sock");
    let _listener = server.listen_unix(&path).expect("listen");

    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("REMOTE_BENCH_HOLDER", &path)
        .env("REMOTE_BENCH_TOTAL", total.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn holder");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stdin = child.stdin.take().unwrap();

    // Baseline once the connection exists (the factory itself is exported).
    let wait_for = |want: usize| {
        let start = Instant::now();
        while server.stats().exported != want {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "stuck at {:?}",
                server.stats()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    let heap_before = heap_now();
    let rss_before = rss_bytes();
    let holding = lines.next().unwrap().unwrap();
    let create_ns: u64 = holding.split_whitespace().nth(2).unwrap().parse().unwrap();
    wait_for(total as usize + 1);
    let heap_held = heap_now();
    let rss_held = rss_bytes();

    writeln!(stdin, "release").unwrap();
    let released = lines.next().unwrap().unwrap();
    let release_ns: u64 = released.split_whitespace().nth(1).unwrap().parse().unwrap();
    wait_for(1);
    let heap_after = heap_now();
    drop(stdin);
    let _ = child.wait();

    let per_handle = (heap_held - heap_before) as f64 / total as f64;
    println!("# remote: {total} live handles held by one peer (Unix socket, owner = this process)");
    println!();
    println!("| measure | value |");
    println!("| --- | --- |");
    println!("| owner heap per live handle, all in | {per_handle:.1} B |");
    println!("| of which the object itself (Arc<Small>) | {object_bytes:.1} B |");
    println!(
        "| runtime's share per live handle | {:.1} B (target <= 128 B) |",
        per_handle - object_bytes
    );
    println!(
        "| owner RSS growth per live handle | {:.1} B |",
        (rss_held.saturating_sub(rss_before)) as f64 / total as f64
    );
    println!(
        "| heap left after release | {} B |",
        heap_after - heap_before
    );
    println!(
        "| create + send, {BATCH} per call | {:.0} handles/s ({:.2} s) |",
        total as f64 / (create_ns as f64 / 1e9),
        create_ns as f64 / 1e9
    );
    println!(
        "| release (drop all + sync) | {:.0} handles/s ({:.3} s) |",
        total as f64 / (release_ns as f64 / 1e9),
        release_ns as f64 / 1e9
    );
}
