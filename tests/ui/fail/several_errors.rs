use remote::remote_object;

#[remote_object]
pub trait Account: Send + Sync {
    fn balance(&self) -> u64;
    fn deposit(&mut self, amount: u64);
    fn owner(&self) -> &str;
}

fn main() {}
