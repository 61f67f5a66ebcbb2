//! Behaviour every transport must show, written once and run on each
//! (`in_process::*`, `unix::*` and `tcp::*`).
#![allow(missing_docs)]

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use common::*;
use remote::{remote_object, Client, Proxy, Remote, RemoteError, Server};

/// `bytes::Bytes` as arguments and return values, owned and borrowed.
#[remote_object]
pub trait Blobs: Send + Sync {
    fn echo(&self, data: bytes::Bytes) -> bytes::Bytes;
    fn len_of(&self, data: &bytes::Bytes) -> u64;
    fn maybe(&self, n: u64) -> Option<bytes::Bytes>;
}

struct TheBlobs;

impl Blobs for TheBlobs {
    fn echo(&self, data: bytes::Bytes) -> bytes::Bytes {
        data
    }
    fn len_of(&self, data: &bytes::Bytes) -> u64 {
        data.len() as u64
    }
    fn maybe(&self, n: u64) -> Option<bytes::Bytes> {
        (n > 0).then(|| bytes::Bytes::from(vec![1u8; n as usize]))
    }
}

macro_rules! behaviour_tests {
    ($module:ident, $transport:ty) => {
        mod $module {
            use super::*;

            fn setup() -> (Server, Arc<Calc>, crossbeam_channel::Receiver<u64>, Connect) {
                let (server, calc, dropped) = calculator_server();
                let connect = <$transport as Transport>::serve(&server);
                (server, calc, dropped, connect)
            }

            #[test]
            fn plain_values_are_copied_both_ways() {
                let (_server, _calc, _d, connect) = setup();
                let calc: CalculatorProxy = connect().require("calculator").unwrap();
                assert_eq!(calc.add(2, 3).unwrap(), 5);
                assert_eq!(calc.greet("Ada").unwrap(), "hello, Ada");
                assert_eq!(calc.sum(&[1, 2, 3, 4]).unwrap(), 10);
                let mut shape = calc.shape().unwrap();
                let original = shape.clone();
                // Changing our copy changes nothing on the server...
                shape.name.clear();
                shape.bytes[0] = 99;
                assert_eq!(calc.shape().unwrap(), original);
                // ...and the server changing its copy changes nothing here.
                let sent = original.clone();
                let stretched = calc.stretch(sent.clone()).unwrap();
                assert_eq!(sent, original);
                assert_eq!(stretched.name, "triangle (stretched)");
                assert_eq!(stretched.points[1], (2, 0));
                assert_eq!(stretched.bytes, vec![1, 2, 3, 0xff]);
            }

            #[test]
            fn byte_payloads_cross_whole_in_both_directions() {
                let (_server, _calc, _d, connect) = setup();
                let calc: CalculatorProxy = connect().require("calculator").unwrap();
                // Larger than a socket buffer, smaller than a frame.
                let big: Vec<u8> = (0..3u32 << 20).map(|i| (i % 251) as u8).collect();
                let back = calc.reverse(&big).unwrap();
                assert_eq!(back.len(), big.len());
                assert!(back.iter().eq(big.iter().rev()));
                assert_eq!(calc.reverse(&[]).unwrap(), Vec::<u8>::new());
                assert_eq!(calc.count_up(0).unwrap(), None);
                assert_eq!(calc.count_up(5).unwrap(), Some(vec![0, 1, 2, 3, 4]));
                assert_eq!(
                    calc.checked_bytes(vec![1, 2, 3], 10).unwrap(),
                    Ok(vec![1, 2, 3])
                );
                assert_eq!(
                    calc.checked_bytes(vec![1; 20], 10).unwrap(),
                    Err(MathError::Overflow { a: 20, b: 10 })
                );
                // The async proxy carries them the same way.
                let calc = calc.to_async();
                let back = futures::executor::block_on(calc.reverse(&big)).unwrap();
                assert!(back.iter().eq(big.iter().rev()));
                assert_eq!(
                    futures::executor::block_on(calc.count_up(3)).unwrap(),
                    Some(vec![0, 1, 2])
                );
                assert_eq!(
                    futures::executor::block_on(calc.checked_bytes(big.clone(), u32::MAX)).unwrap(),
                    Ok(big)
                );
                // Large and small frames back to back, read together.
                let sizes = [70_000usize, 3, 200_000, 0, 65_536, 1 << 20, 17];
                let payloads: Vec<Vec<u8>> = sizes
                    .iter()
                    .map(|&n| (0..n).map(|i| (i * 7 % 256) as u8).collect())
                    .collect();
                let answers = futures::executor::block_on(futures::future::join_all(
                    payloads.iter().map(|p| calc.reverse(p)),
                ));
                for (sent, back) in payloads.iter().zip(answers) {
                    let back = back.unwrap();
                    assert!(back.iter().eq(sent.iter().rev()), "{} bytes", sent.len());
                }
            }

            #[test]
            fn byte_values_larger_than_a_frame_cross_within_max_value() {
                // Frames of 64 KiB at most; byte values up to 24 MiB.
                let options = remote::Options::new()
                    .max_frame(64 * 1024)
                    .max_value(24 << 20);
                let (calc_obj, _dropped) = Calc::new();
                let server = Server::with_options(options.clone());
                server.export("calculator", calc_obj as Arc<dyn Calculator>);
                let client = <$transport as Transport>::connect_with(&server, options);
                let calc: CalculatorProxy = client.require("calculator").unwrap();
                let big: Vec<u8> = (0..20u32 << 20).map(|i| (i % 253) as u8).collect();
                // Owned both ways (moved, not copied), and borrowed.
                assert_eq!(
                    calc.checked_bytes(big.clone(), u32::MAX).unwrap(),
                    Ok(big.clone())
                );
                let back = calc.reverse(&big).unwrap();
                assert!(back.iter().eq(big.iter().rev()));
                // Two large values and a small one in one call's reply
                // and arguments, with the async proxy.
                let async_calc = calc.to_async();
                let both = futures::executor::block_on(futures::future::join(
                    async_calc.reverse(&big[..1 << 20]),
                    async_calc.checked_bytes(big[..(1 << 20) + 1].to_vec(), u32::MAX),
                ));
                assert!(both.0.unwrap().iter().eq(big[..1 << 20].iter().rev()));
                assert_eq!(both.1.unwrap().unwrap().len(), (1 << 20) + 1);
                // Past max_value: the sender refuses it, naming the option,
                // and the connection goes on.
                let err = calc
                    .checked_bytes(vec![1; (24 << 20) + 1], u32::MAX)
                    .unwrap_err();
                assert!(
                    matches!(&err, RemoteError::LimitExceeded { what, limit }
                        if what.contains("max_value") && *limit == 24 << 20),
                    "{err:?}"
                );
                assert_eq!(calc.add(2, 3).unwrap(), 5);
            }

            #[test]
            fn bytes_crate_values_cross_as_bytes_of_any_size() {
                let server = Server::new();
                server.export("blobs", Arc::new(TheBlobs) as Arc<dyn Blobs>);
                let client = <$transport as Transport>::connect_with(&server, remote::Options::new());
                let blobs: BlobsProxy = client.require("blobs").unwrap();
                for len in [0usize, 10, 16 * 1024, 3 << 20] {
                    let data = bytes::Bytes::from((0..len).map(|i| (i % 239) as u8).collect::<Vec<u8>>());
                    assert_eq!(blobs.echo(data.clone()).unwrap(), data, "{len}");
                    assert_eq!(blobs.len_of(&data).unwrap(), len as u64);
                    // A slice of a larger buffer: copied once on the way out.
                    if len > 2 {
                        let part = data.slice(1..len - 1);
                        assert_eq!(blobs.echo(part.clone()).unwrap(), part);
                    }
                }
                assert_eq!(blobs.maybe(0).unwrap(), None);
                assert_eq!(blobs.maybe(70_000).unwrap().unwrap().len(), 70_000);
            }

            #[test]
            fn application_errors_arrive_as_themselves() {
                let (_server, _calc, _d, connect) = setup();
                let calc: CalculatorProxy = connect().require("calculator").unwrap();
                assert_eq!(calc.divide(7, 2).unwrap(), Ok(3));
                assert_eq!(calc.divide(1, 0).unwrap(), Err(MathError::DivideByZero));
                assert_eq!(
                    calc.divide(i64::MIN, -1).unwrap(),
                    Err(MathError::Overflow { a: i64::MIN, b: -1 })
                );
            }

            #[test]
            fn returned_objects_stay_on_the_server_and_are_released_on_drop() {
                let (server, calc_obj, dropped, connect) = setup();
                let client = connect();
                let calc: CalculatorProxy = client.require("calculator").unwrap();
                let counter: CounterProxy = calc.spawn_counter(10).unwrap();
                assert_eq!(counter.next().unwrap(), 10);
                let clone = counter.clone();
                assert_eq!(clone.next().unwrap(), 11);
                assert_eq!(calc_obj.live.load(Ordering::SeqCst), 1);
                drop(counter);
                // One clone left: still alive.
                assert_eq!(clone.get().unwrap(), 12);
                drop(clone);
                assert_eq!(expect_drop(&dropped), 12);
                assert_eq!(calc_obj.live.load(Ordering::SeqCst), 0);
                // Only the calculator itself is still held.
                eventually("server export count back to one", || {
                    server.stats().exported == 1
                });
                assert_eq!(client.stats().imported, 1);
            }

            #[test]
            fn handles_nested_in_values_travel_by_reference() {
                let (_server, calc_obj, dropped, connect) = setup();
                let calc: CalculatorProxy = connect().require("calculator").unwrap();
                let many = calc.spawn_many(3).unwrap();
                let values: Vec<u64> = many
                    .iter()
                    .map(|r| r.clone().into_proxy().get().unwrap())
                    .collect();
                assert_eq!(values, vec![0, 1, 2]);
                assert!(calc.maybe_counter(false).unwrap().is_none());
                let some: CounterProxy = calc.maybe_counter(true).unwrap().unwrap();
                assert_eq!(some.get().unwrap(), 7);
                let item = calc.labelled("x".into(), 40).unwrap();
                assert_eq!(item.label, "x");
                assert!(!item.counter.is_local());
                assert_eq!(calc_obj.live.load(Ordering::SeqCst), 5);
                // A struct holding a proxy goes back as an argument.
                assert_eq!(calc.read_labelled(item).unwrap(), ("x".to_string(), 40));
                drop(many);
                drop(some);
                for _ in 0..5 {
                    expect_drop(&dropped);
                }
                assert_eq!(calc_obj.live.load(Ordering::SeqCst), 0);
            }

            #[test]
            fn a_proxy_passed_back_arrives_as_the_original_object() {
                let (_server, _calc, _d, connect) = setup();
                let calc: CalculatorProxy = connect().require("calculator").unwrap();
                let counter = calc.spawn_counter(5).unwrap();
                assert!(
                    calc.is_mine(&counter).unwrap(),
                    "server sees its own Arc (ptr_eq)"
                );
                assert_eq!(calc.read_counter(&counter).unwrap(), 5);
                // Echoed back, the handle is the same object here too.
                let echoed = calc.echo_counter(&counter).unwrap();
                assert!(echoed.same_object(&counter));
                assert_eq!(echoed.next().unwrap(), 5);
                assert_eq!(counter.get().unwrap(), 6);
            }

            #[test]
            fn a_client_object_passed_as_argument_is_called_back() {
                let (_server, _calc, _d, connect) = setup();
                let calc: CalculatorProxy = connect().require("calculator").unwrap();
                let (tx, rx) = crossbeam_channel::unbounded();
                let live = Arc::new(std::sync::atomic::AtomicU64::new(1));
                let mine = Remote::<dyn Counter>::new(TestCounter {
                    value: 41.into(),
                    live: live.clone(),
                    dropped: Some(tx),
                });
                // The server calls our object synchronously while we wait on it.
                assert_eq!(calc.read_counter(mine.clone()).unwrap(), 41);
                // Echoed back to its owner, it is our very object again.
                let back = calc.echo_counter(mine.clone()).unwrap();
                assert!(back
                    .as_remote()
                    .local()
                    .is_some_and(|a| Arc::ptr_eq(a, mine.local().unwrap())));
                drop((mine, back));
                assert_eq!(rx.recv_timeout(BOUND).expect("our object dropped"), 41);
            }

            #[test]
            fn many_threads_share_one_proxy() {
                let (_server, _calc, _d, connect) = setup();
                let calc: CalculatorProxy = connect().require("calculator").unwrap();
                let threads: Vec<_> = (0..8i64)
                    .map(|t| {
                        let calc = calc.clone();
                        std::thread::spawn(move || {
                            for i in 0..10_000i64 {
                                assert_eq!(calc.add(t * 1_000_000, i).unwrap(), t * 1_000_000 + i);
                            }
                        })
                    })
                    .collect();
                for t in threads {
                    t.join().expect("worker thread");
                }
            }

            #[test]
            fn a_panicking_method_is_reported_and_the_server_keeps_serving() {
                let (_server, _calc, _d, connect) = setup();
                let calc: CalculatorProxy = connect().require("calculator").unwrap();
                match calc.boom("kaboom".into()) {
                    Err(RemoteError::Panic { method, message }) => {
                        assert_eq!(method, "Calculator::boom");
                        assert_eq!(message, "kaboom");
                    }
                    other => panic!("expected a Panic error, got {other:?}"),
                }
                assert_eq!(calc.add(1, 1).unwrap(), 2);
            }

            #[test]
            fn unknown_names_and_wrong_traits_are_typed_errors() {
                let (_server, _calc, _d, connect) = setup();
                let client = connect();
                match client.require::<CalculatorProxy>("nope") {
                    Err(RemoteError::NoSuchExport { name, closest }) => {
                        assert_eq!(name, "nope");
                        assert_eq!(closest, None);
                    }
                    other => panic!("expected NoSuchExport, got {other:?}"),
                }
                // A typo: the error names what was probably meant.
                match client.require::<CalculatorProxy>("calculater") {
                    Err(e @ RemoteError::NoSuchExport { .. }) => {
                        assert!(e.to_string().contains("did you mean \"calculator\"?"), "{e}");
                    }
                    other => panic!("expected NoSuchExport, got {other:?}"),
                }
                match client.require::<CounterProxy>("calculator") {
                    Err(RemoteError::Mismatch { expected, .. }) => assert_eq!(expected, "Counter"),
                    other => panic!("expected Mismatch, got {other:?}"),
                }
                // A client built from another version of the trait: the
                // handle is accepted (same trait), and each call is checked
                // on its own.
                let old = client
                    .require::<old::CalculatorProxy>("calculator")
                    .expect("another version of the same trait is accepted");
                match old.add(1, 2) {
                    Err(RemoteError::MethodChanged {
                        interface,
                        method,
                        here,
                        there,
                    }) => {
                        assert_eq!(interface, "Calculator");
                        assert_eq!(method, "add");
                        assert_eq!(here, "(i32, i32) -> i32");
                        assert_eq!(there, "(i64, i64) -> i64");
                    }
                    other => panic!("expected MethodChanged, got {other:?}"),
                }
                match old.retired() {
                    Err(RemoteError::NoSuchMethod { interface, method }) => {
                        assert_eq!((interface.as_str(), method.as_str()), ("Calculator", "retired"));
                    }
                    other => panic!("expected NoSuchMethod, got {other:?}"),
                }
                assert_eq!(old.greet("old").unwrap(), "hello, old");
                // The connection still works afterwards.
                let calc: CalculatorProxy = client.require("calculator").unwrap();
                assert_eq!(calc.add(1, 2).unwrap(), 3);
            }

            #[test]
            fn closing_ends_calls_with_disconnected() {
                let (server, _calc, _d, connect) = setup();
                let client = connect();
                let calc: CalculatorProxy = client.require("calculator").unwrap();
                let counter = calc.spawn_counter(1).unwrap();
                client.close();
                assert!(matches!(calc.add(1, 1), Err(RemoteError::Disconnected)));
                assert!(matches!(counter.get(), Err(RemoteError::Disconnected)));
                assert!(matches!(
                    client.require::<CalculatorProxy>("calculator"),
                    Err(RemoteError::Disconnected)
                ));
                eventually("server released everything", || {
                    server.stats().exported == 0
                });
            }

            #[test]
            fn server_disconnect_fails_the_client_promptly() {
                let (server, _calc, _d, connect) = setup();
                let calc: CalculatorProxy = connect().require("calculator").unwrap();
                assert_eq!(calc.add(1, 1).unwrap(), 2);
                server.disconnect_all();
                let start = std::time::Instant::now();
                loop {
                    match calc.add(1, 1) {
                        Err(RemoteError::Disconnected) => break,
                        Ok(_) => assert!(start.elapsed() < BOUND, "still connected"),
                        Err(e) => panic!("unexpected {e:?}"),
                    }
                    std::thread::yield_now();
                }
            }

            #[test]
            fn dropping_the_client_and_its_proxies_releases_everything() {
                let (server, calc_obj, dropped, connect) = setup();
                {
                    let client = connect();
                    let calc: CalculatorProxy = client.require("calculator").unwrap();
                    let _counters = calc.spawn_many(5).unwrap();
                    assert_eq!(calc_obj.live.load(Ordering::SeqCst), 5);
                }
                for _ in 0..5 {
                    expect_drop(&dropped);
                }
                eventually("connection gone", || server.stats().connections == 0);
            }

            #[test]
            fn the_proxy_implements_the_trait_when_errors_allow() {
                let server = Server::new();
                server.export("files", Arc::new(MemFiles) as Arc<dyn Files>);
                let connect = <$transport as Transport>::serve(&server);
                let files: FilesProxy = connect().require("files").unwrap();
                fn use_files(f: &dyn Files) -> Result<usize, FileError> {
                    f.size("a.txt")
                }
                assert_eq!(use_files(&MemFiles), Ok(5));
                assert_eq!(use_files(&files), Ok(5));
                assert_eq!(
                    Files::size(&files, "missing"),
                    Err(FileError::NotFound("missing".into()))
                );
            }

            #[test]
            fn blocking_proxy_works_inside_and_outside_a_runtime() {
                let (_server, _calc, _d, connect) = setup();
                let calc: CalculatorProxy = connect().require("calculator").unwrap();
                assert_eq!(calc.add(1, 2).unwrap(), 3);
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                rt.block_on(async { assert_eq!(calc.add(2, 2).unwrap(), 4) });
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .build()
                    .unwrap();
                let c = calc.clone();
                rt.block_on(async move {
                    tokio::spawn(async move { c.add(3, 3).unwrap() })
                        .await
                        .unwrap()
                });
            }

            #[test]
            fn async_proxy_works_in_a_runtime() {
                let (_server, _calc, dropped, connect) = setup();
                let client = connect();
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let calc: CalculatorAsyncProxy =
                        client.require_async("calculator").await.unwrap();
                    assert_eq!(calc.add(2, 3).await.unwrap(), 5);
                    assert_eq!(calc.greet("Bo").await.unwrap(), "hello, Bo");
                    assert_eq!(
                        calc.divide(1, 0).await.unwrap(),
                        Err(MathError::DivideByZero)
                    );
                    let counter: CounterAsyncProxy = calc.spawn_counter(3).await.unwrap();
                    assert_eq!(counter.next().await.unwrap(), 3);
                    // 64 calls in flight at once on one proxy.
                    let calls = (0..64).map(|i| {
                        let calc = calc.clone();
                        async move { calc.add(i, i).await.unwrap() }
                    });
                    let results = futures::future::join_all(calls).await;
                    assert_eq!(results, (0..64).map(|i| i * 2).collect::<Vec<_>>());
                    // Both flavors reach the same object.
                    assert!(counter.to_blocking().same_object(&counter));
                });
                drop(rt);
                assert_eq!(expect_drop(&dropped), 4);
                // The blocking proxy works on a multi-thread runtime too.
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let calc: CalculatorAsyncProxy =
                        client.require_async("calculator").await.unwrap();
                    let task = tokio::spawn(async move { calc.add(40, 2).await.unwrap() });
                    assert_eq!(task.await.unwrap(), 42);
                });
            }

            #[test]
            fn calls_pipelined_on_a_returned_object_run_on_it_in_order() {
                let (server, calc, dropped, connect) = setup();
                let client = connect();
                let proxy: CalculatorProxy = client.require("calculator").unwrap();
                let calc_async = proxy.to_async();
                futures::executor::block_on(async {
                    // Sent at once, before the counter exists. Like calls on
                    // any proxy, they are dispatched in the order sent, and
                    // may run at once.
                    let counter = calc_async.spawn_counter(10).pipeline();
                    let first = counter.next();
                    let second = counter.next();
                    let mut got = [first.await.unwrap(), second.await.unwrap()];
                    got.sort_unstable();
                    assert_eq!(got, [10, 11]);
                    // A chain: a call on the object a pipelined call returns
                    // (the middle counter goes with its proxy).
                    let forked = counter.fork(100).pipeline().fork(1000).pipeline();
                    assert_eq!(forked.get().await.unwrap(), 1112);
                    // Once its answer is in, the proxy calls the object as any
                    // proxy does, and is the same object as one that arrived.
                    assert_eq!(counter.get().await.unwrap(), 12);
                    let back = calc_async.echo_counter(&counter).await.unwrap();
                    assert!(back.same_object(&counter));
                    // From blocking code, the same, still pipelined.
                    let blocking = calc_async.spawn_counter(7).pipeline().to_blocking();
                    assert_eq!(blocking.next().unwrap(), 7);
                });
                // Every counter goes with its last proxy, and the server
                // forgets every answer it kept.
                for _ in 0..4 {
                    expect_drop(&dropped);
                }
                assert_eq!(calc.live.load(Ordering::SeqCst), 0);
                client.sync().unwrap();
                eventually("the server to forget the kept answers", || {
                    server.stats().peers.iter().all(|p| p.kept_answers == 0)
                });
            }

            #[test]
            fn a_failed_call_fails_what_was_pipelined_on_it() {
                let (server, calc, _dropped, connect) = setup();
                let client = connect();
                let proxy: CalculatorProxy = client.require("calculator").unwrap();
                let calc_async = proxy.to_async();
                futures::executor::block_on(async {
                    // A panic: the call and everything pipelined on it get it.
                    let failing = calc_async.spawn_failing("no counter".into());
                    let doomed = calc_async.spawn_failing("no counter".into()).pipeline();
                    let (a, b) = (doomed.next(), doomed.fork(1).pipeline().get());
                    for result in [a.await, b.await] {
                        match result {
                            Err(RemoteError::Panic { method, message }) => {
                                assert_eq!(method, "Calculator::spawn_failing");
                                assert!(message.contains("no counter"), "{message}");
                            }
                            other => panic!("expected the panic, got {other:?}"),
                        }
                    }
                    assert!(matches!(failing.await, Err(RemoteError::Panic { .. })));
                    // Its answer is in: a call pipelined on it now fails at
                    // once, with the same error.
                    assert!(matches!(
                        doomed.fork(2).pipeline().get().await,
                        Err(RemoteError::Panic { .. })
                    ));
                    // An application error: the caller who awaits sees it
                    // typed; the pipelined calls say why they could not run.
                    let checked = calc_async.spawn_checked(u64::MAX);
                    let pipelined = calc_async.spawn_checked(u64::MAX).pipeline();
                    assert!(matches!(
                        checked.await.unwrap(),
                        Err(MathError::Overflow { .. })
                    ));
                    match pipelined.next().await {
                        Err(RemoteError::Pipeline { reason }) => {
                            assert!(reason.contains("returned its error"), "{reason}")
                        }
                        other => panic!("expected a pipeline error, got {other:?}"),
                    }
                    // And when it succeeds, pipelining on it works.
                    let fine = calc_async.spawn_checked(3).pipeline();
                    assert_eq!(fine.next().await.unwrap(), 3);
                });
                client.sync().unwrap();
                eventually("every counter to be freed", || {
                    calc.live.load(Ordering::SeqCst) == 0
                });
                eventually("the server to forget the kept answers", || {
                    server.stats().peers.iter().all(|p| p.kept_answers == 0)
                });
            }

            #[test]
            fn a_returned_object_nobody_awaits_or_pipelines_on_is_released() {
                let (server, calc, dropped, connect) = setup();
                let client = connect();
                let proxy: CalculatorProxy = client.require("calculator").unwrap();
                let calc_async = proxy.to_async();
                // Not awaited at all.
                drop(calc_async.spawn_counter(1));
                // Pipelined on, then dropped with its call still in flight.
                let counter = calc_async.spawn_counter(2).pipeline();
                let call = counter.next();
                drop(counter);
                assert_eq!(futures::executor::block_on(call).unwrap(), 2);
                let mut freed = [expect_drop(&dropped), expect_drop(&dropped)];
                freed.sort_unstable();
                assert_eq!(freed, [1, 3]);
                assert_eq!(calc.live.load(Ordering::SeqCst), 0);
                client.sync().unwrap();
                eventually("the server to forget the kept answers", || {
                    server.stats().peers.iter().all(|p| p.kept_answers == 0)
                });
            }

            /// Three peers: the calculator's server A, a broker M that is
            /// A's client, and a client B of M's. M hands B proxies of A's
            /// objects; B's calls reach A through M.
            struct ThreePeers {
                a: Server,
                calc: Arc<Calc>,
                dropped: crossbeam_channel::Receiver<u64>,
                m: Server,
                /// M's connection to A.
                to_a: Client,
                /// B's connection to M.
                b: Client,
                // The listeners (and their temp dirs) last as long as this.
                _listening: [Connect; 2],
            }

            fn three_peers() -> ThreePeers {
                let (a, calc, dropped, connect_a) = setup();
                let to_a = connect_a();
                let (m, _broker) = broker_server(to_a.require("calculator").unwrap());
                let connect_m = <$transport as Transport>::serve(&m);
                let b = connect_m();
                ThreePeers {
                    a,
                    calc,
                    dropped,
                    m,
                    to_a,
                    b,
                    _listening: [connect_a, connect_m],
                }
            }

            #[test]
            fn a_proxy_forwarded_to_a_third_peer_works_by_relaying() {
                let peers = three_peers();
                let ThreePeers {
                    calc,
                    dropped,
                    m: server_m,
                    to_a,
                    b,
                    ..
                } = &peers;
                let broker_proxy: BrokerProxy = b.require("broker").unwrap();
                // A's counter, through M.
                let counter = broker_proxy.counter(5).unwrap();
                assert_eq!(counter.next().unwrap(), 5);
                assert_eq!(counter.get().unwrap(), 6);
                // An object A returns to a relayed call is relayed too.
                let forked = counter.fork(10).unwrap();
                assert_eq!(forked.get().unwrap(), 16);
                // A's calculator through M, given B's own object: A reaches
                // it through M, and B's object answers.
                let calc_via_m = broker_proxy.calculator().unwrap();
                assert_eq!(calc_via_m.add(2, 3).unwrap(), 5);
                let mine = Remote::new(TestCounter {
                    value: std::sync::atomic::AtomicU64::new(41),
                    live: Arc::new(std::sync::atomic::AtomicU64::new(1)),
                    dropped: None,
                });
                assert_eq!(calc_via_m.read_counter(mine).unwrap(), 41);
                // B's callback, relayed to A: A's calls of it reach B in
                // order, and before the reply of the call that made them.
                let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
                let log = seen.clone();
                calc_via_m
                    .count_to(
                        200,
                        remote::Callback::new(move |(i,): (u64,)| log.lock().unwrap().push(i)),
                    )
                    .unwrap();
                assert_eq!(*seen.lock().unwrap(), (0..200).collect::<Vec<u64>>());
                // Identity: M passing the same object twice gives B one
                // object; B passing it back gives M its own proxy, which A
                // recognises as its own object.
                let again = calc_via_m.echo_counter(&counter).unwrap();
                assert!(again.same_object(&counter));
                assert!(broker_proxy.hold(counter.clone().into_remote()).unwrap());
                assert_eq!(broker_proxy.read_held().unwrap(), vec![6]);
                broker_proxy.drop_held().unwrap();
                // Lifetimes end to end: B's drops release M's relays, which
                // release M's imports, and A frees the counters.
                drop((counter, again, forked));
                b.sync().unwrap();
                let mut freed = [expect_drop(&dropped), expect_drop(&dropped)];
                freed.sort_unstable();
                assert_eq!(freed, [6, 16]);
                assert_eq!(calc.live.load(Ordering::SeqCst), 0);
                // M still lends B the broker and the calculator's relay, and
                // holds nothing of B's (its counter went with the call).
                eventually("M to hold nothing of B's or for B", || {
                    let m = server_m.stats();
                    m.exported == 2 && m.imported == 0
                });
                let a = to_a.stats();
                assert_eq!(a.imported, 1, "M holds only A's calculator: {a:?}");
            }

            #[test]
            fn a_disconnect_on_either_side_of_a_relay_ends_its_calls_and_releases_everything() {
                // B goes away: what M relayed to B is released at A.
                let peers = three_peers();
                let ThreePeers {
                    calc, dropped, b, ..
                } = &peers;
                let broker_proxy: BrokerProxy = b.require("broker").unwrap();
                let counter = broker_proxy.counter(3).unwrap();
                assert_eq!(counter.get().unwrap(), 3);
                b.close();
                assert_eq!(expect_drop(dropped), 3);
                assert_eq!(calc.live.load(Ordering::SeqCst), 0);
                drop(counter);

                // M loses A: B's relayed calls fail with Disconnected, and
                // B's connection to M goes on.
                let peers = three_peers();
                let ThreePeers { a: server_a, b, .. } = &peers;
                let broker_proxy: BrokerProxy = b.require("broker").unwrap();
                let counter = broker_proxy.counter(1).unwrap();
                assert_eq!(counter.get().unwrap(), 1);
                server_a.disconnect_all();
                common::eventually("relayed calls to fail", || {
                    matches!(counter.get(), Err(RemoteError::Disconnected))
                });
                assert!(broker_proxy.read_held().unwrap().is_empty());
            }

            #[test]
            fn a_stream_crosses_either_way_and_delivers_every_item_in_order() {
                let (_server, _calc, _d, connect) = setup();
                let client = connect();
                let calc: CalculatorProxy = client.require("calculator").unwrap();
                // Returned: the client reads what a server thread sends.
                let got: Vec<u64> = calc
                    .numbers(10_000)
                    .unwrap()
                    .into_iter()
                    .map(|item| item.unwrap())
                    .collect();
                assert_eq!(got, (0..10_000).collect::<Vec<_>>());
                // Passed as an argument: the server reads what the client
                // sends, while the call runs.
                let (sink, stream) = remote::channel(16);
                let producer = std::thread::spawn(move || {
                    for i in 0..5_000u64 {
                        sink.send(i).unwrap();
                    }
                });
                assert_eq!(calc.sum_stream(stream).unwrap(), Ok((0..5_000).sum()));
                producer.join().unwrap();
                // A sink passed to the server: it sends into this side's
                // stream, waiting for room as a local sink does, and the
                // stream ends when the server lets go of the sink.
                let (sink, stream) = remote::channel(16);
                let filler = {
                    let calc = calc.clone();
                    std::thread::spawn(move || calc.fill(sink, 3_000))
                };
                let got: Vec<u64> = stream.into_iter().map(|i| i.unwrap()).collect();
                assert_eq!(got, (0..3_000).collect::<Vec<_>>());
                assert_eq!(filler.join().unwrap().unwrap(), Ok(()));
                // Its reader gone, the server's sends fail.
                let (sink, stream) = remote::channel::<u64>(4);
                drop(stream);
                let refused = calc.fill(sink, 10).unwrap().unwrap_err();
                assert!(refused.contains("receiving end is gone"), "{refused}");
                // The futures `Stream` of an async reader, and a stream that
                // goes from the server back to the server arrives whole.
                futures::executor::block_on(async {
                    use futures::StreamExt;
                    let calc = calc.to_async();
                    let numbers = calc.numbers(300).await.unwrap();
                    let got: Vec<u64> = numbers.map(|i| i.unwrap()).collect().await;
                    assert_eq!(got, (0..300).collect::<Vec<_>>());
                    let numbers = calc.numbers(100).await.unwrap();
                    assert_eq!(calc.sum_stream(numbers).await.unwrap(), Ok(4_950));
                });
            }

            #[test]
            fn a_stream_is_bounded_by_its_window_and_its_producer_learns_when_the_reader_goes() {
                let (server, _calc, _d, connect) = setup();
                let client = connect();
                let calc: CalculatorProxy = client.require("calculator").unwrap();
                let mut feed = calc.open_feed(8).unwrap();
                // Nobody reads: the window fills, and the producer stops.
                assert_eq!(calc.feed(100).unwrap(), Some(8));
                assert_eq!(calc.feed(100).unwrap(), Some(0));
                // Reading takes them (one pull takes what waits), which
                // makes room for at least as many again (more when the
                // reader's next pull, already waiting, takes some at once).
                let first: Vec<u64> = (0..8).map(|_| feed.recv().unwrap().unwrap()).collect();
                assert_eq!(first, (0..8).collect::<Vec<_>>());
                let more = calc.feed(100).unwrap().unwrap();
                assert!((8..=100).contains(&more), "{more}");
                let next: Vec<u64> = (0..more).map(|_| feed.recv().unwrap().unwrap()).collect();
                assert_eq!(next, (8..8 + more).collect::<Vec<_>>());
                // Dropping the reading end tells the producer.
                drop(feed);
                client.sync().unwrap();
                assert_eq!(calc.feed(1).unwrap(), None);
                // A reader whose connection ends gets an error, not silence.
                let mut numbers = calc.numbers(u64::MAX).unwrap();
                assert_eq!(numbers.recv().unwrap().unwrap(), 0);
                server.disconnect_all();
                let mut last = None;
                while let Some(item) = numbers.recv() {
                    if let Err(e) = item {
                        last = Some(e);
                    }
                }
                assert!(
                    matches!(last, Some(RemoteError::Disconnected)),
                    "{last:?}"
                );
            }

            #[test]
            fn a_burst_of_large_replies_arrives_whole() {
                let (_server, _calc, _d, connect) = setup();
                let client = connect();
                let calc: CalculatorProxy = client.require("calculator").unwrap();
                let calc = calc.to_async();
                let big = "x".repeat(20_000);
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    // All sent before any reply is read: the replies come back
                    // as one burst of over a megabyte.
                    let calls: Vec<_> = (0..64).map(|_| calc.greet(&big)).collect();
                    for call in calls {
                        assert_eq!(call.await.unwrap().len(), big.len() + 7);
                    }
                });
            }

            #[test]
            fn a_dropped_async_call_frees_its_slot() {
                let (_server, _calc, _d, connect) = setup();
                let client = connect();
                let calc: CalculatorProxy = client.require("calculator").unwrap();
                let calc = calc.to_async();
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    for _ in 0..100 {
                        let fut = calc.add(1, 2);
                        // Poll once, then drop it.
                        let _ = futures::poll!(Box::pin(fut));
                    }
                    assert_eq!(calc.add(1, 2).await.unwrap(), 3);
                });
                assert_eq!(client.stats().in_flight, 0);
            }
        }
    };
}

