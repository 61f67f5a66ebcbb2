use remote::remote_object;

#[remote_object]
pub trait Counter {
    fn next(&self) -> u64;
}

#[remote_object]
pub trait Gauge: Send {
    fn read(&self) -> u64;
}

fn main() {}
