use remote::remote_object;

#[remote_object]
pub trait Store<T>: Send + Sync {
    fn len(&self) -> u64;
}

fn main() {}
