//! What a peer can make us log is bounded: a flood of bad release entries
//! and of calls to a panicking method costs a few lines a second per
//! connection, each carrying the count of the lines held back before it.
//! (Its own binary: it installs the process's tracing subscriber.)
#![allow(missing_docs)]

mod common;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{Calc, Calculator, CalculatorProxy, BOUND};
use remote::testing;
use remote::{Client, RemoteError, Server};

const CALCULATOR_FP: u64 = <dyn Calculator as remote::__private::Interface>::FINGERPRINT;

/// Counts the lines written that contain `needle`.
#[derive(Clone)]
struct Counter {
    needle: &'static str,
    lines: Arc<AtomicUsize>,
}

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let n = text.lines().filter(|l| l.contains(self.needle)).count();
        self.lines.fetch_add(n, Ordering::SeqCst);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Both(Counter, Counter);

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Both {
    type Writer = Tee;
    fn make_writer(&'a self) -> Tee {
        Tee(self.0.clone(), self.1.clone())
    }
}

struct Tee(Counter, Counter);

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)?;
        self.1.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn floods_cost_a_few_log_lines() {
    let releases = Counter {
        needle: "bad release entries ignored",
        lines: Arc::default(),
    };
    let panics = Counter {
        needle: "remote method panicked",
        lines: Arc::default(),
    };
    // A thousand panics on purpose: keep the output readable.
    std::panic::set_hook(Box::new(|_| {}));
    tracing_subscriber::fmt()
        .with_writer(Both(releases.clone(), panics.clone()))
        .with_ansi(false)
        .init();

    let server = Server::new();
    server.export("calculator", Calc::new().0 as Arc<dyn Calculator>);
    let dir = tempfile::Builder::new()
        .prefix("remote-lb-")
        .tempdir()
        .unwrap();
    let path = dir.path().join("server.sock");
    let listener = server.listen_unix(&path).unwrap();

    // A raw peer: a thousand release frames naming nothing it holds.
    let mut raw = UnixStream::connect(&path).unwrap();
    raw.set_read_timeout(Some(BOUND)).unwrap();
    raw.write_all(&testing::hello_frame(30_000)).unwrap();
    for i in 0..1000u64 {
        raw.write_all(&testing::release_frame(&[(1_000_000 + i, 1)]))
            .unwrap();
    }
    // Answered after every release before it was handled.
    raw.write_all(&testing::require_frame(
        1,
        "calculator",
        "Calculator",
        CALCULATOR_FP,
    ))
    .unwrap();
    loop {
        let frame = testing::read_frame(&mut raw).expect("the require's answer");
        if testing::parse_reply(frame).is_some_and(|r| r.id == 1) {
            break;
        }
    }

    // A client calling a panicking method a thousand times.
    let client = Client::connect_unix(&path).unwrap();
    let calc: CalculatorProxy = client.require("calculator").unwrap();
    for _ in 0..1000 {
        assert!(matches!(
            calc.boom("again".into()),
            Err(RemoteError::Panic { .. })
        ));
    }

    let (r, p) = (
        releases.lines.load(Ordering::SeqCst),
        panics.lines.load(Ordering::SeqCst),
    );
    // Ten a second per connection; the floods take well under 10 s here.
    assert!(
        (1..=100).contains(&r),
        "{r} lines for 1,000 bad release frames"
    );
    assert!((1..=100).contains(&p), "{p} lines for 1,000 panics");
    drop(client);
    drop(listener);
}
