//! A broken or hostile peer harms nobody else: capabilities are per
//! connection, bad bytes get a clear error or a closed connection, limits
//! hold, and every other client keeps being served. Peers here write raw
//! frames on real sockets.
#![allow(missing_docs)]

mod common;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use remote::testing::{self, RawReply};
use remote::{Access, Client, Listener, Options, RemoteError, Server};

const CALCULATOR_FP: u64 = <dyn Calculator as remote::__private::Interface>::FINGERPRINT;
const ADD: u32 = testing::method_id("add");
const SPAWN_COUNTER: u32 = testing::method_id("spawn_counter");

struct Fixture {
    server: Server,
    path: PathBuf,
    _listener: Listener,
    good: Client,
    /// Where the socket is; dropped last, after the listener.
    _dir: tempfile::TempDir,
}

fn fixture(options: Options) -> Fixture {
    let (calc, _dropped) = Calc::new();
    let server = Server::with_options(options);
    server.export("calculator", calc as Arc<dyn Calculator>);
    server.set_global("secret", "hunter2".to_string());
    server.set_global("motd", "hello".to_string());
    let dir = tempdir();
    let path = dir.path().join("server.sock");
    let listener = server.listen_unix(&path).unwrap();
    let good = Client::connect_unix(&path).unwrap();
    Fixture {
        server,
        path,
        _listener: listener,
        good,
        _dir: dir,
    }
}

impl Fixture {
    /// The well-behaved client is still fully served.
    fn assert_good_client_fine(&self) {
        let calc: CalculatorProxy = self.good.require("calculator").unwrap();
        assert_eq!(calc.add(2, 2).unwrap(), 4);
        let c = calc.spawn_counter(3).unwrap();
        assert_eq!(c.next().unwrap(), 3);
    }
}

/// A peer that writes frames by hand.
struct RawPeer {
    stream: UnixStream,
}

