//! The process clock the driver hands to the protocol core, whose lease
//! clock (`protocol::lease`) reads no clock of its own.

use std::sync::OnceLock;
use std::time::Instant;

/// Milliseconds since this process first asked.
pub(crate) fn now_ms() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_millis() as u64
}
