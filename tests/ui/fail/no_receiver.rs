use remote::remote_object;

#[remote_object]
pub trait Factory: Send + Sync {
    fn new() -> u8;
}

fn main() {}
