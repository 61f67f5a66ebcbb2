// `async fn` methods: the trait stays usable as `dyn Trait`, implementations
// use `#[remote::async_trait]`, and proxies call them like any other method.
use std::sync::Arc;

#[remote::remote_object]
pub trait Store: Send + Sync {
    async fn get(&self, key: &str) -> Option<String>;
    fn len(&self) -> usize;
}

struct Memory;

#[remote::async_trait]
impl Store for Memory {
    async fn get(&self, key: &str) -> Option<String> {
        (key == "a").then(|| "apple".to_string())
    }
    fn len(&self) -> usize {
        1
    }
}

fn main() {
    let server = remote::Server::new();
    server.export("store", Arc::new(Memory) as Arc<dyn Store>);
    let client = remote::Client::in_process(&server).unwrap();
    let store: StoreProxy = client.require("store").unwrap();
    assert_eq!(store.get("a").unwrap(), Some("apple".to_string()));
    assert_eq!(store.len().unwrap(), 1);
}
