use remote::remote_object;

pub trait Job: Send + Sync {
    fn run(&self);
}

#[remote_object]
pub trait Scheduler: Send + Sync {
    fn next_job(&self) -> Box<dyn Job>;
    fn map(&self, f: Box<dyn Fn(i32) -> i32 + Send>) -> i32;
    fn on_done(&self, f: std::sync::Arc<dyn Fn(String) + Send + Sync>);
    fn jobs(&self) -> Vec<Box<dyn Job>>;
}

fn main() {}
