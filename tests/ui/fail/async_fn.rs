use remote::remote_object;

#[remote_object]
pub trait Fetcher: Send + Sync {
    async fn fetch(&self, url: String) -> Vec<u8>;
}

fn main() {}
