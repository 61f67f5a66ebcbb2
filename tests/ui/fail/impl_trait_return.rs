use remote::remote_object;

#[remote_object]
pub trait Source: Send + Sync {
    fn items(&self) -> impl Iterator<Item = u8>;
}

fn main() {}