behaviour_tests!(in_process, InProcess);
behaviour_tests!(unix, Unix);
behaviour_tests!(tcp, Tcp);
#[cfg(feature = "tls")]
behaviour_tests!(tls, Tls);
behaviour_tests!(duplex, Duplex);

/// The same trait as `common::Calculator`, as an older build had it.
mod old {
    #[remote::remote_object]
    pub trait Calculator: Send + Sync {
        fn add(&self, a: i32, b: i32) -> i32;
        fn retired(&self);
        fn greet(&self, name: &str) -> String;
    }
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum FileError {
    NotFound(String),
    Remote(String),
}

impl From<RemoteError> for FileError {
    fn from(e: RemoteError) -> Self {
        FileError::Remote(e.to_string())
    }
}

#[remote::remote_object]
pub trait Files: Send + Sync {
    fn size(&self, name: &str) -> Result<usize, FileError>;
}

struct MemFiles;
impl Files for MemFiles {
    fn size(&self, name: &str) -> Result<usize, FileError> {
        match name {
            "a.txt" => Ok(5),
            other => Err(FileError::NotFound(other.into())),
        }
    }
}

#[test]
fn client_debug_names_the_peer() {
    let server = Server::new();
    let client = Client::in_process(&server).unwrap();
    assert!(format!("{client:?}").contains("in-process"));
}
