// Every method returns Result<_, E>: the blocking proxy implements the trait.
#[remote_object(crate = "renamed")]
pub trait Store: Send + Sync {
    fn get(&self, key: &str) -> Result<Vec<u8>, StoreError>;
    fn put(&self, key: String, value: Vec<u8>) -> Result<(), StoreError>;
}
