use remote::remote_object;

#[derive(serde::Serialize)]
pub struct Report {
    pub lines: Vec<String>,
}

#[remote_object]
pub trait Service: Send + Sync {
    fn report(&self) -> Report;
}

fn main() {}
