//! Two real processes over a Unix socket: this test binary starts copies of
//! itself as the other process (the roles of the `two_process` example), and
//! crashes are real SIGKILLs. It uses libtest-mimic as its harness so that a
//! child can take its role before any test runs.
#![allow(missing_docs)]

#[path = "../examples/shared/calc.rs"]
mod calc;
#[path = "common/children.rs"]
mod children;
#[path = "../examples/shared/roles.rs"]
mod roles;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use calc::{Calculator, CalculatorProxy, MathError, MyCalc};
use remote::{remote_object, Callback, Client, Listeners, RemoteError, Server};

/// A feed of byte chunks to whoever subscribes.
#[remote_object]
pub trait Feed: Send + Sync {
    fn subscribe(&self, listener: Callback<(Vec<u8>,)>);
}

#[derive(Default)]
struct TheFeed {
    listeners: Listeners<(Vec<u8>,)>,
}

impl Feed for TheFeed {
    fn subscribe(&self, listener: Callback<(Vec<u8>,)>) {
        self.listeners.add(listener);
    }
}

/// Child role: subscribes to the feed at `path`, says so, then waits for
/// stdin to close (the test stops it before that).
fn subscribe(path: &str) -> Result<(), Box<dyn std::error::Error>> {
    use std::io::{Read, Write};
    let client = Client::connect_unix(path)?;
    let feed: FeedProxy = client.require("feed")?;
    feed.subscribe(Callback::new(|(_chunk,): (Vec<u8>,)| {}))?;
    println!("subscribed");
    std::io::stdout().flush()?;
    let mut sink = Vec::new();
    std::io::stdin().read_to_end(&mut sink)?;
    Ok(())
}

