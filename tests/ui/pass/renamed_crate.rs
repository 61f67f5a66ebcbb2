//! `#[remote_object(crate = "renamed")]` when the facade crate is imported
//! under another name.

extern crate remote as renamed;

use std::sync::Arc;

#[renamed::remote_object(crate = "renamed")]
pub trait Echo: Send + Sync {
    fn echo(&self, value: u32) -> u32;
    fn child(&self) -> renamed::Remote<dyn Echo>;
}

struct Impl;

impl Echo for Impl {
    fn echo(&self, value: u32) -> u32 {
        value
    }
    fn child(&self) -> renamed::Remote<dyn Echo> {
        renamed::Remote::new(Impl)
    }
}

fn main() {
    let server = renamed::Server::new();
    server.export("echo", Arc::new(Impl) as Arc<dyn Echo>);
    let client = renamed::Client::in_process(&server).unwrap();
    let e: EchoProxy = client.require("echo").unwrap();
    assert_eq!(e.echo(5).unwrap(), 5);
    assert_eq!(e.child().unwrap().echo(6).unwrap(), 6);
}
