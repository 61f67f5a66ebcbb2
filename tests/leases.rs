//! Leases: a peer that stays connected but silent loses what it held; a live
//! peer that is merely idle keeps it. Run on every transport.
#![allow(missing_docs)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use remote::{FrameHook, FrameKind, Options, RemoteError, Server, Verdict};

/// Plays a peer that hangs without closing: it never renews.
struct NeverRenew;
impl FrameHook for NeverRenew {
    fn before_send(&self, kind: FrameKind) -> Verdict {
        if kind == FrameKind::Renew {
            Verdict::Drop
        } else {
            Verdict::Send
        }
    }
}

const LEASE: Duration = Duration::from_millis(300);

fn short_lease_server() -> (Server, Arc<Calc>, crossbeam_channel::Receiver<u64>) {
    let (calc, dropped) = Calc::new();
    let server = Server::with_options(Options::new().lease(LEASE));
    server.export("calculator", calc.clone() as Arc<dyn Calculator>);
    (server, calc, dropped)
}

macro_rules! lease_tests {
    ($module:ident, $transport:ty) => {
        mod $module {
            use super::*;

            #[test]
            fn a_silent_peer_loses_everything_and_learns_it_on_its_next_call() {
                let (server, calc_obj, dropped) = short_lease_server();
                let client = <$transport as Transport>::connect_with(
                    &server,
                    Options::new().hook(Arc::new(NeverRenew)),
                );
                let calc: CalculatorProxy = client.require("calculator").unwrap();
                let counter = calc.spawn_counter(5).unwrap();
                assert_eq!(counter.get().unwrap(), 5);
                let started = Instant::now();
                // The owner releases the counter once the lease lapses.
                assert_eq!(expect_drop(&dropped), 5);
                assert!(
                    started.elapsed() >= LEASE / 2,
                    "released too early: {:?}",
                    started.elapsed()
                );
                assert_eq!(calc_obj.live.load(std::sync::atomic::Ordering::SeqCst), 0);
                eventually("server forgot the connection", || {
                    server.stats().exported == 0
                });
                // The peer's next calls say why, on every proxy.
                eventually("the peer heard", || client.is_closed());
                assert_eq!(counter.get(), Err(RemoteError::LeaseExpired));
                assert_eq!(calc.add(1, 1), Err(RemoteError::LeaseExpired));
                assert!(matches!(
                    client.require::<CalculatorProxy>("calculator"),
                    Err(RemoteError::LeaseExpired)
                ));
            }

            #[test]
            fn an_idle_but_live_peer_keeps_its_objects() {
                let (server, _calc, dropped) = short_lease_server();
                let client = <$transport as Transport>::connect_with(&server, Options::new());
                let calc: CalculatorProxy = client.require("calculator").unwrap();
                let counter = calc.spawn_counter(1).unwrap();
                // It learned the server's lease and renews at a third of it.
                assert!(client.stats().renew_every <= LEASE / 3);
                // Idle for several leases: the scenario under test.
                std::thread::sleep(LEASE * 4);
                assert!(
                    dropped.try_recv().is_err(),
                    "a live peer's object was released"
                );
                assert_eq!(counter.next().unwrap(), 1);
                let stats = server.stats();
                assert_eq!(stats.exported, 2);
                assert!(stats.peers[0].lease_remaining > Duration::ZERO);
                assert_eq!(stats.peers[0].lease, LEASE);
            }

            #[test]
            fn a_peer_that_keeps_calling_needs_no_renewal_frames() {
                let (server, _calc, dropped) = short_lease_server();
                let client = <$transport as Transport>::connect_with(
                    &server,
                    Options::new().hook(Arc::new(NeverRenew)),
                );
                let calc: CalculatorProxy = client.require("calculator").unwrap();
                let counter = calc.spawn_counter(3).unwrap();
                // The client keeps talking (each call renews) for two leases.
                let until = Instant::now() + LEASE * 2;
                while Instant::now() < until {
                    assert_eq!(counter.get().unwrap(), 3);
                    std::thread::sleep(LEASE / 10);
                }
                assert!(dropped.try_recv().is_err());
            }
        }
    };
}

lease_tests!(in_process, InProcess);
lease_tests!(unix, Unix);
lease_tests!(tcp, Tcp);
#[cfg(feature = "tls")]
lease_tests!(tls, Tls);
lease_tests!(duplex, Duplex);