impl RawPeer {
    fn connect(path: &PathBuf) -> RawPeer {
        let mut stream = UnixStream::connect(path).unwrap();
        stream.set_read_timeout(Some(BOUND)).unwrap();
        stream.write_all(&testing::hello_frame(30_000)).unwrap();
        RawPeer { stream }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// The reply to call `id`, skipping other frames.
    fn reply(&mut self, id: u64) -> RawReply {
        loop {
            let frame = testing::read_frame(&mut self.stream).expect("a reply before the bound");
            if let Some(reply) = testing::parse_reply(frame) {
                if reply.id == id {
                    return reply;
                }
            }
        }
    }

    fn require_calculator(&mut self) -> u64 {
        self.send(&testing::require_frame(
            1,
            "calculator",
            "Calculator",
            CALCULATOR_FP,
        ));
        let reply = self.reply(1);
        assert!(reply.ok, "{:?}", reply.error());
        reply.handles[0]
    }

    /// Whether the server has closed this connection (EOF within the bound).
    fn closed_by_server(&mut self) -> bool {
        loop {
            match testing::read_frame(&mut self.stream) {
                Ok(_) => continue,
                Err(e) => return e.kind() == std::io::ErrorKind::UnexpectedEof,
            }
        }
    }
}

#[test]
fn handle_ids_mean_something_only_where_they_were_given() {
    let f = fixture(Options::new());
    // The good client holds a counter; the raw peer never got it.
    let calc: CalculatorProxy = f.good.require("calculator").unwrap();
    let _theirs = calc.spawn_counter(1).unwrap();
    let mut raw = RawPeer::connect(&f.path);
    let calculator = raw.require_calculator();
    for guessed in [
        calculator + 1,
        calculator + 2,
        1 << 32 | calculator,
        u64::MAX,
    ] {
        raw.send(&testing::call_frame(
            10,
            guessed,
            ADD,
            &testing::encode_value(&()),
        ));
        assert_eq!(
            raw.reply(10).error(),
            Some(RemoteError::NoSuchObject { id: guessed })
        );
    }
    // A handle of its own, released, is gone for good: its ID never names
    // anything again.
    raw.send(&testing::call_frame(
        11,
        calculator,
        SPAWN_COUNTER,
        &testing::encode_value(&(5u64,)),
    ));
    let counter = raw.reply(11).handles[0];
    raw.send(&testing::release_frame(&[(counter, 1)]));
    raw.send(&testing::call_frame(
        12,
        counter,
        testing::method_id("next"),
        &testing::encode_value(&()),
    ));
    assert_eq!(
        raw.reply(12).error(),
        Some(RemoteError::NoSuchObject { id: counter })
    );
    raw.send(&testing::call_frame(
        13,
        calculator,
        SPAWN_COUNTER,
        &testing::encode_value(&(6u64,)),
    ));
    assert_ne!(raw.reply(13).handles[0], counter, "IDs are never reused");
    f.assert_good_client_fine();
}

#[test]
fn pipelined_calls_that_name_nothing_or_too_much_are_refused_and_the_connection_lives() {
    let f = fixture(Options::new().max_in_flight(4));
    let mut raw = RawPeer::connect(&f.path);
    let calculator = raw.require_calculator();
    let next = testing::method_id("next");
    let fork = testing::method_id("fork");
    let none = testing::encode_value(&());
    let pipeline_error = |reply: RawReply| match reply.error() {
        Some(RemoteError::Pipeline { reason }) => reason,
        other => panic!("expected a pipeline error, got {other:?}"),
    };
    // An answer that was never kept.
    raw.send(&testing::pipelined_call_frame(2, 99, false, next, &none));
    let reason = pipeline_error(raw.reply(2));
    assert!(reason.contains("call 99"), "{reason}");
    // A kept answer serves pipelined calls until its Finish, and no longer;
    // a Finish that names nothing is ignored.
    raw.send(&testing::kept_call_frame(
        3,
        calculator,
        SPAWN_COUNTER,
        &testing::encode_value(&(5u64,)),
    ));
    raw.send(&testing::pipelined_call_frame(4, 3, false, next, &none));
    assert!(raw.reply(3).ok);
    assert_eq!(raw.reply(4).value::<u64>(), Some(5));
    raw.send(&testing::finish_frame(&[3, 12_345, u64::MAX]));
    raw.send(&testing::pipelined_call_frame(5, 3, false, next, &none));
    pipeline_error(raw.reply(5));
    // A kept call that fails fails what is pipelined on it, and what is
    // pipelined on that, with its own error.
    raw.send(&testing::kept_call_frame(
        6,
        calculator,
        SPAWN_COUNTER,
        &testing::encode_value(&("not a number",)),
    ));
    raw.send(&testing::pipelined_call_frame(
        7,
        6,
        true,
        fork,
        &testing::encode_value(&(1u64,)),
    ));
    raw.send(&testing::pipelined_call_frame(8, 7, false, next, &none));
    let failed = raw.reply(6).error();
    assert!(matches!(failed, Some(RemoteError::Decode(_))), "{failed:?}");
    assert_eq!(raw.reply(7).error(), failed);
    assert_eq!(raw.reply(8).error(), failed);
    // At most `max_in_flight` answers are kept: past it, a call is not kept
    // and what is pipelined on it is refused, saying so.
    for id in [10, 11, 12] {
        raw.send(&testing::kept_call_frame(
            id,
            calculator,
            SPAWN_COUNTER,
            &testing::encode_value(&(id,)),
        ));
        assert!(raw.reply(id).ok);
    }
    raw.send(&testing::pipelined_call_frame(13, 12, false, next, &none));
    let reason = pipeline_error(raw.reply(13));
    assert!(reason.contains("limit of 4 kept answers"), "{reason}");
    let kept: usize = f.server.stats().peers.iter().map(|p| p.kept_answers).sum();
    assert_eq!(kept, 4, "answers 6, 7, 10 and 11");
    // Finished, they make room again.
    raw.send(&testing::finish_frame(&[6, 7, 10, 11]));
    raw.send(&testing::kept_call_frame(
        14,
        calculator,
        SPAWN_COUNTER,
        &testing::encode_value(&(40u64,)),
    ));
    raw.send(&testing::pipelined_call_frame(15, 14, false, next, &none));
    assert!(raw.reply(14).ok);
    assert_eq!(raw.reply(15).value::<u64>(), Some(40));
    f.assert_good_client_fine();
}

#[test]
fn bad_frames_get_clear_errors_and_the_connection_lives() {
    let f = fixture(Options::new());
    let mut raw = RawPeer::connect(&f.path);
    let calculator = raw.require_calculator();
    // Wrong argument types.
    raw.send(&testing::call_frame(
        2,
        calculator,
        ADD,
        &testing::encode_value(&("two", "three")),
    ));
    assert!(matches!(raw.reply(2).error(), Some(RemoteError::Decode(_))));
    // An unknown method.
    raw.send(&testing::call_frame(
        3,
        calculator,
        999,
        &testing::encode_value(&()),
    ));
    assert_eq!(
        raw.reply(3).error(),
        Some(RemoteError::NoSuchMethod {
            interface: "Calculator".into(),
            method: "#0x3e7".into()
        })
    );
    // A require claiming the wrong trait.
    raw.send(&testing::require_frame(
        4,
        "calculator",
        "Calculator",
        12345,
    ));
    assert!(matches!(
        raw.reply(4).error(),
        Some(RemoteError::Mismatch { .. })
    ));
    // Releases that make no sense are ignored.
    raw.send(&testing::release_frame(&[(calculator, 1000), (777, 1)]));
    // Still served, correctly.
    raw.send(&testing::call_frame(
        5,
        calculator,
        ADD,
        &testing::encode_value(&(20i64, 22i64)),
    ));
    assert_eq!(raw.reply(5).value::<i64>(), Some(42));
    f.assert_good_client_fine();
}

#[test]
fn unusable_bytes_close_only_that_connection() {
    let f = fixture(Options::new().max_frame(1 << 20));
    let baseline = f.server.stats().exported;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "random bytes",
            vec![7, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03],
        ),
        (
            "an oversized length prefix",
            vec![0xff, 0xff, 0xff, 0xff, 1, 2, 3],
        ),
        (
            "a length just past the limit",
            ((1u32 << 20) + 1).to_le_bytes().to_vec(),
        ),
    ];
    for (what, bytes) in cases {
        let mut raw = RawPeer::connect(&f.path);
        let _calculator = raw.require_calculator();
        raw.send(&bytes);
        assert!(raw.closed_by_server(), "{what}: connection not closed");
        f.assert_good_client_fine();
    }
    // A peer that vanishes mid-frame, mid-call and mid-release.
    for cut in [3usize, 9, 14] {
        let mut raw = RawPeer::connect(&f.path);
        let calculator = raw.require_calculator();
        raw.send(&testing::call_frame(
            8,
            calculator,
            SPAWN_COUNTER,
            &testing::encode_value(&(1u64,)),
        ));
        let counter = raw.reply(8).handles[0];
        let release = testing::release_frame(&[(counter, 1)]);
        raw.send(&release[..cut.min(release.len() - 1)]);
        drop(raw);
    }
    eventually("every broken connection cleaned up", || {
        f.server.stats().connections == 1 && f.server.stats().exported <= baseline + 2
    });
    f.assert_good_client_fine();
}

