use remote::remote_object;

#[remote_object]
pub trait Node: Send + Sync {
    fn same_object(&self) -> bool;
}

fn main() {}
