//! What a client can learn about the process that serves it
//! ([`Client::process`](crate::Client::process)), like Electron's cached
//! `remote.process`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The serving process, as it described itself when the client first asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProcessInfo {
    /// Its process ID.
    pub pid: u32,
    /// The path of its executable, if known.
    pub executable: String,
    /// Its command-line arguments, the program name first.
    pub args: Vec<String>,
    /// The operating system (`linux`, `macos`, ...).
    pub os: String,
    /// The CPU architecture (`x86_64`, `aarch64`, ...).
    pub arch: String,
    /// Versions of the crates involved: `remote` always, and whatever the
    /// application added with [`Server::set_version`](crate::Server::set_version).
    pub versions: BTreeMap<String, String>,
}

impl ProcessInfo {
    pub(crate) fn current(extra: &BTreeMap<String, String>) -> ProcessInfo {
        let mut versions = extra.clone();
        versions.insert("remote".into(), env!("CARGO_PKG_VERSION").into());
        ProcessInfo {
            pid: std::process::id(),
            executable: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            args: std::env::args().collect(),
            os: std::env::consts::OS.into(),
            arch: std::env::consts::ARCH.into(),
            versions,
        }
    }
}

/// The reserved global names.
pub(crate) const PROCESS_GLOBAL: &str = "process";
/// Globals named with this prefix are the library's own.
pub(crate) const RESERVED_PREFIX: &str = "remote:";
pub(crate) const MODULES_GLOBAL: &str = "remote:modules";
