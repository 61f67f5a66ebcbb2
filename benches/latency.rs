//! Chains of dependent calls over a network with latency: a TCP server
//! behind `testing::LatencyRelay` (each byte delivered 2 ms late in each
//! direction, so a round trip costs at least 4 ms), and a chain of 5 calls
//! where each is made on the object the one before returned (open a store,
//! get a table from it, a row, a cell, read it).
//!
//! ```text
//! cargo bench --bench latency
//! ```
//!
//! Each chain is reported in round trips of the relay. Unpipelined, the
//! chain costs 5 of them. Pipelined (each call sent at once to the object
//! the call before will return: `.pipeline()`), the whole chain leaves in
//! one burst and costs one round trip; the target is at most 1.3.
#![allow(missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use remote::{remote_object, testing::LatencyRelay, Client, Remote, Server};

#[remote_object]
pub trait Node: Send + Sync {
    fn child(&self) -> Remote<dyn Node>;
    fn depth(&self) -> u32;
}

struct Tree(u32);

impl Node for Tree {
    fn child(&self) -> Remote<dyn Node> {
        Remote::new(Tree(self.0 + 1))
    }
    fn depth(&self) -> u32 {
        self.0
    }
}

const ONE_WAY: Duration = Duration::from_millis(2);
const ROUNDS: usize = 15;

fn chain(root: &NodeProxy) -> u32 {
    root.child()
        .unwrap()
        .child()
        .unwrap()
        .child()
        .unwrap()
        .child()
        .unwrap()
        .depth()
        .unwrap()
}

/// The same chain, pipelined: every call leaves before any answer comes.
async fn pipelined_chain(root: &NodeAsyncProxy) -> u32 {
    root.child()
        .pipeline()
        .child()
        .pipeline()
        .child()
        .pipeline()
        .child()
        .pipeline()
        .depth()
        .await
        .unwrap()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let server = Server::new();
    server.export("root", Arc::new(Tree(0)) as Arc<dyn Node>);
    let listener = server.listen_tcp("127.0.0.1:0").expect("listen");
    let target = listener.local_addr().expect("a TCP address");
    let relay = LatencyRelay::start(target, ONE_WAY).expect("relay");
    let direct = Client::connect_tcp(target).expect("connect");
    let relayed = Client::connect_tcp(relay.addr()).expect("connect through the relay");
    let direct_root: NodeProxy = direct.require("root").unwrap();
    let root: NodeProxy = relayed.require("root").unwrap();
    let root_async = root.to_async();
    let direct_async = direct_root.to_async();
    use futures::executor::block_on;
    // Warm up all of them.
    assert_eq!(chain(&direct_root), 4);
    assert_eq!(chain(&root), 4);
    assert_eq!(block_on(pipelined_chain(&root_async)), 4);
    assert_eq!(block_on(pipelined_chain(&direct_async)), 4);

    let time = |f: &dyn Fn()| {
        median(
            (0..ROUNDS)
                .map(|_| {
                    let start = Instant::now();
                    f();
                    start.elapsed()
                })
                .collect(),
        )
    };
    let rtt = time(&|| {
        root.depth().unwrap();
    });
    let direct_chain = time(&|| {
        chain(&direct_root);
    });
    let chain_time = time(&|| {
        chain(&root);
    });
    let direct_pipelined = time(&|| {
        block_on(pipelined_chain(&direct_async));
    });
    let pipelined = time(&|| {
        block_on(pipelined_chain(&root_async));
    });
    let in_rtts = chain_time.as_secs_f64() / rtt.as_secs_f64();
    let pipelined_rtts = pipelined.as_secs_f64() / rtt.as_secs_f64();
    println!(
        "latency relay: {} ms each way; medians of {ROUNDS}",
        ONE_WAY.as_millis()
    );
    println!("| row | median | in round trips | target |");
    println!("|---|---:|---:|---|");
    println!("| one call through the relay (the round trip) | {rtt:.2?} | 1.00 | - |");
    println!("| 5 dependent calls, loopback without the relay | {direct_chain:.2?} | - | - |");
    println!("| 5 dependent calls pipelined, loopback without the relay | {direct_pipelined:.2?} | - | - |");
    println!("| 5 dependent calls, unpipelined | {chain_time:.2?} | {in_rtts:.2} | - |");
    let verdict = if pipelined_rtts <= 1.3 {
        "met"
    } else {
        "MISSED"
    };
    println!(
        "| 5 dependent calls, pipelined | {pipelined:.2?} | {pipelined_rtts:.2} | <= 1.3: {verdict} |"
    );
}
