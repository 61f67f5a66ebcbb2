//! Calls over a network with latency: a TCP server behind
//! `testing::LatencyRelay`, which delivers every byte a fixed time late in
//! each direction. A chain of dependent calls (each on the object the one
//! before returned) pays one round trip per call; what pipelining (#14)
//! will save is measured in `benches/latency.rs`.
#![allow(missing_docs)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use remote::{remote_object, testing::LatencyRelay, Client, Remote, Server};

#[remote_object]
pub trait Node: Send + Sync {
    /// A child one level deeper.
    fn child(&self) -> Remote<dyn Node>;
    /// How deep this node is.
    fn depth(&self) -> u32;
}

struct Tree {
    depth: u32,
    alive: Arc<AtomicUsize>,
}

impl Tree {
    fn new(depth: u32, alive: &Arc<AtomicUsize>) -> Tree {
        alive.fetch_add(1, Ordering::SeqCst);
        Tree {
            depth,
            alive: alive.clone(),
        }
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        self.alive.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Node for Tree {
    fn child(&self) -> Remote<dyn Node> {
        Remote::new(Tree::new(self.depth + 1, &self.alive))
    }
    fn depth(&self) -> u32 {
        self.depth
    }
}

const ONE_WAY: Duration = Duration::from_millis(5);

#[test]
fn a_chain_of_dependent_calls_pays_one_round_trip_each_and_releases_everything() {
    let alive = Arc::new(AtomicUsize::new(0));
    let server = Server::new();
    server.export("root", Arc::new(Tree::new(0, &alive)) as Arc<dyn Node>);
    let listener = server.listen_tcp("127.0.0.1:0").expect("listen");
    let target = listener.local_addr().expect("a TCP address");
    let relay = LatencyRelay::start(target, ONE_WAY).expect("relay");
    let client = Client::connect_tcp(relay.addr()).expect("connect through the relay");

    let root: NodeProxy = client.require("root").unwrap();
    // One call: at least a round trip of the relay.
    let start = Instant::now();
    assert_eq!(root.depth().unwrap(), 0);
    assert!(start.elapsed() >= 2 * ONE_WAY, "{:?}", start.elapsed());

    // Five dependent calls: each waits for the one before.
    let start = Instant::now();
    let leaf = root
        .child()
        .unwrap()
        .child()
        .unwrap()
        .child()
        .unwrap()
        .child()
        .unwrap();
    assert_eq!(leaf.depth().unwrap(), 4);
    assert!(start.elapsed() >= 5 * 2 * ONE_WAY, "{:?}", start.elapsed());

    // The intermediate nodes were released as their proxies dropped; the
    // leaf goes with its proxy.
    drop(leaf);
    client.sync().unwrap();
    common::eventually("every node but the root to be freed", || {
        alive.load(Ordering::SeqCst) == 1
    });
    drop(root);
    drop(client);
    drop(relay);
}
