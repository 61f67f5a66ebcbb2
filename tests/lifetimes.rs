//! Object lifetimes across a connection: race-free release, identity, calls
//! racing drops, and counts that return to zero after churn. Run on every
//! transport.
#![allow(missing_docs)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use remote::{
    remote_object, Client, FrameHook, FrameKind, Options, Remote, RemoteError, Server, Verdict,
};

/// Hands out the same counter every time.
#[remote_object]
pub trait Holder: Send + Sync {
    fn get(&self) -> Remote<dyn Counter>;
    fn slow(&self) -> Remote<dyn Slow>;
}

/// An object whose method blocks until the test lets it go.
#[remote_object]
pub trait Slow: Send + Sync {
    fn wait(&self) -> u32;
}

struct TheHolder {
    counter: Arc<dyn Counter>,
    slow_entered: Sender<()>,
    slow_release: Receiver<()>,
    slow_dropped: Sender<&'static str>,
}

impl Holder for TheHolder {
    fn get(&self) -> Remote<dyn Counter> {
        Remote::from_arc(self.counter.clone())
    }
    fn slow(&self) -> Remote<dyn Slow> {
        Remote::new(SlowOne {
            entered: self.slow_entered.clone(),
            release: self.slow_release.clone(),
            events: self.slow_dropped.clone(),
        })
    }
}

struct SlowOne {
    entered: Sender<()>,
    release: Receiver<()>,
    events: Sender<&'static str>,
}

impl Slow for SlowOne {
    fn wait(&self) -> u32 {
        self.entered.send(()).unwrap();
        self.release
            .recv_timeout(BOUND)
            .expect("test releases the method");
        self.events.send("method returned").unwrap();
        7
    }
}

impl Drop for SlowOne {
    fn drop(&mut self) {
        let _ = self.events.send("dropped");
    }
}

struct Fixture {
    server: Server,
    counter_dropped: Receiver<u64>,
    slow_entered: Receiver<()>,
    slow_release: Sender<()>,
    slow_events: Receiver<&'static str>,
    connect: Connect,
}

fn fixture<T: Transport>() -> Fixture {
    fixture_with::<T>(Options::new())
}

fn fixture_with<T: Transport>(options: Options) -> Fixture {
    let (dropped_tx, counter_dropped) = unbounded();
    let (entered_tx, slow_entered) = unbounded();
    let (slow_release, release_rx) = unbounded();
    let (events_tx, slow_events) = unbounded();
    let holder = TheHolder {
        counter: Arc::new(TestCounter {
            value: 0.into(),
            live: Arc::new(AtomicU64::new(1)),
            dropped: Some(dropped_tx),
        }),
        slow_entered: entered_tx,
        slow_release: release_rx,
        slow_dropped: events_tx,
    };
    let server = Server::with_options(options);
    server.export("holder", Arc::new(holder) as Arc<dyn Holder>);
    server.export("calculator", Calc::new().0 as Arc<dyn Calculator>);
    let connect = T::serve(&server);
    Fixture {
        server,
        counter_dropped,
        slow_entered,
        slow_release,
        slow_events,
        connect,
    }
}

/// Once armed, holds the next reply until the test opens the gate.
struct HoldNextReply {
    held: Sender<()>,
    gate: Receiver<()>,
    armed: Mutex<bool>,
}

impl FrameHook for HoldNextReply {
    fn before_send(&self, kind: FrameKind) -> Verdict {
        if kind == FrameKind::Reply && std::mem::take(&mut *self.armed.lock().unwrap()) {
            self.held.send(()).unwrap();
            self.gate.recv_timeout(BOUND).expect("test opens the gate");
        }
        Verdict::Send
    }
}

/// Tells the test each time a release frame is written.
struct SignalReleases(Sender<()>);

impl FrameHook for SignalReleases {
    fn before_send(&self, kind: FrameKind) -> Verdict {
        if kind == FrameKind::Release {
            let _ = self.0.send(());
        }
        Verdict::Send
    }
}

/// Holds every reply back a few milliseconds before it is written, as a busy
/// socket or a descheduled writer would.
struct LateReplies;

impl FrameHook for LateReplies {
    fn before_send(&self, kind: FrameKind) -> Verdict {
        if kind == FrameKind::Reply {
            std::thread::sleep(std::time::Duration::from_millis(3));
        }
        Verdict::Send
    }
}

fn connect_with<T: Transport>(f: &Fixture, options: Options) -> Client {
    T::connect_with(&f.server, options)
}

