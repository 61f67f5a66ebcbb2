//! Listeners: dropping one never hangs, whatever happened to its socket's
//! path, and a process out of file descriptors backs off (no busy loop)
//! and serves again once descriptors free up. The second test fills this
//! process's descriptor table, so it runs in a binary of its own, with a
//! client in a child process.
#![allow(missing_docs)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{tempdir, Calc, Calculator, CalculatorProxy};
use remote::{Client, Server};

const BOUND: Duration = Duration::from_secs(20);
const ROLE: &str = "REMOTE_TEST_LISTENER_ROLE";

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        assert_eq!(role, "late-client");
        let path: PathBuf = std::env::args().nth(1).expect("socket path").into();
        late_client(&path);
        return;
    }
    let args = libtest_mimic::Arguments::from_args();
    let tests = vec![
        libtest_mimic::Trial::test("dropping_a_listener_whose_path_is_gone_returns", || {
            dropping_a_listener_whose_path_is_gone_returns();
            Ok(())
        }),
        libtest_mimic::Trial::test("running_out_of_descriptors_backs_off_and_recovers", || {
            running_out_of_descriptors_backs_off_and_recovers();
            Ok(())
        }),
    ];
    libtest_mimic::run(&args, tests).exit();
}

fn dropping_a_listener_whose_path_is_gone_returns() {
    let server = Server::new();
    let dir = tempdir();
    let path = dir.path().join("server.sock");
    let listener = server.listen_unix(&path).unwrap();
    let client = Client::connect_unix(&path).unwrap();
    // Someone cleaned up the directory under the live listener.
    drop(dir);
    assert!(!path.exists());
    let (done, dropped) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(listener);
        let _ = done.send(());
    });
    dropped
        .recv_timeout(BOUND)
        .expect("dropping the listener returned");
    // The connection made before goes on.
    client.sync().unwrap();
}

/// CPU time this process has used, in clock ticks, as a child reads it.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // Fields after the command name (which ends with ')'): utime and stime
    // are the 12th and 13th.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// The child: waits for "go", connects (the server cannot accept: it has
/// no descriptor left), reports the server's CPU use over a second, waits
/// for "freed", then makes a call.
fn late_client(path: &Path) {
    let parent = std::os::unix::process::parent_id();
    let mut lines = BufReader::new(std::io::stdin()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "go");
    let client = Client::connect_unix(path).expect("connect");
    let before = cpu_ticks(parent);
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(parent) - before;
    println!("cpu {used}");
    assert_eq!(lines.next().unwrap().unwrap(), "freed");
    let calc: CalculatorProxy = client.require("calculator").expect("require");
    println!("ok {}", calc.add(2, 3).expect("call"));
}

fn running_out_of_descriptors_backs_off_and_recovers() {
    let server = Server::new();
    server.export("calculator", Calc::new().0 as Arc<dyn Calculator>);
    // A temp dir removed however the test ends.
    let dir = tempdir();
    let path = dir.path().join("server.sock");
    let _listener = server.listen_unix(&path).unwrap();
    let mut child = Command::new(std::env::current_exe().expect("test exe"))
        .env(ROLE, "late-client")
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the client");
    let mut to_child = child.stdin.take().unwrap();
    let (line_tx, from_child) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if line_tx.send(line).is_err() {
                return;
            }
        }
    });
    // Take every descriptor this process may still open.
    let mut hog = Vec::new();
    while let Ok(file) = std::fs::File::open("/dev/null") {
        hog.push(file);
    }
    writeln!(to_child, "go").unwrap();
    let cpu = from_child.recv_timeout(BOUND).expect("the client's report");
    let ticks: u64 = cpu.strip_prefix("cpu ").expect("cpu line").parse().unwrap();
    drop(hog);
    writeln!(to_child, "freed").unwrap();
    let ok = from_child.recv_timeout(BOUND);
    let _ = child.kill();
    let _ = child.wait();
    // A second has 100 ticks; a loop retrying accept at once burns them all.
    assert!(
        ticks < 30,
        "the server used {ticks} ticks of CPU in a second of failing accepts"
    );
    assert_eq!(ok.expect("the client's call went through"), "ok 5");
}
