use remote::remote_object;

pub struct Config {
    pub verbose: bool,
}

#[remote_object]
pub trait Service: Send + Sync {
    fn configure(&self, config: Config) -> bool;
}

fn main() {}
