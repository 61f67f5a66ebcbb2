//! The calculator service shared by the examples and the two-process tests.
//! Both processes compile this same file, so their trait fingerprints agree.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use remote::{remote_object, Remote};
use serde::{Deserialize, Serialize};

/// What can go wrong in a division.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MathError {
    /// The divisor was zero.
    DivideByZero,
}

/// A calculator that lives in the server process.
#[remote_object]
pub trait Calculator: Send + Sync {
    /// Adds two numbers.
    fn add(&self, a: i64, b: i64) -> i64;
    /// Greets someone.
    fn greet(&self, name: &str) -> String;
    /// Divides, or says why not.
    fn divide(&self, a: i64, b: i64) -> Result<i64, MathError>;
    /// A remote constructor: the counter stays in the server process.
    fn spawn_counter(&self, start: u64) -> Remote<dyn Counter>;
    /// How many counters are alive in the server process.
    fn live_counters(&self) -> u64;
    /// The server's process id.
    fn pid(&self) -> u32;
}

/// A counter object owned by the server.
#[remote_object]
pub trait Counter: Send + Sync {
    /// Returns the current value and increments it.
    fn next(&self) -> u64;
}

/// The server's implementation.
#[derive(Default)]
pub struct MyCalc {
    live: Arc<AtomicU64>,
}

impl MyCalc {
    /// Counters currently alive.
    pub fn live(&self) -> u64 {
        self.live.load(Ordering::SeqCst)
    }
}

impl Calculator for MyCalc {
    fn add(&self, a: i64, b: i64) -> i64 {
        a + b
    }
    fn greet(&self, name: &str) -> String {
        format!("hello, {name}, from process {}", std::process::id())
    }
    fn divide(&self, a: i64, b: i64) -> Result<i64, MathError> {
        if b == 0 {
            Err(MathError::DivideByZero)
        } else {
            Ok(a / b)
        }
    }
    fn spawn_counter(&self, start: u64) -> Remote<dyn Counter> {
        self.live.fetch_add(1, Ordering::SeqCst);
        Remote::new(MyCounter {
            value: AtomicU64::new(start),
            live: self.live.clone(),
        })
    }
    fn live_counters(&self) -> u64 {
        self.live()
    }
    fn pid(&self) -> u32 {
        std::process::id()
    }
}

/// The server's counter.
pub struct MyCounter {
    value: AtomicU64,
    live: Arc<AtomicU64>,
}

impl Counter for MyCounter {
    fn next(&self) -> u64 {
        self.value.fetch_add(1, Ordering::SeqCst)
    }
}

impl Drop for MyCounter {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}
