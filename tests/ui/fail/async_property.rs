#[remote::remote_object]
pub trait Gauge: Send + Sync {
    // A property is evaluated when the handle is sent, so it cannot be async.
    #[property]
    async fn level(&self) -> u32;
}

fn main() {}
