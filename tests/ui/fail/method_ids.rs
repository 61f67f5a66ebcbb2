use remote::remote_object;

#[remote_object]
pub trait Store: Send + Sync {
    #[remote(id = 1)]
    fn get(&self) -> u32;
    #[remote(id = 1)]
    fn put(&self, value: u32);
    #[remote(id = 4000000000)]
    fn huge(&self);
    #[remote(number = 2)]
    fn odd(&self);
}

fn main() {}
