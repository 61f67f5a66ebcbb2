//! The deprecation warning fires where the proxy method is called.
#![deny(deprecated)]

use remote::remote_object;

#[remote_object]
pub trait Store: Send + Sync {
    #[deprecated(note = "use `get`")]
    fn old(&self) -> u32;
    fn get(&self) -> u32;
}

fn read(store: &StoreProxy) -> u32 {
    store.get().unwrap() + store.old().unwrap()
}

fn read_async(store: &StoreAsyncProxy) -> remote::AsyncCall<u32> {
    store.old()
}

fn main() {
    let _ = (read, read_async);
}
