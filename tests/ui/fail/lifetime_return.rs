use std::borrow::Cow;

use remote::remote_object;

#[remote_object]
pub trait Named: Send + Sync {
    fn name(&self) -> Cow<'static, str>;
}

fn main() {}
