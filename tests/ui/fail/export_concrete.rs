use std::sync::Arc;

use remote::{remote_object, Server};

#[remote_object]
pub trait Ping: Send + Sync {
    fn ping(&self) -> u32;
}

struct P;

impl Ping for P {
    fn ping(&self) -> u32 {
        1
    }
}

fn main() {
    let server = Server::new();
    server.export("ping", Arc::new(P));
}
