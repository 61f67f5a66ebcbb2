//! What every bench here shares: its temp dir's clean-up, the watchdog
//! that ends a run gone wrong, the median and the context-switch count.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// Removes the socket directory however `main` ends.
pub struct CleanUp(pub PathBuf);
impl Drop for CleanUp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What is being measured right now, for the watchdog's message.
static CURRENT: Mutex<String> = Mutex::new(String::new());

/// Names what is being measured now.
pub fn set_current(what: &str) {
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = what.to_string();
}

/// Ends the process if the run takes far longer than it should, removing
/// `dir` (the process's own socket directory) first; `bench` names it in
/// the message.
pub fn watchdog(bench: &'static str, limit: Duration, dir: Option<PathBuf>) {
    std::thread::Builder::new()
        .name("bench-watchdog".into())
        .spawn(move || {
            std::thread::sleep(limit);
            let at = CURRENT.lock().unwrap_or_else(|e| e.into_inner()).clone();
            eprintln!("{bench} bench: watchdog fired after {limit:?} in {at}");
            if let Some(dir) = dir {
                let _ = std::fs::remove_dir_all(&dir);
            }
            std::process::exit(2);
        })
        .expect("watchdog thread");
}

/// The median of `v`.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Context switches (voluntary and not) of every live thread so far.
pub fn context_switches() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .flat_map(|status| {
            status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split(':').nth(1)?.trim().parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}
