//! Use another process's objects as if they were local.
//!
//! # Quickstart
//!
//! ```
//! use std::sync::Arc;
//! use remote::{remote_object, Client, Remote, RemoteError, Server};
//!
//! #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
//! pub enum MathError { DivideByZero }
//!
//! #[remote_object]
//! pub trait Calculator: Send + Sync {
//!     fn add(&self, a: i64, b: i64) -> i64;
//!     fn divide(&self, a: i64, b: i64) -> Result<i64, MathError>;
//!     fn spawn_counter(&self, start: u64) -> Remote<dyn Counter>;
//! }
//!
//! #[remote_object]
//! pub trait Counter: Send + Sync {
//!     fn next(&self) -> u64;
//! }
//!
//! struct Calc;
//! impl Calculator for Calc {
//!     fn add(&self, a: i64, b: i64) -> i64 { a + b }
//!     fn divide(&self, a: i64, b: i64) -> Result<i64, MathError> {
//!         if b == 0 { Err(MathError::DivideByZero) } else { Ok(a / b) }
//!     }
//!     fn spawn_counter(&self, start: u64) -> Remote<dyn Counter> {
//!         Remote::new(Count(std::sync::atomic::AtomicU64::new(start)))
//!     }
//! }
//!
//! struct Count(std::sync::atomic::AtomicU64);
//! impl Counter for Count {
//!     fn next(&self) -> u64 { self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) }
//! }
//!
//! # fn main() -> Result<(), RemoteError> {
//! let server = Server::new();
//! server.export("calculator", Arc::new(Calc) as Arc<dyn Calculator>);
//!
//! let client = Client::in_process(&server)?; // or Client::connect_unix(path)
//! let calc: CalculatorProxy = client.require("calculator")?;
//! assert_eq!(calc.add(2, 3)?, 5);
//! // The application's own error arrives as itself, inside Ok:
//! assert_eq!(calc.divide(1, 0)?, Err(MathError::DivideByZero));
//! // A returned object stays on the server; we get a proxy.
//! let counter: CounterProxy = calc.spawn_counter(10)?;
//! assert_eq!(counter.next()?, 10);
//! assert_eq!(counter.next()?, 11);
//! # Ok(()) }
//! ```
#![doc = include_str!("../docs/guide.md")]

pub use remote_macros::remote_object;
pub use remote_runtime::{
    Client, Proxy, Remote, RemoteError, RequireFuture, Server, ServerStats, SessionStats,
    UnixListener, DEFAULT_MAX_FRAME,
};

/// What the generated code needs, under paths it can name absolutely. Not a
/// public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use core::any::Any;
    pub use core::clone::Clone;
    pub use core::convert::{From, Into};
    pub use core::fmt;
    pub use core::option::Option::{self, None, Some};
    pub use core::result::Result::{self, Err, Ok};
    pub use std::string::ToString;
    pub use std::sync::Arc;

    pub use remote_runtime::{Call, CallFuture, Dispatch, FromLocal, Interface, ObjectRef, Target};

    /// Compile-time check that an argument type can be sent, spanned on the
    /// user's type so a missing derive points there.
    pub fn assert_arg<T: serde::Serialize + serde::de::DeserializeOwned>() {}

    /// Compile-time check that a return type can be sent.
    pub fn assert_ret<T: serde::Serialize + serde::de::DeserializeOwned>() {}
}
