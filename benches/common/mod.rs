//! What every bench here shares: its command line, its temp dir and the
//! dir's clean-up, the watchdog that ends a run gone wrong, the median, the
//! context-switch count and what /proc says about threads and load.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The command line every bench takes: `--quick` and a filter (the one
/// argument that is not a flag).
#[derive(Clone)]
pub struct BenchArgs {
    pub quick: bool,
    pub filter: Option<String>,
}

impl BenchArgs {
    /// Reads this process's arguments; ignores every other flag (`cargo
    /// bench` passes `--bench`).
    pub fn from_args() -> BenchArgs {
        BenchArgs::from_args_with(|_| {})
    }

    /// As [`BenchArgs::from_args`], but first hands every flag other than
    /// `--quick` to `flag`, which takes the bench's own and ignores the rest.
    pub fn from_args_with(mut flag: impl FnMut(&str)) -> BenchArgs {
        let mut args = BenchArgs {
            quick: false,
            filter: None,
        };
        for arg in std::env::args().skip(1) {
            match arg.as_str() {
                "--quick" => args.quick = true,
                a if a.starts_with("--") => flag(a),
                a => args.filter = Some(a.to_string()),
            }
        }
        args
    }

    /// Whether group `group` runs: no filter, or `group` contains it.
    pub fn wants(&self, group: &str) -> bool {
        self.filter.as_deref().is_none_or(|f| group.contains(f))
    }

    /// `quick` in a quick run, `full` otherwise.
    pub fn pick<T>(&self, quick: T, full: T) -> T {
        if self.quick {
            quick
        } else {
            full
        }
    }

    /// The arguments that give a child process of the bench these ones
    /// (`--quick` first, then the filter).
    pub fn to_args(&self) -> Vec<String> {
        let quick = self.quick.then(|| "--quick".to_string());
        quick.into_iter().chain(self.filter.clone()).collect()
    }
}

/// This process's own directory under the system temp dir:
/// `<temp dir>/<stem>-<pid>`.
pub fn process_temp_dir(stem: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{stem}-{}", std::process::id()))
}

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

/// A tokio runtime on the calling thread.
pub fn current_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Ends a server process that serves until its stdin closes: closes its
/// stdin; kills it if it has not exited within two seconds.
pub fn stop_server(child: &mut std::process::Child) {
    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The `Cpus_allowed_list` and name of every live thread of process `pid`
/// (`self` for this one); `None` if /proc does not say.
pub fn thread_affinities(pid: &str) -> Option<Vec<(String, String)>> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut threads = Vec::new();
    for task in tasks.flatten() {
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        let field = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        threads.push((field("Cpus_allowed_list:"), field("Name:")));
    }
    Some(threads)
}

/// The first three fields of /proc/loadavg (1, 5 and 15 minute load).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