#[test]
fn limits_refuse_without_harming_the_connection() {
    let f = fixture(
        Options::new()
            .max_handles(10)
            .max_depth(8)
            .max_collection(1000),
    );
    let calc: CalculatorProxy = f.good.require("calculator").unwrap();
    assert!(matches!(
        calc.spawn_many(20),
        Err(RemoteError::LimitExceeded { limit: 10, .. })
    ));
    let fine = calc.spawn_many(5).unwrap();
    assert_eq!(fine.len(), 5);
    assert!(matches!(
        calc.sum(&vec![1; 5000]),
        Err(RemoteError::LimitExceeded { limit: 1000, .. })
    ));
    assert_eq!(calc.sum(&[1, 2, 3]).unwrap(), 6);
    // Bytes are one value, not a collection of elements: the limit on
    // elements does not apply to them (the frame and allocation bounds do).
    assert_eq!(calc.reverse(&[7; 5000]).unwrap().len(), 5000);
    drop(fine);
    f.assert_good_client_fine();
}

#[test]
fn handles_per_frame_are_bounded_on_both_sides() {
    let f = fixture(Options::new());
    let calc: CalculatorProxy = f.good.require("calculator").unwrap();
    // A reply that would carry more handles than a frame may is refused
    // on the server, and the objects it would have lent are let go.
    let over = remote::MAX_HANDLES_PER_FRAME as u32 + 1;
    match calc.spawn_many(over) {
        Err(RemoteError::LimitExceeded { what, limit }) => {
            assert_eq!(limit, remote::MAX_HANDLES_PER_FRAME as u64);
            assert!(what.contains("handles"), "{what}");
        }
        other => panic!("expected LimitExceeded, got {:?}", other.map(|v| v.len())),
    }
    eventually("the refused reply's objects were freed", || {
        calc.live_counters().unwrap() == 0
    });
    assert_eq!(calc.spawn_many(1000).unwrap().len(), 1000);

    // A raw peer whose frame carries more is cut off before any entry is
    // accounted for; nobody else notices.
    let mut raw = RawPeer::connect(&f.path);
    let calculator = raw.require_calculator();
    let handles = vec![calculator; remote::MAX_HANDLES_PER_FRAME + 1];
    raw.send(&testing::call_frame_with_handles(
        2,
        calculator,
        ADD,
        &testing::encode_value(&(1i64, 2i64)),
        &handles,
    ));
    assert!(raw.closed_by_server(), "connection not closed");
    f.assert_good_client_fine();
    eventually("the cut-off connection is gone", || {
        f.server.stats().connections == 1
    });
}