use children::{signal, socket_path, spawn, spawn_with_lines, BOUND, ROLE};

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let result = match role.as_str() {
            "serve" => roles::serve(&args[0]),
            "hold" => roles::hold(&args[0], args[1].parse().expect("count")),
            "child-client" => roles::child_client(),
            "subscribe" => subscribe(&args[0]),
            other => panic!("unknown role {other}"),
        };
        result.expect("child role failed");
        return;
    }
    let args = libtest_mimic::Arguments::from_args();
    let tests = vec![
        libtest_mimic::Trial::test("calls_cross_a_process_boundary", || {
            calls_cross_a_process_boundary();
            Ok(())
        }),
        libtest_mimic::Trial::test(
            "a_killed_server_fails_pending_and_later_calls_promptly",
            || {
                a_killed_server_fails_pending_and_later_calls_promptly();
                Ok(())
            },
        ),
        libtest_mimic::Trial::test("a_killed_client_releases_everything_it_held", || {
            a_killed_client_releases_everything_it_held();
            Ok(())
        }),
        libtest_mimic::Trial::test(
            "a_stopped_client_loses_its_lease_and_is_told_when_it_resumes",
            || {
                a_stopped_client_loses_its_lease_and_is_told_when_it_resumes();
                Ok(())
            },
        ),
        libtest_mimic::Trial::test("a_stopped_listener_holds_up_no_one_else", || {
            a_stopped_listener_holds_up_no_one_else();
            Ok(())
        }),
        libtest_mimic::Trial::test(
            "an_idle_client_in_another_process_keeps_its_objects",
            || {
                an_idle_client_in_another_process_keeps_its_objects();
                Ok(())
            },
        ),
        libtest_mimic::Trial::test("a_spawned_child_connects_back_and_both_sides_call", || {
            a_spawned_child_connects_back_and_both_sides_call();
            Ok(())
        }),
        libtest_mimic::Trial::test(
            "a_child_that_never_connects_back_is_killed_at_the_bound",
            || {
                a_child_that_never_connects_back_is_killed_at_the_bound();
                Ok(())
            },
        ),
        libtest_mimic::Trial::test(
            "from_parent_outside_a_spawned_child_is_a_clear_error",
            || {
                from_parent_outside_a_spawned_child_is_a_clear_error();
                Ok(())
            },
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}

fn calls_cross_a_process_boundary() {
    let (_dir, path) = socket_path("calls");
    let mut child = spawn(&["serve", path.to_str().unwrap()], "ready");
    let client = Client::connect_unix(&path).unwrap();
    let calc: CalculatorProxy = client.require("calculator").unwrap();
    assert_eq!(
        calc.pid().unwrap(),
        child.id(),
        "served by the child process"
    );
    assert_eq!(calc.add(20, 22).unwrap(), 42);
    assert_eq!(calc.divide(1, 0).unwrap(), Err(MathError::DivideByZero));
    let counter = calc.spawn_counter(7).unwrap();
    assert_eq!(counter.next().unwrap(), 7);
    assert_eq!(calc.live_counters().unwrap(), 1);
    drop(counter);
    client.sync().unwrap();
    assert_eq!(
        calc.live_counters().unwrap(),
        0,
        "released in the other process"
    );
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
}

fn a_killed_server_fails_pending_and_later_calls_promptly() {
    let (_dir, path) = socket_path("killed-server");
    let mut child = spawn(&["serve", path.to_str().unwrap()], "ready");
    let client = Client::connect_unix(&path).unwrap();
    let calc: CalculatorProxy = client.require("calculator").unwrap();
    let counter = calc.spawn_counter(0).unwrap();
    assert_eq!(calc.add(1, 1).unwrap(), 2);
    child.kill().expect("SIGKILL the server");
    child.wait().unwrap();
    let start = Instant::now();
    assert!(matches!(counter.next(), Err(RemoteError::Disconnected)));
    assert!(matches!(calc.add(1, 1), Err(RemoteError::Disconnected)));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    assert!(client.is_closed());
}

fn a_killed_client_releases_everything_it_held() {
    let (_dir, path) = socket_path("killed-client");
    let calc = Arc::new(MyCalc::default());
    let server = Server::new();
    server.export("calculator", calc.clone() as Arc<dyn Calculator>);
    let _listener = server.listen_unix(&path).unwrap();
    let mut child = spawn(&["hold", path.to_str().unwrap(), "50"], "holding 50");
    assert_eq!(calc.live(), 50);
    assert_eq!(
        server.stats().exported,
        51,
        "50 counters and the calculator"
    );
    child.kill().expect("SIGKILL the client");
    child.wait().unwrap();
    let start = Instant::now();
    while calc.live() != 0 || server.stats().connections != 0 {
        assert!(
            start.elapsed() < BOUND,
            "server still holds {} counters",
            calc.live()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(server.stats().exported, 0);
}

fn a_stopped_client_loses_its_lease_and_is_told_when_it_resumes() {
    use std::io::Write;
    let (_dir, path) = socket_path("stopped-client");
    let calc = Arc::new(MyCalc::default());
    let server = Server::with_options(remote::Options::new().lease(Duration::from_millis(300)));
    server.export("calculator", calc.clone() as Arc<dyn Calculator>);
    let _listener = server.listen_unix(&path).unwrap();
    let (mut child, lines) =
        spawn_with_lines(&["hold", path.to_str().unwrap(), "20"], "holding 20");
    assert_eq!(calc.live(), 20);
    // A hung process: connected, silent, not renewing.
    signal(&child, "-STOP");
    let start = Instant::now();
    while calc.live() != 0 {
        assert!(start.elapsed() < BOUND, "lease never lapsed");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        start.elapsed() >= Duration::from_millis(150),
        "released too early"
    );
    assert_eq!(server.stats().exported, 0);
    signal(&child, "-CONT");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "call").unwrap();
    let answer = lines.recv_timeout(BOUND).expect("child answered");
    assert_eq!(answer, "Some(Err(LeaseExpired))");
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

/// A subscriber process that stops (SIGSTOP) with its socket full holds up
/// neither the emitting thread nor the other subscribers: emitting 24 MiB
/// to both costs about what it costs with both reading, measured in the
/// same run. (The emitter used to wait on the stopped one's socket for a
/// whole lease.)
fn a_stopped_listener_holds_up_no_one_else() {
    let (_dir, path) = socket_path("stopped-listener");
    let feed = Arc::new(TheFeed::default());
    let server = Server::new();
    server.export("feed", feed.clone() as Arc<dyn Feed>);
    let _listener = server.listen_unix(&path).unwrap();
    let mut child = spawn(&["subscribe", path.to_str().unwrap()], "subscribed");
    let live = Client::connect_unix(&path).unwrap();
    let (got_tx, got) = crossbeam_channel::unbounded();
    let proxy: FeedProxy = live.require("feed").unwrap();
    proxy
        .subscribe(Callback::new(move |(chunk,): (Vec<u8>,)| {
            got_tx.send(chunk.len()).unwrap();
        }))
        .unwrap();
    assert_eq!(feed.listeners.len(), 2);
    let chunk = vec![7u8; 64 * 1024];
    let emit_all = || {
        let start = Instant::now();
        for _ in 0..384 {
            assert_eq!(
                feed.listeners.emit((chunk.clone(),)),
                2,
                "both still listed"
            );
        }
        start.elapsed()
    };
    let drain_live = || {
        for i in 0..384 {
            let len = got
                .recv_timeout(BOUND)
                .unwrap_or_else(|_| panic!("event {i} late"));
            assert_eq!(len, chunk.len());
        }
    };
    // What emitting 24 MiB to both costs with both reading, in this build
    // and under whatever else this machine is doing (encoding dominates in
    // a debug build).
    let both_reading = emit_all();
    drain_live();
    signal(&child, "-STOP");
    let emitting = emit_all();
    drain_live();
    assert!(
        emitting < both_reading * 3 + Duration::from_secs(1),
        "emitting took {emitting:?} with one listener stopped, {both_reading:?} with both reading: the stopped listener held it up"
    );
    child.kill().expect("SIGKILL the stopped child");
    child.wait().unwrap();
}

/// A client process that holds objects and does nothing renews from the
/// moment it learns the server's lease. (Its first renewal used to be
/// planned before the server's Hello arrived, seconds too late for a short
/// lease.)
fn an_idle_client_in_another_process_keeps_its_objects() {
    use std::io::Write;
    let lease = Duration::from_millis(300);
    let (_dir, path) = socket_path("idle-client");
    let calc = Arc::new(MyCalc::default());
    let server = Server::with_options(remote::Options::new().lease(lease));
    server.export("calculator", calc.clone() as Arc<dyn Calculator>);
    let _listener = server.listen_unix(&path).unwrap();
    let (mut child, lines) =
        spawn_with_lines(&["hold", path.to_str().unwrap(), "20"], "holding 20");
    assert_eq!(calc.live(), 20);
    // Idle for five leases: the scenario under test.
    std::thread::sleep(lease * 5);
    assert_eq!(calc.live(), 20, "a live client's objects were released");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "call").unwrap();
    let answer = lines.recv_timeout(BOUND).expect("child answered");
    assert_eq!(answer, "Some(Ok(0))");
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

fn a_spawned_child_connects_back_and_both_sides_call() {
    let calc = Arc::new(MyCalc::default());
    let server = Server::new();
    server.export("calculator", calc.clone() as Arc<dyn Calculator>);
    let mut command = Command::new(std::env::current_exe().expect("test exe"));
    command
        .env(ROLE, "child-client")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let (mut child, connection) = server.spawn_child(&mut command).expect("spawn child");
    assert_eq!(connection.peer(), format!("child:{}", child.id()));
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let line = lines.next().expect("a line").expect("utf-8");
    assert_eq!(
        line,
        format!("sum 42 counter 5 parent {}", std::process::id())
    );
    assert_eq!(calc.live(), 1, "the child holds one counter of ours");
    // The other direction: the parent calls the child's own object.
    let start = Instant::now();
    let theirs: CalculatorProxy = loop {
        match connection.require("child-calculator") {
            Ok(p) => break p,
            Err(RemoteError::NoSuchExport { .. }) if start.elapsed() < BOUND => {
                std::thread::sleep(Duration::from_millis(2))
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(theirs.pid().unwrap(), child.id());
    // The child dies: its connection ends and what it held is released.
    child.kill().unwrap();
    child.wait().unwrap();
    let start = Instant::now();
    while calc.live() != 0 || !connection.is_closed() {
        assert!(start.elapsed() < BOUND, "child's handles not released");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(matches!(theirs.add(1, 1), Err(RemoteError::Disconnected)));
}

fn a_child_that_never_connects_back_is_killed_at_the_bound() {
    let server = Server::with_options(
        remote::Options::new().connect_back_timeout(Duration::from_millis(300)),
    );
    // A child that waits on its stdin and never calls `from_parent`.
    let mut command = Command::new("sleep");
    command.arg("60");
    let start = Instant::now();
    match server.spawn_child(&mut command) {
        Err(RemoteError::Io(message)) => {
            assert!(message.contains("did not connect back"), "{message}")
        }
        Err(e) => panic!("expected an Io error, got {e}"),
        Ok(_) => panic!("a child that never connected back was accepted"),
    }
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < BOUND,
        "gave up after {waited:?}"
    );
    // It was killed and reaped: no `sleep 60` of ours is left.
    let ours = std::process::id().to_string();
    let left: Vec<String> = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|p| std::fs::read_to_string(p.path().join("stat")).ok())
        .filter(|stat| {
            // `pid (comm) state ppid ...`
            let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
            stat.contains("(sleep)") && after.split_whitespace().nth(1) == Some(ours.as_str())
        })
        .collect();
    assert!(left.is_empty(), "a child is left: {left:?}");
}

fn from_parent_outside_a_spawned_child_is_a_clear_error() {
    if std::env::var_os(remote::PARENT_SOCKET_ENV).is_some() {
        return;
    }
    match Client::from_parent() {
        Err(RemoteError::Io(message)) => assert!(message.contains("spawn_child"), "{message}"),
        other => panic!("expected an Io error, got {other:?}"),
    }
}
