use std::sync::Arc;

use remote::remote_object;

#[remote_object]
pub trait Node: Send + Sync {
    fn id(self: Arc<Self>) -> u64;
}

fn main() {}
