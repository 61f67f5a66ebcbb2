//! Load: 200 clients at once over Unix sockets, each making calls, receiving
//! callbacks and churning handles. Every result is right, nothing errors,
//! no handle is left and the heap returns to where it started (measured
//! exactly with an instrumented allocator).
#![allow(missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use remote::{remote_object, Callback, Client, Remote, Server};
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

const CLIENTS: usize = 200;
const ROUNDS: u64 = 40;

#[remote_object]
pub trait Hub: Send + Sync {
    fn add(&self, a: u64, b: u64) -> u64;
    fn counter(&self, start: u64) -> Remote<dyn Tally>;
    fn notify(&self, listener: Callback<(u64,)>, times: u64);
    fn live(&self) -> u64;
}

#[remote_object]
pub trait Tally: Send + Sync {
    fn bump(&self) -> u64;
}

#[derive(Default)]
struct TheHub {
    live: Arc<AtomicU64>,
}

impl Hub for TheHub {
    fn add(&self, a: u64, b: u64) -> u64 {
        a + b
    }
    fn counter(&self, start: u64) -> Remote<dyn Tally> {
        self.live.fetch_add(1, Ordering::SeqCst);
        Remote::new(OneTally {
            value: AtomicU64::new(start),
            live: self.live.clone(),
        })
    }
    fn notify(&self, listener: Callback<(u64,)>, times: u64) {
        for i in 0..times {
            listener.call((i,)).expect("listener alive");
        }
    }
    fn live(&self) -> u64 {
        self.live.load(Ordering::SeqCst)
    }
}

struct OneTally {
    value: AtomicU64,
    live: Arc<AtomicU64>,
}

impl Tally for OneTally {
    fn bump(&self) -> u64 {
        self.value.fetch_add(1, Ordering::SeqCst) + 1
    }
}

impl Drop for OneTally {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

fn heap() -> i64 {
    let s = GLOBAL.stats();
    s.bytes_allocated as i64 - s.bytes_deallocated as i64
}

fn one_client(path: &std::path::Path, n: u64) {
    let client = Client::connect_unix(path).expect("connect");
    let hub: HubProxy = client.require("hub").expect("require");
    let (tx, rx) = crossbeam_channel::unbounded();
    let listener = Callback::new(move |(i,): (u64,)| {
        let _ = tx.send(i);
    });
    for round in 0..ROUNDS {
        assert_eq!(hub.add(n, round).expect("add"), n + round);
        let tally = hub.counter(round).expect("counter");
        assert_eq!(tally.bump().expect("bump"), round + 1);
        drop(tally);
        if round % 10 == 0 {
            hub.notify(listener.clone(), 3).expect("notify");
            for want in 0..3 {
                let got = rx
                    .recv_timeout(Duration::from_secs(30))
                    .expect("callback ran");
                assert_eq!(got, want, "callbacks in order");
            }
        }
    }
    client.sync().expect("sync");
}

#[test]
fn two_hundred_clients_at_once_leave_nothing_behind() {
    let hub = Arc::new(TheHub::default());
    let server = Server::new();
    server.export("hub", hub.clone() as Arc<dyn Hub>);
    // Removed when it drops, after the listener (declared later), also when
    // an assertion fails. Directly under the temp dir: socket paths are short.
    let dir = tempfile::Builder::new()
        .prefix("remote-load-")
        .tempdir()
        .unwrap();
    let path = dir.path().join("hub.sock");
    let listener = server.listen_unix(&path).unwrap();

    // Warm up every lazily started part once, then take the baseline.
    one_client(&path, 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.stats().connections != 0 {
        assert!(Instant::now() < deadline, "warm-up connection lingers");
        std::thread::sleep(Duration::from_millis(2));
    }
    let before = heap();

    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS as u64)
        .map(|n| {
            let path = path.clone();
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || one_client(&path, n))
                .expect("client thread")
        })
        .collect();
    for c in clients {
        c.join().expect("a client failed");
    }
    let took = started.elapsed();

    let deadline = Instant::now() + Duration::from_secs(30);
    while server.stats().connections != 0 || hub.live() != 0 {
        assert!(
            Instant::now() < deadline,
            "left behind: {:?}, {} tallies",
            server.stats(),
            hub.live()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(server.stats().exported, 0);
    // The background threads forget ended connections on their next round
    // (at most a few seconds); a leak of one object per call would be
    // megabytes and never go.
    let limit = 64 * 1024;
    let deadline = Instant::now() + Duration::from_secs(20);
    while heap() - before > limit && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let after = heap();
    let grown = after - before;
    eprintln!(
        "{CLIENTS} clients x {ROUNDS} rounds in {took:?}; heap before {before} B, after {after} B ({grown:+} B)"
    );
    assert!(grown < limit, "heap grew by {grown} B");
    drop(listener);
    drop(dir);
}