/// `frame` (from `testing`) with byte values claimed beside it: the
/// length prefix gets the blobs bit and the trailer its claims.
fn with_claimed_blobs(frame: &[u8], lens: &[u64]) -> Vec<u8> {
    let mut out = frame.to_vec();
    for len in lens {
        out.extend_from_slice(&len.to_le_bytes());
    }
    out.extend_from_slice(&(lens.len() as u32).to_le_bytes());
    let len = (out.len() - 4) as u32 | 1 << 31;
    out[..4].copy_from_slice(&len.to_le_bytes());
    out
}

#[test]
fn byte_values_claimed_past_max_value_close_only_that_connection_before_allocation() {
    let f = fixture(Options::new().max_value(8 << 20));
    let cases: Vec<(&str, Vec<u64>)> = vec![
        ("one value past max_value", vec![(8 << 20) + 1]),
        ("values past it in total", vec![5 << 20, 5 << 20]),
        // Were it allocated, this would abort the whole process.
        ("a terabyte", vec![1 << 40]),
        ("u64::MAX twice", vec![u64::MAX, u64::MAX]),
    ];
    for (what, lens) in cases {
        let mut raw = RawPeer::connect(&f.path);
        let calculator = raw.require_calculator();
        let call = testing::call_frame(5, calculator, ADD, &testing::encode_value(&(1i64, 2i64)));
        raw.send(&with_claimed_blobs(&call, &lens));
        assert!(raw.closed_by_server(), "{what}: connection not closed");
        f.assert_good_client_fine();
    }
    // A trailer that claims more values than it holds, or none.
    for count in [0u32, 5, u32::MAX] {
        let mut raw = RawPeer::connect(&f.path);
        let calculator = raw.require_calculator();
        let call = testing::call_frame(5, calculator, ADD, &testing::encode_value(&(1i64, 2i64)));
        let mut frame = with_claimed_blobs(&call, &[10]);
        let at = frame.len() - 4;
        frame[at..].copy_from_slice(&count.to_le_bytes());
        raw.send(&frame);
        assert!(
            raw.closed_by_server(),
            "count {count}: connection not closed"
        );
    }
    // Within the bound, a value that is claimed but never named by the
    // payload is dropped with its frame; the connection goes on.
    let mut raw = RawPeer::connect(&f.path);
    let calculator = raw.require_calculator();
    let call = testing::call_frame(6, calculator, ADD, &testing::encode_value(&(20i64, 22i64)));
    let mut frame = with_claimed_blobs(&call, &[3]);
    frame.extend_from_slice(b"xyz");
    raw.send(&frame);
    assert_eq!(raw.reply(6).value::<i64>(), Some(42));
    f.assert_good_client_fine();
    eventually("the cut-off connections are gone", || {
        f.server.stats().connections == 2
    });
}

