//! A trait whose methods all return `Result` (so its proxy implements it)
//! with an `async fn` under `#[cfg]`, off in this build, and a
//! `#[cfg_attr]` that is not a cfg of the method.
#![deny(warnings)]

use remote::{remote_object, RemoteError};

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub enum StoreError {
    Remote(String),
}

impl From<RemoteError> for StoreError {
    fn from(e: RemoteError) -> Self {
        StoreError::Remote(e.to_string())
    }
}

#[remote_object]
pub trait Store: Send + Sync {
    async fn get(&self, key: String) -> Result<u32, StoreError>;
    #[cfg(any())]
    async fn wipe(&self) -> Result<(), StoreError>;
    #[cfg_attr(all(), doc = "Puts a value.")]
    fn put(&self, key: String, value: u32) -> Result<(), StoreError>;
}

fn uses_the_proxy_as_the_trait(store: &StoreProxy) -> &dyn Store {
    store
}

fn main() {
    let _ = uses_the_proxy_as_the_trait;
}
