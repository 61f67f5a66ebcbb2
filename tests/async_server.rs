//! Async server methods, concurrency between connections and calls, call
//! deadlines and graceful shutdown. Run on every transport.
#![allow(missing_docs)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use remote::{remote_object, Options, Remote, RemoteError, Server};
use tokio::sync::Notify;

/// A service whose methods are partly `async fn`.
#[remote_object]
pub trait Service: Send + Sync {
    /// Waits (asynchronously) until the test lets it go.
    async fn wait_for_go(&self, tag: String) -> String;
    async fn greet(&self, name: &str) -> String;
    async fn sleep_ms(&self, ms: u64) -> u64;
    async fn explode(&self) -> u32;
    /// Never returns; tells the test when its future is dropped.
    async fn hang(&self) -> u32;
    /// A plain method that blocks its thread until let go.
    fn block_for_go(&self) -> u32;
    fn quick(&self, x: u32) -> u32;
    fn calls(&self) -> u64;
}

struct TheService {
    go: Arc<Notify>,
    entered: crossbeam_channel::Sender<()>,
    block_go: crossbeam_channel::Receiver<()>,
    calls: AtomicU64,
    hang_dropped: crossbeam_channel::Sender<()>,
}

/// Sends when dropped.
struct Dropped(crossbeam_channel::Sender<()>);

impl Drop for Dropped {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

#[remote::async_trait]
impl Service for TheService {
    async fn wait_for_go(&self, tag: String) -> String {
        // Waiting before the test hears it entered: `notify_waiters` only
        // wakes futures already waiting.
        let go = self.go.notified();
        tokio::pin!(go);
        go.as_mut().enable();
        let _ = self.entered.send(());
        go.await;
        format!("{tag} went")
    }
    async fn greet(&self, name: &str) -> String {
        tokio::task::yield_now().await;
        format!("hello, {name}")
    }
    async fn sleep_ms(&self, ms: u64) -> u64 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        ms
    }
    async fn explode(&self) -> u32 {
        tokio::task::yield_now().await;
        panic!("async boom")
    }
    async fn hang(&self) -> u32 {
        let _guard = Dropped(self.hang_dropped.clone());
        let _ = self.entered.send(());
        std::future::pending::<()>().await;
        0
    }
    fn block_for_go(&self) -> u32 {
        self.block_go.recv_timeout(BOUND).expect("test lets it go");
        7
    }
    fn quick(&self, x: u32) -> u32 {
        self.calls.fetch_add(1, Ordering::SeqCst);
        x + 1
    }
    fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
}

struct Fixture {
    server: Server,
    go: Arc<Notify>,
    entered: crossbeam_channel::Receiver<()>,
    block_go: crossbeam_channel::Sender<()>,
    hang_dropped: crossbeam_channel::Receiver<()>,
    connect: Connect,
}

fn fixture<T: Transport>(options: Options) -> Fixture {
    let go = Arc::new(Notify::new());
    let (block_go, block_rx) = crossbeam_channel::unbounded();
    let server = Server::with_options(options);
    let (entered_tx, entered) = crossbeam_channel::unbounded();
    let (dropped_tx, hang_dropped) = crossbeam_channel::unbounded();
    let service = TheService {
        go: go.clone(),
        entered: entered_tx,
        block_go: block_rx,
        calls: AtomicU64::new(0),
        hang_dropped: dropped_tx,
    };
    server.export("service", Arc::new(service) as Arc<dyn Service>);
    let connect = T::serve(&server);
    Fixture {
        server,
        go,
        entered,
        block_go,
        hang_dropped,
        connect,
    }
}

/// A new client's call of `hang`, once the method is running on the
/// server.
fn hanging_call(
    f: &Fixture,
) -> (
    remote::Client,
    ServiceAsyncProxy,
    remote::AsyncCall<u32, u32>,
) {
    let client = (f.connect)();
    let service = client
        .require::<ServiceProxy>("service")
        .unwrap()
        .to_async();
    let call = service.hang();
    f.entered.recv_timeout(BOUND).expect("the method started");
    (client, service, call)
}

/// Plays a caller that sends nothing while it waits: no renewals.
struct NeverRenew;
impl remote::FrameHook for NeverRenew {
    fn before_send(&self, kind: remote::FrameKind) -> remote::Verdict {
        if kind == remote::FrameKind::Renew {
            remote::Verdict::Drop
        } else {
            remote::Verdict::Send
        }
    }
}

