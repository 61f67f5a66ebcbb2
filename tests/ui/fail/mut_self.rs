use remote::remote_object;

#[remote_object]
pub trait Counter: Send + Sync {
    fn bump(&mut self) -> u64;
}

fn main() {}
