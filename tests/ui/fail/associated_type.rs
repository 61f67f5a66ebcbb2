use remote::remote_object;

#[remote_object]
pub trait Container: Send + Sync {
    type Item;
    fn len(&self) -> u64;
}

fn main() {}