#[test]
fn a_burst_of_large_replies_to_a_peer_that_never_reads_is_cut_off_by_its_size() {
    // A long lease: only the bound on queued bytes can end this. That bound
    // is 64 MiB while max_value is at most 32 MiB (it is twice max_value
    // past that).
    let f = fixture(
        Options::new()
            .lease(Duration::from_secs(60))
            .max_value(16 << 20),
    );
    let mut raw = RawPeer::connect(&f.path);
    let calculator = raw.require_calculator();
    const GREET: u32 = testing::method_id("greet");
    let name = "x".repeat(64 * 1024);
    let payload = testing::encode_value(&(&name,));
    let started = std::time::Instant::now();
    let writer = {
        let mut stream = raw.stream.try_clone().unwrap();
        stream.set_write_timeout(Some(BOUND)).unwrap();
        std::thread::spawn(move || {
            // 2,000 requests for 64 KiB replies: 128 MiB, twice the bound.
            for id in 100..2_100u64 {
                let frame = testing::call_frame(id, calculator, GREET, &payload);
                if stream.write_all(&frame).is_err() {
                    return;
                }
            }
        })
    };
    // Nothing is read until the writer stops: it stops when the server
    // closes the connection (or, if it never does, at the write timeout).
    writer.join().unwrap();
    let closed = loop {
        match testing::read_frame(&mut raw.stream) {
            Ok(_) => continue,
            Err(e) => {
                break matches!(
                    e.kind(),
                    std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
                )
            }
        }
    };
    assert!(closed, "connection not closed");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "closed by the lease, not by the bound on queued bytes"
    );
    f.assert_good_client_fine();
}

#[test]
fn an_access_policy_is_enforced_on_the_server() {
    let f = fixture(Options::new());
    f.server.set_access_policy(|_, access| {
        matches!(
            access,
            Access::Export("calculator") | Access::Global("motd")
        )
    });
    assert_eq!(f.good.get_global::<String>("motd").unwrap(), "hello");
    assert_eq!(
        f.good.get_global::<String>("secret"),
        Err(RemoteError::Denied {
            resource: "global \"secret\"".into()
        })
    );
    assert!(matches!(f.good.process(), Err(RemoteError::Denied { .. })));
    eventually("the good client is connected", || {
        f.server.connections().len() == 1
    });
    let first = f.server.connections()[0].id();
    f.server.set_access_policy(move |connection, access| {
        // Decided per connection: only the first one may use the calculator.
        connection.id() == first || !matches!(access, Access::Export(_))
    });
    let other = Client::connect_unix(&f.path).unwrap();
    match other.require::<CalculatorProxy>("calculator") {
        Err(RemoteError::Denied { resource }) => assert_eq!(resource, "export \"calculator\""),
        other => panic!("expected Denied, got {other:?}"),
    }
    // A typo is answered with the closest name only where the policy lets
    // the peer reach it: a denied export's name is never leaked.
    f.server.set_access_policy(move |connection, access| {
        connection.id() == first || !matches!(access, Access::Export("calculator"))
    });
    match other.require::<CalculatorProxy>("calculater") {
        Err(RemoteError::NoSuchExport { closest, .. }) => assert_eq!(closest, None),
        other => panic!("expected NoSuchExport, got {other:?}"),
    }
    match f.good.require::<CalculatorProxy>("calculater") {
        Err(RemoteError::NoSuchExport { closest, .. }) => {
            assert_eq!(closest.as_deref(), Some("calculator"))
        }
        other => panic!("expected NoSuchExport, got {other:?}"),
    }
    f.server.set_access_policy(move |connection, access| {
        connection.id() == first || !matches!(access, Access::Export(_))
    });
    // A raw peer cannot talk its way around it either.
    let mut raw = RawPeer::connect(&f.path);
    raw.send(&testing::require_frame(
        1,
        "calculator",
        "Calculator",
        CALCULATOR_FP,
    ));
    assert!(matches!(
        raw.reply(1).error(),
        Some(RemoteError::Denied { .. })
    ));
}

#[test]
fn a_peer_that_never_reads_cannot_make_the_server_buffer_without_bound() {
    let f = fixture(Options::new().lease(Duration::from_millis(500)));
    let mut raw = RawPeer::connect(&f.path);
    let calculator = raw.require_calculator();
    // Ask for large replies, many times, and never read them.
    let shape = testing::encode_value(&());
    let writer = {
        let mut stream = raw.stream.try_clone().unwrap();
        std::thread::spawn(move || {
            for id in 100..20_100u64 {
                // `shape()` replies with a small struct; 20,000 of them
                // exceed any socket buffer.
                let frame =
                    testing::call_frame(id, calculator, testing::method_id("shape"), &shape);
                if stream.write_all(&frame).is_err() {
                    return;
                }
            }
        })
    };
    // The server blocks on that connection's writes (bounded), then closes
    // it after a lease; the good client is served throughout.
    f.assert_good_client_fine();
    eventually("the stuck connection was closed", || {
        f.server.stats().connections == 1
    });
    writer.join().unwrap();
    f.assert_good_client_fine();
}

