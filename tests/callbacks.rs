//! Callbacks passed to the server: invoked asynchronously and in order, never
//! deadlocking, never leaking, and with a typed answer when one is wanted.
//! Run on every transport.
#![allow(missing_docs)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use common::*;
use crossbeam_channel::{unbounded, Sender};
use remote::{remote_object, Callback, Listeners, RemoteError, Server};

/// The seeds' mapNumbers module, typed.
#[remote_object]
pub trait MapNumbers: Send + Sync {
    /// Electron's trap, impossible here: a `Callback<(i32,)>` has no return
    /// value, so the server can only notify it.
    fn notify_each(&self, listener: Callback<(i32,)>) -> usize;
    /// When an answer is wanted, the callback says so in its type and the
    /// server waits for each answer.
    fn with_renderer_callback(&self, mapper: Callback<(i32,), i32>) -> Result<Vec<i32>, String>;
    fn with_local_callback(&self) -> Vec<i32>;
}

struct Mapper;
impl MapNumbers for Mapper {
    fn notify_each(&self, listener: Callback<(i32,)>) -> usize {
        [1, 2, 3]
            .iter()
            .filter(|&&x| listener.call((x,)).is_ok())
            .count()
    }
    fn with_renderer_callback(&self, mapper: Callback<(i32,), i32>) -> Result<Vec<i32>, String> {
        [1, 2, 3]
            .iter()
            .map(|&x| {
                mapper
                    .ask((x,))
                    .deadline(BOUND)
                    .wait()
                    .map_err(|e| e.to_string())
            })
            .collect()
    }
    fn with_local_callback(&self) -> Vec<i32> {
        [1, 2, 3].iter().map(|x| x + 1).collect()
    }
}

/// A server object whose methods take and keep callbacks.
#[remote_object]
pub trait Events: Send + Sync {
    fn fire(&self, listener: Callback<(u32,)>, count: u32);
    fn keep(&self, listener: Callback<(u32,)>);
    fn fire_kept(&self, value: u32) -> Result<(), RemoteError>;
    fn kept_is_closed(&self) -> bool;
    fn forget(&self);
    /// Calls `listener`, then waits until `ack` is called (the listener does
    /// it), all while the caller is blocked in this call.
    fn trigger_and_wait_for_ack(&self, listener: Callback<()>) -> bool;
    fn ack(&self);
    fn same_as_kept(&self, listener: Callback<(u32,)>) -> bool;
}

#[derive(Default)]
struct EventSource {
    kept: Mutex<Option<Callback<(u32,)>>>,
    acked: Mutex<bool>,
    ack_signal: Condvar,
    closed_seen: Arc<AtomicBool>,
}

impl Events for EventSource {
    fn fire(&self, listener: Callback<(u32,)>, count: u32) {
        for i in 0..count {
            listener.call((i,)).expect("listener alive");
        }
    }
    fn keep(&self, listener: Callback<(u32,)>) {
        let seen = self.closed_seen.clone();
        listener
            .on_close(move || seen.store(true, Ordering::SeqCst))
            .keep();
        *self.kept.lock().unwrap() = Some(listener);
    }
    fn fire_kept(&self, value: u32) -> Result<(), RemoteError> {
        let kept = self.kept.lock().unwrap().clone();
        kept.expect("a kept listener").call((value,))
    }
    fn kept_is_closed(&self) -> bool {
        self.kept
            .lock()
            .unwrap()
            .as_ref()
            .is_some_and(|k| k.is_closed())
    }
    fn forget(&self) {
        self.kept.lock().unwrap().take();
    }
    fn trigger_and_wait_for_ack(&self, listener: Callback<()>) -> bool {
        *self.acked.lock().unwrap() = false;
        listener.call(()).expect("listener alive");
        let acked = self.acked.lock().unwrap();
        let (acked, _) = self
            .ack_signal
            .wait_timeout_while(acked, BOUND, |acked| !*acked)
            .unwrap();
        *acked
    }
    fn ack(&self) {
        *self.acked.lock().unwrap() = true;
        self.ack_signal.notify_all();
    }
    fn same_as_kept(&self, listener: Callback<(u32,)>) -> bool {
        self.kept
            .lock()
            .unwrap()
            .as_ref()
            .is_some_and(|k| k.same_callback(&listener))
    }
}