macro_rules! lifetime_tests {
    ($module:ident, $transport:ty) => {
        mod $module {
            use super::*;

            #[test]
            fn a_handle_resent_while_its_release_is_in_flight_stays_alive() {
                let (held_tx, held) = bounded(1);
                let (open, gate) = bounded(1);
                let hook = Arc::new(HoldNextReply {
                    held: held_tx,
                    gate,
                    armed: Mutex::new(false),
                });
                let f = fixture_with::<$transport>(Options::new().hook(hook.clone()));
                let (released_tx, released) = unbounded();
                let client = connect_with::<$transport>(
                    &f,
                    Options::new().hook(Arc::new(SignalReleases(released_tx))),
                );
                let holder: HolderProxy = client.require("holder").unwrap();
                let first = holder.get().unwrap();
                assert_eq!(first.next().unwrap(), 0);
                // The server sends the same object again; its reply waits.
                *hook.armed.lock().unwrap() = true;
                let second = holder.to_async().get();
                held.recv_timeout(BOUND)
                    .expect("the server sent the counter again");
                assert_eq!(f.server.stats().exported, 2, "holder + counter");
                // Meanwhile the client releases its first receipt: the
                // release and the re-send cross on the wire.
                drop(first);
                released
                    .recv_timeout(BOUND)
                    .expect("the release was written");
                open.send(()).unwrap();
                let second = futures::executor::block_on(second).unwrap().to_blocking();
                // The stale release arrived; the second receipt keeps it alive.
                client.sync().unwrap();
                assert_eq!(
                    f.server.stats().exported,
                    2,
                    "the counter is still exported"
                );
                assert_eq!(second.next().unwrap(), 1);
                drop(second);
                client.sync().unwrap();
                assert_eq!(f.server.stats().exported, 1, "only the holder is left");
                // The holder itself still owns the counter: no drop.
                assert!(f.counter_dropped.try_recv().is_err());
            }

            /// A proxy the server returns to its owner holds the handle
            /// until its reply is queued, so the server's release (its copy
            /// is dropped as the method returns) can never overtake the
            /// reply. Before the counted protocol this failed on every
            /// iteration with `NoSuchObject`.
            #[test]
            fn a_handle_passed_home_survives_a_reply_that_leaves_late() {
                let server = Server::with_options(Options::new().hook(Arc::new(LateReplies)));
                server.export("calculator", Calc::new().0 as Arc<dyn Calculator>);
                let connect = <$transport>::serve(&server);
                let client = connect();
                let calc: CalculatorProxy = client.require("calculator").unwrap();
                let mine = Remote::<dyn Counter>::new(TestCounter {
                    value: 5.into(),
                    live: Arc::new(AtomicU64::new(1)),
                    dropped: None,
                });
                for round in 0..20 {
                    let back = calc
                        .echo_counter(mine.clone())
                        .unwrap_or_else(|e| panic!("round {round}: {e}"));
                    assert!(
                        remote::Proxy::as_remote(&back)
                            .local()
                            .is_some_and(|a| Arc::ptr_eq(a, mine.local().unwrap())),
                        "round {round}: not our own object"
                    );
                }
                client.sync().unwrap();
                assert_eq!(server.stats().imported, 0, "the server let go of it");
            }

            /// A plain method still running when its caller's connection
            /// closes cannot be stopped: it is counted as orphaned until it
            /// ends.
            #[test]
            fn calls_running_after_their_caller_left_are_counted() {
                let f = fixture::<$transport>();
                let client = (f.connect)();
                let holder: HolderProxy = client.require("holder").unwrap();
                let slow = holder.slow().unwrap();
                assert_eq!(f.server.stats().orphaned_calls, 0);
                let caller = std::thread::spawn(move || slow.wait());
                f.slow_entered.recv_timeout(BOUND).expect("method started");
                assert_eq!(f.server.stats().peers[0].serving, 1);
                client.close();
                assert_eq!(caller.join().unwrap(), Err(RemoteError::Disconnected));
                eventually("the running call counted as orphaned", || {
                    f.server.stats().orphaned_calls == 1
                });
                f.slow_release.send(()).unwrap();
                eventually("the orphan ended", || f.server.stats().orphaned_calls == 0);
            }

            #[test]
            fn one_object_received_twice_is_one_entry() {
                let f = fixture::<$transport>();
                let client = (f.connect)();
                let holder: HolderProxy = client.require("holder").unwrap();
                let a = holder.get().unwrap();
                let b = holder.get().unwrap();
                assert!(a.same_object(&b));
                assert!(a.to_async().same_object(&b));
                assert_eq!(
                    client.stats().imported,
                    2,
                    "holder + one shared counter entry"
                );
                a.next().unwrap();
                assert_eq!(b.next().unwrap(), 1);
            }

            #[test]
            fn a_call_in_flight_completes_while_other_clones_are_dropped() {
                let f = fixture::<$transport>();
                let client = (f.connect)();
                let holder: HolderProxy = client.require("holder").unwrap();
                let slow = holder.slow().unwrap();
                let other = slow.clone();
                let caller = std::thread::spawn(move || slow.wait());
                f.slow_entered.recv_timeout(BOUND).expect("method started");
                drop(other);
                client.sync().unwrap();
                f.slow_release.send(()).unwrap();
                assert_eq!(caller.join().unwrap().unwrap(), 7);
                assert_eq!(
                    f.slow_events.recv_timeout(BOUND).unwrap(),
                    "method returned"
                );
                assert_eq!(f.slow_events.recv_timeout(BOUND).unwrap(), "dropped");
            }

            #[test]
            fn a_release_during_a_running_method_never_frees_the_object_under_it() {
                let f = fixture::<$transport>();
                let client = (f.connect)();
                let holder: HolderProxy = client.require("holder").unwrap();
                let slow = holder.slow().unwrap().to_async();
                // Start the call, abandon its reply, and drop the last proxy:
                // the release reaches the server while the method runs.
                let call = slow.wait();
                f.slow_entered.recv_timeout(BOUND).expect("method started");
                drop(call);
                drop(slow);
                client.sync().unwrap();
                assert!(f.slow_events.try_recv().is_err(), "nothing dropped yet");
                f.slow_release.send(()).unwrap();
                assert_eq!(
                    f.slow_events.recv_timeout(BOUND).unwrap(),
                    "method returned"
                );
                assert_eq!(f.slow_events.recv_timeout(BOUND).unwrap(), "dropped");
                assert_eq!(client.stats().in_flight, 0);
            }

            #[test]
            fn counts_return_to_zero_after_ten_thousand_objects() {
                let f = fixture::<$transport>();
                let client = (f.connect)();
                let calc: CalculatorProxy = client.require("calculator").unwrap();
                for round in 0..10 {
                    let batch = calc.spawn_many(500).unwrap();
                    assert_eq!(batch.len(), 500);
                    drop(batch);
                    for i in 0..500 {
                        let c = calc.spawn_counter(i).unwrap();
                        if i % 100 == 0 {
                            assert_eq!(c.get().unwrap(), i, "round {round}");
                        }
                    }
                }
                client.sync().unwrap();
                assert_eq!(calc.live_counters().unwrap(), 0);
                let stats = f.server.stats();
                assert_eq!(stats.exported, 1, "only the calculator: {stats:?}");
                assert_eq!(client.stats().imported, 1);
                assert_eq!(client.stats().in_flight, 0);
            }

            #[test]
            fn counts_return_to_zero_after_a_hundred_clients() {
                let f = fixture::<$transport>();
                for _ in 0..100 {
                    let client = (f.connect)();
                    let calc: CalculatorProxy = client.require("calculator").unwrap();
                    let _kept = calc.spawn_many(3).unwrap();
                    assert_eq!(calc.add(1, 2).unwrap(), 3);
                }
                eventually("every connection closed", || {
                    f.server.stats().connections == 0
                });
                let stats = f.server.stats();
                assert_eq!((stats.exported, stats.imported), (0, 0), "{stats:?}");
                let probe = (f.connect)();
                let calc: CalculatorProxy = probe.require("calculator").unwrap();
                assert_eq!(calc.live_counters().unwrap(), 0);
            }
        }
    };
}

