//! Three real processes: a plugin host hands plugin B a capability that came
//! from plugin A. This test binary is B; it starts copies of itself as A
//! (the owner of the objects) and as the host M (a client of A and a server
//! of B), and a crash of the host is a real SIGKILL.
#![allow(missing_docs)]

#[path = "common/children.rs"]
mod children;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use children::{signal, socket_path, spawn_with_lines, BOUND, ROLE};
use remote::{remote_object, Client, Remote, RemoteError, Server, Stream};

/// Plugin A's capability.
#[remote_object]
pub trait Counter: Send + Sync {
    fn next(&self) -> u64;
    /// A new counter, at this one's value plus `plus`.
    fn fork(&self, plus: u64) -> Remote<dyn Counter>;
    /// Waits until A reads a line on its stdin, then answers.
    fn wait_for_go(&self) -> u64;
}

#[remote_object]
pub trait Plugin: Send + Sync {
    fn counter(&self, start: u64) -> Remote<dyn Counter>;
    /// 0, 1, .. `n - 1`, then the end; with `n` 0, numbers until the
    /// reader goes.
    fn numbers(&self, n: u64) -> Stream<u64>;
}

/// What the host offers B: A's counters, and A's streams.
#[remote_object]
pub trait Host: Send + Sync {
    fn capability(&self, start: u64) -> Remote<dyn Counter>;
    fn numbers(&self, n: u64) -> Stream<u64>;
}

/// A's counters say on stdout when they are freed.
struct ACounter {
    value: Mutex<u64>,
    go: crossbeam_channel::Receiver<()>,
}

impl Drop for ACounter {
    fn drop(&mut self) {
        println!("freed {}", self.value.lock().unwrap());
        let _ = std::io::stdout().flush();
    }
}

impl Counter for ACounter {
    fn next(&self) -> u64 {
        let mut v = self.value.lock().unwrap();
        *v += 1;
        *v - 1
    }
    fn fork(&self, plus: u64) -> Remote<dyn Counter> {
        Remote::new(ACounter {
            value: Mutex::new(*self.value.lock().unwrap() + plus),
            go: self.go.clone(),
        })
    }
    fn wait_for_go(&self) -> u64 {
        println!("waiting");
        let _ = std::io::stdout().flush();
        let _ = self.go.recv_timeout(BOUND);
        *self.value.lock().unwrap()
    }
}

struct APlugin {
    go: crossbeam_channel::Receiver<()>,
}

impl Plugin for APlugin {
    fn counter(&self, start: u64) -> Remote<dyn Counter> {
        Remote::new(ACounter {
            value: Mutex::new(start),
            go: self.go.clone(),
        })
    }
    fn numbers(&self, n: u64) -> Stream<u64> {
        let (sink, stream) = remote::channel(64);
        std::thread::spawn(move || {
            let mut i = 0;
            while n == 0 || i < n {
                if sink.send(i).is_err() {
                    return;
                }
                i += 1;
            }
        });
        stream
    }
}

/// Role A: serves its plugin at `path` until killed.
fn plugin_a(path: &str) -> Result<(), Box<dyn std::error::Error>> {
    use std::io::BufRead;
    let server = Server::new();
    // Each line on stdin lets one waiting call go.
    let (tx, go) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for _ in std::io::stdin().lock().lines() {
            if tx.send(()).is_err() {
                return;
            }
        }
    });
    server.export("plugin", Arc::new(APlugin { go }) as Arc<dyn Plugin>);
    let _listener = server.listen_unix(path)?;
    println!("ready");
    std::io::stdout().flush()?;
    loop {
        std::thread::park();
    }
}

struct TheHost {
    plugin: PluginProxy,
}

impl Host for TheHost {
    fn capability(&self, start: u64) -> Remote<dyn Counter> {
        self.plugin
            .counter(start)
            .expect("plugin A answers")
            .into_remote()
    }
    fn numbers(&self, n: u64) -> Stream<u64> {
        // A's stream, passed on: relayed.
        self.plugin.numbers(n).expect("plugin A answers")
    }
}

