// Electron's mapNumbers trap: a renderer callback used like a local mapper.
// A `Callback<(i32,)>` has no return value, so the closure must not return one.
use remote::Callback;

fn main() {
    let _mapper: Callback<(i32,)> = Callback::new(|(x,): (i32,)| x + 1);
}