mod garbage {
    use super::*;
    use proptest::prelude::*;

    /// One hostile frame: raw bytes with an honest length prefix, a call
    /// with arbitrary ids and payload, or a release of arbitrary counts.
    fn hostile_frame() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64).prop_map(|body| {
                let mut frame = (body.len() as u32).to_le_bytes().to_vec();
                frame.extend(body);
                frame
            }),
            (
                any::<u64>(),
                0u64..4,
                0u32..20,
                proptest::collection::vec(any::<u8>(), 0..48)
            )
                .prop_map(|(id, object, method, payload)| {
                    // A real method of the calculator or its counters, or
                    // an ID nothing has.
                    const NAMES: [&str; 6] =
                        ["add", "greet", "sum", "spawn_counter", "next", "get"];
                    let method = NAMES
                        .get(method as usize)
                        .map_or(method, |name| testing::method_id(name));
                    testing::call_frame(id, object, method, &payload)
                }),
            proptest::collection::vec((0u64..6, any::<u64>()), 0..4)
                .prop_map(|entries| testing::release_frame(&entries)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn generated_garbage_never_harms_other_clients(frames in proptest::collection::vec(hostile_frame(), 1..12)) {
            let f = fixture(Options::new().max_frame(1 << 16));
            let mut raw = RawPeer::connect(&f.path);
            let _ = raw.require_calculator();
            for frame in &frames {
                if raw.stream.write_all(frame).is_err() {
                    break;
                }
            }
            drop(raw);
            f.assert_good_client_fine();
            eventually("the hostile connection is gone", || f.server.stats().connections == 1);
            // Nothing the hostile peer got is still held for it.
            f.good.sync().unwrap();
            prop_assert_eq!(f.server.stats().exported, f.good.stats().imported);
        }
    }
}

