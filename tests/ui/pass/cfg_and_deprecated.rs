//! `#[cfg]` on methods is honoured on every generated item (two cfg'd
//! variants of one method included), and `#[deprecated]` methods compile
//! without warnings at the trait.
#![deny(warnings)]

use std::sync::Arc;

use remote::{remote_object, Client, Server};

#[remote_object]
pub trait Store: Send + Sync {
    fn get(&self) -> u32;
    #[cfg(any())]
    fn never(&self) -> NotAType;
    #[cfg(all())]
    fn open(&self, path: String) -> u64;
    #[cfg(not(all()))]
    fn open(&self, path: String, mode: u32) -> u64;
    #[deprecated(note = "use `get`")]
    fn old(&self) -> u32;
    #[cfg(any())]
    async fn never_async(&self) -> u32;
}

struct S;

#[allow(deprecated)]
impl Store for S {
    fn get(&self) -> u32 {
        1
    }
    fn open(&self, path: String) -> u64 {
        path.len() as u64
    }
    fn old(&self) -> u32 {
        2
    }
}

fn main() {
    let server = Server::new();
    server.export("store", Arc::new(S) as Arc<dyn Store>);
    let client = Client::in_process(&server).unwrap();
    let store: StoreProxy = client.require("store").unwrap();
    assert_eq!(store.get().unwrap(), 1);
    assert_eq!(store.open("abc".into()).unwrap(), 3);
    #[allow(deprecated)]
    let old = store.old().unwrap();
    assert_eq!(old, 2);
    let names: Vec<&str> = <dyn Store as remote::__private::Interface>::methods()
        .iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["get", "open", "old"]);
}
