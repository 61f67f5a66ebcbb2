use remote::remote_object;

#[remote_object]
pub struct Counter {
    value: u64,
}

fn main() {}
