//! `Remote<dyn Other>` at the top level of arguments and returns, and inside
//! `Vec`, `Option` and `Result`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use remote::{remote_object, Client, Remote, Server};

#[remote_object]
pub trait Counter: Send + Sync {
    fn next(&self) -> u64;
}

#[remote_object]
pub trait Hub: Send + Sync {
    fn make(&self, start: u64) -> Remote<dyn Counter>;
    fn make_many(&self, n: u64) -> Vec<Remote<dyn Counter>>;
    fn maybe(&self, yes: bool) -> Option<Remote<dyn Counter>>;
    fn try_make(&self, ok: bool) -> Result<Remote<dyn Counter>, String>;
    fn read(&self, counter: Remote<dyn Counter>) -> u64;
    fn read_all(&self, counters: Vec<Remote<dyn Counter>>) -> u64;
    fn read_maybe(&self, counter: Option<Remote<dyn Counter>>) -> u64;
    fn read_result(&self, counter: Result<Remote<dyn Counter>, String>) -> u64;
}

struct Count(AtomicU64);

impl Counter for Count {
    fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst)
    }
}

fn counter(start: u64) -> Remote<dyn Counter> {
    Remote::new(Count(AtomicU64::new(start)))
}

fn next(c: &Remote<dyn Counter>) -> u64 {
    c.clone().into_proxy().next().unwrap()
}

struct HubImpl;

impl Hub for HubImpl {
    fn make(&self, start: u64) -> Remote<dyn Counter> {
        counter(start)
    }
    fn make_many(&self, n: u64) -> Vec<Remote<dyn Counter>> {
        (0..n).map(counter).collect()
    }
    fn maybe(&self, yes: bool) -> Option<Remote<dyn Counter>> {
        yes.then(|| counter(5))
    }
    fn try_make(&self, ok: bool) -> Result<Remote<dyn Counter>, String> {
        if ok {
            Ok(counter(7))
        } else {
            Err("no".into())
        }
    }
    fn read(&self, counter: Remote<dyn Counter>) -> u64 {
        next(&counter)
    }
    fn read_all(&self, counters: Vec<Remote<dyn Counter>>) -> u64 {
        counters.iter().map(next).sum()
    }
    fn read_maybe(&self, counter: Option<Remote<dyn Counter>>) -> u64 {
        counter.as_ref().map_or(0, next)
    }
    fn read_result(&self, counter: Result<Remote<dyn Counter>, String>) -> u64 {
        counter.as_ref().map_or(0, next)
    }
}

fn main() {
    let server = Server::new();
    server.export("hub", Arc::new(HubImpl) as Arc<dyn Hub>);
    let client = Client::in_process(&server).unwrap();
    let hub: HubProxy = client.require("hub").unwrap();

    let c: CounterProxy = hub.make(10).unwrap();
    assert_eq!(c.next().unwrap(), 10);
    assert_eq!(hub.make_many(3).unwrap().len(), 3);
    let maybe: Option<CounterProxy> = hub.maybe(true).unwrap();
    assert_eq!(maybe.unwrap().next().unwrap(), 5);
    assert!(hub.maybe(false).unwrap().is_none());
    let made: Result<CounterProxy, String> = hub.try_make(true).unwrap();
    assert_eq!(made.unwrap().next().unwrap(), 7);
    assert_eq!(hub.try_make(false).unwrap().unwrap_err(), "no");

    // A proxy, a reference to a proxy, or a local object's `Remote`.
    assert_eq!(hub.read(&c).unwrap(), 11);
    assert_eq!(hub.read(c.clone()).unwrap(), 12);
    assert_eq!(hub.read(counter(100)).unwrap(), 100);
    assert_eq!(hub.read_all(vec![counter(1), c.into_remote()]).unwrap(), 14);
    assert_eq!(hub.read_maybe(Some(counter(3))).unwrap(), 3);
    assert_eq!(hub.read_maybe(None).unwrap(), 0);
    assert_eq!(hub.read_result(Ok(counter(4))).unwrap(), 4);
    assert_eq!(hub.read_result(Err("x".into())).unwrap(), 0);
}
