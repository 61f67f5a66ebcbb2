use remote::remote_object;

#[remote_object]
pub trait Joiner: Send + Sync {
    fn join(&self, parts: Vec<&str>) -> String;
}

fn main() {}