/// A peer cannot make the server renew its lease every millisecond by
/// announcing a tiny one: the announced lease is held to the floor
/// (`Options::min_peer_lease`, 100 ms by default: a renewal every 33 ms).
#[test]
fn a_tiny_announced_lease_is_held_to_the_floor() {
    let f = fixture(Options::new());
    let mut stream = UnixStream::connect(&f.path).unwrap();
    stream.write_all(&testing::hello_frame(1)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let start = std::time::Instant::now();
    let mut renewals = 0;
    while start.elapsed() < Duration::from_secs(1) {
        match testing::read_frame(&mut stream) {
            Ok(frame) if testing::frame_kind(&frame) == Some(remote::FrameKind::Renew) => {
                renewals += 1
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("connection failed: {e}"),
        }
    }
    assert!(
        (5..=40).contains(&renewals),
        "{renewals} renewals in one second"
    );
    f.assert_good_client_fine();
}

/// A connection that never introduces itself is closed at the handshake
/// deadline instead of being held forever.
#[test]
fn a_connection_that_never_says_hello_is_closed() {
    let f = fixture(Options::new().handshake_timeout(Duration::from_millis(200)));
    let mut silent = UnixStream::connect(&f.path).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let start = std::time::Instant::now();
    loop {
        assert!(start.elapsed() < BOUND, "still open after {BOUND:?}");
        match testing::read_frame(&mut silent) {
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert!(start.elapsed() >= Duration::from_millis(150));
    eventually("the server forgot it", || f.server.stats().connections == 1);
    f.assert_good_client_fine();
}

/// A TLS peer that opens a TCP connection and never completes the handshake
/// is dropped at the handshake deadline, and holds up nobody meanwhile.
#[cfg(feature = "tls")]
#[test]
fn a_tls_handshake_that_never_finishes_is_dropped() {
    use std::io::Read;
    let server = Server::with_options(Options::new().handshake_timeout(Duration::from_millis(300)));
    let (calc, _dropped) = Calc::new();
    server.export("calculator", calc as Arc<dyn Calculator>);
    let (server_config, client_config) = tls_configs();
    let listener = server.listen_tls("127.0.0.1:0", server_config).unwrap();
    let addr = listener.local_addr().unwrap();
    // Half a ClientHello's worth of nothing: the TCP connection is open,
    // the handshake never starts.
    let mut stuck = std::net::TcpStream::connect(addr).unwrap();
    stuck.set_read_timeout(Some(BOUND)).unwrap();
    let start = std::time::Instant::now();
    // Others connect and are served while it waits.
    let good = Client::connect_tls(addr, "localhost", client_config).unwrap();
    let calc: CalculatorProxy = good.require("calculator").unwrap();
    assert_eq!(calc.add(2, 2).unwrap(), 4);
    let mut byte = [0u8; 1];
    match stuck.read(&mut byte) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("expected the stuck handshake to be closed, got {other:?}"),
    }
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < BOUND,
        "closed after {waited:?}"
    );
    assert_eq!(calc.add(3, 4).unwrap(), 7);
}

/// Something a hostile *server* can call back.
#[remote::remote_object]
pub trait Feed: Send + Sync {
    fn subscribe(&self, listener: remote::Callback<(Vec<u8>,)>);
}

/// A server that floods a client's callback with invocations while the
/// callback is busy: the client queues them up to its bound (256 MiB), then
/// closes that one connection; none is dropped silently, and the client's
/// other connections go on.
#[test]
fn a_callback_flood_past_its_bound_closes_only_that_connection() {
    use std::os::unix::net::UnixListener;
    const FEED_FP: u64 = <dyn Feed as remote::__private::Interface>::FINGERPRINT;
    // A connection of this process's to an honest server, open throughout.
    let f = fixture(Options::new());
    let dir = tempdir();
    let path = dir.path().join("hostile-server.sock");
    let listener = UnixListener::bind(&path).unwrap();

    // The client: subscribes a callback that blocks until the test is done.
    let (release, released) = crossbeam_channel::bounded::<()>(1);
    let (ran, first_ran) = crossbeam_channel::unbounded::<()>();
    let client_path = path.clone();
    let client = std::thread::spawn(move || {
        let client = Client::connect_unix(&client_path).unwrap();
        let feed: FeedProxy = client.require("feed").unwrap();
        feed.subscribe(remote::Callback::new(move |(_chunk,): (Vec<u8>,)| {
            let _ = ran.send(());
            let _ = released.recv_timeout(BOUND);
        }))
        .unwrap();
        client
    });

    // The hostile server, by hand.
    let (mut stream, _) = listener.accept().unwrap();
    stream.set_read_timeout(Some(BOUND)).unwrap();
    stream.write_all(&testing::hello_frame(30_000)).unwrap();
    let next_request = |stream: &mut UnixStream| loop {
        let frame = testing::read_frame(stream).expect("a request before the bound");
        if let Some(request) = testing::parse_request(&frame) {
            return request;
        }
    };
    let require = next_request(&mut stream);
    assert_eq!(require.name.as_deref(), Some("feed"));
    stream
        .write_all(&testing::reply_frame_with_caps(
            require.id,
            true,
            &[],
            &[testing::RawCap::Sender {
                id: 1,
                fingerprint: FEED_FP,
                props: None,
            }],
        ))
        .unwrap();
    let subscribe = next_request(&mut stream);
    assert_eq!(subscribe.object, 1);
    let callback = subscribe.lent[0];
    stream
        .write_all(&testing::reply_frame_with_caps(
            subscribe.id,
            true,
            &testing::encode_value(&()),
            &[],
        ))
        .unwrap();
    let client = client.join().unwrap();

    // 1 MiB invocations, one-way, until the client hangs up: past 256 MiB
    // queued it must.
    let chunk = testing::call_frame(
        0,
        callback,
        0,
        &testing::encode_value(&(vec![7u8; 1 << 20],)),
    );
    stream.write_all(&chunk).unwrap();
    first_ran
        .recv_timeout(BOUND)
        .expect("the first invocation runs");
    let mut sent = 1;
    stream.set_write_timeout(Some(BOUND)).unwrap();
    let closed = loop {
        if sent > 400 {
            break false;
        }
        match stream.write_all(&chunk) {
            Ok(()) => sent += 1,
            Err(e) => {
                break matches!(
                    e.kind(),
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                )
            }
        }
    };
    assert!(
        closed,
        "the client took {sent} MiB of callbacks and stayed connected"
    );
    assert!(sent > 200, "closed after only {sent} MiB");
    let _ = release.send(());
    eventually("the client saw its connection close", || {
        client.stats().closed
    });

    // This process's other connection never noticed.
    f.assert_good_client_fine();
}
