//! When every method returns `Result<_, E>` with `E: From<RemoteError>`, the
//! blocking proxy implements the trait, so it can be used as `&dyn Trait`.

use std::sync::Arc;

use remote::{remote_object, Client, RemoteError, Server};
use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub enum StoreError {
    Missing(String),
    Transport(String),
}

impl From<RemoteError> for StoreError {
    fn from(e: RemoteError) -> Self {
        StoreError::Transport(e.to_string())
    }
}

#[remote_object]
pub trait Store: Send + Sync {
    fn get(&self, key: &str) -> Result<String, StoreError>;
    fn len(&self) -> Result<u64, StoreError>;
}

struct Impl;

impl Store for Impl {
    fn get(&self, key: &str) -> Result<String, StoreError> {
        match key {
            "a" => Ok("alpha".into()),
            _ => Err(StoreError::Missing(key.into())),
        }
    }
    fn len(&self) -> Result<u64, StoreError> {
        Ok(1)
    }
}

/// Written against the trait: runs on a local object or on a proxy.
fn lookup(store: &dyn Store, key: &str) -> Result<String, StoreError> {
    store.get(key)
}

fn main() {
    let server = Server::new();
    server.export("store", Arc::new(Impl) as Arc<dyn Store>);
    let client = Client::in_process(&server).unwrap();
    let proxy: StoreProxy = client.require("store").unwrap();
    assert_eq!(lookup(&proxy, "a"), Ok("alpha".into()));
    assert_eq!(lookup(&proxy, "b"), Err(StoreError::Missing("b".into())));
    assert_eq!(lookup(&Impl, "a"), Ok("alpha".into()));
    let as_dyn: &dyn Store = &proxy;
    assert_eq!(as_dyn.len(), Ok(1));
}