macro_rules! async_server_tests {
    ($module:ident, $transport:ty) => {
        mod $module {
            use super::*;

            /// Dropping an async call's future tells the server, which
            /// aborts the method's task (its future is dropped); the
            /// connection goes on.
            #[test]
            fn dropping_an_async_call_stops_the_servers_task() {
                let f = fixture::<$transport>(Options::new());
                let (_client, service, call) = hanging_call(&f);
                drop(call);
                f.hang_dropped
                    .recv_timeout(BOUND)
                    .expect("the server dropped the method's future");
                assert_eq!(futures::executor::block_on(service.quick(1)), Ok(2));
            }

            /// A connection that closes aborts the `async fn` calls it was
            /// waiting for: nobody is left to answer, and nothing of theirs
            /// outlives the connection (found by the async_dispatch fuzzer).
            #[test]
            fn a_closed_connection_aborts_its_async_calls() {
                let f = fixture::<$transport>(Options::new());
                let (client, _service, call) = hanging_call(&f);
                client.close();
                f.hang_dropped
                    .recv_timeout(BOUND)
                    .expect("the server dropped the method's future");
                assert_eq!(
                    futures::executor::block_on(call),
                    Err(RemoteError::Disconnected)
                );
                eventually("nothing counted as still running", || {
                    f.server.stats().orphaned_calls == 0
                });
            }

            /// A caller waiting on an `async fn` that runs three leases is
            /// not expired for its silence: we owe it a reply. (It used to
            /// be, once the method left the reader.)
            #[test]
            fn a_caller_waiting_on_a_long_async_call_keeps_its_lease() {
                let lease = Duration::from_millis(200);
                let f = fixture::<$transport>(Options::new().lease(lease));
                let client = <$transport as Transport>::connect_with(
                    &f.server,
                    Options::new().hook(Arc::new(NeverRenew)),
                );
                let service: ServiceProxy = client.require("service").unwrap();
                let ms = (lease * 3).as_millis() as u64;
                assert_eq!(service.sleep_ms(ms), Ok(ms));
                assert_eq!(service.quick(4), Ok(5), "still connected");
                assert!(!client.is_closed());
            }

            #[test]
            fn async_methods_answer_blocking_and_async_proxies() {
                let f = fixture::<$transport>(Options::new());
                let service: ServiceProxy = (f.connect)().require("service").unwrap();
                assert_eq!(service.greet("Ada").unwrap(), "hello, Ada");
                assert_eq!(service.sleep_ms(20).unwrap(), 20);
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let service = service.to_async();
                rt.block_on(async {
                    assert_eq!(service.greet("Bo").await.unwrap(), "hello, Bo");
                    let (a, b) = tokio::join!(service.sleep_ms(30), service.sleep_ms(30));
                    assert_eq!((a.unwrap(), b.unwrap()), (30, 30));
                });
            }

            #[test]
            fn a_waiting_async_method_never_holds_up_its_connection() {
                let f = fixture::<$transport>(Options::new());
                let service: ServiceProxy = (f.connect)().require("service").unwrap();
                let waiting = {
                    let service = service.clone();
                    std::thread::spawn(move || service.wait_for_go("first".into()))
                };
                // Meanwhile the same connection serves other calls at once.
                for i in 0..100 {
                    assert_eq!(service.quick(i).unwrap(), i + 1);
                }
                f.go.notify_one();
                assert_eq!(waiting.join().unwrap().unwrap(), "first went");
            }

            #[test]
            fn a_blocked_method_on_one_connection_stalls_no_other() {
                let f = fixture::<$transport>(Options::new());
                let a: ServiceProxy = (f.connect)().require("service").unwrap();
                let b: ServiceProxy = (f.connect)().require("service").unwrap();
                let blocked = {
                    let a = a.clone();
                    std::thread::spawn(move || a.block_for_go())
                };
                let start = Instant::now();
                for i in 0..100 {
                    assert_eq!(b.quick(i).unwrap(), i + 1);
                }
                // And the blocked connection's own other calls get through
                // too, once the watchdog moves its reader on.
                assert_eq!(a.quick(1).unwrap(), 2);
                assert!(start.elapsed() < Duration::from_secs(5));
                f.block_go.send(()).unwrap();
                assert_eq!(blocked.join().unwrap().unwrap(), 7);
            }

            #[test]
            fn an_async_method_that_panics_is_reported() {
                let f = fixture::<$transport>(Options::new());
                let service: ServiceProxy = (f.connect)().require("service").unwrap();
                match service.explode() {
                    Err(RemoteError::Panic { method, message }) => {
                        assert_eq!(method, "Service::explode");
                        assert_eq!(message, "async boom");
                    }
                    other => panic!("expected Panic, got {other:?}"),
                }
                assert_eq!(service.quick(1).unwrap(), 2);
            }

            #[test]
            fn calls_in_flight_past_the_limit_are_refused_not_queued() {
                let f = fixture::<$transport>(Options::new().max_in_flight(2));
                let client = (f.connect)();
                let service: ServiceProxy = client.require("service").unwrap();
                let waiting: Vec<_> = (0..2)
                    .map(|i| {
                        let service = service.clone();
                        std::thread::spawn(move || service.wait_for_go(format!("w{i}")))
                    })
                    .collect();
                for _ in 0..2 {
                    f.entered.recv_timeout(BOUND).expect("both calls running");
                }
                assert_eq!(
                    service.quick(1),
                    Err(RemoteError::LimitExceeded {
                        what: "calls in flight on this connection".into(),
                        limit: 2
                    })
                );
                f.go.notify_waiters();
                for w in waiting {
                    assert!(w.join().unwrap().unwrap().ends_with("went"));
                }
                assert_eq!(service.quick(1).unwrap(), 2, "served again below the limit");
            }

            #[test]
            fn calls_can_carry_a_deadline() {
                let f = fixture::<$transport>(Options::new());
                let client = <$transport as Transport>::connect_with(
                    &f.server,
                    Options::new().call_timeout(Duration::from_millis(100)),
                );
                let service: ServiceProxy = client.require("service").unwrap();
                let start = Instant::now();
                assert_eq!(
                    service.sleep_ms(5_000),
                    Err(RemoteError::Timeout { millis: 100 })
                );
                assert!(start.elapsed() < Duration::from_secs(3));
                assert_eq!(service.quick(1).unwrap(), 2, "the connection is fine");
                // Per call, on the async proxy.
                let plain: ServiceProxy = (f.connect)().require("service").unwrap();
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let late = rt.block_on(
                    plain
                        .to_async()
                        .sleep_ms(5_000)
                        .deadline(Duration::from_millis(50)),
                );
                assert_eq!(late, Err(RemoteError::Timeout { millis: 50 }));
                assert_eq!(client.stats().in_flight, 0);
            }

            #[test]
            fn shutdown_finishes_running_calls_then_tells_every_client() {
                let f = fixture::<$transport>(Options::new());
                let client = (f.connect)();
                let service: ServiceProxy = client.require("service").unwrap();
                let running = {
                    let service = service.clone();
                    std::thread::spawn(move || service.wait_for_go("last".into()))
                };
                // Make sure the call is running on the server before shutting down.
                f.entered.recv_timeout(BOUND).expect("the call started");
                let go = f.go.clone();
                let releaser = std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(50));
                    go.notify_one();
                });
                f.server.shutdown();
                assert_eq!(
                    running.join().unwrap().unwrap(),
                    "last went",
                    "drained, not cut"
                );
                releaser.join().unwrap();
                eventually("the client was told", || client.is_closed());
                assert_eq!(service.quick(1), Err(RemoteError::Disconnected));
                assert_eq!(f.server.stats().connections, 0);
                // New connections are refused.
                let late = (f.connect)();
                let refused = late.require::<ServiceProxy>("service");
                assert!(
                    matches!(refused, Err(RemoteError::Disconnected)),
                    "{refused:?}"
                );
            }
        }
    };
}

async_server_tests!(in_process, InProcess);
async_server_tests!(unix, Unix);
async_server_tests!(tcp, Tcp);
#[cfg(feature = "tls")]
async_server_tests!(tls, Tls);
async_server_tests!(duplex, Duplex);

#[test]
fn a_local_object_with_async_methods_works_through_both_proxies() {
    let (tx, _rx) = crossbeam_channel::unbounded();
    let local = Remote::<dyn Service>::new(TheService {
        go: Arc::new(Notify::new()),
        entered: crossbeam_channel::unbounded().0,
        block_go: _rx,
        calls: AtomicU64::new(0),
        hang_dropped: crossbeam_channel::unbounded().0,
    });
    drop(tx);
    let blocking = local.clone().into_proxy();
    assert_eq!(blocking.greet("local").unwrap(), "hello, local");
    assert_eq!(blocking.sleep_ms(5).unwrap(), 5);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let name = String::from("async local");
    let answer = rt.block_on(local.into_async_proxy().greet(&name));
    assert_eq!(answer.unwrap(), "hello, async local");
}
