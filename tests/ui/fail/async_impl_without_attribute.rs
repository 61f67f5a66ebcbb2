//! An `impl` of a trait with `async fn` methods needs
//! `#[remote::async_trait]`; rustc's error cannot be replaced, so the
//! trait's generated documentation says so first.
use remote::remote_object;

#[remote_object]
pub trait Store: Send + Sync {
    async fn fetch(&self, key: String) -> Option<String>;
}

struct Memory;

impl Store for Memory {
    async fn fetch(&self, key: String) -> Option<String> {
        Some(key)
    }
}

fn main() {}
