//! A method with a default body, and doc comments on the trait and its
//! methods.

use std::sync::Arc;

use remote::{remote_object, Client, Server};

/// Says hello.
#[remote_object]
pub trait Greeter: Send + Sync {
    /// The name to greet.
    ///
    /// Spans several lines.
    fn name(&self) -> String;

    /// Greets; implementors rarely override it.
    fn greet(&self) -> String {
        format!("hello, {}", self.name())
    }
}

struct Impl;

impl Greeter for Impl {
    fn name(&self) -> String {
        "Ada".into()
    }
}

fn main() {
    let server = Server::new();
    server.export("greeter", Arc::new(Impl) as Arc<dyn Greeter>);
    let client = Client::in_process(&server).unwrap();
    let g: GreeterProxy = client.require("greeter").unwrap();
    assert_eq!(g.greet().unwrap(), "hello, Ada");
}
