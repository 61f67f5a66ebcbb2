//! A `pub(crate)` trait inside a module; its generated items take the same
//! visibility and are usable from the rest of the crate.

mod service {
    #[remote::remote_object]
    pub(crate) trait Service: Send + Sync {
        fn id(&self) -> u32;
    }

    pub(crate) struct Impl;

    impl Service for Impl {
        fn id(&self) -> u32 {
            42
        }
    }
}

use std::sync::Arc;

use service::{Service, ServiceAsyncProxy, ServiceProxy};

fn main() {
    let server = remote::Server::new();
    server.export("service", Arc::new(service::Impl) as Arc<dyn Service>);
    let client = remote::Client::in_process(&server).unwrap();
    let s: ServiceProxy = client.require("service").unwrap();
    assert_eq!(s.id().unwrap(), 42);
    let _async: ServiceAsyncProxy = s.to_async();
}
