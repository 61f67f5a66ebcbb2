use remote::remote_object;

#[remote_object]
pub trait Limits: Send + Sync {
    const MAX: u32;
    fn current(&self) -> u32;
}

fn main() {}
