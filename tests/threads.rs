//! Threads are the runtime's, not the connections': connections are tasks,
//! so neither idle connections nor a runtime of the user's own choosing add
//! threads per connection.
#![allow(missing_docs)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use remote::{remote_object, Client, Options, Server};

/// The tests here count this process's threads: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// This process's thread count.
fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap()
}

#[test]
fn connections_add_no_thread_each() {
    let _serial = serial();
    let (calc, _dropped) = Calc::new();
    let server = Server::new();
    server.export("calculator", calc as Arc<dyn Calculator>);
    // Declared before the listener, so dropped after it.
    let dir = tempdir();
    let path = dir.path().join("server.sock");
    let _listener = server.listen_unix(&path).unwrap();
    // Warm up: the runtime and the first serving threads exist.
    let first = Client::connect_unix(&path).unwrap();
    let calc: CalculatorProxy = first.require("calculator").unwrap();
    for _ in 0..10 {
        assert_eq!(calc.add(1, 2).unwrap(), 3);
    }
    let before = threads();
    // 200 more connections, both ends in this process, each used once.
    let clients: Vec<(Client, CalculatorProxy)> = (0..200)
        .map(|i| {
            let client = Client::connect_unix(&path).unwrap();
            let calc: CalculatorProxy = client.require("calculator").unwrap();
            assert_eq!(calc.add(i as i64, 1).unwrap(), i as i64 + 1);
            (client, calc)
        })
        .collect();
    eventually("the server sees every connection", || {
        server.stats().connections == 201
    });
    let after = threads();
    // A thread per connection would be 400 more (one per end).
    assert!(
        after < before + 20,
        "{before} threads before 200 connections, {after} after"
    );
    drop(clients);
}

#[test]
fn connections_run_on_a_current_thread_runtime_given_in_the_options() {
    let _serial = serial();
    // The user's runtime, driven by a thread of the user's.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let handle = runtime.handle().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let driver = std::thread::spawn(move || {
        runtime.block_on(async {
            let _ = stopped.await;
        })
    });
    let (calc, _dropped) = Calc::new();
    let server = Server::with_options(Options::new().runtime(handle.clone()));
    server.export("calculator", calc as Arc<dyn Calculator>);
    // Declared before the listener, so dropped after it.
    let dir = tempdir();
    let path = dir.path().join("server.sock");
    let _listener = server.listen_unix(&path).unwrap();
    let client = Client::connect_unix_with(&path, Options::new().runtime(handle)).unwrap();
    let calc: CalculatorProxy = client.require("calculator").unwrap();
    // Blocking proxies work from other threads; quick and slow methods,
    // handles and their release all go through that one thread.
    for i in 0..20 {
        assert_eq!(calc.add(i, i).unwrap(), 2 * i);
    }
    let counter = calc.spawn_counter(5).unwrap();
    assert_eq!(counter.next().unwrap(), 5);
    drop(counter);
    client.sync().unwrap();
    assert_eq!(server.stats().exported, 1);
    drop(client);
    let _ = stop.send(());
    driver.join().unwrap();
}

#[remote_object]
pub trait Slow: Send + Sync {
    /// Sleeps `ms` on the serving thread, and says how many ran at once.
    fn nap(&self, ms: u64) -> usize;
}

#[derive(Default)]
struct Napper {
    running: AtomicUsize,
    most: AtomicUsize,
}

impl Slow for Napper {
    fn nap(&self, ms: u64) -> usize {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(ms));
        self.running.fetch_sub(1, Ordering::SeqCst);
        now
    }
}

/// More slow calls at once than the library's runtime has serving threads:
/// they wait their turn, and the threads stop at the bound (256).
#[test]
fn serving_threads_stop_at_their_bound_and_calls_wait_their_turn() {
    let _serial = serial();
    const BOUND_THREADS: usize = 256;
    const CALLS: usize = 300;
    const NAP_MS: u64 = 300;
    let napper = Arc::new(Napper::default());
    let server = Server::new();
    server.export("slow", napper.clone() as Arc<dyn Slow>);
    let dir = tempdir();
    let path = dir.path().join("server.sock");
    let _listener = server.listen_unix(&path).unwrap();
    let client = Client::connect_unix(&path).unwrap();
    let slow: SlowAsyncProxy = futures::executor::block_on(client.require_async("slow")).unwrap();
    let before = threads();

    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while sampling.load(Ordering::SeqCst) {
                peak = peak.max(threads());
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };
    let start = Instant::now();
    // All at once, from one thread: the waiting costs the client nothing.
    let answers = futures::executor::block_on(futures::future::join_all(
        (0..CALLS).map(|_| slow.nap(NAP_MS)),
    ));
    let took = start.elapsed();
    sampling.store(false, Ordering::SeqCst);
    let peak = sampler.join().unwrap();

    assert!(answers.iter().all(|a| a.is_ok()), "every call is served");
    let most = napper.most.load(Ordering::SeqCst);
    assert!(
        most <= BOUND_THREADS,
        "{most} calls ran at once; the bound is {BOUND_THREADS}"
    );
    // 300 calls on at most 256 threads take at least two naps.
    assert!(
        took >= Duration::from_millis(2 * NAP_MS),
        "{CALLS} naps of {NAP_MS} ms took only {took:?}"
    );
    // The sampler itself is one more thread.
    assert!(
        peak <= before + BOUND_THREADS + 1,
        "{peak} threads at the peak, {before} before"
    );
}
