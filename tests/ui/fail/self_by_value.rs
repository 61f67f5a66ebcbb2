use remote::remote_object;

#[remote_object]
pub trait Session: Send + Sync {
    fn finish(self) -> u64;
}

fn main() {}
