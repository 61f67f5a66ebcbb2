//! Threads are the runtime's, not the connections': connections are tasks,
//! so neither idle connections nor a runtime of the user's own choosing add
//! threads per connection.
#![allow(missing_docs)]

mod common;

use std::sync::Arc;

use common::*;
use remote::{Client, Options, Server};

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