/// The window a renderer belongs to, with Electron's `close` event.
#[remote_object]
pub trait Window: Send + Sync {
    fn on_close(&self, handler: Callback<()>);
    fn on_before_close(&self, handler: Callback<(String,), bool>);
    /// Asks the before-close handlers (each within `deadline_ms`); closes
    /// and emits `close` unless one of them said no. Returns whether it
    /// closed.
    fn close(&self, deadline_ms: u64) -> bool;
    fn listeners(&self) -> (usize, usize);
}

#[derive(Default)]
struct TheWindow {
    close: Listeners<()>,
    before_close: Listeners<(String,), bool>,
}

impl Window for TheWindow {
    fn on_close(&self, handler: Callback<()>) {
        self.close.add(handler);
    }
    fn on_before_close(&self, handler: Callback<(String,), bool>) {
        self.before_close.add(handler);
    }
    fn close(&self, deadline_ms: u64) -> bool {
        let answers = self.before_close.ask_all_blocking(
            ("user clicked close".into(),),
            Duration::from_millis(deadline_ms),
        );
        // A handler that did not answer in time does not veto.
        let vetoed = answers.iter().any(|a| matches!(a, Ok(false)));
        if !vetoed {
            self.close.emit(());
        }
        !vetoed
    }
    fn listeners(&self) -> (usize, usize) {
        (self.close.len(), self.before_close.len())
    }
}

struct Fixture {
    server: Server,
    events: Arc<EventSource>,
    connect: Connect,
}

fn fixture<T: Transport>() -> Fixture {
    let server = Server::new();
    let events = Arc::new(EventSource::default());
    server.export("map", Arc::new(Mapper) as Arc<dyn MapNumbers>);
    server.export("events", events.clone() as Arc<dyn Events>);
    server.export("window", Arc::new(TheWindow::default()) as Arc<dyn Window>);
    let connect = T::serve(&server);
    Fixture {
        server,
        events,
        connect,
    }
}

