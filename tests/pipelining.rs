//! Promise pipelining where timing matters: calls pipelined on a call the
//! server has not finished, over a real Unix socket (the owner holds that
//! call at a gate the test opens), and a chain of dependent calls over TCP
//! behind a relay that adds latency.
#![allow(missing_docs)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{eventually, tempdir, BOUND};
use crossbeam_channel::{Receiver, Sender};
use remote::testing::LatencyRelay;
use remote::{remote_object, Client, Remote, RemoteError, Server};

#[remote_object]
pub trait Store: Send + Sync {
    /// Opens table `name`, once the test lets it.
    fn open(&self, name: String) -> Remote<dyn Table>;
}

#[remote_object]
pub trait Table: Send + Sync {
    fn name(&self) -> String;
    fn row(&self, n: u32) -> Remote<dyn Row>;
}

#[remote_object]
pub trait Row: Send + Sync {
    fn read(&self) -> String;
}

/// Counts the objects alive and says when one is freed.
#[derive(Clone)]
struct Life {
    alive: Arc<AtomicUsize>,
    freed: Sender<String>,
}

impl Life {
    fn born(&self) -> Life {
        self.alive.fetch_add(1, Ordering::SeqCst);
        self.clone()
    }
}

struct Tracked<T> {
    name: String,
    life: Life,
    inner: T,
}

impl<T> Drop for Tracked<T> {
    fn drop(&mut self) {
        self.life.alive.fetch_sub(1, Ordering::SeqCst);
        let _ = self.life.freed.send(self.name.clone());
    }
}

struct TheStore {
    life: Life,
    /// Each `open` waits for one message here.
    gate: Receiver<()>,
    /// Told when an `open` is waiting at the gate.
    waiting: Sender<String>,
}

impl Store for TheStore {
    fn open(&self, name: String) -> Remote<dyn Table> {
        let _ = self.waiting.send(name.clone());
        self.gate
            .recv_timeout(BOUND)
            .expect("the test opens the gate");
        Remote::new(Tracked {
            name: name.clone(),
            life: self.life.born(),
            inner: (),
        })
    }
}

impl Table for Tracked<()> {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn row(&self, n: u32) -> Remote<dyn Row> {
        Remote::new(Tracked {
            name: format!("{}[{n}]", self.name),
            life: self.life.born(),
            inner: n,
        })
    }
}

impl Row for Tracked<u32> {
    fn read(&self) -> String {
        format!("{} = {}", self.name, self.inner * 10)
    }
}

struct Fixture {
    server: Server,
    alive: Arc<AtomicUsize>,
    freed: Receiver<String>,
    gate: Sender<()>,
    waiting: Receiver<String>,
    _listening: (remote::Listener, tempfile::TempDir),
    client: Client,
}

fn fixture() -> Fixture {
    let (freed_tx, freed) = crossbeam_channel::unbounded();
    let (gate, gate_rx) = crossbeam_channel::unbounded();
    let (waiting_tx, waiting) = crossbeam_channel::unbounded();
    let alive = Arc::new(AtomicUsize::new(0));
    let life = Life {
        alive: alive.clone(),
        freed: freed_tx,
    };
    let server = Server::new();
    server.export(
        "store",
        Arc::new(TheStore {
            life,
            gate: gate_rx,
            waiting: waiting_tx,
        }) as Arc<dyn Store>,
    );
    let dir = tempdir();
    let path = dir.path().join("store.sock");
    let listener = server.listen_unix(&path).expect("listen");
    let client = Client::connect_unix(&path).expect("connect");
    Fixture {
        server,
        alive,
        freed,
        gate,
        waiting,
        _listening: (listener, dir),
        client,
    }
}

impl Fixture {
    fn store(&self) -> StoreAsyncProxy {
        let store: StoreProxy = self.client.require("store").unwrap();
        store.to_async()
    }

    /// Waits until an `open` of `name` is held at the gate.
    fn held_at_gate(&self, name: &str) {
        let got = self
            .waiting
            .recv_timeout(BOUND)
            .expect("an open reaches the gate");
        assert_eq!(got, name);
    }

    fn expect_freed(&self, name: &str) {
        let got = self
            .freed
            .recv_timeout(BOUND)
            .expect("an object freed in time");
        assert_eq!(got, name);
    }

    fn kept_answers(&self) -> usize {
        self.server
            .stats()
            .peers
            .iter()
            .map(|p| p.kept_answers)
            .sum()
    }
}

#[test]
fn calls_pipelined_on_a_running_call_wait_for_it_then_run_in_order() {
    let f = fixture();
    let store = f.store();
    let table = store.open("t".into()).pipeline();
    // Both calls leave now and wait at the owner for `open` to finish.
    let name = table.name();
    let row = table.row(4).pipeline();
    let read = row.read();
    f.held_at_gate("t");
    assert_eq!(f.alive.load(Ordering::SeqCst), 0, "nothing opened yet");
    // The owner keeps open's answer and row's, with row waiting on open.
    eventually("both answers to be kept", || f.kept_answers() == 2);
    f.gate.send(()).unwrap();
    futures::executor::block_on(async {
        assert_eq!(name.await.unwrap(), "t");
        assert_eq!(read.await.unwrap(), "t[4] = 40");
    });
    drop((table, row));
    let mut freed = [
        f.freed.recv_timeout(BOUND).unwrap(),
        f.freed.recv_timeout(BOUND).unwrap(),
    ];
    freed.sort();
    assert_eq!(freed, ["t", "t[4]"]);
    f.client.sync().unwrap();
    eventually("the owner to forget both answers", || f.kept_answers() == 0);
}

