use remote::remote_object;

#[remote_object(foo)]
pub trait Counter: Send + Sync {
    fn next(&self) -> u64;
}

fn main() {}
