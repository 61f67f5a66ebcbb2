use remote::remote_object;

#[remote_object]
pub trait Named: Send + Sync {
    fn name(&self) -> &str;
}

fn main() {}
