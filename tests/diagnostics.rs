//! Leak diagnostics: when one peer holds too many handles, the owner logs a
//! warning that names the peer, the trait and the line of the peer's source
//! that obtained them (the seeds' "stored in a map but never freed").
//! Its own test binary, because it installs a global tracing subscriber.
#![allow(missing_docs)]

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use remote::{Options, Server};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn capture() -> Captured {
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            let writer = captured.clone();
            tracing_subscriber::fmt()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .with_max_level(tracing::Level::WARN)
                .init();
            captured
        })
        .clone()
}

fn leak_and_find_warning<T: Transport>(peer_prefix: &str) {
    let captured = capture();
    let (calc, _dropped) = Calc::new();
    let server = Server::with_options(Options::new().warn_handles(100));
    server.export("calculator", calc as Arc<dyn Calculator>);
    let connect = T::serve(&server);
    let client = connect();
    let calc: CalculatorProxy = client.require("calculator").unwrap();
    // The classic leak: proxies stored in a map and never removed.
    let mut cache: HashMap<u64, CounterProxy> = HashMap::new();
    let line = line!() + 2;
    for i in 0..150 {
        let counter = calc.spawn_counter(i).unwrap();
        cache.insert(i, counter);
    }
    let site = format!("tests/diagnostics.rs:{line}:");
    eventually("the leak warning", || {
        captured
            .text()
            .lines()
            .any(|l| l.contains(&site) && l.contains(peer_prefix))
    });
    let text = captured.text();
    let warning = text
        .lines()
        .find(|l| l.contains(&site) && l.contains(peer_prefix))
        .unwrap();
    assert!(warning.contains("WARN"), "{warning}");
    assert!(
        warning.contains("Counter"),
        "names the dominant trait: {warning}"
    );
    assert!(
        warning.contains("101 live handles"),
        "fires once past the threshold: {warning}"
    );
    drop(cache);
}

#[test]
fn a_peer_holding_too_many_handles_is_named_with_the_line_that_got_them() {
    leak_and_find_warning::<InProcess>("in-process");
    leak_and_find_warning::<Unix>("unix:");
}