/// Signals when dropped: lets a test see a closure being dropped.
struct DropSignal(Sender<()>);
impl Drop for DropSignal {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

/// A callback and the line it was created on (outside the test macro, whose
/// expansion would report the macro's line).
fn callback_made_here() -> (Callback<(u32,)>, u32) {
    (Callback::new(|(_,): (u32,)| {}), line!())
}

macro_rules! callback_tests {
    ($module:ident, $transport:ty) => {
        mod $module {
            use super::*;

            #[test]
            fn map_numbers_gets_the_same_answer_as_a_local_callback() {
                let f = fixture::<$transport>();
                let map: MapNumbersProxy = (f.connect)().require("map").unwrap();
                let with_renderer = map
                    .with_renderer_callback(Callback::new(|(x,): (i32,)| x + 1))
                    .unwrap()
                    .unwrap();
                let with_local = map.with_local_callback().unwrap();
                assert_eq!(with_renderer, vec![2, 3, 4]);
                assert_eq!(with_renderer, with_local);
                // A notification-only callback: the server can call it, and
                // there is no value to lose.
                let (tx, rx) = unbounded();
                let reached = map
                    .notify_each(Callback::new(move |(x,): (i32,)| tx.send(x).unwrap()))
                    .unwrap();
                assert_eq!(reached, 3);
                let got: Vec<i32> = (0..3).map(|_| rx.recv_timeout(BOUND).unwrap()).collect();
                assert_eq!(got, vec![1, 2, 3]);
            }

            #[test]
            fn invocations_run_in_the_order_the_server_made_them() {
                let f = fixture::<$transport>();
                let events: EventsProxy = (f.connect)().require("events").unwrap();
                let (tx, rx) = unbounded();
                events
                    .fire(Callback::new(move |(i,): (u32,)| tx.send(i).unwrap()), 2000)
                    .unwrap();
                let got: Vec<u32> = (0..2000).map(|_| rx.recv_timeout(BOUND).unwrap()).collect();
                assert_eq!(got, (0..2000).collect::<Vec<_>>());
            }

            /// Progress events a call emitted have all run by the time the
            /// call returns, blocking or async (they used to trail it).
            #[test]
            fn events_a_call_emitted_have_run_when_it_returns() {
                let f = fixture::<$transport>();
                let events: EventsProxy = (f.connect)().require("events").unwrap();
                let seen = Arc::new(AtomicU64::new(0));
                for round in 0..50u64 {
                    let s = seen.clone();
                    let listener = Callback::new(move |(_,): (u32,)| {
                        s.fetch_add(1, Ordering::SeqCst);
                    });
                    if round % 2 == 0 {
                        events.fire(listener, 20).unwrap();
                    } else {
                        futures::executor::block_on(events.to_async().fire(listener, 20)).unwrap();
                    }
                    assert_eq!(
                        seen.load(Ordering::SeqCst),
                        20 * (round + 1),
                        "round {round}"
                    );
                }
            }

            #[test]
            fn a_callback_may_call_the_server_while_the_caller_waits_on_it() {
                let f = fixture::<$transport>();
                let events: EventsProxy = (f.connect)().require("events").unwrap();
                let inner = events.clone();
                let listener = Callback::new(move |()| inner.ack().expect("ack from the callback"));
                // The main thread blocks in this call; the server blocks until
                // the callback's own synchronous call arrives.
                assert!(events.trigger_and_wait_for_ack(listener).unwrap());
            }

            #[test]
            fn an_answer_can_veto_and_a_deadline_bounds_it() {
                let f = fixture::<$transport>();
                let client = (f.connect)();
                let window: WindowProxy = client.require("window").unwrap();
                let (closed_tx, closed) = unbounded();
                window
                    .on_close(Callback::new(move |()| closed_tx.send(()).unwrap()))
                    .unwrap();
                let allow = Arc::new(AtomicBool::new(false));
                let a = allow.clone();
                window
                    .on_before_close(Callback::new(move |(_why,): (String,)| {
                        a.load(Ordering::SeqCst)
                    }))
                    .unwrap();
                // The handler says no: the window stays open.
                assert!(!window.close(5_000).unwrap());
                assert!(closed.try_recv().is_err());
                allow.store(true, Ordering::SeqCst);
                assert!(window.close(5_000).unwrap());
                closed.recv_timeout(BOUND).expect("close emitted");
                // A handler that never answers cannot hold the close forever.
                let (_never_tx, never) = unbounded::<()>();
                window
                    .on_before_close(Callback::new(move |(_why,): (String,)| {
                        let _ = never.recv_timeout(BOUND);
                        false
                    }))
                    .unwrap();
                let start = std::time::Instant::now();
                assert!(
                    window.close(100).unwrap(),
                    "a timed-out handler does not veto"
                );
                assert!(start.elapsed() < Duration::from_secs(5));
            }

            #[test]
            fn the_closure_lives_while_the_server_holds_it() {
                let f = fixture::<$transport>();
                let client = (f.connect)();
                let events: EventsProxy = client.require("events").unwrap();
                let (dropped_tx, dropped) = unbounded();
                let (got_tx, got) = unbounded();
                let guard = DropSignal(dropped_tx);
                events
                    .keep(Callback::new(move |(v,): (u32,)| {
                        let _ = &guard;
                        got_tx.send(v).unwrap();
                    }))
                    .unwrap();
                // Our last local copy is gone; the server's keeps it alive.
                assert!(dropped.try_recv().is_err());
                events.fire_kept(7).unwrap().unwrap();
                assert_eq!(got.recv_timeout(BOUND).unwrap(), 7);
                events.forget().unwrap();
                dropped
                    .recv_timeout(BOUND)
                    .expect("closure dropped after the server forgot it");
                client.sync().unwrap();
                assert_eq!(client.stats().exported, 0, "no callback left on our side");
            }

            #[test]
            fn a_callback_whose_client_left_is_closed_and_says_where_it_was_made() {
                let f = fixture::<$transport>();
                let client = (f.connect)();
                let events: EventsProxy = client.require("events").unwrap();
                let (callback, line) = callback_made_here();
                events.keep(callback).unwrap();
                assert!(!events.kept_is_closed().unwrap());
                client.close();
                eventually("the server saw the client leave", || {
                    f.events.closed_seen.load(Ordering::SeqCst)
                });
                let probe: EventsProxy = (f.connect)().require("events").unwrap();
                assert!(probe.kept_is_closed().unwrap());
                match probe.fire_kept(1).unwrap() {
                    Err(RemoteError::CallbackClosed { created_at }) => {
                        assert!(
                            created_at.contains(&format!("tests/callbacks.rs:{line}:")),
                            "{created_at}"
                        );
                    }
                    other => panic!("expected CallbackClosed, got {other:?}"),
                }
                probe.forget().unwrap();
            }

            #[test]
            fn the_same_closure_passed_twice_is_one_handle() {
                let f = fixture::<$transport>();
                let client = (f.connect)();
                let events: EventsProxy = client.require("events").unwrap();
                let cb = Callback::new(|(_,): (u32,)| {});
                events.keep(cb.clone()).unwrap();
                assert!(events.same_as_kept(cb.clone()).unwrap());
                assert!(!events
                    .same_as_kept(Callback::new(|(_,): (u32,)| {}))
                    .unwrap());
                client.sync().unwrap();
                assert_eq!(client.stats().exported, 1, "one entry for one closure");
                events.forget().unwrap();
            }

            #[test]
            fn closing_while_callbacks_are_queued_ends_cleanly() {
                let f = fixture::<$transport>();
                let client = (f.connect)();
                let events: EventsProxy = client.require("events").unwrap();
                let (ran_tx, ran) = unbounded();
                let (gate_tx, gate) = unbounded::<()>();
                // `fire` returns once the invocations it made have run (its
                // reply waits for them), so it waits on its own thread.
                let firing = {
                    let events = events.clone();
                    std::thread::spawn(move || {
                        events.fire(
                            Callback::new(move |(i,): (u32,)| {
                                let _ = ran_tx.send(i);
                                // The first invocation waits, so the rest
                                // queue up.
                                if i == 0 {
                                    let _ = gate.recv_timeout(BOUND);
                                }
                            }),
                            500,
                        )
                    })
                };
                assert_eq!(ran.recv_timeout(BOUND).unwrap(), 0);
                client.close();
                // The call ends with the connection, before the queue drains.
                assert_eq!(firing.join().unwrap(), Err(RemoteError::Disconnected));
                drop(gate_tx);
                // The queued invocations run or are dropped; either way the
                // callback thread ends and nothing is left on either side.
                eventually("the server forgot the connection", || {
                    f.server.stats().connections == 0
                });
                assert_eq!(
                    events.fire(Callback::new(|_: (u32,)| {}), 1),
                    Err(RemoteError::Disconnected)
                );
                assert_eq!(client.stats().exported, 0);
            }

            #[test]
            fn a_reloading_renderer_leaves_exactly_one_live_close_handler() {
                let f = fixture::<$transport>();
                let calls = Arc::new(AtomicU64::new(0));
                let mut last = None;
                for _ in 0..100 {
                    // A renderer loads: registers a close handler on its
                    // window, then reloads (disconnects) without removing it.
                    let client = (f.connect)();
                    let window: WindowProxy = client.require("window").unwrap();
                    let c = calls.clone();
                    window
                        .on_close(Callback::new(move |()| {
                            c.fetch_add(1, Ordering::SeqCst);
                        }))
                        .unwrap();
                    if let Some(previous) = last.replace((client, window)) {
                        drop(previous);
                    }
                }
                let (client, window) = last.expect("a live renderer");
                eventually("dead handlers pruned", || {
                    window.listeners().unwrap().0 == 1
                });
                assert!(window.close(1_000).unwrap());
                eventually("the live handler ran", || calls.load(Ordering::SeqCst) == 1);
                client.sync().unwrap();
                assert_eq!(calls.load(Ordering::SeqCst), 1, "exactly one handler ran");
                let stats = f.server.stats();
                assert_eq!(stats.connections, 1, "{stats:?}");
                assert_eq!(
                    stats.imported, 1,
                    "only the live renderer's handler: {stats:?}"
                );
            }
        }
    };
}

callback_tests!(in_process, InProcess);
callback_tests!(unix, Unix);
callback_tests!(tcp, Tcp);
#[cfg(feature = "tls")]
callback_tests!(tls, Tls);
callback_tests!(duplex, Duplex);

#[test]
fn a_local_callback_runs_in_place_and_never_closes() {
    let (tx, rx) = unbounded();
    let cb: Callback<(u8,), u8> = Callback::new(move |(x,)| {
        tx.send(x).unwrap();
        x * 2
    });
    cb.call((3,)).unwrap();
    assert_eq!(rx.try_recv().unwrap(), 3);
    assert_eq!(cb.ask((4,)).wait().unwrap(), 8);
    assert!(!cb.is_closed());
    assert!(cb.created_at().contains("tests/callbacks.rs"));
}