lifetime_tests!(in_process, InProcess);
lifetime_tests!(unix, Unix);
lifetime_tests!(tcp, Tcp);
#[cfg(feature = "tls")]
lifetime_tests!(tls, Tls);
lifetime_tests!(duplex, Duplex);

#[test]
fn release_counts_are_batched() {
    struct CountReleases(AtomicU64);
    impl FrameHook for CountReleases {
        fn before_send(&self, kind: FrameKind) -> Verdict {
            if kind == FrameKind::Release {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
            Verdict::Send
        }
    }
    let f = fixture::<InProcess>();
    let hook = Arc::new(CountReleases(AtomicU64::new(0)));
    let client = Client::in_process_with(&f.server, Options::new().hook(hook.clone())).unwrap();
    let calc: CalculatorProxy = client.require("calculator").unwrap();
    let many = calc.spawn_many(1000).unwrap();
    let proxies: Vec<CounterProxy> = many.into_iter().map(Remote::into_proxy).collect();
    drop(proxies);
    client.sync().unwrap();
    assert_eq!(calc.live_counters().unwrap(), 0);
    let frames = hook.0.load(Ordering::SeqCst);
    assert!(frames < 100, "1000 drops took {frames} release frames");
}

#[test]
fn a_closed_connection_reports_disconnected_not_stale_objects() {
    let f = fixture::<InProcess>();
    let client = (f.connect)();
    let calc: CalculatorProxy = client.require("calculator").unwrap();
    let c = calc.spawn_counter(1).unwrap();
    client.close();
    assert_eq!(c.next(), Err(RemoteError::Disconnected));
}
