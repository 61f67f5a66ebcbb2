//! Electron's `mapNumbers` trap, and what the typed version does instead.
//!
//! Run with `cargo run --example map_numbers`.
//!
//! In Electron, `mapNumbers.withRendererCallback(x => x + 1)` gave
//! `[undefined, undefined, undefined]`: the main process called the renderer's
//! function asynchronously and silently lost its return value. Here the type
//! of a callback says whether it answers:
//! - `Callback<(i32,)>` has no return value at all; writing `|(x,)| x + 1`
//!   for it does not compile (see `tests/ui/fail/callback_return_value.rs`);
//! - `Callback<(i32,), i32>` answers, and the server gets each answer as a
//!   reply it waits for (with a deadline), so the result matches a local
//!   callback's.

use std::sync::Arc;
use std::time::Duration;

use remote::{remote_object, Callback, Client, RemoteError, Server};

/// The main process's `mapNumbers.js`.
#[remote_object]
pub trait MapNumbers: Send + Sync {
    /// Maps `[1, 2, 3]` with the renderer's function.
    fn with_renderer_callback(&self, mapper: Callback<(i32,), i32>) -> Result<Vec<i32>, String>;
    /// Maps `[1, 2, 3]` with a function of the main process.
    fn with_local_callback(&self) -> Vec<i32>;
    /// Tells the renderer about each number; nothing to answer.
    fn announce(&self, listener: Callback<(i32,)>);
}

struct Main;

impl MapNumbers for Main {
    fn with_renderer_callback(&self, mapper: Callback<(i32,), i32>) -> Result<Vec<i32>, String> {
        [1, 2, 3]
            .iter()
            .map(|&x| {
                mapper
                    .ask((x,))
                    .deadline(Duration::from_secs(5))
                    .wait()
                    .map_err(|e| e.to_string())
            })
            .collect()
    }

    fn with_local_callback(&self) -> Vec<i32> {
        [1, 2, 3].iter().map(|x| x + 1).collect()
    }

    fn announce(&self, listener: Callback<(i32,)>) {
        for x in [1, 2, 3] {
            // Returns at once; the renderer runs it in order, later.
            let _ = listener.call((x,));
        }
    }
}

fn main() -> Result<(), RemoteError> {
    let server = Server::new();
    server.export("mapNumbers", Arc::new(Main) as Arc<dyn MapNumbers>);

    // The renderer.
    let client = Client::in_process(&server)?;
    let map_numbers: MapNumbersProxy = client.require("mapNumbers")?;

    let with_renderer_cb = map_numbers.with_renderer_callback(Callback::new(|(x,)| x + 1))?;
    let with_local_cb = map_numbers.with_local_callback()?;
    println!("withRendererCallback: {with_renderer_cb:?}");
    println!("withLocalCallback:    {with_local_cb:?}");
    assert_eq!(with_renderer_cb, Ok(with_local_cb));

    let (tx, rx) = std::sync::mpsc::channel();
    map_numbers.announce(Callback::new(move |(x,)| {
        tx.send(x).unwrap();
    }))?;
    let announced: Vec<i32> = rx.iter().take(3).collect();
    println!("announced, in order:  {announced:?}");
    Ok(())
}
