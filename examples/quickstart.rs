//! The quickstart: a server and a client in one process, over channels.
//!
//! Run with `cargo run --example quickstart`.

#[path = "shared/calc.rs"]
mod calc;

use std::sync::Arc;

use calc::{Calculator, CalculatorProxy, CounterProxy, MathError, MyCalc};
use remote::{Client, RemoteError, Server};

fn main() -> Result<(), RemoteError> {
    let server = Server::new();
    server.export(
        "calculator",
        Arc::new(MyCalc::default()) as Arc<dyn Calculator>,
    );

    let client = Client::in_process(&server)?;
    let calc: CalculatorProxy = client.require("calculator")?;

    println!("2 + 3 = {}", calc.add(2, 3)?);
    println!("{}", calc.greet("quickstart")?);
    // An application error arrives as itself, inside Ok.
    assert_eq!(calc.divide(1, 0)?, Err(MathError::DivideByZero));
    println!("1 / 0 -> {:?}", calc.divide(1, 0)?);

    // A remote constructor: the counter lives on the server side.
    let counter: CounterProxy = calc.spawn_counter(100)?;
    println!("counter: {} {}", counter.next()?, counter.next()?);
    println!("live counters on the server: {}", calc.live_counters()?);
    drop(counter);
    client.sync()?; // the release has reached the server
    println!(
        "server stats after dropping the counter proxy: {:?}",
        server.stats()
    );
    Ok(())
}
