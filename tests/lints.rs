//! The generated items add no warnings, even under `deny(warnings)`,
//! `deny(clippy::all)` and `deny(missing_docs)`: only the user's own trait and
//! methods need docs. `cargo clippy --all-targets` checks this file.
#![deny(warnings)]
#![deny(clippy::all)]
#![deny(missing_docs)]
#![deny(unused_qualifications, unused_results, trivial_casts, unreachable_pub)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use remote::{remote_object, Client, Remote, RemoteError, Server};
use serde::{Deserialize, Serialize};

/// A value sent both ways.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Across.
    pub x: i32,
    /// Down.
    pub y: i32,
}

/// An application error.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub enum Error {
    /// The value was zero.
    Zero,
    /// The call did not get through.
    Transport(String),
}

impl From<RemoteError> for Error {
    fn from(e: RemoteError) -> Self {
        Error::Transport(e.to_string())
    }
}

/// Counts.
#[remote_object]
pub trait Counter: Send + Sync {
    /// The next value.
    fn next(&self) -> u64;
}

/// Every supported shape of argument and return.
#[remote_object]
pub trait Everything: Send + Sync {
    /// No arguments, no return.
    fn nothing(&self);
    /// Borrowed arguments.
    fn borrowed(&self, name: &str, values: &[u64], point: &Point) -> String;
    /// Owned values, options and tuples.
    fn owned(&self, point: Point, maybe: Option<u8>, pair: (u8, String)) -> (Point, Option<u8>);
    /// A returned object.
    fn counter(&self) -> Remote<dyn Counter>;
    /// Maybe a returned object.
    fn maybe_counter(&self, yes: bool) -> Option<Remote<dyn Counter>>;
    /// A fallible returned object.
    fn try_counter(&self) -> Result<Remote<dyn Counter>, Error>;
    /// Objects in a collection.
    fn counters(&self, n: u64) -> Vec<Remote<dyn Counter>>;
    /// An object argument.
    fn read(&self, counter: Remote<dyn Counter>) -> u64;
    /// A raw identifier.
    fn r#type(&self) -> u8;
    /// A default body.
    fn doubled(&self) -> u8 {
        self.r#type() * 2
    }
}

/// Every method is fallible, so the proxy implements the trait.
#[remote_object]
pub trait Fallible: Send + Sync {
    /// Fails on zero.
    fn check(&self, value: u32) -> Result<u32, Error>;
    /// Fails never.
    fn name(&self, prefix: &str) -> Result<String, Error>;
}

/// A crate-private trait.
#[remote_object]
pub(crate) trait Private: Send + Sync {
    /// A method.
    fn id(&self) -> u32;
}

/// No methods at all.
#[remote_object]
pub trait Empty: Send + Sync {}

struct Count(AtomicU64);

impl Counter for Count {
    fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst)
    }
}

fn counter(start: u64) -> Remote<dyn Counter> {
    Remote::new(Count(AtomicU64::new(start)))
}

struct Impl;

impl Everything for Impl {
    fn nothing(&self) {}
    fn borrowed(&self, name: &str, values: &[u64], point: &Point) -> String {
        format!("{name} {} {}", values.len(), point.x)
    }
    fn owned(&self, point: Point, maybe: Option<u8>, pair: (u8, String)) -> (Point, Option<u8>) {
        (point, maybe.or(Some(pair.0)))
    }
    fn counter(&self) -> Remote<dyn Counter> {
        counter(1)
    }
    fn maybe_counter(&self, yes: bool) -> Option<Remote<dyn Counter>> {
        yes.then(|| counter(2))
    }
    fn try_counter(&self) -> Result<Remote<dyn Counter>, Error> {
        Ok(counter(3))
    }
    fn counters(&self, n: u64) -> Vec<Remote<dyn Counter>> {
        (0..n).map(counter).collect()
    }
    fn read(&self, counter: Remote<dyn Counter>) -> u64 {
        counter.into_proxy().next().unwrap_or(0)
    }
    fn r#type(&self) -> u8 {
        4
    }
}

impl Fallible for Impl {
    fn check(&self, value: u32) -> Result<u32, Error> {
        if value == 0 {
            Err(Error::Zero)
        } else {
            Ok(value)
        }
    }
    fn name(&self, prefix: &str) -> Result<String, Error> {
        Ok(format!("{prefix}impl"))
    }
}

impl Private for Impl {
    fn id(&self) -> u32 {
        7
    }
}

impl Empty for Impl {}

#[test]
fn generated_items_work_under_strict_lints() -> Result<(), RemoteError> {
    let server = Server::new();
    server.export::<dyn Everything>("everything", Arc::new(Impl));
    server.export::<dyn Fallible>("fallible", Arc::new(Impl));
    server.export::<dyn Private>("private", Arc::new(Impl));
    server.export::<dyn Empty>("empty", Arc::new(Impl));
    let client = Client::in_process(&server)?;

    let e: EverythingProxy = client.require("everything")?;
    e.nothing()?;
    let p = Point { x: 1, y: 2 };
    assert_eq!(e.borrowed("n", &[1, 2], &p)?, "n 2 1");
    assert_eq!(e.owned(p.clone(), None, (5, "s".into()))?, (p, Some(5)));
    let c: CounterProxy = e.counter()?;
    assert_eq!(c.next()?, 1);
    assert!(e.maybe_counter(false)?.is_none());
    assert_eq!(e.try_counter()?.map(|c| c.next()), Ok(Ok(3)));
    assert_eq!(e.counters(2)?.len(), 2);
    assert_eq!(e.read(&c)?, 2);
    assert_eq!(e.r#type()?, 4);
    assert_eq!(e.doubled()?, 8);

    let f: FallibleProxy = client.require("fallible")?;
    let as_dyn: &dyn Fallible = &f;
    assert_eq!(as_dyn.check(0), Err(Error::Zero));
    assert_eq!(as_dyn.name("an "), Ok("an impl".to_string()));

    let private: PrivateProxy = client.require("private")?;
    assert_eq!(private.id()?, 7);
    let _empty: EmptyProxy = client.require("empty")?;
    Ok(())
}

/// A trait with properties and a callback, under the same lints.
#[remote_object]
pub trait Gauge: Send + Sync {
    /// Its label.
    #[property]
    fn label(&self) -> String;
    /// Undocumented properties get a generated doc line on their field.
    #[property]
    fn level(&self) -> u32;
    /// Tells `listener` about every change.
    fn watch(&self, listener: remote::Callback<(u32,)>);
}

struct Dial;

impl Gauge for Dial {
    fn label(&self) -> String {
        "dial".into()
    }
    fn level(&self) -> u32 {
        3
    }
    fn watch(&self, listener: remote::Callback<(u32,)>) {
        let _sent = listener.call((self.level(),));
    }
}

#[test]
fn properties_and_callbacks_expand_cleanly() {
    let server = Server::new();
    let dial: Arc<dyn Gauge> = Arc::new(Dial);
    server.export("gauge", dial);
    let client = Client::in_process(&server).expect("connect");
    let gauge: GaugeProxy = client.require("gauge").expect("require");
    assert_eq!(gauge.properties().expect("snapshot").label, "dial");
    assert_eq!(gauge.level().expect("level"), 3);
    let (tx, rx) = std::sync::mpsc::channel();
    gauge
        .watch(remote::Callback::new(move |(level,)| {
            let _sent = tx.send(level);
        }))
        .expect("watch");
    assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(20)), Ok(3));
}
