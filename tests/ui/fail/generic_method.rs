use remote::remote_object;

#[remote_object]
pub trait Store: Send + Sync {
    fn get<T>(&self) -> T;
}

fn main() {}