#[test]
fn a_pipelined_proxy_dropped_before_its_call_completes_releases_the_object_once_it_exists() {
    let f = fixture();
    let store = f.store();
    let table = store.open("early".into()).pipeline();
    let name = table.name();
    drop(table);
    f.held_at_gate("early");
    f.gate.send(()).unwrap();
    // The pipelined call still runs on the table...
    assert_eq!(futures::executor::block_on(name).unwrap(), "early");
    // ...which nobody holds any more: it goes.
    f.expect_freed("early");
    assert_eq!(f.alive.load(Ordering::SeqCst), 0);
    f.client.sync().unwrap();
    eventually("the owner to forget the answer", || f.kept_answers() == 0);
}

#[test]
fn a_call_nobody_awaits_or_pipelines_on_releases_what_it_returns() {
    let f = fixture();
    let store = f.store();
    // Dropped before the owner even runs it: the owner is told to stop,
    // but the method is already waiting at the gate, so the table is made
    // and then freed.
    drop(store.open("unwanted".into()));
    f.held_at_gate("unwanted");
    f.gate.send(()).unwrap();
    f.expect_freed("unwanted");
    f.client.sync().unwrap();
    eventually("the owner to forget the answer", || f.kept_answers() == 0);
}

#[test]
fn a_disconnect_fails_pipelined_calls_and_frees_what_the_call_made() {
    let f = fixture();
    let store = f.store();
    let table = store.open("gone".into()).pipeline();
    let name = table.name();
    let row = table.row(1).pipeline();
    let read = row.read();
    f.held_at_gate("gone");
    // The connection goes away while `open` runs.
    f.client.close();
    for result in
        futures::executor::block_on(async { [name.await.map(drop), read.await.map(drop)] })
    {
        assert!(
            matches!(result, Err(RemoteError::Disconnected)),
            "{result:?}"
        );
    }
    // A call through the pipelined proxy now fails the same way.
    assert!(matches!(
        futures::executor::block_on(table.name()),
        Err(RemoteError::Disconnected)
    ));
    // Once the owner saw the connection end, the table `open` makes is
    // freed at once, and the calls pipelined on it never run.
    eventually("the owner to see the disconnect", || {
        f.server.stats().connections == 0
    });
    f.gate.send(()).unwrap();
    f.expect_freed("gone");
    assert!(f.freed.recv_timeout(Duration::from_millis(50)).is_err());
    eventually("nothing to be left on the owner", || {
        f.alive.load(Ordering::SeqCst) == 0 && f.kept_answers() == 0
    });
}

/// Chains pipelined from a multi-threaded runtime, several at once, over
/// TCP behind a relay that delays every byte.
#[test]
fn chains_pipelined_through_a_slow_network_answer_in_one_round_trip_each() {
    #[remote_object]
    pub trait Node: Send + Sync {
        fn child(&self) -> Remote<dyn Node>;
        fn depth(&self) -> u32;
    }
    /// Counts the nodes made by `child` that are alive (the root is not).
    struct Tree(u32, Arc<Mutex<i64>>);
    impl Node for Tree {
        fn child(&self) -> Remote<dyn Node> {
            *self.1.lock().unwrap() += 1;
            Remote::new(Tree(self.0 + 1, self.1.clone()))
        }
        fn depth(&self) -> u32 {
            self.0
        }
    }
    impl Drop for Tree {
        fn drop(&mut self) {
            *self.1.lock().unwrap() -= 1;
        }
    }
    const ONE_WAY: Duration = Duration::from_millis(10);
    let live = Arc::new(Mutex::new(0i64));
    let server = Server::new();
    server.export("root", Arc::new(Tree(0, live.clone())) as Arc<dyn Node>);
    let listener = server.listen_tcp("127.0.0.1:0").expect("listen");
    let relay = LatencyRelay::start(listener.local_addr().unwrap(), ONE_WAY).expect("relay");
    let client = Client::connect_tcp(relay.addr()).expect("connect through the relay");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let root: NodeAsyncProxy = client.require_async("root").await.unwrap();
        let start = Instant::now();
        let chains = (0..8).map(|_| {
            let root = root.clone();
            tokio::spawn(async move {
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
            })
        });
        for chain in futures::future::join_all(chains).await {
            assert_eq!(chain.unwrap().unwrap(), 4);
        }
        // At least one round trip through the relay; how close to one it
        // comes is measured in benches/latency.rs.
        assert!(start.elapsed() >= 2 * ONE_WAY, "{:?}", start.elapsed());
    });
    client.sync().unwrap();
    eventually("every node but the root to be freed", || {
        *live.lock().unwrap() == 0
    });
    eventually("the server to forget every answer", || {
        server.stats().peers.iter().all(|p| p.kept_answers == 0)
    });
    drop(client);
    drop(relay);
}
