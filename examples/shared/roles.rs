//! The process roles of the two-process example, shared with the tests that
//! start them as real child processes.

use std::io::{Read, Write};
use std::sync::Arc;

use super::calc::{Calculator, CalculatorProxy, CounterProxy, MyCalc};
use remote::{Client, RemoteError, Server};

/// Serves a calculator on `path` until stdin closes; prints `ready` once
/// listening.
pub fn serve(path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::new();
    server.export(
        "calculator",
        Arc::new(MyCalc::default()) as Arc<dyn Calculator>,
    );
    let _listener = server.listen_unix(path)?;
    println!("ready");
    std::io::stdout().flush()?;
    wait_for_stdin_to_close()
}

/// Connects to `path`, takes `n` counters and prints `holding N`. Then, for
/// each line `call` on stdin, calls the server and prints the outcome, until
/// stdin closes (or the process is killed or stopped).
pub fn hold(path: &str, n: u64) -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::connect_unix(path)?;
    let calc: CalculatorProxy = client.require("calculator")?;
    let counters: Vec<CounterProxy> = (0..n)
        .map(|i| calc.spawn_counter(i))
        .collect::<Result<_, RemoteError>>()?;
    println!("holding {}", counters.len());
    std::io::stdout().flush()?;
    for line in std::io::stdin().lines() {
        if line?.trim() == "call" {
            println!("{:?}", counters.first().map(|c| c.next()));
            std::io::stdout().flush()?;
        }
    }
    Ok(())
}

fn wait_for_stdin_to_close() -> Result<(), Box<dyn std::error::Error>> {
    let mut sink = Vec::new();
    std::io::stdin().read_to_end(&mut sink)?;
    Ok(())
}

/// A child started by `Server::spawn_child`: connects back, uses the parent's
/// calculator, exports a counter of its own for the parent, prints what it
/// saw, then waits until stdin closes.
pub fn child_client() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::from_parent()?;
    let calc: CalculatorProxy = client.require("calculator")?;
    let counter = calc.spawn_counter(5)?;
    println!(
        "sum {} counter {} parent {}",
        calc.add(40, 2)?,
        counter.next()?,
        calc.pid()?
    );
    client.export(
        "child-calculator",
        Arc::new(MyCalc::default()) as Arc<dyn Calculator>,
    );
    std::io::stdout().flush()?;
    let keep = (client, calc, counter);
    wait_for_stdin_to_close()?;
    drop(keep);
    Ok(())
}
