//! Two processes over a Unix socket: this program starts a copy of itself as
//! the server, then calls it.
//!
//! Run with `cargo run --example two_process`.
//!
//! Roles (used by the tests too):
//! - `two_process serve PATH`: serve a calculator on PATH until stdin closes;
//!   prints `ready` once listening.
//! - `two_process hold PATH N`: connect, take N counters, print `holding`,
//!   then wait until killed or stdin closes.
//! - `two_process child`: as a child started by `Server::spawn_child`,
//!   connect back to the parent and use its calculator.

#[path = "shared/calc.rs"]
mod calc;
#[path = "shared/roles.rs"]
mod roles;

use std::io::BufRead;
use std::process::{Command, Stdio};

use calc::CalculatorProxy;
use remote::Client;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("serve") => roles::serve(&args[2]),
        Some("hold") => roles::hold(&args[2], args[3].parse()?),
        Some("child") => roles::child_client(),
        _ => parent(),
    }
}

fn parent() -> Result<(), Box<dyn std::error::Error>> {
    // The socket goes in a temp dir of our own, removed when `dir` drops.
    let dir = tempfile::Builder::new()
        .prefix("remote-two-process-")
        .tempdir()?;
    let path = dir.path().join("server.sock");
    let mut child = Command::new(std::env::current_exe()?)
        .arg("serve")
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let used = use_the_server(&mut child, &path);

    drop(child.stdin.take()); // tell the server to exit
    let status = child.wait()?;
    println!("server exited: {status}");
    let (_client, calc) = used?;
    // The connection is gone with it:
    println!("call after the server exited -> {:?}", calc.add(1, 1));
    // Only now, with the server gone, does its socket's directory go.
    drop(dir);
    Ok(())
}

/// Waits for the server in `child` to listen on `path`, then calls it.
fn use_the_server(
    child: &mut std::process::Child,
    path: &std::path::Path,
) -> Result<(Client, CalculatorProxy), Box<dyn std::error::Error>> {
    let mut ready = String::new();
    std::io::BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut ready)?;
    if ready.trim() != "ready" {
        return Err(format!("server did not start: {ready:?}").into());
    }

    let client = Client::connect_unix(path)?;
    let calc: CalculatorProxy = client.require("calculator")?;
    println!(
        "client process {} -> server process {}",
        std::process::id(),
        calc.pid()?
    );
    println!("2 + 3 = {}", calc.add(2, 3)?);
    println!("{}", calc.greet("two_process")?);
    println!("7 / 0 -> {:?}", calc.divide(7, 0)?);
    let counter = calc.spawn_counter(1)?;
    println!(
        "counter in the server: {}, {}",
        counter.next()?,
        counter.next()?
    );
    println!("live counters in the server: {}", calc.live_counters()?);
    drop(counter);
    println!("client stats: {:?}", client.stats());
    Ok((client, calc))
}
