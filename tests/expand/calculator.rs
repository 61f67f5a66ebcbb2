// The trait of the quickstart: plain values, a borrowed `&str`, an
// application error and a remote constructor.
#[remote_object]
pub trait Calculator: Send + Sync {
    /// Adds two numbers.
    fn add(&self, a: i64, b: i64) -> i64;
    fn greet(&self, name: &str) -> String;
    fn divide(&self, a: i64, b: i64) -> Result<i64, MathError>;
    fn spawn_counter(&self, start: u64) -> Remote<dyn Counter>;
}
