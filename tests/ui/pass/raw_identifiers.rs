//! Raw identifiers as method and argument names.

use std::sync::Arc;

use remote::{remote_object, Client, Server};

#[remote_object]
pub trait Token: Send + Sync {
    fn r#type(&self) -> u8;
    fn r#match(&self, r#in: u8) -> bool;
}

struct Impl;

impl Token for Impl {
    fn r#type(&self) -> u8 {
        3
    }
    fn r#match(&self, r#in: u8) -> bool {
        r#in == 3
    }
}

fn main() {
    let server = Server::new();
    server.export("token", Arc::new(Impl) as Arc<dyn Token>);
    let client = Client::in_process(&server).unwrap();
    let t: TokenProxy = client.require("token").unwrap();
    assert_eq!(t.r#type().unwrap(), 3);
    assert!(t.r#match(3).unwrap());
}
