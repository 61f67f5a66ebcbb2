use remote::remote_object;

#[remote_object]
pub trait Printer: Send + Sync {
    fn print(&self, value: impl std::fmt::Display) -> u8;
}

fn main() {}
