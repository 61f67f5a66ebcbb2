use remote::remote_object;

#[remote_object]
pub trait Filler: Send + Sync {
    fn fill(&self, buffer: &mut Vec<u8>);
}

fn main() {}
