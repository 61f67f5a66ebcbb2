use remote::{remote_object, Remote};

#[remote_object]
pub trait Counter: Send + Sync {
    fn next(&self) -> u64;
}

#[remote_object]
pub trait Window: Send + Sync {
    // A property is a snapshot of a value: it takes no arguments...
    #[property]
    fn title_in(&self, language: String) -> String;
    // ...holds no handle...
    #[property]
    fn counter(&self) -> Remote<dyn Counter>;
    // ...and has a value.
    #[property]
    fn nothing(&self);
}

fn main() {}
