//! Callbacks whose arguments hold handles (an object, another callback)
//! cross a real socket both ways: their type is known by its shape, and
//! the shape of a handle is its trait's name, the same on both sides
//! whatever frame is being decoded when it is computed.
#![allow(missing_docs)]

mod common;

use std::sync::Arc;

use common::{tempdir, BOUND};
use remote::{remote_object, Callback, Client, Remote, Server};

#[remote_object]
pub trait Item: Send + Sync {
    fn name(&self) -> String;
}

/// A callback of the shelf's: doubles its argument.
pub type Doubler = Callback<(u32,), u32>;

#[remote_object]
pub trait Shelf: Send + Sync {
    /// Calls `found` with an item of the shelf's.
    fn each(&self, found: Callback<(Remote<dyn Item>,), bool>) -> u32;
    /// Calls `found` with a callback of the shelf's, which it then calls.
    fn handshake(&self, found: Callback<(Doubler,), u32>) -> u32;
}

struct Named(String);
impl Item for Named {
    fn name(&self) -> String {
        self.0.clone()
    }
}

struct Books;
impl Shelf for Books {
    fn each(&self, found: Callback<(Remote<dyn Item>,), bool>) -> u32 {
        let mut taken = 0;
        for title in ["Dune", "Emma"] {
            if found
                .ask((Remote::new(Named(title.into())),))
                .wait()
                .unwrap()
            {
                taken += 1;
            }
        }
        taken
    }
    fn handshake(&self, found: Callback<(Doubler,), u32>) -> u32 {
        let double = Callback::new(|(n,): (u32,)| n * 2);
        found.ask((double,)).wait().unwrap()
    }
}

#[test]
fn callbacks_carrying_handles_cross_a_socket() {
    let server = Server::new();
    server.export("shelf", Arc::new(Books) as Arc<dyn Shelf>);
    let dir = tempdir();
    let path = dir.path().join("shelf.sock");
    let listener = server.listen_unix(&path).expect("listen");
    let client = Client::connect_unix(&path).expect("connect");
    let shelf: ShelfProxy = client.require("shelf").unwrap();

    let (tx, rx) = crossbeam_channel::unbounded();
    let taken = shelf
        .each(Callback::new(move |(item,): (Remote<dyn Item>,)| {
            let name = item.into_proxy().name().unwrap();
            let take = name == "Emma";
            tx.send(name).unwrap();
            take
        }))
        .unwrap();
    assert_eq!(taken, 1);
    let seen: Vec<String> = (0..2).map(|_| rx.recv_timeout(BOUND).unwrap()).collect();
    assert_eq!(seen, ["Dune", "Emma"]);

    let answer = shelf
        .handshake(Callback::new(|(double,): (Doubler,)| {
            double.ask((21,)).wait().unwrap()
        }))
        .unwrap();
    assert_eq!(answer, 42);
    drop(listener);
}