/// Role M: a client of A at `a`, serving B at `path` until killed.
fn host(a: &str, path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let to_a = Client::connect_unix(a)?;
    let plugin: PluginProxy = to_a.require("plugin")?;
    let server = Server::new();
    server.export("host", Arc::new(TheHost { plugin }) as Arc<dyn Host>);
    let _listener = server.listen_unix(path)?;
    println!("ready");
    std::io::stdout().flush()?;
    loop {
        std::thread::park();
    }
}

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let result = match role.as_str() {
            "plugin-a" => plugin_a(&args[0]),
            "host" => host(&args[0], &args[1]),
            other => panic!("unknown role {other}"),
        };
        result.expect("child role failed");
        return;
    }
    let args = libtest_mimic::Arguments::from_args();
    let tests = vec![
        libtest_mimic::Trial::test(
            "a_capability_of_one_plugin_reaches_another_through_the_host",
            || {
                a_capability_of_one_plugin_reaches_another_through_the_host();
                Ok(())
            },
        ),
        libtest_mimic::Trial::test(
            "a_stream_of_one_plugin_reaches_another_and_a_killed_producer_ends_it_with_an_error",
            || {
                a_stream_of_one_plugin_reaches_another_and_a_killed_producer_ends_it_with_an_error(
                );
                Ok(())
            },
        ),
        libtest_mimic::Trial::test(
            "a_killed_host_fails_relayed_calls_and_the_owner_frees_everything",
            || {
                a_killed_host_fails_relayed_calls_and_the_owner_frees_everything();
                Ok(())
            },
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}

/// The lines "freed N" that A prints, `n` of them, sorted.
fn freed(lines: &crossbeam_channel::Receiver<String>, n: usize) -> Vec<u64> {
    let mut got: Vec<u64> = (0..n)
        .map(|_| {
            let line = lines.recv_timeout(BOUND).expect("A frees in time");
            line.strip_prefix("freed ")
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("A said {line:?}"))
        })
        .collect();
    got.sort_unstable();
    got
}

fn a_capability_of_one_plugin_reaches_another_through_the_host() {
    let (_dir, a_path) = socket_path("a");
    let m_path = a_path.with_file_name("m.sock");
    let (_a, a_lines) = spawn_with_lines(&["plugin-a", a_path.to_str().unwrap()], "ready");
    let (_m, _) = spawn_with_lines(
        &["host", a_path.to_str().unwrap(), m_path.to_str().unwrap()],
        "ready",
    );
    let client = Client::connect_unix(&m_path).unwrap();
    let host: HostProxy = client.require("host").unwrap();
    let counter = host.capability(10).unwrap();
    assert_eq!(counter.next().unwrap(), 10);
    let forked = counter.fork(100).unwrap();
    assert_eq!(forked.next().unwrap(), 111);
    // Dropping B's proxies releases the host's relays, the host's proxies,
    // and A's objects.
    drop(forked);
    drop(counter);
    client.sync().unwrap();
    assert_eq!(freed(&a_lines, 2), [11, 112]);
}

fn a_killed_host_fails_relayed_calls_and_the_owner_frees_everything() {
    let (_dir, a_path) = socket_path("a");
    let m_path = a_path.with_file_name("m.sock");
    let (mut a, a_lines) = spawn_with_lines(&["plugin-a", a_path.to_str().unwrap()], "ready");
    let (m, _) = spawn_with_lines(
        &["host", a_path.to_str().unwrap(), m_path.to_str().unwrap()],
        "ready",
    );
    let client = Client::connect_unix(&m_path).unwrap();
    let host: HostProxy = client.require("host").unwrap();
    let first = host.capability(1).unwrap();
    let second = host.capability(2).unwrap();
    assert_eq!(first.next().unwrap(), 1);
    // A relayed call waits at A while the host dies.
    let waiting = {
        let first = first.clone();
        std::thread::spawn(move || first.wait_for_go())
    };
    assert_eq!(a_lines.recv_timeout(BOUND).unwrap(), "waiting");
    let killed = Instant::now();
    signal(&m, "-KILL");
    let result = waiting.join().unwrap();
    assert!(
        matches!(result, Err(RemoteError::Disconnected)),
        "{result:?}"
    );
    assert!(killed.elapsed() < BOUND);
    assert!(matches!(second.next(), Err(RemoteError::Disconnected)));
    // A sees the host's connection end and frees everything it held, once
    // its waiting method returns.
    writeln!(a.stdin.as_mut().unwrap(), "go").unwrap();
    assert_eq!(freed(&a_lines, 2), [2, 2]);
}

fn a_stream_of_one_plugin_reaches_another_and_a_killed_producer_ends_it_with_an_error() {
    let (_dir, a_path) = socket_path("a");
    let m_path = a_path.with_file_name("m.sock");
    let (a, _a_lines) = spawn_with_lines(&["plugin-a", a_path.to_str().unwrap()], "ready");
    let (_m, _) = spawn_with_lines(
        &["host", a_path.to_str().unwrap(), m_path.to_str().unwrap()],
        "ready",
    );
    let client = Client::connect_unix(&m_path).unwrap();
    let host: HostProxy = client.require("host").unwrap();
    // A's numbers, through the host, to the end.
    let got: Vec<u64> = host
        .numbers(5_000)
        .unwrap()
        .into_iter()
        .map(|n| n.unwrap())
        .collect();
    assert_eq!(got, (0..5_000).collect::<Vec<_>>());
    // An endless stream whose producer is killed: the reader gets the
    // error, then the end, never silence.
    let mut endless = host.numbers(0).unwrap();
    assert_eq!(endless.recv().unwrap().unwrap(), 0);
    signal(&a, "-KILL");
    let mut last = None;
    while let Some(item) = endless.recv() {
        if let Err(e) = item {
            last = Some(e);
        }
    }
    assert!(matches!(last, Some(RemoteError::Disconnected)), "{last:?}");
}
